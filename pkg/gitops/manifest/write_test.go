package manifest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dot-ai/dot/pkg/kube"
)

// copyRepo copies a corpus repository into a temporary directory.
func copyRepo(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join("testdata", "repos", name)
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var prodWeb = kube.ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "prod", Name: "prod-web"}

func TestApplyWritesOnlyChangedFiles(t *testing.T) {
	root := copyRepo(t, "kustomize")
	before := snapshot(t, root)
	res, err := Apply(context.Background(), Source{Root: root, Path: "overlays/prod"}, prodWeb,
		[]FieldEdit{{Path: MustParseFieldPath("spec.replicas"), Value: 4, Expect: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 || res.Files[0].Path != "overlays/prod/kustomization.yaml" {
		t.Fatalf("files = %+v", res.Files)
	}
	after := snapshot(t, root)
	for p, b := range before {
		switch {
		case p == "overlays/prod/kustomization.yaml":
			if after[p] != string(res.Files[0].After) {
				t.Errorf("%s on disk differs from the plan", p)
			}
			if strings.Count(b, "\n") != strings.Count(after[p], "\n") || !strings.Contains(after[p], "    count: 4\n") {
				t.Errorf("unexpected content:\n%s", after[p])
			}
		case after[p] != b:
			t.Errorf("%s changed", p)
		}
	}
	if len(after) != len(before) {
		t.Errorf("file count %d -> %d", len(before), len(after))
	}
	// The same edit again changes nothing.
	again, err := Plan(context.Background(), Source{Root: root, Path: "overlays/prod"}, prodWeb,
		[]FieldEdit{{Path: MustParseFieldPath("spec.replicas"), Value: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed() || len(again.Edits) != 1 || !again.Edits[0].Unchanged {
		t.Errorf("second plan = %+v", again)
	}
}

func snapshot(t *testing.T, root string) map[string]string {
	out := map[string]string{}
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	return out
}

func TestWriteRefusesFilesChangedSincePlan(t *testing.T) {
	root := copyRepo(t, "kustomize")
	res, err := Plan(context.Background(), Source{Root: root, Path: "overlays/prod"}, prodWeb,
		[]FieldEdit{{Path: MustParseFieldPath("spec.replicas"), Value: 4}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "overlays", "prod", "kustomization.yaml")
	theirs := []byte("# someone else's change\n")
	if err := os.WriteFile(p, theirs, 0o644); err != nil {
		t.Fatal(err)
	}
	err = res.Write(context.Background())
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, theirs) {
		t.Error("the file was overwritten")
	}
}

func TestCreateAndRemoveWrite(t *testing.T) {
	root := copyRepo(t, "kustomize")
	src := Source{Root: root, Path: "overlays/prod"}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "flags"},
		"data": map[string]any{"beta": "on"},
	}}
	res, err := Create(context.Background(), src, obj, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Object.Name != "prod-flags" || res.Object.Namespace != "prod" {
		t.Errorf("created %v", res.Object)
	}
	b, err := os.ReadFile(filepath.Join(root, "overlays", "prod", "configmap-flags.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `beta: "on"`) {
		t.Errorf("unsafe scalar not quoted:\n%s", b)
	}
	if _, err := Create(context.Background(), src, obj, ""); !errors.Is(err, ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	if _, err := Remove(context.Background(), src, kube.ObjectRef{Kind: "ConfigMap", Namespace: "prod", Name: "prod-flags"}); err != nil {
		t.Fatal(err)
	}
	k, _ := os.ReadFile(filepath.Join(root, "overlays", "prod", "kustomization.yaml"))
	orig, _ := os.ReadFile(filepath.Join("testdata", "repos", "kustomize", "overlays", "prod", "kustomization.yaml"))
	if !bytes.Equal(k, orig) {
		t.Errorf("kustomization not restored:\n%s", unifiedDiff("k", orig, k))
	}
	if _, err := os.Stat(filepath.Join(root, "overlays", "prod", "configmap-flags.yaml")); !os.IsNotExist(err) {
		t.Errorf("file not removed: %v", err)
	}
}

func TestPathSafety(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	outside := t.TempDir()
	writeFiles(t, root, map[string]string{
		"shared/web.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  a: b\n",
		".git/config":     "[core]\n",
	})
	writeFiles(t, outside, map[string]string{"evil.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: evil\ndata:\n  a: b\n"})
	if err := os.MkdirAll(filepath.Join(root, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../shared/web.yaml", filepath.Join(root, "apps", "web.yaml")); err != nil {
		t.Skip("symlinks not supported:", err)
	}
	src := Source{Root: root, Path: "apps", DefaultNamespace: "default"}
	cm := func(name string) kube.ObjectRef {
		return kube.ObjectRef{Kind: "ConfigMap", Namespace: "default", Name: name}
	}
	edit := []FieldEdit{{Path: MustParseFieldPath("data.a"), Value: "c"}}

	// A symlink inside the checkout can be read, not written through.
	if _, err := Locate(ctx, src, cm("web"), nil); err != nil {
		t.Fatalf("locate through in-repo symlink: %v", err)
	}
	if _, err := Plan(ctx, src, cm("web"), edit); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("edit through symlink: %v, want ErrUnsafePath", err)
	}
	// A symlink leading out of the checkout is not even read: like Argo CD,
	// which refuses such repositories, the source fails.
	if err := os.Symlink(filepath.Join(outside, "evil.yaml"), filepath.Join(root, "apps", "evil.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"evil", "web"} {
		if _, err := Locate(ctx, src, cm(name), nil); !errors.Is(err, ErrOutsideRepo) {
			t.Errorf("locate %s with an outside symlink: %v, want ErrOutsideRepo", name, err)
		}
	}
	// Creating in .git or outside the checkout is refused.
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x"}}}
	for _, file := range []string{".git/x.yaml", "../x.yaml", "/tmp/x.yaml", "apps/../../x.yaml"} {
		if _, err := PlanCreate(ctx, Source{Root: root, Path: "shared"}, obj, file); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("create %s: %v, want ErrUnsafePath", file, err)
		}
	}
	// A source path leaving the checkout is refused.
	if _, err := Locate(ctx, Source{Root: root, Path: "../"}, cm("web"), nil); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("source outside: %v, want ErrUnsafePath", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "x.yaml")); !os.IsNotExist(err) {
		t.Error("a file was written outside the checkout")
	}
}

func TestOutsideRepo(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"app/kustomization.yaml": "resources:\n- https://github.com/example/platform//base?ref=v1.2.0\n- local.yaml\n" +
			"helmCharts:\n- name: redis\n  repo: https://charts.example.com\n  version: 1.0.0\n",
		"app/local.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\ndata:\n  a: b\n",
	})
	src := Source{Root: root, Path: "app", DefaultNamespace: "ns"}
	loc, err := Locate(ctx, src, kube.ObjectRef{Kind: "ConfigMap", Namespace: "ns", Name: "local"}, []FieldPath{MustParseFieldPath("data.a")})
	if err != nil {
		t.Fatal(err)
	}
	if len(loc.Notes) < 2 || loc.Fields[0].Location.File != "app/local.yaml" {
		t.Errorf("locate = %+v", loc)
	}
	_, err = Locate(ctx, src, kube.ObjectRef{Group: "apps", Kind: "StatefulSet", Namespace: "ns", Name: "redis-master"}, nil)
	if !errors.Is(err, ErrOutsideRepo) {
		t.Fatalf("err = %v, want ErrOutsideRepo", err)
	}
	for _, want := range []string{"github.com/example/platform", "Helm chart redis"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestSecrets(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"s/sops.yaml":  "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  labels:\n    a: b\ndata:\n  password: ENC[AES256_GCM,data:abc=,type:str]\nsops:\n  mac: ENC[AES256_GCM,data:xyz]\n  version: 3.8.1\n",
		"s/plain.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\nstringData:\n  token: abc\n",
	})
	src := Source{Root: root, Path: "s", DefaultNamespace: "ns"}
	_, err := Plan(ctx, src, kube.ObjectRef{Kind: "Secret", Namespace: "ns", Name: "db"},
		[]FieldEdit{{Path: MustParseFieldPath("metadata.labels.a"), Value: "c"}})
	if !errors.Is(err, ErrEncrypted) {
		t.Errorf("sops edit: %v, want ErrEncrypted", err)
	}
	_, err = Plan(ctx, src, kube.ObjectRef{Kind: "Secret", Namespace: "ns", Name: "api"},
		[]FieldEdit{{Path: MustParseFieldPath("stringData.token"), Value: "new"}})
	var e *Error
	if !errors.Is(err, ErrPlainSecret) || !errors.As(err, &e) || e.File != "s/plain.yaml" || e.Line != 1 {
		t.Errorf("plain secret edit: %v", err)
	}
	// Metadata of a plain Secret may change; its data may not.
	if _, err := Plan(ctx, src, kube.ObjectRef{Kind: "Secret", Namespace: "ns", Name: "api"},
		[]FieldEdit{{Path: MustParseFieldPath("metadata.labels.team"), Value: "x"}}); err != nil {
		t.Errorf("label edit: %v", err)
	}
	plain := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "new"}, "stringData": map[string]any{"k": "v"}}}
	if _, err := PlanCreate(ctx, src, plain, ""); !errors.Is(err, ErrPlainSecret) || !strings.Contains(err.Error(), "SealedSecret") {
		t.Errorf("create plain secret: %v", err)
	}
	sealed := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
		"metadata": map[string]any{"name": "new"}, "spec": map[string]any{"encryptedData": map[string]any{"k": "AgB..."}}}}
	if _, err := PlanCreate(ctx, src, sealed, ""); err != nil {
		t.Errorf("create sealed secret: %v", err)
	}
}

func TestErrorsCarryDetails(t *testing.T) {
	ctx := context.Background()
	src := Source{Root: filepath.Join("testdata", "repos", "kustomize"), Path: "overlays/prod"}
	_, err := Plan(ctx, src, prodWeb, []FieldEdit{{Path: MustParseFieldPath("spec.replicas"), Value: 5, Expect: 7}})
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v", err)
	}
	if e.File != "overlays/prod/kustomization.yaml" || e.Line != 16 || e.Expected != int64(7) || e.Actual != int64(3) {
		t.Errorf("conflict details = %+v", e)
	}
	_, err = Locate(ctx, src, kube.ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "prod", Name: "missing"}, nil)
	if !errors.As(err, &e) || !errors.Is(err, ErrNotFound) || len(e.Searched) == 0 {
		t.Errorf("not found = %v", err)
	}
}

func TestFieldPathRoundTrip(t *testing.T) {
	for _, s := range []string{
		"spec.replicas",
		"spec.template.spec.containers[name=web].image",
		`metadata.labels["app.kubernetes.io/name"]`,
		"spec.template.spec.containers[0].ports[containerPort=8080].name",
		"items[3]",
	} {
		p, err := ParseFieldPath(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if p.String() != s {
			t.Errorf("%s round-trips to %s", s, p)
		}
	}
	for _, bad := range []string{"", ".a", "a.", "a..b", "a[", "a[x]", "a[=b]", "a]b"} {
		if _, err := ParseFieldPath(bad); err == nil && bad != "a]b" {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestPlainSafe(t *testing.T) {
	for s, want := range map[string]bool{
		"nginx:1.25": true, "1.2.3": true, "hello world": true, "500m": true,
		"yes": false, "On": false, "1.20": false, "0755": false, "null": false, "~": false, "": false,
		"2024-01-01": false, "1e3": false, "0x1F": false, "- a": false, "a: b": false, "a #b": false,
		" x": false, "*ref": false, "1_000": false, "1:20": false, ".inf": false, "true": false,
	} {
		if got := plainSafe(s, false); got != want {
			t.Errorf("plainSafe(%q) = %v, want %v", s, got, want)
		}
	}
}
