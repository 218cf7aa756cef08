package recommend_test

import (
	"fmt"

	"github.com/dot-ai/dot/pkg/recommend"
)

// From an intent to manifests, offline: parse, recommend against the
// cluster's capabilities (here written by hand instead of scanned), answer,
// generate.
func Example() {
	in, err := recommend.ParseIntent("web app from ghcr.io/acme/shop:1.4 on port 8080, 3 replicas, public at shop.example.com")
	if err != nil {
		panic(err)
	}
	caps := &recommend.Capabilities{Namespace: "shop", IngressClasses: []string{"nginx"}, DefaultIngressClass: "nginx"}
	rec := recommend.Recommend(in, caps)
	fmt.Println("solution:", rec.Solutions[0].Title, "-", rec.Solutions[0].Why)
	spec, err := rec.Resolve(recommend.Answers{"healthPath": "/healthz"}, false)
	if err != nil {
		panic(err)
	}
	objs, err := recommend.Generate(spec)
	if err != nil {
		panic(err)
	}
	for _, o := range objs {
		fmt.Println(recommend.FileName(o))
	}
	// Output:
	// solution: Deployment + Service + Ingress - ingress class "nginx" serves outside traffic on this cluster
	// serviceaccount-shop.yaml
	// service-shop.yaml
	// deployment-shop.yaml
	// poddisruptionbudget-shop.yaml
	// ingress-shop.yaml
	// networkpolicy-shop.yaml
}
