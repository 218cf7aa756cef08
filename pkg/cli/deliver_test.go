package cli

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/internal/fixture"
	"github.com/dot-ai/dot/internal/gitserver"
	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
)

var shaRe = regexp.MustCompile(`\b[0-9a-f]{40}\b|\b[0-9a-f]{7}\b`)

// normalize makes output independent of the git server's port and of commit
// SHAs (which depend on commit times).
func normalize(s, serverURL string) string {
	s = strings.ReplaceAll(s, serverURL, "http://git.test")
	return shaRe.ReplaceAllStringFunc(s, func(m string) string {
		if len(m) == 40 {
			return "<sha>"
		}
		return "<short>"
	})
}

// TestDeliveryOutputGolden renders a real plan and result (a scale of an
// Argo CD-managed Deployment in a kustomize overlay, delivered to a real git
// server; the cluster side is a fake client, so nothing waits) as table and
// JSON.
func TestDeliveryOutputGolden(t *testing.T) {
	ctx := context.Background()
	srv, err := gitserver.Start(ctx, gitserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.Seed(ctx, "apps", map[string]string{
		"base/kustomization.yaml":          "resources: [deployment.yaml]\n",
		"base/deployment.yaml":             "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: web\n          image: web:1\n",
		"overlays/prod/kustomization.yaml": "resources: [../../base]\nreplicas:\n  - name: web\n    count: 2 # prod baseline\n",
	}, "layout"); err != nil {
		t.Fatal(err)
	}
	objs := []client.Object{
		u(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"argocd-cm","namespace":"argocd"},"data":{"application.resourceTrackingMethod":"annotation"}}`),
		u(`{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":"web","namespace":"argocd"},"spec":{"project":"default",
		  "source":{"repoURL":"` + srv.RepoURL("apps") + `","targetRevision":"main","path":"overlays/prod"},"destination":{"namespace":"prod"}}}`),
		u(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod","annotations":{"argocd.argoproj.io/tracking-id":"web:apps/Deployment:prod/web"}},"spec":{"replicas":2}}`),
	}
	d := &gitops.Deliverer{Cluster: &gitops.Cluster{Client: fixture.NewBuilder().WithObjects(objs...).Build()},
		Options: gitops.Options{NoWait: true, Now: func() time.Time { return time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC) }}}
	cs := gitops.ChangeSet{Title: "scale deployment/web to 5 (prod)", Operation: "scale", Changes: []gitops.Change{{
		Object: kube.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "prod", Name: "web"},
		Action: gitops.ActionSet, Reason: "scale deployment/web to 5", Fields: []gitops.FieldChange{{Path: "spec.replicas", Value: 5}}}}}
	plan, res, err := d.Deliver(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	res.Duration = 1500 * time.Millisecond
	for _, tc := range []struct {
		name   string
		report *DeliveryReport
	}{{"plan", &DeliveryReport{Plan: plan}}, {"delivery", &DeliveryReport{Plan: plan, Result: res}}} {
		for _, f := range []struct{ format, ext string }{{OutputTable, ".txt"}, {OutputJSON, ".json"}} {
			var buf bytes.Buffer
			if err := printResult(&buf, f.format, tc.report); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+f.ext, normalize(buf.String(), srv.URL()))
		}
	}
}

func u(js string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{}
	if err := o.UnmarshalJSON([]byte(js)); err != nil {
		panic(err)
	}
	return o
}
