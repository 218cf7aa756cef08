package gitops

import (
	"context"
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
	"github.com/dot-ai/dot/pkg/gitops/flux"
	"github.com/dot-ai/dot/pkg/kube"
)

// evaluate reads what the decision needs and decides.
func (w *waiter) evaluate(ctx context.Context) (decision, error) {
	switch w.owner.Kind {
	case OwnerArgoCDApplication:
		app, hs, err := w.c.getApplication(ctx, w.c.appKey(w.owner))
		if err != nil {
			return decision{}, err
		}
		_, refreshing := app.Annotations[argocd.AnnotationRefresh]
		in := argoInput{
			app:            app,
			hydrator:       hs,
			start:          w.start,
			want:           w.want,
			sync:           w.opts.Sync,
			syncStarted:    w.syncStarted,
			sourceIndexes:  w.opts.SourceIndexes,
			refreshPending: refreshing,
			recreated:      w.opts.Recreated,
		}
		return decideArgo(in, &w.state, w.match(ctx)), nil
	case OwnerFluxKustomization, OwnerFluxHelmRelease:
		in, err := w.c.observeFlux(ctx, w.owner)
		if err != nil {
			return decision{}, err
		}
		in.token, in.want, in.wantObjects = w.token, w.want, len(w.opts.Objects)
		in.recreate = len(w.opts.Recreated) > 0
		d := decideFlux(in, &w.state, w.match(ctx))
		if d.needObjects {
			objs, err := w.c.readObjects(ctx, w.opts.Objects)
			if err != nil {
				return decision{}, err
			}
			in.objects, in.objectsFetched = objs, true
			d = decideFlux(in, &w.state, w.match(ctx))
		}
		return d, nil
	}
	return decision{}, fmt.Errorf("unknown owner kind %q", w.owner.Kind)
}

// observeFlux reads a Flux owner and what its decision depends on: its
// source, its HelmChart and its parent.
func (c *Cluster) observeFlux(ctx context.Context, owner *Owner) (fluxInput, error) {
	var in fluxInput
	key := client.ObjectKey{Namespace: owner.Namespace, Name: owner.Name}
	switch owner.Kind {
	case OwnerFluxKustomization:
		ks := &kustomizev1.Kustomization{}
		if err := c.Client.Get(ctx, key, ks); err != nil {
			return in, fmt.Errorf("get %s: %w", owner, err)
		}
		in.ks = ks
		src, err := c.readSource(ctx, flux.KustomizationSource(ks))
		if err != nil {
			return in, err
		}
		in.source = src
	case OwnerFluxHelmRelease:
		hr := &helmv2.HelmRelease{}
		if err := c.Client.Get(ctx, key, hr); err != nil {
			return in, fmt.Errorf("get %s: %w", owner, err)
		}
		in.hr = hr
		srcRef, chartRef := flux.HelmReleaseSources(hr)
		if !chartRef.IsZero() {
			hc := &sourcev1.HelmChart{}
			err := c.Client.Get(ctx, chartRef.Key(), hc)
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				return in, fmt.Errorf("get %s: %w", chartRef, err)
			default:
				in.chart = hc
				if srcRef.IsZero() {
					srcRef = flux.HelmChartSource(hc)
				}
			}
		}
		if !srcRef.IsZero() {
			src, err := c.readSource(ctx, srcRef)
			if err != nil {
				return in, err
			}
			in.source = src
		}
		if p := owner.Parent; p != nil {
			parent, err := c.readParent(ctx, p)
			if err != nil {
				return in, err
			}
			in.parent = parent
		}
	}
	return in, nil
}

// readSource reads a Flux source of any kind; a missing one is reported, not
// an error.
func (c *Cluster) readSource(ctx context.Context, ref flux.ObjectRef) (*fluxSource, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ref.GroupVersionKind)
	err := c.Client.Get(ctx, ref.Key(), u)
	if apierrors.IsNotFound(err) {
		return &fluxSource{ref: ref, missing: true}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", ref, err)
	}
	return fluxSourceOf(ref, u), nil
}

// fluxSourceOf reads what the decision needs from a source of any kind.
func fluxSourceOf(ref flux.ObjectRef, u *unstructured.Unstructured) *fluxSource {
	src := &fluxSource{ref: ref}
	src.suspended, _, _ = unstructured.NestedBool(u.Object, "spec", "suspend")
	src.url, _, _ = unstructured.NestedString(u.Object, "spec", "url")
	src.branch, _, _ = unstructured.NestedString(u.Object, "spec", "ref", "branch")
	src.revision, _, _ = unstructured.NestedString(u.Object, "status", "artifact", "revision")
	var conds []metav1.Condition
	if raw, ok, _ := unstructured.NestedSlice(u.Object, "status", "conditions"); ok {
		for _, item := range raw {
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			var cond metav1.Condition
			if runtime.DefaultUnstructuredConverter.FromUnstructured(m, &cond) == nil {
				conds = append(conds, cond)
			}
		}
	}
	src.ready = flux.ReadinessOf(u.GetGeneration(), conds)
	return src
}

// readParent reads the Kustomization or Application that applies a
// HelmRelease.
func (c *Cluster) readParent(ctx context.Context, p *Owner) (*fluxParent, error) {
	out := &fluxParent{name: p.String()}
	switch p.Kind {
	case OwnerFluxKustomization:
		ks := &kustomizev1.Kustomization{}
		err := c.Client.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Name}, ks)
		if apierrors.IsNotFound(err) {
			out.missing = true
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", p, err)
		}
		out.ks = ks
		src, err := c.readSource(ctx, flux.KustomizationSource(ks))
		if err != nil {
			return nil, err
		}
		out.source = src
	case OwnerArgoCDApplication:
		app, _, err := c.getApplication(ctx, c.appKey(p))
		if apierrors.IsNotFound(err) {
			out.missing = true
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out.app = app
	default:
		return nil, nil
	}
	return out, nil
}

// readObjects reads the edited objects for kstatus; a missing object is nil.
func (c *Cluster) readObjects(ctx context.Context, refs []kube.ObjectRef) ([]observedObject, error) {
	out := make([]observedObject, 0, len(refs))
	for _, ref := range refs {
		gvk, err := c.resolveGVK(ref)
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		err = c.Client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, u)
		switch {
		case apierrors.IsNotFound(err):
			out = append(out, observedObject{ref: ref})
		case err != nil:
			return nil, fmt.Errorf("get %s: %w", ref, err)
		default:
			out = append(out, observedObject{ref: ref, obj: u})
		}
	}
	return out, nil
}

// resolveGVK fills in the version of a reference that names none: the REST
// mapper's preferred version, else the scheme's.
func (c *Cluster) resolveGVK(ref kube.ObjectRef) (schema.GroupVersionKind, error) {
	if ref.Version != "" {
		return ref.GroupVersionKind(), nil
	}
	if m := c.Client.RESTMapper(); m != nil {
		if mapping, err := m.RESTMapping(ref.GroupKind()); err == nil {
			return mapping.GroupVersionKind, nil
		}
	}
	if s := c.Client.Scheme(); s != nil {
		for _, gv := range s.PrioritizedVersionsForGroup(ref.Group) {
			if gvk := gv.WithKind(ref.Kind); s.Recognizes(gvk) {
				return gvk, nil
			}
		}
	}
	return schema.GroupVersionKind{}, fmt.Errorf("resolve the API version of %s: unknown kind", ref)
}
