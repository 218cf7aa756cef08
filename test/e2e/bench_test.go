//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/cli"
	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/gitops/argocd"
	"github.com/dot-ai/dot/pkg/kube"
	"github.com/dot-ai/dot/test/e2e/cluster"
)

// Benchmarks on the local environment (issue 10). Each compares dot with a
// baseline measured in the same run; hack/bench.sh runs them and writes the
// figures to docs/benchmarks.md. Select them with -run '^$' so the tests do
// not run first.

// ---------------------------------------------------------------------------
// Owner lookup (issue 4): 5,000 objects tracked by 300 Argo CD Applications.

const (
	ownerObjects    = 5000
	ownerApps       = 300
	ownerObjectNSes = 5
	// ownerAppNS holds the Applications. The environment's Argo CD controller
	// only watches its own namespace, so it leaves these alone; tracking ids
	// then name them <namespace>_<name>.
	ownerAppNS = "dot-bench-apps"
)

var ownerSetup struct {
	once sync.Once
	err  error
	took time.Duration
}

func ownerObjectRef(i int) kube.ObjectRef {
	return kube.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: fmt.Sprintf("dot-bench-%d", i%ownerObjectNSes), Name: fmt.Sprintf("cm-%04d", i)}
}

func ownerAppName(i int) string { return fmt.Sprintf("app-%03d", i%ownerApps) }

// setupOwnerObjects creates the objects and Applications once per test
// binary (and tolerates them existing already, against a kept cluster). The
// objects are kept between benchmarks and iterations.
func setupOwnerObjects(b *testing.B) {
	b.Helper()
	ownerSetup.once.Do(func() {
		start := time.Now()
		ownerSetup.err = createOwnerObjects(context.Background())
		ownerSetup.took = time.Since(start)
	})
	if ownerSetup.err != nil {
		b.Fatalf("set up %d objects and %d Applications: %v", ownerObjects, ownerApps, ownerSetup.err)
	}
	b.Logf("%d ConfigMaps in %d namespaces and %d Applications in %s (set up in %s)", ownerObjects, ownerObjectNSes, ownerApps, ownerAppNS, ownerSetup.took.Round(time.Millisecond))
}

func createOwnerObjects(ctx context.Context) error {
	cfg := rest.CopyConfig(suite.cfg)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side throttling while creating
	c, err := client.New(cfg, client.Options{Scheme: kube.NewScheme()})
	if err != nil {
		return err
	}
	create := func(o client.Object) error {
		if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %T %s/%s: %w", o, o.GetNamespace(), o.GetName(), err)
		}
		return nil
	}
	for i := range ownerObjectNSes {
		if err := create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("dot-bench-%d", i)}}); err != nil {
			return err
		}
	}
	if err := create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ownerAppNS}}); err != nil {
		return err
	}

	// Applications first, with status.resources listing their objects. The
	// Application CRD has no status subresource, so status is written with
	// the object.
	resources := make([][]any, ownerApps)
	for i := range ownerObjects {
		r := ownerObjectRef(i)
		resources[i%ownerApps] = append(resources[i%ownerApps], map[string]any{
			"version": "v1", "kind": "ConfigMap", "namespace": r.Namespace, "name": r.Name, "status": "Synced",
			"health": map[string]any{"status": "Healthy"},
		})
	}
	work := make(chan client.Object)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for o := range work {
				if err := create(o); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	send := func(o client.Object) bool {
		select {
		case err := <-errs:
			errs <- err
			return false
		case work <- o:
			return true
		}
	}
	for a := 0; a < ownerApps; a++ {
		app := &unstructured.Unstructured{}
		app.SetGroupVersionKind(applicationGVK)
		app.SetNamespace(ownerAppNS)
		app.SetName(ownerAppName(a))
		app.Object["spec"] = map[string]any{
			"project":     "default",
			"source":      map[string]any{"repoURL": "https://git.example.com/bench.git", "path": fmt.Sprintf("apps/%03d", a), "targetRevision": "main"},
			"destination": map[string]any{"server": "https://kubernetes.default.svc"},
		}
		app.Object["status"] = map[string]any{
			"resources": resources[a],
			"sync":      map[string]any{"status": "Synced", "revision": strings.Repeat("a", 40)},
			"health":    map[string]any{"status": "Healthy"},
		}
		if !send(app) {
			break
		}
	}
	for i := 0; i < ownerObjects; i++ {
		r := ownerObjectRef(i)
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: r.Name, Annotations: map[string]string{
				argocd.AnnotationTrackingID: fmt.Sprintf("%s_%s:/ConfigMap:%s/%s", ownerAppNS, ownerAppName(i), r.Namespace, r.Name),
			}},
			Data: map[string]string{"index": strconv.Itoa(i)},
		}
		if !send(cm) {
			break
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return nil
}

// countingTransport counts the requests a client sends and the response
// bytes it reads.
type countingTransport struct {
	next            http.RoundTripper
	requests, bytes *atomic.Int64
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.requests.Add(1)
	resp, err := t.next.RoundTrip(r)
	if resp != nil && resp.Body != nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: t.bytes}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// countingClient returns a client whose requests are counted. Client-side
// throttling is off, so the figures measure the API server and the client,
// not a rate limiter.
func countingClient(b *testing.B) (client.WithWatch, *atomic.Int64, *atomic.Int64) {
	b.Helper()
	var requests, bytes atomic.Int64
	cfg := rest.CopyConfig(suite.cfg)
	cfg.QPS, cfg.Burst = -1, 0
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return countingTransport{next: rt, requests: &requests, bytes: &bytes}
	})
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: kube.NewScheme()})
	if err != nil {
		b.Fatal(err)
	}
	return c, &requests, &bytes
}

// benchOwnerLookups runs lookup over the objects in turn (a different object
// each iteration) and reports API requests and response bytes per lookup.
// One lookup before the timer fills what a long-lived client keeps (REST
// mapping, argocd-cm).
func benchOwnerLookups(b *testing.B, lookup func(ctx context.Context, ref kube.ObjectRef) (string, error), requests, bytes *atomic.Int64) {
	ctx := context.Background()
	check := func(i int) {
		got, err := lookup(ctx, ownerObjectRef(i))
		if err != nil {
			b.Fatal(err)
		}
		if want := ownerAppNS + "/" + ownerAppName(i); got != want {
			b.Fatalf("owner of %s: %s, want %s", ownerObjectRef(i), got, want)
		}
	}
	check(ownerObjects - 1)
	requests.Store(0)
	bytes.Store(0)
	i := 0
	for b.Loop() {
		check(i * 7 % ownerObjects)
		i++
	}
	b.ReportMetric(float64(requests.Load())/float64(b.N), "requests/op")
	b.ReportMetric(float64(bytes.Load())/float64(b.N), "resp-B/op")
}

// BenchmarkFindOwner is dot's lookup: GETs of the object and of the
// Application its tracking id names (and of the Application's own metadata,
// looking for a parent), independent of how many Applications exist.
func BenchmarkFindOwner(b *testing.B) {
	setupOwnerObjects(b)
	c, requests, bytes := countingClient(b)
	gc := &gitops.Cluster{Client: c}
	benchOwnerLookups(b, func(ctx context.Context, ref kube.ObjectRef) (string, error) {
		o, err := gc.FindOwner(ctx, ref)
		if err != nil {
			return "", err
		}
		if o.Kind != gitops.OwnerArgoCDApplication {
			return "", fmt.Errorf("owner %s is not an Application", o)
		}
		return o.Namespace + "/" + o.Name, nil
	}, requests, bytes)
}

// BenchmarkFindOwnerListAndScan is the naive lookup: list every Application
// and scan its status.resources for the object (one LIST, O(apps ×
// resources) bytes decoded).
func BenchmarkFindOwnerListAndScan(b *testing.B) {
	setupOwnerObjects(b)
	c, requests, bytes := countingClient(b)
	benchOwnerLookups(b, func(ctx context.Context, ref kube.ObjectRef) (string, error) {
		var apps argocd.ApplicationList
		if err := c.List(ctx, &apps); err != nil {
			return "", err
		}
		var found []string
		for _, app := range apps.Items {
			for _, r := range app.Status.Resources {
				if r.Group == ref.Group && r.Kind == ref.Kind && r.Namespace == ref.Namespace && r.Name == ref.Name {
					found = append(found, app.Namespace+"/"+app.Name)
					break
				}
			}
		}
		if len(found) != 1 {
			return "", fmt.Errorf("%s listed by %d Applications: %v", ref, len(found), found)
		}
		return found[0], nil
	}, requests, bytes)
}

// ---------------------------------------------------------------------------
// Round trip (issue 7): `dot op scale` from command start to healthy at the
// pushed SHA, against the same change by hand: git CLI clone, edit, commit,
// push; the controller's own annotation (Flux requestedAt on the
// GitRepository and the Kustomization, Argo CD refresh); then polling every
// 100ms until the controller reports the SHA applied and healthy and the
// Deployment has the new replicas available.

// BenchmarkRoundTrip has sub-benchmarks <controller>/dot and
// <controller>/by-hand on one app per controller (the web app of the e2e
// tests: a kustomize overlay scales a shared base). Each iteration changes
// the replicas between 2 and 3.
//
// DOT_BENCH_ROUNDS=N runs the four sub-benchmarks N times in turn (their
// names get #01, #02, … suffixes), so that a change of load during the run
// hits dot and its baseline alike; -count N instead runs each one N times
// in a row.
//
// Besides ns/op, each reports cpu-ms/op: the CPU time of the test process
// and its reaped children during the timed part. It includes the
// environment's in-process git server (and its git http-backend children)
// and artifact publisher, which do the same work for both variants, so the
// difference between the variants is the difference in client-side work.
func BenchmarkRoundTrip(b *testing.B) {
	rounds := 1
	if v := os.Getenv("DOT_BENCH_ROUNDS"); v != "" {
		var err error
		if rounds, err = strconv.Atoi(v); err != nil || rounds < 1 {
			b.Fatalf("DOT_BENCH_ROUNDS=%q: want a positive number", v)
		}
	}
	apps := map[string]*benchApp{}
	for _, kind := range []string{"flux", "argocd"} {
		apps[kind] = roundTripApp(b, kind)
	}
	for range rounds {
		for _, kind := range []string{"flux", "argocd"} {
			a := apps[kind]
			b.Run(kind+"/dot", func(b *testing.B) {
				home := b.TempDir()
				var cpu time.Duration
				for b.Loop() {
					n := a.next()
					c0 := cpuTime()
					out, errOut, code := benchCLI(b, home, "op", "scale", "deployment/web", "-n", a.ns, "--replicas", strconv.Itoa(n), "--yes", "-o", "json")
					cpu += cpuTime() - c0
					b.StopTimer()
					a.checkDotResult(b, n, out, errOut, code)
					b.StartTimer()
				}
				b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
			})
			b.Run(kind+"/by-hand", func(b *testing.B) {
				var cpu time.Duration
				for b.Loop() {
					c0 := cpuTime()
					a.byHand(b, a.next())
					cpu += cpuTime() - c0
				}
				b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

// ---------------------------------------------------------------------------
// Round trip, third leg: the same change pushed by hand with no trigger at
// all, applied whenever the controllers' own polling notices it.

// TestRoundTripDefaultPoll measures the round trip when nobody asks the
// controller to look: git CLI clone, edit, commit, push, then a GET every
// 100ms until the controller reports the commit applied and healthy and
// the Deployment has the new replicas available (the by-hand floor's
// condition), checked every 250ms. It runs only when DOT_BENCH_POLL_RUNS=N is set (hack/bench.sh
// sets it), with N samples per controller.
//
// The poll settings are the ones a user has without tuning: Argo CD's
// timeout.reconciliation of the environment (180s, Argo CD's default, no
// jitter) and, for Flux, the intervals `flux bootstrap` writes: GitRepository
// 1m, Kustomization 10m (a Kustomization acts on a new source revision at
// once; its own interval does not matter here).
//
// A sample's push waits first for a random time in its slot of two poll
// periods (slot i of N: [i/N, (i+1)/N) of the window), so that pushes fall
// at all phases of the controller's cycle, as a user's would; pushing right
// after the previous sample's reconcile would always wait a whole period.
// The window is two periods long because a controller may notice a new
// commit only at every second poll, as Argo CD did in every sample here
// with its default settings (most likely because the repo-server answers
// the branch's head from its revision cache, which lives as long as the
// refresh period, 3 minutes, and the next periodic refresh reads it a
// moment before it expires; see docs/benchmarks.md).
// For Flux the period starts when the app is created (the GitRepository is
// fetched then and every interval after). For Argo CD it starts at the
// app's first periodic refresh, so that the app is in the state of one that
// has run for a while. The controller's resync timer starts with the
// controller, and a tick refreshes an Application only when its
// status.reconciledAt is at least a period old, so a new Application's
// first periodic refresh comes at the second tick after its creation, up
// to two periods later. On the local environment the test restarts the
// application-controller once after creating the apps (same command line
// and settings): the restarted controller's first tick, one period later,
// finds them old enough. Elsewhere it waits.
// Each sample has its own app, and all samples of both controllers run at
// once: they spend minutes waiting, not working.
func TestRoundTripDefaultPoll(t *testing.T) {
	v := os.Getenv("DOT_BENCH_POLL_RUNS")
	if v == "" {
		t.Skip("a benchmark taking minutes: set DOT_BENCH_POLL_RUNS=N (hack/bench.sh does)")
	}
	runs, err := strconv.Atoi(v)
	if err != nil || runs < 1 {
		t.Fatalf("DOT_BENCH_POLL_RUNS=%q: want a positive number", v)
	}
	ctx := context.Background()
	var cm corev1.ConfigMap
	if err := suite.client.Get(ctx, client.ObjectKey{Namespace: cluster.ArgoCDNamespace, Name: "argocd-cm"}, &cm); err != nil {
		t.Fatal(err)
	}
	argoPeriod := 180 * time.Second // Argo CD's default when argocd-cm does not set it
	if r := cm.Data["timeout.reconciliation"]; r != "" {
		if argoPeriod, err = time.ParseDuration(r); err != nil {
			t.Fatalf("argocd-cm timeout.reconciliation %q: %v", r, err)
		}
	}
	jitter := cm.Data["timeout.reconciliation.jitter"]
	if jitter == "" {
		jitter = "unset (0)"
	}
	const fluxSource = time.Minute
	t.Logf("POLL-SETTINGS argocd timeout.reconciliation=%s jitter=%s; flux GitRepository interval=%s, Kustomization interval=10m", argoPeriod, jitter, fluxSource)
	period := map[string]time.Duration{"flux": fluxSource, "argocd": argoPeriod}

	type sample struct {
		app                                 *benchApp
		slot                                int
		baseline                            time.Time // Argo CD: status.reconciledAt once deployed
		settle, offset, push, detect, total time.Duration
		refreshes                           []string // Argo CD: refreshes after the push (s)
		err                                 error
	}
	var samples []*sample
	for _, kind := range []string{"flux", "argocd"} {
		for i := range runs {
			a, _ := newBenchApp(t, kind, period[kind])
			samples = append(samples, &sample{app: a, slot: i})
		}
	}
	for _, sm := range samples {
		head, err := suite.git.Head(ctx, sm.app.repo, "main")
		if err != nil {
			t.Fatal(err)
		}
		if err := pollUntil(3*time.Minute, func(ctx context.Context) (bool, string, error) { return sm.app.applied(ctx, head, 2) }); err != nil {
			t.Fatalf("%s app %s at the first commit: %v", sm.app.kind, sm.app.ns, err)
		}
		if sm.app.kind == "argocd" {
			if sm.baseline, err = argoReconciledAt(ctx, sm.app.ns); err != nil {
				t.Fatal(err)
			}
		}
	}

	if suite.local != nil {
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := suite.local.RestartComponent(rctx, "argocd-application-controller")
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	var wg sync.WaitGroup
	for _, sm := range samples {
		p := period[sm.app.kind]
		sm.offset = time.Duration((float64(sm.slot) + mrand.Float64()) / float64(runs) * float64(2*p))
		wg.Go(func() {
			a := sm.app
			if a.kind == "argocd" {
				// The first periodic refresh: reconciledAt moves on by
				// more than any refresh following the initial sync could.
				sm.err = pollEvery(time.Second, 2*p+time.Minute, func(ctx context.Context) (bool, string, error) {
					at, err := argoReconciledAt(ctx, a.ns)
					return err == nil && at.Sub(sm.baseline) > p/3, "reconciledAt " + at.String(), err
				})
				if sm.err != nil {
					return
				}
				sm.settle = time.Since(start)
			}
			time.Sleep(sm.offset)
			n := a.next()
			t0 := time.Now()
			sha, err := a.pushByHand(n)
			if err != nil {
				sm.err = err
				return
			}
			sm.push = time.Since(t0)
			// Up to two periods of the controller and two minutes more;
			// every 250ms (not the floor's 100ms: samples run at once for
			// minutes, and their GETs would load the machine).
			var lastRefresh time.Time
			sm.err = pollEvery(250*time.Millisecond, 2*p+2*time.Minute, func(ctx context.Context) (bool, string, error) {
				if a.kind == "argocd" {
					// Which periodic refreshes came and went: reconciledAt
					// has whole seconds.
					if at, err := argoReconciledAt(ctx, a.ns); err == nil && at.After(lastRefresh) && !at.Before(t0.Truncate(time.Second)) {
						lastRefresh = at
						sm.refreshes = append(sm.refreshes, fmt.Sprintf("%.0f", at.Sub(t0).Seconds()))
					}
				}
				if sm.detect == 0 {
					if ok, err := a.fetched(ctx, sha); err == nil && ok {
						sm.detect = time.Since(t0)
					}
				}
				return a.applied(ctx, sha, n)
			})
			sm.total = time.Since(t0)
		})
	}
	wg.Wait()
	for _, sm := range samples {
		if sm.err != nil {
			t.Errorf("%s sample %d (%s): %v", sm.app.kind, sm.slot+1, sm.app.ns, sm.err)
			continue
		}
		refreshes := ""
		if sm.app.kind == "argocd" {
			refreshes = " refreshes_s=" + strings.Join(sm.refreshes, ",")
		}
		t.Logf("POLL-SAMPLE controller=%s sample=%d settle_s=%.1f offset_s=%.1f push_s=%.2f detect_s=%.2f total_s=%.2f%s",
			sm.app.kind, sm.slot+1, sm.settle.Seconds(), sm.offset.Seconds(), sm.push.Seconds(), sm.detect.Seconds(), sm.total.Seconds(), refreshes)
	}
	t.Logf("POLL-WALL %.0f s for %d samples per controller", time.Since(start).Seconds(), runs)
}

// argoReconciledAt returns the Application's status.reconciledAt.
func argoReconciledAt(ctx context.Context, name string) (time.Time, error) {
	app := &unstructured.Unstructured{}
	app.SetGroupVersionKind(applicationGVK)
	if err := suite.client.Get(ctx, client.ObjectKey{Namespace: cluster.ArgoCDNamespace, Name: name}, app); err != nil {
		return time.Time{}, err
	}
	s, _, _ := unstructured.NestedString(app.Object, "status", "reconciledAt")
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("application %s: status.reconciledAt %q: %w", name, s, err)
	}
	return at, nil
}

// fetched reports whether the controller has fetched sha: the Flux
// GitRepository's artifact, the revision Argo CD compared.
func (a *benchApp) fetched(ctx context.Context, sha string) (bool, error) {
	switch a.kind {
	case "flux":
		var gr sourcev1.GitRepository
		if err := suite.client.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "web"}, &gr); err != nil {
			return false, err
		}
		return gr.Status.Artifact != nil && gr.Status.Artifact.Revision == "main@sha1:"+sha, nil
	case "argocd":
		app := &unstructured.Unstructured{}
		app.SetGroupVersionKind(applicationGVK)
		if err := suite.client.Get(ctx, client.ObjectKey{Namespace: cluster.ArgoCDNamespace, Name: a.ns}, app); err != nil {
			return false, err
		}
		rev, _, _ := unstructured.NestedString(app.Object, "status", "sync", "revision")
		return rev == sha, nil
	}
	return false, fmt.Errorf("unknown controller %q", a.kind)
}

// checkDotResult fails unless dot reported one commit, the branch head,
// applied and healthy, and the controller and the Deployment say the same
// (what the by-hand floor waits for) within a moment. When they do not say
// so at once, dot returned early: that is logged with what they said.
func (a *benchApp) checkDotResult(b *testing.B, n int, out, errOut string, code int) {
	b.Helper()
	if code != 0 {
		b.Fatalf("dot op scale: exit %d\n%s\n%s", code, errOut, out)
	}
	var r cliReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		b.Fatalf("dot op scale output: %v\n%s", err, out)
	}
	head, _ := suite.git.Head(context.Background(), a.repo, "main")
	if len(r.Result.Git) != 1 || r.Result.Git[0].Commit != head || r.Result.Git[0].Sync == nil ||
		!r.Result.Git[0].Sync.Synced || r.Result.Git[0].Sync.Health != gitops.HealthHealthy {
		b.Fatalf("want one commit (%s) applied and healthy, got %s", head, out)
	}
	ok, state, err := a.applied(context.Background(), head, n)
	if ok && err == nil {
		return
	}
	start := time.Now()
	if err := pollUntil(5*time.Second, func(ctx context.Context) (bool, string, error) { return a.applied(ctx, head, n) }); err != nil {
		b.Fatalf("after dot reported %s applied and healthy: %v", head, err)
	}
	b.Logf("the floor's condition held %s after dot returned (state when it returned: %s, error %v)", time.Since(start).Round(time.Millisecond), state, err)
}

// cpuTime is the user and system CPU time of this process and of its
// children that have been waited for.
func cpuTime() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return total
}

// benchApp is one app deployed by Flux or Argo CD for the round trips.
type benchApp struct {
	kind, ns, repo string
	replicas       int
}

// next returns the replica count of the next change (2 and 3 in turn).
func (a *benchApp) next() int {
	a.replicas = 5 - a.replicas
	return a.replicas
}

var roundTripApps struct {
	sync.Mutex
	apps map[string]*benchApp
}

// roundTripApp returns the app of a controller, deployed on first use and
// kept for the rest of the test binary (every -count): on the local
// environment it goes away with the environment; on a DOT_TEST_KUBECONFIG
// cluster its namespace (dot-bench-<controller>-<hex>) is left behind.
// A first change by hand, untimed, warms the controller's caches.
func roundTripApp(b *testing.B, kind string) *benchApp {
	b.Helper()
	roundTripApps.Lock()
	defer roundTripApps.Unlock()
	if a := roundTripApps.apps[kind]; a != nil {
		return a
	}
	a := benchGitOpsApp(b, kind)
	a.byHand(b, a.next())
	if roundTripApps.apps == nil {
		roundTripApps.apps = map[string]*benchApp{}
	}
	roundTripApps.apps[kind] = a
	return a
}

// benchGitOpsApp deploys the e2e tests' web app (prod overlay, 2 replicas)
// with Flux or Argo CD and waits until it is applied and available.
func benchGitOpsApp(tb testing.TB, kind string) *benchApp {
	tb.Helper()
	a, sha := newBenchApp(tb, kind, 0)
	if err := pollUntil(2*time.Minute, func(ctx context.Context) (bool, string, error) { return a.applied(ctx, sha, 2) }); err != nil {
		tb.Fatalf("%s app at the first commit: %v", kind, err)
	}
	return a
}

// newBenchApp creates the web app's namespace, repository and owner objects
// and returns the app and its first commit, without waiting. A non-zero
// sourceInterval sets the Flux GitRepository's spec.interval (fluxOwner's
// is 10m).
func newBenchApp(tb testing.TB, kind string, sourceInterval time.Duration) (*benchApp, string) {
	tb.Helper()
	ctx := context.Background()
	a := &benchApp{kind: kind, ns: benchUnique(tb, "dot-bench-"+kind), repo: benchUnique(tb, "dot-bench-"+kind), replicas: 2}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: a.ns}}
	if err := suite.client.Create(ctx, ns); err != nil {
		tb.Fatal(err)
	}
	if err := suite.git.CreateRepo(a.repo); err != nil {
		tb.Fatal(err)
	}
	sha, err := suite.git.Seed(ctx, a.repo, webRepo(), "initial")
	if err != nil {
		tb.Fatal(err)
	}
	switch kind {
	case "flux":
		objs := fluxOwner(a.ns, a.repo, time.Minute)
		if sourceInterval != 0 {
			objs[1].(*sourcev1.GitRepository).Spec.Interval = metav1.Duration{Duration: sourceInterval}
		}
		createAll(tb, objs...)
	case "argocd":
		createAll(tb, argoApplication(a.ns, a.ns, a.repo))
	}
	return a, sha
}

var countRE = regexp.MustCompile(`count: \d+`)

// byHand makes the change with the git CLI, asks the controller to look now,
// and polls until it is applied and healthy.
func (a *benchApp) byHand(b *testing.B, n int) {
	b.Helper()
	ctx := context.Background()
	sha, err := a.pushByHand(n)
	if err != nil {
		b.Fatal(err)
	}
	switch a.kind {
	case "flux":
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, meta.ReconcileRequestAnnotation, time.Now().Format(time.RFC3339Nano))
		for _, o := range []client.Object{
			&sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: a.ns}},
			&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: a.ns}},
		} {
			if err := suite.client.Patch(ctx, o, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
				b.Fatal(err)
			}
		}
	case "argocd":
		app := &unstructured.Unstructured{}
		app.SetGroupVersionKind(applicationGVK)
		app.SetNamespace(cluster.ArgoCDNamespace)
		app.SetName(a.ns)
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"normal"}}}`, argocd.AnnotationRefresh)
		if err := suite.client.Patch(ctx, app, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
			b.Fatal(err)
		}
	}
	if err := pollUntil(2*time.Minute, func(ctx context.Context) (bool, string, error) { return a.applied(ctx, sha, n) }); err != nil {
		b.Fatal(err)
	}
}

// pushByHand sets the prod overlay's replicas to n with the git CLI (clone
// at depth 1, edit, commit, push) and returns the pushed commit.
func (a *benchApp) pushByHand(n int) (string, error) {
	dir, err := os.MkdirTemp("", "dot-bench-clone-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	env := append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=ops", "GIT_AUTHOR_EMAIL=ops@example.com", "GIT_COMMITTER_NAME=ops", "GIT_COMMITTER_EMAIL=ops@example.com")
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %s: %v\n%s", args[0], err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	if _, err := git("clone", "--quiet", "--depth", "1", "--branch", "main", suite.git.CredentialURL(a.repo), dir); err != nil {
		return "", err
	}
	file := filepath.Join(dir, "overlays/prod/kustomization.yaml")
	old, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(file, countRE.ReplaceAll(old, []byte("count: "+strconv.Itoa(n))), 0o644); err != nil {
		return "", err
	}
	if _, err := git("-C", dir, "commit", "--quiet", "-am", fmt.Sprintf("scale web to %d", n)); err != nil {
		return "", err
	}
	if _, err := git("-C", dir, "push", "--quiet", "origin", "main"); err != nil {
		return "", err
	}
	return git("-C", dir, "rev-parse", "HEAD")
}

// applied reports whether the controller applied sha and reports it healthy
// and the Deployment has n replicas available.
func (a *benchApp) applied(ctx context.Context, sha string, n int) (bool, string, error) {
	var state string
	switch a.kind {
	case "flux":
		var k kustomizev1.Kustomization
		if err := suite.client.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "web"}, &k); err != nil {
			return false, "", err
		}
		ready := apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition)
		state = fmt.Sprintf("lastAppliedRevision=%q ready=%v", k.Status.LastAppliedRevision, ready)
		if ready == nil || ready.Status != metav1.ConditionTrue || k.Status.ObservedGeneration != k.Generation ||
			k.Status.LastAppliedRevision != "main@sha1:"+sha {
			return false, state, nil
		}
	case "argocd":
		app := &unstructured.Unstructured{}
		app.SetGroupVersionKind(applicationGVK)
		if err := suite.client.Get(ctx, client.ObjectKey{Namespace: cluster.ArgoCDNamespace, Name: a.ns}, app); err != nil {
			return false, "", err
		}
		sync, _, _ := unstructured.NestedString(app.Object, "status", "sync", "status")
		rev, _, _ := unstructured.NestedString(app.Object, "status", "sync", "revision")
		health, _, _ := unstructured.NestedString(app.Object, "status", "health", "status")
		phase, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "phase")
		opRev, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "syncResult", "revision")
		state = fmt.Sprintf("sync=%s@%s health=%s operation=%s@%s", sync, rev, health, phase, opRev)
		if sync != "Synced" || rev != sha || health != "Healthy" || phase != "Succeeded" || opRev != sha {
			return false, state, nil
		}
	}
	ok, dstate, err := deploymentAt(ctx, a.ns, n)
	return ok, state + "; " + dstate, err
}

// deploymentAt reports whether Deployment web has n replicas, all updated
// and available.
func deploymentAt(ctx context.Context, ns string, n int) (bool, string, error) {
	var d appsv1.Deployment
	if err := suite.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &d); err != nil {
		return false, "", err
	}
	state := fmt.Sprintf("deployment replicas %d, available %d", *d.Spec.Replicas, d.Status.AvailableReplicas)
	return *d.Spec.Replicas == int32(n) && deploymentAvailable(&d), state, nil
}

// pollUntil calls cond every 100ms until it is done or timeout passes.
func pollUntil(timeout time.Duration, cond func(ctx context.Context) (bool, string, error)) error {
	return pollEvery(100*time.Millisecond, timeout, cond)
}

// pollEvery calls cond every interval until it is done or timeout passes.
func pollEvery(interval, timeout time.Duration, cond func(ctx context.Context) (bool, string, error)) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		done, state, err := cond(ctx)
		if done && err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not done after %s: %s (last error: %v)", timeout, state, err)
		case <-time.After(interval):
		}
	}
}

// benchCLI runs dot in-process like dotCLI, for benchmarks.
func benchCLI(b *testing.B, home string, args ...string) (stdout, stderr string, code int) {
	b.Helper()
	kc := os.Getenv("DOT_TEST_KUBECONFIG")
	if suite.local != nil {
		kc = suite.local.Kubeconfig
	}
	var out, errOut bytes.Buffer
	env := map[string]string{"DOT_GIT_TOKEN": gitPassword, "DOT_GIT_USERNAME": gitUser, "HOME": home}
	full := append(append([]string{"dot"}, args...), "--kubeconfig", kc, "--timeout", "3m")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	code = cli.Execute(ctx, full, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		cli.WithGetenv(func(k string) string { return env[k] }))
	return out.String(), errOut.String(), code
}

func benchUnique(tb testing.TB, prefix string) string {
	tb.Helper()
	r := make([]byte, 3)
	if _, err := rand.Read(r); err != nil {
		tb.Fatal(err)
	}
	return prefix + "-" + hex.EncodeToString(r)
}
