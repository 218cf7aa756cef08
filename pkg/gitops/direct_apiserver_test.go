package gitops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/internal/testenv"
	"github.com/dot-ai/dot/pkg/kube"
)

// TestDirectAPIServer runs the direct path against a real kube-apiserver
// (envtest: etcd and kube-apiserver from `make testbin`, no controllers).
// Without the binaries it skips, or fails when CI is set.
func TestDirectAPIServer(t *testing.T) {
	cfg := testenv.StartAPIServer(t)
	cl, err := client.NewWithWatch(cfg, client.Options{Scheme: kube.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	h := &apiHelper{c: &Cluster{Client: cl}, cl: cl}

	t.Run("SetKeepsOtherManagersFields", h.testSet)
	t.Run("ConflictLeavesObject", h.testConflict)
	t.Run("ManagedRefusedUnlessForced", h.testManaged)
	t.Run("ServerDryRunWritesNothing", h.testServerDryRun)
	t.Run("CreateAndDelete", h.testCreateDelete)
	t.Run("CreateCRDAndResource", h.testCRD)
	t.Run("FieldRemoval", h.testRemoval)
	t.Run("StaleWriteRetried", h.testStale)
	t.Run("AtomicStructKeepsOtherFields", h.testAtomic)
	t.Run("WaitHealthy", h.testWaitHealthy)
	t.Run("WaitFailedAndTimeout", h.testWaitFailed)
}

type apiHelper struct {
	c  *Cluster
	cl client.WithWatch
	mu sync.Mutex
	ns int
}

// namespace creates a fresh namespace for one test.
func (h *apiHelper) namespace(t *testing.T) string {
	h.mu.Lock()
	h.ns++
	name := fmt.Sprintf("direct-%d", h.ns)
	h.mu.Unlock()
	if err := h.cl.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	return name
}

// deployment creates web with two containers' worth of fields, written by
// field manager "other" (as kubectl would).
func (h *apiHelper) deployment(t *testing.T, ns string, mutate func(*appsv1.Deployment), owner string) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Labels: map[string]string{"app": "web"},
			Annotations: map[string]string{"team": "a"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: "nginx:1",
					Args:  []string{"--a", "--b"},
					Env:   []corev1.EnvVar{{Name: "FOO", Value: "1"}, {Name: "BAR", Value: "2"}},
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
						Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
					},
				}}},
			},
		},
	}
	if mutate != nil {
		mutate(d)
	}
	if err := h.cl.Create(t.Context(), d, client.FieldOwner(owner)); err != nil {
		t.Fatal(err)
	}
	return d
}

func (h *apiHelper) get(t *testing.T, ns, name string) *appsv1.Deployment {
	var d appsv1.Deployment
	if err := h.cl.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func deployRef(ns string) kube.ObjectRef {
	return kube.ObjectRef{Group: "apps", Kind: "Deployment", Namespace: ns, Name: "web"}
}

func (h *apiHelper) deliver(t *testing.T, opts DirectOptions, changes ...Change) ([]DirectPlan, []DirectResult, error) {
	t.Helper()
	plans, err := h.c.PlanDirect(t.Context(), changes, opts)
	if err != nil {
		return nil, nil, err
	}
	res, err := h.c.ApplyDirect(t.Context(), plans, opts)
	return plans, res, err
}

func (h *apiHelper) testSet(t *testing.T) {
	ns := h.namespace(t)
	h.deployment(t, ns, nil, "other")
	plans, res, err := h.deliver(t, DirectOptions{NoWait: true}, Change{Object: deployRef(ns), Action: ActionSet, Fields: []FieldChange{
		{Path: "spec.replicas", Value: 5, Expect: 2},
		{Path: "spec.template.spec.containers[name=web].image", Value: "nginx:2", Expect: "nginx:1"},
		{Path: "spec.template.spec.containers[0].env[name=BAZ].value", Value: "3", ExpectAbsent: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if plans[0].Object.Version != "v1" || !plans[0].Exists || plans[0].ManagedBy != "" {
		t.Errorf("plan = %+v", plans[0])
	}
	for _, want := range []string{"-  replicas: 2\n", "+  replicas: 5\n", "-        image: nginx:1\n", "+        image: nginx:2\n", "+        - name: BAZ\n"} {
		if !strings.Contains(plans[0].Diff, want) {
			t.Errorf("plan diff lacks %q:\n%s", want, plans[0].Diff)
		}
	}
	if strings.Contains(plans[0].Diff, "managedFields") || strings.Contains(plans[0].Diff, "resourceVersion") {
		t.Errorf("plan diff shows server metadata:\n%s", plans[0].Diff)
	}
	if len(res) != 1 || res[0].Status != directConfigured {
		t.Fatalf("results = %+v", res)
	}
	if want := "other: .spec.replicas"; !slices.Contains(res[0].Overrode, want) {
		t.Errorf("Overrode = %q, want it to name %q", res[0].Overrode, want)
	}
	d := h.get(t, ns, "web")
	c := d.Spec.Template.Spec.Containers[0]
	if *d.Spec.Replicas != 5 || c.Image != "nginx:2" {
		t.Errorf("replicas %d image %s, want 5 nginx:2", *d.Spec.Replicas, c.Image)
	}
	wantEnv := []corev1.EnvVar{{Name: "FOO", Value: "1"}, {Name: "BAR", Value: "2"}, {Name: "BAZ", Value: "3"}}
	if fmt.Sprint(c.Env) != fmt.Sprint(wantEnv) || fmt.Sprint(c.Args) != "[--a --b]" || d.Labels["app"] != "web" ||
		d.Annotations["team"] != "a" || c.Resources.Limits.Memory().String() != "128Mi" {
		t.Errorf("other manager's fields changed: env %v args %v labels %v annotations %v resources %v", c.Env, c.Args, d.Labels, d.Annotations, c.Resources)
	}
	dot := managerEntry(d.ManagedFields, "dot")
	if dot == nil || dot.Operation != metav1.ManagedFieldsOperationApply {
		t.Fatalf("no Apply entry of manager dot in %+v", d.ManagedFields)
	}
	fields := dot.FieldsV1.GetRawString()
	for _, want := range []string{`"f:replicas"`, `"f:image"`, `"k:{\"name\":\"BAZ\"}"`} {
		if !strings.Contains(fields, want) {
			t.Errorf("dot does not own %s: %s", want, fields)
		}
	}
	if strings.Contains(fields, `"f:args"`) || strings.Contains(fields, `"k:{\"name\":\"FOO\"}"`) {
		t.Errorf("dot owns fields it did not set: %s", fields)
	}

	// A later Set of another field keeps what dot applied before: the
	// server would otherwise remove fields dot owned and no longer sends.
	_, res, err = h.deliver(t, DirectOptions{NoWait: true}, Change{Object: deployRef(ns), Action: ActionSet, Fields: []FieldChange{
		{Path: "spec.replicas", Value: 6},
	}})
	if err != nil {
		t.Fatal(err)
	}
	d = h.get(t, ns, "web")
	c = d.Spec.Template.Spec.Containers[0]
	if *d.Spec.Replicas != 6 || c.Image != "nginx:2" || len(c.Env) != 3 {
		t.Errorf("after a second Set: replicas %d image %s env %v; want 6, nginx:2 and BAZ kept", *d.Spec.Replicas, c.Image, c.Env)
	}
	if len(res[0].Overrode) != 0 {
		t.Errorf("second Set overrode %q; dot owned replicas already", res[0].Overrode)
	}

	// The same values again: nothing to write.
	rv := d.ResourceVersion
	_, res, err = h.deliver(t, DirectOptions{NoWait: true}, Change{Object: deployRef(ns), Action: ActionSet, Fields: []FieldChange{
		{Path: "spec.replicas", Value: 6, Expect: 5},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != directUnchanged || h.get(t, ns, "web").ResourceVersion != rv {
		t.Errorf("repeat: status %s, resourceVersion %s -> %s", res[0].Status, rv, h.get(t, ns, "web").ResourceVersion)
	}
}

// testAtomic sets one field inside atomic structs and maps (an env
// source's configMapKeyRef, the pod's nodeSelector): the apply replaces them
// whole, so their other fields must survive because dot sends them along.
func (h *apiHelper) testAtomic(t *testing.T) {
	ns := h.namespace(t)
	h.deployment(t, ns, func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd", "zone": "a"}
		d.Spec.Template.Spec.Containers[0].Env = append(d.Spec.Template.Spec.Containers[0].Env, corev1.EnvVar{Name: "LEVEL",
			ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "level", Optional: ptr.To(true)}}})
	}, "other")
	_, _, err := h.deliver(t, DirectOptions{NoWait: true}, Change{Object: deployRef(ns), Action: ActionSet, Fields: []FieldChange{
		{Path: "spec.template.spec.containers[name=web].env[name=LEVEL].valueFrom.configMapKeyRef.name", Value: "cfg2", Expect: "cfg"},
		{Path: "spec.template.spec.nodeSelector.disk", Value: "hdd", Expect: "ssd"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	d := h.get(t, ns, "web")
	var ref *corev1.ConfigMapKeySelector
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "LEVEL" && e.ValueFrom != nil {
			ref = e.ValueFrom.ConfigMapKeyRef
		}
	}
	if ref == nil || ref.Name != "cfg2" || ref.Key != "level" || ref.Optional == nil || !*ref.Optional {
		t.Errorf("configMapKeyRef = %+v, want name cfg2 with key level and optional kept", ref)
	}
	if got := d.Spec.Template.Spec.NodeSelector; got["disk"] != "hdd" || got["zone"] != "a" || len(got) != 2 {
		t.Errorf("nodeSelector = %v, want disk=hdd zone=a", got)
	}
}

func (h *apiHelper) testConflict(t *testing.T) {
	ns := h.namespace(t)
	h.deployment(t, ns, nil, "other")
	set := Change{Object: deployRef(ns), Action: ActionSet, Fields: []FieldChange{{Path: "spec.replicas", Value: 5, Expect: 3}}}
	_, err := h.c.PlanDirect(t.Context(), []Change{set}, DirectOptions{})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("PlanDirect error = %v, want ErrConflict", err)
	}
	for _, want := range []string{ns + "/deployment.apps/web", "spec.replicas", "expected 3", "found 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	// The object changes between plan and apply: the apply re-checks.
	set.Fields[0].Expect = 2
	plans, err := h.c.PlanDirect(t.Context(), []Change{set}, DirectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := h.get(t, ns, "web")
	d.Spec.Replicas = ptr.To[int32](4)
	if err := h.cl.Update(t.Context(), d, client.FieldOwner("someone")); err != nil {
		t.Fatal(err)
	}
	rv := h.get(t, ns, "web").ResourceVersion
	res, err := h.c.ApplyDirect(t.Context(), plans, DirectOptions{NoWait: true})
	if !errors.Is(err, ErrConflict) || len(res) != 0 {
		t.Fatalf("ApplyDirect = %+v, %v; want ErrConflict and no results", res, err)
	}
	if !strings.Contains(err.Error(), "found 4") || !strings.Contains(err.Error(), "nothing was applied") {
		t.Errorf("error %q", err)
	}
	if got := h.get(t, ns, "web"); got.ResourceVersion != rv || *got.Spec.Replicas != 4 {
		t.Errorf("object changed: resourceVersion %s -> %s, replicas %d", rv, got.ResourceVersion, *got.Spec.Replicas)
	}
}

func (h *apiHelper) testManaged(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*appsv1.Deployment)
		owner  string
		want   string
	}{
		{"flux labels", func(d *appsv1.Deployment) {
			d.Labels[LabelKustomizationName], d.Labels[LabelKustomizationNamespace] = "apps", "flux-system"
		}, "other", "Flux Kustomization flux-system/apps"},
		{"argo tracking id", func(d *appsv1.Deployment) {
			d.Annotations["argocd.argoproj.io/tracking-id"] = "web:apps/Deployment:" + d.Namespace + "/web"
		}, "other", "Argo CD Application argocd/web"},
		{"managedFields", nil, "kustomize-controller", "field manager kustomize-controller"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := h.namespace(t)
			h.deployment(t, ns, tc.mutate, tc.owner)
			set := Change{Object: deployRef(ns), Action: ActionSet, Fields: []FieldChange{{Path: "spec.replicas", Value: 3}}}
			_, err := h.c.PlanDirect(t.Context(), []Change{set}, DirectOptions{})
			if !errors.Is(err, ErrGitOpsManaged) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--force-direct") {
				t.Fatalf("error = %v; want ErrGitOpsManaged naming %q and --force-direct", err, tc.want)
			}
			plans, res, err := h.deliver(t, DirectOptions{ForceDirect: true, NoWait: true}, set)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(plans[0].ManagedBy, tc.want) || len(plans[0].Warnings) != 1 || !strings.Contains(plans[0].Warnings[0], tc.want) {
				t.Errorf("plan managedBy %q warnings %q", plans[0].ManagedBy, plans[0].Warnings)
			}
			if res[0].Status != directConfigured || *h.get(t, ns, "web").Spec.Replicas != 3 {
				t.Errorf("forced apply: %+v", res[0])
			}
		})
	}
}

func (h *apiHelper) testServerDryRun(t *testing.T) {
	ns := h.namespace(t)
	h.deployment(t, ns, nil, "other")
	rv := h.get(t, ns, "web").ResourceVersion
	opts := DirectOptions{DryRun: "server"}
	changes := []Change{
		{Object: deployRef(ns), Action: ActionSet, Fields: []FieldChange{
			{Path: "spec.replicas", Value: 7},
			{Path: "spec.template.spec.containers[name=sidecar]", Value: map[string]any{"image": "busybox"}},
		}},
		{Object: kube.ObjectRef{Kind: "ConfigMap", Namespace: ns, Name: "cfg"}, Action: ActionCreate,
			Manifest: &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": "cfg"}, "data": map[string]any{"k": "v"}}}},
	}
	plans, res, err := h.deliver(t, opts, changes...)
	if err != nil {
		t.Fatal(err)
	}
	// ConfigMaps before workloads.
	if plans[0].Object.Kind != "ConfigMap" || plans[1].Object.Kind != "Deployment" {
		t.Fatalf("plan order %s, %s", plans[0].Object, plans[1].Object)
	}
	d := plans[1]
	if d.DiffFrom != "server" || !strings.Contains(d.Diff, "+  replicas: 7\n") || !strings.Contains(d.Diff, "+      - image: busybox\n") {
		t.Errorf("server diff (%s):\n%s", d.DiffFrom, d.Diff)
	}
	// Server defaults show up only in a server dry run.
	if !strings.Contains(d.Diff, "+        terminationMessagePath: /dev/termination-log\n") {
		t.Errorf("server diff lacks the defaulted sidecar fields:\n%s", d.Diff)
	}
	if !strings.Contains(plans[0].Diff, "--- /dev/null\n") || !strings.Contains(plans[0].Diff, "+  k: v\n") {
		t.Errorf("create diff:\n%s", plans[0].Diff)
	}
	for _, r := range res {
		if r.Status != directSkipped {
			t.Errorf("dry run result %+v", r)
		}
	}
	if got := h.get(t, ns, "web").ResourceVersion; got != rv {
		t.Errorf("server dry run wrote: resourceVersion %s -> %s", rv, got)
	}
	var cm corev1.ConfigMap
	if err := h.cl.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "cfg"}, &cm); !apierrors.IsNotFound(err) {
		t.Errorf("server dry run created the ConfigMap: %v", err)
	}
}

func (h *apiHelper) testCreateDelete(t *testing.T) {
	ns := fmt.Sprintf("direct-new-%d", time.Now().UnixNano()%100000)
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "cfg"}, "data": map[string]any{"k": "v"}}}
	svc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "web"},
		"spec":     map[string]any{"selector": map[string]any{"app": "web"}, "ports": []any{map[string]any{"port": int64(80)}}}}}
	nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
	changes := []Change{
		{Object: kube.ObjectRef{Kind: "Service", Namespace: ns, Name: "web"}, Action: ActionCreate, Manifest: svc},
		{Object: kube.ObjectRef{Kind: "ConfigMap", Namespace: ns, Name: "cfg"}, Action: ActionCreate, Manifest: cm},
		{Object: kube.ObjectRef{Kind: "Namespace", Name: ns}, Action: ActionCreate, Manifest: nsObj},
	}
	// A server dry run cannot see the namespace yet: the two objects in it
	// are deferred, not failed.
	plans, err := h.c.PlanDirect(t.Context(), changes, DirectOptions{DryRun: "server"})
	if err != nil {
		t.Fatal(err)
	}
	if plans[0].Object.Kind != "Namespace" || plans[1].Deferred == "" || plans[2].Deferred == "" {
		t.Errorf("plans: %+v", plans)
	}
	var events []string
	opts := DirectOptions{PollInterval: 50 * time.Millisecond, WaitTimeout: 30 * time.Second,
		OnEvent: func(e Event) { events = append(events, e.Step+": "+e.Message) }}
	_, res, err := h.deliver(t, opts, changes...)
	if err != nil {
		t.Fatalf("%v\nevents:\n%s", err, strings.Join(events, "\n"))
	}
	for _, r := range res {
		if r.Status != directCreated || r.Health != HealthHealthy {
			t.Errorf("result %+v", r)
		}
	}
	// Create of what exists: unchanged.
	_, res, err = h.deliver(t, opts, changes[1])
	if err != nil || res[0].Status != directUnchanged {
		t.Errorf("create again: %+v, %v", res, err)
	}
	// Delete, waiting until gone.
	del := Change{Object: kube.ObjectRef{Kind: "ConfigMap", Namespace: ns, Name: "cfg"}, Action: ActionDelete}
	plans, res, err = h.deliver(t, opts, del)
	if err != nil {
		t.Fatal(err)
	}
	if !plans[0].Exists || plans[0].UID == "" || !strings.Contains(plans[0].Diff, "+++ /dev/null") || res[0].Status != directDeleted {
		t.Errorf("delete: plan %+v result %+v", plans[0], res[0])
	}
	var got corev1.ConfigMap
	if err := h.cl.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "cfg"}, &got); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap still there: %v", err)
	}
	_, res, err = h.deliver(t, opts, del)
	if err != nil || res[0].Status != directUnchanged {
		t.Errorf("delete again: %+v, %v", res, err)
	}
}

func (h *apiHelper) testCRD(t *testing.T) {
	ns := h.namespace(t)
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets.example.com"},
		"spec": map[string]any{
			"group": "example.com", "scope": "Namespaced",
			"names": map[string]any{"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	widget := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "w"},
		"spec": map[string]any{"items": []any{map[string]any{"name": "a", "v": int64(1)}, map[string]any{"name": "b", "v": int64(1)}}},
	}}
	changes := []Change{
		{Object: kube.ObjectRef{Group: "example.com", Kind: "Widget", Namespace: ns, Name: "w"}, Action: ActionCreate, Manifest: widget},
		{Object: kube.ObjectRef{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition", Name: "widgets.example.com"}, Action: ActionCreate, Manifest: crd},
	}
	opts := DirectOptions{PollInterval: 50 * time.Millisecond, WaitTimeout: 30 * time.Second}
	plans, res, err := h.deliver(t, opts, changes...)
	if err != nil {
		t.Fatal(err)
	}
	if plans[1].Object.Kind != "Widget" || !strings.Contains(plans[1].Deferred, "CustomResourceDefinition widgets.example.com") {
		t.Errorf("widget plan %+v", plans[1])
	}
	for _, r := range res {
		if r.Status != directCreated || r.Health != HealthHealthy {
			t.Errorf("result %+v", r)
		}
	}
	// A custom resource's list is sent whole (its merge keys are unknown).
	_, _, err = h.deliver(t, DirectOptions{NoWait: true}, Change{Object: changes[0].Object, Action: ActionSet,
		Fields: []FieldChange{{Path: "spec.items[name=b].v", Value: 2, Expect: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(widget.GroupVersionKind())
	if err := h.cl.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "w"}, got); err != nil {
		t.Fatal(err)
	}
	items, _, _ := unstructured.NestedSlice(got.Object, "spec", "items")
	if fmt.Sprint(items) != "[map[name:a v:1] map[name:b v:2]]" {
		t.Errorf("items = %v", items)
	}
}

func (h *apiHelper) testRemoval(t *testing.T) {
	ns := h.namespace(t)
	h.deployment(t, ns, nil, "other")
	plans, res, err := h.deliver(t, DirectOptions{NoWait: true, DryRun: ""}, Change{Object: deployRef(ns), Action: ActionSet, Fields: []FieldChange{
		{Path: "spec.template.spec.containers[name=web].env[name=FOO]", Delete: true},
		{Path: `metadata.annotations["team"]`, Delete: true, Expect: "a"},
		// Replacing a mapping removes what the new value lacks.
		{Path: "spec.template.spec.containers[name=web].resources", Value: map[string]any{"limits": map[string]any{"cpu": "1"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plans[0].Diff, "-        - name: FOO\n") || !strings.Contains(plans[0].Diff, "-    team: a\n") {
		t.Errorf("plan diff:\n%s", plans[0].Diff)
	}
	if res[0].Status != directConfigured {
		t.Errorf("result %+v", res[0])
	}
	d := h.get(t, ns, "web")
	c := d.Spec.Template.Spec.Containers[0]
	if len(c.Env) != 1 || c.Env[0].Name != "BAR" {
		t.Errorf("env = %v, want only BAR", c.Env)
	}
	if _, ok := d.Annotations["team"]; ok {
		t.Errorf("annotation team still set: %v", d.Annotations)
	}
	if c.Resources.Requests != nil || c.Resources.Limits.Cpu().String() != "1" || c.Resources.Limits.Memory().Value() != 0 {
		t.Errorf("resources = %+v, want only limits.cpu 1", c.Resources)
	}
	// Defaults of the container stay (not removed by the replacement).
	if c.TerminationMessagePath == "" || c.ImagePullPolicy == "" {
		t.Errorf("defaulted fields lost: %+v", c)
	}
	// Replacing a whole container drops what the new one lacks, but not
	// what the server defaults (those would come back at once).
	replace := Change{Object: deployRef(ns), Action: ActionSet, Fields: []FieldChange{
		{Path: "spec.template.spec.containers[name=web]", Value: map[string]any{"name": "web", "image": "nginx:3"}},
	}}
	if _, _, err = h.deliver(t, DirectOptions{NoWait: true}, replace); err != nil {
		t.Fatal(err)
	}
	// Again: the defaulted fields are not "removed" again (nothing written).
	plans, _, err = h.deliver(t, DirectOptions{NoWait: true, DryRun: "server"}, replace)
	if err != nil {
		t.Fatal(err)
	}
	if plans[0].Diff != "" {
		t.Errorf("replacing again: diff\n%s", plans[0].Diff)
	}
	if _, res, err = h.deliver(t, DirectOptions{NoWait: true}, replace); err != nil || res[0].Status != directUnchanged {
		t.Errorf("replacing again: %+v, %v", res, err)
	}
	c = h.get(t, ns, "web").Spec.Template.Spec.Containers[0]
	if c.Image != "nginx:3" || c.Args != nil || c.Env != nil || c.Ports != nil || c.Resources.Limits != nil ||
		c.TerminationMessagePath != "/dev/termination-log" || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("replaced container = %+v", c)
	}

	// Removing what is gone already: unchanged.
	_, res, err = h.deliver(t, DirectOptions{NoWait: true}, Change{Object: deployRef(ns), Action: ActionSet, Fields: []FieldChange{
		{Path: "spec.template.spec.containers[name=web].env[name=FOO]", Delete: true},
		{Path: "spec.template.spec.containers[name=web].args", Delete: true, ExpectAbsent: true},
	}})
	if err != nil || res[0].Status != directUnchanged {
		t.Errorf("repeat removal: %+v, %v", res, err)
	}
}

func (h *apiHelper) testStale(t *testing.T) {
	ns := h.namespace(t)
	h.deployment(t, ns, nil, "other")
	p := &DirectPlan{Change: Change{Object: deployRef(ns), Action: ActionSet, Fields: []FieldChange{
		{Path: "spec.replicas", Value: 5, Expect: 2},
		{Path: "spec.template.spec.containers[name=web].env[name=BAR]", Delete: true},
	}}}
	opts := DirectOptions{NoWait: true}
	op, err := h.c.prepare(t.Context(), p, nil, ArgoSettings{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.c.dryRun(t.Context(), op, opts); err != nil {
		t.Fatal(err)
	}
	// Someone writes an unrelated field after dot read the object.
	d := h.get(t, ns, "web")
	d.Labels["touched"] = "yes"
	if err := h.cl.Update(t.Context(), d, client.FieldOwner("someone")); err != nil {
		t.Fatal(err)
	}
	var retries int
	opts.OnEvent = func(e Event) {
		if strings.Contains(e.Message, "changed while applying") {
			retries++
		}
	}
	res, err := h.c.applyOne(t.Context(), op, ArgoSettings{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	d = h.get(t, ns, "web")
	if retries != 1 || res.Status != directConfigured || *d.Spec.Replicas != 5 || d.Labels["touched"] != "yes" || len(d.Spec.Template.Spec.Containers[0].Env) != 1 {
		t.Errorf("retries %d result %+v replicas %d labels %v env %v", retries, res, *d.Spec.Replicas, d.Labels, d.Spec.Template.Spec.Containers[0].Env)
	}

	// The same, but the concurrent write changes the expected field: the
	// retry's compare-and-swap fails.
	p.Change.Fields = []FieldChange{{Path: "spec.replicas", Value: 8, Expect: 5}}
	if op, err = h.c.prepare(t.Context(), p, nil, ArgoSettings{}, opts); err != nil {
		t.Fatal(err)
	}
	d.Spec.Replicas = ptr.To[int32](6)
	if err := h.cl.Update(t.Context(), d, client.FieldOwner("someone")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.applyOne(t.Context(), op, ArgoSettings{}, opts); !errors.Is(err, ErrConflict) {
		t.Errorf("applyOne = %v, want ErrConflict", err)
	}
	if got := *h.get(t, ns, "web").Spec.Replicas; got != 6 {
		t.Errorf("replicas = %d, want 6 (the concurrent write kept)", got)
	}
}

// markAvailable plays the deployment controller: it reports the current
// generation rolled out and available through the status subresource.
func (h *apiHelper) markAvailable(ctx context.Context, ns string, conds ...appsv1.DeploymentCondition) error {
	var d appsv1.Deployment
	if err := h.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &d); err != nil {
		return err
	}
	n := *d.Spec.Replicas
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n,
		ReadyReplicas: n, AvailableReplicas: n, Conditions: conds}
	return h.cl.Status().Update(ctx, &d)
}

func (h *apiHelper) testWaitHealthy(t *testing.T) {
	ns := h.namespace(t)
	h.deployment(t, ns, nil, "other")
	// A ConfigMap and a Service are Current at once.
	svc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "web"},
		"spec":     map[string]any{"selector": map[string]any{"app": "web"}, "ports": []any{map[string]any{"port": int64(80), "targetPort": int64(8080)}}}}}
	set := Change{Object: deployRef(ns), Action: ActionSet, Fields: []FieldChange{{Path: "spec.replicas", Value: 3}}}
	changes := []Change{set, {Object: kube.ObjectRef{Kind: "Service", Namespace: ns, Name: "web"}, Action: ActionCreate, Manifest: svc}}
	plans, err := h.c.PlanDirect(t.Context(), changes, DirectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	applied := make(chan struct{})
	opts := DirectOptions{PollInterval: 50 * time.Millisecond, WaitTimeout: 30 * time.Second, OnEvent: func(e Event) {
		if e.Step == "wait" && strings.Contains(e.Message, "deployment") && strings.Contains(e.Message, HealthProgressing) {
			select {
			case <-applied:
			default:
				close(applied)
			}
		}
	}}
	go func() {
		<-applied
		_ = h.markAvailable(context.Background(), ns,
			appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue},
			appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"})
	}()
	res, err := h.c.ApplyDirect(t.Context(), plans, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Health != HealthHealthy {
			t.Errorf("result %+v", r)
		}
	}
	// A Service port changed by key keeps the other fields of the item.
	_, _, err = h.deliver(t, DirectOptions{NoWait: true}, Change{Object: kube.ObjectRef{Kind: "Service", Namespace: ns, Name: "web"}, Action: ActionSet,
		Fields: []FieldChange{{Path: "spec.ports[port=80].targetPort", Value: 9090, Expect: 8080}}})
	if err != nil {
		t.Fatal(err)
	}
	var s corev1.Service
	if err := h.cl.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "web"}, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].TargetPort != intstr.FromInt32(9090) || s.Spec.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("service ports %+v", s.Spec.Ports)
	}
}

func (h *apiHelper) testWaitFailed(t *testing.T) {
	ns := h.namespace(t)
	h.deployment(t, ns, nil, "other")
	set := Change{Object: deployRef(ns), Action: ActionSet, Fields: []FieldChange{{Path: "spec.replicas", Value: 4}}}

	// Nothing reports progress: the deadline passes.
	start := time.Now()
	_, res, err := h.deliver(t, DirectOptions{PollInterval: 50 * time.Millisecond, WaitTimeout: time.Second}, set)
	var we *WaitError
	if !errors.As(err, &we) || !we.Timeout || !IsTimeout(err) {
		t.Fatalf("err = %v, want a timeout WaitError", err)
	}
	if time.Since(start) > 10*time.Second || len(res) != 1 || res[0].Health != HealthProgressing || !strings.Contains(err.Error(), "deployment.apps/web") {
		t.Errorf("after %v: results %+v, error %v", time.Since(start), res, err)
	}

	// The controller reports the rollout stuck: kstatus Failed.
	if err := h.markAvailable(t.Context(), ns, appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing,
		Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "web has timed out progressing"}); err != nil {
		t.Fatal(err)
	}
	set.Fields[0].Value = 4 // unchanged: the wait still reports health
	_, res, err = h.deliver(t, DirectOptions{PollInterval: 50 * time.Millisecond, WaitTimeout: 10 * time.Second}, set)
	if !errors.As(err, &we) || we.Timeout || !IsWaitFailure(err) || !strings.Contains(err.Error(), "Progress deadline exceeded") {
		t.Fatalf("err = %v, want a failure WaitError with kstatus' message", err)
	}
	if res[0].Health != HealthDegraded || res[0].Status != directUnchanged {
		t.Errorf("result %+v", res[0])
	}
}

func managerEntry(mf []metav1.ManagedFieldsEntry, name string) *metav1.ManagedFieldsEntry {
	for i := range mf {
		if mf[i].Manager == name && mf[i].Operation == metav1.ManagedFieldsOperationApply {
			return &mf[i]
		}
	}
	return nil
}
