package remediate

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/internal/fixture"
	"github.com/dot-ai/dot/internal/gitserver"
	"github.com/dot-ai/dot/pkg/gitops"
)

// TestRunLocatesAdvisedFindings: a finding that gets advice only names
// where it is defined in the owner's repository — the line of the Ingress
// backend and of the TLS secret name in the prod overlay — and nothing is
// pushed.
func TestRunLocatesAdvisedFindings(t *testing.T) {
	ctx := context.Background()
	srv, err := gitserver.Start(ctx, gitserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ingress := `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
spec:
  ingressClassName: nginx
  tls:
    - hosts: [shop.example.com]
      secretName: shop-tls
  rules:
    - host: shop.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: web-frontnd, port: {number: 80}}}
`
	head, err := srv.Seed(ctx, "shop", map[string]string{
		"overlays/prod/kustomization.yaml": "resources:\n  - ingress.yaml\n",
		"overlays/prod/ingress.yaml":       ingress,
	}, "initial")
	if err != nil {
		t.Fatal(err)
	}
	var objs []client.Object
	for _, js := range []string{
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"argocd-cm","namespace":"argocd"},"data":{"application.resourceTrackingMethod":"annotation"}}`,
		`{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":"shop","namespace":"argocd"},
		  "spec":{"project":"default","source":{"repoURL":"` + srv.RepoURL("shop") + `","targetRevision":"main","path":"overlays/prod"},
		  "destination":{"server":"https://kubernetes.default.svc","namespace":"shop"}}}`,
		`{"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":"nginx"},"spec":{"controller":"k8s.io/ingress-nginx"}}`,
		`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"shop","namespace":"shop","annotations":{"argocd.argoproj.io/tracking-id":"shop:networking.k8s.io/Ingress:shop/shop"}},
		  "spec":{"ingressClassName":"nginx","tls":[{"hosts":["shop.example.com"],"secretName":"shop-tls"}],
		  "rules":[{"host":"shop.example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"web-frontnd","port":{"number":80}}}}]}}]}}`,
	} {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON([]byte(js)); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, u)
	}
	c := fixture.NewBuilder().WithObjects(objs...).Build()
	gc := &gitops.Cluster{Client: c}
	r := &Remediation{Config: &Config{Client: c, Cluster: gc}, Deliverer: &gitops.Deliverer{Cluster: gc, Options: gitops.Options{NoWait: true}}, Auto: true, MaxRisk: RiskHigh}
	rep, err := r.Run(ctx, Target{Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{FindingIngressBackend: "overlays/prod/ingress.yaml:16", FindingIngressTLS: "overlays/prod/ingress.yaml:9"}
	for _, f := range rep.Findings {
		w, ok := want[f.ID]
		if !ok {
			continue
		}
		delete(want, f.ID)
		if f.Owner == nil || f.Owner.Owner != "Application argocd/shop" || f.Owner.File != w {
			t.Errorf("%s: owner %+v, want Application argocd/shop defined at %s", f.ID, f.Owner, w)
		}
	}
	if len(want) > 0 || len(rep.Notes) > 0 {
		t.Errorf("findings %v missing; notes %v", want, rep.Notes)
	}
	for _, fx := range rep.Fixes {
		if fx.Decision != DecisionAdvice {
			t.Errorf("fix %s: %s, want advice", fx.Rule, fx.Decision)
		}
	}
	if now, _ := srv.Head(ctx, "shop", "main"); now != head {
		t.Errorf("main moved from %s to %s", head, now)
	}
}
