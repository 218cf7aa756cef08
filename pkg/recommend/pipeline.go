package recommend

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
)

// ErrNoOwnerKind is returned when nothing deploys the target path and the
// controller to create cannot be chosen (both or neither installed).
var ErrNoOwnerKind = errors.New("cannot choose the GitOps controller")

// GitDelivery says where generated objects go and who deploys them.
type GitDelivery struct {
	Target GitTarget
	// OwnerKind is argocd or flux; empty picks the one installed.
	OwnerKind string
	// ArgoCDNamespace is where a new Application goes ("argocd").
	ArgoCDNamespace string
	// FluxNamespace is where a new GitRepository and Kustomization go
	// ("flux-system").
	FluxNamespace string
	// GitSecret is the Flux GitRepository's credentials Secret.
	GitSecret string
}

// DeliveryPlan is the change set to deliver and the owner that deploys it.
type DeliveryPlan struct {
	ChangeSet gitops.ChangeSet
	Owner     *gitops.Owner
	// OwnerCreated is true when the change set also creates the owner
	// (server-side apply: Creates without a Target).
	OwnerCreated bool
}

// PlanGitDelivery builds the change set for spec's objects: one Create per
// object at the target path, plus the owner objects when no Argo CD
// Application or Flux Kustomization covers that path yet.
func PlanGitDelivery(ctx context.Context, gc *gitops.Cluster, caps *Capabilities, spec *Spec, objs []*unstructured.Unstructured, gd GitDelivery) (*DeliveryPlan, error) {
	title := fmt.Sprintf("recommend %s %s", spec.Archetype, spec.Name)
	dp := &DeliveryPlan{ChangeSet: ChangeSet(title, objs, &gd.Target)}
	owner, err := CoveringOwner(ctx, gc, gd.Target)
	if err != nil {
		return nil, err
	}
	if owner != nil {
		dp.Owner = owner
		return dp, nil
	}
	kind := gd.OwnerKind
	if kind == "" {
		switch {
		case caps.ArgoCD && caps.Flux:
			return nil, fmt.Errorf("%w: both Argo CD and Flux are installed and nothing deploys %s yet: name one", ErrNoOwnerKind, gd.Target.Path)
		case caps.ArgoCD:
			kind = OwnerArgoCD
		case caps.Flux:
			kind = OwnerFlux
		default:
			return nil, fmt.Errorf("%w: neither Argo CD nor Flux is installed", ErrNoOwnerKind)
		}
	}
	oo := OwnerOptions{Kind: kind, Name: spec.Name, TargetNamespace: spec.Namespace, RepoURL: gd.Target.RepoURL,
		Branch: gd.Target.Branch, Path: gd.Target.Path, SecretRef: gd.GitSecret}
	switch kind {
	case OwnerArgoCD:
		oo.Namespace = gd.ArgoCDNamespace
		if oo.Namespace == "" {
			oo.Namespace = gitops.DefaultArgoCDNamespace
		}
	case OwnerFlux:
		oo.Namespace = gd.FluxNamespace
		if oo.Namespace == "" {
			oo.Namespace = "flux-system"
		}
		if oo.Branch == "" {
			oo.Branch = "main" // a GitRepository needs a ref
		}
	}
	ownerObjs, o, err := OwnerObjects(oo)
	if err != nil {
		return nil, err
	}
	dp.ChangeSet.Changes = append(dp.ChangeSet.Changes, ChangeSet("", ownerObjs, nil).Changes...)
	dp.Owner, dp.OwnerCreated = o, true
	return dp, nil
}

// DeliveredCommit is the commit that holds the files after delivery: the
// pushed one, or the plan's base when the repository already had them.
func DeliveredCommit(plan *gitops.Plan, res *gitops.Result) string {
	commit := ""
	for i := range plan.Git {
		if res != nil && i < len(res.Git) && res.Git[i].Commit != "" {
			commit = res.Git[i].Commit
		} else {
			commit = plan.Git[i].Base
		}
	}
	return commit
}

// WaitHealthy waits until owner applied commit (or a descendant) and the
// generated workload is healthy, then finds the workload's owner as the
// cluster shows it (with its evidence; the given owner when that fails).
func WaitHealthy(ctx context.Context, gc *gitops.Cluster, owner *gitops.Owner, commit string, objs []*unstructured.Unstructured, wo gitops.WaitOptions) (gitops.SyncReport, *gitops.Owner, error) {
	workload, ok := Workload(objs)
	if ok {
		wo.Objects = []kube.ObjectRef{workload}
	}
	report, err := gc.Wait(ctx, owner, commit, wo)
	if err != nil || !ok {
		return report, owner, err
	}
	if found, ferr := gc.FindOwner(ctx, workload); ferr == nil {
		found.Parent = nil
		return report, found, nil
	}
	return report, owner, nil
}
