package gitops

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
)

// AnnotationFrozenAt records when and why dot froze an owner.
const AnnotationFrozenAt = "dot.dev/frozen-at"

// FreezeResult says what Freeze or Unfreeze did.
type FreezeResult struct {
	Owner string `json:"owner"`
	// Changed is false when the owner already was in the wanted state.
	Changed bool `json:"changed"`
	// Detail says what was switched, e.g. "removed syncPolicy.automated
	// {prune: true, selfHeal: true}" or "spec.suspend: true".
	Detail string `json:"detail"`
}

// Freeze stops GitOps reconciliation of an owner for an incident: an Argo CD
// Application loses syncPolicy.automated (its previous value is kept in an
// annotation for Unfreeze), a Flux Kustomization or HelmRelease gets
// spec.suspend: true. Changes are merge patches of only those fields, so
// fields dot does not know survive.
func (c *Cluster) Freeze(ctx context.Context, o *Owner, now time.Time) (FreezeResult, error) {
	res := FreezeResult{Owner: o.String()}
	switch o.Kind {
	case OwnerArgoCDApplication:
		var app argocd.Application
		if err := c.argo().Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, &app); err != nil {
			return res, fmt.Errorf("get %s: %w", o, err)
		}
		if _, frozen := app.Annotations[AnnotationFrozen]; frozen {
			res.Detail = "already frozen"
			return res, nil
		}
		prev := "null"
		if app.Spec.SyncPolicy != nil && app.Spec.SyncPolicy.Automated != nil {
			b, err := json.Marshal(app.Spec.SyncPolicy.Automated)
			if err != nil {
				return res, err
			}
			prev = string(b)
		}
		patch := map[string]any{
			"metadata": map[string]any{
				"annotations":     map[string]any{AnnotationFrozen: prev, AnnotationFrozenAt: now.UTC().Format(time.RFC3339)},
				"resourceVersion": app.ResourceVersion,
			},
		}
		if prev != "null" {
			patch["spec"] = map[string]any{"syncPolicy": map[string]any{"automated": nil}}
		}
		if err := c.mergePatch(ctx, c.argo(), &argocd.Application{}, o, patch); err != nil {
			return res, err
		}
		res.Changed, res.Detail = true, "removed syncPolicy.automated "+prev
		if prev == "null" {
			res.Detail = "automated sync was already off; marked frozen"
		}
		return res, nil
	case OwnerFluxKustomization, OwnerFluxHelmRelease:
		return c.setSuspend(ctx, o, true, now)
	}
	return res, fmt.Errorf("unknown owner kind %q", o.Kind)
}

// Unfreeze restores what Freeze switched off.
func (c *Cluster) Unfreeze(ctx context.Context, o *Owner, now time.Time) (FreezeResult, error) {
	res := FreezeResult{Owner: o.String()}
	switch o.Kind {
	case OwnerArgoCDApplication:
		var app argocd.Application
		if err := c.argo().Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, &app); err != nil {
			return res, fmt.Errorf("get %s: %w", o, err)
		}
		prev, frozen := app.Annotations[AnnotationFrozen]
		if !frozen {
			res.Detail = "not frozen by dot"
			return res, nil
		}
		var automated any
		if err := json.Unmarshal([]byte(prev), &automated); err != nil {
			return res, fmt.Errorf("%s: annotation %s=%q is not JSON: %w", o, AnnotationFrozen, prev, err)
		}
		patch := map[string]any{
			"metadata": map[string]any{
				"annotations":     map[string]any{AnnotationFrozen: nil, AnnotationFrozenAt: nil},
				"resourceVersion": app.ResourceVersion,
			},
		}
		if automated != nil {
			patch["spec"] = map[string]any{"syncPolicy": map[string]any{"automated": automated}}
		}
		if err := c.mergePatch(ctx, c.argo(), &argocd.Application{}, o, patch); err != nil {
			return res, err
		}
		res.Changed, res.Detail = true, "restored syncPolicy.automated "+prev
		return res, nil
	case OwnerFluxKustomization, OwnerFluxHelmRelease:
		return c.setSuspend(ctx, o, false, now)
	}
	return res, fmt.Errorf("unknown owner kind %q", o.Kind)
}

func (c *Cluster) setSuspend(ctx context.Context, o *Owner, suspend bool, now time.Time) (FreezeResult, error) {
	res := FreezeResult{Owner: o.String()}
	var obj client.Object
	var current bool
	key := client.ObjectKey{Namespace: o.Namespace, Name: o.Name}
	if o.Kind == OwnerFluxKustomization {
		ks := &kustomizev1.Kustomization{}
		if err := c.Client.Get(ctx, key, ks); err != nil {
			return res, fmt.Errorf("get %s: %w", o, err)
		}
		obj, current = ks, ks.Spec.Suspend
	} else {
		hr := &helmv2.HelmRelease{}
		if err := c.Client.Get(ctx, key, hr); err != nil {
			return res, fmt.Errorf("get %s: %w", o, err)
		}
		obj, current = hr, hr.Spec.Suspend
	}
	res.Detail = fmt.Sprintf("spec.suspend: %v", suspend)
	if current == suspend {
		res.Detail += " already"
		return res, nil
	}
	var stamp any
	if suspend {
		stamp = now.UTC().Format(time.RFC3339)
	}
	patch := map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{AnnotationFrozenAt: stamp}, "resourceVersion": obj.GetResourceVersion()},
		"spec":     map[string]any{"suspend": suspend},
	}
	if err := c.mergePatch(ctx, c.Client, obj, o, patch); err != nil {
		return res, err
	}
	res.Changed = true
	return res, nil
}

// mergePatch applies a JSON merge patch; the resourceVersion in it makes it
// fail instead of overwriting a concurrent change.
func (c *Cluster) mergePatch(ctx context.Context, cl client.Client, obj client.Object, o *Owner, patch map[string]any) error {
	b, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	obj.SetNamespace(o.Namespace)
	obj.SetName(o.Name)
	if err := cl.Patch(ctx, obj, client.RawPatch("application/merge-patch+json", b)); err != nil {
		return fmt.Errorf("patch %s: %w", o, err)
	}
	return nil
}

// terminateArgoOperation asks Argo CD to stop a sync operation still running
// (retrying) for commit: the way `argocd app terminate-op` does it, by
// setting the operation state's phase to Terminating. Nothing happens when
// no such operation runs.
func (c *Cluster) terminateArgoOperation(ctx context.Context, o *Owner, commit string) error {
	var app argocd.Application
	if err := c.argo().Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, &app); err != nil {
		return fmt.Errorf("get %s: %w", o, err)
	}
	op := app.Status.OperationState
	if op == nil || op.Phase != argocd.OperationRunning || !slices.Contains(op.Revisions(), commit) {
		return nil
	}
	patch := map[string]any{
		"metadata": map[string]any{"resourceVersion": app.ResourceVersion},
		"status":   map[string]any{"operationState": map[string]any{"phase": argocd.OperationTerminating}},
	}
	return c.mergePatch(ctx, c.argo(), &argocd.Application{}, o, patch)
}
