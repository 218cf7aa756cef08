package recommend

import (
	"context"
	"fmt"
	"path"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/gitops/argocd"
	"github.com/dot-ai/dot/pkg/kube"
)

// Operation is the Dot-Operation trailer of recommend's commits.
const Operation = "recommend"

// GitTarget is where the manifests go in Git.
type GitTarget struct {
	RepoURL string `json:"repoURL"`
	// Branch is empty for the remote's default branch.
	Branch string `json:"branch,omitempty"`
	// Path is the directory, relative to the repository root.
	Path string `json:"path"`
}

func cleanRepoPath(p string) string {
	p = strings.Trim(strings.TrimPrefix(strings.TrimSpace(p), "./"), "/")
	if p == "." {
		return ""
	}
	return path.Clean("/" + p)[1:]
}

// ChangeSet makes one Create per object. With a target each goes to
// <path>/<kind>-<name>.yaml in Git; without one it is applied server-side.
func ChangeSet(title string, objs []*unstructured.Unstructured, t *GitTarget) gitops.ChangeSet {
	cs := gitops.ChangeSet{Title: title, Operation: Operation}
	for _, o := range objs {
		c := gitops.Change{Object: kube.RefOf(o), Action: gitops.ActionCreate, Manifest: o,
			Reason: fmt.Sprintf("add %s %s", o.GetKind(), o.GetName())}
		if t != nil {
			p := cleanRepoPath(t.Path)
			c.Target = &gitops.Target{RepoURL: t.RepoURL, Branch: t.Branch, Path: p, File: path.Join(p, FileName(o))}
		}
		cs.Changes = append(cs.Changes, c)
	}
	return cs
}

// CoveringOwner returns the Argo CD Application or Flux Kustomization that
// already deploys the target's path from its repository (and branch, when
// both name one), or nil when none does. A Flux Kustomization of a parent
// directory covers it too (Flux renders subdirectories).
func CoveringOwner(ctx context.Context, gc *gitops.Cluster, t GitTarget) (*gitops.Owner, error) {
	want := cleanRepoPath(t.Path)
	var owners []*gitops.Owner
	var apps argocd.ApplicationList
	argoNS := gc.ArgoCDNamespace
	if argoNS == "" {
		argoNS = gitops.DefaultArgoCDNamespace
	}
	argoClient := gc.ArgoCD
	if argoClient == nil {
		argoClient = gc.Client
	}
	if err := argoClient.List(ctx, &apps, client.InNamespace(argoNS)); err != nil && !absent(err) {
		return nil, fmt.Errorf("list Argo CD Applications: %w", err)
	}
	for _, a := range apps.Items {
		owners = append(owners, &gitops.Owner{Kind: gitops.OwnerArgoCDApplication, Namespace: a.Namespace, Name: a.Name})
	}
	var kss kustomizev1.KustomizationList
	if err := gc.Client.List(ctx, &kss); err != nil && !absent(err) {
		return nil, fmt.Errorf("list Flux Kustomizations: %w", err)
	}
	for _, k := range kss.Items {
		owners = append(owners, &gitops.Owner{Kind: gitops.OwnerFluxKustomization, Namespace: k.Namespace, Name: k.Name})
	}
	for _, o := range owners {
		srcs, err := gc.Sources(ctx, o)
		if err != nil {
			continue // an owner whose source cannot be read covers nothing we can tell
		}
		for _, s := range srcs {
			if s.Chart != "" || !gitops.SameRepo(s.RepoURL, t.RepoURL) {
				continue
			}
			if t.Branch != "" && s.Ref != "" && s.Ref != "HEAD" && s.Ref != t.Branch {
				continue
			}
			have := cleanRepoPath(s.Path)
			if have == want || o.Kind == gitops.OwnerFluxKustomization && (have == "" || strings.HasPrefix(want, have+"/")) {
				o.Evidence = []string{fmt.Sprintf("deploys %s path %q", s.RepoURL, s.Path)}
				return o, nil
			}
		}
	}
	return nil, nil
}

func absent(err error) bool { return meta.IsNoMatchError(err) || apierrors.IsNotFound(err) }

// Owner kinds recommend can create.
const (
	OwnerArgoCD = "argocd"
	OwnerFlux   = "flux"
)

// OwnerOptions describe the GitOps object that deploys a new path.
type OwnerOptions struct {
	// Kind is argocd or flux.
	Kind string
	// Name of the Application, or of the GitRepository and Kustomization.
	Name string
	// Namespace of the owner objects (Argo CD's namespace for an
	// Application; for Flux, usually flux-system).
	Namespace string
	// TargetNamespace is where the workload runs.
	TargetNamespace string
	// RepoURL is the repository as the controller reaches it.
	RepoURL string
	Branch  string
	Path    string
	// SecretRef names the Secret with Git credentials (Flux).
	SecretRef string
	// Project is the Argo CD project ("default").
	Project string
}

// OwnerObjects returns the objects that make a controller deploy a path:
// an Argo CD Application with automated sync (prune, self-heal, namespace
// creation), or a Flux GitRepository and a Kustomization that waits for
// the workload's health. Owner is what Wait takes.
func OwnerObjects(o OwnerOptions) ([]*unstructured.Unstructured, *gitops.Owner, error) {
	if o.Name == "" || o.Namespace == "" || o.RepoURL == "" {
		return nil, nil, fmt.Errorf("owner: name, namespace and repository are required")
	}
	p := cleanRepoPath(o.Path)
	labels := map[string]any{LabelManagedBy: "dot"}
	switch o.Kind {
	case OwnerArgoCD:
		rev := o.Branch
		if rev == "" {
			rev = "HEAD"
		}
		project := o.Project
		if project == "" {
			project = "default"
		}
		app := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": o.Name, "namespace": o.Namespace, "labels": labels},
			"spec": map[string]any{
				"project":     project,
				"source":      map[string]any{"repoURL": o.RepoURL, "path": p, "targetRevision": rev},
				"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": o.TargetNamespace},
				"syncPolicy": map[string]any{
					"automated":   map[string]any{"prune": true, "selfHeal": true},
					"syncOptions": []any{"CreateNamespace=true"},
				},
			},
		}}
		return []*unstructured.Unstructured{app}, &gitops.Owner{Kind: gitops.OwnerArgoCDApplication, Namespace: o.Namespace, Name: o.Name,
			Evidence: []string{"created by dot recommend"}}, nil
	case OwnerFlux:
		ref := map[string]any{"branch": o.Branch}
		if o.Branch == "" {
			ref = map[string]any{"branch": "main"}
		}
		grSpec := map[string]any{"url": o.RepoURL, "ref": ref, "interval": "1m"}
		if o.SecretRef != "" {
			grSpec["secretRef"] = map[string]any{"name": o.SecretRef}
		}
		gr := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
			"metadata": map[string]any{"name": o.Name, "namespace": o.Namespace, "labels": labels},
			"spec":     grSpec,
		}}
		ks := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
			"metadata": map[string]any{"name": o.Name, "namespace": o.Namespace, "labels": labels},
			"spec": map[string]any{
				"interval": "10m", "path": "./" + p, "prune": true, "wait": true, "timeout": "3m",
				"targetNamespace": o.TargetNamespace,
				"sourceRef":       map[string]any{"kind": "GitRepository", "name": o.Name},
			},
		}}
		return []*unstructured.Unstructured{gr, ks}, &gitops.Owner{Kind: gitops.OwnerFluxKustomization, Namespace: o.Namespace, Name: o.Name,
			Evidence: []string{"created by dot recommend"}}, nil
	}
	return nil, nil, fmt.Errorf("owner kind %q: want %s or %s", o.Kind, OwnerArgoCD, OwnerFlux)
}

// Workload returns the reference of the generated workload (Deployment,
// StatefulSet, CronJob or operator resource): what to wait for.
func Workload(objs []*unstructured.Unstructured) (kube.ObjectRef, bool) {
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment", "StatefulSet", "CronJob", "Cluster":
			return kube.RefOf(o), true
		}
	}
	return kube.ObjectRef{}, false
}
