package manifest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dot-ai/dot/pkg/kube"
)

// genRepo writes a repository of docs YAML documents: dirs directories of
// multi-document files (a Deployment and a Service per pair of documents),
// with comments, as repositories of many small apps look.
func genRepo(tb testing.TB, docs int, kustomize bool) string {
	tb.Helper()
	root := tb.TempDir()
	const perFile = 10
	const filesPerDir = 10
	n := 0
	for d := 0; n < docs; d++ {
		dir := filepath.Join(root, "apps", fmt.Sprintf("team-%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		var files []string
		for f := 0; f < filesPerDir && n < docs; f++ {
			var b strings.Builder
			for i := 0; i < perFile/2 && n < docs; i++ {
				name := fmt.Sprintf("svc-%d-%d-%d", d, f, i)
				fmt.Fprintf(&b, "# %s\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  namespace: team-%03d\n  labels:\n    app: %s # owner: team %d\nspec:\n  replicas: %d\n  selector:\n    matchLabels:\n      app: %s\n  template:\n    metadata:\n      labels:\n        app: %s\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/%s:1.%d.0\n          env:\n            - name: MODE\n              value: prod\n---\n",
					name, name, d, name, d, 1+i%3, name, name, name, i)
				fmt.Fprintf(&b, "apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: team-%03d\nspec:\n  selector:\n    app: %s\n  ports:\n    - port: 80\n---\n", name, d, name)
				n += 2
			}
			file := fmt.Sprintf("app-%d.yaml", f)
			files = append(files, file)
			if err := os.WriteFile(filepath.Join(dir, file), []byte(b.String()), 0o644); err != nil {
				tb.Fatal(err)
			}
		}
		if kustomize {
			k := "resources:\n"
			for _, f := range files {
				k += "  - " + f + "\n"
			}
			if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if kustomize {
		var k strings.Builder
		k.WriteString("resources:\n")
		ents, _ := os.ReadDir(filepath.Join(root, "apps"))
		for _, e := range ents {
			k.WriteString("  - " + e.Name() + "\n")
		}
		if err := os.WriteFile(filepath.Join(root, "apps", "kustomization.yaml"), []byte(k.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}

func benchLocate(b *testing.B, docs int, kustomize bool) {
	root := genRepo(b, docs, kustomize)
	src := Source{Root: root, Path: "apps", Recurse: true}
	ref := kube.ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "team-009", Name: "svc-9-5-3"}
	fields := []FieldPath{MustParseFieldPath("spec.replicas"), MustParseFieldPath("spec.template.spec.containers[name=app].image")}
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		loc, err := Locate(ctx, src, ref, fields)
		if err != nil {
			b.Fatal(err)
		}
		if loc.Fields[0].Location.Line == 0 {
			b.Fatal("no line")
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/locate")
}

// BenchmarkLocate5000 locates two fields of one Deployment in a plain
// directory source (Argo CD directory, recurse) of 5,000 YAML documents.
func BenchmarkLocate5000(b *testing.B) { benchLocate(b, 5000, false) }

// BenchmarkLocateKustomize1000 does the same through kustomizations that
// include 1,000 documents (rendered with krusty, origins traced). A krusty
// build grows quadratically with the number of objects (name-reference
// back-fixing); 5,000 documents in one build take about 28 s on the
// development machine, almost all of it inside kustomize.
func BenchmarkLocateKustomize1000(b *testing.B) { benchLocate(b, 1000, true) }

// TestGeneratedRepoSize keeps the benchmark honest about its size.
func TestGeneratedRepoSize(t *testing.T) {
	root := genRepo(t, 5000, false)
	docs := 0
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			docs += strings.Count(string(b), "\nkind: ")
		}
		return nil
	})
	if docs != 5000 {
		t.Fatalf("generated %d documents, want 5000", docs)
	}
}
