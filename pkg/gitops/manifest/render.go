package manifest

//lint:file-ignore SA1019 users' kustomizations still use the deprecated fields (bases, commonLabels, imageTags, patchesStrategicMerge); reading them is the point.

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/dot-ai/dot/pkg/kube"
)

// Annotations kustomize adds for build metadata, and the marker dot adds to
// every resource document it serves to kustomize so that each rendered
// object can be traced to its file and document.
const (
	originAnnotation          = "config.kubernetes.io/origin"
	transformationsAnnotation = "alpha.config.kubernetes.io/transformations"
	markerAnnotation          = "internal.dot.ai/source"
	fluxSubstituteKey         = "kustomize.toolkit.fluxcd.io/substitute"
)

var krustyMu sync.Mutex

// renderedObject is one object of a rendering.
type renderedObject struct {
	ref        kube.ObjectRef
	apiVersion string
	obj        map[string]any // final, in the JSON data model
	pre        map[string]any // before postBuild substitution; nil when none ran
	file       string         // defining file; "" for generated objects
	doc        int
	item       int // index in a List document, -1 otherwise
	line       int
	origName   string // metadata.name in the defining document
	origNS     string
	generator  *Location
	transforms []string
}

func objKey(r kube.ObjectRef) string {
	return r.Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

// rendering is the output of a source for one state of the workspace.
type rendering struct {
	objects  []*renderedObject
	tree     *kustTree // kustomize sources only
	topDir   string
	searched []string
	outside  []string
	notes    []string
	files    map[string]bool // plain: files read
}

// renderer renders a source over a workspace.
type renderer struct {
	// nameHint, when set, lets a plain-directory render skip parsing files
	// that do not contain the name of the object the operation is about
	// (files with pending changes are always parsed).
	nameHint  string
	src       Source
	dir       string
	kustomize bool
	overrides *Overrides
}

func newRenderer(ws *workspace, src Source) (*renderer, error) {
	dir, err := cleanRel(src.Path)
	if err != nil {
		return nil, err
	}
	if !ws.isDir(dir) {
		return nil, &Error{Err: ErrNotFound, Op: "open source", File: dir, Detail: "source path is not a directory in the repository"}
	}
	r := &renderer{src: src, dir: dir, overrides: src.Overrides}
	switch src.Kind {
	case KindKustomize:
		r.kustomize = true
	case KindDirectory:
	case KindAuto:
		r.kustomize = findKustomization(ws, dir) != "" || src.GenerateKustomization
	default:
		return nil, fmt.Errorf("open source: unknown kind %q", src.Kind)
	}
	if r.kustomize && findKustomization(ws, dir) == "" && !src.GenerateKustomization {
		return nil, &Error{Err: ErrNotFound, Op: "open source", File: dir, Detail: "no kustomization file at the source path"}
	}
	if !r.kustomize && src.Overrides != nil && !src.Overrides.empty() {
		return nil, fmt.Errorf("open source %s: %w: kustomize overrides on a plain directory", dir, ErrUnsupported)
	}
	return r, nil
}

func (o *Overrides) empty() bool {
	return o == nil || (o.Namespace == "" && o.NamePrefix == "" && o.NameSuffix == "" && len(o.Images) == 0 &&
		len(o.Replicas) == 0 && len(o.Patches) == 0 && len(o.Components) == 0 && len(o.CommonLabels) == 0 &&
		len(o.CommonAnnotations) == 0 && len(o.Substitute) == 0 && len(o.SubstituteFrom) == 0)
}

func (r *renderer) renderWith(ctx context.Context, ws *workspace, ov *Overrides) (*rendering, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.kustomize {
		return r.renderKustomize(ws, ov)
	}
	return r.renderPlain(ws)
}

// namespaced tells whether objects of gk live in a namespace.
func (r *renderer) namespaced(gk schema.GroupKind) bool {
	if r.src.Namespaced != nil {
		return r.src.Namespaced(gk)
	}
	return !clusterScoped[gk]
}

var clusterScoped = map[schema.GroupKind]bool{}

func init() {
	for _, gk := range []string{
		"Namespace", "Node", "PersistentVolume", "ComponentStatus",
		"ClusterRole.rbac.authorization.k8s.io", "ClusterRoleBinding.rbac.authorization.k8s.io",
		"CustomResourceDefinition.apiextensions.k8s.io", "StorageClass.storage.k8s.io",
		"VolumeAttachment.storage.k8s.io", "CSIDriver.storage.k8s.io", "CSINode.storage.k8s.io",
		"PriorityClass.scheduling.k8s.io", "RuntimeClass.node.k8s.io", "IngressClass.networking.k8s.io",
		"ValidatingWebhookConfiguration.admissionregistration.k8s.io", "MutatingWebhookConfiguration.admissionregistration.k8s.io",
		"ValidatingAdmissionPolicy.admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding.admissionregistration.k8s.io",
		"APIService.apiregistration.k8s.io", "CertificateSigningRequest.certificates.k8s.io",
		"FlowSchema.flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration.flowcontrol.apiserver.k8s.io",
		"ClusterIssuer.cert-manager.io", "ClusterSecretStore.external-secrets.io", "ClusterPolicy.kyverno.io",
	} {
		clusterScoped[schema.ParseGroupKind(gk)] = true
	}
}

// --- plain directories -------------------------------------------------

func (r *renderer) renderPlain(ws *workspace) (*rendering, error) {
	out := &rendering{topDir: r.dir, files: map[string]bool{}}
	files, err := r.plainFiles(ws)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		out.searched = append(out.searched, f)
		out.files[f] = true
		if _, pending := ws.changes[f]; r.nameHint != "" && !pending {
			b, err := ws.read(f)
			if err != nil {
				return nil, err
			}
			if !bytes.Contains(b, []byte(r.nameHint)) {
				continue
			}
		}
		objs, err := r.plainObjects(ws, f)
		if err != nil {
			return nil, err
		}
		out.objects = append(out.objects, objs...)
	}
	return out, nil
}

// plainFiles lists the manifest files of a plain directory source as Argo
// CD reads them.
func (r *renderer) plainFiles(ws *workspace) ([]string, error) {
	var files []string
	var walk func(rel string) error
	walk = func(rel string) error {
		names, err := ws.list(rel)
		if err != nil {
			return err
		}
		for _, n := range names {
			if strings.HasPrefix(n, ".") {
				continue
			}
			p := path.Join(rel, n)
			if ws.isDir(p) {
				if r.src.Recurse {
					if err := walk(p); err != nil {
						return err
					}
				}
				continue
			}
			switch strings.ToLower(path.Ext(n)) {
			case ".yaml", ".yml", ".json":
			default:
				continue
			}
			relToSrc := strings.TrimPrefix(p, r.dir+"/")
			if r.dir == "." {
				relToSrc = p
			}
			if r.src.Include != "" && !globMatch(r.src.Include, relToSrc) {
				continue
			}
			if r.src.Exclude != "" && globMatch(r.src.Exclude, relToSrc) {
				continue
			}
			files = append(files, p)
		}
		return nil
	}
	if err := walk(r.dir); err != nil {
		return nil, fmt.Errorf("list %s: %w", r.dir, err)
	}
	return files, nil
}

// globMatch matches name against a glob with {a,b} alternatives, on the
// whole relative path and on the base name.
func globMatch(pattern, name string) bool {
	for _, p := range expandBraces(pattern) {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
		if ok, _ := path.Match(p, path.Base(name)); ok && !strings.Contains(p, "/") {
			return true
		}
	}
	return false
}

func expandBraces(p string) []string {
	i := strings.IndexByte(p, '{')
	if i < 0 {
		return []string{p}
	}
	j := strings.IndexByte(p[i:], '}')
	if j < 0 {
		return []string{p}
	}
	var out []string
	for _, alt := range strings.Split(p[i+1:i+j], ",") {
		out = append(out, expandBraces(p[:i]+alt+p[i+j+1:])...)
	}
	return out
}

// plainObjects reads the objects of one file.
func (r *renderer) plainObjects(ws *workspace, file string) ([]*renderedObject, error) {
	b, err := ws.read(file)
	if err != nil {
		return nil, err
	}
	yf, err := parseYAMLFile(file, b)
	if err != nil {
		return nil, err
	}
	var out []*renderedObject
	for _, c := range yf.docs {
		if c.root.Kind != yaml.MappingNode {
			continue
		}
		apiVersion, kind := scalarString(c.root, "apiVersion"), scalarString(c.root, "kind")
		if apiVersion == "" || kind == "" {
			continue
		}
		if _, items, _ := mapGet(c.root, "items"); strings.HasSuffix(kind, "List") && items != nil && items.Kind == yaml.SequenceNode {
			for i, it := range items.Content {
				o := r.plainObject(yf, c, it, i)
				if o != nil {
					out = append(out, o)
				}
			}
			continue
		}
		if o := r.plainObject(yf, c, c.root, -1); o != nil {
			out = append(out, o)
		}
	}
	return out, nil
}

func (r *renderer) plainObject(yf *yamlFile, c *yamlChunk, n *yaml.Node, item int) *renderedObject {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	apiVersion, kind := scalarString(n, "apiVersion"), scalarString(n, "kind")
	_, meta, _ := mapGet(n, "metadata")
	name, ns := scalarString(meta, "name"), scalarString(meta, "namespace")
	if kind == "" {
		return nil
	}
	gv, _ := schema.ParseGroupVersion(apiVersion)
	ref := kube.ObjectRef{Group: gv.Group, Version: gv.Version, Kind: kind, Namespace: ns, Name: name}
	if ref.Namespace == "" && r.src.DefaultNamespace != "" && r.namespaced(ref.GroupKind()) {
		ref.Namespace = r.src.DefaultNamespace
	}
	o := &renderedObject{ref: ref, apiVersion: apiVersion, file: yf.path, doc: c.index, item: item,
		line: yf.lineOf(yf.start(c, n)), origName: name, origNS: ns}
	return o
}

// decodePlain fills obj of plain objects, decoding with sigs.k8s.io/yaml
// (YAML 1.1, as kubectl and Argo CD read manifests).
func decodePlain(ws *workspace, objs []*renderedObject) error {
	byFile := map[string][]*renderedObject{}
	for _, o := range objs {
		if o.obj == nil {
			byFile[o.file] = append(byFile[o.file], o)
		}
	}
	for file, list := range byFile {
		b, err := ws.read(file)
		if err != nil {
			return err
		}
		yf, err := parseYAMLFile(file, b)
		if err != nil {
			return err
		}
		for _, o := range list {
			c := yf.docs[o.doc]
			text := make([]byte, c.end-c.start)
			copy(text, yf.src[c.start:c.end])
			if c.hasSep {
				copy(text, "   ")
			}
			var v map[string]any
			if err := sigsyaml.Unmarshal(text, &v); err != nil {
				return fmt.Errorf("decode %s document %d: %w", file, o.doc, err)
			}
			if o.item >= 0 {
				items, _ := v["items"].([]any)
				if o.item >= len(items) {
					return fmt.Errorf("decode %s document %d: no item %d", file, o.doc, o.item)
				}
				v, _ = items[o.item].(map[string]any)
			}
			nv, err := normalizeValue(v)
			if err != nil {
				return err
			}
			o.obj, _ = nv.(map[string]any)
			if o.obj == nil {
				o.obj = map[string]any{}
			}
		}
	}
	return nil
}

// --- kustomize ------------------------------------------------------------

func (r *renderer) renderKustomize(ws *workspace, ov *Overrides) (out *rendering, err error) {
	out = &rendering{topDir: r.dir}
	var virtualTop []byte
	if findKustomization(ws, r.dir) == "" {
		virtualTop, err = generateKustomization(ws, r.dir)
		if err != nil {
			return nil, err
		}
		out.notes = append(out.notes, fmt.Sprintf("%s has no kustomization file; rendered the one Flux generates (every .yaml/.yml file below it)", r.dir))
	}
	var ownerComps []string
	if ov != nil {
		ownerComps = ov.Components
	}
	tree, err := loadKustTree(ws, r.dir, virtualTop, ownerComps)
	if err != nil {
		return nil, &Error{Err: ErrNotFound, Op: "render", File: r.dir, Detail: "cannot read the kustomization", Cause: err}
	}
	out.tree = tree
	out.outside = tree.outside
	for d := range tree.dirs {
		out.searched = append(out.searched, tree.dirs[d].label())
	}
	sort.Strings(out.searched)

	idents := map[string][2]string{} // marker -> original name, namespace
	rfs := &renderFS{ws: ws, virtual: map[string][]byte{}}
	if virtualTop != nil {
		rfs.virtual[tree.top.file] = virtualTop
	}
	rfs.transform = func(rel string, data []byte) ([]byte, error) {
		if d, ok := tree.dirs[path.Dir(rel)]; ok && d.file == rel {
			return rewriteKustomization(d, data, d == tree.top, ov)
		}
		if tree.resources[rel] {
			return markDocuments(rel, data, idents)
		}
		return data, nil
	}

	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("render %s: kustomize panicked: %v", r.dir, p)
		}
	}()
	// kustomize keeps global state that is not safe for concurrent builds
	// (Flux serializes its builds for the same reason).
	krustyMu.Lock()
	defer krustyMu.Unlock()
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsNone
	kz := krusty.MakeKustomizer(opts)
	m, err := kz.Run(rfs, ws.abs(r.dir))
	if err != nil {
		e := &Error{Err: ErrVerify, Op: "render", File: tree.top.label(), Detail: "kustomize build failed", Cause: err}
		if len(tree.outside) > 0 {
			e.Err = ErrOutsideRepo
			e.Detail = "kustomize build failed without " + strings.Join(tree.outside, ", ")
		}
		return nil, e
	}
	for _, res := range m.Resources() {
		rm, err := res.Map()
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", r.dir, err)
		}
		o, err := r.fromResource(rm, tree)
		if err != nil {
			return nil, err
		}
		if o.file != "" {
			id := idents[marker(o.file, o.doc, o.item)]
			o.origName, o.origNS = id[0], id[1]
		}
		out.objects = append(out.objects, o)
	}
	if ov != nil && (len(ov.Substitute) > 0 || len(ov.SubstituteFrom) > 0) {
		for _, o := range out.objects {
			if err := substituteObject(o, ov); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (r *renderer) fromResource(m map[string]any, tree *kustTree) (*renderedObject, error) {
	nv, err := normalizeValue(m)
	if err != nil {
		return nil, err
	}
	obj := nv.(map[string]any)
	o := &renderedObject{obj: obj, item: -1, doc: -1}
	meta, _ := obj["metadata"].(map[string]any)
	if ann, ok := meta["annotations"].(map[string]any); ok {
		if s, ok := ann[markerAnnotation].(string); ok {
			o.file, o.doc, o.item = parseMarker(s)
		}
		if s, ok := ann[originAnnotation].(string); ok {
			var origin struct {
				Path         string `json:"path"`
				Repo         string `json:"repo"`
				ConfiguredIn string `json:"configuredIn"`
				ConfiguredBy struct {
					Kind string `json:"kind"`
					Name string `json:"name"`
				} `json:"configuredBy"`
			}
			if err := sigsyaml.Unmarshal([]byte(s), &origin); err == nil && origin.ConfiguredIn != "" {
				file := origin.ConfiguredIn
				if origin.Repo == "" {
					if j, err := joinRel(r.dir, origin.ConfiguredIn); err == nil {
						file = j
					}
				}
				o.generator = &Location{File: file, Layer: LayerGenerator,
					Reason: fmt.Sprintf("generated by %s in %s", origin.ConfiguredBy.Kind, file)}
				if origin.Repo != "" {
					o.generator.Reason += " of " + origin.Repo
				}
			} else if err == nil && origin.Repo != "" && o.file == "" {
				o.generator = &Location{File: origin.Path, Layer: LayerBase, Reason: "from remote base " + origin.Repo}
			}
		}
		if s, ok := ann[transformationsAnnotation].(string); ok {
			var ts []struct {
				ConfiguredIn string `json:"configuredIn"`
				ConfiguredBy struct {
					Kind string `json:"kind"`
				} `json:"configuredBy"`
			}
			if err := sigsyaml.Unmarshal([]byte(s), &ts); err == nil {
				for _, t := range ts {
					in := t.ConfiguredIn
					if j, err := joinRel(r.dir, in); err == nil {
						in = j
					}
					o.transforms = append(o.transforms, t.ConfiguredBy.Kind+" ("+in+")")
				}
			}
		}
		delete(ann, markerAnnotation)
		delete(ann, originAnnotation)
		delete(ann, transformationsAnnotation)
		if len(ann) == 0 {
			delete(meta, "annotations")
		}
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	gv, _ := schema.ParseGroupVersion(apiVersion)
	o.apiVersion = apiVersion
	o.ref = kube.ObjectRef{Group: gv.Group, Version: gv.Version, Kind: kind, Namespace: ns, Name: name}
	if ns == "" && r.src.DefaultNamespace != "" && r.namespaced(o.ref.GroupKind()) {
		o.ref.Namespace = r.src.DefaultNamespace
	}
	return o, nil
}

func parseMarker(s string) (file string, doc, item int) {
	parts := strings.Split(s, "#")
	item = -1
	file = parts[0]
	if len(parts) > 1 {
		doc, _ = strconv.Atoi(parts[1])
	}
	if len(parts) > 2 {
		item, _ = strconv.Atoi(parts[2])
	}
	return file, doc, item
}

// markDocuments adds the source marker annotation to every object document
// (and List item) of a resource file, for kustomize's eyes only.
func markDocuments(rel string, data []byte, idents map[string][2]string) ([]byte, error) {
	yf, err := parseYAMLFile(rel, data)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for i, c := range yf.docs {
		root := c.root
		if root.Kind == yaml.MappingNode {
			kind := scalarString(root, "kind")
			if _, items, _ := mapGet(root, "items"); strings.HasSuffix(kind, "List") && items != nil && items.Kind == yaml.SequenceNode {
				for j, it := range items.Content {
					m := marker(rel, c.index, j)
					idents[m] = identOf(it)
					setMarker(it, m)
				}
			} else if kind != "" {
				m := marker(rel, c.index, -1)
				idents[m] = identOf(root)
				setMarker(root, m)
			}
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(root); err != nil {
			return nil, fmt.Errorf("serve %s: %w", rel, err)
		}
		_ = enc.Close()
	}
	return buf.Bytes(), nil
}

func marker(file string, doc, item int) string {
	if item >= 0 {
		return fmt.Sprintf("%s#%d#%d", file, doc, item)
	}
	return fmt.Sprintf("%s#%d", file, doc)
}

func identOf(n *yaml.Node) [2]string {
	_, meta, _ := mapGet(n, "metadata")
	return [2]string{scalarString(meta, "name"), scalarString(meta, "namespace")}
}

func setMarker(n *yaml.Node, value string) {
	if n.Kind != yaml.MappingNode {
		return
	}
	_, meta, _ := mapGet(n, "metadata")
	if meta == nil || meta.Kind != yaml.MappingNode {
		return
	}
	_, ann, _ := mapGet(meta, "annotations")
	if ann == nil || ann.Kind != yaml.MappingNode {
		if ann != nil {
			// annotations: null or {} — replace in place.
			*ann = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		} else {
			meta.Content = append(meta.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "annotations"},
				&yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"})
			ann = meta.Content[len(meta.Content)-1]
		}
	}
	ann.Style = 0
	ann.Content = append(ann.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: markerAnnotation},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value, Style: yaml.DoubleQuotedStyle})
}

// rewriteKustomization serves a kustomization with what dot needs for the
// build: build metadata and the owner overrides on the top one, and remote
// bases, missing entries and Helm charts removed everywhere (dot renders
// offline; objects from them are reported as outside the repository).
func rewriteKustomization(d *kustDir, data []byte, top bool, ov *Overrides) ([]byte, error) {
	needs := top
	for _, list := range [][]*kustEntry{d.entries, d.comps} {
		for _, e := range list {
			if e.kind == entryRemote || e.kind == entryMissing {
				needs = true
			}
		}
	}
	if len(d.k.HelmCharts) > 0 || len(d.k.HelmChartInflationGenerator) > 0 ||
		len(d.k.CommonLabels) > 0 || len(d.k.Bases) > 0 || len(d.k.ImageTags) > 0 {
		needs = true
	}
	if !needs {
		return data, nil
	}
	var k types.Kustomization
	if err := sigsyaml.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("read %s: %w", d.file, err)
	}
	keep := func(field string, list []string) []string {
		var out []string
		for i, ref := range list {
			drop := false
			for _, e := range append(append([]*kustEntry(nil), d.entries...), d.comps...) {
				if e.field == field && e.index == i && (e.kind == entryRemote || e.kind == entryMissing) {
					drop = true
				}
			}
			if !drop {
				out = append(out, ref)
			}
		}
		return out
	}
	k.Resources = keep("resources", k.Resources)
	k.Bases = keep("bases", k.Bases)
	k.Components = keep("components", k.Components)
	k.HelmCharts, k.HelmChartInflationGenerator, k.HelmGlobals = nil, nil, nil
	modernize(&k)
	if top {
		k.BuildMetadata = appendUnique(k.BuildMetadata, types.OriginAnnotations, types.TransformerAnnotations)
		mergeOverrides(&k, ov)
	}
	return sigsyaml.Marshal(k)
}

// modernize rewrites deprecated fields whose modern form kustomize treats
// identically, so that kustomize does not print deprecation warnings to
// the process's stderr: bases and imageTags are appended to resources and
// images (what kustomize does itself), commonLabels becomes a labels:
// entry including selectors (the same field specs, applied last).
func modernize(k *types.Kustomization) {
	k.Resources = append(k.Resources, k.Bases...)
	k.Bases = nil
	k.Images = append(k.Images, k.ImageTags...)
	k.ImageTags = nil
	if len(k.CommonLabels) == 0 || len(k.Configurations) > 0 {
		return
	}
	for _, l := range k.Labels {
		for key := range l.Pairs {
			if _, dup := k.CommonLabels[key]; dup {
				return
			}
		}
	}
	k.Labels = append(k.Labels, types.Label{Pairs: k.CommonLabels, IncludeSelectors: true})
	k.CommonLabels = nil
}

// mergeOverrides layers the owner's options onto the top kustomization the
// way Flux's generator and Argo CD's "kustomize edit" calls do.
func mergeOverrides(k *types.Kustomization, ov *Overrides) {
	if ov == nil {
		return
	}
	if ov.Namespace != "" {
		k.Namespace = ov.Namespace
	}
	if ov.NamePrefix != "" {
		k.NamePrefix = ov.NamePrefix
	}
	if ov.NameSuffix != "" {
		k.NameSuffix = ov.NameSuffix
	}
	for _, p := range ov.Patches {
		kp := types.Patch{Patch: p.Patch}
		if p.Target != nil {
			kp.Target = &types.Selector{LabelSelector: p.Target.LabelSelector, AnnotationSelector: p.Target.AnnotationSelector}
			kp.Target.Group, kp.Target.Version, kp.Target.Kind = p.Target.Group, p.Target.Version, p.Target.Kind
			kp.Target.Name, kp.Target.Namespace = p.Target.Name, p.Target.Namespace
		}
		k.Patches = append(k.Patches, kp)
	}
	for _, im := range ov.Images {
		ni := types.Image{Name: im.Name, NewName: im.NewName, NewTag: im.NewTag, Digest: im.Digest}
		replaced := false
		for i := range k.Images {
			if k.Images[i].Name == im.Name {
				k.Images[i], replaced = ni, true
			}
		}
		if !replaced {
			k.Images = append(k.Images, ni)
		}
	}
	for _, rp := range ov.Replicas {
		nr := types.Replica{Name: rp.Name, Count: rp.Count}
		replaced := false
		for i := range k.Replicas {
			if k.Replicas[i].Name == rp.Name {
				k.Replicas[i], replaced = nr, true
			}
		}
		if !replaced {
			k.Replicas = append(k.Replicas, nr)
		}
	}
	k.Components = append(k.Components, ov.Components...)
	if len(ov.CommonLabels) > 0 {
		if k.CommonLabels == nil {
			k.CommonLabels = map[string]string{}
		}
		for a, b := range ov.CommonLabels {
			k.CommonLabels[a] = b
		}
	}
	if len(ov.CommonAnnotations) > 0 {
		if k.CommonAnnotations == nil {
			k.CommonAnnotations = map[string]string{}
		}
		for a, b := range ov.CommonAnnotations {
			k.CommonAnnotations[a] = b
		}
	}
}

// --- Flux postBuild substitution ------------------------------------------

var varRef = regexp.MustCompile(`\$\$?\{([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[-=])([^}]*))?\}`)

// substituteObject applies Flux post-build variable substitution to the
// string values of o, keeping the unsubstituted object in o.pre.
func substituteObject(o *renderedObject, ov *Overrides) error {
	meta, _ := o.obj["metadata"].(map[string]any)
	for _, k := range []string{"annotations", "labels"} {
		if m, ok := meta[k].(map[string]any); ok && m[fluxSubstituteKey] == "disabled" {
			return nil
		}
	}
	pre, err := normalizeValue(o.obj)
	if err != nil {
		return err
	}
	changed := false
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		case string:
			if !strings.Contains(x, "${") {
				return x
			}
			s, ok := substitute(x, ov)
			if !ok || s == x {
				return x
			}
			changed = true
			return resolveScalar(s)
		}
		return v
	}
	walk(o.obj)
	if changed {
		o.pre = pre.(map[string]any)
	}
	return nil
}

// substitute expands ${var} references; ok is false when a variable has no
// known value (it comes from substituteFrom).
func substitute(s string, ov *Overrides) (string, bool) {
	ok := true
	out := varRef.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "$$") {
			return m[1:]
		}
		sub := varRef.FindStringSubmatch(m)
		name, op, def := sub[1], sub[2], sub[3]
		if v, found := ov.Substitute[name]; found && !(strings.HasPrefix(op, ":") && v == "") {
			return v
		}
		if op != "" {
			return def
		}
		if len(ov.SubstituteFrom) > 0 {
			ok = false
		}
		return ""
	})
	return out, ok
}

// varsIn lists the variables referenced by s.
func varsIn(s string) []string {
	var out []string
	for _, m := range varRef.FindAllStringSubmatch(s, -1) {
		if !strings.HasPrefix(m[0], "$$") {
			out = append(out, m[1])
		}
	}
	return out
}

// resolveScalar types a substituted string as YAML would when Flux
// re-reads the substituted manifest.
func resolveScalar(s string) any {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("v: "+s), &n); err != nil || len(n.Content) != 1 || len(n.Content[0].Content) != 2 {
		return s
	}
	v, err := nodeValue(n.Content[0].Content[1])
	if err != nil {
		return s
	}
	if _, isMap := v.(map[string]any); isMap {
		return s
	}
	if _, isList := v.([]any); isList {
		return s
	}
	if v == nil {
		return s
	}
	return v
}
