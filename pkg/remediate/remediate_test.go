package remediate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dot-ai/dot/pkg/gitops"
)

// TestRunEvicted runs the whole loop on a fake cluster: the evicted pods
// are found, deleted directly (never through Git), and the re-run of the
// analyzers finds nothing left.
func TestRunEvicted(t *testing.T) {
	c := fakeCluster(t, nil, "evicted.yaml")
	cfg := &Config{Client: c, Cluster: &gitops.Cluster{Client: c}}
	var steps []string
	r := &Remediation{Config: cfg, Deliverer: &gitops.Deliverer{Cluster: cfg.Cluster, Options: gitops.Options{NoWait: true}},
		Auto: true, MaxRisk: RiskLow, MinConfidence: 0.9, VerifyInterval: 10 * time.Millisecond,
		OnEvent: func(e gitops.Event) { steps = append(steps, e.Step) }}
	rep, err := r.Run(context.Background(), Target{Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Fixes) != 1 || rep.Fixes[0].Decision != DecisionDelivered || rep.Fixes[0].Result == nil || len(rep.Fixes[0].Result.Direct) != 2 {
		t.Fatalf("fixes: %+v", rep.Fixes)
	}
	for _, d := range rep.Fixes[0].Result.Direct {
		if d.Status != "deleted" {
			t.Errorf("direct result %+v", d)
		}
	}
	v := rep.Verification
	if v == nil || v.Status != StatusResolved || len(v.Resolved) != 1 || len(v.Remaining) != 0 {
		t.Errorf("verification %+v", v)
	}
	if got := strings.Join(steps, ","); got != "diagnose,plan,deliver,verify,verify" {
		t.Errorf("steps %s", got)
	}
}

// TestRunBounds: --auto delivers only fixes within the risk and confidence
// bounds and says why it skipped the others; a dry run plans and reports
// pending changes; without fixes nothing is delivered or verified.
func TestRunBounds(t *testing.T) {
	ctx := context.Background()
	c := fakeCluster(t, nil, "service.yaml")
	cfg := &Config{Client: c, Cluster: &gitops.Cluster{Client: c}}
	deliverer := func(dry string) *gitops.Deliverer {
		return &gitops.Deliverer{Cluster: cfg.Cluster, Options: gitops.Options{DryRun: dry, Mode: gitops.ModeOff}}
	}
	r := &Remediation{Config: cfg, Deliverer: deliverer(gitops.DryRunClient), Auto: true, MaxRisk: RiskLow, MinConfidence: 0.9, SkipValidation: true}
	rep, err := r.Run(ctx, Target{Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	why := map[string]string{}
	for _, f := range rep.Fixes {
		why[f.Rule] = f.Decision + ": " + f.Why
	}
	if why["align-service-selector"] != "skipped: risk medium is above --max-risk low" ||
		why["service-target-port"] != "skipped: confidence 0.85 is below --min-confidence 0.90" {
		t.Errorf("decisions %v", why)
	}
	if rep.Verification != nil {
		t.Errorf("nothing delivered, yet verified: %+v", rep.Verification)
	}

	r.MaxRisk, r.MinConfidence = RiskHigh, 0.8
	rep, err = r.Run(ctx, Target{Namespace: "shop"})
	if !errors.Is(err, gitops.ErrChangesPending) {
		t.Fatalf("dry run: err = %v, want changes pending", err)
	}
	for _, f := range rep.Fixes {
		if f.Decision != DecisionPlanned || f.Plan == nil || len(f.Plan.Direct) != 1 || !strings.Contains(f.Plan.Direct[0].Diff, "+") {
			t.Errorf("%s: %s %s plan %+v", f.Rule, f.Decision, f.Why, f.Plan)
		}
	}

	// Manual mode: a declined fix is not delivered and the run says so.
	r = &Remediation{Config: cfg, Deliverer: deliverer(gitops.DryRunNone), SkipValidation: true,
		Approve: func(context.Context, *Fix, *gitops.Plan) error { return gitops.ErrAborted }}
	rep, err = r.Run(ctx, Target{Namespace: "shop"})
	if !errors.Is(err, gitops.ErrAborted) {
		t.Fatalf("declined: err = %v", err)
	}
	for _, f := range rep.Fixes {
		if f.Decision != DecisionDeclined || f.Result != nil {
			t.Errorf("%s: %s", f.Rule, f.Decision)
		}
	}
}

func TestCompare(t *testing.T) {
	oom := Finding{ID: FindingOOMKilled, Object: webDeployment, Container: "web", Severity: SeverityCritical}
	unavail := Finding{ID: FindingUnavailable, Object: webDeployment, Severity: SeverityWarning}
	owner := Finding{ID: FindingGitOpsUnhealthy, Object: webDeployment, Severity: SeverityInfo}
	crash := Finding{ID: FindingCrashLoop, Object: webDeployment, Container: "web", Severity: SeverityCritical}
	for _, tc := range []struct {
		name          string
		before, after []Finding
		want          string
		remaining     int
	}{
		{"all gone", []Finding{oom, unavail, owner}, nil, StatusResolved, 0},
		{"only context left", []Finding{oom, unavail}, []Finding{owner}, StatusResolved, 0},
		{"fixed one, another remains", []Finding{oom, unavail}, []Finding{unavail}, StatusPartiallyResolved, 1},
		{"fixed one, a new one appears", []Finding{oom}, []Finding{crash}, StatusPartiallyResolved, 1},
		{"nothing changed", []Finding{oom, unavail}, []Finding{oom, unavail}, StatusNotResolved, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := compare(tc.before, tc.after, []string{oom.Key()})
			if v.Status != tc.want || len(v.Remaining) != tc.remaining {
				t.Errorf("status %s remaining %v, want %s with %d", v.Status, v.Remaining, tc.want, tc.remaining)
			}
		})
	}
}
