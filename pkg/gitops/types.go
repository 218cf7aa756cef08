package gitops

import (
	"fmt"
	"strings"
	"time"

	"github.com/dot-ai/dot/pkg/gitops/manifest"
	"github.com/dot-ai/dot/pkg/kube"
)

// OwnerKind says which controller reconciles an object.
type OwnerKind string

// Owner kinds.
const (
	OwnerArgoCDApplication OwnerKind = "ArgoCDApplication"
	OwnerFluxKustomization OwnerKind = "FluxKustomization"
	OwnerFluxHelmRelease   OwnerKind = "FluxHelmRelease"
)

// Owner is the GitOps object that reconciles an object.
type Owner struct {
	Kind      OwnerKind `json:"kind"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	// Object is the object the owner applies: the one asked about, or the
	// workload found by walking ownerReferences up from it (Pod → ReplicaSet
	// → Deployment).
	Object kube.ObjectRef `json:"object"`
	// Walked lists the objects passed through by the ownerReference walk, from
	// the one asked about to Object (empty when the object is tracked itself).
	Walked []kube.ObjectRef `json:"walked,omitempty"`
	// Evidence says how the ownership was established, e.g. "annotation
	// argocd.argoproj.io/tracking-id=web:apps/Deployment:prod/web" and
	// "listed in Application status.resources".
	Evidence []string `json:"evidence"`
	// Parent is the owner that applies this owner (app-of-apps, a Flux
	// Kustomization applying a HelmRelease or another Kustomization).
	Parent *Owner `json:"parent,omitempty"`
	// Suspended is true when reconciliation is switched off: Flux
	// spec.suspend, or an Argo CD Application frozen by dot.
	Suspended bool `json:"suspended,omitempty"`
}

// Ref returns the owner as an object reference.
func (o *Owner) Ref() kube.ObjectRef {
	switch o.Kind {
	case OwnerArgoCDApplication:
		return kube.ObjectRef{Group: "argoproj.io", Version: "v1alpha1", Kind: "Application", Namespace: o.Namespace, Name: o.Name}
	case OwnerFluxKustomization:
		return kube.ObjectRef{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization", Namespace: o.Namespace, Name: o.Name}
	default:
		return kube.ObjectRef{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease", Namespace: o.Namespace, Name: o.Name}
	}
}

// String names the owner like "Application argocd/web".
func (o *Owner) String() string {
	return fmt.Sprintf("%s %s/%s", o.Ref().Kind, o.Namespace, o.Name)
}

// Chain returns the owner and its parents, nearest first.
func (o *Owner) Chain() []*Owner {
	var out []*Owner
	for p := o; p != nil; p = p.Parent {
		out = append(out, p)
	}
	return out
}

// RefKind classifies the revision a source follows.
type RefKind string

// Ref kinds. Only a branch can be pushed to.
const (
	RefBranch RefKind = "Branch"
	RefTag    RefKind = "Tag"
	RefCommit RefKind = "Commit"
	RefSemver RefKind = "Semver"
	// RefDefault is the remote's default branch (Argo CD "HEAD" or empty).
	RefDefault RefKind = "Default"
)

// Pushable reports whether dot can push commits to a ref of this kind.
func (k RefKind) Pushable() bool { return k == RefBranch || k == RefDefault }

// RenderKind says how the controller renders the source path.
type RenderKind string

// Render kinds.
const (
	RenderDirectory RenderKind = "Directory"
	RenderKustomize RenderKind = "Kustomize"
	RenderHelm      RenderKind = "Helm"
	RenderPlugin    RenderKind = "Plugin"
)

// Source is where an owner's manifests live.
type Source struct {
	// RepoURL is the repository URL as the owner names it (never with
	// credentials: such URLs are refused).
	RepoURL string `json:"repoURL"`
	// Ref is the branch, tag, commit or semver range followed.
	Ref     string  `json:"ref"`
	RefKind RefKind `json:"refKind"`
	// Path is the directory inside the repository, without leading "./".
	Path   string     `json:"path"`
	Render RenderKind `json:"render"`
	// Index is the position in an Argo CD Application's spec.sources (0 for
	// single-source applications and Flux).
	Index int `json:"index"`
	// RefName is the `ref:` name of an Argo CD multi-source entry that other
	// sources use as `$name/...` in Helm value files.
	RefName string `json:"refName,omitempty"`
	// ValueFiles are Helm value files; `$ref/...` ones point into another
	// source of the same Application.
	ValueFiles []string `json:"valueFiles,omitempty"`
	// Chart is set for Helm chart repositories (not Git).
	Chart string `json:"chart,omitempty"`
	// Recurse is Argo CD directory.recurse.
	Recurse bool `json:"recurse,omitempty"`
	// Namespace is the namespace objects without one get (Argo CD
	// destination.namespace, Flux targetNamespace).
	Namespace string `json:"namespace,omitempty"`
	// Overrides are layers outside the repository that change rendered
	// objects: Argo CD kustomize options, Flux spec.images/patches/postBuild.
	Overrides []string `json:"overrides,omitempty"`
	// SecretRef names the Secret with Git credentials (Flux GitRepository
	// spec.secretRef), as "namespace/name".
	SecretRef string `json:"secretRef,omitempty"`
	// Hydrated is true when this is the dry source of an Argo CD source
	// hydrator: edits go here, not to the hydrated branch.
	Hydrated bool `json:"hydrated,omitempty"`
	// Via names the object the source was read from (GitRepository ns/name or
	// Application ns/name).
	Via string `json:"via"`
	// Include and Exclude are Argo CD directory globs.
	Include string `json:"include,omitempty"`
	Exclude string `json:"exclude,omitempty"`
	// Layers are the owner's rendering options in the form the manifest
	// locator applies them (nil when there are none).
	Layers *manifest.Overrides `json:"-"`
}

// String renders "repo@ref:path".
func (s Source) String() string {
	p := s.Path
	if p == "" {
		p = "."
	}
	return fmt.Sprintf("%s@%s:%s", s.RepoURL, s.Ref, p)
}

// Health of an owner or an object, in the words dot reports.
const (
	HealthHealthy     = "Healthy"
	HealthProgressing = "Progressing"
	HealthDegraded    = "Degraded"
	HealthUnknown     = "Unknown"
)

// SyncReport is the observed state of an owner after (or while) waiting for a
// revision: what the controller applied, whether it is healthy, and the
// controller's own messages.
type SyncReport struct {
	Owner string `json:"owner"`
	// Revision is the revision waited for.
	Revision string `json:"revision"`
	// AppliedRevision is what the controller reports as applied (a SHA, or
	// Flux's "main@sha1:<sha>").
	AppliedRevision string `json:"appliedRevision,omitempty"`
	// Synced is true when the applied revision is Revision or descends from it.
	Synced bool `json:"synced"`
	// SyncStatus is Argo CD's sync status or Flux's Ready condition status.
	SyncStatus string `json:"syncStatus,omitempty"`
	Health     string `json:"health"`
	// Messages are the controller's words: conditions, operation message,
	// failing resources.
	Messages []string `json:"messages,omitempty"`
	// Resources lists the objects that are not healthy or not synced.
	Resources []ResourceState `json:"resources,omitempty"`
	Duration  time.Duration   `json:"duration"`
}

// ResourceState is the state of one object as the controller or kstatus sees it.
type ResourceState struct {
	Object  kube.ObjectRef `json:"object"`
	Status  string         `json:"status"`
	Message string         `json:"message,omitempty"`
}

// Summary is a one-line description of the report.
func (r SyncReport) Summary() string {
	parts := []string{r.Owner}
	if r.AppliedRevision != "" {
		parts = append(parts, "at "+r.AppliedRevision)
	}
	if r.SyncStatus != "" {
		parts = append(parts, r.SyncStatus)
	}
	parts = append(parts, r.Health)
	return strings.Join(parts, " ")
}

// Event is a progress event reported through a callback.
type Event struct {
	Time    time.Time `json:"time"`
	Owner   string    `json:"owner,omitempty"`
	Step    string    `json:"step"`
	Message string    `json:"message"`
}

// EventFunc receives progress events. It must not block.
type EventFunc func(Event)

// OwnerOf returns the owner a reference names when it is itself an Argo CD
// Application, a Flux Kustomization or a HelmRelease; nil otherwise.
func OwnerOf(ref kube.ObjectRef) *Owner {
	o := &Owner{Namespace: ref.Namespace, Name: ref.Name, Object: ref, Evidence: []string{"named directly"}}
	switch {
	case ref.Group == "argoproj.io" && ref.Kind == "Application":
		o.Kind = OwnerArgoCDApplication
	case ref.Group == "kustomize.toolkit.fluxcd.io" && ref.Kind == "Kustomization":
		o.Kind = OwnerFluxKustomization
	case ref.Group == "helm.toolkit.fluxcd.io" && ref.Kind == "HelmRelease":
		o.Kind = OwnerFluxHelmRelease
	default:
		return nil
	}
	return o
}
