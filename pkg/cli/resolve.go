package cli

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
)

// parseObjectArgs accepts what kubectl accepts: "kind/name", "kind name",
// with kind a resource name, singular, short name or "kind.group"
// (deploy/web, deployments.apps/web, pod web). A lone name is a Pod.
func parseObjectArgs(args []string) (resource, name string, err error) {
	switch len(args) {
	case 1:
		if r, n, ok := strings.Cut(args[0], "/"); ok {
			if r == "" || n == "" || strings.Contains(n, "/") {
				return "", "", &UsageError{fmt.Errorf("%q: want <kind>/<name>", args[0])}
			}
			return r, n, nil
		}
		return "pods", args[0], nil
	case 2:
		if strings.Contains(args[0], "/") || strings.Contains(args[1], "/") {
			return "", "", &UsageError{fmt.Errorf("want <kind>/<name> or <kind> <name>, got %q", strings.Join(args, " "))}
		}
		return args[0], args[1], nil
	}
	return "", "", &UsageError{fmt.Errorf("want one object: <kind>/<name> or <kind> <name>")}
}

// resolveObject turns command arguments into an object reference using the
// cluster's REST mapper (so short names and plurals work) and the namespace
// from -n or the kubeconfig context.
func (c *Config) resolveObject(args []string, mapper meta.RESTMapper) (kube.ObjectRef, error) {
	resource, name, err := parseObjectArgs(args)
	if err != nil {
		return kube.ObjectRef{}, err
	}
	gvr, gr := schema.ParseResourceArg(strings.ToLower(resource))
	var gvk schema.GroupVersionKind
	if gvr != nil {
		gvk, err = mapper.KindFor(*gvr)
	}
	if gvr == nil || err != nil {
		gvk, err = mapper.KindFor(gr.WithVersion(""))
	}
	if err != nil {
		return kube.ObjectRef{}, fmt.Errorf("resource type %q: %w", resource, err)
	}
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return kube.ObjectRef{}, fmt.Errorf("resource type %q: %w", resource, err)
	}
	ref := kube.ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Name: name}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns, _, err := c.KubeFlags.ToRawKubeConfigLoader().Namespace()
		if err != nil {
			return kube.ObjectRef{}, fmt.Errorf("namespace from kubeconfig: %w", err)
		}
		ref.Namespace = ns
	}
	return ref, nil
}

// gitopsCluster builds the read-side configuration: clients of the workload
// cluster and, with --argocd-context, of Argo CD's control plane.
func (c *Config) gitopsCluster() (*gitops.Cluster, *kube.Clients, error) {
	clients, err := kube.NewClients(c.KubeFlags)
	if err != nil {
		return nil, nil, err
	}
	gc := &gitops.Cluster{Client: clients.Client, ArgoCDNamespace: c.ArgoCDNamespace, Logger: c.Logger}
	if c.ArgoCDContext != "" {
		// A fresh ConfigFlags: copying ours would share its cached client config.
		argoFlags := genericclioptions.NewConfigFlags(true)
		argoFlags.KubeConfig = c.KubeFlags.KubeConfig
		ctxName := c.ArgoCDContext
		argoFlags.Context = &ctxName
		argoClients, err := kube.NewClients(argoFlags)
		if err != nil {
			return nil, nil, fmt.Errorf("argo cd context %q: %w", ctxName, err)
		}
		gc.ArgoCD = argoClients.Client
	}
	return gc, clients, nil
}

// clusterAndObject builds the read-side clients and resolves the command's
// object arguments: the preamble of every command that acts on one object.
func (c *Config) clusterAndObject(args []string) (*gitops.Cluster, kube.ObjectRef, error) {
	gc, clients, err := c.gitopsCluster()
	if err != nil {
		return nil, kube.ObjectRef{}, err
	}
	ref, err := c.resolveObject(args, clients.Mapper)
	if err != nil {
		return nil, kube.ObjectRef{}, err
	}
	return gc, ref, nil
}
