package manifest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/dot-ai/dot/pkg/gitops/manifest"
	"github.com/dot-ai/dot/pkg/kube"
)

var web = kube.ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "prod", Name: "prod-web"}

// Locate tells which layer of a kustomize overlay sets a field.
func ExampleLocate() {
	src := manifest.Source{Root: "testdata/repos/kustomize", Path: "overlays/prod"}
	loc, err := manifest.Locate(context.Background(), src, web,
		[]manifest.FieldPath{manifest.MustParseFieldPath("spec.replicas")})
	if err != nil {
		fmt.Println(err)
		return
	}
	f := loc.Fields[0]
	fmt.Println(f.Location.Layer, f.Location.File, f.Location.Line)
	fmt.Println(f.Explain())
	// Output:
	// replicas overlays/prod/kustomization.yaml 16
	// spec.replicas = 3: set by overlays/prod/kustomization.yaml replicas: entry web (line 16), which overrides base/deployment.yaml line 6
}

// Plan computes a verified, minimal edit without writing; the caller shows
// the diff, then calls Write (or uses Apply) and commits res.Files.
func ExamplePlan() {
	src := manifest.Source{Root: "testdata/repos/kustomize", Path: "overlays/prod"}
	res, err := manifest.Plan(context.Background(), src, web, []manifest.FieldEdit{{
		Path:   manifest.MustParseFieldPath("spec.template.spec.containers[name=web].resources.limits.memory"),
		Value:  "512Mi",
		Expect: "256Mi", // compare-and-swap
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(res.Diff())
	// Output:
	// --- a/overlays/prod/resources.yaml
	// +++ b/overlays/prod/resources.yaml
	// @@ -11,4 +11,4 @@
	//            resources:
	//              limits:
	//                cpu: "1"
	// -              memory: 256Mi # raised after incident 4711
	// +              memory: 512Mi # raised after incident 4711
}

// An owner override is reported, not edited.
func ExamplePlan_ownerOverride() {
	src := manifest.Source{
		Root: "testdata/repos/argocd", Path: "guestbook", DefaultNamespace: "guestbook",
		Overrides: &manifest.Overrides{
			Owner:  "Application argocd/guestbook",
			Images: []manifest.Image{{Name: "gcr.io/heptio-images/ks-guestbook-demo", NewTag: "0.3"}},
		},
	}
	ref := kube.ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "guestbook", Name: "guestbook-ui"}
	_, err := manifest.Plan(context.Background(), src, ref, []manifest.FieldEdit{{
		Path:  manifest.MustParseFieldPath("spec.template.spec.containers[name=guestbook-ui].image"),
		Value: "gcr.io/heptio-images/ks-guestbook-demo:0.4",
	}})
	var e *manifest.Error
	if errors.Is(err, manifest.ErrOwnerOverride) && errors.As(err, &e) {
		fmt.Println(e.Locations[0].Layer, "-", e.Locations[0].Reason)
	}
	// Output:
	// owner-spec - set by images[0] (gcr.io/heptio-images/ks-guestbook-demo) of Application argocd/guestbook
}
