//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/cli"
	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/gitops/repo"
	"github.com/dot-ai/dot/pkg/kube"
	"github.com/dot-ai/dot/test/e2e/cluster"
)

// webRepo is a kustomize layout as teams keep it: a shared base and two
// overlays; the owners deploy overlays/prod.
func webRepo() map[string]string {
	return map[string]string{
		"base/kustomization.yaml": "resources:\n  - deployment.yaml\n  - configmap.yaml\n",
		// A second object, so that deleting web does not empty the app
		// (Argo CD's automated sync refuses to wipe out every resource).
		"base/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-settings\ndata:\n  mode: normal\n",
		"base/deployment.yaml": `# The web tier. Owned by team-web.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1 # overridden per overlay
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.k8s.io/pause:3.10
          env:
            - name: LOG_LEVEL
              value: info
          resources:
            requests: {cpu: 50m, memory: 64Mi}
`,
		"overlays/prod/kustomization.yaml": "resources:\n  - ../../base\nreplicas:\n  - name: web\n    count: 2 # prod baseline\n",
		"overlays/dev/kustomization.yaml":  "resources:\n  - ../../base\n",
	}
}

// gitopsApp is the web app deployed by one owner.
type gitopsApp struct {
	kind      string // flux, argocd or none
	ns, repo  string
	ownerName string
}

func (a *gitopsApp) deployment() kube.ObjectRef {
	return kube.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: a.ns, Name: "web"}
}

func setupFluxApp(t *testing.T) *gitopsApp {
	t.Helper()
	a := &gitopsApp{kind: "flux", ns: newNamespace(t, "dot-flux"), ownerName: "web"}
	var sha string
	a.repo, sha = newRepo(t, "dot-flux", webRepo())
	objs := fluxOwner(a.ns, a.repo, time.Minute)
	createAll(t, objs...)
	ks := objs[2].(*kustomizev1.Kustomization)
	waitKustomizationApplied(t, ks, sha)
	return a
}

func setupArgoApp(t *testing.T) *gitopsApp {
	t.Helper()
	a := &gitopsApp{kind: "argocd", ns: newNamespace(t, "dot-argo")}
	a.ownerName = a.ns
	var sha string
	a.repo, sha = newRepo(t, "dot-argo", webRepo())
	app := argoApplication(a.ownerName, a.ns, a.repo)
	createAll(t, app)
	t.Cleanup(func() { suite.client.Delete(context.Background(), app) })
	waitAppSynced(t, a.ownerName, sha, true)
	return a
}

// fluxOwner returns what deploys repo's overlays/prod into ns with Flux: the
// basic-auth Secret, a GitRepository and a Kustomization (wait: true, with
// the given health-check timeout), in that order.
func fluxOwner(ns, repo string, timeout time.Duration) []client.Object {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git-auth", Namespace: ns},
		StringData: map[string]string{"username": gitUser, "password": gitPassword}}
	gr := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: sourcev1.GitRepositorySpec{
		URL: repoURLForCluster(repo), Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		Interval: metav1.Duration{Duration: 10 * time.Minute}, SecretRef: &meta.LocalObjectReference{Name: "git-auth"}}}
	ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: kustomizev1.KustomizationSpec{
		Interval: metav1.Duration{Duration: 10 * time.Minute}, Path: "./overlays/prod", Prune: true, Wait: true,
		Timeout: &metav1.Duration{Duration: timeout}, TargetNamespace: ns,
		SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "web"}}}
	return []client.Object{secret, gr, ks}
}

// argoApplication returns an Argo CD Application named name that deploys
// repo's overlays/prod into ns with automated sync (prune, self-heal).
func argoApplication(name, ns, repo string) *unstructured.Unstructured {
	app := &unstructured.Unstructured{}
	app.SetGroupVersionKind(applicationGVK)
	app.SetName(name)
	app.SetNamespace(cluster.ArgoCDNamespace)
	app.Object["spec"] = map[string]any{
		"project":     "default",
		"source":      map[string]any{"repoURL": repoURLForCluster(repo), "path": "overlays/prod", "targetRevision": "main"},
		"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": ns},
		"syncPolicy":  map[string]any{"automated": map[string]any{"prune": true, "selfHeal": true}},
	}
	return app
}

// createAll creates the objects, failing the test or benchmark on error.
func createAll(tb testing.TB, objs ...client.Object) {
	tb.Helper()
	for _, o := range objs {
		if err := suite.client.Create(context.Background(), o); err != nil {
			tb.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

func setupUnmanagedApp(t *testing.T) *gitopsApp {
	t.Helper()
	a := &gitopsApp{kind: "none", ns: newNamespace(t, "dot-plain")}
	d := &unstructured.Unstructured{}
	if err := d.UnmarshalJSON([]byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"` + a.ns + `"},
	  "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
	  "spec":{"containers":[{"name":"web","image":"registry.k8s.io/pause:3.10","env":[{"name":"LOG_LEVEL","value":"info"}]}]}}}}`)); err != nil {
		t.Fatal(err)
	}
	if err := suite.client.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	waitDeployment(t, a.ns, func(d *appsv1.Deployment) bool { return deploymentAvailable(d) })
	return a
}

// cluster returns dot's read-side configuration for the suite's cluster.
func gitopsCluster(t *testing.T) *gitops.Cluster {
	t.Helper()
	c, err := client.NewWithWatch(suite.cfg, client.Options{Scheme: kube.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	return &gitops.Cluster{Client: c}
}

func deliverer(t *testing.T, opts gitops.Options) *gitops.Deliverer {
	t.Helper()
	opts.Git.Auth = repo.Auth{Username: gitUser, Password: gitPassword}
	return &gitops.Deliverer{Cluster: gitopsCluster(t), Options: opts}
}

func waitDeployment(t *testing.T, ns string, cond func(*appsv1.Deployment) bool) {
	t.Helper()
	eventually(t, 60*time.Second, "deployment "+ns+"/web", func(ctx context.Context) (bool, string, error) {
		var d appsv1.Deployment
		if err := suite.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &d); err != nil {
			return false, "", err
		}
		return cond(&d), fmt.Sprintf("replicas %d, image %s, available %d", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image, d.Status.AvailableReplicas), nil
	}, "kube-controller-manager", "kwok")
}

func replicasAre(n int32) func(*appsv1.Deployment) bool {
	return func(d *appsv1.Deployment) bool { return *d.Spec.Replicas == n && deploymentAvailable(d) }
}

func fileAt(t *testing.T, repoName, path string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", suite.git.RepoPath(repoName), "show", "main:"+path).CombinedOutput()
	if err != nil {
		t.Fatalf("git show main:%s: %v %s", path, err, out)
	}
	return string(out)
}

func anyPod(t *testing.T, ns string) kube.ObjectRef {
	t.Helper()
	var pods corev1.PodList
	if err := suite.client.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{"app": "web"}); err != nil || len(pods.Items) == 0 {
		t.Fatalf("no pods of web in %s: %v", ns, err)
	}
	return kube.ObjectRef{Version: "v1", Kind: "Pod", Namespace: ns, Name: pods.Items[0].Name}
}

// TestTraceAndWait (issue #4): trace a Pod back to its owner and repo, push
// a commit and wait until it is applied and healthy, and see a breaking
// commit fail the wait with the controller's own message, not a timeout.
// Not parallel: it switches Argo CD's tracking method (the parallel smoke
// tests run after it).
func TestTraceAndWait(t *testing.T) {
	t.Run("flux", func(t *testing.T) { testTraceAndWait(t, setupFluxApp(t)) })
	t.Run("argocd-annotation", func(t *testing.T) { testTraceAndWait(t, setupArgoApp(t)) })
	t.Run("argocd-label", func(t *testing.T) {
		setTrackingMethod(t, cluster.TrackingLabel)
		t.Cleanup(func() { setTrackingMethod(t, cluster.DefaultArgoCDTrackingMethod) })
		testTraceAndWait(t, setupArgoApp(t))
	})
}

func testTraceAndWait(t *testing.T, a *gitopsApp) {
	ctx := context.Background()
	gc := gitopsCluster(t)
	waitDeployment(t, a.ns, replicasAre(2))

	tr, err := gc.Trace(ctx, anyPod(t, a.ns))
	if err != nil {
		t.Fatal(err)
	}
	wantOwner := map[string]string{"flux": "Kustomization " + a.ns + "/web", "argocd": "Application argocd/" + a.ownerName}[a.kind]
	if tr.Owner.String() != wantOwner || tr.Owner.Object.Kind != "Deployment" || len(tr.Owner.Walked) != 2 {
		t.Errorf("trace: owner %s object %s walked %v; want %s via Pod and ReplicaSet", tr.Owner, tr.Owner.Object, tr.Owner.Walked, wantOwner)
	}
	if len(tr.Sources) != 1 || !gitops.SameRepo(tr.Sources[0].RepoURL, repoURLForCluster(a.repo)) || tr.Sources[0].Path != "overlays/prod" || !tr.Sources[0].RefKind.Pushable() {
		t.Errorf("trace: sources %+v", tr.Sources)
	}
	if tr.Status.Health != gitops.HealthHealthy {
		t.Errorf("trace: status %+v", tr.Status)
	}
	t.Logf("evidence: %s", strings.Join(tr.Owner.Evidence, "; "))

	files := webRepo()
	files["overlays/prod/kustomization.yaml"] = strings.Replace(files["overlays/prod/kustomization.yaml"], "count: 2", "count: 3", 1)
	sha := push(t, a.repo, files, "scale to 3")
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	start := time.Now()
	report, err := gc.Wait(wctx, tr.Owner, sha, gitops.WaitOptions{Objects: []kube.ObjectRef{a.deployment()}})
	if err != nil {
		t.Fatalf("wait for %s: %v (report %+v)", sha, err, report)
	}
	if !report.Synced || report.Health != gitops.HealthHealthy {
		t.Errorf("report %+v", report)
	}
	t.Logf("push → applied and healthy in %s", time.Since(start).Round(time.Millisecond))
	waitDeployment(t, a.ns, replicasAre(3))

	// A commit the API server rejects (negative replicas) fails the wait
	// with the controller's message long before the deadline.
	files["overlays/prod/kustomization.yaml"] = strings.Replace(files["overlays/prod/kustomization.yaml"], "count: 3", "count: -1", 1)
	bad := push(t, a.repo, files, "break it")
	wctx2, cancel2 := context.WithTimeout(ctx, 90*time.Second)
	defer cancel2()
	start = time.Now()
	report, err = gc.Wait(wctx2, tr.Owner, bad, gitops.WaitOptions{Objects: []kube.ObjectRef{a.deployment()}})
	var we *gitops.WaitError
	if !errors.As(err, &we) || we.Timeout {
		t.Fatalf("breaking commit: err = %v, want a WaitError that is not a timeout", err)
	}
	if !strings.Contains(err.Error(), "replicas") {
		t.Errorf("the error should carry the controller's message about replicas: %v", err)
	}
	t.Logf("breaking commit reported in %s: %v", time.Since(start).Round(time.Millisecond), err)
}

// TestDeliverThroughGit (issue #6): a field change lands as one commit in
// the overlay (not the shared base), the controller applies it, and dot
// reports the SHA, sync and health; --revert-on-failure undoes a change that
// breaks the app.
func TestDeliverThroughGit(t *testing.T) {
	for _, setup := range []func(*testing.T) *gitopsApp{setupFluxApp, setupArgoApp} {
		a := setup(t)
		t.Run(a.kind, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			waitDeployment(t, a.ns, replicasAre(2))
			before, _ := suite.git.Head(ctx, a.repo, "main")
			d := deliverer(t, gitops.Options{})
			cs := gitops.ChangeSet{Title: "scale web to 4", Operation: "scale", Changes: []gitops.Change{{
				Object: a.deployment(), Action: gitops.ActionSet, Fields: []gitops.FieldChange{{Path: "spec.replicas", Value: 4, Expect: 2}}}}}
			plan, res, err := d.Deliver(ctx, cs)
			if err != nil {
				t.Fatalf("deliver: %v", err)
			}
			g := res.Git[0]
			head, _ := suite.git.Head(ctx, a.repo, "main")
			if g.Status != "configured" || g.Commit != head || g.Sync == nil || !g.Sync.Synced || g.Sync.Health != gitops.HealthHealthy {
				t.Errorf("result %+v sync %+v", g, g.Sync)
			}
			if strings.Join(plan.Git[0].Files, ",") != "overlays/prod/kustomization.yaml" {
				t.Errorf("changed %v, want only the prod overlay", plan.Git[0].Files)
			}
			log, _ := suite.git.Log(ctx, a.repo, "main")
			if len(log) < 2 || log[1] != before {
				t.Errorf("want exactly one commit on top of %s, log %v", before, log)
			}
			if got := fileAt(t, a.repo, "overlays/prod/kustomization.yaml"); !strings.Contains(got, "count: 4 # prod baseline") {
				t.Errorf("overlay after delivery:\n%s", got)
			}
			waitDeployment(t, a.ns, replicasAre(4))
			t.Logf("delivered %s in %s: %s", g.Commit[:7], res.Duration.Round(time.Millisecond), g.Sync.Summary())

			// A change the API server rejects: the wait fails, dot reverts its
			// commit and the app is healthy at the old value again.
			d = deliverer(t, gitops.Options{RevertOnFailure: true})
			bad := gitops.ChangeSet{Title: "break web", Operation: "scale", Changes: []gitops.Change{{
				Object: a.deployment(), Action: gitops.ActionSet, Fields: []gitops.FieldChange{{Path: "spec.replicas", Value: -3}}}}}
			_, res, err = d.Deliver(ctx, bad)
			if !gitops.IsWaitFailure(err) {
				t.Fatalf("breaking delivery: err = %v, want a wait failure", err)
			}
			if res == nil || len(res.Git) != 1 || res.Git[0].Revert == nil || res.Git[0].Revert.Sync == nil || !res.Git[0].Revert.Sync.Synced {
				t.Fatalf("revert result: %+v", res)
			}
			if got := fileAt(t, a.repo, "overlays/prod/kustomization.yaml"); !strings.Contains(got, "count: 4 # prod baseline") {
				t.Errorf("overlay after revert:\n%s", got)
			}
			waitDeployment(t, a.ns, replicasAre(4))
			if ok, err := suite.git.IsFastForwardHistory(ctx, a.repo, "main"); err != nil || !ok {
				t.Errorf("history was rewritten: %v %v", ok, err)
			}
		})
	}
}

// TestDeliverDirect (issue #6): an unmanaged Deployment is changed by
// server-side apply; a managed one is refused unless forced.
func TestDeliverDirect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	plain := setupUnmanagedApp(t)
	cs := func(a *gitopsApp, n int) gitops.ChangeSet {
		return gitops.ChangeSet{Title: "scale", Operation: "scale", Changes: []gitops.Change{{
			Object: a.deployment(), Action: gitops.ActionSet, Fields: []gitops.FieldChange{{Path: "spec.replicas", Value: n}}}}}
	}
	_, res, err := deliverer(t, gitops.Options{}).Deliver(ctx, cs(plain, 3))
	if err != nil || len(res.Direct) != 1 || res.Direct[0].Status != "configured" || len(res.Git) != 0 {
		t.Fatalf("direct delivery: %+v, %v", res, err)
	}
	waitDeployment(t, plain.ns, replicasAre(3))

	managed := setupFluxApp(t)
	_, _, err = deliverer(t, gitops.Options{Mode: gitops.ModeOff}).Deliver(ctx, cs(managed, 5))
	if err == nil || !strings.Contains(err.Error(), "Kustomization") {
		t.Fatalf("direct apply to a Flux-managed object: err = %v, want a refusal naming the owner", err)
	}
	plan, res, err := deliverer(t, gitops.Options{Mode: gitops.ModeOff, ForceDirect: true, NoWait: true}).Deliver(ctx, cs(managed, 5))
	if err != nil || len(res.Direct) != 1 || len(plan.Warnings) == 0 {
		t.Fatalf("forced direct apply: %+v %+v, %v", plan, res, err)
	}
	t.Logf("forced: %s", strings.Join(plan.Warnings, "; "))
}

// dotCLI runs the dot command in-process against the suite's cluster.
func dotCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	kc := kubeconfigPath(t)
	var out, errOut bytes.Buffer
	env := map[string]string{"DOT_GIT_TOKEN": gitPassword, "DOT_GIT_USERNAME": gitUser, "HOME": t.TempDir()}
	full := append([]string{"dot"}, args...)
	full = append(full, "--kubeconfig", kc, "--timeout", "3m")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	code = cli.Execute(ctx, full, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		cli.WithGetenv(func(k string) string { return env[k] }))
	return out.String(), errOut.String(), code
}

func kubeconfigPath(t *testing.T) string {
	if suite.local != nil {
		return suite.local.Kubeconfig
	}
	return os.Getenv("DOT_TEST_KUBECONFIG")
}

type cliReport struct {
	Plan   gitops.Plan   `json:"plan"`
	Result gitops.Result `json:"result"`
}

func runOp(t *testing.T, args ...string) cliReport {
	t.Helper()
	out, errOut, code := dotCLI(t, append([]string{"op"}, append(args, "--yes", "-o", "json")...)...)
	if code != 0 {
		t.Fatalf("dot op %s: exit %d\nstderr:\n%s\nstdout:\n%s", strings.Join(args, " "), code, errOut, out)
	}
	var r cliReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("dot op %s: output is not the JSON report: %v\n%s", strings.Join(args, " "), err, out)
	}
	return r
}

// TestOpVerbs (issue #7): each verb through the CLI, against an app managed
// by Flux, one managed by Argo CD and an unmanaged one.
func TestOpVerbs(t *testing.T) {
	for _, setup := range []func(*testing.T) *gitopsApp{setupFluxApp, setupArgoApp, setupUnmanagedApp} {
		a := setup(t)
		t.Run(a.kind, func(t *testing.T) {
			ns := a.ns
			waitDeployment(t, ns, replicasAre(2))
			check := func(r cliReport, file string) {
				t.Helper()
				if a.kind == "none" {
					if len(r.Result.Direct) != 1 || len(r.Result.Git) != 0 {
						t.Errorf("unmanaged: want a direct apply, got %+v", r.Result)
					}
					return
				}
				if len(r.Result.Git) != 1 || r.Result.Git[0].Sync == nil || !r.Result.Git[0].Sync.Synced || r.Result.Git[0].Sync.Health != gitops.HealthHealthy {
					t.Fatalf("want one commit applied and healthy, got %+v", r.Result)
				}
				for _, f := range r.Result.Git[0].Files {
					if !strings.HasPrefix(f, file) {
						t.Errorf("changed %v: want only files under %s (the base is shared with overlays/dev)", r.Result.Git[0].Files, file)
					}
				}
				head, _ := suite.git.Head(context.Background(), a.repo, "main")
				if r.Result.Git[0].Commit != head {
					t.Errorf("reported commit %s, branch at %s", r.Result.Git[0].Commit, head)
				}
			}
			overlay := "overlays/prod/"

			check(runOp(t, "scale", "deployment/web", "-n", ns, "--replicas", "3"), overlay)
			waitDeployment(t, ns, replicasAre(3))

			check(runOp(t, "image", "deployment", "web", "registry.k8s.io/pause:3.9", "-n", ns), overlay)
			waitDeployment(t, ns, func(d *appsv1.Deployment) bool {
				return d.Spec.Template.Spec.Containers[0].Image == "registry.k8s.io/pause:3.9" && deploymentAvailable(d)
			})

			pod := anyPod(t, ns).Name
			check(runOp(t, "env", pod, "LOG_LEVEL=debug", "FEATURE_X=on", "-n", ns), overlay)
			waitDeployment(t, ns, func(d *appsv1.Deployment) bool {
				env := map[string]string{}
				for _, e := range d.Spec.Template.Spec.Containers[0].Env {
					env[e.Name] = e.Value
				}
				return env["LOG_LEVEL"] == "debug" && env["FEATURE_X"] == "on"
			})

			check(runOp(t, "resources", "deployment/web", "-n", ns, "--requests", "cpu=100m", "--limits", "memory=256Mi"), overlay)
			waitDeployment(t, ns, func(d *appsv1.Deployment) bool {
				r := d.Spec.Template.Spec.Containers[0].Resources
				return r.Requests.Cpu().String() == "100m" && r.Limits.Memory().String() == "256Mi"
			})

			check(runOp(t, "restart", "deployment/web", "-n", ns), overlay)
			waitDeployment(t, ns, func(d *appsv1.Deployment) bool {
				return d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] != ""
			})

			// rollback undoes the restart (the last change to web).
			r := runOp(t, "rollback", "deployment/web", "-n", ns)
			if a.kind != "none" {
				check(r, overlay)
			}
			waitDeployment(t, ns, func(d *appsv1.Deployment) bool {
				return d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" && deploymentAvailable(d)
			})

			// delete removes it from this overlay only (the base stays for
			// overlays/dev); the owner prunes it.
			r = runOp(t, "delete", "deployment/web", "-n", ns)
			if a.kind != "none" {
				check(r, overlay)
				if !strings.Contains(fileAt(t, a.repo, "base/deployment.yaml"), "name: web") {
					t.Error("delete removed the shared base")
				}
			}
			eventually(t, 60*time.Second, "deployment web deleted", func(ctx context.Context) (bool, string, error) {
				var d appsv1.Deployment
				err := suite.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &d)
				return apierrors.IsNotFound(err), fmt.Sprintf("get: %v", err), nil
			})
		})
	}
}

// TestImageRollback (issue #7): a rollback undoes an image change.
func TestImageRollback(t *testing.T) {
	a := setupArgoApp(t)
	waitDeployment(t, a.ns, replicasAre(2))
	runOp(t, "image", "deployment/web", "registry.k8s.io/pause:3.9", "-n", a.ns)
	waitDeployment(t, a.ns, func(d *appsv1.Deployment) bool {
		return d.Spec.Template.Spec.Containers[0].Image == "registry.k8s.io/pause:3.9"
	})
	runOp(t, "rollback", "deployment/web", "-n", a.ns)
	waitDeployment(t, a.ns, func(d *appsv1.Deployment) bool {
		return d.Spec.Template.Spec.Containers[0].Image == "registry.k8s.io/pause:3.10" && deploymentAvailable(d)
	})
	if got := fileAt(t, a.repo, "base/deployment.yaml"); got != webRepo()["base/deployment.yaml"] {
		t.Errorf("base after rollback differs from the original:\n%s", got)
	}
}

// TestFreeze (issue #7): while frozen, a manual change is not reverted;
// after unfreeze the controller reconciles it away.
func TestFreeze(t *testing.T) {
	for _, setup := range []func(*testing.T) *gitopsApp{setupArgoApp, setupFluxApp} {
		a := setup(t)
		t.Run(a.kind, func(t *testing.T) {
			ctx := context.Background()
			waitDeployment(t, a.ns, replicasAre(2))
			out, errOut, code := dotCLI(t, "op", "freeze", "deployment/web", "-n", a.ns, "-o", "json")
			if code != 0 || !strings.Contains(out, `"changed": true`) {
				t.Fatalf("freeze: %d %s %s", code, out, errOut)
			}
			tr, err := gitopsCluster(t).Trace(ctx, a.deployment())
			if err != nil || !tr.Owner.Suspended {
				t.Errorf("trace after freeze: suspended=%v err=%v", tr != nil && tr.Owner.Suspended, err)
			}
			// A manual change during the incident.
			patch := []byte(`{"spec":{"replicas":5}}`)
			dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: a.ns}}
			if err := suite.client.Patch(ctx, dep, client.RawPatch("application/merge-patch+json", patch)); err != nil {
				t.Fatal(err)
			}
			if a.kind == "flux" {
				requestReconcile(t, a.ns)
			}
			time.Sleep(5 * time.Second)
			waitDeployment(t, a.ns, replicasAre(5))

			out, errOut, code = dotCLI(t, "op", "unfreeze", "deployment/web", "-n", a.ns, "-o", "json")
			if code != 0 || !strings.Contains(out, `"changed": true`) {
				t.Fatalf("unfreeze: %d %s %s", code, out, errOut)
			}
			if a.kind == "flux" {
				requestReconcile(t, a.ns)
			}
			waitDeployment(t, a.ns, replicasAre(2))
		})
	}
}

func requestReconcile(t *testing.T, ns string) {
	t.Helper()
	now := time.Now().Format(time.RFC3339Nano)
	ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, meta.ReconcileRequestAnnotation, now)
	if err := suite.client.Patch(context.Background(), ks, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatal(err)
	}
}
