package flux

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestReadinessOf(t *testing.T) {
	cond := func(typ string, st metav1.ConditionStatus, reason, msg string, gen int64) metav1.Condition {
		return metav1.Condition{Type: typ, Status: st, Reason: reason, Message: msg, ObservedGeneration: gen}
	}
	tests := []struct {
		name                   string
		gen                    int64
		conds                  []metav1.Condition
		ready, terminal, stale bool
		status                 metav1.ConditionStatus
		wantInString           string
	}{
		{
			name:   "no conditions",
			gen:    1,
			status: metav1.ConditionUnknown, wantInString: "Ready=Unknown",
		},
		{
			name:   "ready",
			gen:    2,
			conds:  []metav1.Condition{cond("Ready", "True", "ReconciliationSucceeded", "Applied revision: main@sha1:"+sha1a, 2)},
			status: "True", ready: true, wantInString: "Applied revision",
		},
		{
			name:   "ready for an older generation",
			gen:    3,
			conds:  []metav1.Condition{cond("Ready", "True", "ReconciliationSucceeded", "Applied", 2)},
			status: "True", stale: true, wantInString: "older generation",
		},
		{
			name:   "progressing",
			gen:    2,
			conds:  []metav1.Condition{cond("Ready", "Unknown", "Progressing", "Reconciliation in progress", 2)},
			status: "Unknown",
		},
		{
			name:   "dependency not ready",
			gen:    2,
			conds:  []metav1.Condition{cond("Ready", "False", "DependencyNotReady", "dependency 'flux-system/infra' is not ready", 2)},
			status: "False",
		},
		{
			name:   "health check failed",
			gen:    2,
			conds:  []metav1.Condition{cond("Ready", "False", "HealthCheckFailed", "timeout waiting for: [Deployment/prod/web status: 'InProgress']", 2)},
			status: "False", terminal: true, wantInString: "(HealthCheckFailed): timeout waiting for",
		},
		{
			name:   "failure for an older generation is not terminal",
			gen:    3,
			conds:  []metav1.Condition{cond("Ready", "False", "BuildFailed", "kustomize build failed", 2)},
			status: "False", stale: true,
		},
		{
			name: "stalled",
			gen:  2,
			conds: []metav1.Condition{
				cond("Ready", "False", "ProgressingWithRetry", "retrying", 2),
				cond("Stalled", "True", "InvalidPath", "path 'apps/x' not found", 2),
			},
			status: "False", terminal: true, wantInString: "Stalled: path 'apps/x' not found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ReadinessOf(tt.gen, tt.conds)
			if r.Status != tt.status || r.IsReady() != tt.ready || r.Terminal() != tt.terminal || r.Stale != tt.stale {
				t.Errorf("ReadinessOf = %+v: ready %v terminal %v; want status %s ready %v terminal %v stale %v",
					r, r.IsReady(), r.Terminal(), tt.status, tt.ready, tt.terminal, tt.stale)
			}
			if !strings.Contains(r.String(), tt.wantInString) {
				t.Errorf("String() = %q, want it to contain %q", r.String(), tt.wantInString)
			}
		})
	}
}
