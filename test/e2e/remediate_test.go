//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/remediate"
)

// The failure images: the local environment's kwok stages (see
// test/e2e/cluster/stages) OOM-kill containers whose image contains
// "e2e-oom" while their memory limit is below 128Mi, and never pull images
// containing "doesnotexist".
const (
	oomImage      = "registry.example.com/shop/web-e2e-oom:1.0"
	goodImage     = "registry.k8s.io/pause:3.10"
	crashImage    = "registry.example.com/shop/web-e2e-crashloop:2.0"
	notFoundImage = "registry.example.com/shop/web-doesnotexist:2.0"
)

// shopRepo is a kustomize layout where the prod overlay patches the
// container's memory limit: the fix belongs in that patch, not in the base
// the dev overlay shares.
func shopRepo(image, prodLimit string) map[string]string {
	return map[string]string{
		"base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
		"base/deployment.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: %s
          resources:
            requests: {cpu: 50m, memory: 32Mi}
            limits: {memory: 96Mi}
`, image),
		"overlays/prod/kustomization.yaml": "resources:\n  - ../../base\npatches:\n  - path: memory.yaml\n",
		"overlays/prod/memory.yaml": fmt.Sprintf(`# prod runs with a tighter memory budget
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          resources:
            limits:
              memory: %s
`, prodLimit),
		"overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n",
	}
}

// setupShopApp deploys files with the given owner (flux or argocd) and
// returns once the Deployment exists; it may be broken.
func setupShopApp(t *testing.T, kind string, files map[string]string) *gitopsApp {
	t.Helper()
	a := &gitopsApp{kind: kind, ns: newNamespace(t, "dot-rem-"+kind), ownerName: "web"}
	var sha string
	a.repo, sha = newRepo(t, "dot-rem-"+kind, files)
	switch kind {
	case "flux":
		// wait: true, as teams run it: the Kustomization is Ready only when
		// the Deployment is healthy.
		createAll(t, fluxOwner(a.ns, a.repo, 20*time.Second)...)
	case "argocd":
		a.ownerName = a.ns
		app := argoApplication(a.ownerName, a.ns, a.repo)
		createAll(t, app)
		t.Cleanup(func() { suite.client.Delete(context.Background(), app) })
		waitAppSynced(t, a.ownerName, sha, false)
	default:
		t.Fatalf("unknown owner kind %q", kind)
	}
	eventually(t, 90*time.Second, "deployment "+a.ns+"/web exists", func(ctx context.Context) (bool, string, error) {
		var d appsv1.Deployment
		err := suite.client.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "web"}, &d)
		return err == nil, fmt.Sprintf("get: %v", err), nil
	}, "kustomize-controller", "argocd-application-controller")
	return a
}

// waitPodsIn waits until a pod of web in ns has a container waiting with
// reason (CrashLoopBackOff, ImagePullBackOff), as kwok's failure stages
// report it.
func waitPodsIn(t *testing.T, ns, reason string) {
	t.Helper()
	eventually(t, 60*time.Second, "a pod of web in "+reason, func(ctx context.Context) (bool, string, error) {
		var pods corev1.PodList
		if err := suite.client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": "web"}); err != nil {
			return false, "", err
		}
		var states []string
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.State.Waiting != nil {
					states = append(states, p.Name+": "+cs.State.Waiting.Reason)
					if cs.State.Waiting.Reason == reason {
						return true, "", nil
					}
				}
			}
		}
		return false, strings.Join(states, ", "), nil
	}, "kwok")
}

// requestSourceReconcile asks the GitRepository web in ns to fetch the
// branch tip now.
func requestSourceReconcile(t *testing.T, ns string) {
	t.Helper()
	gr := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, meta.ReconcileRequestAnnotation, time.Now().Format(time.RFC3339Nano))
	if err := suite.client.Patch(context.Background(), gr, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

// runRemediate runs dot remediate with -o json and decodes the report.
func runRemediate(t *testing.T, wantCode int, args ...string) *remediate.Report {
	t.Helper()
	start := time.Now()
	out, errOut, code := dotCLI(t, append([]string{"remediate"}, append(args, "-o", "json")...)...)
	t.Logf("dot remediate %s: exit %d in %s\nstderr:\n%s", strings.Join(args, " "), code, time.Since(start).Round(time.Millisecond), errOut)
	var rep remediate.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, out)
	}
	if code != wantCode {
		t.Fatalf("exit %d, want %d\nstdout:\n%s", code, wantCode, out)
	}
	return &rep
}

func findingIDs(fs []remediate.Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	return ids
}

// delivered returns the one delivered fix of the report.
func delivered(t *testing.T, rep *remediate.Report, rule string) remediate.FixReport {
	t.Helper()
	for _, f := range rep.Fixes {
		if f.Decision == remediate.DecisionDelivered {
			if f.Rule != rule {
				t.Fatalf("delivered %s (%s), want %s", f.Rule, f.Title, rule)
			}
			return f
		}
	}
	t.Fatalf("nothing delivered: %+v", rep.Fixes)
	return remediate.FixReport{}
}

// checkOneCommit checks that the fix is one commit, on top of before, that
// changes only file (or, for a file ending in "/", files under it), and
// that the owner applied it healthy.
func checkOneCommit(t *testing.T, a *gitopsApp, before string, fix remediate.FixReport, file string) {
	t.Helper()
	ctx := context.Background()
	if fix.Result == nil || len(fix.Result.Git) != 1 {
		t.Fatalf("want one Git delivery, got %+v", fix.Result)
	}
	g := fix.Result.Git[0]
	head, _ := suite.git.Head(ctx, a.repo, "main")
	log, _ := suite.git.Log(ctx, a.repo, "main")
	if g.Commit != head || len(log) < 2 || log[1] != before {
		t.Errorf("commit %s, head %s, log %v: want exactly one commit on top of %s", g.Commit, head, log, before)
	}
	ok := len(g.Files) > 0
	for _, f := range g.Files {
		ok = ok && (f == file || strings.HasSuffix(file, "/") && strings.HasPrefix(f, file))
	}
	if !ok {
		t.Errorf("changed %v, want only %s", g.Files, file)
	}
	if g.Sync == nil || !g.Sync.Synced || g.Sync.Health != "Healthy" {
		t.Errorf("sync %+v", g.Sync)
	}
}

// TestRemediateOOMKilled (issue 8): an app OOMKilled at its prod memory
// limit is diagnosed (with its owner), fixed by one commit raising the
// limit in the prod overlay's patch — not the base dev shares — and
// verified healthy; for Flux and Argo CD.
func TestRemediateOOMKilled(t *testing.T) {
	for _, kind := range []string{"flux", "argocd"} {
		t.Run(kind, func(t *testing.T) {
			a := setupShopApp(t, kind, shopRepo(oomImage, "64Mi"))
			waitPodsIn(t, a.ns, "CrashLoopBackOff")
			before, _ := suite.git.Head(context.Background(), a.repo, "main")

			// A dry run diagnoses and plans without changing anything.
			rep := runRemediate(t, 4, "deployment/web", "-n", a.ns, "--dry-run")
			if len(rep.Findings) == 0 || rep.Findings[0].ID != remediate.FindingOOMKilled || rep.Findings[0].Owner == nil {
				t.Fatalf("dry run findings %v (first %+v)", findingIDs(rep.Findings), rep.Findings)
			}
			f := rep.Findings[0]
			wantOwner := map[string]string{"flux": "Kustomization " + a.ns + "/web", "argocd": "Application argocd/" + a.ownerName}[kind]
			if f.Owner.Owner != wantOwner || !strings.Contains(f.Owner.Source, "overlays/prod") || f.Owner.File != "overlays/prod/memory.yaml:13" {
				t.Errorf("owner %+v, want %s, source overlays/prod, file overlays/prod/memory.yaml:13", f.Owner, wantOwner)
			}
			if head, _ := suite.git.Head(context.Background(), a.repo, "main"); head != before {
				t.Fatalf("a dry run pushed %s", head)
			}

			args := []string{"deployment/web", "-n", a.ns, "--auto"}
			if kind == "argocd" {
				args = []string{"pod/" + anyPod(t, a.ns).Name, "-n", a.ns, "--yes"}
			}
			rep = runRemediate(t, 0, args...)
			checkMemoryFixed(t, a, before, rep)
		})
	}
}

// checkMemoryFixed checks a delivered raise-memory-limit fix on a shop app
// whose prod overlay limits web to 64Mi: one commit raising it to 164Mi in
// overlays/prod/memory.yaml (its comment kept), the shared base unchanged,
// the findings verified resolved and the Deployment available with the new
// limit.
func checkMemoryFixed(t *testing.T, a *gitopsApp, before string, rep *remediate.Report) {
	t.Helper()
	fix := delivered(t, rep, "raise-memory-limit")
	if fix.Risk != remediate.RiskLow || fix.Confidence < 0.8 || !strings.Contains(fix.Title, "from 64Mi to 164Mi") {
		t.Errorf("fix %s risk %s confidence %.2f", fix.Title, fix.Risk, fix.Confidence)
	}
	checkOneCommit(t, a, before, fix, "overlays/prod/memory.yaml")
	if got := fileAt(t, a.repo, "overlays/prod/memory.yaml"); !strings.Contains(got, "memory: 164Mi") || !strings.HasPrefix(got, "# prod runs") {
		t.Errorf("overlays/prod/memory.yaml after the fix:\n%s", got)
	}
	if fileAt(t, a.repo, "base/deployment.yaml") != shopRepo(oomImage, "64Mi")["base/deployment.yaml"] {
		t.Error("the shared base changed")
	}
	if v := rep.Verification; v == nil || v.Status != remediate.StatusResolved {
		t.Errorf("verification %+v", v)
	} else {
		t.Logf("fix %q verified %s in %s; resolved %v", fix.Title, v.Status, v.Took, v.Resolved)
	}
	waitDeployment(t, a.ns, func(d *appsv1.Deployment) bool {
		return d.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().Cmp(resource.MustParse("164Mi")) == 0 && deploymentAvailable(d)
	})
}

// TestRemediateImagePull (issue 8): a commit that sets an image that cannot
// be pulled is fixed by one commit setting the image that ran before
// (read from the Deployment's ReplicaSets), in the file that sets it.
func TestRemediateImagePull(t *testing.T) {
	files := shopRepo(goodImage, "128Mi")
	a := setupShopApp(t, "flux", files)
	waitDeployment(t, a.ns, func(d *appsv1.Deployment) bool { return deploymentAvailable(d) })
	files["base/deployment.yaml"] = strings.Replace(files["base/deployment.yaml"], goodImage, notFoundImage, 1)
	before := push(t, a.repo, files, "web 2.0")
	requestSourceReconcile(t, a.ns)
	requestReconcile(t, a.ns)
	waitPodsIn(t, a.ns, "ImagePullBackOff")

	rep := runRemediate(t, 0, "deployment/web", "-n", a.ns, "--auto")
	if !slices.Contains(findingIDs(rep.Findings), remediate.FindingImagePull) {
		t.Fatalf("findings %v", findingIDs(rep.Findings))
	}
	checkImageFixed(t, a, before, rep, "previous-image", "back to "+goodImage, 0.9)
}

// checkImageFixed checks a delivered fix that returns web to goodImage:
// the rule, its title and confidence, one commit in the prod overlay (the
// base is shared with overlays/dev), verified resolved, the Deployment
// available on goodImage.
func checkImageFixed(t *testing.T, a *gitopsApp, before string, rep *remediate.Report, rule, title string, confidence float64) {
	t.Helper()
	fix := delivered(t, rep, rule)
	if !strings.Contains(fix.Title, title) || fix.Confidence != confidence {
		t.Errorf("fix %q confidence %.2f, want %q and %.2f", fix.Title, fix.Confidence, title, confidence)
	}
	checkOneCommit(t, a, before, fix, "overlays/prod/")
	if v := rep.Verification; v == nil || v.Status != remediate.StatusResolved {
		t.Errorf("verification %+v", v)
	}
	waitDeployment(t, a.ns, func(d *appsv1.Deployment) bool {
		return d.Spec.Template.Spec.Containers[0].Image == goodImage && deploymentAvailable(d)
	})
}

// TestRemediateCrashLoop (issue 8): a new image that crash-loops while the
// previous ReplicaSet still serves is rolled back by one commit, on an app
// Argo CD delivers.
func TestRemediateCrashLoop(t *testing.T) {
	ctx := context.Background()
	files := shopRepo(goodImage, "128Mi")
	a := setupShopApp(t, "argocd", files)
	waitDeployment(t, a.ns, func(d *appsv1.Deployment) bool { return deploymentAvailable(d) })
	files["base/deployment.yaml"] = strings.Replace(files["base/deployment.yaml"], goodImage, crashImage, 1)
	before := push(t, a.repo, files, "web 2.0")
	gc := gitopsCluster(t)
	owner, err := gc.FindOwner(ctx, a.deployment())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gc.Trigger(ctx, owner, gitops.WaitOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPodsIn(t, a.ns, "CrashLoopBackOff")

	rep := runRemediate(t, 0, "deployment/web", "-n", a.ns, "--auto")
	checkImageFixed(t, a, before, rep, "roll-back-image", "to "+goodImage, 0.8)
}

// TestRemediateUnmanaged (issue 8): without an owner, the memory limit is
// raised by server-side apply (field manager dot), and evicted pods are
// deleted directly.
func TestRemediateUnmanaged(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "dot-rem-plain")
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Replicas: new(int32(2)),
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: oomImage, Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("100Mi")}}}}}}}}
	if err := suite.client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitPodsIn(t, ns, "CrashLoopBackOff")
	// An evicted pod left behind, as the kubelet leaves them.
	ev := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-evicted", Namespace: ns, Labels: map[string]string{"app": "web-old"}},
		Spec: corev1.PodSpec{NodeName: "gone-node", Containers: []corev1.Container{{Name: "web", Image: goodImage}}}}
	if err := suite.client.Create(ctx, ev); err != nil {
		t.Fatal(err)
	}
	ev.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "The node was low on resource: memory."}
	if err := suite.client.Status().Update(ctx, ev); err != nil {
		t.Fatal(err)
	}

	rep := runRemediate(t, 0, "-n", ns, "--auto")
	fixes := map[string]remediate.FixReport{}
	for _, f := range rep.Fixes {
		fixes[f.Rule] = f
	}
	oom, evicted := fixes["raise-memory-limit"], fixes["delete-evicted-pods"]
	if oom.Decision != remediate.DecisionDelivered || oom.Result == nil || len(oom.Result.Direct) != 1 || len(oom.Result.Git) != 0 ||
		!strings.Contains(oom.Title, "from 100Mi to 200Mi") {
		t.Errorf("memory fix: %s %s %+v", oom.Title, oom.Decision, oom.Result)
	}
	if evicted.Decision != remediate.DecisionDelivered || evicted.Result == nil || len(evicted.Result.Direct) != 1 || evicted.Result.Direct[0].Status != "deleted" {
		t.Errorf("evicted fix: %s %s %s %+v", evicted.Title, evicted.Decision, evicted.Why, evicted.Result)
	}
	if v := rep.Verification; v == nil || v.Status != remediate.StatusResolved {
		t.Errorf("verification %+v", v)
	}
	var got appsv1.Deployment
	if err := suite.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &got); err != nil {
		t.Fatal(err)
	}
	managers := []string{}
	for _, m := range got.ManagedFields {
		managers = append(managers, m.Manager)
	}
	if !slices.Contains(managers, "dot") || got.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String() != "200Mi" {
		t.Errorf("deployment after the fix: limit %s, managers %v", got.Spec.Template.Spec.Containers[0].Resources.Limits.Memory(), managers)
	}
}

// Images of the spec-rule cases: kwok's not-ready stage keeps a container
// whose image contains "e2e-probe" unready while its readiness probe
// checks a port the container does not declare.
const probeImage = "registry.example.com/shop/web-e2e-probe:1.0"

// ruleRepo is a kustomize layout with a shared base (a Deployment exposing
// port 8080, a Service, a ConfigMap) and a prod overlay that the owners
// deploy; extra adds or replaces files, and patches lists the prod
// overlay's patch files (their "path:" entries).
func ruleRepo(image string, extra map[string]string, patches ...string) map[string]string {
	files := map[string]string{
		"base/kustomization.yaml": "resources:\n  - deployment.yaml\n  - service.yaml\n  - configmap.yaml\n",
		"base/deployment.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: %s
          ports:
            - containerPort: 8080
          resources:
            requests: {memory: 32Mi}
`, image),
		"base/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
    - port: 80
      targetPort: 8080
`,
		"base/configmap.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-settings\ndata:\n  log_level: info\n",
		"overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n",
	}
	prod := "resources:\n  - ../../base\n"
	if len(patches) > 0 {
		prod += "patches:\n"
		for _, p := range patches {
			prod += "  - path: " + p + "\n"
		}
	}
	files["overlays/prod/kustomization.yaml"] = prod
	for k, v := range extra {
		files[k] = v
	}
	return files
}

// waitPodsMatch waits until a pod of web in ns satisfies cond.
func waitPodsMatch(t *testing.T, ns, what string, cond func(*corev1.Pod) bool) {
	t.Helper()
	eventually(t, 60*time.Second, "a pod of web "+what, func(ctx context.Context) (bool, string, error) {
		var pods corev1.PodList
		if err := suite.client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": "web"}); err != nil {
			return false, "", err
		}
		var states []string
		for i := range pods.Items {
			if cond(&pods.Items[i]) {
				return true, "", nil
			}
			states = append(states, fmt.Sprintf("%s: %s", pods.Items[i].Name, pods.Items[i].Status.Phase))
		}
		return false, strings.Join(states, ", "), nil
	}, "kwok")
}

func runningUnready(p *corev1.Pod) bool {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running != nil && !cs.Ready {
			return true
		}
	}
	return false
}

// TestRemediateSpecRules (issue 8): for each rule that reads the objects'
// specs — probe port, config reference, service selector, targetPort, HPA
// requests — a broken app managed by Flux or Argo CD (alternately) is
// diagnosed with its owner, fixed by one commit in the file that defines
// the field (the prod overlay, never the base dev shares), and verified
// resolved.
func TestRemediateSpecRules(t *testing.T) {
	cases := []struct {
		name, kind string
		files      map[string]string
		// broken waits until the failure shows; nil when the spec alone
		// shows it (kwok cannot see ConfigMaps, Services or metrics).
		broken  func(t *testing.T, ns string)
		flags   []string
		finding string
		rule    string
		// file is the one file the commit changes (a prefix when it ends in
		// "/"); want is in that file after the fix.
		file, want string
		// fixed checks the applied Deployment (and the Service).
		fixed func(t *testing.T, ns string)
	}{{
		name: "probe-port", kind: "argocd",
		files: ruleRepo(probeImage, map[string]string{"overlays/prod/probe.yaml": `# prod checks readiness before taking traffic
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          readinessProbe:
            httpGet:
              path: /healthz
              port: 8081
`}, "probe.yaml"),
		broken:  func(t *testing.T, ns string) { waitPodsMatch(t, ns, "running unready", runningUnready) },
		flags:   []string{"--auto"},
		finding: remediate.FindingProbePort, rule: "probe-port",
		file: "overlays/prod/probe.yaml", want: "port: 8080",
		fixed: func(t *testing.T, ns string) {
			waitDeployment(t, ns, func(d *appsv1.Deployment) bool {
				p := d.Spec.Template.Spec.Containers[0].ReadinessProbe
				return p != nil && p.HTTPGet.Port.IntValue() == 8080 && deploymentAvailable(d)
			})
		},
	}, {
		name: "config-key", kind: "flux",
		files: ruleRepo(goodImage, map[string]string{"overlays/prod/env.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          env:
            - name: LOG_LEVEL
              valueFrom:
                configMapKeyRef:
                  name: web-settings
                  key: log-level
`}, "env.yaml"),
		flags:   []string{"--auto"},
		finding: remediate.FindingMissingConfigRef, rule: "fix-config-reference",
		file: "overlays/prod/env.yaml", want: "key: log_level",
		fixed: func(t *testing.T, ns string) {
			waitDeployment(t, ns, func(d *appsv1.Deployment) bool {
				env := d.Spec.Template.Spec.Containers[0].Env
				return len(env) == 1 && env[0].ValueFrom.ConfigMapKeyRef.Key == "log_level" && deploymentAvailable(d)
			})
		},
	}, {
		name: "service-selector", kind: "argocd",
		files: ruleRepo(goodImage, map[string]string{"base/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: wbe
  ports:
    - port: 80
      targetPort: 8080
`}),
		flags:   []string{"--auto", "--max-risk", "medium"},
		finding: remediate.FindingServiceNoPods, rule: "align-service-selector",
		// The selector is in the base, which overlays/dev shares: the fix
		// goes into the prod overlay.
		file: "overlays/prod/", want: "app: web",
		fixed: func(t *testing.T, ns string) {
			waitService(t, ns, func(s *corev1.Service) bool { return s.Spec.Selector["app"] == "web" })
		},
	}, {
		name: "target-port", kind: "flux",
		files: ruleRepo(goodImage, map[string]string{"overlays/prod/service-port.yaml": `# prod serves on the new port
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
    - port: 80
      targetPort: 8081
`}, "service-port.yaml"),
		flags:   []string{"--auto"},
		finding: remediate.FindingServiceTargetPort, rule: "service-target-port",
		file: "overlays/prod/service-port.yaml", want: "targetPort: 8080",
		fixed: func(t *testing.T, ns string) {
			waitService(t, ns, func(s *corev1.Service) bool { return s.Spec.Ports[0].TargetPort.IntValue() == 8080 })
		},
	}, {
		name: "hpa-requests", kind: "flux",
		files: ruleRepo(goodImage, map[string]string{
			"overlays/prod/kustomization.yaml": "resources:\n  - ../../base\n  - hpa.yaml\n",
			"overlays/prod/hpa.yaml": `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 4
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: 70}
`}),
		flags:   []string{"--auto", "--max-risk", "medium"},
		finding: remediate.FindingHPAMissingRequests, rule: "add-cpu-requests",
		file: "overlays/prod/", want: "cpu: 100m",
		fixed: func(t *testing.T, ns string) {
			waitDeployment(t, ns, func(d *appsv1.Deployment) bool {
				return d.Spec.Template.Spec.Containers[0].Resources.Requests.Cpu().String() == "100m" && deploymentAvailable(d)
			})
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := setupShopApp(t, tc.kind, tc.files)
			if tc.broken != nil {
				tc.broken(t, a.ns)
			} else {
				waitDeployment(t, a.ns, deploymentAvailable)
			}
			ctx := context.Background()
			before, _ := suite.git.Head(ctx, a.repo, "main")

			rep := runRemediate(t, 0, append([]string{"-n", a.ns}, tc.flags...)...)
			var f *remediate.Finding
			for i := range rep.Findings {
				if rep.Findings[i].ID == tc.finding {
					f = &rep.Findings[i]
				}
			}
			if f == nil {
				t.Fatalf("findings %v, want %s", findingIDs(rep.Findings), tc.finding)
			}
			wantOwner := map[string]string{"flux": "Kustomization " + a.ns + "/web", "argocd": "Application argocd/" + a.ownerName}[tc.kind]
			if f.Owner == nil || f.Owner.Owner != wantOwner || !strings.Contains(f.Owner.Source, "overlays/prod") {
				t.Errorf("owner %+v, want %s from overlays/prod", f.Owner, wantOwner)
			}
			t.Logf("finding %s: %s (owner %s, file %s)", f.ID, f.Summary, f.Owner.Owner, f.Owner.File)
			fix := delivered(t, rep, tc.rule)
			checkOneCommit(t, a, before, fix, tc.file)
			// A new patch comes with its kustomization.yaml entry: the value
			// is in one of the changed files.
			var changed []string
			for _, g := range fix.Result.Git {
				for _, name := range g.Files {
					changed = append(changed, "--- "+name+"\n"+fileAt(t, a.repo, name))
				}
			}
			if all := strings.Join(changed, ""); !strings.Contains(all, tc.want) {
				t.Errorf("no %q in the changed files:\n%s", tc.want, all)
			}
			for name, content := range tc.files {
				if strings.HasPrefix(name, "base/") && fileAt(t, a.repo, name) != content {
					t.Errorf("the shared base changed: %s", name)
				}
			}
			if v := rep.Verification; v == nil || v.Status != remediate.StatusResolved {
				t.Errorf("verification %+v", v)
			} else {
				t.Logf("fix %q (risk %s, confidence %.2f) verified %s in %s", fix.Title, fix.Risk, fix.Confidence, v.Status, v.Took)
			}
			tc.fixed(t, a.ns)
		})
	}
}

// waitService waits until Service web in ns satisfies cond.
func waitService(t *testing.T, ns string, cond func(*corev1.Service) bool) {
	t.Helper()
	eventually(t, 60*time.Second, "service "+ns+"/web", func(ctx context.Context) (bool, string, error) {
		var s corev1.Service
		if err := suite.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &s); err != nil {
			return false, "", err
		}
		return cond(&s), fmt.Sprintf("selector %v, ports %v", s.Spec.Selector, s.Spec.Ports), nil
	})
}

// TestRemediateAdviceOnly (issue 8): an Ingress whose class does not
// exist, a disruption budget that blocks every eviction, a CronJob
// scheduled on 30 February and a Job whose pod exits 1 (kwok's crash-loop
// stage fails pods with restartPolicy Never), delivered by Flux, are
// diagnosed with their owner; no rule is sure about them, so dot explains,
// lists options and commits nothing, even with --auto.
func TestRemediateAdviceOnly(t *testing.T) {
	files := ruleRepo(goodImage, map[string]string{
		"overlays/prod/kustomization.yaml": "resources:\n  - ../../base\n  - ingress.yaml\n  - pdb.yaml\n  - cronjob.yaml\n  - job.yaml\n",
		"overlays/prod/job.yaml": fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: %s
`, crashImage),
		"overlays/prod/ingress.yaml": `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  ingressClassName: ngnix
  rules:
    - host: shop.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: web, port: {number: 80}}}
`,
		"overlays/prod/pdb.yaml": `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
spec:
  minAvailable: 2
  selector:
    matchLabels: {app: web}
`,
		"overlays/prod/cronjob.yaml": `apiVersion: batch/v1
kind: CronJob
metadata:
  name: cleanup
spec:
  schedule: "0 3 30 2 *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: cleanup
              image: registry.k8s.io/pause:3.10
`,
	})
	a := setupShopApp(t, "flux", files)
	waitDeployment(t, a.ns, deploymentAvailable)
	// The disruption controller computes the budget from the ready pods.
	eventually(t, 60*time.Second, "budget web computed", func(ctx context.Context) (bool, string, error) {
		var pdb policyv1.PodDisruptionBudget
		if err := suite.client.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "web"}, &pdb); err != nil {
			return false, "", err
		}
		st := pdb.Status
		return st.ExpectedPods == 2 && st.CurrentHealthy == 2, fmt.Sprintf("expected %d healthy %d allowed %d", st.ExpectedPods, st.CurrentHealthy, st.DisruptionsAllowed), nil
	}, "kube-controller-manager")
	eventually(t, 60*time.Second, "job migrate failed", func(ctx context.Context) (bool, string, error) {
		var j batchv1.Job
		if err := suite.client.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "migrate"}, &j); err != nil {
			return false, "", err
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("active %d failed %d conditions %v", j.Status.Active, j.Status.Failed, j.Status.Conditions), nil
	}, "kube-controller-manager", "kwok")
	before, _ := suite.git.Head(context.Background(), a.repo, "main")

	rep := runRemediate(t, 0, "-n", a.ns, "--auto")
	wantOwner := "Kustomization " + a.ns + "/web"
	got := map[string]remediate.Finding{}
	for _, f := range rep.Findings {
		got[f.ID+" "+f.Object.Kind+"/"+f.Object.Name] = f
	}
	for _, k := range []string{"IngressClassMissing Ingress/web", "PDBBlocksDisruption PodDisruptionBudget/web", "CronJobInvalidSchedule CronJob/cleanup", "JobFailed Job/migrate"} {
		f, ok := got[k]
		if !ok {
			t.Errorf("no finding %s in %v", k, findingIDs(rep.Findings))
			continue
		}
		if f.Owner == nil || f.Owner.Owner != wantOwner {
			t.Errorf("%s: owner %+v, want %s", k, f.Owner, wantOwner)
		}
		t.Logf("%s: %s", k, f.Summary)
	}
	if f := got["JobFailed Job/migrate"]; !strings.Contains(f.Summary, "BackoffLimitExceeded") || !strings.Contains(f.Summary, "exit code 1): fatal: configuration invalid") {
		t.Errorf("job finding %q: want the backoff limit and the failed pod's termination", f.Summary)
	}
	for _, fx := range rep.Fixes {
		if fx.Decision == remediate.DecisionDelivered || fx.Rule != "advice" || len(fx.Options) == 0 {
			t.Errorf("fix %s (%s): decision %s, options %v: want advice only", fx.Rule, fx.Title, fx.Decision, fx.Options)
		}
	}
	if head, _ := suite.git.Head(context.Background(), a.repo, "main"); head != before {
		t.Errorf("advice committed %s", head)
	}
}
