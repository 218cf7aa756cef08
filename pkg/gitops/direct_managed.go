package gitops

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
)

// gitopsManagers are the field managers of GitOps controllers: an object
// they wrote to is reconciled by them, and a direct change would be reverted.
var gitopsManagers = map[string]string{
	"argocd-controller":             "Argo CD",
	"argocd-application-controller": "Argo CD",
	"kustomize-controller":          "Flux",
	"helm-controller":               "Flux",
}

// ManagedBy says why obj looks managed by a GitOps controller, or "" when
// nothing says so. Unlike FindOwner it reads nothing: it trusts the object's
// own metadata, which is the right bias for refusing a direct change (a
// false positive costs a --force-direct, a false negative a silent revert).
// Evidence, first match wins:
//   - an Argo CD tracking-id annotation naming this object;
//   - Flux Kustomization or HelmRelease labels (name and namespace);
//   - Argo CD's instance label, when argocd-cm says label tracking is in use
//     (or does not say, and Argo CD is installed);
//   - a managedFields entry of argocd-controller, kustomize-controller or
//     helm-controller.
func ManagedBy(obj *unstructured.Unstructured, argo ArgoSettings) string {
	ann, labels := obj.GetAnnotations(), obj.GetLabels()
	if v := ann[argocd.AnnotationTrackingID]; v != "" {
		if t, err := ParseTrackingID(v); err == nil && trackingMatches(t, obj) {
			ns := t.AppNamespace
			if ns == "" {
				ns = DefaultArgoCDNamespace
			}
			return fmt.Sprintf("Argo CD Application %s/%s (annotation %s)", ns, t.AppName, argocd.AnnotationTrackingID)
		}
	}
	if name, ns := labels[LabelKustomizationName], labels[LabelKustomizationNamespace]; name != "" && ns != "" {
		return fmt.Sprintf("Flux Kustomization %s/%s (labels %s)", ns, name, "kustomize.toolkit.fluxcd.io/{name,namespace}")
	}
	if name, ns := labels[LabelHelmReleaseName], labels[LabelHelmReleaseNamespace]; name != "" && ns != "" {
		return fmt.Sprintf("Flux HelmRelease %s/%s (labels %s)", ns, name, "helm.toolkit.fluxcd.io/{name,namespace}")
	}
	key := argo.InstanceLabelKey
	if key == "" {
		key = argocd.DefaultInstanceLabel
	}
	if v := labels[key]; v != "" && argo.Installed && (argo.TrackingMethod == TrackingLabel || argo.TrackingMethod == "") {
		app := v
		if ns, name, ok := strings.Cut(v, "_"); ok {
			app = ns + "/" + name
		}
		return fmt.Sprintf("Argo CD Application %s (label %s, label tracking)", app, key)
	}
	for _, mf := range obj.GetManagedFields() {
		if who, ok := gitopsManagers[mf.Manager]; ok && mf.Subresource == "" {
			return fmt.Sprintf("%s (field manager %s in managedFields)", who, mf.Manager)
		}
	}
	return ""
}

func trackingMatches(t TrackingID, obj *unstructured.Unstructured) bool {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(obj.GroupVersionKind())
	m.SetNamespace(obj.GetNamespace())
	m.SetName(obj.GetName())
	return t.Matches(m)
}
