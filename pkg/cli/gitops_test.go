package cli

import (
	"bytes"
	"context"
	"testing"

	"github.com/dot-ai/dot/internal/fixture"
	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
)

// TestTraceOutputGolden renders traces of fixture clusters (the objects the
// controllers write, in the fake client) as table and JSON.
func TestTraceOutputGolden(t *testing.T) {
	cases := []struct {
		name, fixture string
		ref           kube.ObjectRef
	}{
		{"trace-argocd-pod", "argocd-annotation.yaml", kube.ObjectRef{Version: "v1", Kind: "Pod", Namespace: "prod", Name: "web-7c9d-x2k4p"}},
		{"trace-flux-helmrelease", "flux.yaml", kube.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "prod", Name: "podinfo"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := fixture.LoadObjects("../gitops/testdata/owner/" + tc.fixture)
			if err != nil {
				t.Fatal(err)
			}
			gc := &gitops.Cluster{Client: fixture.NewBuilder().WithObjects(objs...).Build()}
			tr, err := gc.Trace(context.Background(), tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct{ format, ext string }{{OutputTable, ".txt"}, {OutputJSON, ".json"}} {
				var buf bytes.Buffer
				if err := printResult(&buf, f.format, traceView{tr}); err != nil {
					t.Fatal(err)
				}
				golden(t, tc.name+f.ext, buf.String())
			}
		})
	}
}
