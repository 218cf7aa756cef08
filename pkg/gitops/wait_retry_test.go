package gitops

import (
	"strings"
	"testing"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
	"github.com/dot-ai/dot/pkg/kube"
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
	web := kube.ObjectRef{Kind: "Deployment", Namespace: "prod", Name: "web"}
	cases := []struct {
		name      string
		op        *argocd.OperationState
		recreated []kube.ObjectRef
		fail      bool
	}{
		{"validation error at our revision, retrying", op(1, ours, "SyncFailed", invalid), nil, true},
		{"first attempt still running", op(0, ours, "SyncFailed", invalid), nil, false},
		{"another revision", op(2, strings.Repeat("b", 40), "SyncFailed", invalid), nil, false},
		{"transient error, few retries", op(1, ours, "SyncFailed", "connection refused"), nil, false},
		{"transient error, many retries", op(3, ours, "SyncFailed", "connection refused"), nil, true},
		{"resource synced", op(2, ours, "Synced", "configured"), nil, false},
		// The retry after dot deleted it creates it.
		{"immutable field of a recreated object", op(3, ours, "SyncFailed", `Deployment.apps "web" is invalid: spec.selector: field is immutable`), []kube.ObjectRef{web}, false},
		{"another object than the recreated one", op(1, ours, "SyncFailed", invalid), []kube.ObjectRef{{Kind: "Deployment", Namespace: "prod", Name: "api"}}, true},
	}
	for _, tc := range cases {
		msg, fail := retryingRejected(tc.op, match, tc.recreated)
		if fail != tc.fail {
			t.Errorf("%s: fail = %v (%s)", tc.name, fail, msg)
		}
		if fail && !strings.Contains(msg, "Deployment prod/web") {
			t.Errorf("%s: message should name the object: %s", tc.name, msg)
		}
	}
}
