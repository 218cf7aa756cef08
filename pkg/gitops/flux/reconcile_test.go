package flux

import (
	"context"
	"errors"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/dot-ai/dot/pkg/kube"
)

func TestNewToken(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 30, 0, 123456789, time.FixedZone("CET", 3600))
	if got, want := NewToken(now), "2026-11-21T08:30:00.123456789Z"; got != want {
		t.Errorf("NewToken = %q, want %q", got, want)
	}
}

func TestRequestReconcile(t *testing.T) {
	repo := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: "flux-system", Annotations: map[string]string{"keep": "me"}},
		Spec:       sourcev1.GitRepositorySpec{URL: "https://git.example.com/podinfo.git", Interval: metav1.Duration{Duration: time.Minute}},
	}
	conflicts := 0
	c := interceptor.NewClient(fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(repo).Build(), interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if conflicts < 2 {
				conflicts++
				return apierrors.NewConflict(schema.GroupResource{Group: "source.toolkit.fluxcd.io", Resource: "gitrepositories"}, obj.GetName(), errors.New("the object has been modified"))
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
	})
	ref := ObjectRef{GroupVersionKind: sourcev1.GroupVersion.WithKind("GitRepository"), Namespace: "flux-system", Name: "podinfo"}
	if err := RequestReconcile(context.Background(), c, ref, "tok-1"); err != nil {
		t.Fatal(err)
	}
	got := &sourcev1.GitRepository{}
	if err := c.Get(context.Background(), ref.Key(), got); err != nil {
		t.Fatal(err)
	}
	if got.Annotations[meta.ReconcileRequestAnnotation] != "tok-1" || got.Annotations["keep"] != "me" {
		t.Errorf("annotations = %v", got.Annotations)
	}
	if got.Spec.URL != repo.Spec.URL {
		t.Errorf("spec changed: %+v", got.Spec)
	}
	if conflicts != 2 {
		t.Errorf("conflicts retried = %d, want 2", conflicts)
	}

	missing := ref
	missing.Name = "nope"
	err := RequestReconcile(context.Background(), c, missing, "tok-2")
	if !apierrors.IsNotFound(err) {
		t.Errorf("missing object: err = %v, want NotFound", err)
	}
}

func TestSources(t *testing.T) {
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: "team-a"},
		Spec:       kustomizev1.KustomizationSpec{SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "fleet", Namespace: "flux-system"}},
	}
	if got := KustomizationSource(ks); got.String() != "GitRepository flux-system/fleet" || got.GroupVersionKind.Group != "source.toolkit.fluxcd.io" {
		t.Errorf("KustomizationSource = %+v", got)
	}
	ks.Spec.SourceRef.Namespace = ""
	ks.Spec.SourceRef.Kind = "OCIRepository"
	if got := KustomizationSource(ks); got.String() != "OCIRepository team-a/fleet" {
		t.Errorf("KustomizationSource without namespace = %v", got)
	}

	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "prod"},
		Spec: helmv2.HelmReleaseSpec{Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
			Chart: "./charts/web", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: "GitRepository", Name: "fleet", Namespace: "flux-system"},
		}}},
	}
	src, chart := HelmReleaseSources(hr)
	if src.String() != "GitRepository flux-system/fleet" || chart.String() != "HelmChart flux-system/prod-web" {
		t.Errorf("HelmReleaseSources = %v, %v", src, chart)
	}
	hr.Status.HelmChart = "flux-system/prod-web-x"
	if _, chart := HelmReleaseSources(hr); chart.Name != "prod-web-x" {
		t.Errorf("status.helmChart not used: %v", chart)
	}

	hr.Spec.Chart = nil
	hr.Spec.ChartRef = &helmv2.CrossNamespaceSourceReference{Kind: "OCIRepository", Name: "web-chart"}
	if src, chart := HelmReleaseSources(hr); src.String() != "OCIRepository prod/web-chart" || !chart.IsZero() {
		t.Errorf("chartRef OCIRepository = %v, %v", src, chart)
	}
	hr.Spec.ChartRef = &helmv2.CrossNamespaceSourceReference{Kind: "HelmChart", Name: "web", Namespace: "charts"}
	if src, chart := HelmReleaseSources(hr); !src.IsZero() || chart.String() != "HelmChart charts/web" {
		t.Errorf("chartRef HelmChart = %v, %v", src, chart)
	}

	hc := &sourcev1.HelmChart{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "charts"},
		Spec:       sourcev1.HelmChartSpec{SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: "GitRepository", Name: "fleet"}},
	}
	if got := HelmChartSource(hc); got.String() != "GitRepository charts/fleet" {
		t.Errorf("HelmChartSource = %v", got)
	}
}
