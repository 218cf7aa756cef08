package manifest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dot-ai/dot/pkg/kube"
)

// Removing an object from an overlay that already patches it turns that
// patch into a "$patch: delete" patch; the shared base stays.
func TestRemoveObjectTheOverlayPatches(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
		"base/deployment.yaml":    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n",
		"prod/kustomization.yaml": "resources:\n  - ../base\npatches:\n  - path: web-patch.yaml\nreplicas:\n  - name: web\n    count: 2\n",
		"prod/web-patch.yaml":     "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n",
		"dev/kustomization.yaml":  "resources:\n  - ../base\n",
	}
	for p, c := range files {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(c), 0o644)
	}
	ref := kube.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Name: "web"}
	res, err := Remove(context.Background(), Source{Root: root, Path: "prod"}, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 2 || res.Files[0].Path != "prod/kustomization.yaml" || res.Files[1].Path != "prod/web-patch.yaml" {
		t.Fatalf("changed %v, want the overlay's patch and its replicas: entry", res.Files)
	}
	if k, _ := os.ReadFile(filepath.Join(root, "prod/kustomization.yaml")); strings.Contains(string(k), "name: web") {
		t.Errorf("the replicas: entry of the removed object stayed:\n%s", k)
	}
	got, _ := os.ReadFile(filepath.Join(root, "prod/web-patch.yaml"))
	if !strings.Contains(string(got), "$patch: delete") || !strings.Contains(string(got), "name: web") {
		t.Errorf("patch after removal:\n%s", got)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "base/deployment.yaml")); string(b) != files["base/deployment.yaml"] {
		t.Error("the shared base changed")
	}
	// dev still renders the Deployment.
	if _, err := Locate(context.Background(), Source{Root: root, Path: "dev"}, ref, nil); err != nil {
		t.Errorf("dev lost the object: %v", err)
	}
}
