package kube

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ObjectRef names one Kubernetes object. Version may be empty where only the
// identity matters (group, kind, namespace, name are what Git manifests, Argo CD
// tracking ids and Flux inventories agree on).
type ObjectRef struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// GroupKind returns the object's group and kind.
func (r ObjectRef) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: r.Group, Kind: r.Kind}
}

// GroupVersionKind returns the object's group, version and kind.
func (r ObjectRef) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// SameObject reports whether r and o name the same object, ignoring the API
// version (the same object is served under several versions).
func (r ObjectRef) SameObject(o ObjectRef) bool {
	return r.Group == o.Group && r.Kind == o.Kind && r.Namespace == o.Namespace && r.Name == o.Name
}

// String renders the reference the way kubectl names objects:
// "deployment.apps/web -n prod" style is left to printers; this is
// "<kind>[.<group>]/<name>" prefixed by "<namespace>/" when namespaced.
func (r ObjectRef) String() string {
	kind := strings.ToLower(r.Kind)
	if r.Group != "" {
		kind += "." + r.Group
	}
	if r.Namespace != "" {
		return fmt.Sprintf("%s/%s/%s", r.Namespace, kind, r.Name)
	}
	return kind + "/" + r.Name
}

// RefOf returns the reference of an unstructured object.
func RefOf(u *unstructured.Unstructured) ObjectRef {
	gvk := u.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}
