package gitops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/internal/testenv"
	"github.com/dot-ai/dot/pkg/kube"
)

// TestRecreateAPIServer runs Change.Recreate on the direct path against a
// real kube-apiserver (envtest). No controllers run: the test removes the
// kubernetes.io/pvc-protection finalizer of deleted claims itself, as the
// controller-manager would, after a delay, so the wait for the finalizers
// is exercised.
func TestRecreateAPIServer(t *testing.T) {
	cfg := testenv.StartAPIServer(t)
	cl, err := client.NewWithWatch(cfg, client.Options{Scheme: kube.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	h := &apiHelper{c: &Cluster{Client: cl}, cl: cl}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go releaseClaims(ctx, cl, 300*time.Millisecond)

	t.Run("UnboundClaim", h.testRecreateClaim)
	t.Run("ChangedSincePlanIsNotDeleted", h.testRecreateChanged)
	t.Run("BoundClaimRefused", h.testRecreateBound)
	t.Run("FailedCreateRestoresOriginal", h.testRecreateRestore)
}

// releaseClaims plays the pvc-protection controller: it removes the
// finalizers of claims being deleted, delay after it first sees them.
func releaseClaims(ctx context.Context, cl client.Client, delay time.Duration) {
	seen := map[types.UID]time.Time{}
	for ctx.Err() == nil {
		var list corev1.PersistentVolumeClaimList
		if err := cl.List(ctx, &list); err == nil {
			for i := range list.Items {
				c := &list.Items[i]
				if c.DeletionTimestamp == nil || len(c.Finalizers) == 0 {
					continue
				}
				if _, ok := seen[c.UID]; !ok {
					seen[c.UID] = time.Now()
				}
				if time.Since(seen[c.UID]) >= delay {
					patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
					_ = cl.Patch(ctx, c, patch)
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// claim creates an unbound claim data naming StorageClass fast-ssd, with
// annotations a binder and kubectl would have left.
func (h *apiHelper) claim(t *testing.T, ns string, mutate func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
	t.Helper()
	c := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data", Labels: map[string]string{"app": "web"},
			Annotations: map[string]string{
				"team": "storage",
				"volume.beta.kubernetes.io/storage-provisioner":    "ebs.csi.aws.com",
				"kubectl.kubernetes.io/last-applied-configuration": `{"spec":{"storageClassName":"fast-ssd"}}`,
			}},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: new("fast-ssd"),
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if mutate != nil {
		mutate(c)
	}
	if err := h.cl.Create(t.Context(), c, client.FieldOwner("kubectl")); err != nil {
		t.Fatal(err)
	}
	return c
}

func claimRef(ns string) kube.ObjectRef {
	return kube.ObjectRef{Kind: "PersistentVolumeClaim", Namespace: ns, Name: "data"}
}

func toStandard(ns string) Change {
	return Change{Object: claimRef(ns), Action: ActionSet, Recreate: true,
		Fields: []FieldChange{{Path: "spec.storageClassName", Value: "standard", Expect: "fast-ssd"}}}
}

func (h *apiHelper) getClaim(t *testing.T, ns string) (*corev1.PersistentVolumeClaim, error) {
	var c corev1.PersistentVolumeClaim
	err := h.cl.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "data"}, &c)
	return &c, err
}

func (h *apiHelper) testRecreateClaim(t *testing.T) {
	ns := h.namespace(t)
	old := h.claim(t, ns, nil)
	opts := DirectOptions{DryRun: DryRunServer, NoWait: true}
	plans, err := h.c.PlanDirect(t.Context(), []Change{toStandard(ns)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	p := plans[0]
	// The plan says what happens, first thing in the diff, from the server.
	wantNote := fmt.Sprintf("# %s/persistentvolumeclaim/data is deleted and created again (uid %s, resourceVersion %s): spec.storageClassName cannot change on a live object\n",
		ns, old.UID, old.ResourceVersion)
	if !strings.HasPrefix(p.Diff, wantNote) || p.DiffFrom != "server" || p.Recreate == nil || p.Recreate.UID != old.UID {
		t.Fatalf("plan: from %s, recreate %+v, diff:\n%s\nwant it to start with\n%s", p.DiffFrom, p.Recreate, p.Diff, wantNote)
	}
	t.Logf("plan diff:\n%s", p.Diff)
	for _, want := range []string{"-  storageClassName: fast-ssd\n", "+  storageClassName: standard\n", "-    volume.beta.kubernetes.io/storage-provisioner: ebs.csi.aws.com\n"} {
		if !strings.Contains(p.Diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, p.Diff)
		}
	}
	if !containsSub(p.Warnings, "is deleted and created again") {
		t.Errorf("warnings %q do not say the claim is recreated", p.Warnings)
	}
	// The server dry runs (delete, create under a generated name) wrote nothing.
	if now, err := h.getClaim(t, ns); err != nil || now.UID != old.UID || now.ResourceVersion != old.ResourceVersion {
		t.Fatalf("after the plan: %v, uid %s rv %s", err, now.UID, now.ResourceVersion)
	}
	var all corev1.PersistentVolumeClaimList
	if err := h.cl.List(t.Context(), &all, client.InNamespace(ns)); err != nil || len(all.Items) != 1 {
		t.Fatalf("claims after the dry run: %d (%v)", len(all.Items), err)
	}
	dry, err := h.c.ApplyDirect(t.Context(), plans, opts)
	if err != nil || dry[0].Status != "skipped" || dry[0].Message != "would delete and create again" {
		t.Fatalf("dry run apply: %v %+v", err, dry)
	}

	var events []string
	opts = DirectOptions{NoWait: true, OnEvent: func(e Event) { events = append(events, e.Message) }}
	start := time.Now()
	res, err := h.c.ApplyDirect(t.Context(), plans, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("recreated in %s; events: %q", time.Since(start).Round(time.Millisecond), events)
	r := res[0]
	if r.Status != "recreated" || r.Recreated == nil || r.Recreated.UID != old.UID || r.Recreated.NewUID == "" || r.Recreated.NewUID == old.UID ||
		!strings.Contains(r.Message, "deleted uid "+string(old.UID)) {
		t.Fatalf("result %+v (recreated %+v)", r, r.Recreated)
	}
	if !containsSub(events, "waiting for finalizers kubernetes.io/pvc-protection") {
		t.Errorf("events %q do not mention the finalizer wait", events)
	}
	now, err := h.getClaim(t, ns)
	if err != nil {
		t.Fatal(err)
	}
	if now.UID != r.Recreated.NewUID || *now.Spec.StorageClassName != "standard" || now.Labels["app"] != "web" || now.Annotations["team"] != "storage" ||
		now.Spec.Resources.Requests.Storage().String() != "1Gi" {
		t.Errorf("claim after: uid %s class %s labels %v annotations %v", now.UID, *now.Spec.StorageClassName, now.Labels, now.Annotations)
	}
	for _, gone := range []string{"volume.beta.kubernetes.io/storage-provisioner", "kubectl.kubernetes.io/last-applied-configuration"} {
		if _, ok := now.Annotations[gone]; ok {
			t.Errorf("annotation %s survived the recreate", gone)
		}
	}
	managers := []string{}
	for _, m := range now.ManagedFields {
		managers = append(managers, m.Manager)
	}
	if len(managers) != 1 || managers[0] != DefaultFieldManager {
		t.Errorf("field managers %v, want dot's alone", managers)
	}
	// Delivered again: the claim has the value, nothing is recreated.
	plans, err = h.c.PlanDirect(t.Context(), []Change{toStandard(ns)}, DirectOptions{DryRun: DryRunServer})
	if err != nil || plans[0].Recreate != nil || plans[0].Diff != "" {
		t.Fatalf("second plan: %v recreate %+v diff %q", err, plans[0].Recreate, plans[0].Diff)
	}
}

func (h *apiHelper) testRecreateChanged(t *testing.T) {
	ns := h.namespace(t)
	old := h.claim(t, ns, nil)
	plans, err := h.c.PlanDirect(t.Context(), []Change{toStandard(ns)}, DirectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Someone edits the claim after the plan (the class is still the
	// expected one, so only the preconditions can tell).
	cur, _ := h.getClaim(t, ns)
	cur.Labels["owner"] = "someone"
	if err := h.cl.Update(t.Context(), cur); err != nil {
		t.Fatal(err)
	}
	_, err = h.c.ApplyDirect(t.Context(), plans, DirectOptions{NoWait: true})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "nothing was applied") {
		t.Fatalf("err = %v, want a conflict before anything is written", err)
	}
	if now, err := h.getClaim(t, ns); err != nil || now.UID != old.UID || now.DeletionTimestamp != nil || *now.Spec.StorageClassName != "fast-ssd" {
		t.Fatalf("claim after the refused apply: %v uid %s (was %s) deleting %v", err, now.UID, old.UID, now.DeletionTimestamp)
	}

	// The delete itself is conditional too (the object changes between the
	// dry run and the write).
	op := h.prepared(t, ns)
	op.plannedRV = "1"
	var res DirectResult
	if err := h.c.recreateDirect(t.Context(), op, &res, DirectOptions{}); !errors.Is(err, ErrConflict) {
		t.Fatalf("recreate with a stale resourceVersion: %v", err)
	}
	op = h.prepared(t, ns)
	cur, _ = h.getClaim(t, ns)
	cur.Labels["owner"] = "someone-else"
	if err := h.cl.Update(t.Context(), cur); err != nil {
		t.Fatal(err)
	}
	if err := h.c.deleteExact(t.Context(), op.ref, op.live, op.plannedUID, op.plannedRV); !errors.Is(err, ErrConflict) {
		t.Fatalf("conditional delete of a changed claim: %v", err)
	}
	if now, err := h.getClaim(t, ns); err != nil || now.UID != old.UID || now.DeletionTimestamp != nil {
		t.Fatalf("claim after the refused delete: %v", err)
	}
}

// prepared reads the claim and prepares its recreate as ApplyDirect would.
func (h *apiHelper) prepared(t *testing.T, ns string) *directOp {
	t.Helper()
	cur, err := h.getClaim(t, ns)
	if err != nil {
		t.Fatal(err)
	}
	p := &DirectPlan{Change: toStandard(ns), UID: cur.UID, ResourceVersion: cur.ResourceVersion}
	op, err := h.c.prepare(t.Context(), p, nil, ArgoSettings{}, DirectOptions{})
	if err != nil || !op.recreate {
		t.Fatalf("prepare: %v (recreate %v)", err, op != nil && op.recreate)
	}
	return op
}

func (h *apiHelper) testRecreateBound(t *testing.T) {
	ns := h.namespace(t)
	h.claim(t, ns, func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv-data" })
	_, err := h.c.PlanDirect(t.Context(), []Change{toStandard(ns)}, DirectOptions{DryRun: DryRunServer})
	if err == nil || !strings.Contains(err.Error(), `bound to PersistentVolume "pv-data"`) {
		t.Fatalf("plan of a bound claim's recreate: %v", err)
	}
}

func (h *apiHelper) testRecreateRestore(t *testing.T) {
	ns := h.namespace(t)
	old := h.claim(t, ns, nil)
	op := h.prepared(t, ns)
	// A create the server refuses (the dry run would have caught it; here
	// it is forced, as an admission webhook that changed its mind would).
	if err := unstructured.SetNestedField(op.body.Object, "-1Gi", "spec", "resources", "requests", "storage"); err != nil {
		t.Fatal(err)
	}
	var res DirectResult
	err := h.c.recreateDirect(t.Context(), op, &res, DirectOptions{})
	if err == nil || !strings.Contains(err.Error(), "the original was created again") {
		t.Fatalf("err = %v", err)
	}
	m := regexp.MustCompile(`saved in (\S+)`).FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("no saved manifests named in %v", err)
	}
	saved, rerr := os.ReadFile(m[1])
	os.Remove(m[1])
	if rerr != nil || !strings.Contains(string(saved), "storageClassName: fast-ssd") || !strings.Contains(string(saved), "storageClassName: standard") {
		t.Fatalf("saved manifests (%v):\n%s", rerr, saved)
	}
	now, gerr := h.getClaim(t, ns)
	if gerr != nil || now.UID == old.UID || *now.Spec.StorageClassName != "fast-ssd" || res.Recreated == nil || res.Recreated.NewUID != now.UID {
		t.Fatalf("after the failed recreate: %v, class %v, result %+v", gerr, now.Spec.StorageClassName, res.Recreated)
	}
	if _, err := h.getClaim(t, ns); apierrors.IsNotFound(err) {
		t.Fatal("the claim is gone")
	}
}
