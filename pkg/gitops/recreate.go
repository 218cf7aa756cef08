package gitops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
	"github.com/dot-ai/dot/pkg/gitops/flux"
	"github.com/dot-ai/dot/pkg/gitops/manifest"
	"github.com/dot-ai/dot/pkg/kube"
)

// This file holds Change.Recreate: a Set of fields the API server does not
// let change on a live object is delivered by deleting the object and
// creating it again. Every step is guarded: the plan records the UID and
// resourceVersion it read, the delete is conditional on both, the object
// must be gone (finalizers done) before anything creates it again, and the
// result records the old and the new UID.

// Recreation is an object delivery deletes and creates again because a
// change touches fields that cannot change in place.
type Recreation struct {
	Object kube.ObjectRef `json:"object"`
	// UID and ResourceVersion are the live object's when the plan read it;
	// the delete is conditional on both.
	UID             types.UID `json:"uid"`
	ResourceVersion string    `json:"resourceVersion"`
	// Fields are the changed fields, the reason for recreating.
	Fields []string `json:"fields,omitempty"`
	// NewUID is the UID of the object created again (results only; empty
	// when it was not observed, e.g. without waiting).
	NewUID types.UID `json:"newUID,omitempty"`
}

// Note says in one line what happens to the object.
func (r Recreation) Note() string {
	return fmt.Sprintf("%s is deleted and created again (uid %s, resourceVersion %s): %s cannot change on a live object",
		r.Object, r.UID, r.ResourceVersion, strings.Join(r.Fields, ", "))
}

// recreateGoneTimeout bounds the wait for a deleted object to disappear
// (finalizers such as kubernetes.io/pvc-protection) when the context has
// no earlier deadline.
const recreateGoneTimeout = 2 * time.Minute

// recreateSeeTimeout bounds the wait for the owner to see the pushed commit
// before the live object is deleted.
const recreateSeeTimeout = 2 * time.Minute

// recreatable refuses objects that must not be deleted to change them: an
// object being deleted, one another controller owns (it would create it
// again from its own template), and a bound PersistentVolumeClaim (deleting
// it releases the volume, whose reclaim policy may delete the data).
func recreatable(live *unstructured.Unstructured) error {
	ref := kube.RefOf(live)
	if live.GetDeletionTimestamp() != nil {
		return fmt.Errorf("%s is being deleted already; not recreating it", ref)
	}
	for _, o := range live.GetOwnerReferences() {
		if o.Controller != nil && *o.Controller {
			return fmt.Errorf("%s is controlled by %s %s, which would create it again from its own template; change it there", ref, o.Kind, o.Name)
		}
	}
	if ref.Group == "" && ref.Kind == "PersistentVolumeClaim" {
		vol, _, _ := unstructured.NestedString(live.Object, "spec", "volumeName")
		phase, _, _ := unstructured.NestedString(live.Object, "status", "phase")
		if vol != "" || phase == "Bound" {
			return fmt.Errorf("%s is bound to PersistentVolume %q: deleting the claim releases the volume, and its reclaim policy may delete the data; refusing to recreate it", ref, vol)
		}
	}
	return nil
}

// binderAnnotations are set on claims by the volume binder and the
// provisioners; a claim created again must not carry them.
var binderAnnotations = []string{"volume.beta.kubernetes.io/storage-provisioner", "volume.kubernetes.io/storage-provisioner", "volume.kubernetes.io/selected-node"}

// createBodyOf returns live as a new object: without status, server-set
// metadata (uid, resourceVersion, creationTimestamp, managedFields,
// generation, deletion fields), kubectl's last-applied annotation (it
// describes the deleted object), and for claims the binder's annotations
// and, unbound, spec.volumeName.
func createBodyOf(live *unstructured.Unstructured) *unstructured.Unstructured {
	body := live.DeepCopy()
	delete(body.Object, "status")
	if md, ok := body.Object["metadata"].(map[string]any); ok {
		for _, k := range slices.Concat(serverMetadata, []string{"deletionTimestamp", "deletionGracePeriodSeconds"}) {
			delete(md, k)
		}
	}
	ann := body.GetAnnotations()
	for k := range ann {
		pvc := body.GetKind() == "PersistentVolumeClaim" && body.GroupVersionKind().Group == ""
		if k == "kubectl.kubernetes.io/last-applied-configuration" || pvc && (strings.HasPrefix(k, "pv.kubernetes.io/") || slices.Contains(binderAnnotations, k)) {
			delete(ann, k)
		}
	}
	if len(ann) == 0 {
		ann = nil
	}
	body.SetAnnotations(ann)
	if body.GetKind() == "PersistentVolumeClaim" && body.GroupVersionKind().Group == "" {
		phase, _, _ := unstructured.NestedString(live.Object, "status", "phase")
		if phase != "Bound" {
			unstructured.RemoveNestedField(body.Object, "spec", "volumeName")
		}
	}
	return body
}

// recreateBody is the object a recreate creates: live with the edits
// applied, as createBodyOf leaves it.
func recreateBody(ref kube.ObjectRef, live *unstructured.Unstructured, edits []fieldEdit) (*unstructured.Unstructured, error) {
	body := createBodyOf(live)
	var obj any = body.Object
	var err error
	for _, e := range edits {
		if e.delete {
			obj = manifest.DeleteField(obj, e.path)
			continue
		}
		if obj, err = manifest.SetField(obj, e.path, manifest.DeepCopy(e.value)); err != nil {
			return nil, fmt.Errorf("%s field %s: %w", ref, e.path, err)
		}
	}
	m, _ := obj.(map[string]any)
	return &unstructured.Unstructured{Object: m}, nil
}

func fieldPaths(edits []fieldEdit) []string {
	out := make([]string, 0, len(edits))
	for _, e := range edits {
		out = append(out, e.raw.Path)
	}
	return out
}

// prepareRecreate builds a recreating Set: the object to create and the
// plan's record of what is deleted. A Set the live object already has is
// a no-op, not a recreate.
func (op *directOp) prepareRecreate() error {
	if op.noop {
		op.expected = op.live.Object
		return nil
	}
	if err := recreatable(op.live); err != nil {
		return err
	}
	body, err := recreateBody(op.ref, op.live, op.edits)
	if err != nil {
		return err
	}
	op.recreate, op.body = true, body
	op.expected = manifest.DeepCopy(body.Object).(map[string]any)
	op.plan.Recreate = &Recreation{Object: op.ref, UID: op.live.GetUID(), ResourceVersion: op.live.GetResourceVersion(), Fields: fieldPaths(op.edits)}
	return nil
}

// dryRunRecreate validates a recreate on the server without writing.
//
// An apply to the live object cannot be the dry run: it is exactly what
// the API server rejects (the field is immutable). Nor can a dry-run create
// under the object's own name: the object exists, so the server answers
// AlreadyExists before it validates anything. So the dry run is two
// requests: a dry-run delete with the plan's preconditions (UID and
// resourceVersion: permissions, admission, and that the object is still the
// one read), and a dry-run create of the edited object under a generated
// name (generateName "<name>-"), which runs the same defaulting, validation
// and admission (webhooks included) as the real create, and stores nothing.
// What it cannot judge: admission that depends on the name (rare), and
// ResourceQuota, which counts the old object as still there; a quota
// refusal is therefore a warning, not a failure. The server's answer, with
// the real name put back, is the plan's result.
func (c *Cluster) dryRunRecreate(ctx context.Context, op *directOp, opts DirectOptions) error {
	uid, rv := op.live.GetUID(), op.live.GetResourceVersion()
	if op.plannedUID != "" && op.plannedRV != "" {
		uid, rv = op.plannedUID, op.plannedRV // the object the plan read, not whatever is there now
	}
	err := c.Client.Delete(ctx, op.live.DeepCopy(), client.DryRunAll, client.Preconditions{UID: &uid, ResourceVersion: &rv},
		client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return fmt.Errorf("%w: %s changed since it was read (uid %s, resourceVersion %s): %v", ErrConflict, op.ref, uid, rv, err)
		}
		return fmt.Errorf("delete %s (dry run): %w", op.ref, err)
	}
	probe := op.body.DeepCopy()
	probe.SetName("")
	probe.SetGenerateName(op.ref.Name + "-")
	if err := c.Client.Create(ctx, probe, client.DryRunAll, client.FieldOwner(opts.manager())); err != nil {
		if apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota") {
			op.warnings = append(op.warnings, fmt.Sprintf("%s: the dry run of the new object was refused by a ResourceQuota, which counted the old object as well (it is deleted first): %v", op.ref, err))
			op.dryResult = op.expected
			return nil
		}
		return fmt.Errorf("create %s again (dry run): %w", op.ref, err)
	}
	probe.SetName(op.ref.Name)
	probe.SetGenerateName("")
	op.dryResult = probe.Object
	return nil
}

// recreateDirect deletes the object the plan read (UID and resourceVersion
// preconditions), waits until it is gone, and creates the edited object
// with field manager opts.FieldManager. When the create fails it creates
// the original again; either way the manifests are saved to a file the
// error names, so nothing is lost.
func (c *Cluster) recreateDirect(ctx context.Context, op *directOp, res *DirectResult, opts DirectOptions) error {
	uid, rv := op.plannedUID, op.plannedRV
	if uid == "" {
		uid = op.live.GetUID()
	}
	if rv == "" {
		rv = op.live.GetResourceVersion()
	}
	if op.live.GetUID() != uid || op.live.GetResourceVersion() != rv {
		return fmt.Errorf("%w: %s changed since the plan (uid %s resourceVersion %s, planned uid %s resourceVersion %s); not deleting it: plan again",
			ErrConflict, op.ref, op.live.GetUID(), op.live.GetResourceVersion(), uid, rv)
	}
	rec := Recreation{Object: op.ref, UID: uid, ResourceVersion: rv, Fields: fieldPaths(op.edits)}
	res.Recreated = &rec
	if err := c.deleteExact(ctx, op.ref, op.live, uid, rv); err != nil {
		return err
	}
	opts.emit("recreate", "deleted %s (uid %s); waiting until it is gone", op.ref, uid)
	if err := c.waitGone(ctx, op.ref, uid, opts.interval(), opts.WaitTimeout, func(msg string) { opts.emit("recreate", "%s", msg) }); err != nil {
		saved := saveManifests(op.ref, op.live, op.body)
		return fmt.Errorf("%w; %s", err, saved)
	}
	created := op.body.DeepCopy()
	if err := c.Client.Create(ctx, created, client.FieldOwner(opts.manager())); err != nil {
		saved := saveManifests(op.ref, op.live, op.body)
		orig := createBodyOf(op.live)
		if rerr := c.Client.Create(ctx, orig, client.FieldOwner(opts.manager())); rerr != nil {
			return fmt.Errorf("create %s after deleting it: %w; creating the original again failed too: %v; %s", op.ref, err, rerr, saved)
		}
		rec.NewUID = orig.GetUID()
		return fmt.Errorf("create %s after deleting it: %w; the original was created again (uid %s); %s", op.ref, err, orig.GetUID(), saved)
	}
	rec.NewUID = created.GetUID()
	res.Status = directRecreated
	res.Message = fmt.Sprintf("deleted uid %s, created uid %s", uid, created.GetUID())
	res.Health, _ = healthOf(created)
	return nil
}

// deleteExact deletes the object read as live, on condition that it still
// has uid and resourceVersion rv. A failed precondition is ErrConflict.
func (c *Cluster) deleteExact(ctx context.Context, ref kube.ObjectRef, live *unstructured.Unstructured, uid types.UID, rv string) error {
	err := c.Client.Delete(ctx, live.DeepCopy(), client.Preconditions{UID: &uid, ResourceVersion: &rv},
		client.PropagationPolicy(metav1.DeletePropagationBackground))
	switch {
	case apierrors.IsConflict(err):
		return fmt.Errorf("%w: %s changed since the plan (planned uid %s resourceVersion %s); not deleting it: %v", ErrConflict, ref, uid, rv, err)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w: %s was deleted by someone else since the plan; not creating it again", ErrConflict, ref)
	case err != nil:
		return fmt.Errorf("delete %s: %w", ref, err)
	}
	return nil
}

// waitGone polls until the object with uid no longer exists (another UID
// under the name counts as gone: someone created it again). timeout, or
// recreateGoneTimeout when zero, bounds the wait unless ctx ends first.
func (c *Cluster) waitGone(ctx context.Context, ref kube.ObjectRef, uid types.UID, interval, timeout time.Duration, note func(string)) error {
	if timeout <= 0 {
		timeout = recreateGoneTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if interval > 250*time.Millisecond {
		interval = 250 * time.Millisecond // finalizers usually go within a second
	}
	last := ""
	for {
		u, err := c.getLive(ctx, ref)
		switch {
		case err == nil && (u == nil || u.GetUID() != uid):
			return nil
		case err == nil:
			if fz := u.GetFinalizers(); len(fz) > 0 {
				if msg := fmt.Sprintf("%s is being deleted; waiting for finalizers %s", ref, strings.Join(fz, ", ")); msg != last {
					note(msg)
					last = msg
				}
			}
		}
		select {
		case <-ctx.Done():
			why := "it is still there"
			if last != "" {
				why = last
			}
			if err != nil {
				why = err.Error()
			}
			return fmt.Errorf("%s was deleted but is not gone after %s (%s)", ref, timeout, why)
		case <-time.After(interval):
		}
	}
}

// saveManifests writes the deleted object and the one that was to be
// created to a temporary file and returns a sentence naming it (or, when
// the file cannot be written, holding both manifests).
func saveManifests(ref kube.ObjectRef, live, body *unstructured.Unstructured) string {
	orig, _ := yaml.Marshal(createBodyOf(live).Object)
	want, _ := yaml.Marshal(body.Object)
	doc := fmt.Sprintf("# %s as it was before dot deleted it (uid %s)\n%s---\n# %s as dot was creating it\n%s", ref, live.GetUID(), orig, ref, want)
	f, err := os.CreateTemp("", "dot-recreate-*.yaml")
	if err == nil {
		_, err = f.WriteString(doc)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return "the manifests (not saved to a file: " + err.Error() + "):\n" + doc
	}
	return "both manifests are saved in " + f.Name()
}

// planRecreation reads the live object of a recreating Set delivered
// through Git: what the delete will be conditional on. It is nil when
// there is nothing to recreate: the object does not exist (the owner
// creates it from the commit) or already has the values. A live value that
// is neither the expected one nor the new one is ErrConflict, as in Git.
func (c *Cluster) planRecreation(ctx context.Context, ch Change) (*Recreation, error) {
	ref, err := c.resolve(ch)
	if err != nil {
		return nil, err
	}
	live, err := c.getLive(ctx, ref)
	if err != nil || live == nil {
		return nil, err
	}
	edits, err := parseEdits(ref, ch.Fields)
	if err != nil {
		return nil, err
	}
	if err := checkExpectations(ref, live.Object, edits); err != nil {
		return nil, fmt.Errorf("the live object: %w", err)
	}
	done := true
	for _, e := range edits {
		cur, present := manifest.GetField(live.Object, e.path)
		done = done && editDone(e, cur, present)
	}
	if done {
		return nil, nil
	}
	if err := recreatable(live); err != nil {
		return nil, err
	}
	return &Recreation{Object: ref, UID: live.GetUID(), ResourceVersion: live.GetResourceVersion(), Fields: fieldPaths(edits)}, nil
}

// checkRecreations re-reads the objects a Git plan recreates, before
// anything is pushed: each must still be the object the plan read.
func (c *Cluster) checkRecreations(ctx context.Context, recs []Recreation) error {
	for _, r := range recs {
		live, err := c.getLive(ctx, r.Object)
		if err != nil {
			return err
		}
		if live == nil {
			continue // gone: the owner creates it from the commit
		}
		if live.GetUID() != r.UID || live.GetResourceVersion() != r.ResourceVersion {
			return fmt.Errorf("%w: %s changed since the plan (uid %s resourceVersion %s, planned uid %s resourceVersion %s); nothing was pushed: plan again",
				ErrConflict, r.Object, live.GetUID(), live.GetResourceVersion(), r.UID, r.ResourceVersion)
		}
	}
	return nil
}

// recreateThroughOwner runs the cluster side of a recreating commit: once
// the owner sees commit (so whatever it applies after the delete is the
// edited object), each object is deleted on the plan's preconditions and
// waited for until gone. The owner then creates it from the commit: the
// caller triggers it and waits.
func (d *Deliverer) recreateThroughOwner(ctx context.Context, gp GitPlan, commit string, isAncestor func(context.Context, string, string) (bool, error), recs []Recreation) error {
	owner := gp.Owner
	var names []string
	for _, r := range recs {
		names = append(names, r.Object.String())
	}
	d.Options.emit(owner.String(), "recreate", fmt.Sprintf("waiting for %s to see %s before deleting %s", owner, short(commit), strings.Join(names, ", ")))
	sctx, cancel := context.WithTimeout(ctx, recreateSeeTimeout)
	err := d.Cluster.awaitOwnerRevision(sctx, owner, commit, WaitOptions{SourceIndexes: []int{gp.Source.Index}, IsAncestor: isAncestor, Now: d.Options.Now})
	cancel()
	if err != nil {
		return fmt.Errorf("%s was pushed, but %s: %v; %s not deleted: once the owner has the commit, delete it (the owner creates it from the commit)",
			short(commit), owner, err, strings.Join(names, ", "))
	}
	for _, r := range recs {
		live, err := d.Cluster.getLive(ctx, r.Object)
		if err != nil {
			return err
		}
		if live == nil || live.GetUID() != r.UID {
			// Gone already, or created again from the commit.
			d.Options.emit(owner.String(), "recreate", fmt.Sprintf("%s (uid %s) is gone already", r.Object, r.UID))
			continue
		}
		if err := d.Cluster.deleteExact(ctx, r.Object, live, r.UID, r.ResourceVersion); err != nil {
			return fmt.Errorf("%s was pushed, but %w; %s cannot apply the commit until the object is recreated", short(commit), err, owner)
		}
		d.Options.emit(owner.String(), "recreate", fmt.Sprintf("deleted %s (uid %s); waiting until it is gone", r.Object, r.UID))
		note := func(msg string) { d.Options.emit(owner.String(), "recreate", msg) }
		if err := d.Cluster.waitGone(ctx, r.Object, r.UID, DefaultPollInterval, 0, note); err != nil {
			return fmt.Errorf("%s was pushed and %w", short(commit), err)
		}
	}
	return nil
}

// awaitOwnerRevision requests a refresh of the owner's source and returns
// once the owner sees commit or a descendant: an Argo CD Application has
// compared it (status.sync), a Flux Kustomization's source has it as its
// artifact. Whatever the owner applies after that is the commit, never the
// revision before it (which would bring the deleted object back unedited).
func (c *Cluster) awaitOwnerRevision(ctx context.Context, owner *Owner, commit string, opts WaitOptions) error {
	want, ok := flux.CommitOf(commit)
	if !ok {
		return fmt.Errorf("revision %q is not a commit", commit)
	}
	w := &waiter{c: c, owner: owner, opts: opts, want: want, ancestry: map[string]revMatch{}}
	match := w.match(ctx)
	seen := func(ctx context.Context) (bool, string, error) { return true, "", nil }
	switch owner.Kind {
	case OwnerArgoCDApplication:
		key := c.appKey(owner)
		if err := c.requestRefresh(ctx, key); err != nil {
			return err
		}
		seen = func(ctx context.Context) (bool, string, error) {
			app, hs, err := c.getApplication(ctx, key)
			if err != nil {
				return false, "", err
			}
			rev := argoRevision(argoInput{app: app, hydrator: hs, want: want, sourceIndexes: opts.SourceIndexes}, match)
			if rev.applied {
				return true, "", nil
			}
			if _, pending := app.Annotations[argocd.AnnotationRefresh]; !pending {
				// Compared, but not at the commit yet (a cache): ask again.
				if err := c.requestRefresh(ctx, key); err != nil {
					return false, "", err
				}
			}
			return false, "the Application is at " + orNone(flux.Short(rev.observed)), nil
		}
	case OwnerFluxKustomization:
		var src flux.ObjectRef
		seen = func(ctx context.Context) (bool, string, error) {
			if src.Name == "" {
				ks := &kustomizev1.Kustomization{}
				if err := c.Client.Get(ctx, client.ObjectKey{Namespace: owner.Namespace, Name: owner.Name}, ks); err != nil {
					return false, "", fmt.Errorf("get %s: %w", owner, err)
				}
				src = flux.KustomizationSource(ks)
				if err := flux.RequestReconcile(ctx, c.Client, src, flux.NewToken(opts.now())); err != nil {
					return false, "", err
				}
			}
			s, err := c.readSource(ctx, src)
			if err != nil {
				return false, "", err
			}
			if s.suspended {
				return false, "", fmt.Errorf("%w: %s", ErrSuspended, suspendedReason(src.String(), fluxCLIKind(src.GroupVersionKind.Kind), src.Namespace, src.Name))
			}
			return match(s.revision).ok, src.String() + " is at " + orNone(shortRev(s.revision)), nil
		}
	}
	var state string
	for {
		ok, st, err := seen(ctx)
		if err != nil && (errors.Is(err, ErrSuspended) || !isTransient(err)) {
			return err
		}
		if ok && err == nil {
			return nil
		}
		if st != "" {
			state = st
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("it did not see the commit in time (%s)", orNone(state))
		case <-time.After(opts.pollInterval()):
		}
	}
}

// planRecreations reads, for the recreating Sets of a Git group, the live
// objects the delivery will delete after the push, and says so in the plan:
// a comment line at the top of the group's diff and a warning.
func (d *Deliverer) planRecreations(ctx context.Context, gp *GitPlan, plan *Plan) error {
	var notes []string
	for i := range gp.Changes {
		c := gp.Changes[i].Change
		if !c.Recreate {
			continue
		}
		if gp.Owner == nil {
			return fmt.Errorf("%s: recreating an object needs an owner that applies the commit", c.Object)
		}
		rec, err := d.Cluster.planRecreation(ctx, c)
		if err != nil {
			return fmt.Errorf("recreate %s: %w", c.Object, err)
		}
		if rec == nil {
			continue
		}
		gp.Changes[i].Recreate = rec
		note := fmt.Sprintf("%s after the push; %s creates it again from the commit", rec.Note(), gp.Owner)
		notes = append(notes, "# "+note)
		plan.Warnings = append(plan.Warnings, note)
	}
	if len(notes) > 0 && gp.Diff != "" {
		gp.Diff = strings.Join(notes, "\n") + "\n" + gp.Diff
	}
	return nil
}

// recreations lists what the group's plan recreates.
func (gp GitPlan) recreations() []Recreation {
	var out []Recreation
	for _, c := range gp.Changes {
		if c.Recreate != nil {
			out = append(out, *c.Recreate)
		}
	}
	return out
}

// recordNewUIDs fills in the UIDs of the objects the owner created again.
func (c *Cluster) recordNewUIDs(ctx context.Context, recs []Recreation) {
	for i := range recs {
		if live, err := c.getLive(ctx, recs[i].Object); err == nil && live != nil && live.GetUID() != recs[i].UID {
			recs[i].NewUID = live.GetUID()
		}
	}
}

// triggerAfterRecreate asks the owner to apply commit now that the objects
// are deleted, without waiting. An Argo CD Application whose last sync at
// the commit failed (on the immutable field, before the delete) gets a new
// sync operation: automated sync does not retry a revision it failed at.
func (c *Cluster) triggerAfterRecreate(ctx context.Context, owner *Owner, commit string, opts WaitOptions) error {
	want, _ := flux.CommitOf(commit)
	emit := newEmitter(owner, opts)
	if _, err := c.trigger(ctx, owner, want, opts, emit); err != nil {
		return err
	}
	if owner.Kind != OwnerArgoCDApplication {
		return nil
	}
	// The controller writes the Application all the time (the refresh just
	// requested, for one): a conflicting start is tried again on fresh state.
	why := ""
	for range 10 {
		app, _, err := c.getApplication(ctx, c.appKey(owner))
		if err != nil {
			return err
		}
		op := app.Status.OperationState
		if app.OperationPending() || op == nil || (op.Phase != argocd.OperationFailed && op.Phase != argocd.OperationError) ||
			!slices.ContainsFunc(op.Revisions(), func(r string) bool { return flux.SameCommit(r, want) }) {
			return nil
		}
		var started bool
		if started, why, err = c.startSync(ctx, app, want, opts.SourceIndexes, true); err != nil || started {
			if started {
				emit("trigger", "sync started"+syncTarget(want)+" (the sync at it failed before the objects were recreated)")
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	emit("trigger", "sync not started: "+why)
	return nil
}
