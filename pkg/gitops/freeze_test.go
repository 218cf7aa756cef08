package gitops

import (
	"context"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
)

func TestFreezeUnfreezeArgoCD(t *testing.T) {
	c, _ := newFixtureCluster(t, "argocd-annotation.yaml")
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	o := &Owner{Kind: OwnerArgoCDApplication, Namespace: "argocd", Name: "web"}
	res, err := c.Freeze(ctx, o, now)
	if err != nil || !res.Changed {
		t.Fatalf("Freeze: %+v, %v", res, err)
	}
	var app argocd.Application
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "argocd", Name: "web"}, &app); err != nil {
		t.Fatal(err)
	}
	if app.Spec.SyncPolicy.Automated != nil || app.Annotations[AnnotationFrozen] != `{"prune":true,"selfHeal":true}` {
		t.Fatalf("after freeze: automated %+v, annotations %v", app.Spec.SyncPolicy.Automated, app.Annotations)
	}
	if len(app.Spec.GetSources()) != 1 || app.Spec.Source.Kustomize == nil {
		t.Error("freeze lost other spec fields")
	}
	// Owner detection reports it frozen; freezing again is a no-op.
	owner, err := c.FindOwner(ctx, ref("apps", "v1", "Deployment", "prod", "web"))
	if err != nil || !owner.Suspended {
		t.Errorf("FindOwner after freeze: suspended=%v, %v", owner != nil && owner.Suspended, err)
	}
	if res, err := c.Freeze(ctx, o, now); err != nil || res.Changed {
		t.Errorf("second Freeze: %+v, %v", res, err)
	}
	res, err = c.Unfreeze(ctx, o, now)
	if err != nil || !res.Changed {
		t.Fatalf("Unfreeze: %+v, %v", res, err)
	}
	app = argocd.Application{}
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "argocd", Name: "web"}, &app); err != nil {
		t.Fatal(err)
	}
	if a := app.Spec.SyncPolicy.Automated; a == nil || !a.Prune || !a.SelfHeal {
		t.Errorf("automated not restored: %+v", a)
	}
	if _, ok := app.Annotations[AnnotationFrozen]; ok {
		t.Error("frozen annotation left behind")
	}
}

func TestFreezeUnfreezeFlux(t *testing.T) {
	c, _ := newFixtureCluster(t, "flux.yaml")
	ctx := context.Background()
	o := &Owner{Kind: OwnerFluxKustomization, Namespace: "flux-system", Name: "apps"}
	if res, err := c.Freeze(ctx, o, time.Now()); err != nil || !res.Changed {
		t.Fatalf("Freeze: %+v, %v", res, err)
	}
	var ks kustomizev1.Kustomization
	c.Client.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: "apps"}, &ks)
	if !ks.Spec.Suspend || ks.Spec.Path != "./clusters/prod/apps" {
		t.Errorf("after freeze: suspend=%v path=%q", ks.Spec.Suspend, ks.Spec.Path)
	}
	if res, err := c.Unfreeze(ctx, o, time.Now()); err != nil || !res.Changed {
		t.Fatalf("Unfreeze: %+v, %v", res, err)
	}
	c.Client.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: "apps"}, &ks)
	if ks.Spec.Suspend {
		t.Error("still suspended")
	}
}
