package gitops

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/internal/fixture"
	"github.com/dot-ai/dot/internal/gitserver"
	"github.com/dot-ai/dot/pkg/gitops/argocd"
	"github.com/dot-ai/dot/pkg/kube"
)

const claimRepo = "storage"

// claimEnv is a git server holding a kustomize layout whose prod overlay
// sets the claim's StorageClass, and a fake cluster where an Argo CD
// Application (automated sync) deploys it.
func claimEnv(t *testing.T) (*gitserver.Server, *Deliverer, client.WithWatch) {
	t.Helper()
	srv, err := gitserver.Start(context.Background(), gitserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	sha, err := srv.Seed(context.Background(), claimRepo, map[string]string{
		"base/kustomization.yaml": "resources:\n  - pvc.yaml\n",
		"base/pvc.yaml": `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests: {storage: 1Gi}
`,
		"overlays/prod/kustomization.yaml": "namespace: prod\nresources:\n  - ../../base\npatches:\n  - path: storage.yaml\n",
		"overlays/prod/storage.yaml":       "# prod wants fast disks\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  storageClassName: fast-ssd\n",
	}, "initial layout")
	if err != nil {
		t.Fatal(err)
	}
	objs := []client.Object{
		obj(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"argocd-cm","namespace":"argocd"},"data":{"application.resourceTrackingMethod":"annotation"}}`),
		obj(`{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":"web","namespace":"argocd"},
		  "spec":{"project":"default","source":{"repoURL":"` + srv.RepoURL(claimRepo) + `","targetRevision":"main","path":"overlays/prod"},
		  "destination":{"server":"https://kubernetes.default.svc","namespace":"prod"},"syncPolicy":{"automated":{"prune":true,"selfHeal":true}}},
		  "status":{"sync":{"status":"OutOfSync","revision":"` + sha + `"}}}`),
		obj(`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","namespace":"prod","uid":"claim-1",
		  "annotations":{"argocd.argoproj.io/tracking-id":"web:/PersistentVolumeClaim:prod/data"}},
		  "spec":{"storageClassName":"fast-ssd","accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}},
		  "status":{"phase":"Pending"}}`),
	}
	cl := fixture.NewBuilder().WithObjects(objs...).Build()
	return srv, &Deliverer{Cluster: &Cluster{Client: cl}, Options: Options{NoWait: true}}, cl
}

func claimToStandard() ChangeSet {
	return ChangeSet{Title: "set storageClassName of persistentvolumeclaim/data to standard (prod)", Operation: "remediate", Changes: []Change{{
		Object: kube.ObjectRef{Version: "v1", Kind: "PersistentVolumeClaim", Namespace: "prod", Name: "data"}, Action: ActionSet, Recreate: true,
		Reason: "StorageClass fast-ssd does not exist",
		Fields: []FieldChange{{Path: "spec.storageClassName", Value: "standard", Expect: "fast-ssd"}},
	}}}
}

// fakeArgoCD plays the application-controller on the fake cluster: when
// the Application is asked to refresh, it compares the branch tip and, like
// an automated sync that hit the immutable field, records a failed sync at
// it. It stops when ctx ends.
func fakeArgoCD(ctx context.Context, cl client.Client, srv *gitserver.Server) {
	for ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		app := newApplication(client.ObjectKey{Namespace: "argocd", Name: "web"})
		if err := cl.Get(ctx, client.ObjectKeyFromObject(app), app); err != nil {
			continue
		}
		if _, ok := app.GetAnnotations()[argocd.AnnotationRefresh]; !ok {
			continue
		}
		head, err := srv.Head(ctx, claimRepo, "main")
		if err != nil {
			continue
		}
		unstructured.RemoveNestedField(app.Object, "metadata", "annotations", argocd.AnnotationRefresh)
		_ = unstructured.SetNestedField(app.Object, head, "status", "sync", "revision")
		if app.Object["operation"] == nil {
			_ = unstructured.SetNestedField(app.Object, map[string]any{
				"phase": "Failed", "message": "one or more objects failed to apply",
				"startedAt": "2026-03-02T10:00:00Z", "finishedAt": "2026-03-02T10:00:01Z",
				"operation": map[string]any{"sync": map[string]any{"revision": head}, "initiatedBy": map[string]any{"automated": true}},
				"syncResult": map[string]any{"revision": head, "resources": []any{map[string]any{"kind": "PersistentVolumeClaim", "namespace": "prod", "name": "data", "status": "SyncFailed",
					"message": `PersistentVolumeClaim "data" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims`}}},
			}, "status", "operationState")
		}
		_ = cl.Update(ctx, app) // a conflict is tried again on the next round
	}
}

func TestDeliverRecreateThroughArgoCD(t *testing.T) {
	srv, d, cl := claimEnv(t)
	ctx := context.Background()
	before, _ := srv.Head(ctx, claimRepo, "main")

	plan, err := d.Plan(ctx, claimToStandard())
	if err != nil {
		t.Fatal(err)
	}
	g := plan.Git[0]
	rec := g.Changes[0].Recreate
	if rec == nil || rec.UID != "claim-1" || rec.ResourceVersion == "" || strings.Join(g.Files, ",") != "overlays/prod/storage.yaml" {
		t.Fatalf("plan: recreate %+v files %v", rec, g.Files)
	}
	wantNote := "# prod/persistentvolumeclaim/data is deleted and created again (uid claim-1, resourceVersion " + rec.ResourceVersion +
		"): spec.storageClassName cannot change on a live object after the push; Application argocd/web creates it again from the commit\n"
	if !strings.HasPrefix(g.Diff, wantNote) || !strings.Contains(g.Diff, "-  storageClassName: fast-ssd\n+  storageClassName: standard\n") || !plan.HasChanges() {
		t.Errorf("diff:\n%s\nwant it to start with:\n%s", g.Diff, wantNote)
	}
	if !containsSub(plan.Warnings, "is deleted and created again") {
		t.Errorf("warnings %q", plan.Warnings)
	}

	// The claim changes after the plan: nothing is pushed, nothing deleted.
	var pvc corev1.PersistentVolumeClaim
	key := client.ObjectKey{Namespace: "prod", Name: "data"}
	if err := cl.Get(ctx, key, &pvc); err != nil {
		t.Fatal(err)
	}
	pvc.Labels = map[string]string{"touched": "yes"}
	if err := cl.Update(ctx, &pvc); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Apply(ctx, plan); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "nothing was pushed") {
		t.Fatalf("apply after the claim changed: %v", err)
	}
	if head, _ := srv.Head(ctx, claimRepo, "main"); head != before {
		t.Fatal("pushed although the claim changed since the plan")
	}
	if err := cl.Get(ctx, key, &pvc); err != nil {
		t.Fatalf("the claim is gone: %v", err)
	}

	// Planned again: pushed, then deleted once the Application compared the
	// commit, and a sync started although automated sync is on, since the
	// automated attempt at the commit failed.
	plan, err = d.Plan(ctx, claimToStandard())
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go fakeArgoCD(sctx, cl, srv)
	var events []string
	d.Options.OnEvent = func(e Event) { events = append(events, e.Step+": "+e.Message) }
	res, err := d.Apply(ctx, plan)
	stop()
	if err != nil {
		t.Fatalf("apply: %v\nevents %q", err, events)
	}
	t.Logf("events: %q", events)
	gr := res.Git[0]
	head, _ := srv.Head(ctx, claimRepo, "main")
	if gr.Status != "configured" || gr.Commit != head || len(gr.Recreated) != 1 || gr.Recreated[0].UID != "claim-1" {
		t.Fatalf("result %+v", gr)
	}
	if err := cl.Get(ctx, key, &pvc); !apierrors.IsNotFound(err) {
		t.Fatalf("the claim was not deleted: %v", err)
	}
	app := newApplication(client.ObjectKey{Namespace: "argocd", Name: "web"})
	if err := cl.Get(ctx, client.ObjectKeyFromObject(app), app); err != nil {
		t.Fatal(err)
	}
	rev, _, _ := unstructured.NestedString(app.Object, "operation", "sync", "revision")
	prune, _, _ := unstructured.NestedBool(app.Object, "operation", "sync", "prune")
	user, _, _ := unstructured.NestedString(app.Object, "operation", "initiatedBy", "username")
	if rev != head || !prune || user != SyncUsername {
		t.Errorf("operation %v: want a sync of %s by dot with prune", app.Object["operation"], head)
	}
	if !containsSub(events, "recreate: deleted prod/persistentvolumeclaim/data (uid claim-1)") || !containsSub(events, "failed before the objects were recreated") {
		t.Errorf("events %q", events)
	}

	// The owner creates the claim from the commit. Delivered again (the same
	// expectation): the repository holds the new value, which is no
	// conflict, and so does the claim: nothing to do.
	if err := cl.Create(ctx, obj(`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","namespace":"prod","uid":"claim-2",
	  "annotations":{"argocd.argoproj.io/tracking-id":"web:/PersistentVolumeClaim:prod/data"}},
	  "spec":{"storageClassName":"standard","accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}`)); err != nil {
		t.Fatal(err)
	}
	plan, err = d.Plan(ctx, claimToStandard())
	if err != nil {
		t.Fatalf("second plan: %v", err)
	}
	if g := plan.Git[0]; plan.HasChanges() || !g.Changes[0].Unchanged || g.Changes[0].Recreate != nil {
		t.Errorf("second plan: changes %v, edit %+v", plan.HasChanges(), g.Changes[0])
	}
}

func TestRecreatable(t *testing.T) {
	claim := func(mutate func(*unstructured.Unstructured)) *unstructured.Unstructured {
		u := obj(`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","namespace":"prod"},
		  "spec":{"storageClassName":"fast-ssd"},"status":{"phase":"Pending"}}`)
		if mutate != nil {
			mutate(u)
		}
		return u
	}
	now := metav1.Now()
	cases := []struct {
		name string
		obj  *unstructured.Unstructured
		want string // "" accepts
	}{
		{"unbound claim", claim(nil), ""},
		{"bound claim", claim(func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, "pv-1", "spec", "volumeName")
			_ = unstructured.SetNestedField(u.Object, "Bound", "status", "phase")
		}), `bound to PersistentVolume "pv-1"`},
		{"pre-bound claim", claim(func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, "pv-1", "spec", "volumeName")
		}), "bound to PersistentVolume"},
		{"being deleted", claim(func(u *unstructured.Unstructured) { u.SetDeletionTimestamp(&now) }), "being deleted already"},
		{"controlled by a StatefulSet", claim(func(u *unstructured.Unstructured) {
			u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", UID: "1", Controller: new(true)}})
		}), "controlled by StatefulSet db"},
		{"owned, not controlled", claim(func(u *unstructured.Unstructured) {
			u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "x", UID: "1"}})
		}), ""},
	}
	for _, tc := range cases {
		err := recreatable(tc.obj)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestCreateBodyOf(t *testing.T) {
	live := obj(`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","namespace":"prod","uid":"u1","resourceVersion":"7",
	  "creationTimestamp":"2026-03-02T10:00:00Z","generation":1,"finalizers":["kubernetes.io/pvc-protection"],"labels":{"app":"web"},
	  "annotations":{"team":"a","pv.kubernetes.io/bind-completed":"yes","volume.kubernetes.io/storage-provisioner":"x","volume.kubernetes.io/selected-node":"n1",
	    "kubectl.kubernetes.io/last-applied-configuration":"{}"},
	  "managedFields":[{"manager":"kubectl","operation":"Update"}]},
	  "spec":{"storageClassName":"fast-ssd","volumeName":"stale"},"status":{"phase":"Pending"}}`)
	body := createBodyOf(live)
	md := body.Object["metadata"].(map[string]any)
	for _, k := range []string{"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"} {
		if _, ok := md[k]; ok {
			t.Errorf("metadata.%s kept", k)
		}
	}
	if ann := body.GetAnnotations(); len(ann) != 1 || ann["team"] != "a" {
		t.Errorf("annotations %v, want team only", ann)
	}
	if _, ok := body.Object["status"]; ok {
		t.Error("status kept")
	}
	if _, ok, _ := unstructured.NestedString(body.Object, "spec", "volumeName"); ok {
		t.Error("the volumeName of an unbound claim kept")
	}
	if body.GetLabels()["app"] != "web" || len(body.GetFinalizers()) != 1 || body.GetName() != "data" {
		t.Errorf("body lost identity: %v", body.Object["metadata"])
	}
	if live.GetUID() != "u1" || len(live.GetAnnotations()) != 5 {
		t.Error("the live object was modified")
	}
}

// TestDecideRecreated: what the controller reported about the revision
// before the recreated objects were deleted (the immutable field) is not
// final; without WaitOptions.Recreated the same observations fail the wait.
func TestDecideRecreated(t *testing.T) {
	web := kube.ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "prod", Name: "web"}
	immutable := `Deployment.apps "web" is invalid: spec.selector: Invalid value: field is immutable`
	syncError := func(a *argocd.Application) {
		a.Status.Conditions = append(a.Status.Conditions, argocd.ApplicationCondition{Type: argocd.ConditionSyncError,
			Message: "Failed sync attempt to " + shaOurs + ": one or more objects failed to apply", LastTransitionTime: ts("2026-11-21T10:00:20Z")})
	}
	retrying := func(a *argocd.Application) {
		op := a.Status.OperationState
		op.RetryCount = 2
		op.SyncResult.Resources[0].Status, op.SyncResult.Resources[0].Message = "SyncFailed", immutable
	}
	for _, tc := range []struct {
		name, fixture string
		mutate        func(*argocd.Application)
		syncStarted   bool
		// want and wantRecreated are the verdicts without and with the
		// recreated object.
		want, wantRecreated verdict
		forceSync           bool
	}{
		{name: "automated sync at ours failed before the delete: one sync of dot's own", fixture: "argo/sync-failed.yaml",
			want: verdictFailed, wantRecreated: verdictPending, forceSync: true},
		{name: "dot's own sync failed too", fixture: "argo/sync-failed.yaml", syncStarted: true,
			want: verdictFailed, wantRecreated: verdictFailed},
		{name: "automated sync refuses to retry (SyncError)", fixture: "argo/sync-running.yaml", mutate: syncError,
			want: verdictFailed, wantRecreated: verdictPending},
		{name: "retries of the immutable field: the retry after the delete creates it", fixture: "argo/sync-running.yaml", mutate: retrying,
			want: verdictFailed, wantRecreated: verdictPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, recreated := range [][]kube.ObjectRef{nil, {web}} {
				app, hs := loadApp(t, tc.fixture)
				if tc.mutate != nil {
					tc.mutate(app)
				}
				in := argoInput{app: app, hydrator: hs, start: waitStart, want: shaOurs, syncStarted: tc.syncStarted, recreated: recreated}
				d := decideArgo(in, &decideState{}, matchOurs())
				want, force := tc.want, false
				if recreated != nil {
					want, force = tc.wantRecreated, tc.forceSync
				}
				if d.verdict != want || d.forceSync != force || d.startSync != force {
					t.Errorf("recreated %v: verdict %v (%s), force %v start %v; want %v, force %v", recreated, d.verdict, d.progress, d.forceSync, d.startSync, want, force)
				}
				if force && !strings.Contains(d.progress, "failed before prod/deployment.apps/web was recreated") {
					t.Errorf("progress %q", d.progress)
				}
			}
		})
	}

	// Flux: a failure at ours counts once the request made after the
	// delete is handled.
	for _, tc := range []struct {
		name    string
		token   string
		recreat bool
		want    verdict
	}{
		{"failure before the request, plain wait", "2026-11-21T10:05:00Z", false, verdictFailed},
		{"failure before the request, recreated", "2026-11-21T10:05:00Z", true, verdictPending},
		{"failure after the request, recreated", fixtureToken, true, verdictFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := fluxCase{ks: "flux/ks-health-failed.yaml", source: "flux/gitrepository.yaml", token: tc.token}.input(t)
			in.recreate = tc.recreat
			d := decideFlux(in, &decideState{}, matchOurs())
			if d.verdict != tc.want {
				t.Errorf("verdict %v (%s), want %v", d.verdict, d.progress, tc.want)
			}
		})
	}
}
