//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/remediate"
	"github.com/dot-ai/dot/test/e2e/cluster"
)

// pvcRepo is a kustomize layout whose prod overlay asks for StorageClass
// fast-ssd, which the cluster does not have; the base (shared with dev)
// names no class.
func pvcRepo() map[string]string {
	return map[string]string{
		"base/kustomization.yaml": "resources:\n  - deployment.yaml\n  - pvc.yaml\n",
		"base/deployment.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: %s
          volumeMounts:
            - {name: data, mountPath: /data}
      volumes:
        - name: data
          persistentVolumeClaim: {claimName: data}
`, goodImage),
		"base/pvc.yaml": `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests: {storage: 1Gi}
`,
		"overlays/prod/kustomization.yaml": "resources:\n  - ../../base\npatches:\n  - path: storage.yaml\n",
		"overlays/prod/storage.yaml": `# prod wants fast disks
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  storageClassName: fast-ssd
`,
		"overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n",
	}
}

// defaultStorageClass creates StorageClass standard, the cluster's default,
// without a provisioner: claims bind to PersistentVolumes created by hand.
func defaultStorageClass(t *testing.T) {
	t.Helper()
	immediate := storagev1.VolumeBindingImmediate
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard",
		Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner: "kubernetes.io/no-provisioner", VolumeBindingMode: &immediate}
	if err := suite.client.Create(context.Background(), sc); err != nil {
		t.Fatalf("create StorageClass standard: %v", err)
	}
	t.Cleanup(func() { suite.client.Delete(context.Background(), sc) })
}

// volumeFor creates an Available 1Gi hostPath volume of class standard for
// the claim of ns, once fixed, to bind to. Not pre-bound (claimRef): the
// binder binds a pre-bound volume to the claim of that name whatever its
// class, so the broken claim would take it.
func volumeFor(t *testing.T, ns string) *corev1.PersistentVolume {
	t.Helper()
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "data-" + ns}, Spec: corev1.PersistentVolumeSpec{
		Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		StorageClassName:              "standard",
		PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
		PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/dot-e2e/" + ns}},
	}}
	if err := suite.client.Create(context.Background(), pv); err != nil {
		t.Fatalf("create PersistentVolume %s: %v", pv.Name, err)
	}
	t.Cleanup(func() { suite.client.Delete(context.Background(), pv) })
	return pv
}

func getClaim(ctx context.Context, ns string) (*corev1.PersistentVolumeClaim, error) {
	var c corev1.PersistentVolumeClaim
	err := suite.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data"}, &c)
	return &c, err
}

// waitClaim waits until claim data in ns satisfies cond.
func waitClaim(t *testing.T, ns, what string, cond func(*corev1.PersistentVolumeClaim) bool) *corev1.PersistentVolumeClaim {
	t.Helper()
	var last *corev1.PersistentVolumeClaim
	eventually(t, 90*time.Second, "claim "+ns+"/data "+what, func(ctx context.Context) (bool, string, error) {
		c, err := getClaim(ctx, ns)
		if err != nil {
			return false, "", err
		}
		last = c
		class := "<none>"
		if c.Spec.StorageClassName != nil {
			class = *c.Spec.StorageClassName
		}
		return cond(c), fmt.Sprintf("uid %s class %s phase %s volume %q", c.UID, class, c.Status.Phase, c.Spec.VolumeName), nil
	}, "kube-controller-manager", "kustomize-controller", "argocd-application-controller")
	return last
}

// TestRemediatePVC (issue 8): a claim naming a StorageClass the cluster
// does not have, in a prod overlay, with one default class: remediate
// refuses to recreate it below --max-risk high, and at high delivers one
// commit setting the default class in the overlay's patch (the base is
// untouched), deletes the unbound claim once the owner has the commit, and
// the owner creates it again: a new claim, Bound, the Deployment available,
// verified resolved; for Flux and Argo CD. Then the case where Git already
// has the class and Argo CD's automated sync failed on the immutable field
// and gave up (no retries): dot commits nothing, recreates the claim and
// starts the sync automated sync will not.
func TestRemediatePVC(t *testing.T) {
	defaultStorageClass(t)
	for _, kind := range []string{"flux", "argocd"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			files := pvcRepo()
			a := setupShopApp(t, kind, files)
			volumeFor(t, a.ns)
			old := waitClaim(t, a.ns, "Pending with class fast-ssd", pendingAt("fast-ssd"))
			before, _ := suite.git.Head(ctx, a.repo, "main")

			// Below high risk: diagnosed and proposed, not delivered.
			rep := runRemediate(t, 0, "-n", a.ns, "--auto", "--max-risk", "medium")
			fix := pvcFix(t, rep)
			if fix.Decision != remediate.DecisionSkipped || !strings.Contains(fix.Why, "risk high is above --max-risk medium") || fix.Result != nil {
				t.Errorf("with --max-risk medium: decision %s (%s), result %+v", fix.Decision, fix.Why, fix.Result)
			}
			if head, _ := suite.git.Head(ctx, a.repo, "main"); head != before {
				t.Fatalf("--max-risk medium pushed %s", head)
			}
			if c, err := getClaim(ctx, a.ns); err != nil || c.UID != old.UID {
				t.Fatalf("--max-risk medium touched the claim: %v", err)
			}

			start := time.Now()
			rep = runRemediate(t, 0, "-n", a.ns, "--auto", "--max-risk", "high", "--yes")
			took := time.Since(start)
			fix = delivered(t, rep, "default-storage-class")
			if fix.Risk != remediate.RiskHigh || fix.Confidence != 0.8 || !strings.Contains(fix.Title, "to standard, the default class (recreates the claim)") {
				t.Errorf("fix %q risk %s confidence %.2f", fix.Title, fix.Risk, fix.Confidence)
			}
			checkOneCommit(t, a, before, fix, "overlays/prod/storage.yaml")
			if got := fileAt(t, a.repo, "overlays/prod/storage.yaml"); !strings.HasPrefix(got, "# prod wants fast disks") || !strings.Contains(got, "storageClassName: standard") {
				t.Errorf("overlays/prod/storage.yaml after the fix:\n%s", got)
			}
			for name, content := range files {
				if strings.HasPrefix(name, "base/") && fileAt(t, a.repo, name) != content {
					t.Errorf("the shared base changed: %s", name)
				}
			}
			// The plan said the claim is recreated, the result records it.
			if fix.Plan == nil || len(fix.Plan.Git) != 1 || !strings.Contains(fix.Plan.Git[0].Diff, "is deleted and created again (uid "+string(old.UID)) {
				t.Errorf("plan does not say the claim is recreated: %+v", fix.Plan)
			}
			checkRecreated(t, a.ns, old, fix, rep, took)
		})
	}

	t.Run("argocd-failed-sync", func(t *testing.T) {
		ctx := context.Background()
		files := pvcRepo()
		a := setupShopApp(t, "argocd", files)
		// Automated sync without retries: one failed attempt at a revision
		// is final for it.
		app := &unstructured.Unstructured{}
		app.SetGroupVersionKind(applicationGVK)
		app.SetNamespace(cluster.ArgoCDNamespace)
		app.SetName(a.ownerName)
		if err := suite.client.Patch(ctx, app, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"syncPolicy":{"retry":{"limit":0}}}}`))); err != nil {
			t.Fatal(err)
		}
		volumeFor(t, a.ns)
		old := waitClaim(t, a.ns, "Pending with class fast-ssd", pendingAt("fast-ssd"))

		// A teammate fixes the class in Git; Argo CD's automated sync fails
		// on the immutable field and does not try that revision again.
		files["overlays/prod/storage.yaml"] = strings.Replace(files["overlays/prod/storage.yaml"], "fast-ssd", "standard", 1)
		sha := push(t, a.repo, files, "prod: standard disks")
		gc := gitopsCluster(t)
		owner, err := gc.FindOwner(ctx, a.deployment())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gc.Trigger(ctx, owner, gitops.WaitOptions{}); err != nil {
			t.Fatal(err)
		}
		stuck := func(ctx context.Context) (bool, string, error) {
			if err := suite.client.Get(ctx, client.ObjectKeyFromObject(app), app); err != nil {
				return false, "", err
			}
			phase, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "phase")
			rev, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "syncResult", "revision")
			msg, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "message")
			return phase == "Failed" && rev == sha && strings.Contains(msg, "immutable"), fmt.Sprintf("operation %s at %s: %s", phase, rev, msg), nil
		}
		eventually(t, 90*time.Second, "automated sync of "+sha+" failed", stuck, "argocd-application-controller")
		time.Sleep(5 * time.Second) // a refresh or two: still failed, not retried
		if done, state, _ := stuck(ctx); !done {
			t.Fatalf("Argo CD got past the failed sync by itself: %s", state)
		}
		if c, err := getClaim(ctx, a.ns); err != nil || c.UID != old.UID || *c.Spec.StorageClassName != "fast-ssd" {
			t.Fatalf("claim changed by itself: %v", err)
		}

		start := time.Now()
		rep := runRemediate(t, 0, "-n", a.ns, "--auto", "--max-risk", "high")
		took := time.Since(start)
		fix := delivered(t, rep, "default-storage-class")
		if head, _ := suite.git.Head(ctx, a.repo, "main"); head != sha || fix.Result.Git[0].Status != "unchanged" {
			t.Errorf("Git already had the class: head %s (want %s), status %s", head, sha, fix.Result.Git[0].Status)
		}
		checkRecreated(t, a.ns, old, fix, rep, took)
	})
}

// TestRemediatePVCUnmanaged (issue 8): without an owner, the claim is
// recreated by dot itself: deleted on its UID and resourceVersion, waited
// for until the pvc-protection finalizer is gone, created with the default
// class, bound by the controller-manager's binder.
func TestRemediatePVCUnmanaged(t *testing.T) {
	defaultStorageClass(t)
	ctx := context.Background()
	ns := newNamespace(t, "dot-rem-pvc-plain")
	volumeFor(t, ns)
	for _, doc := range []string{pvcRepo()["base/pvc.yaml"], pvcRepo()["base/deployment.yaml"]} {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		u.SetNamespace(ns)
		if u.GetKind() == "PersistentVolumeClaim" {
			_ = unstructured.SetNestedField(u.Object, "fast-ssd", "spec", "storageClassName")
		}
		if err := suite.client.Create(ctx, u, client.FieldOwner("kubectl")); err != nil {
			t.Fatal(err)
		}
	}
	old := waitClaim(t, ns, "Pending with class fast-ssd", pendingAt("fast-ssd"))

	start := time.Now()
	rep := runRemediate(t, 0, "-n", ns, "--auto", "--max-risk", "high")
	took := time.Since(start)
	fix := delivered(t, rep, "default-storage-class")
	if fix.Result == nil || len(fix.Result.Git) != 0 || len(fix.Result.Direct) != 1 {
		t.Fatalf("want one direct delivery, got %+v", fix.Result)
	}
	d := fix.Result.Direct[0]
	if d.Status != "recreated" || d.Recreated == nil || d.Recreated.UID != old.UID || d.Recreated.NewUID == "" || d.Health != "Healthy" {
		t.Fatalf("direct result %+v (recreated %+v)", d, d.Recreated)
	}
	if len(fix.Plan.Direct) != 1 || !strings.HasPrefix(fix.Plan.Direct[0].Diff, "# "+ns+"/persistentvolumeclaim/data is deleted and created again (uid "+string(old.UID)) {
		t.Errorf("plan diff does not start by saying the claim is recreated:\n%s", fix.Plan.Direct[0].Diff)
	}
	if v := rep.Verification; v == nil || v.Status != remediate.StatusResolved {
		t.Errorf("verification %+v", v)
	} else {
		t.Logf("recreated directly and verified %s in %s (%s)", v.Status, took.Round(time.Second), d.Message)
	}
	now := waitClaim(t, ns, "Bound with class standard", func(c *corev1.PersistentVolumeClaim) bool {
		return c.Status.Phase == corev1.ClaimBound && *c.Spec.StorageClassName == "standard"
	})
	if now.UID != d.Recreated.NewUID {
		t.Errorf("claim uid %s, result %s", now.UID, d.Recreated.NewUID)
	}
	waitDeployment(t, ns, deploymentAvailable)
}

func pendingAt(class string) func(*corev1.PersistentVolumeClaim) bool {
	return func(c *corev1.PersistentVolumeClaim) bool {
		return c.Status.Phase == corev1.ClaimPending && c.Spec.StorageClassName != nil && *c.Spec.StorageClassName == class
	}
}

// checkRecreated checks that the delivered fix recreated the claim: the
// result names the old UID and the new one, the new claim is Bound with
// class standard, the Deployment is available, and the verification
// resolved.
func checkRecreated(t *testing.T, ns string, old *corev1.PersistentVolumeClaim, fix remediate.FixReport, rep *remediate.Report, took time.Duration) {
	t.Helper()
	g := fix.Result.Git[0]
	if len(g.Recreated) != 1 || g.Recreated[0].UID != old.UID || g.Recreated[0].NewUID == "" || g.Recreated[0].NewUID == old.UID {
		t.Fatalf("result records %+v, want the old uid %s and a new one", g.Recreated, old.UID)
	}
	if g.Sync == nil || !g.Sync.Synced || g.Sync.Health != "Healthy" {
		t.Errorf("sync %+v", g.Sync)
	}
	if v := rep.Verification; v == nil || v.Status != remediate.StatusResolved {
		t.Errorf("verification %+v", v)
	} else {
		t.Logf("delivered and verified %s in %s (owner done after %s)", v.Status, took.Round(time.Second), g.Sync.Duration.Round(time.Second))
	}
	now := waitClaim(t, ns, "Bound with class standard", func(c *corev1.PersistentVolumeClaim) bool {
		return c.Status.Phase == corev1.ClaimBound && *c.Spec.StorageClassName == "standard"
	})
	if now.UID == old.UID || now.UID != g.Recreated[0].NewUID || now.Spec.VolumeName != "data-"+ns {
		t.Errorf("claim now: uid %s (was %s, result %s), volume %s", now.UID, old.UID, g.Recreated[0].NewUID, now.Spec.VolumeName)
	}
	waitDeployment(t, ns, deploymentAvailable)
}

// pvcFix returns the fix of the report's PVCPending finding.
func pvcFix(t *testing.T, rep *remediate.Report) remediate.FixReport {
	t.Helper()
	for _, f := range rep.Fixes {
		if strings.HasPrefix(f.Finding, remediate.FindingPVCPending+" ") {
			return f
		}
	}
	t.Fatalf("no fix for the claim among %d fixes; findings %v", len(rep.Fixes), findingIDs(rep.Findings))
	return remediate.FixReport{}
}
