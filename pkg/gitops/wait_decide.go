package gitops

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
	"github.com/dot-ai/dot/pkg/gitops/flux"
	"github.com/dot-ai/dot/pkg/kube"
)

// This file holds the decision of Wait: given what was observed, is the
// revision applied and healthy (done), will it never be (failed), or is it
// worth waiting longer (pending)? The functions here do no I/O; the loop in
// wait.go feeds them and acts on what they return.

type verdict int

const (
	verdictPending verdict = iota
	verdictDone
	verdictFailed
	// verdictSuspended: reconciliation is switched off, waiting is pointless.
	verdictSuspended
	// verdictUnobservable: nothing the controller writes can show the
	// revision, waiting is pointless.
	verdictUnobservable
)

func (v verdict) String() string {
	return [...]string{"pending", "done", "failed", "suspended", "unobservable"}[v]
}

// decision is the outcome of one look at the owner.
type decision struct {
	verdict verdict
	// report is the observed state; Owner, Revision and Duration are filled
	// in by the loop.
	report SyncReport
	// progress says in one line what is being waited for, or why it failed.
	progress string
	// reason explains verdictSuspended and verdictUnobservable.
	reason string
	// refresh asks for another Argo CD refresh: health was computed before
	// the last operation finished.
	refresh bool
	// startSync asks the loop to start the Argo CD sync the caller wanted,
	// now that no other operation runs.
	startSync bool
	// forceSync starts it even with automated sync on (WaitOptions.Recreated).
	forceSync bool
	// pollOthers is set when the decision depends on objects the watch on the
	// owner does not cover (sources, parents, edited objects).
	pollOthers bool
	// needObjects is set when the owner is done and the edited objects must
	// be fetched to finish the decision.
	needObjects bool
}

// revMatch says whether an observed revision is the awaited one.
type revMatch struct {
	ok bool
	// descendant is true when ok because the observed commit descends from
	// the awaited one.
	descendant bool
	// note explains an unknown answer (IsAncestor failed).
	note string
}

// matchFunc compares an observed revision, in any form flux.ParseRevision
// accepts, with the awaited revision.
type matchFunc func(observed string) revMatch

// decideState is what decisions remember between observations.
type decideState struct {
	observed bool
	// baselineHealth is the health at the first observation.
	baselineHealth string
	// sawNotDegraded is true once any observation was not Degraded: a later
	// Degraded is then a transition caused by the wait's revision.
	sawNotDegraded bool
}

func (st *decideState) observe(health string) {
	if !st.observed {
		st.observed = true
		st.baselineHealth = health
	}
	if health != HealthDegraded {
		st.sawNotDegraded = true
	}
}

// maxResourceMessages bounds how many per-resource messages go into a
// report's Messages; Resources lists them all.
const maxResourceMessages = 10

// ---- Argo CD ----

type argoInput struct {
	app      *argocd.Application
	hydrator *argocd.SourceHydratorStatus
	// start is when the wait started: conditions raised before it may
	// describe an older revision.
	start time.Time
	// want is the awaited revision, for messages.
	want string
	// sync is WaitOptions.Sync; syncStarted is set once dot started a sync.
	sync        bool
	syncStarted bool
	// sourceIndexes is WaitOptions.SourceIndexes.
	sourceIndexes []int
	// refreshPending is true while the refresh annotation is still set (the
	// controller has not processed the last request).
	refreshPending bool
	// recreated is WaitOptions.Recreated.
	recreated []kube.ObjectRef
}

func decideArgo(in argoInput, st *decideState, match matchFunc) decision {
	app := in.app
	s := &app.Status
	var d decision
	r := &d.report
	r.SyncStatus = s.Sync.Status
	r.Health = orUnknown(s.Health.Status)
	r.Messages = argoMessages(app)
	r.Resources = argoResources(app)
	st.observe(r.Health)
	want := flux.Short(in.want)

	rev := argoRevision(in, match)
	if rev.note != "" {
		r.Messages = append(r.Messages, rev.note)
	}
	synced := s.Sync.Status == argocd.SyncStatusSynced
	r.Synced = rev.applied && synced && !app.OperationPending()
	r.AppliedRevision = argoAppliedRevision(app, rev, synced)

	// Failures the controller reports. A failure condition counts when it is
	// new since the wait started, or when the controller compared our
	// revision after the wait started and still reports it; an outage of
	// Argo CD's own components is not the Application's failure.
	since := in.start.Truncate(time.Second)
	comparedOurs := rev.seen && s.ReconciledAt != nil && !s.ReconciledAt.Time.Before(since)
	recreate := len(in.recreated) > 0
	for _, c := range s.Conditions {
		if !argocd.IsFailureCondition(c.Type) || argocd.TransientConditionMessage(c.Message) {
			continue
		}
		if recreate && c.Type == argocd.ConditionSyncError {
			// Automated sync refusing to retry the attempt that failed
			// before the objects were deleted; the operation state below
			// tells whether the revision applies now.
			continue
		}
		fresh := c.LastTransitionTime != nil && !c.LastTransitionTime.Time.Before(since)
		if fresh || comparedOurs {
			return argoFail(&d, fmt.Sprintf("%s: %s", c.Type, c.Message))
		}
	}
	if rev.hydrationFailed != "" {
		return argoFail(&d, rev.hydrationFailed)
	}
	op := s.OperationState
	if op != nil && (op.Phase == argocd.OperationFailed || op.Phase == argocd.OperationError) && app.Operation == nil {
		// app.Operation set means a new operation (dot's own) replaces this
		// one; its state is not ours to judge yet.
		if anyRevisionMatches(op.Revisions(), match) {
			if recreate && !in.syncStarted {
				// Most likely the attempt on the immutable field before the
				// delete; automated sync will not retry it: one sync of
				// dot's own tells.
				d.startSync, d.forceSync = true, true
				first, _, _ := strings.Cut(op.Message, "\n")
				d.progress = fmt.Sprintf("the sync at %s failed before %s was recreated (%s); starting a sync", want, refList(in.recreated), first)
				return d
			}
			msg := fmt.Sprintf("sync operation %s at %s: %s", op.Phase, want, op.Message)
			return argoFail(&d, msg)
		}
	}

	if msg, ok := retryingRejected(op, match, in.recreated); ok {
		return argoFail(&d, fmt.Sprintf("sync operation at %s keeps failing (attempt %d): %s", want, op.RetryCount+1, msg))
	}

	wantSync := in.sync && !app.AutoSyncEnabled() && !in.syncStarted && !app.OperationPending()
	if !rev.applied {
		d.startSync = wantSync && !(rev.seen && synced)
		d.progress = fmt.Sprintf("waiting for %s: Application at %s (%s)", want, orNone(flux.Short(rev.observed)), orUnknown(s.Sync.Status))
		if s.ReconciledAt == nil || !s.ReconciledAt.Time.After(since) {
			// Nothing compared the Application after the wait began
			// (reconciledAt has whole seconds; the second the wait began
			// counts as before): at a timeout this points at the controller
			// rather than the commit.
			last := "has never reconciled the Application"
			if s.ReconciledAt != nil {
				last = "has not reconciled the Application since " + s.ReconciledAt.UTC().Format(time.RFC3339) + ", when the wait began or before"
			}
			r.Messages = append(r.Messages, "the Argo CD application-controller "+last+"; if this lasts, check that it is running")
		}
		if rev.hydrating != "" {
			d.progress = rev.hydrating
		}
		noteManualSync(app, in, r)
		return d
	}
	if !synced {
		d.startSync = wantSync
		d.progress = fmt.Sprintf("%s compared, %s", want, orUnknown(s.Sync.Status))
		if app.OperationPending() && op != nil {
			d.progress += fmt.Sprintf("; sync operation %s", op.Phase)
		}
		noteManualSync(app, in, r)
		return d
	}
	if app.OperationPending() {
		phase := "requested"
		msg := ""
		if op != nil && app.Operation == nil {
			phase, msg = op.Phase, op.Message
		}
		d.progress = fmt.Sprintf("synced at %s, sync operation %s", flux.Short(rev.observed), phase)
		if msg != "" {
			d.progress += ": " + msg
		}
		return d
	}
	if op != nil && op.Phase != argocd.OperationSucceeded {
		// The last operation failed for another revision. When the controller
		// compared our revision after it finished and found the live state
		// Synced, the live state is ours regardless (the revision changed
		// nothing the failed operation touched); otherwise wait.
		if op.FinishedAt == nil || s.ReconciledAt == nil || s.ReconciledAt.Before(op.FinishedAt) {
			d.refresh = !in.refreshPending
			d.progress = fmt.Sprintf("synced at %s, last operation %s; waiting for a comparison after it", flux.Short(rev.observed), op.Phase)
			return d
		}
	}
	if !app.HealthTrusted() {
		d.refresh = !in.refreshPending
		d.progress = fmt.Sprintf("synced at %s, waiting for health to be assessed after the sync finished", flux.Short(rev.observed))
		return d
	}
	switch r.Health {
	case HealthHealthy:
		d.verdict = verdictDone
		d.progress = fmt.Sprintf("synced at %s, healthy", flux.Short(rev.observed))
	case HealthDegraded:
		if st.sawNotDegraded {
			msg := "health Degraded"
			if s.Health.Message != "" {
				msg += ": " + s.Health.Message
			}
			return argoFail(&d, msg)
		}
		d.progress = fmt.Sprintf("synced at %s, still Degraded as before the wait", flux.Short(rev.observed))
	case argocd.HealthSuspended:
		if st.baselineHealth == argocd.HealthSuspended {
			d.verdict = verdictDone
			d.progress = fmt.Sprintf("synced at %s, Suspended as before the wait", flux.Short(rev.observed))
			break
		}
		d.progress = fmt.Sprintf("synced at %s, health Suspended", flux.Short(rev.observed))
	default:
		d.progress = fmt.Sprintf("synced at %s, health %s", flux.Short(rev.observed), r.Health)
	}
	return d
}

func argoFail(d *decision, msg string) decision {
	d.verdict = verdictFailed
	d.progress = msg
	if d.report.Health != HealthDegraded && d.report.Health != argocd.HealthMissing {
		d.report.Health = HealthDegraded
	}
	d.report.Messages = prependUnique(d.report.Messages, msg)
	return *d
}

func noteManualSync(app *argocd.Application, in argoInput, r *SyncReport) {
	if !app.AutoSyncEnabled() && !in.sync && !in.syncStarted {
		r.Messages = append(r.Messages, "automated sync is off: the Application applies a new revision only when someone syncs it (ask dot to sync)")
	}
}

// argoRev is what the Application says about the awaited revision.
type argoRev struct {
	// seen: some target source was compared at the awaited revision or a
	// descendant; applied: all target sources were.
	seen, applied bool
	// observed is the revision of the target sources, for messages.
	observed string
	// targets are the source indexes the revision belongs to.
	targets []int
	note    string
	// hydrating / hydrationFailed describe the source hydrator's progress.
	hydrating       string
	hydrationFailed string
}

func argoRevision(in argoInput, match matchFunc) argoRev {
	app := in.app
	if app.Spec.SourceHydrator != nil {
		return hydratorRevision(in, match)
	}
	revs := app.SyncRevisions()
	srcs := app.ComparedSources()
	var out argoRev
	if len(in.sourceIndexes) > 0 {
		for _, i := range in.sourceIndexes {
			if i < 0 || i >= len(revs) {
				out.note = fmt.Sprintf("source index %d has no revision in status.sync (%d revisions)", i, len(revs))
				return out
			}
		}
		out.targets = in.sourceIndexes
	} else {
		var git, matched []int
		for i, rv := range revs {
			if (i >= len(srcs) || srcs[i].IsGit()) && argocd.IsCommitSHA(rv) {
				git = append(git, i)
				if match(rv).ok {
					matched = append(matched, i)
				}
			}
		}
		out.targets = git
		if len(matched) > 0 {
			// Every other Git source following the same branch of the same
			// repository must have moved too.
			out.targets = matched
			for _, j := range git {
				if containsInt(matched, j) || j >= len(srcs) {
					continue
				}
				for _, i := range matched {
					if i < len(srcs) && SameRepo(srcs[i].RepoURL, srcs[j].RepoURL) && srcs[i].TargetRevision == srcs[j].TargetRevision {
						out.targets = append(out.targets, j)
						break
					}
				}
			}
		}
	}
	var observed []string
	out.applied = len(out.targets) > 0
	for _, i := range out.targets {
		m := match(revs[i])
		if m.ok {
			out.seen = true
		} else {
			out.applied = false
		}
		if m.note != "" {
			out.note = m.note
		}
		observed = append(observed, flux.Short(revs[i]))
	}
	out.observed = strings.Join(observed, ",")
	if len(out.targets) == 1 {
		out.observed = revs[out.targets[0]]
	}
	return out
}

// hydratorRevision reads the source hydrator: the awaited revision is a dry
// commit; the Application syncs the hydrated commit made from it.
func hydratorRevision(in argoInput, match matchFunc) argoRev {
	var out argoRev
	hs := in.hydrator
	if hs == nil {
		out.hydrating = fmt.Sprintf("waiting for %s: the source hydrator has not reported yet", flux.Short(in.want))
		return out
	}
	synced := in.app.Status.Sync.Revision
	out.observed = synced
	for _, op := range []*argocd.HydrateOperation{hs.CurrentOperation, hs.LastSuccessfulOperation} {
		if op == nil || op.DrySHA == "" {
			continue
		}
		m := match(op.DrySHA)
		if m.note != "" {
			out.note = m.note
		}
		if !m.ok {
			continue
		}
		out.seen = true
		if op.Phase == argocd.HydratePhaseFailed && op == hs.CurrentOperation {
			out.hydrationFailed = "hydration failed: " + op.Message
			return out
		}
		if op.HydratedSHA != "" && flux.SameCommit(op.HydratedSHA, synced) {
			out.applied = true
			out.observed = op.DrySHA
			return out
		}
	}
	if cur := hs.CurrentOperation; cur != nil {
		switch {
		case cur.Phase == argocd.HydratePhaseFailed && cur.DrySHA == "" && cur.StartedAt != nil && !cur.StartedAt.Time.Before(in.start.Truncate(time.Second)):
			out.hydrationFailed = "hydration failed: " + cur.Message
		case out.seen:
			out.hydrating = fmt.Sprintf("%s hydrated, waiting for the Application to compare the hydrated commit", flux.Short(in.want))
		default:
			out.hydrating = fmt.Sprintf("waiting for %s: hydrator %s at %s", flux.Short(in.want), orUnknown(cur.Phase), orNone(flux.Short(cur.DrySHA)))
		}
	}
	return out
}

func argoAppliedRevision(app *argocd.Application, rev argoRev, synced bool) string {
	if synced && rev.observed != "" {
		return rev.observed
	}
	if op := app.Status.OperationState; op != nil && op.Phase == argocd.OperationSucceeded {
		for _, r := range op.Revisions() {
			if argocd.IsCommitSHA(r) {
				return r
			}
		}
	}
	return ""
}

func argoMessages(app *argocd.Application) []string {
	s := &app.Status
	var out []string
	for _, c := range s.Conditions {
		out = append(out, fmt.Sprintf("%s: %s", c.Type, c.Message))
	}
	if op := s.OperationState; op != nil && op.Message != "" && (op.Phase != argocd.OperationSucceeded || app.Operation != nil) {
		out = append(out, fmt.Sprintf("operation %s: %s", op.Phase, op.Message))
	}
	if s.Health.Status != "" && s.Health.Status != argocd.HealthHealthy && s.Health.Message != "" {
		out = append(out, fmt.Sprintf("health %s: %s", s.Health.Status, s.Health.Message))
	}
	n := 0
	for _, p := range app.ResourceProblems() {
		if p.Message == "" || n >= maxResourceMessages {
			continue
		}
		out = append(out, p.String())
		n++
	}
	return out
}

func argoResources(app *argocd.Application) []ResourceState {
	var out []ResourceState
	for _, p := range app.ResourceProblems() {
		out = append(out, ResourceState{
			Object:  kube.ObjectRef{Group: p.Group, Version: p.Version, Kind: p.Kind, Namespace: p.Namespace, Name: p.Name},
			Status:  p.Status,
			Message: p.Message,
		})
	}
	return out
}

func anyRevisionMatches(revs []string, match matchFunc) bool {
	for _, r := range revs {
		if argocd.IsCommitSHA(r) && match(r).ok {
			return true
		}
	}
	return false
}

// ---- Flux ----

type fluxInput struct {
	ks *kustomizev1.Kustomization
	hr *helmv2.HelmRelease
	// source is the Kustomization's source, or the source of the
	// HelmRelease's chart; nil when it could not be read.
	source *fluxSource
	// chart is the HelmChart a HelmRelease uses; nil when there is none.
	chart *sourcev1.HelmChart
	// parent is the object applying a HelmRelease; nil when unknown.
	parent *fluxParent
	// token is the reconcile request to see handled ("" to skip the check).
	token string
	want  string
	// recreate is set when objects were deleted for the controller to
	// create again (WaitOptions.Recreated).
	recreate bool
	// wantObjects is how many edited objects must be Current; objects are
	// those objects once fetched (objectsFetched).
	wantObjects    int
	objects        []observedObject
	objectsFetched bool
}

type fluxSource struct {
	ref       flux.ObjectRef
	missing   bool
	suspended bool
	url       string
	branch    string
	revision  string
	ready     flux.Readiness
}

// key identifies the repository and branch a source follows, so that two
// objects reading the same commits are recognised.
func (s *fluxSource) key() string {
	if s == nil {
		return ""
	}
	return sourceKey(s.url, s.branch, s.ref.String())
}

func sourceKey(url, branch, fallback string) string {
	if k, err := RepoKey(url); err == nil {
		return k + "#" + branch
	}
	return fallback
}

type fluxParent struct {
	name    string
	missing bool
	ks      *kustomizev1.Kustomization
	source  *fluxSource // the parent Kustomization's source
	app     *argocd.Application
}

type observedObject struct {
	ref kube.ObjectRef
	obj *unstructured.Unstructured // nil when not found
}

func decideFlux(in fluxInput, st *decideState, match matchFunc) decision {
	if in.hr != nil {
		return decideHelmRelease(in, st, match)
	}
	return decideKustomization(in, st, match)
}

func decideKustomization(in fluxInput, st *decideState, match matchFunc) decision {
	ks := in.ks
	name := fmt.Sprintf("Kustomization %s/%s", ks.Namespace, ks.Name)
	rd := flux.ReadinessOf(ks.Generation, ks.Status.Conditions)
	var d decision
	r := &d.report
	r.AppliedRevision = ks.Status.LastAppliedRevision
	r.SyncStatus = string(rd.Status)
	r.Health = fluxHealth(rd)
	r.Messages = append(r.Messages, rd.String())
	sourceMessages(in.source, r)
	want := flux.Short(in.want)

	if ks.Spec.Suspend {
		return suspendedDecision(d, name, "kustomization", ks.Namespace, ks.Name)
	}
	if in.source != nil && in.source.suspended {
		return suspendedDecision(d, in.source.ref.String(), fluxCLIKind(in.source.ref.GroupVersionKind.Kind), in.source.ref.Namespace, in.source.ref.Name)
	}
	if in.recreate && in.token != "" && ks.Status.LastHandledReconcileAt != in.token {
		// A failure at the revision from before the objects were deleted
		// (the immutable field) says nothing about applying it now.
		d.progress = "waiting for kustomize-controller to handle the reconcile request (it creates the recreated objects)"
		return d
	}
	applied := match(ks.Status.LastAppliedRevision)
	attempted := match(ks.Status.LastAttemptedRevision)
	noteMatch(r, applied, attempted)
	r.Synced = applied.ok
	st.observe(r.Health)

	if rd.Terminal() && attempted.ok {
		return fluxFail(&d, fmt.Sprintf("%s failed at %s: %s", name, want, readinessMessage(rd)))
	}
	if ks.Status.ObservedGeneration != ks.Generation {
		d.progress = fmt.Sprintf("waiting for kustomize-controller to observe generation %d", ks.Generation)
		return d
	}
	if in.token != "" && ks.Status.LastHandledReconcileAt != in.token {
		d.progress = "waiting for kustomize-controller to handle the reconcile request"
		// At a timeout this points at the controller rather than the commit.
		last := "it has handled none"
		if ks.Status.LastHandledReconcileAt != "" {
			last = "the last it handled was made at " + ks.Status.LastHandledReconcileAt
		}
		r.Messages = append(r.Messages, fmt.Sprintf("the Flux kustomize-controller has not handled the reconcile request made at %s (%s); if this lasts, check that it is running", in.token, last))
		return d
	}
	if !applied.ok {
		d.pollOthers = true
		d.progress = fmt.Sprintf("waiting for %s: applied %s, source at %s", want, orNone(shortRev(ks.Status.LastAppliedRevision)), sourceRevision(in.source))
		// kustomize-controller acts on a new source revision at once, unless
		// a dependency holds the Kustomization back (its Ready message says so).
		if in.source != nil && match(in.source.revision).ok && !attempted.ok && rd.Reason != meta.DependencyNotReadyReason {
			r.Messages = append(r.Messages, fmt.Sprintf("the Flux kustomize-controller has not attempted %s, which %s has; if this lasts, check that it is running",
				shortRev(in.source.revision), in.source.ref))
		}
		return d
	}
	if !rd.IsReady() {
		d.progress = fmt.Sprintf("applied %s, %s", want, readinessMessage(rd))
		return d
	}
	return decideObjects(d, in, fmt.Sprintf("applied %s", shortRev(ks.Status.LastAppliedRevision)))
}

func decideHelmRelease(in fluxInput, st *decideState, match matchFunc) decision {
	hr := in.hr
	name := fmt.Sprintf("HelmRelease %s/%s", hr.Namespace, hr.Name)
	rd := flux.ReadinessOf(hr.Generation, hr.Status.Conditions)
	var d decision
	r := &d.report
	r.SyncStatus = string(rd.Status)
	r.Health = fluxHealth(rd)
	r.Messages = append(r.Messages, rd.String())
	sourceMessages(in.source, r)
	want := flux.Short(in.want)

	if hr.Spec.Suspend {
		return suspendedDecision(d, name, "helmrelease", hr.Namespace, hr.Name)
	}
	if in.source != nil && in.source.suspended {
		return suspendedDecision(d, in.source.ref.String(), fluxCLIKind(in.source.ref.GroupVersionKind.Kind), in.source.ref.Namespace, in.source.ref.Name)
	}

	// Which objects can carry the awaited revision: the parent that applies
	// the HelmRelease (its values live there), the HelmChart built from a
	// Git source, and a chart version with the commit in its build metadata
	// (reconcileStrategy Revision).
	type carrier struct {
		name, revision, key string
		m                   revMatch
	}
	var carriers []carrier
	var parentSuspended *fluxParent
	if p := in.parent; p != nil {
		switch {
		case p.missing:
			r.Messages = append(r.Messages, p.name+" not found")
		case p.ks != nil:
			c := carrier{name: p.name, revision: p.ks.Status.LastAppliedRevision, key: p.source.key()}
			c.m = match(c.revision)
			carriers = append(carriers, c)
			if p.ks.Spec.Suspend {
				parentSuspended = p
			}
			if prd := flux.ReadinessOf(p.ks.Generation, p.ks.Status.Conditions); !prd.IsReady() {
				r.Messages = append(r.Messages, p.name+": "+prd.String())
			}
		case p.app != nil:
			revs := p.app.SyncRevisions()
			srcs := p.app.ComparedSources()
			c := carrier{name: p.name}
			for i, rv := range revs {
				if !argocd.IsCommitSHA(rv) {
					continue
				}
				m := match(rv)
				if c.revision == "" || m.ok {
					c.revision, c.m = rv, m
					if i < len(srcs) {
						c.key = sourceKey(srcs[i].RepoURL, srcs[i].TargetRevision, "")
					}
				}
			}
			// The parent's revision counts once it is synced, not merely
			// compared.
			if c.m.ok && (p.app.Status.Sync.Status != argocd.SyncStatusSynced || p.app.OperationPending()) {
				c.m = revMatch{note: p.name + " has not synced it yet"}
			}
			carriers = append(carriers, c)
		}
	}
	chartFromGit := false
	if hc := in.chart; hc != nil && (hc.Spec.SourceRef.Kind == sourcev1.GitRepositoryKind || hc.Spec.SourceRef.Kind == sourcev1.BucketKind) {
		chartFromGit = true
		c := carrier{name: fmt.Sprintf("HelmChart %s/%s", hc.Namespace, hc.Name), revision: hc.Status.ObservedSourceArtifactRevision, key: in.source.key()}
		c.m = match(c.revision)
		carriers = append(carriers, c)
		if hrd := flux.ReadinessOf(hc.Generation, hc.Status.Conditions); !hrd.IsReady() {
			r.Messages = append(r.Messages, c.name+": "+hrd.String())
		}
	}
	if sha, ok := flux.ChartVersionCommit(hr.Status.LastAttemptedRevision); ok {
		c := carrier{name: "chart version " + hr.Status.LastAttemptedRevision, revision: sha}
		c.m = match(sha)
		carriers = append(carriers, c)
	}
	if len(carriers) == 0 {
		d.verdict = verdictUnobservable
		d.reason = fmt.Sprintf("%s: nothing shows which Git revision it runs (its chart does not come from Git, and no Kustomization or Application applying it is known); wait on the object that applies it instead", name)
		return d
	}
	var seen *carrier
	var behind []string
	for i := range carriers {
		if carriers[i].m.note != "" {
			r.Messages = append(r.Messages, carriers[i].m.note)
		}
		if carriers[i].m.ok && seen == nil {
			seen = &carriers[i]
		}
	}
	if seen != nil {
		r.AppliedRevision = seen.revision
		// Everything reading the same branch of the same repository must have
		// moved on too.
		for _, c := range carriers {
			if !c.m.ok && c.key != "" && c.key == seen.key {
				behind = append(behind, fmt.Sprintf("%s at %s", c.name, orNone(shortRev(c.revision))))
			}
		}
	} else if len(carriers) > 0 {
		r.AppliedRevision = carriers[0].revision
	}
	r.Synced = seen != nil && len(behind) == 0
	st.observe(r.Health)

	attemptedCurrent := hr.Status.LastAttemptedGeneration == hr.Generation
	chartReleased := true
	if in.chart != nil && chartFromGit && in.chart.Status.Artifact != nil {
		chartReleased = hr.Status.LastAttemptedRevision == in.chart.Status.Artifact.Revision
	}
	if seen != nil && len(behind) == 0 && rd.Terminal() && attemptedCurrent && chartReleased {
		return fluxFail(&d, fmt.Sprintf("%s failed at %s: %s", name, want, readinessMessage(rd)))
	}
	if seen == nil || len(behind) > 0 {
		if parentSuspended != nil {
			return suspendedDecision(d, parentSuspended.name, "kustomization", parentSuspended.ks.Namespace, parentSuspended.ks.Name)
		}
		d.pollOthers = true
		var at []string
		for _, c := range carriers {
			at = append(at, fmt.Sprintf("%s at %s", c.name, orNone(shortRev(c.revision))))
		}
		if len(behind) > 0 {
			at = behind
		}
		d.progress = fmt.Sprintf("waiting for %s: %s", want, strings.Join(at, ", "))
		return d
	}
	if hr.Status.ObservedGeneration != hr.Generation {
		d.pollOthers = true
		d.progress = fmt.Sprintf("waiting for helm-controller to observe generation %d", hr.Generation)
		return d
	}
	if in.token != "" && hr.Status.LastHandledReconcileAt != in.token {
		d.progress = "waiting for helm-controller to handle the reconcile request"
		return d
	}
	if !chartReleased {
		d.pollOthers = true
		d.progress = fmt.Sprintf("waiting for helm-controller to release chart %s", in.chart.Status.Artifact.Revision)
		return d
	}
	if !rd.IsReady() {
		d.progress = fmt.Sprintf("%s at %s, %s", seen.name, want, readinessMessage(rd))
		return d
	}
	return decideObjects(d, in, "released "+orNone(hr.Status.LastAttemptedRevision))
}

// decideObjects finishes a Flux decision: the owner applied the revision and
// is Ready; the edited objects must be Current by kstatus (Flux checks
// workload health only with spec.wait or health checks).
func decideObjects(d decision, in fluxInput, prefix string) decision {
	r := &d.report
	if in.wantObjects == 0 {
		d.verdict = verdictDone
		d.progress = prefix + ", ready"
		r.Health = HealthHealthy
		return d
	}
	if !in.objectsFetched {
		d.needObjects = true
		d.progress = prefix + ", checking the edited objects"
		return d
	}
	d.pollOthers = true
	var waiting []string
	for _, o := range in.objects {
		if o.obj == nil {
			r.Resources = append(r.Resources, ResourceState{Object: o.ref, Status: string(status.NotFoundStatus)})
			waiting = append(waiting, o.ref.String()+" not found")
			continue
		}
		res, err := status.Compute(o.obj)
		if err != nil {
			r.Resources = append(r.Resources, ResourceState{Object: o.ref, Status: string(status.UnknownStatus), Message: err.Error()})
			waiting = append(waiting, fmt.Sprintf("%s: %v", o.ref, err))
			continue
		}
		if res.Status == status.CurrentStatus {
			continue
		}
		msg := res.Message
		if why := objectConditionMessages(o.obj); why != "" {
			msg += " (" + why + ")"
		}
		r.Resources = append(r.Resources, ResourceState{Object: o.ref, Status: string(res.Status), Message: msg})
		if res.Status == status.FailedStatus {
			return fluxFail(&d, fmt.Sprintf("%s: %s", o.ref, msg))
		}
		waiting = append(waiting, fmt.Sprintf("%s %s: %s", o.ref, res.Status, msg))
	}
	if len(waiting) > 0 {
		for i, w := range waiting {
			if i >= maxResourceMessages {
				break
			}
			r.Messages = append(r.Messages, w)
		}
		r.Health = HealthProgressing
		d.progress = prefix + ", waiting for " + waiting[0]
		if len(waiting) > 1 {
			d.progress += fmt.Sprintf(" (and %d more)", len(waiting)-1)
		}
		return d
	}
	d.verdict = verdictDone
	d.pollOthers = false
	r.Health = HealthHealthy
	d.progress = prefix + ", ready"
	return d
}

// objectConditionMessages returns the object's own conditions that are not
// True, in its controller's words: kstatus's summary ("Progress deadline
// exceeded") says what, these say why ("ReplicaSet "web-5d8c7b9f4" has timed
// out progressing.").
func objectConditionMessages(u *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var out []string
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		st, _ := m["status"].(string)
		msg, _ := m["message"].(string)
		if st == string(metav1.ConditionTrue) || msg == "" {
			continue
		}
		typ, _ := m["type"].(string)
		reason, _ := m["reason"].(string)
		s := typ + "=" + st
		if reason != "" {
			s += " (" + reason + ")"
		}
		out = append(out, s+": "+msg)
	}
	return strings.Join(out, "; ")
}

func fluxFail(d *decision, msg string) decision {
	d.verdict = verdictFailed
	d.progress = msg
	d.report.Health = HealthDegraded
	d.report.Messages = prependUnique(d.report.Messages, msg)
	return *d
}

func suspendedDecision(d decision, name, cliKind, ns, n string) decision {
	d.verdict = verdictSuspended
	d.reason = suspendedReason(name, cliKind, ns, n)
	d.progress = name + " is suspended"
	d.report.Messages = prependUnique(d.report.Messages, d.progress)
	return d
}

func fluxHealth(rd flux.Readiness) string {
	switch {
	case rd.IsReady():
		return HealthHealthy
	case rd.Terminal():
		return HealthDegraded
	case rd.Status == metav1.ConditionUnknown && rd.Reason == "":
		return HealthUnknown
	}
	return HealthProgressing
}

func readinessMessage(rd flux.Readiness) string {
	if rd.Stalled && rd.StalledMessage != "" {
		return rd.StalledMessage
	}
	if rd.Message != "" {
		return rd.Message
	}
	return rd.String()
}

func sourceMessages(src *fluxSource, r *SyncReport) {
	switch {
	case src == nil:
	case src.missing:
		r.Messages = append(r.Messages, src.ref.String()+" not found")
	case !src.ready.IsReady():
		r.Messages = append(r.Messages, src.ref.String()+": "+src.ready.String())
	}
}

func sourceRevision(src *fluxSource) string {
	if src == nil || src.revision == "" {
		return "unknown"
	}
	return shortRev(src.revision)
}

func noteMatch(r *SyncReport, ms ...revMatch) {
	for _, m := range ms {
		if m.note != "" {
			r.Messages = append(r.Messages, m.note)
			return
		}
	}
}

// shortRev abbreviates the digest of a revision in any form, keeping the
// ref: "main@sha1:8a2c64b".
func shortRev(s string) string {
	rev, err := flux.ParseRevision(s)
	if err != nil {
		return s
	}
	short := rev.Short()
	switch {
	case rev.Ref != "" && rev.Algorithm != "":
		return rev.Ref + "@" + rev.Algorithm + ":" + short
	case rev.Algorithm != "" && strings.Contains(s, ":"):
		return rev.Algorithm + ":" + short
	}
	return short
}

func orUnknown(s string) string {
	if s == "" {
		return HealthUnknown
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func prependUnique(msgs []string, m string) []string {
	out := []string{m}
	for _, x := range msgs {
		if x != m {
			out = append(out, x)
		}
	}
	return out
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// permanentRejections are API server answers that no retry of the same
// manifests gets past: validation, admission and authorization refusals.
var permanentRejections = []string{"is invalid", "Invalid value", "admission webhook", "denied the request", "is forbidden", "field is immutable"}

// retryingRejected reports a sync operation that is still Running, but only
// because Argo CD retries an attempt at our revision that the API server
// rejected for good (e.g. a negative replica count). Waiting for the retries
// to run out would end in a timeout; the controller's message is the answer.
// Attempts that failed for other reasons fail the wait after three retries.
//
// Failures of recreated objects are left out: the retry after their delete
// creates them.
func retryingRejected(op *argocd.OperationState, match matchFunc, recreated []kube.ObjectRef) (string, bool) {
	if op == nil || op.Phase != argocd.OperationRunning || op.RetryCount < 1 || op.SyncResult == nil ||
		!anyRevisionMatches(op.Revisions(), match) {
		return "", false
	}
	for _, r := range op.SyncResult.Resources {
		if r.Status != "SyncFailed" {
			continue
		}
		if slices.ContainsFunc(recreated, kube.ObjectRef{Group: r.Group, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}.SameObject) {
			continue
		}
		for _, p := range permanentRejections {
			if strings.Contains(r.Message, p) {
				return fmt.Sprintf("%s %s/%s: %s", r.Kind, r.Namespace, r.Name, r.Message), true
			}
		}
		if op.RetryCount >= 3 {
			return fmt.Sprintf("%s %s/%s: %s", r.Kind, r.Namespace, r.Name, r.Message), true
		}
	}
	return "", false
}

func refList(refs []kube.ObjectRef) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}
