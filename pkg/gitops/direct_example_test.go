package gitops_test

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dot-ai/dot/pkg/gitops"
)

// ManagedBy tells, from an object's own metadata, whether a GitOps
// controller would revert a direct change to it.
func ExampleManagedBy() {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("apps/v1")
	obj.SetKind("Deployment")
	obj.SetNamespace("prod")
	obj.SetName("web")
	fmt.Printf("%q\n", gitops.ManagedBy(obj, gitops.ArgoSettings{}))

	obj.SetLabels(map[string]string{
		gitops.LabelKustomizationName:      "apps",
		gitops.LabelKustomizationNamespace: "flux-system",
	})
	fmt.Println(gitops.ManagedBy(obj, gitops.ArgoSettings{}))
	// Output:
	// ""
	// Flux Kustomization flux-system/apps (labels kustomize.toolkit.fluxcd.io/{name,namespace})
}
