package gitops

import (
	"strings"
	"testing"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
)

func TestRetryingRejected(t *testing.T) {
	ours := strings.Repeat("a", 40)
	match := func(observed string) revMatch { return revMatch{ok: observed == ours} }
	op := func(retry int64, rev, status, msg string) *argocd.OperationState {
		return &argocd.OperationState{Phase: argocd.OperationRunning, RetryCount: retry,
			Operation: argocd.Operation{Sync: &argocd.SyncOperation{Revision: rev}},
			SyncResult: &argocd.SyncOperationResult{Revision: rev, Resources: []argocd.ResourceResult{
				{Kind: "Deployment", Namespace: "prod", Name: "web", Status: status, Message: msg}}}}
	}
	invalid := `Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1`
	cases := []struct {
		name string
		op   *argocd.OperationState
		fail bool
	}{
		{"validation error at our revision, retrying", op(1, ours, "SyncFailed", invalid), true},
		{"first attempt still running", op(0, ours, "SyncFailed", invalid), false},
		{"another revision", op(2, strings.Repeat("b", 40), "SyncFailed", invalid), false},
		{"transient error, few retries", op(1, ours, "SyncFailed", "connection refused"), false},
		{"transient error, many retries", op(3, ours, "SyncFailed", "connection refused"), true},
		{"resource synced", op(2, ours, "Synced", "configured"), false},
	}
	for _, tc := range cases {
		msg, fail := retryingRejected(tc.op, match)
		if fail != tc.fail {
			t.Errorf("%s: fail = %v (%s)", tc.name, fail, msg)
		}
		if fail && !strings.Contains(msg, "Deployment prod/web") {
			t.Errorf("%s: message should name the object: %s", tc.name, msg)
		}
	}
}
