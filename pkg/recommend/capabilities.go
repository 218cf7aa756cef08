package recommend

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Capabilities is what the target cluster offers, as far as the generated
// manifests care. Scan fills it; tests build it by hand.
type Capabilities struct {
	// IngressClasses are the ingress class names; DefaultIngressClass the
	// one marked default ("" when none is).
	IngressClasses      []string `json:"ingressClasses,omitempty"`
	DefaultIngressClass string   `json:"defaultIngressClass,omitempty"`
	// GatewayAPI is true when HTTPRoute is served; Gateways lists
	// "namespace/name" of the Gateways found.
	GatewayAPI bool     `json:"gatewayAPI,omitempty"`
	Gateways   []string `json:"gateways,omitempty"`
	// StorageClasses and the default one.
	StorageClasses      []string `json:"storageClasses,omitempty"`
	DefaultStorageClass string   `json:"defaultStorageClass,omitempty"`
	// CertManager and ClusterIssuers (cert-manager.io).
	CertManager    bool     `json:"certManager,omitempty"`
	ClusterIssuers []string `json:"clusterIssuers,omitempty"`
	// CloudNativePG is true when postgresql.cnpg.io Clusters are served.
	CloudNativePG bool `json:"cloudNativePG,omitempty"`
	// MetricsAPI is true when the resource metrics API is served (HPA on
	// CPU works).
	MetricsAPI bool `json:"metricsAPI,omitempty"`
	// ArgoCD and Flux say which GitOps controllers are installed (CRDs).
	ArgoCD bool `json:"argoCD,omitempty"`
	Flux   bool `json:"flux,omitempty"`
	// Namespace is the scanned namespace; NamespaceExists whether it exists.
	Namespace       string `json:"namespace,omitempty"`
	NamespaceExists bool   `json:"namespaceExists,omitempty"`
	// PodSecurity is the namespace's pod-security.kubernetes.io/enforce
	// level ("" when unset).
	PodSecurity string `json:"podSecurity,omitempty"`
	// LimitRanges and Quotas name the namespace's LimitRanges and
	// ResourceQuotas; RequireLimits is true when a quota constrains cpu or
	// memory (pods without requests/limits are then rejected).
	LimitRanges   []string `json:"limitRanges,omitempty"`
	Quotas        []string `json:"quotas,omitempty"`
	RequireLimits bool     `json:"requireLimits,omitempty"`
	// Notes say what could not be read (missing permissions) and what was
	// assumed instead.
	Notes []string `json:"notes,omitempty"`
}

// knownCRDs maps CRD names to the capability they reveal.
var knownCRDs = map[string]func(*Capabilities){
	"httproutes.gateway.networking.k8s.io":       func(c *Capabilities) { c.GatewayAPI = true },
	"certificates.cert-manager.io":               func(c *Capabilities) { c.CertManager = true },
	"clusters.postgresql.cnpg.io":                func(c *Capabilities) { c.CloudNativePG = true },
	"applications.argoproj.io":                   func(c *Capabilities) { c.ArgoCD = true },
	"kustomizations.kustomize.toolkit.fluxcd.io": func(c *Capabilities) { c.Flux = true },
}

// Scanner reads the cluster's capabilities. The zero value is not usable:
// set Reader.
type Scanner struct {
	// Reader lists cluster objects.
	Reader client.Reader
	// HasGroup reports whether an API group is served (discovery); nil
	// means the metrics API is assumed absent.
	HasGroup func(group string) (bool, error)
}

// Scan reads the capabilities relevant to namespace. Read errors of optional
// parts (forbidden, not served) become Notes; other errors fail the scan.
func (s *Scanner) Scan(ctx context.Context, namespace string) (*Capabilities, error) {
	c := &Capabilities{Namespace: namespace}
	optional := func(what string, err error) error {
		if err == nil {
			return nil
		}
		if apierrors.IsForbidden(err) || apierrors.IsNotFound(err) || isNoMatch(err) {
			c.Notes = append(c.Notes, fmt.Sprintf("%s: %v", what, err))
			return nil
		}
		return fmt.Errorf("scan %s: %w", what, err)
	}

	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := optional("custom resource definitions", s.Reader.List(ctx, &crds)); err != nil {
		return nil, err
	}
	for _, crd := range crds.Items {
		if f := knownCRDs[crd.Name]; f != nil {
			f(c)
		}
	}

	var ics networkingv1.IngressClassList
	if err := optional("ingress classes", s.Reader.List(ctx, &ics)); err != nil {
		return nil, err
	}
	for _, ic := range ics.Items {
		c.IngressClasses = append(c.IngressClasses, ic.Name)
		if ic.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true" {
			c.DefaultIngressClass = ic.Name
		}
	}

	var scs storagev1.StorageClassList
	if err := optional("storage classes", s.Reader.List(ctx, &scs)); err != nil {
		return nil, err
	}
	for _, sc := range scs.Items {
		c.StorageClasses = append(c.StorageClasses, sc.Name)
		if sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" {
			c.DefaultStorageClass = sc.Name
		}
	}

	if c.GatewayAPI {
		names, err := s.listNames(ctx, schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "GatewayList"}, true)
		if err := optional("gateways", err); err != nil {
			return nil, err
		}
		c.Gateways = names
	}
	if c.CertManager {
		names, err := s.listNames(ctx, schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "ClusterIssuerList"}, false)
		if err := optional("cluster issuers", err); err != nil {
			return nil, err
		}
		c.ClusterIssuers = names
	}

	if namespace != "" {
		var ns corev1.Namespace
		err := s.Reader.Get(ctx, client.ObjectKey{Name: namespace}, &ns)
		switch {
		case err == nil:
			c.NamespaceExists = true
			c.PodSecurity = ns.Labels["pod-security.kubernetes.io/enforce"]
		case apierrors.IsNotFound(err):
		default:
			if err := optional("namespace "+namespace, err); err != nil {
				return nil, err
			}
		}
		var lrs corev1.LimitRangeList
		if err := optional("limit ranges", s.Reader.List(ctx, &lrs, client.InNamespace(namespace))); err != nil {
			return nil, err
		}
		for _, lr := range lrs.Items {
			c.LimitRanges = append(c.LimitRanges, lr.Name)
		}
		var qs corev1.ResourceQuotaList
		if err := optional("resource quotas", s.Reader.List(ctx, &qs, client.InNamespace(namespace))); err != nil {
			return nil, err
		}
		for _, q := range qs.Items {
			c.Quotas = append(c.Quotas, q.Name)
			for r := range q.Spec.Hard {
				if n := string(r); strings.Contains(n, "cpu") || strings.Contains(n, "memory") {
					c.RequireLimits = true
				}
			}
		}
	}

	if s.HasGroup != nil {
		ok, err := s.HasGroup("metrics.k8s.io")
		if err := optional("metrics API", err); err != nil {
			return nil, err
		}
		c.MetricsAPI = ok
	}
	for _, l := range [][]string{c.IngressClasses, c.Gateways, c.StorageClasses, c.ClusterIssuers, c.LimitRanges, c.Quotas} {
		sort.Strings(l)
	}
	return c, nil
}

// DiscoveryHasGroup answers Scanner.HasGroup from a discovery client.
func DiscoveryHasGroup(d discovery.ServerGroupsInterface) func(string) (bool, error) {
	return func(group string) (bool, error) {
		groups, err := d.ServerGroups()
		if err != nil {
			return false, err
		}
		for _, g := range groups.Groups {
			if g.Name == group {
				return true, nil
			}
		}
		return false, nil
	}
}

func isNoMatch(err error) bool { return meta.IsNoMatchError(err) }

// listNames lists objects of a kind that has no Go type in dot's scheme.
func (s *Scanner) listNames(ctx context.Context, gvk schema.GroupVersionKind, namespaced bool) ([]string, error) {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(gvk)
	if err := s.Reader.List(ctx, l); err != nil {
		return nil, err
	}
	var out []string
	for _, o := range l.Items {
		if namespaced {
			out = append(out, o.GetNamespace()+"/"+o.GetName())
		} else {
			out = append(out, o.GetName())
		}
	}
	return out, nil
}
