package operations

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/kube"
)

// Config is what every action needs: a client of the workload's cluster and
// a clock.
type Config struct {
	Client client.Client
	Now    func() time.Time
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// workloadKinds are the kinds with a pod template, keyed by kind.
var workloadKinds = map[string]string{
	"Deployment": "apps", "StatefulSet": "apps", "DaemonSet": "apps", "ReplicaSet": "apps",
	"Job": "batch", "CronJob": "batch",
}

// Workload is a live object with a pod template.
type Workload struct {
	Ref kube.ObjectRef
	Obj *unstructured.Unstructured
	// From says how it was found when the user named a Pod or ReplicaSet.
	From []kube.ObjectRef
}

// templatePath is the pod template's path in the workload.
func (w *Workload) templatePath() string {
	if w.Ref.Kind == "CronJob" {
		return "spec.jobTemplate.spec.template"
	}
	return "spec.template"
}

// Containers returns the names of the pod template's containers.
func (w *Workload) Containers() []string {
	path := strings.Split(w.templatePath()+".spec.containers", ".")
	list, _, _ := unstructured.NestedSlice(w.Obj.Object, path...)
	var names []string
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			if n, ok := m["name"].(string); ok {
				names = append(names, n)
			}
		}
	}
	return names
}

// container picks the container to change: the named one, or the only one.
func (w *Workload) container(name string) (string, error) {
	names := w.Containers()
	switch {
	case name != "" && slices.Contains(names, name):
		return name, nil
	case name != "":
		return "", fmt.Errorf("%s has no container %q (containers: %s)", w.Ref, name, strings.Join(names, ", "))
	case len(names) == 1:
		return names[0], nil
	case len(names) == 0:
		return "", fmt.Errorf("%s has no containers", w.Ref)
	}
	return "", fmt.Errorf("%s has %d containers (%s): choose one with --container", w.Ref, len(names), strings.Join(names, ", "))
}

// containerField returns the field path of a container's field.
func (w *Workload) containerField(container, field string) string {
	return fmt.Sprintf("%s.spec.containers[name=%s].%s", w.templatePath(), container, field)
}

// containerValue reads a field of a container in the live object.
func (w *Workload) containerValue(container string, field ...string) (any, bool) {
	path := strings.Split(w.templatePath()+".spec.containers", ".")
	list, _, _ := unstructured.NestedSlice(w.Obj.Object, path...)
	for _, c := range list {
		m, ok := c.(map[string]any)
		if !ok || m["name"] != container {
			continue
		}
		v, found, _ := unstructured.NestedFieldNoCopy(m, field...)
		return v, found
	}
	return nil, false
}

// ResolveWorkload reads the object named by ref; a Pod or ReplicaSet is
// followed through its controller ownerReferences to the workload that owns
// it (kubectl users point at the failing Pod).
func (c *Config) ResolveWorkload(ctx context.Context, ref kube.ObjectRef) (*Workload, error) {
	var from []kube.ObjectRef
	for range 4 {
		obj, err := c.get(ctx, ref)
		if err != nil {
			return nil, err
		}
		if _, ok := workloadKinds[ref.Kind]; ok && !(ref.Kind == "ReplicaSet" && metav1.GetControllerOf(obj) != nil) &&
			!(ref.Kind == "Job" && metav1.GetControllerOf(obj) != nil) {
			return &Workload{Ref: kube.RefOf(obj), Obj: obj, From: from}, nil
		}
		ctrl := metav1.GetControllerOf(obj)
		if ctrl == nil {
			return nil, fmt.Errorf("%s is not a workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) and has no controller", ref)
		}
		gv, err := schema.ParseGroupVersion(ctrl.APIVersion)
		if err != nil {
			return nil, err
		}
		from = append(from, kube.RefOf(obj))
		ref = kube.ObjectRef{Group: gv.Group, Version: gv.Version, Kind: ctrl.Kind, Namespace: obj.GetNamespace(), Name: ctrl.Name}
	}
	return nil, fmt.Errorf("%s: no workload found within 4 controller hops", ref)
}

func (c *Config) get(ctx context.Context, ref kube.ObjectRef) (*unstructured.Unstructured, error) {
	gvk := ref.GroupVersionKind()
	if gvk.Version == "" {
		m, err := c.Client.RESTMapper().RESTMapping(ref.GroupKind())
		if err != nil {
			return nil, fmt.Errorf("resolve kind %s: %w", ref.GroupKind(), err)
		}
		gvk = m.GroupVersionKind
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%s not found: %w", ref, err)
		}
		return nil, fmt.Errorf("get %s: %w", ref, err)
	}
	return u, nil
}

func objName(w *Workload) string {
	return fmt.Sprintf("%s/%s", strings.ToLower(w.Ref.Kind), w.Ref.Name)
}
