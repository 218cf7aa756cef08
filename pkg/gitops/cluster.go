package gitops

import (
	"log/slog"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DefaultArgoCDNamespace is where Argo CD's control plane runs by default.
const DefaultArgoCDNamespace = "argocd"

// Cluster is the injected configuration of the read side: the clients of the
// workload cluster and of the Argo CD control plane (which may be another
// cluster in multi-cluster Argo CD setups). A Cluster caches argocd-cm after
// the first read; use it by pointer and do not copy it.
type Cluster struct {
	// Client talks to the cluster where the workloads and Flux run.
	Client client.WithWatch
	// ArgoCD talks to the cluster where Argo CD's Applications live; nil
	// means Client.
	ArgoCD client.WithWatch
	// ArgoCDNamespace is Argo CD's control-plane namespace ("argocd" if empty).
	ArgoCDNamespace string
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger

	mu           sync.Mutex
	argoSettings *ArgoSettings // argocd-cm, read once
}

func (c *Cluster) argo() client.WithWatch {
	if c.ArgoCD != nil {
		return c.ArgoCD
	}
	return c.Client
}

func (c *Cluster) argoNamespace() string {
	if c.ArgoCDNamespace != "" {
		return c.ArgoCDNamespace
	}
	return DefaultArgoCDNamespace
}

func (c *Cluster) log() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}
