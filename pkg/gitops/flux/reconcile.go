package flux

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NewToken returns a reconcile request token for now, in the format the flux
// CLI writes (RFC 3339 with nanoseconds). Controllers copy the token they
// handled to status.lastHandledReconcileAt.
func NewToken(now time.Time) string { return now.UTC().Format(time.RFC3339Nano) }

// ObjectRef names a Flux object of any kind.
type ObjectRef struct {
	GroupVersionKind schema.GroupVersionKind `json:"gvk"`
	Namespace        string                  `json:"namespace"`
	Name             string                  `json:"name"`
}

// Key returns the object's namespace and name.
func (r ObjectRef) Key() types.NamespacedName {
	return types.NamespacedName{Namespace: r.Namespace, Name: r.Name}
}

// String renders "GitRepository flux-system/podinfo".
func (r ObjectRef) String() string {
	return fmt.Sprintf("%s %s/%s", r.GroupVersionKind.Kind, r.Namespace, r.Name)
}

// IsZero reports whether the reference is empty.
func (r ObjectRef) IsZero() bool { return r.Name == "" }

// RequestReconcile sets reconcile.fluxcd.io/requestedAt to token on the object
// with a merge patch, which asks its controller to reconcile it now. Only the
// annotation is sent, so the patch never overwrites other fields; conflicts
// (from admission webhooks or a server that insists on them) are retried.
func RequestReconcile(ctx context.Context, c client.Client, ref ObjectRef, token string) error {
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{meta.ReconcileRequestAnnotation: token}},
	})
	if err != nil {
		return err
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(ref.GroupVersionKind)
	obj.SetNamespace(ref.Namespace)
	obj.SetName(ref.Name)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		return c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))
	})
	if err != nil {
		return fmt.Errorf("request reconcile of %s: %w", ref, err)
	}
	return nil
}

// sourceGVK maps a source kind to its group/version. apiVersion, when set in
// the reference, wins.
func sourceGVK(apiVersion, kind string) schema.GroupVersionKind {
	if apiVersion != "" {
		if gv, err := schema.ParseGroupVersion(apiVersion); err == nil && gv.Group != "" {
			return gv.WithKind(kind)
		}
	}
	return sourcev1.GroupVersion.WithKind(kind)
}

// KustomizationSource returns the source a Kustomization builds from.
func KustomizationSource(ks *kustomizev1.Kustomization) ObjectRef {
	ref := ks.Spec.SourceRef
	ns := ref.Namespace
	if ns == "" {
		ns = ks.Namespace
	}
	return ObjectRef{GroupVersionKind: sourceGVK(ref.APIVersion, ref.Kind), Namespace: ns, Name: ref.Name}
}

// HelmReleaseSources returns where a HelmRelease's chart comes from: the
// source of its chart template (spec.chart.spec.sourceRef: a GitRepository,
// HelmRepository or Bucket) and the HelmChart source-controller builds from
// it; or, with spec.chartRef, the OCIRepository or HelmChart it names (then
// chart is that object when it is a HelmChart, and source is empty unless the
// HelmChart's own source is looked up by the caller).
func HelmReleaseSources(hr *helmv2.HelmRelease) (source, chart ObjectRef) {
	if ref := hr.Spec.ChartRef; ref != nil {
		ns := ref.Namespace
		if ns == "" {
			ns = hr.Namespace
		}
		r := ObjectRef{GroupVersionKind: sourceGVK(ref.APIVersion, ref.Kind), Namespace: ns, Name: ref.Name}
		if ref.Kind == sourcev1.HelmChartKind {
			return ObjectRef{}, r
		}
		return r, ObjectRef{}
	}
	if hr.Spec.Chart == nil {
		return ObjectRef{}, ObjectRef{}
	}
	ref := hr.Spec.Chart.Spec.SourceRef
	ns := ref.Namespace
	if ns == "" {
		ns = hr.Namespace
	}
	source = ObjectRef{GroupVersionKind: sourceGVK(ref.APIVersion, ref.Kind), Namespace: ns, Name: ref.Name}
	chart = ObjectRef{GroupVersionKind: sourcev1.GroupVersion.WithKind(sourcev1.HelmChartKind), Namespace: ns, Name: hr.Namespace + "-" + hr.Name}
	// status.helmChart ("<namespace>/<name>") is authoritative once set.
	if s := hr.Status.HelmChart; s != "" {
		if ns, name, ok := strings.Cut(s, "/"); ok {
			chart.Namespace, chart.Name = ns, name
		}
	}
	return source, chart
}

// HelmChartSource returns the source a HelmChart is built from.
func HelmChartSource(hc *sourcev1.HelmChart) ObjectRef {
	ref := hc.Spec.SourceRef
	return ObjectRef{GroupVersionKind: sourceGVK(ref.APIVersion, ref.Kind), Namespace: hc.Namespace, Name: ref.Name}
}
