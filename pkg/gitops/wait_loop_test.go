package gitops

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
	"github.com/dot-ai/dot/pkg/kube"
)

// The tests here run Wait against controller-runtime's fake client while a
// goroutine plays the controller, writing status the way Argo CD or Flux
// would.

func fakeClient(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) (client.WithWatch, client.WithWatch) {
	t.Helper()
	for _, o := range objs {
		o.SetResourceVersion("")
	}
	base := fake.NewClientBuilder().
		WithScheme(kube.NewScheme()).
		WithStatusSubresource(&kustomizev1.Kustomization{}, &sourcev1.GitRepository{}, &appsv1.Deployment{}).
		WithObjects(objs...).
		Build()
	if funcs == nil {
		return base, base
	}
	return interceptor.NewClient(base, *funcs), base
}

// events collects progress events.
type events struct {
	mu      sync.Mutex
	all     []Event
	changed chan struct{}
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
}

// waitFor blocks until an event message contains sub.
func (e *events) waitFor(ctx context.Context, sub string) bool {
	for {
		e.mu.Lock()
		for _, ev := range e.all {
			if strings.Contains(ev.Message, sub) {
				e.mu.Unlock()
				return true
			}
		}
		if e.changed == nil {
			e.changed = make(chan struct{})
		}
		ch := e.changed
		e.mu.Unlock()
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

func (e *events) count(step, sub string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if (step == "" || ev.Step == step) && strings.Contains(ev.Message, sub) {
			n++
		}
	}
	return n
}

func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.all {
		fmt.Fprintf(&b, "\n  %s: %s", ev.Step, ev.Message)
	}
	return b.String()
}

// until polls cond every few milliseconds until it holds or ctx ends.
func until(ctx context.Context, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(3 * time.Millisecond):
		}
	}
}

// runController runs a scripted controller in the background and reports
// its error at the end of the test.
func runController(t *testing.T, script func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- script(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("controller: %v", err)
		}
	})
}

func argoOwner() *Owner {
	return &Owner{Kind: OwnerArgoCDApplication, Namespace: "argocd", Name: "web"}
}

func ksOwner() *Owner {
	return &Owner{Kind: OwnerFluxKustomization, Namespace: "flux-system", Name: "apps"}
}

func getApp(ctx context.Context, c client.Client) (*argocd.Application, error) {
	app := &argocd.Application{}
	err := c.Get(ctx, client.ObjectKey{Namespace: "argocd", Name: "web"}, app)
	return app, err
}

// serverTime is the controller's clock in the scripted tests: status
// timestamps come from it, independent of the test's wall clock.
func serverTime(sec int) *metav1.Time {
	t := metav1.NewTime(time.Now().Add(time.Duration(sec) * time.Second).Truncate(time.Second))
	return &t
}

// TestWaitArgoCDWatch plays an auto-sync: refresh, operation running, sync
// done but health assessed before it finished (not trusted: Wait must ask for
// another refresh), then healthy. PollInterval is an hour: only the watch can
// drive the wait.
func TestWaitArgoCDWatch(t *testing.T) {
	app, _ := loadApp(t, "argo/old-revision.yaml")
	var watches atomic.Int32
	cl, base := fakeClient(t, &interceptor.Funcs{
		Watch: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
			watches.Add(1)
			return c.Watch(ctx, list, opts...)
		},
	}, app)
	var refreshes atomic.Int32
	var ev events
	runController(t, func(ctx context.Context) error {
		takeRefresh := func() bool {
			a, err := getApp(ctx, base)
			if err != nil || a.Annotations[argocd.AnnotationRefresh] == "" {
				return false
			}
			refreshes.Add(1)
			return true
		}
		if !until(ctx, takeRefresh) {
			return ctx.Err()
		}
		// Refresh: our commit is OutOfSync, auto-sync starts an operation.
		a, err := getApp(ctx, base)
		if err != nil {
			return err
		}
		delete(a.Annotations, argocd.AnnotationRefresh)
		a.Status.Sync = argocd.SyncStatus{Status: argocd.SyncStatusOutOfSync, Revision: shaOurs}
		a.Status.ReconciledAt = serverTime(0)
		a.Operation = &argocd.Operation{Sync: &argocd.SyncOperation{Revision: shaOurs}, InitiatedBy: argocd.OperationInitiator{Automated: true}}
		a.Status.OperationState = &argocd.OperationState{
			Operation: *a.Operation, Phase: argocd.OperationRunning, Message: "waiting for healthy state of apps/Deployment/web",
			StartedAt: *serverTime(0),
		}
		a.Status.Health = argocd.HealthStatus{Status: argocd.HealthProgressing}
		if err := base.Update(ctx, a); err != nil {
			return err
		}
		if !ev.waitFor(ctx, "sync operation Running") {
			return ctx.Err()
		}
		// Operation done at +2s; the last comparison ran at +1s.
		a, err = getApp(ctx, base)
		if err != nil {
			return err
		}
		a.Operation = nil
		a.Status.Sync.Status = argocd.SyncStatusSynced
		a.Status.OperationState.Phase = argocd.OperationSucceeded
		a.Status.OperationState.Message = "successfully synced (all tasks run)"
		a.Status.OperationState.FinishedAt = serverTime(2)
		a.Status.OperationState.SyncResult = &argocd.SyncOperationResult{Revision: shaOurs}
		a.Status.ReconciledAt = serverTime(1)
		a.Status.Health = argocd.HealthStatus{Status: argocd.HealthHealthy}
		if err := base.Update(ctx, a); err != nil {
			return err
		}
		// Wait must ask for a refresh again; the comparison then trusts health.
		if !until(ctx, takeRefresh) {
			return ctx.Err()
		}
		a, err = getApp(ctx, base)
		if err != nil {
			return err
		}
		delete(a.Annotations, argocd.AnnotationRefresh)
		a.Status.ReconciledAt = serverTime(3)
		return base.Update(ctx, a)
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &Cluster{Client: cl}
	start := time.Now()
	rep, err := c.Wait(ctx, argoOwner(), shaOurs, WaitOptions{PollInterval: time.Hour, OnEvent: ev.add})
	if err != nil {
		t.Fatalf("Wait: %v; events:%s", err, ev.String())
	}
	t.Logf("waited %v with %d watch(es); events:%s", time.Since(start).Round(time.Millisecond), watches.Load(), ev.String())
	if rep.AppliedRevision != shaOurs || !rep.Synced || rep.Health != HealthHealthy || rep.Owner != "Application argocd/web" || rep.Revision != shaOurs {
		t.Errorf("report = %+v", rep)
	}
	if n := refreshes.Load(); n != 2 {
		t.Errorf("refreshes seen by the controller = %d, want 2 (trigger, then after the untrusted health)", n)
	}
	for _, want := range []string{"refresh requested", "sync operation Running", "waiting for health to be assessed after the sync finished", "synced at 3f78685, healthy"} {
		if ev.count("", want) == 0 {
			t.Errorf("no event %q", want)
		}
	}
	if ev.count("done", "healthy") != 1 {
		t.Errorf("want one done event")
	}
	if watches.Load() == 0 {
		t.Error("Wait did not watch")
	}
}

// TestWaitFluxKustomization plays a Flux reconciliation with the API server
// restarting in the middle (connection refused, watch broken) and an edited
// Deployment rolling out after the Kustomization is Ready.
func TestWaitFluxKustomization(t *testing.T) {
	ks := loadTyped(t, "flux/ks-behind.yaml", &kustomizev1.Kustomization{})
	repo := loadTyped(t, "flux/gitrepository.yaml", &sourcev1.GitRepository{})
	repo.Status.Artifact.Revision = "main@sha1:" + shaBefore
	repo.Status.LastHandledReconcileAt = ""
	deploy := loadTyped(t, "flux/deployment-rolling.yaml", &appsv1.Deployment{})

	var outage atomic.Bool
	var refused, watchRefused, watches atomic.Int32
	var watchMu sync.Mutex
	var open []watch.Interface
	refusedErr := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	// startOutage makes the API server go away: open watches end, new
	// requests are refused.
	startOutage := func() {
		outage.Store(true)
		watchMu.Lock()
		defer watchMu.Unlock()
		for _, w := range open {
			w.Stop()
		}
		open = nil
	}
	cl, base := fakeClient(t, &interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if outage.Load() {
				refused.Add(1)
				return fmt.Errorf("Get \"https://127.0.0.1:6443/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps\": %w", refusedErr)
			}
			return c.Get(ctx, key, obj, opts...)
		},
		Watch: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
			if outage.Load() {
				watchRefused.Add(1)
				return nil, refusedErr
			}
			w, err := c.Watch(ctx, list, opts...)
			if err == nil {
				watches.Add(1)
				watchMu.Lock()
				open = append(open, w)
				watchMu.Unlock()
			}
			return w, err
		},
	}, ks, repo, deploy)

	var token string
	runController(t, func(ctx context.Context) error {
		key := client.ObjectKey{Namespace: "flux-system", Name: "flux-system"}
		// source-controller: fetch on request.
		r := &sourcev1.GitRepository{}
		if !until(ctx, func() bool {
			return base.Get(ctx, key, r) == nil && r.Annotations[meta.ReconcileRequestAnnotation] != ""
		}) {
			return ctx.Err()
		}
		r.Status.Artifact.Revision = "main@sha1:" + shaOurs
		r.Status.LastHandledReconcileAt = r.Annotations[meta.ReconcileRequestAnnotation]
		if err := base.Status().Update(ctx, r); err != nil {
			return err
		}
		// The API server goes away for a while.
		time.Sleep(30 * time.Millisecond)
		startOutage()
		time.Sleep(80 * time.Millisecond)
		outage.Store(false)
		// kustomize-controller: apply our commit.
		k := &kustomizev1.Kustomization{}
		kkey := client.ObjectKey{Namespace: "flux-system", Name: "apps"}
		if !until(ctx, func() bool {
			return base.Get(ctx, kkey, k) == nil && k.Annotations[meta.ReconcileRequestAnnotation] != ""
		}) {
			return ctx.Err()
		}
		token = k.Annotations[meta.ReconcileRequestAnnotation]
		k.Status.LastHandledReconcileAt = token
		k.Status.LastAppliedRevision = "main@sha1:" + shaOurs
		k.Status.LastAttemptedRevision = k.Status.LastAppliedRevision
		k.Status.Conditions = []metav1.Condition{{Type: meta.ReadyCondition, Status: metav1.ConditionTrue, Reason: meta.ReconciliationSucceededReason,
			Message: "Applied revision: " + k.Status.LastAppliedRevision, ObservedGeneration: k.Generation, LastTransitionTime: *serverTime(0)}}
		if err := base.Status().Update(ctx, k); err != nil {
			return err
		}
		time.Sleep(40 * time.Millisecond)
		// The rollout finishes.
		d := &appsv1.Deployment{}
		if err := base.Get(ctx, client.ObjectKey{Namespace: "prod", Name: "web"}, d); err != nil {
			return err
		}
		d.Status.UpdatedReplicas, d.Status.Replicas, d.Status.UnavailableReplicas = 3, 3, 0
		d.Status.ObservedGeneration = d.Generation
		return base.Status().Update(ctx, d)
	})

	var ev events
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &Cluster{Client: cl}
	rep, err := c.Wait(ctx, ksOwner(), "main@sha1:"+shaOurs, WaitOptions{
		PollInterval: 10 * time.Millisecond,
		OnEvent:      ev.add,
		Objects:      []kube.ObjectRef{{Group: "apps", Kind: "Deployment", Namespace: "prod", Name: "web"}},
	})
	if err != nil {
		t.Fatalf("Wait: %v; events:%s", err, ev.String())
	}
	t.Logf("watches %d, refused gets %d, refused watches %d; events:%s", watches.Load(), refused.Load(), watchRefused.Load(), ev.String())
	if rep.AppliedRevision != "main@sha1:"+shaOurs || !rep.Synced || rep.Health != HealthHealthy || len(rep.Resources) != 0 {
		t.Errorf("report = %+v", rep)
	}
	if refused.Load() == 0 {
		t.Error("the outage was not exercised")
	}
	if watches.Load() < 2 {
		t.Errorf("watch established %d times, want it re-established after the outage", watches.Load())
	}
	if ev.count("watch", "watch closed") == 0 {
		t.Error("no event for the lost watch")
	}
	if ev.count("retry", "connection refused") == 0 {
		t.Error("no retry event for the outage")
	}
	for _, want := range []string{"reconcile requested: GitRepository flux-system/flux-system, Kustomization flux-system/apps", "InProgress", "ready"} {
		if ev.count("", want) == 0 {
			t.Errorf("no event %q", want)
		}
	}
	if token == "" {
		t.Error("the Kustomization never got a reconcile request")
	}
}

// TestWaitTimeout: nothing happens; the deadline gives a WaitError with the
// last observed state in the controller's words.
func TestWaitTimeout(t *testing.T) {
	ks := loadTyped(t, "flux/ks-behind.yaml", &kustomizev1.Kustomization{})
	repo := loadTyped(t, "flux/gitrepository.yaml", &sourcev1.GitRepository{})
	repo.Status.Artifact.Revision = "main@sha1:" + shaBefore
	repo.Status.Conditions[0].Status = metav1.ConditionFalse
	repo.Status.Conditions[0].Reason = "GitOperationFailed"
	repo.Status.Conditions[0].Message = "failed to checkout and determine revision: unable to clone 'ssh://git@git.example.com/acme/deploy': knownhosts: key mismatch"
	cl, _ := fakeClient(t, nil, ks, repo)

	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	c := &Cluster{Client: cl}
	rep, err := c.Wait(ctx, ksOwner(), shaOurs, WaitOptions{PollInterval: 20 * time.Millisecond})
	var we *WaitError
	if !errors.As(err, &we) || !we.Timeout || !IsTimeout(err) || IsWaitFailure(err) {
		t.Fatalf("err = %v, want a timeout WaitError", err)
	}
	if we.Owner != "Kustomization flux-system/apps" || we.Revision != shaOurs || we.Waited < 200*time.Millisecond {
		t.Errorf("WaitError = %+v", we)
	}
	for _, want := range []string{
		"waiting for kustomize-controller to handle the reconcile request",
		"Ready=True (ReconciliationSucceeded): Applied revision: main@sha1:" + shaBefore,
		"GitRepository flux-system/flux-system: Ready=False (GitOperationFailed): failed to checkout and determine revision",
	} {
		if !containsSub(we.Last, want) || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if rep.Synced || rep.AppliedRevision != "main@sha1:"+shaBefore || rep.Owner != we.Owner || rep.Duration < 200*time.Millisecond {
		t.Errorf("report = %+v", rep)
	}
}

// TestWaitArgoCDSyncFailure: the controller reports a failed sync of our
// commit; Wait fails at once with its message, not at the deadline.
func TestWaitArgoCDSyncFailure(t *testing.T) {
	app, _ := loadApp(t, "argo/old-revision.yaml")
	cl, base := fakeClient(t, nil, app)
	runController(t, func(ctx context.Context) error {
		if !until(ctx, func() bool {
			a, err := getApp(ctx, base)
			return err == nil && a.Annotations[argocd.AnnotationRefresh] != ""
		}) {
			return ctx.Err()
		}
		failed, _ := loadApp(t, "argo/sync-failed.yaml")
		a, err := getApp(ctx, base)
		if err != nil {
			return err
		}
		delete(a.Annotations, argocd.AnnotationRefresh)
		a.Status = failed.Status
		return base.Update(ctx, a)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	rep, err := (&Cluster{Client: cl}).Wait(ctx, argoOwner(), shaOurs, WaitOptions{PollInterval: time.Hour})
	if !IsWaitFailure(err) || IsTimeout(err) {
		t.Fatalf("err = %v, want a failure WaitError", err)
	}
	if !strings.Contains(err.Error(), `Application argocd/web failed to apply `+shaOurs+`: sync operation Failed at 3f78685: one or more objects failed to apply, reason: Deployment.apps "web" is invalid`) {
		t.Errorf("err = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("failure took %v", time.Since(start))
	}
	if rep.Health != HealthDegraded || len(rep.Resources) != 1 || rep.Resources[0].Status != "SyncFailed" {
		t.Errorf("report = %+v", rep)
	}
}

// TestWaitArgoCDManualSync: automated sync is off and another operation
// runs; Wait starts dot's sync only once it is over, pinned to our commit.
func TestWaitArgoCDManualSync(t *testing.T) {
	app, _ := loadApp(t, "argo/manual-outofsync.yaml")
	app.Status.OperationState.Phase = argocd.OperationRunning
	app.Status.OperationState.FinishedAt = nil
	app.Status.OperationState.StartedAt = *serverTime(-5)
	app.Status.OperationState.Message = "waiting for completion of hook batch/Job/db-migrate"
	cl, base := fakeClient(t, nil, app)

	type seen struct {
		op      *argocd.Operation
		running bool
	}
	opSeen := make(chan seen, 1)
	runController(t, func(ctx context.Context) error {
		time.Sleep(50 * time.Millisecond)
		a, err := getApp(ctx, base)
		if err != nil {
			return err
		}
		if a.Operation != nil {
			opSeen <- seen{op: a.Operation, running: true}
			return nil
		}
		// The other operation finishes.
		a.Status.OperationState.Phase = argocd.OperationSucceeded
		a.Status.OperationState.FinishedAt = serverTime(0)
		a.Status.ReconciledAt = serverTime(0)
		if err := base.Update(ctx, a); err != nil {
			return err
		}
		if !until(ctx, func() bool {
			a, err = getApp(ctx, base)
			return err == nil && a.Operation != nil
		}) {
			return ctx.Err()
		}
		opSeen <- seen{op: a.Operation.DeepCopy()}
		// Run it.
		a.Status.OperationState = &argocd.OperationState{Operation: *a.Operation, Phase: argocd.OperationSucceeded, StartedAt: *serverTime(1),
			FinishedAt: serverTime(2), SyncResult: &argocd.SyncOperationResult{Revision: shaOurs}, Message: "successfully synced (all tasks run)"}
		a.Operation = nil
		a.Status.Sync.Status = argocd.SyncStatusSynced
		a.Status.ReconciledAt = serverTime(3)
		return base.Update(ctx, a)
	})

	var ev events
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := (&Cluster{Client: cl}).Wait(ctx, argoOwner(), shaOurs, WaitOptions{PollInterval: 10 * time.Millisecond, Sync: true, OnEvent: ev.add})
	if err != nil {
		t.Fatalf("Wait: %v; events:%s", err, ev.String())
	}
	s := <-opSeen
	if s.running {
		t.Fatal("a sync was started while another operation was running")
	}
	if s.op.InitiatedBy.Username != SyncUsername || s.op.Sync == nil || s.op.Sync.Revision != shaOurs {
		t.Errorf("operation = %+v (sync %+v)", s.op, s.op.Sync)
	}
	if len(s.op.Info) != 1 || s.op.Info[0].Name != "Reason" {
		t.Errorf("operation info = %+v", s.op.Info)
	}
	if ev.count("trigger", "sync not started: another operation is running") != 1 || ev.count("trigger", "sync started at 3f78685") != 1 {
		t.Errorf("events:%s", ev.String())
	}
	if !rep.Synced || rep.Health != HealthHealthy {
		t.Errorf("report = %+v", rep)
	}
}

// TestWaitPollingWithoutWatch: the watch never works; polling alone finishes.
func TestWaitPollingWithoutWatch(t *testing.T) {
	ks := loadTyped(t, "flux/ks-behind.yaml", &kustomizev1.Kustomization{})
	repo := loadTyped(t, "flux/gitrepository.yaml", &sourcev1.GitRepository{})
	var gets atomic.Int32
	cl, base := fakeClient(t, &interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			gets.Add(1)
			return c.Get(ctx, key, obj, opts...)
		},
		Watch: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
			return nil, errors.New("the server does not allow this method on the requested resource")
		},
	}, ks, repo)
	runController(t, func(ctx context.Context) error {
		k := &kustomizev1.Kustomization{}
		key := client.ObjectKey{Namespace: "flux-system", Name: "apps"}
		if !until(ctx, func() bool {
			return base.Get(ctx, key, k) == nil && k.Annotations[meta.ReconcileRequestAnnotation] != ""
		}) {
			return ctx.Err()
		}
		time.Sleep(30 * time.Millisecond)
		k.Status.LastHandledReconcileAt = k.Annotations[meta.ReconcileRequestAnnotation]
		k.Status.LastAppliedRevision = "main@sha1:" + shaOurs
		return base.Status().Update(ctx, k)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := (&Cluster{Client: cl}).Wait(ctx, ksOwner(), shaOurs, WaitOptions{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Synced || gets.Load() < 3 {
		t.Errorf("report %+v after %d gets", rep, gets.Load())
	}
}

func TestWaitSuspended(t *testing.T) {
	ks := loadTyped(t, "flux/ks-suspended.yaml", &kustomizev1.Kustomization{})
	repo := loadTyped(t, "flux/gitrepository.yaml", &sourcev1.GitRepository{})
	cl, base := fakeClient(t, nil, ks, repo)
	c := &Cluster{Client: cl}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	_, err := c.Trigger(ctx, ksOwner(), WaitOptions{})
	if !errors.Is(err, ErrSuspended) || !strings.Contains(err.Error(), "flux resume kustomization apps -n flux-system") {
		t.Errorf("Trigger: %v", err)
	}
	_, err = c.Wait(ctx, ksOwner(), shaOurs, WaitOptions{})
	if !errors.Is(err, ErrSuspended) {
		t.Errorf("Wait: %v", err)
	}
	// Suspended while waiting without a trigger.
	_, err = c.Wait(ctx, ksOwner(), shaOurs, WaitOptions{NoTrigger: true})
	if !errors.Is(err, ErrSuspended) || IsTimeout(err) {
		t.Errorf("Wait NoTrigger: %v", err)
	}
	got := &kustomizev1.Kustomization{}
	if err := base.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: "apps"}, got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Annotations[meta.ReconcileRequestAnnotation]; ok {
		t.Error("a suspended Kustomization was annotated")
	}
}

// TestTriggerThenWait: the token of a separate Trigger is what Wait checks
// with NoTrigger.
func TestTriggerThenWait(t *testing.T) {
	ks := loadTyped(t, "flux/ks-ready.yaml", &kustomizev1.Kustomization{})
	repo := loadTyped(t, "flux/gitrepository.yaml", &sourcev1.GitRepository{})
	cl, base := fakeClient(t, nil, ks, repo)
	c := &Cluster{Client: cl}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := time.Date(2026, 11, 21, 10, 0, 1, 0, time.UTC)
	token, err := c.Trigger(ctx, ksOwner(), WaitOptions{Now: func() time.Time { return now }})
	if err != nil || token != "2026-11-21T10:00:01Z" {
		t.Fatalf("Trigger = %q, %v", token, err)
	}
	for _, key := range []client.ObjectKey{{Namespace: "flux-system", Name: "apps"}, {Namespace: "flux-system", Name: "flux-system"}} {
		var obj client.Object = &kustomizev1.Kustomization{}
		if key.Name == "flux-system" {
			obj = &sourcev1.GitRepository{}
		}
		if err := base.Get(ctx, key, obj); err != nil {
			t.Fatal(err)
		}
		if obj.GetAnnotations()[meta.ReconcileRequestAnnotation] != token {
			t.Errorf("%s annotations = %v", key, obj.GetAnnotations())
		}
	}
	// The fixture handled an older token: Wait must not accept it.
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	_, err = c.Wait(short, ksOwner(), shaOurs, WaitOptions{NoTrigger: true, Token: token, PollInterval: 10 * time.Millisecond})
	if !IsTimeout(err) || !strings.Contains(err.Error(), "handle the reconcile request") {
		t.Errorf("Wait with an unhandled token: %v", err)
	}
	k := &kustomizev1.Kustomization{}
	if err := base.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: "apps"}, k); err != nil {
		t.Fatal(err)
	}
	k.Status.LastHandledReconcileAt = token
	if err := base.Status().Update(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(ctx, ksOwner(), shaOurs, WaitOptions{NoTrigger: true, Token: token}); err != nil {
		t.Errorf("Wait with the handled token: %v", err)
	}
}

// TestWaitOwnerMissing: an owner that stays NotFound past the grace period
// ends the wait with the API error, not a timeout.
func TestWaitOwnerMissing(t *testing.T) {
	cl, _ := fakeClient(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := (&Cluster{Client: cl}).Wait(ctx, argoOwner(), shaOurs, WaitOptions{PollInterval: 20 * time.Millisecond})
	if err == nil || IsTimeout(err) || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el < time.Second || el > 5*time.Second {
		t.Errorf("gave up after %v, want about the 1s grace", el)
	}
}

// TestWaitTriggerRetries: the trigger meets a 503 twice (API server
// starting); Wait retries it.
func TestWaitTriggerRetries(t *testing.T) {
	app, _ := loadApp(t, "argo/healthy.yaml")
	var patches atomic.Int32
	cl, _ := fakeClient(t, &interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if patches.Add(1) <= 2 {
				return apierrors.NewServiceUnavailable("apiserver is shutting down")
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
	}, app)
	var ev events
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := (&Cluster{Client: cl}).Wait(ctx, argoOwner(), shaOurs, WaitOptions{PollInterval: 5 * time.Millisecond, OnEvent: ev.add}); err != nil {
		t.Fatalf("Wait: %v; events:%s", err, ev.String())
	}
	if patches.Load() != 3 || ev.count("retry", "apiserver is shutting down") != 1 || ev.count("trigger", "refresh requested") != 1 {
		t.Errorf("%d patches; events:%s", patches.Load(), ev.String())
	}
}

// TestWaitCanceled: cancellation is not a timeout.
func TestWaitCanceled(t *testing.T) {
	app, _ := loadApp(t, "argo/old-revision.yaml")
	cl, _ := fakeClient(t, nil, app)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := (&Cluster{Client: cl}).Wait(ctx, argoOwner(), shaOurs, WaitOptions{})
	if !errors.Is(err, context.Canceled) || IsTimeout(err) {
		t.Errorf("err = %v", err)
	}
}

func TestWaitBadRevision(t *testing.T) {
	_, err := (&Cluster{}).Wait(context.Background(), argoOwner(), "main", WaitOptions{})
	if err == nil || !strings.Contains(err.Error(), `revision "main" is not a commit SHA`) {
		t.Errorf("err = %v", err)
	}
}

func TestIsTransient(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("get: %w", refused), true},
		{errors.New(`Get "https://127.0.0.1:6443/api": dial tcp 127.0.0.1:6443: connect: connection refused`), true},
		{errors.New("http2: server sent GOAWAY and closed the connection"), true},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), true},
		{errors.New("unexpected EOF"), true},
		{errors.New(`applications.argoproj.io "web" is forbidden: User "dev" cannot get resource`), false},
		{errors.New("some bug"), false},
	}
	for _, tt := range tests {
		if got := isTransient(tt.err); got != tt.want {
			t.Errorf("isTransient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
