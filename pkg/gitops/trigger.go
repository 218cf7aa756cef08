package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
	"github.com/dot-ai/dot/pkg/gitops/flux"
)

// SyncUsername is recorded as operation.initiatedBy.username on the Argo CD
// sync operations dot starts.
const SyncUsername = "dot"

// Trigger asks the owner's controller to look at its source now rather than
// at its next interval.
//
// Argo CD: the Application gets the annotation argocd.argoproj.io/refresh:
// normal (a merge patch, retried on conflict). With opts.Sync and automated
// sync off, a sync operation is started too, unless another operation is
// pending or running (then none is started; Wait starts it once the other
// one is over). Argo CD ignores the returned token.
//
// Flux: reconcile.fluxcd.io/requestedAt is set to a new token on the source
// (the Kustomization's sourceRef; the HelmRelease's chart source and
// HelmChart), on the Kustomization applying a HelmRelease when the owner has
// one as Parent, and then on the owner. The returned token is the value
// Flux copies to status.lastHandledReconcileAt once it has handled the
// request: pass it to Wait as WaitOptions.Token with NoTrigger. A suspended
// owner or source is refused with an error wrapping ErrSuspended.
func (c *Cluster) Trigger(ctx context.Context, owner *Owner, opts WaitOptions) (string, error) {
	if owner == nil {
		return "", errors.New("trigger: no owner")
	}
	res, err := c.trigger(ctx, owner, "", opts, newEmitter(owner, opts))
	return res.token, err
}

type triggerResult struct {
	token       string
	syncStarted bool
}

// trigger does Trigger's work; want, when a full commit SHA, pins the sync
// operation of the target sources to it.
func (c *Cluster) trigger(ctx context.Context, owner *Owner, want string, opts WaitOptions, emit emitFunc) (triggerResult, error) {
	now := opts.now()
	var res triggerResult
	switch owner.Kind {
	case OwnerArgoCDApplication:
		key := c.appKey(owner)
		if err := c.requestRefresh(ctx, key); err != nil {
			return res, err
		}
		emit("trigger", "refresh requested")
		if !opts.Sync {
			return res, nil
		}
		app, _, err := c.getApplication(ctx, key)
		if err != nil {
			return res, err
		}
		started, why, err := c.startSync(ctx, app, want, opts.SourceIndexes, false)
		if err != nil {
			return res, err
		}
		res.syncStarted = started
		if started {
			emit("trigger", "sync started"+syncTarget(want))
		} else if why != "" {
			emit("trigger", "sync not started: "+why)
		}
		return res, nil
	case OwnerFluxKustomization, OwnerFluxHelmRelease:
		res.token = flux.NewToken(now)
		requested, err := c.requestFlux(ctx, owner, res.token)
		if len(requested) > 0 {
			emit("trigger", "reconcile requested: "+strings.Join(requested, ", "))
		}
		return res, err
	}
	return res, fmt.Errorf("trigger %s: unknown owner kind %q", owner, owner.Kind)
}

func syncTarget(want string) string {
	if argocd.IsCommitSHA(want) {
		return " at " + flux.Short(want)
	}
	return ""
}

func (c *Cluster) appKey(owner *Owner) client.ObjectKey {
	ns := owner.Namespace
	if ns == "" {
		ns = c.argoNamespace()
	}
	return client.ObjectKey{Namespace: ns, Name: owner.Name}
}

func newApplication(key client.ObjectKey) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(argocd.GroupVersion.WithKind(argocd.ApplicationKind))
	u.SetNamespace(key.Namespace)
	u.SetName(key.Name)
	return u
}

// getApplication reads an Application as unstructured, so that the source
// hydrator status (absent from dot's typed subset) can be read too.
func (c *Cluster) getApplication(ctx context.Context, key client.ObjectKey) (*argocd.Application, *argocd.SourceHydratorStatus, error) {
	u := newApplication(key)
	if err := c.argo().Get(ctx, key, u); err != nil {
		return nil, nil, fmt.Errorf("get Application %s: %w", key, err)
	}
	return argocd.ReadApplication(u)
}

// requestRefresh sets argocd.argoproj.io/refresh: normal. The controller
// removes the annotation once it has compared the Application again.
func (c *Cluster) requestRefresh(ctx context.Context, key client.ObjectKey) error {
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{argocd.AnnotationRefresh: "normal"}},
	})
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		return c.argo().Patch(ctx, newApplication(key), client.RawPatch(types.MergePatchType, patch))
	})
	if err != nil {
		return fmt.Errorf("request refresh of Application %s: %w", key, err)
	}
	return nil
}

// startSync starts a sync operation unless automated sync is on or another
// operation is pending or running. It reports why it did not start one. The
// patch carries the resourceVersion read, so an operation someone else
// starts in between is never overwritten: the conflict is reported as "not
// started" and the caller decides again on fresh state.
//
// force starts it even with automated sync on: after dot recreated objects
// whose earlier sync at the revision failed, since automated sync does not
// retry a revision it failed at (as `argocd app sync` would). The
// operation then prunes as the automated policy does.
func (c *Cluster) startSync(ctx context.Context, app *argocd.Application, want string, idx []int, force bool) (bool, string, error) {
	if app.AutoSyncEnabled() && !force {
		return false, "automated sync is on", nil
	}
	if app.OperationPending() {
		phase := "requested"
		if op := app.Status.OperationState; op != nil && app.Operation == nil {
			phase = op.Phase
		}
		return false, "another operation is " + strings.ToLower(phase), nil
	}
	reason := "dot: apply the pushed revision"
	if want != "" {
		reason = "dot: apply " + want
	}
	patch, err := argocd.SyncOperationPatch(app, argocd.SyncOperationRequest{
		Revisions:       syncRevisions(app, want, idx),
		Username:        SyncUsername,
		Reason:          reason,
		ResourceVersion: app.ResourceVersion,
		Prune:           app.AutoSyncEnabled() && app.Spec.SyncPolicy.Automated.Prune,
	})
	if err != nil {
		return false, "", err
	}
	key := client.ObjectKey{Namespace: app.Namespace, Name: app.Name}
	err = c.argo().Patch(ctx, newApplication(key), client.RawPatch(types.MergePatchType, patch))
	if apierrors.IsConflict(err) {
		return false, "the Application changed while starting the sync; deciding again", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("start sync of Application %s: %w", key, err)
	}
	return true, "", nil
}

// syncRevisions pins the Git sources the revision belongs to: the sources at
// idx, or the only source of a single-source Application. Other sources sync
// their targetRevision. Only a full SHA is pinned; an abbreviation is left to
// the targetRevision (which contains it once pushed).
func syncRevisions(app *argocd.Application, want string, idx []int) []string {
	if !argocd.IsCommitSHA(want) || app.Spec.SourceHydrator != nil {
		return nil
	}
	srcs := app.Spec.GetSources()
	revs := make([]string, len(srcs))
	if len(idx) > 0 {
		for _, i := range idx {
			if i >= 0 && i < len(srcs) && srcs[i].IsGit() {
				revs[i] = want
			}
		}
		return revs
	}
	if len(srcs) == 1 && srcs[0].IsGit() {
		revs[0] = want
	}
	return revs
}

// requestFlux sets the reconcile request on the owner's sources, its parent
// Kustomization or Application and the owner, in that order, and returns
// what it touched.
func (c *Cluster) requestFlux(ctx context.Context, owner *Owner, token string) ([]string, error) {
	var done []string
	request := func(ref flux.ObjectRef) error {
		if err := flux.RequestReconcile(ctx, c.Client, ref, token); err != nil {
			return err
		}
		done = append(done, ref.String())
		return nil
	}
	requestSource := func(ref flux.ObjectRef) error {
		src, err := c.readSource(ctx, ref)
		if err != nil {
			return err
		}
		if src.suspended {
			return fmt.Errorf("%w: %s", ErrSuspended, suspendedReason(ref.String(), fluxCLIKind(ref.GroupVersionKind.Kind), ref.Namespace, ref.Name))
		}
		return request(ref)
	}
	key := client.ObjectKey{Namespace: owner.Namespace, Name: owner.Name}
	switch owner.Kind {
	case OwnerFluxKustomization:
		ks := &kustomizev1.Kustomization{}
		if err := c.Client.Get(ctx, key, ks); err != nil {
			return done, fmt.Errorf("get %s: %w", owner, err)
		}
		if ks.Spec.Suspend {
			return done, fmt.Errorf("%w: %s", ErrSuspended, suspendedReason(owner.String(), "kustomization", ks.Namespace, ks.Name))
		}
		if err := requestSource(flux.KustomizationSource(ks)); err != nil {
			return done, err
		}
		return done, request(fluxRef(ks, kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind)))
	case OwnerFluxHelmRelease:
		hr := &helmv2.HelmRelease{}
		if err := c.Client.Get(ctx, key, hr); err != nil {
			return done, fmt.Errorf("get %s: %w", owner, err)
		}
		if hr.Spec.Suspend {
			return done, fmt.Errorf("%w: %s", ErrSuspended, suspendedReason(owner.String(), "helmrelease", hr.Namespace, hr.Name))
		}
		if p := owner.Parent; p != nil {
			switch p.Kind {
			case OwnerFluxKustomization:
				// The HelmRelease's values live in the parent's source. A
				// suspended parent is left to the decision: the chart may
				// still carry the revision.
				pks := &kustomizev1.Kustomization{}
				err := c.Client.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Name}, pks)
				switch {
				case apierrors.IsNotFound(err):
				case err != nil:
					return done, fmt.Errorf("get %s: %w", p, err)
				case !pks.Spec.Suspend:
					if err := request(flux.KustomizationSource(pks)); err != nil && !apierrors.IsNotFound(err) {
						return done, err
					}
					if err := request(fluxRef(pks, kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind))); err != nil {
						return done, err
					}
				}
			case OwnerArgoCDApplication:
				if err := c.requestRefresh(ctx, c.appKey(p)); err != nil && !apierrors.IsNotFound(err) {
					return done, err
				}
				done = append(done, p.String()+" (refresh)")
			}
		}
		src, chart := flux.HelmReleaseSources(hr)
		if !src.IsZero() {
			if err := requestSource(src); err != nil {
				return done, err
			}
		}
		if !chart.IsZero() {
			// The HelmChart may not exist yet (first install); helm-controller
			// creates it.
			if err := request(chart); err != nil && !apierrors.IsNotFound(err) {
				return done, err
			}
		}
		return done, request(fluxRef(hr, helmv2.GroupVersion.WithKind(helmv2.HelmReleaseKind)))
	}
	return done, fmt.Errorf("request reconcile of %s: not a Flux object", owner)
}

func fluxRef(obj client.Object, gvk schema.GroupVersionKind) flux.ObjectRef {
	return flux.ObjectRef{GroupVersionKind: gvk, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// fluxCLIKind names a kind the way the flux CLI's resume command does.
func fluxCLIKind(kind string) string {
	switch kind {
	case "GitRepository":
		return "source git"
	case "HelmRepository":
		return "source helm"
	case "OCIRepository":
		return "source oci"
	case "Bucket":
		return "source bucket"
	case "HelmChart":
		return "source chart"
	}
	return strings.ToLower(kind)
}

// suspendedReason explains why waiting on a suspended object is refused.
func suspendedReason(name, cliKind, ns, n string) string {
	return fmt.Sprintf("%s has spec.suspend: true and will not apply new revisions; resume it (flux resume %s %s -n %s) and wait again", name, cliKind, n, ns)
}
