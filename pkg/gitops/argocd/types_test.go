package argocd

import (
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

func TestDecodeApplicationFixture(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/application-multisource.yaml")
	if err != nil {
		t.Fatal(err)
	}
	obj, gvk, err := serializer.NewCodecFactory(s).UniversalDeserializer().Decode(data, nil, nil)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if gvk.Kind != ApplicationKind || gvk.GroupVersion() != GroupVersion {
		t.Fatalf("decoded as %v", gvk)
	}
	app := obj.(*Application)
	srcs := app.Spec.GetSources()
	if len(srcs) != 2 || srcs[0].Chart != "shop" || srcs[1].Ref != "values" || !app.Spec.HasMultipleSources() {
		t.Errorf("sources not decoded: %+v", srcs)
	}
	if got := srcs[0].Helm.ValueFiles; len(got) != 1 || got[0] != "$values/envs/prod/values.yaml" {
		t.Errorf("helm value files = %v", got)
	}
	if a := app.Spec.SyncPolicy.Automated; a == nil || !a.Prune || !a.SelfHeal {
		t.Errorf("automated sync policy = %+v", a)
	}
	st := app.Status
	if st.Sync.Status != SyncStatusSynced || len(st.Sync.Revisions) != 2 || st.Health.Status != HealthHealthy {
		t.Errorf("status = %+v", st)
	}
	if st.OperationState == nil || st.OperationState.Phase != OperationSucceeded || st.OperationState.FinishedAt == nil ||
		!st.OperationState.Operation.InitiatedBy.Automated {
		t.Errorf("operation state = %+v", st.OperationState)
	}
	if !st.ReconciledAt.After(st.OperationState.FinishedAt.Time) {
		t.Errorf("reconciledAt %v should be after finishedAt %v", st.ReconciledAt, st.OperationState.FinishedAt)
	}
	if len(st.OperationState.SyncResult.Resources) != 1 || st.OperationState.SyncResult.Resources[0].Message == "" {
		t.Errorf("sync result resources = %+v", st.OperationState.SyncResult)
	}

	// DeepCopy must not share memory with the original.
	cp := app.DeepCopy()
	cp.Spec.Sources[0].Helm.ValueFiles[0] = "changed"
	cp.Status.Sync.Revisions[0] = "changed"
	if app.Spec.Sources[0].Helm.ValueFiles[0] == "changed" || app.Status.Sync.Revisions[0] == "changed" {
		t.Error("DeepCopy shares slices with the original")
	}
}

func TestGetSourcesSingle(t *testing.T) {
	spec := ApplicationSpec{Source: &ApplicationSource{RepoURL: "https://git.example.com/a.git", Path: "apps/web"}}
	if got := spec.GetSources(); len(got) != 1 || got[0].Path != "apps/web" || spec.HasMultipleSources() {
		t.Errorf("GetSources() = %+v", got)
	}
	if got := (&ApplicationSpec{}).GetSources(); got != nil {
		t.Errorf("no source: GetSources() = %+v", got)
	}
}
