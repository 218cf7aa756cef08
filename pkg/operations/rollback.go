package operations

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/gitops/repo"
	"github.com/dot-ai/dot/pkg/kube"
)

// HistoryFunc returns dot's commits that changed an object, newest first
// (gitops.Deliverer.History).
type HistoryFunc func(ctx context.Context, ref kube.ObjectRef) (*gitops.Owner, []repo.CommitInfo, error)

// Rollback undoes changes to a workload. When a GitOps controller owns it,
// dot reverts its own commits for that object (found by their Dot-Object
// trailer): the last Steps of them, or all made after commit To. When
// nothing owns it, the pod template of an earlier ReplicaSet revision is
// applied, as `kubectl rollout undo` does.
type Rollback struct {
	Config  *Config
	History HistoryFunc
	// Steps is how many of dot's changes to undo (default 1).
	Steps int
	// To is a commit (managed) or a revision number (unmanaged) to go back to.
	To string
}

// ChangeSet returns the rollback change.
func (a *Rollback) ChangeSet(ctx context.Context, ref kube.ObjectRef) (gitops.ChangeSet, error) {
	w, err := a.Config.ResolveWorkload(ctx, ref)
	if err != nil {
		return gitops.ChangeSet{}, err
	}
	owner, commits, err := a.History(ctx, w.Ref)
	switch {
	case errors.Is(err, gitops.ErrNotManaged):
		return a.fromReplicaSets(ctx, w)
	case err != nil:
		return gitops.ChangeSet{}, err
	}
	revert, err := a.pick(w, commits)
	if err != nil {
		return gitops.ChangeSet{}, err
	}
	var subjects []string
	for _, c := range commits[:len(revert)] {
		subjects = append(subjects, fmt.Sprintf("%s %s", c.SHA[:7], c.Subject))
	}
	title := fmt.Sprintf("roll back %s (revert %d change(s))", objName(w), len(revert))
	return gitops.ChangeSet{Title: title + nsSuffix(w.Ref), Operation: "rollback", Changes: []gitops.Change{{
		Object: owner.Object, Action: gitops.ActionRevert, Revert: revert,
		Reason: "revert " + strings.Join(subjects, "; "),
	}}}, nil
}

func (a *Rollback) pick(w *Workload, commits []repo.CommitInfo) ([]string, error) {
	if len(commits) == 0 {
		return nil, fmt.Errorf("no commit of dot changed %s in the branch's recent history: nothing to roll back", w.Ref)
	}
	var shas []string
	if a.To != "" {
		for _, c := range commits {
			if strings.HasPrefix(c.SHA, a.To) {
				if len(shas) == 0 {
					return nil, fmt.Errorf("%s is dot's latest change of %s: nothing after it to roll back", a.To, w.Ref)
				}
				return shas, nil
			}
			shas = append(shas, c.SHA)
		}
		return nil, fmt.Errorf("%s is not one of dot's commits for %s (found %d: newest %s)", a.To, w.Ref, len(commits), commits[0].SHA[:7])
	}
	steps := a.Steps
	if steps <= 0 {
		steps = 1
	}
	if steps > len(commits) {
		return nil, fmt.Errorf("--steps %d: only %d change(s) of dot to %s found", steps, len(commits), w.Ref)
	}
	for _, c := range commits[:steps] {
		shas = append(shas, c.SHA)
	}
	return shas, nil
}

const revisionAnnotation = "deployment.kubernetes.io/revision"

// fromReplicaSets builds the rollback of an unmanaged Deployment from the
// pod template of an earlier ReplicaSet.
func (a *Rollback) fromReplicaSets(ctx context.Context, w *Workload) (gitops.ChangeSet, error) {
	if w.Ref.Kind != "Deployment" {
		return gitops.ChangeSet{}, fmt.Errorf("%s is not managed by GitOps, and dot rolls back unmanaged Deployments only (from their ReplicaSets)", w.Ref)
	}
	var list appsv1.ReplicaSetList
	if err := a.Config.Client.List(ctx, &list, client.InNamespace(w.Ref.Namespace)); err != nil {
		return gitops.ChangeSet{}, fmt.Errorf("list ReplicaSets: %w", err)
	}
	type rev struct {
		n  int64
		rs *appsv1.ReplicaSet
	}
	var revs []rev
	for i := range list.Items {
		rs := &list.Items[i]
		owned := false
		for _, o := range rs.OwnerReferences {
			if o.Controller != nil && *o.Controller && o.Kind == "Deployment" && (o.UID == w.Obj.GetUID() || o.Name == w.Ref.Name) {
				owned = true
			}
		}
		n, err := strconv.ParseInt(rs.Annotations[revisionAnnotation], 10, 64)
		if owned && err == nil {
			revs = append(revs, rev{n, rs})
		}
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i].n > revs[j].n })
	current, _ := strconv.ParseInt(w.Obj.GetAnnotations()[revisionAnnotation], 10, 64)
	var target *rev
	switch {
	case a.To != "":
		n, err := strconv.ParseInt(a.To, 10, 64)
		if err != nil {
			return gitops.ChangeSet{}, fmt.Errorf("--to %q: an unmanaged Deployment is rolled back to a revision number", a.To)
		}
		for i := range revs {
			if revs[i].n == n {
				target = &revs[i]
			}
		}
	default:
		steps := max(a.Steps, 1)
		var older []rev
		for _, r := range revs {
			if r.n < current {
				older = append(older, r)
			}
		}
		if steps <= len(older) {
			target = &older[steps-1]
		}
	}
	if target == nil {
		return gitops.ChangeSet{}, fmt.Errorf("%s: no earlier revision to roll back to (current revision %d, %d ReplicaSets)", w.Ref, current, len(revs))
	}
	tmpl := target.rs.Spec.Template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tmpl)
	if err != nil {
		return gitops.ChangeSet{}, err
	}
	delete(m, "creationTimestamp")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	title := fmt.Sprintf("roll back %s to revision %d", objName(w), target.n)
	return gitops.ChangeSet{Title: title + nsSuffix(w.Ref), Operation: "rollback", Changes: []gitops.Change{{
		Object: w.Ref, Action: gitops.ActionSet, Reason: title + " (ReplicaSet " + target.rs.Name + ")",
		Fields: []gitops.FieldChange{{Path: "spec.template", Value: m}},
	}}}, nil
}
