package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
)

// TestWriteResultRecreated: an object deleted and created again is never
// silent in the table, through Git or directly.
func TestWriteResultRecreated(t *testing.T) {
	claim := kube.ObjectRef{Version: "v1", Kind: "PersistentVolumeClaim", Namespace: "prod", Name: "data"}
	res := &gitops.Result{
		Git: []gitops.GitResult{{Owner: "Application argocd/web", Status: "configured", Commit: strings.Repeat("a", 40),
			Recreated: []gitops.Recreation{{Object: claim, UID: "old-1", NewUID: "new-1"}}}},
		Direct: []gitops.DirectResult{{Object: claim, Action: gitops.ActionSet, Status: "recreated", Health: "Healthy",
			Recreated: &gitops.Recreation{Object: claim, UID: "old-2"}}},
		Duration: time.Second,
	}
	var buf bytes.Buffer
	if err := writeResult(&buf, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ssa        prod/persistentvolumeclaim/data  recreated",
		"recreated prod/persistentvolumeclaim/data: deleted uid old-1, new uid new-1\n",
		"recreated prod/persistentvolumeclaim/data: deleted uid old-2, new uid -\n",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}
