package gitops

import (
	"context"
	"strings"
	"testing"

	"github.com/dot-ai/dot/pkg/kube"
)

// TestLocate: the document that defines an object, and the layer that
// sets a field, are found in a clone of the owner's branch; nothing is
// pushed.
func TestLocate(t *testing.T) {
	e := newDeliverEnv(t, "main")
	ctx := context.Background()
	before, err := e.srv.Head(ctx, overlayRepo, "main")
	if err != nil {
		t.Fatal(err)
	}
	web := kube.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "prod", Name: "web"}
	cases := []struct {
		field, where, reason string
	}{
		{"", "base/deployment.yaml:1", "included by overlays/prod/kustomization.yaml"},
		{"spec.replicas", "overlays/prod/kustomization.yaml:6", "replicas: entry web"},
		{"spec.template.spec.containers[name=web].image", "base/deployment.yaml:13", ""},
	}
	for _, tc := range cases {
		def, err := e.d.Locate(ctx, web, tc.field)
		if err != nil {
			t.Fatalf("locate %q: %v", tc.field, err)
		}
		if def.Where() != tc.where || def.Owner != "Application argocd/web" || def.Field != tc.field {
			t.Errorf("locate %q: %s (owner %s), want %s", tc.field, def.Where(), def.Owner, tc.where)
		}
		if tc.reason != "" && !strings.Contains(def.Location.Reason, tc.reason) {
			t.Errorf("locate %q: reason %q, want it to say %q", tc.field, def.Location.Reason, tc.reason)
		}
	}
	if after, _ := e.srv.Head(ctx, overlayRepo, "main"); after != before {
		t.Errorf("locate moved main from %s to %s", before, after)
	}
	if def, err := e.d.Locate(ctx, web, "spec.template.spec.nodeName"); err != nil || def.Where() != "base/deployment.yaml:1" {
		t.Errorf("a field no layer sets: %+v, %v; want the object's document", def, err)
	}
}
