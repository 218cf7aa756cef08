package gitops

import (
	"context"
	"fmt"
	"slices"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
	"github.com/dot-ai/dot/pkg/kube"
)

// Labels and annotations that carry ownership.
const (
	LabelKustomizationName      = "kustomize.toolkit.fluxcd.io/name"
	LabelKustomizationNamespace = "kustomize.toolkit.fluxcd.io/namespace"
	LabelHelmReleaseName        = "helm.toolkit.fluxcd.io/name"
	LabelHelmReleaseNamespace   = "helm.toolkit.fluxcd.io/namespace"
	AnnotationHelmReleaseName   = "meta.helm.sh/release-name"
	AnnotationHelmReleaseNS     = "meta.helm.sh/release-namespace"
	AnnotationArgoInstallID     = "argocd.argoproj.io/installation-id"
)

// Argo CD resource tracking methods (argocd-cm application.resourceTrackingMethod).
const (
	TrackingLabel              = "label"
	TrackingAnnotation         = "annotation"
	TrackingAnnotationAndLabel = "annotation+label"
)

// maxWalk bounds ownerReference walks and parent hops.
const maxWalk = 6

// ArgoSettings are the parts of argocd-cm that decide how Argo CD tracks
// resources.
type ArgoSettings struct {
	// Installed is false when argocd-cm does not exist.
	Installed bool
	// TrackingMethod is label, annotation or annotation+label; empty when
	// argocd-cm does not set it (then both are tried: Argo CD 2.x defaults to
	// label, 3.x to annotation).
	TrackingMethod string
	// InstanceLabelKey is the tracking label (default app.kubernetes.io/instance).
	InstanceLabelKey string
	// InstallationID, when set, must match the object's installation-id
	// annotation.
	InstallationID string
}

// ArgoSettings reads argocd-cm from the Argo CD control plane (once per
// Cluster; later calls are served from memory).
func (c *Cluster) ArgoSettings(ctx context.Context) (ArgoSettings, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.argoSettings != nil {
		return *c.argoSettings, nil
	}
	var cm corev1.ConfigMap
	err := c.argo().Get(ctx, client.ObjectKey{Namespace: c.argoNamespace(), Name: "argocd-cm"}, &cm)
	s := ArgoSettings{InstanceLabelKey: argocd.DefaultInstanceLabel}
	switch {
	case apierrors.IsNotFound(err):
		// Argo CD is not installed there; remember that too.
	case err != nil:
		return ArgoSettings{}, fmt.Errorf("read configmap %s/argocd-cm: %w", c.argoNamespace(), err)
	default:
		s.Installed = true
		s.TrackingMethod = cm.Data["application.resourceTrackingMethod"]
		if k := cm.Data["application.instanceLabelKey"]; k != "" {
			s.InstanceLabelKey = k
		}
		s.InstallationID = cm.Data["installationID"]
	}
	c.argoSettings = &s
	return s, nil
}

// InvalidateArgoSettings drops the cached argocd-cm settings.
func (c *Cluster) InvalidateArgoSettings() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.argoSettings = nil
}

// NotManagedError is returned (wrapping ErrNotManaged) when no owner was
// found. It says what was looked at, including evidence that was rejected.
type NotManagedError struct {
	Object kube.ObjectRef
	// Searched lists the objects whose tracking was checked.
	Searched []kube.ObjectRef
	// Rejected lists tracking metadata found but not trusted, and why.
	Rejected []string
}

func (e *NotManagedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is not managed by Argo CD or Flux", e.Object)
	if len(e.Searched) > 1 {
		names := make([]string, len(e.Searched))
		for i, r := range e.Searched {
			names[i] = r.String()
		}
		fmt.Fprintf(&b, " (checked %s)", strings.Join(names, " → "))
	}
	if len(e.Rejected) > 0 {
		fmt.Fprintf(&b, "; ignored: %s", strings.Join(e.Rejected, "; "))
	}
	return b.String()
}

func (e *NotManagedError) Unwrap() error { return ErrNotManaged }

// AmbiguousOwnerError is returned (wrapping ErrAmbiguousOwner) when more
// than one owner claims an object.
type AmbiguousOwnerError struct {
	Object kube.ObjectRef
	Owners []*Owner
}

func (e *AmbiguousOwnerError) Error() string {
	names := make([]string, len(e.Owners))
	for i, o := range e.Owners {
		names[i] = fmt.Sprintf("%s (%s)", o, strings.Join(o.Evidence, ", "))
	}
	return fmt.Sprintf("%s is claimed by more than one GitOps owner: %s", e.Object, strings.Join(names, " and "))
}

func (e *AmbiguousOwnerError) Unwrap() error { return ErrAmbiguousOwner }

// FindOwner returns the Argo CD Application or Flux Kustomization/HelmRelease
// that reconciles the object, with the evidence used and the chain of parent
// owners. When the object carries no trusted tracking it walks its controller
// ownerReferences (Pod → ReplicaSet → Deployment, Job → CronJob).
//
// The cost is a handful of GETs, independent of how many Applications or
// objects exist: the object (and each object walked through), the owner
// named by its tracking metadata, and argocd-cm once per Cluster. It never
// lists Applications.
func (c *Cluster) FindOwner(ctx context.Context, ref kube.ObjectRef) (*Owner, error) {
	obj, err := c.getMeta(ctx, c.Client, ref)
	if err != nil {
		return nil, err
	}
	nm := &NotManagedError{Object: kube.ObjectRef{Group: ref.Group, Kind: ref.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}}
	var walked []kube.ObjectRef
	for range maxWalk {
		cur := metaRef(obj)
		nm.Searched = append(nm.Searched, cur)
		owners, rejected, err := c.ownersOf(ctx, obj)
		if err != nil {
			return nil, err
		}
		nm.Rejected = append(nm.Rejected, rejected...)
		switch len(owners) {
		case 0:
		case 1:
			o := owners[0]
			o.Object, o.Walked = cur, walked
			if err := c.findParents(ctx, o); err != nil {
				return nil, err
			}
			return o, nil
		default:
			return nil, &AmbiguousOwnerError{Object: cur, Owners: owners}
		}
		ctrl := metav1.GetControllerOf(obj)
		if ctrl == nil {
			return nil, nm
		}
		gv, err := schema.ParseGroupVersion(ctrl.APIVersion)
		if err != nil {
			return nil, fmt.Errorf("%s: controller reference %q: %w", cur, ctrl.APIVersion, err)
		}
		next := kube.ObjectRef{Group: gv.Group, Version: gv.Version, Kind: ctrl.Kind, Namespace: obj.GetNamespace(), Name: ctrl.Name}
		walked = append(walked, cur)
		obj, err = c.getMeta(ctx, c.Client, next)
		if err != nil {
			if apierrors.IsNotFound(err) {
				nm.Rejected = append(nm.Rejected, fmt.Sprintf("%s names controller %s, which does not exist", cur, next))
				return nil, nm
			}
			return nil, err
		}
	}
	return nil, nm
}

// findParents fills o.Parent (and up) with the owners that apply o itself.
func (c *Cluster) findParents(ctx context.Context, o *Owner) error {
	seen := map[string]bool{o.String(): true}
	for cur := o; ; cur = cur.Parent {
		if len(seen) > maxWalk {
			return nil
		}
		cl := c.Client
		if cur.Kind == OwnerArgoCDApplication {
			cl = c.argo()
		}
		obj, err := c.getMeta(ctx, cl, cur.Ref())
		if err != nil {
			return fmt.Errorf("read owner %s: %w", cur, err)
		}
		owners, _, err := c.ownersOf(ctx, obj)
		if err != nil {
			return err
		}
		if len(owners) == 0 {
			return nil
		}
		if len(owners) > 1 {
			return &AmbiguousOwnerError{Object: cur.Ref(), Owners: owners}
		}
		p := owners[0]
		if seen[p.String()] {
			return nil // a cycle (an Application managing itself)
		}
		seen[p.String()] = true
		p.Object = cur.Ref()
		cur.Parent = p
	}
}

// ownersOf returns the owners whose tracking metadata on obj is confirmed by
// the owner itself, and the tracking found but rejected (with why).
func (c *Cluster) ownersOf(ctx context.Context, obj *metav1.PartialObjectMetadata) ([]*Owner, []string, error) {
	var owners []*Owner
	var rejected []string
	add := func(o *Owner, why string, err error) error {
		switch {
		case err != nil:
			return err
		case o != nil:
			owners = append(owners, o)
		case why != "":
			rejected = append(rejected, why)
		}
		return nil
	}
	if err := c.argoOwner(ctx, obj, add); err != nil {
		return nil, nil, err
	}
	if o, why, err := c.kustomizationOwner(ctx, obj); add(o, why, err) != nil {
		return nil, nil, err
	}
	if o, why, err := c.helmReleaseOwner(ctx, obj); add(o, why, err) != nil {
		return nil, nil, err
	}
	return owners, rejected, nil
}

// TrackingID is a parsed argocd.argoproj.io/tracking-id annotation:
// "<app>:<group>/<kind>:<namespace>/<name>", where <app> may be
// "<namespace>_<name>" for Applications outside the control-plane namespace.
type TrackingID struct {
	AppNamespace, AppName string
	Group, Kind           string
	Namespace, Name       string
}

// ParseTrackingID parses an Argo CD tracking-id annotation value.
func ParseTrackingID(v string) (TrackingID, error) {
	parts := strings.Split(v, ":")
	if len(parts) != 3 {
		return TrackingID{}, fmt.Errorf("tracking id %q: want <app>:<group>/<kind>:<namespace>/<name>", v)
	}
	gk := strings.SplitN(parts[1], "/", 2)
	nn := strings.SplitN(parts[2], "/", 2)
	if parts[0] == "" || len(gk) != 2 || len(nn) != 2 || gk[1] == "" || nn[1] == "" {
		return TrackingID{}, fmt.Errorf("tracking id %q: want <app>:<group>/<kind>:<namespace>/<name>", v)
	}
	t := TrackingID{AppName: parts[0], Group: gk[0], Kind: gk[1], Namespace: nn[0], Name: nn[1]}
	if ns, name, ok := strings.Cut(t.AppName, "_"); ok {
		t.AppNamespace, t.AppName = ns, name
	}
	return t, nil
}

// Matches reports whether the tracking id names the live object. Annotations
// are copied by operators and Helm charts; a copied id names another object.
func (t TrackingID) Matches(obj *metav1.PartialObjectMetadata) bool {
	gvk := obj.GroupVersionKind()
	return t.Group == gvk.Group && t.Kind == gvk.Kind && t.Name == obj.GetName() &&
		(t.Namespace == obj.GetNamespace() || (t.Namespace == "" && obj.GetNamespace() == ""))
}

type addOwner func(o *Owner, why string, err error) error

// argoOwner checks Argo CD tracking on obj per argocd-cm.
func (c *Cluster) argoOwner(ctx context.Context, obj *metav1.PartialObjectMetadata, add addOwner) error {
	ann := obj.GetAnnotations()[argocd.AnnotationTrackingID]
	s, err := c.ArgoSettings(ctx)
	if err != nil {
		return err
	}
	label := obj.GetLabels()[s.InstanceLabelKey]
	if ann == "" && label == "" {
		return nil
	}
	if !s.Installed {
		return add(nil, fmt.Sprintf("Argo CD tracking on %s, but no argocd-cm in namespace %q (use --argocd-namespace/--argocd-context)", metaRef(obj), c.argoNamespace()), nil)
	}
	useAnnotation := s.TrackingMethod != TrackingLabel
	useLabel := s.TrackingMethod == TrackingLabel || s.TrackingMethod == ""
	if ann != "" && useAnnotation {
		o, why, err := c.argoByAnnotation(ctx, obj, ann, s)
		if err := add(o, why, err); err != nil || o != nil {
			return err
		}
	}
	if label != "" && useLabel {
		return add(c.argoByLabel(ctx, obj, label, s))
	}
	return nil
}

func (c *Cluster) argoByAnnotation(ctx context.Context, obj *metav1.PartialObjectMetadata, ann string, s ArgoSettings) (*Owner, string, error) {
	where := fmt.Sprintf("annotation %s=%s on %s", argocd.AnnotationTrackingID, ann, metaRef(obj))
	t, err := ParseTrackingID(ann)
	if err != nil {
		return nil, where + ": " + err.Error(), nil
	}
	if !t.Matches(obj) {
		return nil, where + ": names another object (copied annotation)", nil
	}
	if s.InstallationID != "" && obj.GetAnnotations()[AnnotationArgoInstallID] != s.InstallationID {
		return nil, fmt.Sprintf("%s: installation id %q does not match argocd-cm installationID %q", where, obj.GetAnnotations()[AnnotationArgoInstallID], s.InstallationID), nil
	}
	ns := t.AppNamespace
	if ns == "" {
		ns = c.argoNamespace()
	}
	var app argocd.Application
	err = c.argo().Get(ctx, client.ObjectKey{Namespace: ns, Name: t.AppName}, &app)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Sprintf("%s: Application %s/%s does not exist", where, ns, t.AppName), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("get Application %s/%s: %w", ns, t.AppName, err)
	}
	return &Owner{Kind: OwnerArgoCDApplication, Namespace: ns, Name: t.AppName, Evidence: []string{where}, Suspended: isFrozen(&app)}, "", nil
}

func (c *Cluster) argoByLabel(ctx context.Context, obj *metav1.PartialObjectMetadata, label string, s ArgoSettings) (*Owner, string, error) {
	where := fmt.Sprintf("label %s=%s on %s", s.InstanceLabelKey, label, metaRef(obj))
	ns, name := c.argoNamespace(), label
	if n, a, ok := strings.Cut(label, "_"); ok {
		ns, name = n, a
	}
	var app argocd.Application
	err := c.argo().Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &app)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Sprintf("%s: no Application %s/%s (Helm charts set this label themselves)", where, ns, name), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("get Application %s/%s: %w", ns, name, err)
	}
	gvk := obj.GroupVersionKind()
	listed := slices.ContainsFunc(app.Status.Resources, func(r argocd.ResourceStatus) bool {
		return r.Group == gvk.Group && r.Kind == gvk.Kind && r.Namespace == obj.GetNamespace() && r.Name == obj.GetName()
	})
	if !listed {
		return nil, fmt.Sprintf("%s: Application %s/%s does not list it in status.resources (Helm charts set this label themselves)", where, ns, name), nil
	}
	return &Owner{Kind: OwnerArgoCDApplication, Namespace: ns, Name: name, Suspended: isFrozen(&app),
		Evidence: []string{where, fmt.Sprintf("listed in Application %s/%s status.resources", ns, name)}}, "", nil
}

// kustomizationOwner checks Flux Kustomization labels, confirmed by the
// Kustomization's inventory.
func (c *Cluster) kustomizationOwner(ctx context.Context, obj *metav1.PartialObjectMetadata) (*Owner, string, error) {
	name, ns := obj.GetLabels()[LabelKustomizationName], obj.GetLabels()[LabelKustomizationNamespace]
	if name == "" || ns == "" {
		return nil, "", nil
	}
	where := fmt.Sprintf("labels %s=%s, %s=%s on %s", LabelKustomizationName, name, LabelKustomizationNamespace, ns, metaRef(obj))
	var ks kustomizev1.Kustomization
	err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &ks)
	if apierrors.IsNotFound(err) || meta404(err) {
		return nil, fmt.Sprintf("%s: Kustomization %s/%s does not exist", where, ns, name), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("get Kustomization %s/%s: %w", ns, name, err)
	}
	o := &Owner{Kind: OwnerFluxKustomization, Namespace: ns, Name: name, Evidence: []string{where}, Suspended: ks.Spec.Suspend}
	if ks.Status.Inventory == nil {
		o.Evidence = append(o.Evidence, "Kustomization has no inventory yet (labels only)")
		return o, "", nil
	}
	gvk := obj.GroupVersionKind()
	id := fmt.Sprintf("%s_%s_%s_%s", obj.GetNamespace(), obj.GetName(), gvk.Group, gvk.Kind)
	if !slices.ContainsFunc(ks.Status.Inventory.Entries, func(e kustomizev1.ResourceRef) bool { return e.ID == id }) {
		return nil, fmt.Sprintf("%s: not in Kustomization %s/%s inventory", where, ns, name), nil
	}
	o.Evidence = append(o.Evidence, fmt.Sprintf("inventory entry %s", id))
	return o, "", nil
}

// helmReleaseOwner checks Flux HelmRelease labels, confirmed by Helm's
// release annotations.
func (c *Cluster) helmReleaseOwner(ctx context.Context, obj *metav1.PartialObjectMetadata) (*Owner, string, error) {
	name, ns := obj.GetLabels()[LabelHelmReleaseName], obj.GetLabels()[LabelHelmReleaseNamespace]
	if name == "" || ns == "" {
		return nil, "", nil
	}
	where := fmt.Sprintf("labels %s=%s, %s=%s on %s", LabelHelmReleaseName, name, LabelHelmReleaseNamespace, ns, metaRef(obj))
	var hr helmv2.HelmRelease
	err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &hr)
	if apierrors.IsNotFound(err) || meta404(err) {
		return nil, fmt.Sprintf("%s: HelmRelease %s/%s does not exist", where, ns, name), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("get HelmRelease %s/%s: %w", ns, name, err)
	}
	o := &Owner{Kind: OwnerFluxHelmRelease, Namespace: ns, Name: name, Evidence: []string{where}, Suspended: hr.Spec.Suspend}
	rel, relNS := obj.GetAnnotations()[AnnotationHelmReleaseName], obj.GetAnnotations()[AnnotationHelmReleaseNS]
	switch {
	case rel == "":
		o.Evidence = append(o.Evidence, "no Helm release annotations (labels only)")
	case rel != hr.GetReleaseName() || (relNS != "" && relNS != hr.GetReleaseNamespace()):
		return nil, fmt.Sprintf("%s: Helm release %s/%s is not the HelmRelease's %s/%s", where, relNS, rel, hr.GetReleaseNamespace(), hr.GetReleaseName()), nil
	default:
		o.Evidence = append(o.Evidence, fmt.Sprintf("Helm release %s/%s", relNS, rel))
	}
	return o, "", nil
}

// meta404 reports a missing kind (the CRD is not installed) as not-found.
func meta404(err error) bool { return meta.IsNoMatchError(err) }

// getMeta reads only the metadata of an object. An empty version is filled
// in from the REST mapper (the server's preferred version).
func (c *Cluster) getMeta(ctx context.Context, cl client.Client, ref kube.ObjectRef) (*metav1.PartialObjectMetadata, error) {
	gvk := ref.GroupVersionKind()
	if gvk.Version == "" {
		m, err := cl.RESTMapper().RESTMapping(ref.GroupKind())
		if err != nil {
			return nil, fmt.Errorf("resolve kind %s: %w", ref.GroupKind(), err)
		}
		gvk = m.GroupVersionKind
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(gvk)
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, obj); err != nil {
		return nil, fmt.Errorf("get %s: %w", ref, err)
	}
	obj.SetGroupVersionKind(gvk) // some clients clear it on decode
	return obj, nil
}

func metaRef(obj *metav1.PartialObjectMetadata) kube.ObjectRef {
	gvk := obj.GroupVersionKind()
	return kube.ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// AnnotationFrozen marks an Argo CD Application whose automated sync dot
// removed for an incident; its value is the previous syncPolicy.automated.
const AnnotationFrozen = "dot.dev/frozen-automated"

func isFrozen(app *argocd.Application) bool {
	_, ok := app.Annotations[AnnotationFrozen]
	return ok
}
