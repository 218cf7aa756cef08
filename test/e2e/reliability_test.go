//go:build e2e

package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

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

// TestReliabilityAPIServerRestart: the API server goes down, a commit is
// pushed and dot starts waiting for it while the API server is down; the
// API server comes back and the wait rides out the outage and succeeds.
func TestReliabilityAPIServerRestart(t *testing.T) {
	localEnv(t)
	a := setupArgoApp(t)
	ctx := context.Background()
	gc := gitopsCluster(t)
	waitDeployment(t, a.ns, replicasAre(2))
	tr, err := gc.Trace(ctx, anyPod(t, a.ns))
	if err != nil {
		t.Fatal(err)
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
	files := webRepo()
	files["overlays/prod/kustomization.yaml"] = strings.Replace(files["overlays/prod/kustomization.yaml"], "count: 2", "count: 3", 1)
	sha := push(t, a.repo, files, "scale to 3")

	type result struct {
		report gitops.SyncReport
		err    error
	}
	done := make(chan result, 1)
	wctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	start := time.Now()
	go func() {
		r, err := gc.Wait(wctx, tr.Owner, sha, gitops.WaitOptions{Objects: []kube.ObjectRef{a.deployment()}})
		done <- result{r, err}
	}()
	const down = 5 * time.Second
	select {
	case r := <-done:
		t.Fatalf("the wait ended while the API server was down: %v (report %+v)", r.err, r.report)
	case <-time.After(down):
	}
	if err := suite.local.StartComponent(rctx, "kube-apiserver", time.Second); err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	restarted = true
	t.Logf("kube-apiserver down for the first %s of the wait, ready again after %s", down, time.Since(start).Round(time.Millisecond))
	r := <-done
	if r.err != nil {
		t.Fatalf("wait across an API server outage: %v (report %+v)", r.err, r.report)
	}
	if !r.report.Synced || r.report.Health != gitops.HealthHealthy {
		t.Errorf("report %+v", r.report)
	}
	t.Logf("RELIABILITY apiserver-restart: API server down for the first %s of the wait; wait succeeded in %s", down, time.Since(start).Round(time.Millisecond))
	waitDeployment(t, a.ns, replicasAre(3))
}

// TestReliabilityControllerStopped: with Argo CD's application-controller
// stopped, a wait for a pushed commit times out, and the report says the
// Application is not at the pushed revision.
func TestReliabilityControllerStopped(t *testing.T) {
	localEnv(t)
	a := setupArgoApp(t)
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
	const ctrl = "argocd-application-controller"
	if err := suite.local.StopComponent(ctx, ctrl, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := suite.local.StartComponent(sctx, ctrl, 2*time.Second); err != nil {
			t.Errorf("start %s again: %v", ctrl, err)
		}
	})
	files := webRepo()
	files["overlays/prod/kustomization.yaml"] = strings.Replace(files["overlays/prod/kustomization.yaml"], "count: 2", "count: 3", 1)
	sha := push(t, a.repo, files, "scale to 3")
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	waitBegan := time.Now()
	report, err := gc.Wait(wctx, tr.Owner, sha, gitops.WaitOptions{Objects: []kube.ObjectRef{a.deployment()}})
	var we *gitops.WaitError
	if !errors.As(err, &we) || !we.Timeout {
		t.Fatalf("err = %v (report %+v), want a WaitError with Timeout", err, report)
	}
	msg := err.Error()
	// Names the Application, the pushed revision, that the Application is
	// still at the old one, and the controller that did not reconcile it.
	for _, want := range []string{"Application argocd/" + a.ownerName, sha[:7], "Application at " + old[:7], "application-controller has not reconciled the Application"} {
		if !strings.Contains(msg, want) {
			t.Errorf("timeout error does not mention %q: %v", want, err)
		}
	}
	app := &unstructured.Unstructured{}
	app.SetGroupVersionKind(applicationGVK)
	if gerr := suite.client.Get(ctx, client.ObjectKey{Namespace: cluster.ArgoCDNamespace, Name: a.ownerName}, app); gerr == nil {
		ra, _, _ := unstructured.NestedString(app.Object, "status", "reconciledAt")
		t.Logf("status.reconciledAt %s, wait began %s", ra, waitBegan.UTC().Format(time.RFC3339Nano))
	}
	t.Logf("RELIABILITY controller-stopped: %v", err)
}
