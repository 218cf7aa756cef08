//go:build e2e

package e2e

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
	"github.com/dot-ai/dot/test/e2e/cluster"
)

// The reliability tests stop and restart components of the local
// environment, so they are not parallel (parallel tests run after them)
// and are skipped against an external cluster.

func localEnv(t *testing.T) {
	t.Helper()
	if suite.local == nil {
		t.Skip("needs the local environment (stops and restarts its components)")
	}
}

// scaleTo3 pushes the web app's prod overlay at 3 replicas and returns the
// commit.
func scaleTo3(t *testing.T, a *gitopsApp) string {
	t.Helper()
	files := webRepo()
	files["overlays/prod/kustomization.yaml"] = strings.Replace(files["overlays/prod/kustomization.yaml"], "count: 2", "count: 3", 1)
	return push(t, a.repo, files, "scale to 3")
}

// TestReliabilityAPIServerRestart: the API server goes down, a commit is
// pushed to an Argo CD app and to a Flux app, and dot starts waiting for
// both while the API server is down; the API server comes back and both
// waits ride out the outage and succeed. The controllers lose the API
// server too and must catch up.
//
// One outage serves both: a second one within two minutes finds the
// controllers' watches in client-go's grown reconnect backoff, and
// kustomize-controller then took about 70 s to see the reconcile request
// (its status updates timing out meanwhile) — the wait waited, but the
// test took a minute longer.
func TestReliabilityAPIServerRestart(t *testing.T) {
	localEnv(t)
	ctx := context.Background()
	gc := gitopsCluster(t)
	apps := []*gitopsApp{setupArgoApp(t), setupFluxApp(t)}
	owners := make([]*gitops.Owner, len(apps))
	for i, a := range apps {
		waitDeployment(t, a.ns, replicasAre(2))
		tr, err := gc.Trace(ctx, anyPod(t, a.ns))
		if err != nil {
			t.Fatal(err)
		}
		owners[i] = tr.Owner
	}
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Minute)
	defer rcancel()
	if err := suite.local.StopComponent(rctx, "kube-apiserver", 10*time.Second); err != nil {
		t.Fatalf("stop kube-apiserver: %v", err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = suite.local.StartComponent(context.Background(), "kube-apiserver", time.Second)
		}
	})

	type result struct {
		report gitops.SyncReport
		err    error
		took   time.Duration
	}
	done := make([]chan result, len(apps))
	var running sync.WaitGroup
	wctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer func() {
		// The waits log their events: they must end before the test does.
		cancel()
		running.Wait()
	}()
	start := time.Now()
	for i, a := range apps {
		sha := scaleTo3(t, a)
		done[i] = make(chan result, 1)
		running.Go(func() {
			// The default wait triggers the controller first (Argo CD
			// refresh, Flux reconcile requests), retrying while the API
			// server is down.
			r, err := gc.Wait(wctx, owners[i], sha, gitops.WaitOptions{Objects: []kube.ObjectRef{a.deployment()},
				OnEvent: func(e gitops.Event) {
					t.Logf("%s %6s %s: %s", a.kind, e.Time.Sub(start).Round(100*time.Millisecond), e.Step, e.Message)
				}})
			done[i] <- result{r, err, time.Since(start)}
		})
	}
	const down = 5 * time.Second
	time.Sleep(down)
	for i, a := range apps {
		select {
		case r := <-done[i]:
			t.Fatalf("the %s wait ended while the API server was down: %v (report %+v)", a.kind, r.err, r.report)
		default:
		}
	}
	if err := suite.local.StartComponent(rctx, "kube-apiserver", time.Second); err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	restarted = true
	ready := time.Since(start)
	t.Logf("kube-apiserver down for the first %s of the waits, ready again after %s", down, ready.Round(time.Millisecond))
	for i, a := range apps {
		r := <-done[i]
		if r.err != nil {
			t.Errorf("%s wait across an API server outage: %v (report %+v)", a.kind, r.err, r.report)
			continue
		}
		if !r.report.Synced || r.report.Health != gitops.HealthHealthy {
			t.Errorf("%s report %+v", a.kind, r.report)
		}
		t.Logf("RELIABILITY apiserver-restart (%s): API server down for the first %s of the wait (ready again at %s); wait succeeded in %s",
			a.kind, down, ready.Round(100*time.Millisecond), r.took.Round(100*time.Millisecond))
	}
	if t.Failed() {
		return
	}
	for _, a := range apps {
		waitDeployment(t, a.ns, replicasAre(3))
	}
}

// TestReliabilityControllerStopped: with the controller that applies the
// app stopped (Argo CD's application-controller, Flux's
// kustomize-controller), a wait for a pushed commit times out, and the
// report names the owner, the pushed revision, the revision it is still at
// and the controller. Once the controller runs again, the same wait
// succeeds.
func TestReliabilityControllerStopped(t *testing.T) {
	localEnv(t)
	t.Run("argocd", func(t *testing.T) {
		a := setupArgoApp(t)
		testControllerStopped(t, a, "argocd-application-controller", func(t *testing.T, tr *gitops.Owner, old, sha string, waitBegan time.Time) {
			err := stoppedWait(t, tr, sha, gitops.WaitOptions{Objects: []kube.ObjectRef{a.deployment()}}, 15*time.Second,
				"Application argocd/"+a.ownerName, sha[:7], "Application at "+old[:7], "application-controller has not reconciled the Application")
			app := &unstructured.Unstructured{}
			app.SetGroupVersionKind(applicationGVK)
			if gerr := suite.client.Get(context.Background(), client.ObjectKey{Namespace: cluster.ArgoCDNamespace, Name: a.ownerName}, app); gerr == nil {
				ra, _, _ := unstructured.NestedString(app.Object, "status", "reconciledAt")
				t.Logf("status.reconciledAt %s, wait began %s", ra, waitBegan.UTC().Format(time.RFC3339Nano))
			}
			t.Logf("RELIABILITY controller-stopped (argocd): %v", err)
		})
	})
	t.Run("flux", func(t *testing.T) {
		a := setupFluxApp(t)
		testControllerStopped(t, a, "kustomize-controller", func(t *testing.T, tr *gitops.Owner, old, sha string, _ time.Time) {
			// As dot waits: reconcile requests on the GitRepository and the
			// Kustomization, then the wait. The artifact publisher fetches
			// the commit; nothing handles the Kustomization's request.
			owner := "Kustomization " + a.ns + "/web"
			err := stoppedWait(t, tr, sha, gitops.WaitOptions{Objects: []kube.ObjectRef{a.deployment()}}, 10*time.Second,
				owner, sha[:7], "Applied revision: main@sha1:"+old[:7], "kustomize-controller has not handled the reconcile request")
			t.Logf("RELIABILITY controller-stopped (flux, triggered): %v", err)
			// Waiting without a trigger (someone else pushed and asked):
			// the source has the commit and the controller has not even
			// attempted it.
			eventually(t, 30*time.Second, "GitRepository at the pushed commit", func(ctx context.Context) (bool, string, error) {
				var gr sourcev1.GitRepository
				if err := suite.client.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "web"}, &gr); err != nil {
					return false, "", err
				}
				if gr.Status.Artifact == nil {
					return false, "no artifact", nil
				}
				return gr.Status.Artifact.Revision == "main@sha1:"+sha, gr.Status.Artifact.Revision, nil
			})
			err = stoppedWait(t, tr, sha, gitops.WaitOptions{NoTrigger: true}, 5*time.Second,
				owner, "source at main@sha1:"+sha[:7], "kustomize-controller has not attempted main@sha1:"+sha[:7]+", which GitRepository "+a.ns+"/web has")
			t.Logf("RELIABILITY controller-stopped (flux, not triggered): %v", err)
		})
	})
}

// testControllerStopped stops the named controller, pushes a commit, runs
// check (which waits and inspects the timeout), starts the controller again
// and waits for the commit once more: the controller catches up.
func testControllerStopped(t *testing.T, a *gitopsApp, ctrl string, check func(t *testing.T, owner *gitops.Owner, old, sha string, waitBegan time.Time)) {
	ctx := context.Background()
	gc := gitopsCluster(t)
	waitDeployment(t, a.ns, replicasAre(2))
	tr, err := gc.Trace(ctx, anyPod(t, a.ns))
	if err != nil {
		t.Fatal(err)
	}
	old, err := suite.git.Head(ctx, a.repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	if err := suite.local.StopComponent(ctx, ctrl, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	started := false
	t.Cleanup(func() {
		if started {
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := suite.local.StartComponent(sctx, ctrl, 2*time.Second); err != nil {
			t.Errorf("start %s again: %v", ctrl, err)
		}
	})
	sha := scaleTo3(t, a)
	check(t, tr.Owner, old, sha, time.Now())

	sctx, scancel := context.WithTimeout(ctx, 2*time.Minute)
	defer scancel()
	if err := suite.local.StartComponent(sctx, ctrl, 2*time.Second); err != nil {
		t.Fatalf("start %s again: %v", ctrl, err)
	}
	started = true
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	report, err := gc.Wait(wctx, tr.Owner, sha, gitops.WaitOptions{Objects: []kube.ObjectRef{a.deployment()}})
	if err != nil {
		t.Fatalf("wait once %s runs again: %v (report %+v)", ctrl, err, report)
	}
	t.Logf("RELIABILITY controller-stopped (%s): %s started again; the wait for %s succeeded in %s", a.kind, ctrl, sha[:7], time.Since(start).Round(time.Millisecond))
	waitDeployment(t, a.ns, replicasAre(3))
}

// stoppedWait waits for sha with a stopped controller; the wait must time
// out after timeout with an error containing every want.
func stoppedWait(t *testing.T, owner *gitops.Owner, sha string, opts gitops.WaitOptions, timeout time.Duration, want ...string) error {
	t.Helper()
	wctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	report, err := gitopsCluster(t).Wait(wctx, owner, sha, opts)
	var we *gitops.WaitError
	if !errors.As(err, &we) || !we.Timeout {
		t.Fatalf("err = %v (report %+v), want a WaitError with Timeout", err, report)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("timeout error does not mention %q: %v", w, err)
		}
	}
	if !containsAny(report.Messages, "controller") {
		t.Errorf("report messages name no controller: %q", report.Messages)
	}
	return err
}

func containsAny(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
