package remediate

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestUnavailableBlamesNotReadyNode: a Deployment whose pods are bound to
// a NotReady node says so in its unavailable finding (the node is the
// cause, no pod finding tells); the node under pressure but Ready is not
// blamed.
func TestUnavailableBlamesNotReadyNode(t *testing.T) {
	unavailable := func(o client.Object) {
		if isWeb(o) {
			u := o.(*unstructured.Unstructured)
			_ = unstructured.SetNestedField(u.Object, int64(1), "status", "availableReplicas")
			_ = unstructured.SetNestedField(u.Object, int64(1), "status", "unavailableReplicas")
		}
	}
	cfg := &Config{Client: fakeCluster(t, unavailable, "node.yaml")}
	d, err := cfg.Diagnose(context.Background(), Target{Object: &webDeployment})
	if err != nil {
		t.Fatal(err)
	}
	var got *Finding
	for i := range d.Findings {
		if d.Findings[i].ID == FindingUnavailable {
			got = &d.Findings[i]
		}
	}
	if got == nil {
		t.Fatalf("no %s in %v", FindingUnavailable, d.Findings)
	}
	var ev []string
	for _, e := range got.Evidence {
		ev = append(ev, e.Text)
	}
	if !strings.HasSuffix(got.Summary, ": its pods are on NotReady node node-1") || got.Facts["notReadyNodes"] != "node-1" ||
		!strings.Contains(strings.Join(ev, "\n"), "pod web-7d9c-aaaaa is bound to node node-1: Ready=Unknown (NodeStatusUnknown)") {
		t.Errorf("summary %q, facts %v, evidence:\n%s", got.Summary, got.Facts, strings.Join(ev, "\n"))
	}
}
