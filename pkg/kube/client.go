package kube

import (
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
)

// NewScheme returns a scheme that knows the core Kubernetes types, CRDs,
// Flux's source, kustomize and helm types, and dot's Argo CD types.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	utilruntime.Must(sourcev1.AddToScheme(s))
	utilruntime.Must(kustomizev1.AddToScheme(s))
	utilruntime.Must(helmv2.AddToScheme(s))
	utilruntime.Must(argocd.AddToScheme(s))
	return s
}

// Clients bundles what dot needs to talk to one cluster.
type Clients struct {
	// Config is the REST configuration the clients were built from.
	Config *rest.Config
	// Client reads, writes and watches typed and unstructured objects.
	Client client.WithWatch
	// Mapper maps kinds to resources and tells namespaced from cluster-scoped.
	Mapper meta.RESTMapper
	// Discovery answers server version and API group questions.
	Discovery discovery.DiscoveryInterface
}

// NewClients builds clients from kubeconfig flags (or any RESTClientGetter).
// It does not contact the server until a client is used.
func NewClients(getter genericclioptions.RESTClientGetter) (*Clients, error) {
	cfg, err := getter.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	mapper, err := getter.ToRESTMapper()
	if err != nil {
		return nil, fmt.Errorf("build REST mapper: %w", err)
	}
	disc, err := getter.ToDiscoveryClient()
	if err != nil {
		return nil, fmt.Errorf("build discovery client: %w", err)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: NewScheme(), Mapper: mapper})
	if err != nil {
		return nil, fmt.Errorf("build client: %w", err)
	}
	return &Clients{Config: cfg, Client: c, Mapper: mapper, Discovery: disc}, nil
}
