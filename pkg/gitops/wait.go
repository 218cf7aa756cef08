package gitops

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops/flux"
	"github.com/dot-ai/dot/pkg/kube"
)

// DefaultPollInterval is how often Wait polls while it has no watch, or
// while it waits on objects the watch does not cover.
const DefaultPollInterval = time.Second

// WaitOptions tune Trigger and Wait.
type WaitOptions struct {
	// PollInterval is the polling period used when the watch is down and for
	// objects it does not cover (default DefaultPollInterval).
	PollInterval time.Duration
	// Sync, for Argo CD Applications without automated sync, starts a sync
	// operation (never while another operation is pending or running: then
	// it is started once that one is over).
	Sync bool
	// NoTrigger skips the refresh / reconcile request; Wait only watches.
	NoTrigger bool
	// Token is the value a separate Trigger call returned; with NoTrigger,
	// Wait then requires Flux to have handled it (lastHandledReconcileAt).
	Token string
	// SourceIndexes are, for multi-source Argo CD Applications, the
	// spec.sources indexes the revision was pushed to (Source.Index). Without
	// them Wait takes every Git source whose compared revision is the awaited
	// one, plus the Git sources following the same branch of the same
	// repository; a sync it starts then pins no revision.
	SourceIndexes []int
	// Objects are the edited objects. With Flux they must be Current by
	// kstatus: Flux checks workload health only with spec.wait or health
	// checks. Failed fails the wait at once. Argo CD's own health covers them
	// (its per-resource state is in the report).
	Objects []kube.ObjectRef
	// Recreated are objects delivery deleted so that the controller creates
	// them again from the revision (Change.Recreate). What the controller
	// reported about the revision before they were gone is not final: Argo
	// CD's failed attempts at it (the immutable field) neither fail the
	// wait nor stop it from starting one sync of its own, even with
	// automated sync on (automated sync does not retry a revision it
	// failed at); Flux's failure counts only once it handled the new
	// reconcile request.
	Recreated []kube.ObjectRef
	// IsAncestor lets a descendant of the awaited commit count as applied
	// (another push may land after ours). nil means the exact commit only.
	IsAncestor func(ctx context.Context, ancestor, descendant string) (bool, error)
	// OnEvent receives progress events; it must not block.
	OnEvent EventFunc
	// Now is the clock (time.Now by default).
	Now func() time.Time
}

func (o WaitOptions) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o WaitOptions) pollInterval() time.Duration {
	if o.PollInterval > 0 {
		return o.PollInterval
	}
	return DefaultPollInterval
}

type emitFunc func(step, msg string)

func newEmitter(owner *Owner, opts WaitOptions) emitFunc {
	return func(step, msg string) {
		if opts.OnEvent != nil {
			opts.OnEvent(Event{Time: opts.now(), Owner: owner.String(), Step: step, Message: msg})
		}
	}
}

// Wait waits until the owner's controller has applied revision (a commit
// SHA, abbreviated or in Flux's "main@sha1:<sha>" form) or a descendant of it
// (with opts.IsAncestor), and the result is healthy. It triggers the
// controller first unless opts.NoTrigger. The deadline is ctx's.
//
// Done means, for Argo CD: status.sync.revision(s) of the Git sources the
// revision belongs to match, sync status Synced, no operation pending or
// running and the last one Succeeded, and health Healthy, trusted only when
// status.reconciledAt is not before operationState.finishedAt (otherwise a
// refresh is requested again). For Flux: not suspended, observedGeneration
// == generation, Ready=True, the reconcile request handled, the applied
// revision matching, and opts.Objects Current by kstatus.
//
// Wait returns early with a *WaitError (Timeout false) when the controller
// reports a failure at the revision: ComparisonError, InvalidSpecError or
// SyncError conditions, a failed sync operation, a transition to Degraded, a
// Flux Ready=False with a terminal reason, or an edited object Failed. A
// suspended Flux object fails with an error wrapping ErrSuspended. When ctx's
// deadline passes it returns a *WaitError with Timeout true. In every case
// the SyncReport holds the last observed state with the controller's
// messages.
//
// Wait reads the owner, then watches it (one object, by field selector) and
// reads it again on every change; when the watch fails it polls every
// PollInterval and re-establishes the watch. Transient API errors (the API
// server restarting, 5xx, timeouts) are recorded and retried until ctx ends.
func (c *Cluster) Wait(ctx context.Context, owner *Owner, revision string, opts WaitOptions) (SyncReport, error) {
	if owner == nil {
		return SyncReport{}, errors.New("wait: no owner")
	}
	want, ok := flux.CommitOf(revision)
	if !ok {
		return SyncReport{Owner: owner.String(), Revision: revision, Health: HealthUnknown},
			fmt.Errorf("wait for %s: revision %q is not a commit SHA (refs are never compared by name)", owner, revision)
	}
	w := &waiter{
		c:        c,
		owner:    owner,
		opts:     opts,
		revision: revision,
		want:     want,
		start:    opts.now(),
		emit:     newEmitter(owner, opts),
		ancestry: map[string]revMatch{},
	}
	return w.run(ctx)
}

// waiter is the state of one Wait.
type waiter struct {
	c        *Cluster
	owner    *Owner
	opts     WaitOptions
	revision string
	want     string
	start    time.Time
	emit     emitFunc

	token       string
	syncStarted bool

	state    decideState
	last     *decision
	lastErr  error
	progress string
	// missingSince is when the owner started answering NotFound.
	missingSince time.Time
	ancestry     map[string]revMatch

	watch watchState
}

// missingGrace is how long a NotFound owner (or kind) is believed to be an
// artefact of an API server restart: ten polls, at least a second.
func (w *waiter) missingGrace() time.Duration {
	g := 10 * w.opts.pollInterval()
	if g < time.Second {
		g = time.Second
	}
	return g
}

func (w *waiter) run(ctx context.Context) (SyncReport, error) {
	defer w.watch.stop()
	if w.opts.NoTrigger {
		w.token = w.opts.Token
	} else if err := w.triggerWithRetry(ctx); err != nil {
		return w.report(), err
	}
	for {
		// The watch starts before the read, so no change between the two is
		// missed; it starts at the current state (no resourceVersion: an old
		// one may be compacted away after a long outage), whose initial event
		// costs one more read.
		if !w.watch.up() {
			if err := w.watch.start(ctx, w.watchClient(), w.owner.Ref().GroupVersionKind(), w.ownerKey()); err != nil {
				w.c.log().Debug("watch failed, polling", "owner", w.owner.String(), "err", err)
			}
		}
		d, err := w.evaluate(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return w.ctxDone(ctx)
		case err != nil:
			if fatal := w.noteError(err); fatal != nil {
				return w.report(), fatal
			}
		default:
			w.lastErr = nil
			w.missingSince = time.Time{}
			w.last = &d
			if d.progress != w.progress {
				w.progress = d.progress
				step := "wait"
				switch d.verdict {
				case verdictDone:
					step = "done"
				case verdictFailed, verdictSuspended, verdictUnobservable:
					step = "failed"
				}
				w.emit(step, d.progress)
			}
			switch d.verdict {
			case verdictDone:
				return w.report(), nil
			case verdictFailed:
				return w.report(), &WaitError{Owner: w.owner.String(), Revision: w.revision, Waited: w.elapsed(), Last: w.lastMessages()}
			case verdictSuspended:
				return w.report(), fmt.Errorf("wait for %s: %w: %s", w.owner, ErrSuspended, d.reason)
			case verdictUnobservable:
				return w.report(), fmt.Errorf("wait for %s: %s", w.owner, d.reason)
			}
			if err := w.act(ctx, d); err != nil {
				if ctx.Err() != nil {
					return w.ctxDone(ctx)
				}
				if fatal := w.noteError(err); fatal != nil {
					return w.report(), fatal
				}
			}
		}
		poll := !w.watch.up() || (w.last != nil && w.last.pollOthers) || err != nil
		if err := w.sleep(ctx, poll); err != nil {
			return w.ctxDone(ctx)
		}
	}
}

// triggerWithRetry triggers the controller, retrying transient errors.
func (w *waiter) triggerWithRetry(ctx context.Context) error {
	for {
		res, err := w.c.trigger(ctx, w.owner, w.want, w.opts, w.emit)
		if err == nil {
			w.token = res.token
			w.syncStarted = res.syncStarted
			return nil
		}
		if errors.Is(err, ErrSuspended) {
			return fmt.Errorf("wait for %s: %w", w.owner, err)
		}
		if ctx.Err() != nil {
			_, cerr := w.ctxDone(ctx)
			return cerr
		}
		if fatal := w.noteError(err); fatal != nil {
			return fatal
		}
		t := time.NewTimer(w.opts.pollInterval())
		select {
		case <-ctx.Done():
			t.Stop()
			_, cerr := w.ctxDone(ctx)
			return cerr
		case <-t.C:
		}
	}
}

// noteError records a transient error and returns nil, or returns the error
// to end the wait with.
func (w *waiter) noteError(err error) error {
	now := w.opts.now()
	switch {
	case isTransient(err):
	case isMissing(err):
		if w.missingSince.IsZero() {
			w.missingSince = now
		}
		if now.Sub(w.missingSince) > w.missingGrace() {
			return fmt.Errorf("wait for %s: %w", w.owner, err)
		}
	default:
		return fmt.Errorf("wait for %s: %w", w.owner, err)
	}
	if w.lastErr == nil || w.lastErr.Error() != err.Error() {
		w.emit("retry", fmt.Sprintf("API error, retrying: %v", err))
	}
	w.lastErr = err
	w.c.log().Debug("transient error while waiting", "owner", w.owner.String(), "err", err)
	return nil
}

// act carries out what a pending decision asks for.
func (w *waiter) act(ctx context.Context, d decision) error {
	// The decision asks for a refresh only while no request is pending (the
	// controller removes the annotation when it has compared), so requests
	// are paced by the controller itself.
	if d.refresh {
		if err := w.c.requestRefresh(ctx, w.c.appKey(w.owner)); err != nil {
			return err
		}
		w.emit("trigger", "refresh requested (health not assessed since the last operation finished)")
	}
	if d.startSync && (w.opts.Sync || d.forceSync) && !w.syncStarted {
		app, _, err := w.c.getApplication(ctx, w.c.appKey(w.owner))
		if err != nil {
			return err
		}
		started, why, err := w.c.startSync(ctx, app, w.want, w.opts.SourceIndexes, d.forceSync)
		if err != nil {
			return err
		}
		if started {
			w.syncStarted = true
			msg := "sync started" + syncTarget(w.want)
			if d.forceSync {
				msg += " (the sync at it failed before the objects were recreated)"
			}
			w.emit("trigger", msg)
		} else {
			w.c.log().Debug("sync not started", "owner", w.owner.String(), "why", why)
		}
	}
	return nil
}

// match compares an observed revision with the awaited one, asking
// IsAncestor (once per observed commit) when they differ.
func (w *waiter) match(ctx context.Context) matchFunc {
	return func(observed string) revMatch {
		got, ok := flux.CommitOf(observed)
		if !ok {
			return revMatch{}
		}
		if flux.SameCommit(w.want, got) {
			return revMatch{ok: true}
		}
		if w.opts.IsAncestor == nil {
			return revMatch{}
		}
		if m, ok := w.ancestry[got]; ok {
			return m
		}
		anc, err := w.opts.IsAncestor(ctx, w.want, got)
		if err != nil {
			// Not cached: the commit may simply not be fetched yet.
			return revMatch{note: fmt.Sprintf("cannot tell whether %s descends from %s: %v", flux.Short(got), flux.Short(w.want), err)}
		}
		m := revMatch{ok: anc, descendant: anc}
		w.ancestry[got] = m
		return m
	}
}

func (w *waiter) elapsed() time.Duration { return w.opts.now().Sub(w.start) }

// report is the last observed state, or an empty one naming the last error.
func (w *waiter) report() SyncReport {
	var r SyncReport
	if w.last != nil {
		r = w.last.report
	} else {
		r.Health = HealthUnknown
	}
	r.Owner = w.owner.String()
	r.Revision = w.revision
	r.Duration = w.elapsed()
	if w.lastErr != nil {
		r.Messages = append(append([]string(nil), r.Messages...), "last API error: "+w.lastErr.Error())
	}
	return r
}

// lastMessages is what a WaitError shows: what was being waited for, then
// the controller's messages.
func (w *waiter) lastMessages() []string {
	var out []string
	if w.progress != "" {
		out = append(out, w.progress)
	}
	for _, m := range w.report().Messages {
		if m != w.progress {
			out = append(out, m)
		}
	}
	return out
}

func (w *waiter) ctxDone(ctx context.Context) (SyncReport, error) {
	r := w.report()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		w.emit("failed", "timed out")
		return r, &WaitError{Owner: w.owner.String(), Revision: w.revision, Timeout: true, Waited: w.elapsed(), Last: w.lastMessages()}
	}
	return r, fmt.Errorf("wait for %s: %w", w.owner, ctx.Err())
}

func (w *waiter) ownerKey() client.ObjectKey {
	if w.owner.Kind == OwnerArgoCDApplication {
		return w.c.appKey(w.owner)
	}
	return client.ObjectKey{Namespace: w.owner.Namespace, Name: w.owner.Name}
}

func (w *waiter) watchClient() client.WithWatch {
	if w.owner.Kind == OwnerArgoCDApplication {
		return w.c.argo()
	}
	return w.c.Client
}

// sleep returns on a change of the owner, after PollInterval when poll is
// set, or with ctx's error.
func (w *waiter) sleep(ctx context.Context, poll bool) error {
	var tick <-chan time.Time
	if poll {
		t := time.NewTimer(w.opts.pollInterval())
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
			return nil
		case ev, ok := <-w.watch.events():
			if !ok {
				w.watch.stop()
				w.emit("watch", "watch closed, polling until it is re-established")
				return nil
			}
			switch ev.Type {
			case watch.Error:
				w.watch.stop()
				w.c.log().Debug("watch error, polling", "owner", w.owner.String(), "status", ev.Object)
				return nil
			case watch.Bookmark:
				continue
			}
			if !w.watch.relevant(ev) {
				continue
			}
			w.watch.drain()
			return nil
		}
	}
}

// watchState is a watch on the owner alone.
type watchState struct {
	w    watch.Interface
	name string
}

func (s *watchState) up() bool { return s.w != nil }

func (s *watchState) events() <-chan watch.Event {
	if s.w == nil {
		return nil
	}
	return s.w.ResultChan()
}

func (s *watchState) stop() {
	if s.w != nil {
		s.w.Stop()
		s.w = nil
	}
}

// start watches the object. Only metadata is watched: every event leads to
// a full read anyway.
func (s *watchState) start(ctx context.Context, c client.WithWatch, gvk schema.GroupVersionKind, key client.ObjectKey) error {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	opts := &client.ListOptions{
		Namespace:     key.Namespace,
		FieldSelector: fields.OneTermEqualSelector("metadata.name", key.Name),
		Raw:           &metav1.ListOptions{AllowWatchBookmarks: true},
	}
	wi, err := c.Watch(ctx, list, opts)
	if err != nil {
		return err
	}
	s.w, s.name = wi, key.Name
	return nil
}

// relevant filters events of other objects (fake clients and some proxies
// ignore the field selector).
func (s *watchState) relevant(ev watch.Event) bool {
	if o, ok := ev.Object.(client.Object); ok && o.GetName() != "" {
		return o.GetName() == s.name
	}
	return true
}

// drain swallows events already queued: one read covers them all.
func (s *watchState) drain() {
	for s.w != nil {
		select {
		case ev, ok := <-s.w.ResultChan():
			if !ok {
				s.stop()
				return
			}
			if ev.Type == watch.Error {
				s.stop()
				return
			}
		default:
			return
		}
	}
}
