package gitops

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
	"github.com/dot-ai/dot/pkg/gitops/manifest"
)

// RenderAuto means the controller detects how to render the path
// (kustomization.yaml → kustomize, Chart.yaml → Helm, else plain files).
const RenderAuto RenderKind = "Auto"

var (
	shaRe = regexp.MustCompile(`^[0-9a-f]{40}$|^[0-9a-f]{64}$`)
	// A semver constraint: only digits, dots, x/X/*, operators and spaces,
	// with at least one operator or wildcard (a plain "1.4.2" is a version).
	semverRe = regexp.MustCompile(`^[\sv\d.xX*^~<>=|,-]*[\^~<>=*xX|][\sv\d.xX*^~<>=|,-]*$`)
)

// ClassifyArgoRevision classifies an Argo CD targetRevision. A name that is
// not HEAD, a SHA or a semver constraint is taken as a branch; the Git layer
// checks that such a branch exists before pushing (it may be a tag).
func ClassifyArgoRevision(rev string, helmChart bool) RefKind {
	switch {
	case rev == "" || rev == "HEAD":
		return RefDefault
	case shaRe.MatchString(rev):
		return RefCommit
	case helmChart:
		if semverRe.MatchString(rev) {
			return RefSemver
		}
		return RefTag // a chart version
	case strings.HasPrefix(rev, "refs/tags/"):
		return RefTag
	case semverRe.MatchString(rev):
		return RefSemver
	default:
		return RefBranch
	}
}

// Sources returns where the owner's manifests live. Argo CD multi-source
// Applications have one Source per spec.sources entry, in order; everything
// else has one.
func (c *Cluster) Sources(ctx context.Context, o *Owner) ([]Source, error) {
	switch o.Kind {
	case OwnerArgoCDApplication:
		var app argocd.Application
		if err := c.argo().Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, &app); err != nil {
			return nil, fmt.Errorf("get Application %s/%s: %w", o.Namespace, o.Name, err)
		}
		return ArgoSources(&app)
	case OwnerFluxKustomization:
		var ks kustomizev1.Kustomization
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, &ks); err != nil {
			return nil, fmt.Errorf("get Kustomization %s/%s: %w", o.Namespace, o.Name, err)
		}
		src, err := c.kustomizationSource(ctx, &ks)
		if err != nil {
			return nil, err
		}
		return []Source{src}, nil
	case OwnerFluxHelmRelease:
		var hr helmv2.HelmRelease
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, &hr); err != nil {
			return nil, fmt.Errorf("get HelmRelease %s/%s: %w", o.Namespace, o.Name, err)
		}
		src, err := c.helmReleaseSource(ctx, &hr)
		if err != nil {
			return nil, err
		}
		return []Source{src}, nil
	}
	return nil, fmt.Errorf("unknown owner kind %q", o.Kind)
}

// ArgoSources returns the sources of an Application. With a source hydrator
// the dry source is returned: that is where edits go.
func ArgoSources(app *argocd.Application) ([]Source, error) {
	via := fmt.Sprintf("Application %s/%s", app.Namespace, app.Name)
	ns := app.Spec.Destination.Namespace
	if h := app.Spec.SourceHydrator; h != nil {
		url, err := checkURL(h.DrySource.RepoURL, via)
		if err != nil {
			return nil, err
		}
		return []Source{{RepoURL: url, Ref: h.DrySource.TargetRevision, RefKind: ClassifyArgoRevision(h.DrySource.TargetRevision, false),
			Path: cleanPath(h.DrySource.Path), Render: RenderAuto, Namespace: ns, Hydrated: true, Via: via}}, nil
	}
	srcs := app.Spec.GetSources()
	if len(srcs) == 0 {
		return nil, fmt.Errorf("%s has no source", via)
	}
	out := make([]Source, 0, len(srcs))
	for i, s := range srcs {
		url, err := checkURL(s.RepoURL, via)
		if err != nil {
			return nil, err
		}
		src := Source{RepoURL: url, Ref: s.TargetRevision, RefKind: ClassifyArgoRevision(s.TargetRevision, s.Chart != ""),
			Path: cleanPath(s.Path), Render: RenderAuto, Index: i, RefName: s.Ref, Chart: s.Chart, Namespace: ns, Via: via}
		switch {
		case s.Chart != "" || s.Helm != nil:
			src.Render = RenderHelm
			if s.Helm != nil {
				src.ValueFiles = s.Helm.ValueFiles
				if s.Helm.Values != "" || s.Helm.ValuesObject != nil {
					src.Overrides = append(src.Overrides, "helm.values in the Application")
				}
				for _, p := range s.Helm.Parameters {
					src.Overrides = append(src.Overrides, fmt.Sprintf("helm.parameters %s=%s", p.Name, p.Value))
				}
			}
		case s.Kustomize != nil:
			src.Render = RenderKustomize
			src.Overrides = append(src.Overrides, kustomizeOverrides(s.Kustomize)...)
			layers, err := argoLayers(via, s.Kustomize)
			if err != nil {
				return nil, err
			}
			src.Layers = layers
		case s.Directory != nil:
			src.Render = RenderDirectory
			src.Recurse = s.Directory.Recurse
			src.Include, src.Exclude = s.Directory.Include, s.Directory.Exclude
		case s.Plugin != nil:
			src.Render = RenderPlugin
		}
		if s.Ref != "" && s.Path == "" && s.Chart == "" {
			src.Render = "" // a pure `ref:` source only provides files to others
		}
		out = append(out, src)
	}
	return out, nil
}

func kustomizeOverrides(k *argocd.ApplicationSourceKustomize) []string {
	var out []string
	for _, img := range k.Images {
		out = append(out, "kustomize.images "+img)
	}
	if k.NamePrefix != "" {
		out = append(out, "kustomize.namePrefix "+k.NamePrefix)
	}
	if k.NameSuffix != "" {
		out = append(out, "kustomize.nameSuffix "+k.NameSuffix)
	}
	if k.Namespace != "" {
		out = append(out, "kustomize.namespace "+k.Namespace)
	}
	for _, r := range k.Replicas {
		out = append(out, fmt.Sprintf("kustomize.replicas %s=%s", r.Name, string(r.Count.Raw)))
	}
	if len(k.Patches) > 0 {
		out = append(out, fmt.Sprintf("kustomize.patches (%d)", len(k.Patches)))
	}
	if len(k.CommonLabels) > 0 {
		out = append(out, "kustomize.commonLabels")
	}
	return out
}

func (c *Cluster) kustomizationSource(ctx context.Context, ks *kustomizev1.Kustomization) (Source, error) {
	via := fmt.Sprintf("Kustomization %s/%s", ks.Namespace, ks.Name)
	ref := ks.Spec.SourceRef
	if ref.Kind != sourcev1.GitRepositoryKind {
		return Source{}, fmt.Errorf("%s: source %s %s is not a Git repository; dot can only change Git sources", via, ref.Kind, ref.Name)
	}
	ns := ref.Namespace
	if ns == "" {
		ns = ks.Namespace
	}
	src, err := c.gitRepositorySource(ctx, ns, ref.Name)
	if err != nil {
		return Source{}, fmt.Errorf("%s: %w", via, err)
	}
	src.Path = cleanPath(ks.Spec.Path)
	src.Render = RenderKustomize
	src.Namespace = ks.Spec.TargetNamespace
	for _, img := range ks.Spec.Images {
		src.Overrides = append(src.Overrides, "spec.images "+img.Name)
	}
	if len(ks.Spec.Patches) > 0 {
		src.Overrides = append(src.Overrides, fmt.Sprintf("spec.patches (%d)", len(ks.Spec.Patches)))
	}
	if ks.Spec.PostBuild != nil && (len(ks.Spec.PostBuild.Substitute) > 0 || len(ks.Spec.PostBuild.SubstituteFrom) > 0) {
		src.Overrides = append(src.Overrides, "spec.postBuild substitutions")
	}
	if ks.Spec.NamePrefix != "" || ks.Spec.NameSuffix != "" {
		src.Overrides = append(src.Overrides, "spec.namePrefix/nameSuffix")
	}
	src.Layers = fluxLayers(via, ks)
	return src, nil
}

// fluxLayers turns a Kustomization's rendering options into manifest layers.
func fluxLayers(via string, ks *kustomizev1.Kustomization) *manifest.Overrides {
	o := &manifest.Overrides{Owner: via, Namespace: ks.Spec.TargetNamespace, NamePrefix: ks.Spec.NamePrefix,
		NameSuffix: ks.Spec.NameSuffix, Components: ks.Spec.Components}
	for _, img := range ks.Spec.Images {
		o.Images = append(o.Images, manifest.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest})
	}
	for _, p := range ks.Spec.Patches {
		mp := manifest.Patch{Patch: p.Patch}
		if t := p.Target; t != nil {
			mp.Target = &manifest.Selector{Group: t.Group, Version: t.Version, Kind: t.Kind, Name: t.Name,
				Namespace: t.Namespace, LabelSelector: t.LabelSelector, AnnotationSelector: t.AnnotationSelector}
		}
		o.Patches = append(o.Patches, mp)
	}
	if pb := ks.Spec.PostBuild; pb != nil {
		o.Substitute = pb.Substitute
		for _, r := range pb.SubstituteFrom {
			o.SubstituteFrom = append(o.SubstituteFrom, r.Kind+"/"+r.Name)
		}
	}
	if ks.Spec.CommonMetadata != nil {
		o.CommonLabels, o.CommonAnnotations = ks.Spec.CommonMetadata.Labels, ks.Spec.CommonMetadata.Annotations
	}
	return o
}

// argoLayers turns an Application's kustomize options into manifest layers.
func argoLayers(via string, k *argocd.ApplicationSourceKustomize) (*manifest.Overrides, error) {
	o := &manifest.Overrides{Owner: via, Namespace: k.Namespace, NamePrefix: k.NamePrefix, NameSuffix: k.NameSuffix,
		Components: k.Components, CommonLabels: k.CommonLabels, CommonAnnotations: k.CommonAnnotations}
	for _, img := range k.Images {
		o.Images = append(o.Images, parseArgoImage(img))
	}
	for _, r := range k.Replicas {
		var n int64
		if err := json.Unmarshal(r.Count.Raw, &n); err != nil {
			var s string
			if err := json.Unmarshal(r.Count.Raw, &s); err != nil {
				return nil, fmt.Errorf("%s: kustomize.replicas %s: count %s is not a number", via, r.Name, r.Count.Raw)
			}
			if n, err = strconv.ParseInt(s, 10, 64); err != nil {
				return nil, fmt.Errorf("%s: kustomize.replicas %s: count %q is not a number", via, r.Name, s)
			}
		}
		o.Replicas = append(o.Replicas, manifest.Replica{Name: r.Name, Count: n})
	}
	for _, p := range k.Patches {
		var ap struct {
			Patch  string             `json:"patch"`
			Path   string             `json:"path"`
			Target *manifest.Selector `json:"target"`
		}
		if err := json.Unmarshal(p.Raw, &ap); err != nil {
			return nil, fmt.Errorf("%s: kustomize.patches: %w", via, err)
		}
		if ap.Patch == "" {
			continue // a patch file in the repository is a repository layer
		}
		o.Patches = append(o.Patches, manifest.Patch{Patch: ap.Patch, Target: ap.Target})
	}
	return o, nil
}

// parseArgoImage parses Argo CD's kustomize image override syntax, the same
// as `kustomize edit set image`: name[=newName][:tag][@digest].
func parseArgoImage(s string) manifest.Image {
	name, rest, hasEq := strings.Cut(s, "=")
	img := manifest.Image{Name: name}
	if !hasEq {
		rest = s
	}
	if r, d, ok := strings.Cut(rest, "@"); ok {
		rest, img.Digest = r, d
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		rest, img.NewTag = rest[:i], rest[i+1:]
	}
	if hasEq {
		img.NewName = rest
	} else {
		img.Name = rest
	}
	return img
}

// gitRepositorySource reads a Flux GitRepository: URL, ref (commit > name >
// semver > tag > branch, as source-controller decides), credentials secret.
func (c *Cluster) gitRepositorySource(ctx context.Context, ns, name string) (Source, error) {
	var repo sourcev1.GitRepository
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &repo); err != nil {
		return Source{}, fmt.Errorf("get GitRepository %s/%s: %w", ns, name, err)
	}
	via := fmt.Sprintf("GitRepository %s/%s", ns, name)
	url, err := checkURL(repo.Spec.URL, via)
	if err != nil {
		return Source{}, err
	}
	src := Source{RepoURL: url, Via: via, Ref: "master", RefKind: RefBranch}
	if r := repo.Spec.Reference; r != nil {
		switch {
		case r.Commit != "":
			src.Ref, src.RefKind = r.Commit, RefCommit
		case r.Name != "":
			src.Ref = r.Name
			switch {
			case strings.HasPrefix(r.Name, "refs/heads/"):
				src.Ref, src.RefKind = strings.TrimPrefix(r.Name, "refs/heads/"), RefBranch
			default:
				src.RefKind = RefTag // refs/tags, refs/pull/...: not a branch dot can push to
			}
		case r.SemVer != "":
			src.Ref, src.RefKind = r.SemVer, RefSemver
		case r.Tag != "":
			src.Ref, src.RefKind = r.Tag, RefTag
		case r.Branch != "":
			src.Ref = r.Branch
		}
	}
	if repo.Spec.SecretRef != nil {
		src.SecretRef = ns + "/" + repo.Spec.SecretRef.Name
	}
	return src, nil
}

func (c *Cluster) helmReleaseSource(ctx context.Context, hr *helmv2.HelmRelease) (Source, error) {
	via := fmt.Sprintf("HelmRelease %s/%s", hr.Namespace, hr.Name)
	if hr.Spec.Chart == nil || hr.Spec.Chart.Spec.SourceRef.Kind != sourcev1.GitRepositoryKind {
		// Chart from a Helm or OCI repository: the values live in the
		// HelmRelease, whose own source is its parent's.
		chart := ""
		if hr.Spec.Chart != nil {
			chart = hr.Spec.Chart.Spec.Chart
		}
		return Source{Render: RenderHelm, Chart: chart, Via: via, RefKind: RefTag,
			Overrides: []string{"values live in the HelmRelease spec.values (edit it in its parent's source)"}}, nil
	}
	ref := hr.Spec.Chart.Spec.SourceRef
	ns := ref.Namespace
	if ns == "" {
		ns = hr.Namespace
	}
	src, err := c.gitRepositorySource(ctx, ns, ref.Name)
	if err != nil {
		return Source{}, fmt.Errorf("%s: %w", via, err)
	}
	src.Path = cleanPath(hr.Spec.Chart.Spec.Chart)
	src.Render = RenderHelm
	src.ValueFiles = hr.Spec.Chart.Spec.ValuesFiles
	src.Namespace = hr.GetReleaseNamespace()
	if hr.Spec.Values != nil && len(hr.Spec.Values.Raw) > 0 {
		src.Overrides = append(src.Overrides, "spec.values in the HelmRelease")
	}
	return src, nil
}

func checkURL(raw, via string) (string, error) {
	if _, err := NormalizeRepoURL(raw); err != nil {
		return "", fmt.Errorf("%s: %w", via, err)
	}
	return raw, nil
}

func cleanPath(p string) string {
	p = strings.TrimPrefix(strings.TrimSpace(p), "./")
	p = strings.Trim(p, "/")
	if p == "." {
		return ""
	}
	return p
}
