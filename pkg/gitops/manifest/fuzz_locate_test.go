package manifest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dot-ai/dot/pkg/kube"
)

// FuzzLocate feeds arbitrary files to the locator, as a plain directory
// (Argo CD directory source) or through a kustomization. It requires: no
// panic; an error, or a definition that points into the file at a line it
// has, in a document whose kind and name are the object's, and a field
// location with a line inside the file.
//
//	go test ./pkg/gitops/manifest -run '^$' -fuzz FuzzLocate -fuzztime 30s
func FuzzLocate(f *testing.F) {
	objects := []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\nspec:\n  replicas: 2 # two\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80}]\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n",
		"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n  data: {k: v}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n",
		"apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: crlf\r\ndata:\r\n  k: v\r\n",
		"base: &b\n  replicas: 3\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: anchored}\nspec: *b\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dup}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: dup}\n",
		"\ufeffapiVersion: v1\nkind: Namespace\nmetadata:\n  name: bom\n",
	}
	for i, s := range objects {
		f.Add([]byte(s), uint16(i), false)
		f.Add([]byte(s), uint16(i+1), true)
	}
	for i, s := range fuzzSeeds {
		f.Add([]byte(s), uint16(i), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, src []byte, pick uint16, kustomize bool) {
		if len(src) > 1<<14 {
			return
		}
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "app.yaml"), src, 0o644); err != nil {
			t.Fatal(err)
		}
		kind := KindDirectory
		if kustomize {
			kind = KindKustomize
			if err := os.WriteFile(filepath.Join(root, "kustomization.yaml"), []byte("resources:\n- app.yaml\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ref := pickObject(src, pick)
		field := MustParseFieldPath("metadata.name")
		loc, err := Locate(context.Background(), Source{Root: root, Kind: kind}, ref, []FieldPath{field})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		t.Logf("located %s at %s:%d", ref, loc.Definition.File, loc.Definition.Line)
		lines := strings.Count(string(src), "\n") + 1
		d := loc.Definition
		if d.File != "app.yaml" || d.Line < 1 || d.Line > lines {
			t.Fatalf("definition %+v of %s is not a line of app.yaml (%d lines)\n--- input\n%s", d, ref, lines, src)
		}
		if loc.Object.Kind != ref.Kind || loc.Object.Name != ref.Name {
			t.Fatalf("located %s, asked for %s", loc.Object, ref)
		}
		if yf, err := parseYAMLFile("app.yaml", src); err == nil && d.DocumentIndex < len(yf.docs) {
			if v, ok := decodeDoc(yf, d.DocumentIndex); ok && !docHolds(v, ref) {
				t.Fatalf("document %d does not hold %s\n--- input\n%s", d.DocumentIndex, ref, src)
			}
		}
		if len(loc.Fields) != 1 {
			t.Fatalf("%d field locations for one field", len(loc.Fields))
		}
		if fl := loc.Fields[0].Location; fl.File == "app.yaml" && (fl.Line < 0 || fl.Line > lines) {
			t.Fatalf("field location %+v is not a line of app.yaml (%d lines)\n--- input\n%s", fl, lines, src)
		}
	})
}

// pickObject names one of the objects the file seems to hold (kind and
// metadata.name of a top-level document or a List item), or a made-up one.
func pickObject(src []byte, pick uint16) kube.ObjectRef {
	var refs []kube.ObjectRef
	if yf, err := parseYAMLFile("app.yaml", src); err == nil {
		for i := range yf.docs {
			v, ok := decodeDoc(yf, i)
			if !ok {
				continue
			}
			m, _ := v.(map[string]any)
			refs = append(refs, objectRefs(m)...)
			items, _ := m["items"].([]any)
			for _, it := range items {
				im, _ := it.(map[string]any)
				refs = append(refs, objectRefs(im)...)
			}
		}
	}
	if len(refs) == 0 {
		return kube.ObjectRef{Kind: "ConfigMap", Name: "none"}
	}
	return refs[int(pick)%len(refs)]
}

func objectRefs(m map[string]any) []kube.ObjectRef {
	kind, _ := m["kind"].(string)
	md, _ := m["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	if kind == "" || name == "" {
		return nil
	}
	api, _ := m["apiVersion"].(string)
	group, version, ok := strings.Cut(api, "/")
	if !ok {
		group, version = "", api
	}
	ns, _ := md["namespace"].(string)
	return []kube.ObjectRef{{Group: group, Version: version, Kind: kind, Namespace: ns, Name: name}}
}

// docHolds reports whether a decoded document is the object, or a List
// holding it.
func docHolds(v any, ref kube.ObjectRef) bool {
	m, _ := v.(map[string]any)
	for _, r := range objectRefs(m) {
		if r.Kind == ref.Kind && r.Name == ref.Name {
			return true
		}
	}
	items, _ := m["items"].([]any)
	for _, it := range items {
		im, _ := it.(map[string]any)
		for _, r := range objectRefs(im) {
			if r.Kind == ref.Kind && r.Name == ref.Name {
				return true
			}
		}
	}
	return false
}
