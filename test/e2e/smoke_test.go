//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/test/e2e/cluster"
)

var applicationGVK = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Application"}

// appManifests is a small app as it sits in git: a ConfigMap whose value the
// tests change, and a Deployment that has to become Available on a kwok node.
func appManifests(value string) map[string]string {
	return map[string]string{
		"deploy/configmap.yaml": fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: smoke
data:
  value: %q
`, value),
		"deploy/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: smoke
spec:
  replicas: 2
  selector:
    matchLabels: {app: smoke}
  template:
    metadata:
      labels: {app: smoke}
    spec:
      containers:
      - name: app
        image: registry.k8s.io/pause:3.10
`,
	}
}

// TestSmokeDeployment: a Deployment applied directly becomes Available with
// its pods on kwok nodes (scheduler, controller-manager and kwok work).
func TestSmokeDeployment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t, "smoke-deploy")
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.k8s.io/pause:3.10"}}},
			},
		},
	}
	if err := suite.client.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 60*time.Second, "deployment available", func(ctx context.Context) (bool, string, error) {
		var d appsv1.Deployment
		if err := suite.client.Get(ctx, client.ObjectKeyFromObject(dep), &d); err != nil {
			return false, "", err
		}
		return deploymentAvailable(&d), fmt.Sprintf("available %d/%d", d.Status.AvailableReplicas, *d.Spec.Replicas), nil
	}, "kube-controller-manager", "kube-scheduler", "kwok")
	t.Logf("deployment available in %s", took.Round(time.Millisecond))

	var pods corev1.PodList
	if err := suite.client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": "web"}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 3 {
		t.Fatalf("%d pods, want 3", len(pods.Items))
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s: node %q phase %s", p.Name, p.Spec.NodeName, p.Status.Phase)
		}
		if suite.local != nil && !strings.HasPrefix(p.Spec.NodeName, "kwok-node-") {
			t.Errorf("pod %s runs on %q, not a kwok node", p.Name, p.Spec.NodeName)
		}
	}
}

func deploymentAvailable(d *appsv1.Deployment) bool {
	if d.Status.ObservedGeneration < d.Generation || d.Spec.Replicas == nil || d.Status.AvailableReplicas != *d.Spec.Replicas || d.Status.UpdatedReplicas != *d.Spec.Replicas {
		return false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// TestSmokeFlux: a GitRepository + Kustomization on a repo of the test git
// server (with basic auth) is applied at the pushed commit, and a second
// push plus reconcile.fluxcd.io/requestedAt is applied too.
func TestSmokeFlux(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t, "smoke-flux")
	repo, sha1 := newRepo(t, "smoke-flux", appManifests("v1"))

	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "git-auth", Namespace: ns},
		StringData: map[string]string{"username": gitUser, "password": gitPassword},
	}
	gitRepo := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{
			URL:       repoURLForCluster(repo),
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
			Interval:  metav1.Duration{Duration: 10 * time.Minute},
			SecretRef: &meta.LocalObjectReference{Name: secret.Name},
		},
	}
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{
			Interval:        metav1.Duration{Duration: 10 * time.Minute},
			Path:            "./deploy",
			Prune:           true,
			Wait:            true,
			Timeout:         &metav1.Duration{Duration: time.Minute},
			TargetNamespace: ns,
			SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: gitRepo.Name},
		},
	}
	for _, o := range []client.Object{secret, gitRepo, ks} {
		if err := suite.client.Create(ctx, o); err != nil {
			t.Fatalf("create %T: %v", o, err)
		}
	}

	took := waitKustomizationApplied(t, ks, sha1)
	t.Logf("first commit applied (Ready, health checked) in %s", took.Round(time.Millisecond))
	wantConfigMap(t, ns, "v1")

	sha2 := push(t, repo, appManifests("v2"), "v2")
	start := time.Now()
	now := time.Now().Format(time.RFC3339Nano)
	for _, o := range []client.Object{&sourcev1.GitRepository{}, &kustomizev1.Kustomization{}} {
		o.SetNamespace(ns)
		o.SetName("app")
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, meta.ReconcileRequestAnnotation, now)
		if err := suite.client.Patch(ctx, o, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			t.Fatalf("annotate %T: %v", o, err)
		}
	}
	waitKustomizationApplied(t, ks, sha2)
	t.Logf("second push + requestedAt applied in %s", time.Since(start).Round(time.Millisecond))
	wantConfigMap(t, ns, "v2")

	var got kustomizev1.Kustomization
	if err := suite.client.Get(ctx, client.ObjectKeyFromObject(ks), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.LastHandledReconcileAt != now {
		t.Errorf("kustomization lastHandledReconcileAt = %q, want %q", got.Status.LastHandledReconcileAt, now)
	}
}

// waitKustomizationApplied waits until ks is Ready with lastAppliedRevision
// main@sha1:<sha>, for its current generation.
func waitKustomizationApplied(t *testing.T, ks *kustomizev1.Kustomization, sha string) time.Duration {
	t.Helper()
	want := "main@sha1:" + sha
	return eventually(t, 90*time.Second, "kustomization applies "+want, func(ctx context.Context) (bool, string, error) {
		var k kustomizev1.Kustomization
		if err := suite.client.Get(ctx, client.ObjectKeyFromObject(ks), &k); err != nil {
			return false, "", err
		}
		ready := apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition)
		state := fmt.Sprintf("lastAppliedRevision=%q observedGeneration=%d/%d", k.Status.LastAppliedRevision, k.Status.ObservedGeneration, k.Generation)
		if ready != nil {
			state += fmt.Sprintf(" Ready=%s (%s: %s)", ready.Status, ready.Reason, ready.Message)
		}
		done := ready != nil && ready.Status == metav1.ConditionTrue &&
			k.Status.ObservedGeneration == k.Generation && k.Status.LastAppliedRevision == want
		return done, state, nil
	}, "kustomize-controller", "gitsource")
}

func wantConfigMap(t *testing.T, ns, value string) {
	t.Helper()
	var cm corev1.ConfigMap
	if err := suite.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "smoke"}, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["value"] != value {
		t.Errorf("configmap value = %q, want %q", cm.Data["value"], value)
	}
}

// TestSmokeArgoCD: an Application with automated sync reaches Synced and
// Healthy at the pushed commit, and a second push plus the refresh
// annotation reaches Synced at the new commit, once per tracking method.
// The subtests switch argocd-cm's tracking method, so they run one after
// the other and no other Argo CD test may run in parallel with this one.
func TestSmokeArgoCD(t *testing.T) {
	t.Parallel()
	t.Cleanup(func() { setTrackingMethod(t, cluster.DefaultArgoCDTrackingMethod) })
	for _, method := range []string{cluster.TrackingLabel, cluster.TrackingAnnotationAndLabel, cluster.TrackingAnnotation} {
		t.Run(method, func(t *testing.T) {
			setTrackingMethod(t, method)
			testArgoCDApp(t, method)
		})
	}
}

func testArgoCDApp(t *testing.T, method string) {
	ctx := context.Background()
	ns := newNamespace(t, "smoke-argo")
	repo, sha1 := newRepo(t, "smoke-argo", appManifests("v1"))
	appName := ns // unique, and Application names are per argocd namespace

	app := &unstructured.Unstructured{}
	app.SetGroupVersionKind(applicationGVK)
	app.SetName(appName)
	app.SetNamespace(cluster.ArgoCDNamespace)
	app.Object["spec"] = map[string]any{
		"project": "default",
		"source": map[string]any{
			"repoURL":        repoURLForCluster(repo),
			"path":           "deploy",
			"targetRevision": "main",
		},
		"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": ns},
		"syncPolicy":  map[string]any{"automated": map[string]any{"prune": true, "selfHeal": true}},
	}
	if err := suite.client.Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := suite.client.Delete(context.Background(), app); err != nil {
			t.Logf("delete application %s: %v", appName, err)
		}
	})

	took := waitAppSynced(t, appName, sha1, true)
	t.Logf("[%s] first commit Synced+Healthy in %s", method, took.Round(time.Millisecond))
	wantConfigMap(t, ns, "v1")
	checkTracking(t, ns, appName, method)

	sha2 := push(t, repo, appManifests("v2"), "v2")
	start := time.Now()
	patch := []byte(`{"metadata":{"annotations":{"argocd.argoproj.io/refresh":"normal"}}}`)
	if err := suite.client.Patch(ctx, app, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	waitAppSynced(t, appName, sha2, false)
	t.Logf("[%s] second push + refresh Synced in %s", method, time.Since(start).Round(time.Millisecond))
	wantConfigMap(t, ns, "v2")
}

// waitAppSynced waits for sync status Synced at sha with a finished,
// successful sync operation for that revision, and, if healthy is set,
// health Healthy.
func waitAppSynced(t *testing.T, name, sha string, healthy bool) time.Duration {
	t.Helper()
	return eventually(t, 90*time.Second, "application "+name+" synced at "+sha, func(ctx context.Context) (bool, string, error) {
		app := &unstructured.Unstructured{}
		app.SetGroupVersionKind(applicationGVK)
		if err := suite.client.Get(ctx, client.ObjectKey{Namespace: cluster.ArgoCDNamespace, Name: name}, app); err != nil {
			return false, "", err
		}
		sync, _, _ := unstructured.NestedString(app.Object, "status", "sync", "status")
		rev, _, _ := unstructured.NestedString(app.Object, "status", "sync", "revision")
		health, _, _ := unstructured.NestedString(app.Object, "status", "health", "status")
		phase, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "phase")
		opRev, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "syncResult", "revision")
		conds, _, _ := unstructured.NestedSlice(app.Object, "status", "conditions")
		state := fmt.Sprintf("sync=%s revision=%s health=%s operation=%s@%s conditions=%v", sync, rev, health, phase, opRev, conds)
		done := sync == "Synced" && rev == sha && phase == "Succeeded" && opRev == sha && (!healthy || health == "Healthy")
		return done, state, nil
	}, "argocd-application-controller", "argocd-repo-server")
}

// checkTracking verifies the synced ConfigMap carries the marker of the
// tracking method in force, and not the other one.
func checkTracking(t *testing.T, ns, appName, method string) {
	t.Helper()
	var cm corev1.ConfigMap
	if err := suite.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "smoke"}, &cm); err != nil {
		t.Fatal(err)
	}
	label := cm.Labels["app.kubernetes.io/instance"]
	annotation := cm.Annotations["argocd.argoproj.io/tracking-id"]
	wantLabel := method == cluster.TrackingLabel || method == cluster.TrackingAnnotationAndLabel
	wantAnnotation := method == cluster.TrackingAnnotation || method == cluster.TrackingAnnotationAndLabel
	if (label == appName) != wantLabel {
		t.Errorf("tracking %s: label app.kubernetes.io/instance = %q", method, label)
	}
	if strings.HasPrefix(annotation, appName+":") != wantAnnotation {
		t.Errorf("tracking %s: annotation argocd.argoproj.io/tracking-id = %q", method, annotation)
	}
}

// setTrackingMethod patches argocd-cm, locally or on the external cluster.
func setTrackingMethod(t *testing.T, method string) {
	t.Helper()
	if suite.local != nil {
		if err := suite.local.SetArgoCDTrackingMethod(context.Background(), method); err != nil {
			t.Fatal(err)
		}
		return
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: cluster.ArgoCDNamespace, Name: "argocd-cm"}}
	patch := fmt.Sprintf(`{"data":{"application.resourceTrackingMethod":%q}}`, method)
	if err := suite.client.Patch(context.Background(), cm, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatalf("set tracking method %s: %v", method, err)
	}
}
