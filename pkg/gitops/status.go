package gitops

import (
	"context"
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
	"github.com/dot-ai/dot/pkg/gitops/flux"
)

// OwnerStatus is what an owner reports now, independent of any revision
// being waited for: what `dot gitops trace` shows.
type OwnerStatus struct {
	// AppliedRevision is the last revision the controller applied (Argo CD
	// sync revision(s), Flux lastAppliedRevision).
	AppliedRevision string `json:"appliedRevision,omitempty"`
	// Sync is Argo CD's sync status, or Flux's Ready condition summary.
	Sync string `json:"sync"`
	// Health is Argo CD's health status, or Healthy/Progressing/Degraded
	// derived from Flux's Ready condition.
	Health string `json:"health"`
	// AutoSync is false when an Argo CD Application has no automated sync.
	AutoSync bool `json:"autoSync"`
	// Suspended is Flux spec.suspend, or an Argo CD Application frozen by dot.
	Suspended bool `json:"suspended,omitempty"`
	// Messages are the controller's conditions and operation message.
	Messages []string `json:"messages,omitempty"`
}

// Status reads the owner's current sync and health state.
func (c *Cluster) Status(ctx context.Context, o *Owner) (OwnerStatus, error) {
	switch o.Kind {
	case OwnerArgoCDApplication:
		var app argocd.Application
		if err := c.argo().Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, &app); err != nil {
			return OwnerStatus{}, fmt.Errorf("get Application %s/%s: %w", o.Namespace, o.Name, err)
		}
		st := OwnerStatus{
			AppliedRevision: app.Status.Sync.Revision,
			Sync:            app.Status.Sync.Status,
			Health:          app.Status.Health.Status,
			AutoSync:        app.Spec.SyncPolicy != nil && app.Spec.SyncPolicy.Automated != nil,
			Suspended:       isFrozen(&app),
		}
		if len(app.Status.Sync.Revisions) > 0 {
			st.AppliedRevision = fmt.Sprint(app.Status.Sync.Revisions)
		}
		for _, cond := range app.Status.Conditions {
			st.Messages = append(st.Messages, cond.Type+": "+cond.Message)
		}
		if op := app.Status.OperationState; op != nil && op.Message != "" {
			st.Messages = append(st.Messages, fmt.Sprintf("last operation %s: %s", op.Phase, op.Message))
		}
		if st.Health == "" {
			st.Health = HealthUnknown
		}
		return st, nil
	case OwnerFluxKustomization:
		var ks kustomizev1.Kustomization
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, &ks); err != nil {
			return OwnerStatus{}, fmt.Errorf("get Kustomization %s/%s: %w", o.Namespace, o.Name, err)
		}
		return fluxStatus(ks.Generation, ks.Status.Conditions, ks.Status.LastAppliedRevision, ks.Spec.Suspend), nil
	case OwnerFluxHelmRelease:
		var hr helmv2.HelmRelease
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, &hr); err != nil {
			return OwnerStatus{}, fmt.Errorf("get HelmRelease %s/%s: %w", o.Namespace, o.Name, err)
		}
		rev := hr.Status.LastAttemptedRevision
		if h := hr.Status.History.Latest(); h != nil {
			rev = h.ChartVersion
		}
		return fluxStatus(hr.Generation, hr.Status.Conditions, rev, hr.Spec.Suspend), nil
	}
	return OwnerStatus{}, fmt.Errorf("unknown owner kind %q", o.Kind)
}

func fluxStatus(gen int64, conds []metav1.Condition, applied string, suspended bool) OwnerStatus {
	r := flux.ReadinessOf(gen, conds)
	st := OwnerStatus{AppliedRevision: applied, Sync: r.String(), Suspended: suspended, AutoSync: !suspended}
	switch {
	case r.IsReady():
		st.Health = HealthHealthy
	case r.Terminal():
		st.Health = HealthDegraded
	case r.Status == metav1.ConditionUnknown && r.Reason == "":
		st.Health = HealthUnknown
	default:
		st.Health = HealthProgressing
	}
	if suspended {
		st.Messages = append(st.Messages, "reconciliation is suspended (spec.suspend: true)")
	}
	return st
}

// Prunes reports whether the owner deletes objects that disappear from Git:
// Argo CD automated sync with prune, Flux Kustomization spec.prune. A
// HelmRelease prunes what its chart no longer renders.
func (c *Cluster) Prunes(ctx context.Context, o *Owner) (bool, error) {
	switch o.Kind {
	case OwnerArgoCDApplication:
		var app argocd.Application
		if err := c.argo().Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, &app); err != nil {
			return false, fmt.Errorf("get Application %s/%s: %w", o.Namespace, o.Name, err)
		}
		p := app.Spec.SyncPolicy
		return p != nil && p.Automated != nil && p.Automated.Prune, nil
	case OwnerFluxKustomization:
		var ks kustomizev1.Kustomization
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, &ks); err != nil {
			return false, fmt.Errorf("get Kustomization %s/%s: %w", o.Namespace, o.Name, err)
		}
		return ks.Spec.Prune, nil
	}
	return true, nil
}
