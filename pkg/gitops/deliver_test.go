package gitops

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/internal/fixture"
	"github.com/dot-ai/dot/internal/gitserver"
	"github.com/dot-ai/dot/pkg/kube"
)

// deliverEnv is a real git server holding a kustomize repo, and a fake
// cluster whose Argo CD Application points at it.
type deliverEnv struct {
	srv *gitserver.Server
	d   *Deliverer
}

const overlayRepo = "apps"

func newDeliverEnv(t *testing.T, targetRevision string) *deliverEnv {
	t.Helper()
	srv, err := gitserver.Start(context.Background(), gitserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	_, err = srv.Seed(context.Background(), overlayRepo, map[string]string{
		"base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
		"base/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1 # the base default
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: web:1.0
`,
		"overlays/prod/kustomization.yaml": "namespace: prod\nresources:\n  - ../../base\nreplicas:\n  - name: web\n    count: 2 # prod runs two\n",
		"overlays/dev/kustomization.yaml":  "namespace: dev\nresources:\n  - ../../base\n",
	}, "initial layout")
	if err != nil {
		t.Fatal(err)
	}
	objs := []client.Object{
		obj(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"argocd-cm","namespace":"argocd"},"data":{"application.resourceTrackingMethod":"annotation"}}`),
		obj(`{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":"web","namespace":"argocd"},
		  "spec":{"project":"default","source":{"repoURL":"` + srv.RepoURL(overlayRepo) + `","targetRevision":"` + targetRevision + `","path":"overlays/prod"},
		  "destination":{"server":"https://kubernetes.default.svc","namespace":"prod"}}}`),
		obj(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod","annotations":{"argocd.argoproj.io/tracking-id":"web:apps/Deployment:prod/web"}},
		  "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"web:1.0"}]}}}}`),
	}
	c := &Cluster{Client: fixture.NewBuilder().WithObjects(objs...).Build()}
	return &deliverEnv{srv: srv, d: &Deliverer{Cluster: c, Options: Options{NoWait: true}}}
}

func obj(js string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(js)); err != nil {
		panic(err)
	}
	return u
}

func scaleWeb(n int64, expect any) ChangeSet {
	return ChangeSet{Title: "scale deployment/web to 5 (prod)", Operation: "scale", Changes: []Change{{
		Object: kube.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "prod", Name: "web"},
		Action: ActionSet, Reason: "scale deployment/web", Fields: []FieldChange{{Path: "spec.replicas", Value: n, Expect: expect}},
	}}}
}

func show(t *testing.T, srv *gitserver.Server, rev, path string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", srv.RepoPath(overlayRepo), "show", rev+":"+path).CombinedOutput()
	if err != nil {
		t.Fatalf("git show %s:%s: %v %s", rev, path, err, out)
	}
	return string(out)
}

func TestDeliverEditsTheOverlayAndPushesOneCommit(t *testing.T) {
	e := newDeliverEnv(t, "main")
	ctx := context.Background()
	before, _ := e.srv.Head(ctx, overlayRepo, "main")
	plan, res, err := e.d.Deliver(ctx, scaleWeb(5, int64(2)))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Git) != 1 || len(plan.Direct) != 0 {
		t.Fatalf("plan: %+v", plan)
	}
	g := plan.Git[0]
	if g.Owner.String() != "Application argocd/web" || g.Base != before || strings.Join(g.Files, ",") != "overlays/prod/kustomization.yaml" {
		t.Errorf("plan group: owner %s base %s files %v", g.Owner, g.Base, g.Files)
	}
	if !strings.Contains(g.Diff, "-    count: 2 # prod runs two\n+    count: 5 # prod runs two\n") {
		t.Errorf("diff does not edit the overlay's replicas entry in place:\n%s", g.Diff)
	}
	if len(res.Git) != 1 || res.Git[0].Status != "configured" || res.Git[0].Commit == "" {
		t.Fatalf("result: %+v", res.Git)
	}
	head, _ := e.srv.Head(ctx, overlayRepo, "main")
	if head != res.Git[0].Commit {
		t.Errorf("server head %s, result commit %s", head, res.Git[0].Commit)
	}
	if got := show(t, e.srv, "main", "base/deployment.yaml"); !strings.Contains(got, "replicas: 1 # the base default") {
		t.Errorf("the shared base was edited:\n%s", got)
	}
	msg, _ := exec.Command("git", "-C", e.srv.RepoPath(overlayRepo), "log", "-1", "--format=%B").Output()
	for _, want := range []string{"dot: scale deployment/web to 5 (prod)", "Dot-Operation: scale", "Dot-Object: apps/Deployment prod/web", "Dot-Owner: Application argocd/web"} {
		if !strings.Contains(string(msg), want) {
			t.Errorf("commit message lacks %q:\n%s", want, msg)
		}
	}

	// Delivering the same change again commits nothing.
	_, res, err = e.d.Deliver(ctx, scaleWeb(5, nil))
	if err != nil || res.Git[0].Status != "unchanged" {
		t.Errorf("second delivery: %+v, %v", res, err)
	}
	if h, _ := e.srv.Head(ctx, overlayRepo, "main"); h != head {
		t.Error("an unchanged delivery moved the branch")
	}

	// History finds dot's commit by its trailer; ActionRevert undoes it.
	_, commits, err := e.d.History(ctx, scaleWeb(0, nil).Changes[0].Object)
	if err != nil || len(commits) != 1 || commits[0].SHA != head {
		t.Fatalf("History = %v, %v", commits, err)
	}
	rb := ChangeSet{Title: "roll back deployment/web", Operation: "rollback", Changes: []Change{{
		Object: scaleWeb(0, nil).Changes[0].Object, Action: ActionRevert, Revert: []string{head}}}}
	if _, _, err := e.d.Deliver(ctx, rb); err != nil {
		t.Fatal(err)
	}
	if got := show(t, e.srv, "main", "overlays/prod/kustomization.yaml"); !strings.Contains(got, "count: 2 # prod runs two") {
		t.Errorf("revert did not restore the overlay:\n%s", got)
	}
	if _, commits, _ := e.d.History(ctx, scaleWeb(0, nil).Changes[0].Object); len(commits) != 0 {
		t.Errorf("a reverted commit is still listed: %v", commits)
	}
}

func TestDeliverDryRunChangesNothing(t *testing.T) {
	e := newDeliverEnv(t, "main")
	e.d.Options.DryRun = DryRunClient
	ctx := context.Background()
	before, _ := e.srv.Head(ctx, overlayRepo, "main")
	plan, res, err := e.d.Deliver(ctx, scaleWeb(7, nil))
	if err != nil || !plan.HasChanges() || res.Git[0].Status != "skipped" {
		t.Fatalf("dry run: %+v %+v %v", plan, res, err)
	}
	loc := plan.Git[0].Changes[0].Locations
	if len(loc) != 1 || loc[0].File != "overlays/prod/kustomization.yaml" || loc[0].Line == 0 {
		t.Errorf("locations = %+v", loc)
	}
	if after, _ := e.srv.Head(ctx, overlayRepo, "main"); after != before {
		t.Error("a dry run pushed")
	}
}

func TestDeliverConflictAndUnpushableRef(t *testing.T) {
	e := newDeliverEnv(t, "main")
	_, _, err := e.d.Deliver(context.Background(), scaleWeb(5, int64(3)))
	if !errors.Is(err, ErrConflict) {
		t.Errorf("expected 3 but Git holds 2: err = %v, want ErrConflict", err)
	}
	e = newDeliverEnv(t, "3f786850e387550fdab836ed7e6dc881de23001b")
	_, _, err = e.d.Deliver(context.Background(), scaleWeb(5, nil))
	if !errors.Is(err, ErrRefNotPushable) {
		t.Errorf("commit ref: err = %v, want ErrRefNotPushable", err)
	}
}

// TestDeliverConcurrent: 20 deliveries at once, each changing a different
// Deployment of the same repository branch: every commit lands, none is
// lost, and the branch only ever moved forward.
func TestDeliverConcurrent(t *testing.T) {
	const n = 20
	ctx := context.Background()
	srv, err := gitserver.Start(ctx, gitserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	files := map[string]string{}
	objs := []client.Object{
		obj(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"argocd-cm","namespace":"argocd"},"data":{"application.resourceTrackingMethod":"annotation"}}`),
		obj(`{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":"fleet","namespace":"argocd"},
		  "spec":{"project":"default","source":{"repoURL":"` + srv.RepoURL("fleet") + `","targetRevision":"main","path":"apps"},"destination":{"namespace":"prod"}}}`),
	}
	for i := range n {
		name := fmt.Sprintf("web-%02d", i)
		files["apps/"+name+".yaml"] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  namespace: prod\nspec:\n  replicas: 1 # keep this comment\n", name)
		objs = append(objs, obj(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"`+name+`","namespace":"prod","annotations":{"argocd.argoproj.io/tracking-id":"fleet:apps/Deployment:prod/`+name+`"}}}`))
	}
	base, err := srv.Seed(ctx, "fleet", files, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Client: fixture.NewBuilder().WithObjects(objs...).Build()}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &Deliverer{Cluster: c, Options: Options{NoWait: true}}
			cs := ChangeSet{Title: fmt.Sprintf("scale web-%02d", i), Operation: "scale", Changes: []Change{{
				Object: kube.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "prod", Name: fmt.Sprintf("web-%02d", i)},
				Action: ActionSet, Fields: []FieldChange{{Path: "spec.replicas", Value: i + 2, Expect: 1}}}}}
			_, _, errs[i] = d.Deliver(ctx, cs)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("delivery %d: %v", i, err)
		}
	}
	log, _ := srv.Log(ctx, "fleet", "main")
	if len(log) != n+1 || log[n] != base {
		t.Errorf("%d commits on main, want %d on top of the seed", len(log)-1, n)
	}
	for i := range n {
		got := show2(t, srv, "fleet", fmt.Sprintf("apps/web-%02d.yaml", i))
		if !strings.Contains(got, fmt.Sprintf("replicas: %d # keep this comment", i+2)) {
			t.Errorf("web-%02d lost its change:\n%s", i, got)
		}
	}
	if ok, err := srv.IsFastForwardHistory(ctx, "fleet", "main"); err != nil || !ok {
		t.Errorf("branch was force-updated: %v %v", ok, err)
	}
}

func show2(t *testing.T, srv *gitserver.Server, repo, path string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", srv.RepoPath(repo), "show", "main:"+path).CombinedOutput()
	if err != nil {
		t.Fatalf("git show %s: %v %s", path, err, out)
	}
	return string(out)
}

// A Create with a Target writes the new object to that repository path,
// even though nothing deploys it yet (recommend then creates the owner).
func TestDeliverCreateToTarget(t *testing.T) {
	ctx := context.Background()
	srv, err := gitserver.Start(ctx, gitserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.Seed(ctx, "platform", map[string]string{"README.md": "apps live under apps/\n"}, "init"); err != nil {
		t.Fatal(err)
	}
	d := &Deliverer{Cluster: &Cluster{Client: fixture.NewBuilder().Build()}, Options: Options{NoWait: true}}
	cm := obj(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shop-config","namespace":"shop"},"data":{"PORT":"8080"}}`)
	cs := ChangeSet{Title: "add shop", Operation: "recommend", Changes: []Change{{
		Object: kube.RefOf(cm), Action: ActionCreate, Manifest: cm,
		Target: &Target{RepoURL: srv.RepoURL("platform"), Branch: "main", Path: "apps/shop"}}}}
	plan, res, err := d.Deliver(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Git) != 1 || plan.Git[0].Owner != nil || len(plan.Direct) != 0 {
		t.Fatalf("plan %+v", plan)
	}
	if len(res.Git) != 1 || res.Git[0].Status != "configured" || strings.Join(res.Git[0].Files, ",") != "apps/shop/configmap-shop-config.yaml" {
		t.Fatalf("result %+v", res.Git)
	}
	got := show2(t, srv, "platform", "apps/shop/configmap-shop-config.yaml")
	if !strings.Contains(got, "name: shop-config") || !strings.Contains(got, "PORT: \"8080\"") {
		t.Errorf("file:\n%s", got)
	}
	// The same create again makes no commit; different content conflicts.
	head, _ := srv.Head(ctx, "platform", "main")
	if _, res, err := d.Deliver(ctx, cs); err != nil || res.Git[0].Status != "unchanged" {
		t.Errorf("same create again: %+v, %v", res, err)
	}
	if h, _ := srv.Head(ctx, "platform", "main"); h != head {
		t.Error("an unchanged create moved the branch")
	}
	cm.Object["data"] = map[string]any{"PORT": "9090"}
	if _, _, err := d.Deliver(ctx, cs); !errors.Is(err, ErrConflict) {
		t.Errorf("create with other content: err = %v, want ErrConflict", err)
	}
}
