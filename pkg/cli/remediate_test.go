package cli

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/internal/fixture"
	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/remediate"
)

// TestRemediateOutputGolden renders real remediation reports (fake cluster
// from pkg/remediate's fixtures, fixed clock) as table and JSON: a dry run
// planning server-side fixes of two Services, a delivered deletion of
// evicted pods with its verification, and an --auto run on a Flux-managed
// OOMKilled Deployment whose fix is outside the bounds.
func TestRemediateOutputGolden(t *testing.T) {
	clock := func() time.Time { return time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC) }
	flux := func(o client.Object) {
		if o.GetObjectKind().GroupVersionKind().Kind == "Deployment" && o.GetName() == "web" {
			o.SetLabels(map[string]string{"kustomize.toolkit.fluxcd.io/name": "shop", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"})
		}
	}
	cases := []struct {
		name    string
		files   []string
		mutate  func(client.Object)
		opts    gitops.Options
		setup   func(r *remediate.Remediation)
		wantErr error
	}{
		{"remediate-dryrun", []string{"service.yaml"}, nil, gitops.Options{Mode: gitops.ModeOff, DryRun: gitops.DryRunClient},
			func(r *remediate.Remediation) { r.SkipValidation = true }, gitops.ErrChangesPending},
		{"remediate-delivered", []string{"evicted.yaml"}, nil, gitops.Options{NoWait: true},
			func(r *remediate.Remediation) { r.Auto, r.MaxRisk, r.MinConfidence = true, remediate.RiskLow, 0.8 }, nil},
		{"remediate-skipped", []string{"oom.yaml", "owner-flux.yaml"}, flux, gitops.Options{},
			func(r *remediate.Remediation) { r.Auto, r.MaxRisk, r.MinConfidence = true, remediate.RiskLow, 0.95 }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var objs []client.Object
			for _, f := range tc.files {
				o, err := fixture.LoadObjects("../remediate/testdata/" + f)
				if err != nil {
					t.Fatal(err)
				}
				objs = append(objs, o...)
			}
			if tc.mutate != nil {
				for _, o := range objs {
					tc.mutate(o)
				}
			}
			c := fixture.NewBuilder().WithObjects(objs...).Build()
			gc := &gitops.Cluster{Client: c}
			tc.opts.Now = clock
			r := &remediate.Remediation{Config: &remediate.Config{Client: c, Cluster: gc, Now: clock},
				Deliverer: &gitops.Deliverer{Cluster: gc, Options: tc.opts}, VerifyInterval: time.Millisecond}
			tc.setup(r)
			rep, err := r.Run(context.Background(), remediate.Target{Namespace: "shop"})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("run: err = %v, want %v", err, tc.wantErr)
			}
			for i := range rep.Fixes {
				if res := rep.Fixes[i].Result; res != nil {
					for j := range res.Direct {
						res.Direct[j].Duration = 0 // measured with the real clock
					}
				}
			}
			for _, f := range []struct{ format, ext string }{{OutputTable, ".txt"}, {OutputJSON, ".json"}} {
				var buf bytes.Buffer
				if err := printResult(&buf, f.format, &RemediationReport{Report: rep}); err != nil {
					t.Fatal(err)
				}
				golden(t, tc.name+f.ext, buf.String())
			}
		})
	}
}
