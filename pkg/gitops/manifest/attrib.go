package manifest

//lint:file-ignore SA1019 users' kustomizations still use the deprecated fields (bases, commonLabels, imageTags, patchesStrategicMerge); reading them is the point.

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/api/types"
	sigsyaml "sigs.k8s.io/yaml"
)

// candidate is one layer that may set a field's final value.
type candidate struct {
	layer Layer
	owner bool     // set by the owner object: located, never edited
	dir   *kustDir // kustomization holding it, nil for the defining document
	site  docRef   // where an edit goes
	path  FieldPath
	line  int
	desc  string
	// value is what the layer itself says (nil when not applicable).
	value any
	// set and del return the edits that make this layer produce v / drop
	// the field; nil when the layer cannot be edited.
	set func(v any) ([]fieldOp, error)
	del func() ([]fieldOp, error)
	// apply, when set, replaces set/del: it edits the workspace directly
	// (a new patch file plus its kustomization entry).
	apply func(ws *workspace, v any, del bool) error
	// effective, for layers dot cannot probe, decides statically.
	effective func(final any, set bool) bool
	// patchTarget is true for strategic-merge patches that target the
	// object by name (dot may add fields to them).
	patchTarget bool
	// absent marks a patch that targets the object but does not set the
	// field: not a definition, only a place where the field may be added.
	absent bool
}

// do makes the layer produce v (or drop the field when del).
func (c *candidate) do(ws *workspace, v any, del bool) error {
	if c.apply != nil {
		return c.apply(ws, v, del)
	}
	var ops []fieldOp
	var err error
	switch {
	case del && c.del != nil:
		ops, err = c.del()
	case !del && c.set != nil:
		ops, err = c.set(v)
	default:
		return fmt.Errorf("%w: %s cannot be edited", ErrUnsupported, c.describe())
	}
	if err != nil {
		return err
	}
	return applyOps(ws, c.site, ops)
}

func (c *candidate) editable(del bool) bool {
	if c.owner {
		return false
	}
	if c.apply != nil {
		return true
	}
	if del {
		return c.del != nil
	}
	return c.set != nil
}

func (c *candidate) location(reason string) Location {
	loc := Location{File: c.site.file, Line: c.line, DocumentIndex: c.site.doc, YAMLPath: c.yamlPath(), Layer: c.layer, Reason: reason}
	if c.owner {
		loc.File, loc.DocumentIndex = "", -1
	}
	return loc
}

func (c *candidate) yamlPath() string {
	if c.site.embed != nil {
		return c.site.embed.String() + "|" + c.path.String()
	}
	return c.path.String()
}

// candidates lists the layers that mention field p of o, highest precedence
// first. The defining document comes last.
func (s *session) candidates(rd *rendering, o *renderedObject, p FieldPath) ([]*candidate, error) {
	var out []*candidate
	if rd.tree == nil {
		c, err := s.baseCandidate(o, p)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, c)
		}
		if p.Equal(nsPath) && s.src.DefaultNamespace != "" && o.origNS == "" {
			out = append(out, s.defaultNSCandidate())
		}
		return out, nil
	}
	out = append(out, s.ownerCandidates(o, p)...)
	if o.file == "" {
		if o.generator != nil {
			g := *o.generator
			out = append(out, &candidate{layer: g.Layer, site: docRef{file: g.File}, desc: g.Reason,
				effective: func(any, bool) bool { return true }})
		}
		return out, nil
	}
	chain := rd.tree.chainTo(o.file)
	for i, link := range chain {
		k := link.dir
		cs, err := s.ownCandidates(k, o, p, i == 0)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
		hi := k.comps
		if link.entry.field == "components" {
			for j, e := range k.comps {
				if e == link.entry {
					hi = k.comps[j+1:]
				}
			}
		}
		for j := len(hi) - 1; j >= 0; j-- {
			if hi[j].sub != nil {
				cs, err := s.componentCandidates(hi[j].sub, o, p)
				if err != nil {
					return nil, err
				}
				out = append(out, cs...)
			}
		}
	}
	c, err := s.baseCandidate(o, p)
	if err != nil {
		return nil, err
	}
	if c != nil {
		out = append(out, c)
	}
	if p.Equal(nsPath) && s.src.DefaultNamespace != "" && o.origNS == "" {
		out = append(out, s.defaultNSCandidate())
	}
	return out, nil
}

var (
	nsPath    = FieldPath{Key("metadata"), Key("namespace")}
	namePath  = FieldPath{Key("metadata"), Key("name")}
	replPath  = FieldPath{Key("spec"), Key("replicas")}
	probeImg  = "dotprobe.invalid/probe:probe"
	probeStr  = "dot-probe-value"
	probeInt  = int64(424242)
	probeFlt  = 0.424242
	ownerWord = "the owner"
)

func (s *session) defaultNSCandidate() *candidate {
	return &candidate{layer: LayerOwnerSpec, owner: true, desc: fmt.Sprintf("the owner's destination namespace %q (the document has none)", s.src.DefaultNamespace),
		effective: func(final any, set bool) bool { return !set || final == s.src.DefaultNamespace }}
}

func (s *session) componentCandidates(d *kustDir, o *renderedObject, p FieldPath) ([]*candidate, error) {
	out, err := s.ownCandidates(d, o, p, false)
	if err != nil {
		return nil, err
	}
	for j := len(d.comps) - 1; j >= 0; j-- {
		if d.comps[j].sub != nil {
			cs, err := s.componentCandidates(d.comps[j].sub, o, p)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
	}
	return out, nil
}

// baseCandidate is the defining document, when it holds p.
func (s *session) baseCandidate(o *renderedObject, p FieldPath) (*candidate, error) {
	full := p
	if o.item >= 0 {
		full = FieldPath{Key("items"), Index(o.item)}.Append(p...)
	}
	site := docRef{file: o.file, doc: o.doc}
	b, err := s.wsRead(o.file)
	if err != nil {
		return nil, err
	}
	yf, err := parseYAMLFile(o.file, b)
	if err != nil {
		return nil, err
	}
	if o.doc < 0 || o.doc >= len(yf.docs) {
		return nil, fmt.Errorf("%s: no document %d", o.file, o.doc)
	}
	c := yf.docs[o.doc]
	st, err := yf.lookup(c, full)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, nil
	}
	v, _ := nodeValue(st.node)
	n := st.node
	if st.key != nil {
		n = st.key
	}
	cand := &candidate{layer: LayerBase, site: site, path: full, value: v,
		line: yf.lineOf(yf.start(c, n)), desc: fmt.Sprintf("%s line %d", o.file, yf.lineOf(yf.start(c, n)))}
	cand.set = func(v any) ([]fieldOp, error) { return []fieldOp{{path: full, value: v}}, nil }
	cand.del = func() ([]fieldOp, error) { return []fieldOp{{path: full, del: true}}, nil }
	// A Flux variable with a default ("${replicas:=2}") whose value comes
	// from that default: edit the default, keep the variable.
	if str, ok := v.(string); ok && o.pre != nil {
		if m := soleVar.FindStringSubmatch(str); m != nil {
			cand.desc += fmt.Sprintf(" (the default of ${%s})", m[1])
			cand.set = func(v any) ([]fieldOp, error) {
				s, ok := scalarKey(v)
				if !ok || strings.ContainsAny(s, "}\n") {
					return nil, fmt.Errorf("%w: %v cannot be the default of ${%s}", ErrUnsupported, v, m[1])
				}
				return []fieldOp{{path: full, value: "${" + m[1] + m[2] + s + "}"}}, nil
			}
		}
	}
	return cand, nil
}

// soleVar matches a value that is one Flux variable with a default.
var soleVar = regexp.MustCompile(`^\$\{([_a-zA-Z][_a-zA-Z0-9]*)(:?[-=])([^}]*)\}$`)

func (s *session) wsRead(file string) ([]byte, error) { return s.ws.read(file) }

// ownCandidates lists the transformers of one kustomization that mention
// p, highest precedence first (kustomize applies a kustomization's builtin
// transformers in a fixed order; later ones win).
func (s *session) ownCandidates(d *kustDir, o *renderedObject, p FieldPath, top bool) ([]*candidate, error) {
	var out []*candidate
	k := &d.k
	kfile := d.file
	editable := !d.virtual
	line := func(fp FieldPath) int { return d.lineOfField(fp) }

	// replacements: located, never edited.
	for i, r := range k.Replacements {
		if r.Source == nil {
			continue
		}
		for _, t := range r.Targets {
			if t == nil || t.Select == nil {
				continue
			}
			if t.Select.Kind != "" && t.Select.Kind != o.ref.Kind {
				continue
			}
			if t.Select.Name != "" && t.Select.Name != o.origName && t.Select.Name != o.ref.Name {
				continue
			}
			for _, fp := range t.FieldPaths {
				if normalizeKustomizePath(fp) == p.String() {
					fp := FieldPath{Key("replacements"), Index(i)}
					out = append(out, &candidate{layer: LayerReplacements, dir: d, site: docRef{file: kfile},
						path: fp, line: line(fp), desc: fmt.Sprintf("replacements[%d] in %s", i, kfile),
						effective: func(any, bool) bool { return true }})
				}
			}
		}
	}
	// images:
	if p.lastKey() == "image" {
		field := "images"
		list := k.Images
		if len(list) == 0 && len(k.ImageTags) > 0 {
			field, list = "imageTags", k.ImageTags
		}
		for j := len(list) - 1; j >= 0; j-- {
			im := list[j]
			fp := FieldPath{Key(field), Index(j)}
			c := &candidate{layer: LayerImages, dir: d, site: docRef{file: kfile}, path: fp, line: line(fp),
				desc: fmt.Sprintf("%s images: entry %s", kfile, im.Name), value: imageOf(im)}
			if editable {
				c.set = func(v any) ([]fieldOp, error) { return imageEntryOps(fp, im, v) }
			}
			out = append(out, c)
		}
	}
	// replicas:
	if p.Equal(replPath) {
		for j := len(k.Replicas) - 1; j >= 0; j-- {
			rp := k.Replicas[j]
			if rp.Name != o.origName && rp.Name != o.ref.Name && !strings.Contains(o.ref.Name, rp.Name) {
				continue
			}
			fp := FieldPath{Key("replicas"), Index(j), Key("count")}
			c := &candidate{layer: LayerReplicas, dir: d, site: docRef{file: kfile}, path: fp, line: line(fp),
				desc: fmt.Sprintf("%s replicas: entry %s", kfile, rp.Name), value: rp.Count}
			if editable {
				c.set = func(v any) ([]fieldOp, error) {
					n, ok := v.(int64)
					if !ok {
						return nil, fmt.Errorf("%w: replicas: entries hold integers, not %v", ErrUnsupported, v)
					}
					return []fieldOp{{path: fp, value: n}}, nil
				}
				c.del = func() ([]fieldOp, error) {
					return []fieldOp{{path: FieldPath{Key("replicas"), Index(j)}, del: true}}, nil
				}
			}
			out = append(out, c)
		}
	}
	// patchesJson6902 (legacy field).
	for j := len(k.PatchesJson6902) - 1; j >= 0; j-- {
		cs, err := s.patchCandidates(d, "patchesJson6902", j, k.PatchesJson6902[j], o, p)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	// commonAnnotations
	if key, ok := annotationKey(p); ok {
		if v, found := k.CommonAnnotations[key]; found {
			fp := FieldPath{Key("commonAnnotations"), Key(key)}
			c := &candidate{layer: LayerAnnotations, dir: d, site: docRef{file: kfile}, path: fp, line: line(fp),
				desc: fmt.Sprintf("%s commonAnnotations", kfile), value: v}
			if editable {
				c.set = stringOps(fp)
			}
			out = append(out, c)
		}
	}
	// labels: and commonLabels:
	if key, where, ok := labelKey(p); ok {
		for j := len(k.Labels) - 1; j >= 0; j-- {
			l := k.Labels[j]
			v, found := l.Pairs[key]
			if !found || (where == "selector" && !l.IncludeSelectors) || (where == "template" && !l.IncludeSelectors && !l.IncludeTemplates) {
				continue
			}
			fp := FieldPath{Key("labels"), Index(j), Key("pairs"), Key(key)}
			c := &candidate{layer: LayerLabels, dir: d, site: docRef{file: kfile}, path: fp, line: line(fp),
				desc: fmt.Sprintf("%s labels:", kfile), value: v}
			if editable {
				c.set = stringOps(fp)
			}
			out = append(out, c)
		}
		if v, found := k.CommonLabels[key]; found {
			fp := FieldPath{Key("commonLabels"), Key(key)}
			c := &candidate{layer: LayerLabels, dir: d, site: docRef{file: kfile}, path: fp, line: line(fp),
				desc: fmt.Sprintf("%s commonLabels", kfile), value: v}
			if editable {
				c.set = stringOps(fp)
			}
			out = append(out, c)
		}
	}
	// nameSuffix, namePrefix: located only (renames are not field edits).
	if p.Equal(namePath) {
		if k.NameSuffix != "" {
			fp := FieldPath{Key("nameSuffix")}
			out = append(out, &candidate{layer: LayerNameSuffix, dir: d, site: docRef{file: kfile}, path: fp, line: line(fp),
				desc: fmt.Sprintf("%s nameSuffix %q", kfile, k.NameSuffix), effective: func(any, bool) bool { return true }})
		}
		if k.NamePrefix != "" {
			fp := FieldPath{Key("namePrefix")}
			out = append(out, &candidate{layer: LayerNamePrefix, dir: d, site: docRef{file: kfile}, path: fp, line: line(fp),
				desc: fmt.Sprintf("%s namePrefix %q", kfile, k.NamePrefix), effective: func(any, bool) bool { return true }})
		}
	}
	// namespace:
	if p.Equal(nsPath) && k.Namespace != "" {
		fp := FieldPath{Key("namespace")}
		c := &candidate{layer: LayerNamespace, dir: d, site: docRef{file: kfile}, path: fp, line: line(fp),
			desc: fmt.Sprintf("%s namespace:", kfile), value: k.Namespace}
		if editable {
			c.set = stringOps(fp)
		}
		out = append(out, c)
	}
	// patches:
	for j := len(k.Patches) - 1; j >= 0; j-- {
		cs, err := s.patchCandidates(d, "patches", j, k.Patches[j], o, p)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	// patchesStrategicMerge (legacy field): paths or inline documents.
	for j := len(k.PatchesStrategicMerge) - 1; j >= 0; j-- {
		ref := string(k.PatchesStrategicMerge[j])
		var pt types.Patch
		if !strings.Contains(ref, "\n") {
			pt.Path = ref
		} else {
			pt.Patch = ref
		}
		cs, err := s.patchCandidates(d, "patchesStrategicMerge", j, pt, o, p)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

func stringOps(fp FieldPath) func(v any) ([]fieldOp, error) {
	return func(v any) ([]fieldOp, error) {
		str, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%w: %s holds strings, not %v", ErrUnsupported, fp, v)
		}
		return []fieldOp{{path: fp, value: str}}, nil
	}
}

func normalizeKustomizePath(fp string) string {
	return strings.ReplaceAll(fp, ".[", "[")
}

func annotationKey(p FieldPath) (string, bool) {
	if len(p) == 3 && p[0].Key == "metadata" && p[1].Key == "annotations" && p[2].IsKey() {
		return p[2].Key, true
	}
	if len(p) == 5 && p[0].Key == "spec" && p[1].Key == "template" && p[2].Key == "metadata" && p[3].Key == "annotations" && p[4].IsKey() {
		return p[4].Key, true
	}
	return "", false
}

func labelKey(p FieldPath) (key, where string, ok bool) {
	s := p.String()
	last := p.lastKey()
	switch {
	case len(p) == 3 && strings.HasPrefix(s, "metadata.labels"):
		return last, "metadata", true
	case len(p) == 4 && p[0].Key == "spec" && p[1].Key == "selector" && p[2].Key == "matchLabels":
		return last, "selector", true
	case len(p) == 3 && p[0].Key == "spec" && p[1].Key == "selector":
		return last, "selector", true
	case len(p) == 5 && p[0].Key == "spec" && p[1].Key == "template" && p[2].Key == "metadata" && p[3].Key == "labels":
		return last, "template", true
	}
	return "", "", false
}

// --- images -------------------------------------------------------------

type imageRef struct{ name, tag, digest string }

func parseImage(s string) imageRef {
	var r imageRef
	if i := strings.Index(s, "@"); i >= 0 {
		r.digest = s[i+1:]
		s = s[:i]
	}
	if i := strings.LastIndex(s, ":"); i >= 0 && !strings.Contains(s[i:], "/") {
		r.tag = s[i+1:]
		s = s[:i]
	}
	r.name = s
	return r
}

func (r imageRef) String() string {
	s := r.name
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + r.digest
	}
	return s
}

// imageOf describes what an images: entry produces, as far as it says.
func imageOf(im types.Image) string {
	r := imageRef{name: im.Name, tag: im.NewTag, digest: im.Digest}
	if im.NewName != "" {
		r.name = im.NewName
	}
	return r.String()
}

// imageEntryOps edits the images: entry at fp so that it yields image v.
func imageEntryOps(fp FieldPath, im types.Image, v any) ([]fieldOp, error) {
	str, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("%w: an image is a string, not %v", ErrUnsupported, v)
	}
	want := parseImage(str)
	var ops []fieldOp
	set := func(k, val string) { ops = append(ops, fieldOp{path: fp.Append(Key(k)), value: val}) }
	del := func(k string) { ops = append(ops, fieldOp{path: fp.Append(Key(k)), del: true}) }
	switch {
	case want.name != im.Name:
		set("newName", want.name)
	case im.NewName != "":
		del("newName")
	}
	if want.tag != "" {
		set("newTag", want.tag)
	} else if im.NewTag != "" {
		del("newTag")
	}
	if want.digest != "" {
		set("digest", want.digest)
	} else if im.Digest != "" {
		del("digest")
	}
	if im.TagSuffix != "" {
		del("tagSuffix")
	}
	return ops, nil
}

// --- patches --------------------------------------------------------------

type jsonOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// patchCandidates lists the parts of one patch entry that set p on o.
func (s *session) patchCandidates(d *kustDir, field string, j int, pt types.Patch, o *renderedObject, p FieldPath) ([]*candidate, error) {
	var site docRef
	var text []byte
	var label string
	var yf *yamlFile
	editable := !d.virtual
	switch {
	case pt.Path != "":
		rel, err := joinRel(d.dir, pt.Path)
		if err != nil {
			return nil, nil
		}
		b, err := s.ws.read(rel)
		if err != nil {
			return nil, nil
		}
		text, site, label = b, docRef{file: rel}, rel
	case pt.Patch != "":
		text = []byte(pt.Patch)
		embed := FieldPath{Key(field), Index(j)}
		if field != "patchesStrategicMerge" {
			embed = embed.Append(Key("patch"))
		}
		site = docRef{file: d.file, embed: embed}
		label = fmt.Sprintf("%s %s", d.file, embed)
		// Inline patches are editable only when written as a literal block.
		if editable {
			if st, _ := d.yf.lookup(d.yf.docs[0], embed); st == nil || st.node.Style&yaml.LiteralStyle == 0 {
				editable = false
			}
		}
	default:
		return nil, nil
	}
	if pt.Target != nil && !selectorMatches(pt.Target, o) {
		return nil, nil
	}
	// JSON 6902 when the patch is a list of operations.
	var ops []jsonOp
	if err := sigsyaml.Unmarshal(text, &ops); err == nil && len(ops) > 0 && ops[0].Op != "" {
		if pt.Target == nil {
			return nil, nil
		}
		return s.json6902Candidates(d, site, label, text, ops, o, p, editable)
	}
	if p.Equal(namePath) || p.Equal(nsPath) {
		// In a strategic-merge patch these fields identify the target;
		// kustomize never renames through them.
		return nil, nil
	}
	var err error
	yf, err = parseYAMLFile(label, text)
	if err != nil {
		return nil, nil
	}
	var out []*candidate
	for di := len(yf.docs) - 1; di >= 0; di-- {
		c := yf.docs[di]
		if c.root.Kind != yaml.MappingNode {
			continue
		}
		byName := pt.Target == nil
		if byName && !patchDocTargets(c.root, o) {
			continue
		}
		docSite := site
		if docSite.embed != nil {
			docSite.embedDoc = di
		} else {
			docSite.doc = di
		}
		st, err := yf.lookup(c, p)
		if err != nil || st == nil {
			if byName && err == nil && editable {
				// Remember a patch that targets the object: dot may add the
				// field there rather than create a new patch.
				pp := p
				out = append(out, &candidate{layer: LayerPatchSMP, dir: d, site: docSite, path: p, patchTarget: true, absent: true,
					line: s.siteLine(d, site, yf, c, c.root), desc: label,
					set: func(v any) ([]fieldOp, error) { return []fieldOp{{path: pp, value: v}}, nil }})
			}
			continue
		}
		v, _ := nodeValue(st.node)
		n := st.node
		if st.key != nil {
			n = st.key
		}
		c2 := &candidate{layer: LayerPatchSMP, dir: d, site: docSite, path: p, value: v, patchTarget: byName,
			line: s.siteLine(d, site, yf, c, n), desc: label}
		if editable {
			pp := p
			c2.set = func(v any) ([]fieldOp, error) { return []fieldOp{{path: pp, value: v}}, nil }
			c2.del = func() ([]fieldOp, error) { return []fieldOp{{path: pp, del: true}}, nil }
		}
		out = append(out, c2)
	}
	return out, nil
}

// siteLine converts a line inside a patch (file or inline) to a line of
// the file holding it.
func (s *session) siteLine(d *kustDir, site docRef, yf *yamlFile, c *yamlChunk, n *yaml.Node) int {
	l := yf.lineOf(yf.start(c, n))
	if site.embed == nil {
		return l
	}
	host := d.lineOfField(site.embed)
	if host == 0 {
		return 0
	}
	return host + l
}

// patchDocTargets reports whether a strategic-merge patch document
// addresses o (by kind, group and original or final name).
func patchDocTargets(root *yaml.Node, o *renderedObject) bool {
	kind := scalarString(root, "kind")
	if kind != o.ref.Kind {
		return false
	}
	gv, _ := schema.ParseGroupVersion(scalarString(root, "apiVersion"))
	if gv.Group != o.ref.Group {
		return false
	}
	_, meta, _ := mapGet(root, "metadata")
	name := scalarString(meta, "name")
	if name != o.origName && name != o.ref.Name {
		return false
	}
	ns := scalarString(meta, "namespace")
	return ns == "" || ns == o.origNS || ns == o.ref.Namespace
}

// selectorMatches evaluates a kustomize patch target against o, accepting
// the object's original or final name and namespace.
func selectorMatches(sel *types.Selector, o *renderedObject) bool {
	re := func(pattern, v string) bool {
		if pattern == "" {
			return true
		}
		r, err := regexp.Compile("^(?:" + pattern + ")$")
		return err == nil && r.MatchString(v)
	}
	gv, _ := schema.ParseGroupVersion(o.apiVersion)
	if !re(sel.Group, gv.Group) || !re(sel.Version, gv.Version) || !re(sel.Kind, o.ref.Kind) {
		return false
	}
	if !re(sel.Name, o.origName) && !re(sel.Name, o.ref.Name) {
		return false
	}
	if sel.Namespace != "" && !re(sel.Namespace, o.origNS) && !re(sel.Namespace, o.ref.Namespace) {
		return false
	}
	meta, _ := o.obj["metadata"].(map[string]any)
	toSet := func(v any) labels.Set {
		out := labels.Set{}
		if m, ok := v.(map[string]any); ok {
			for k, e := range m {
				if s, ok := e.(string); ok {
					out[k] = s
				}
			}
		}
		return out
	}
	if sel.LabelSelector != "" {
		ls, err := labels.Parse(sel.LabelSelector)
		if err != nil || !ls.Matches(toSet(meta["labels"])) {
			return false
		}
	}
	if sel.AnnotationSelector != "" {
		as, err := labels.Parse(sel.AnnotationSelector)
		if err != nil || !as.Matches(toSet(meta["annotations"])) {
			return false
		}
	}
	return true
}

// json6902Candidates lists the operations of a JSON 6902 patch that set p.
func (s *session) json6902Candidates(d *kustDir, site docRef, label string, text []byte, ops []jsonOp, o *renderedObject, p FieldPath, editable bool) ([]*candidate, error) {
	yf, err := parseYAMLFile(label, text)
	if err != nil || len(yf.docs) != 1 {
		return nil, nil
	}
	c := yf.docs[0]
	var out []*candidate
	for i := len(ops) - 1; i >= 0; i-- {
		op := ops[i]
		if op.Op != "add" && op.Op != "replace" {
			continue
		}
		opPath, ok := pointerToPath(op.Path, o.obj)
		if !ok || !p.HasPrefix(opPath) {
			continue
		}
		rest := p[len(opPath):]
		valuePath := FieldPath{Index(i), Key("value")}.Append(rest...)
		st, err := yf.lookup(c, valuePath)
		if err != nil || st == nil {
			continue
		}
		v, _ := nodeValue(st.node)
		n := st.node
		if st.key != nil {
			n = st.key
		}
		cand := &candidate{layer: LayerPatchJSON6902, dir: d, site: site, path: valuePath, value: v,
			line: s.siteLine(d, site, yf, c, n), desc: fmt.Sprintf("%s operation %d (%s %s)", label, i, op.Op, op.Path)}
		if editable {
			vp := valuePath
			cand.set = func(v any) ([]fieldOp, error) { return []fieldOp{{path: vp, value: v}}, nil }
			if len(rest) > 0 {
				cand.del = func() ([]fieldOp, error) { return []fieldOp{{path: vp, del: true}}, nil }
			} else {
				idx := i
				cand.del = func() ([]fieldOp, error) { return []fieldOp{{path: FieldPath{Index(idx)}, del: true}}, nil }
			}
		}
		out = append(out, cand)
	}
	return out, nil
}

// pointerToPath converts a JSON pointer to a FieldPath, turning list
// indexes into key matches where the (rendered) item has a merge key.
func pointerToPath(ptr string, obj map[string]any) (FieldPath, bool) {
	if !strings.HasPrefix(ptr, "/") {
		return nil, false
	}
	var out FieldPath
	var cur any = obj
	for _, raw := range strings.Split(ptr[1:], "/") {
		tok := strings.ReplaceAll(strings.ReplaceAll(raw, "~1", "/"), "~0", "~")
		switch x := cur.(type) {
		case []any:
			idx := -1
			if tok == "-" {
				idx = len(x) - 1
			} else if _, err := fmt.Sscanf(tok, "%d", &idx); err != nil {
				return nil, false
			}
			if idx < 0 || idx >= len(x) {
				return nil, false
			}
			listName := out.lastKey()
			item := x[idx]
			if mk := mergeKeyFor(listName); mk != "" {
				if m, ok := item.(map[string]any); ok {
					if v, ok := scalarKey(m[mk]); ok {
						out = append(out, Match(mk, v))
						cur = item
						continue
					}
				}
			}
			out = append(out, Index(idx))
			cur = item
		default:
			out = append(out, Key(tok))
			if m, ok := cur.(map[string]any); ok {
				cur = m[tok]
			} else {
				cur = nil
			}
		}
	}
	return out, true
}

// --- owner-spec layers ----------------------------------------------------

// ownerCandidates lists the owner's overrides that mention p. They are
// decided statically: dot cannot edit the owner to probe them.
func (s *session) ownerCandidates(o *renderedObject, p FieldPath) []*candidate {
	ov := s.src.Overrides
	if ov == nil {
		return nil
	}
	owner := ov.Owner
	if owner == "" {
		owner = ownerWord
	}
	var out []*candidate
	mk := func(desc string, eff func(final any, set bool) bool) {
		out = append(out, &candidate{layer: LayerOwnerSpec, owner: true, desc: desc, effective: eff})
	}
	// postBuild substitution.
	if o.pre != nil {
		if pv, ok := getPath(o.pre, p); ok {
			if str, ok := pv.(string); ok {
				if vars := varsIn(str); len(vars) > 0 {
					var from []string
					for _, v := range vars {
						if _, ok := ov.Substitute[v]; ok {
							from = append(from, "spec.postBuild.substitute."+v)
						} else if len(ov.SubstituteFrom) > 0 {
							from = append(from, "${"+v+"} from spec.postBuild.substituteFrom "+strings.Join(ov.SubstituteFrom, ", "))
						}
					}
					if len(from) > 0 {
						mk(fmt.Sprintf("%s of %s (the repository holds %q)", strings.Join(from, ", "), owner, str),
							func(any, bool) bool { return true })
					}
				}
			}
		}
	}
	if p.lastKey() == "image" {
		for i := len(ov.Images) - 1; i >= 0; i-- {
			im := ov.Images[i]
			want := parseImage(imageOf(types.Image{Name: im.Name, NewName: im.NewName, NewTag: im.NewTag, Digest: im.Digest}))
			mk(fmt.Sprintf("images[%d] (%s) of %s", i, im.Name, owner), func(final any, set bool) bool {
				str, _ := final.(string)
				got := parseImage(str)
				if im.NewName != "" && got.name != want.name {
					return false
				}
				if im.NewName == "" && got.name != im.Name {
					return false
				}
				if im.NewTag != "" && got.tag != im.NewTag {
					return false
				}
				if im.Digest != "" && got.digest != im.Digest {
					return false
				}
				return im.NewName != "" || im.NewTag != "" || im.Digest != ""
			})
		}
	}
	if p.Equal(replPath) {
		for i := len(ov.Replicas) - 1; i >= 0; i-- {
			rp := ov.Replicas[i]
			if rp.Name != o.origName && rp.Name != o.ref.Name {
				continue
			}
			mk(fmt.Sprintf("replicas[%d] (%s) of %s", i, rp.Name, owner), func(final any, set bool) bool {
				return set && valuesEqual(final, rp.Count)
			})
		}
	}
	for i := len(ov.Patches) - 1; i >= 0; i-- {
		pt := ov.Patches[i]
		if pt.Target != nil {
			sel := &types.Selector{LabelSelector: pt.Target.LabelSelector, AnnotationSelector: pt.Target.AnnotationSelector}
			sel.Group, sel.Version, sel.Kind, sel.Name, sel.Namespace = pt.Target.Group, pt.Target.Version, pt.Target.Kind, pt.Target.Name, pt.Target.Namespace
			if !selectorMatches(sel, o) {
				continue
			}
		}
		if v, ok := ownerPatchValue(pt, o, p); ok {
			val := v
			mk(fmt.Sprintf("patches[%d] of %s", i, owner), func(final any, set bool) bool {
				return val == nil || (set && valuesEqual(final, val))
			})
		}
	}
	if key, ok := annotationKey(p); ok {
		if v, found := ov.CommonAnnotations[key]; found {
			mk(fmt.Sprintf("commonAnnotations of %s", owner), func(final any, set bool) bool { return final == v })
		}
	}
	if key, _, ok := labelKey(p); ok {
		if v, found := ov.CommonLabels[key]; found {
			mk(fmt.Sprintf("commonLabels of %s", owner), func(final any, set bool) bool { return final == v })
		}
	}
	if p.Equal(nsPath) && ov.Namespace != "" {
		mk(fmt.Sprintf("the target namespace %q of %s", ov.Namespace, owner), func(final any, set bool) bool { return final == ov.Namespace })
	}
	if p.Equal(namePath) && (ov.NamePrefix != "" || ov.NameSuffix != "") {
		mk(fmt.Sprintf("namePrefix/nameSuffix of %s", owner), func(any, bool) bool { return true })
	}
	return out
}

// ownerPatchValue returns the value an owner patch gives p (nil for a
// removal), and whether it touches p at all.
func ownerPatchValue(pt Patch, o *renderedObject, p FieldPath) (any, bool) {
	var ops []jsonOp
	if err := sigsyaml.Unmarshal([]byte(pt.Patch), &ops); err == nil && len(ops) > 0 && ops[0].Op != "" {
		for i := len(ops) - 1; i >= 0; i-- {
			opPath, ok := pointerToPath(ops[i].Path, o.obj)
			if !ok || !p.HasPrefix(opPath) {
				continue
			}
			switch ops[i].Op {
			case "remove":
				return nil, true
			case "add", "replace":
				v, err := normalizeValue(ops[i].Value)
				if err != nil {
					return nil, true
				}
				if got, ok := getPath(v, p[len(opPath):]); ok {
					return got, true
				}
			}
		}
		return nil, false
	}
	yf, err := parseYAMLFile("owner-patch", []byte(pt.Patch))
	if err != nil {
		return nil, false
	}
	for _, c := range yf.docs {
		if pt.Target == nil && !patchDocTargets(c.root, o) {
			continue
		}
		if st, _ := yf.lookup(c, p); st != nil {
			v, _ := nodeValue(st.node)
			return v, true
		}
	}
	return nil, false
}

// patchFileName is the default name of a patch file dot creates.
func patchFileName(o *renderedObject) string {
	name := strings.ToLower(o.ref.Kind) + "-" + o.origName + "-patch.yaml"
	return strings.NewReplacer("/", "-", ":", "-").Replace(name)
}

func joinDir(dir, name string) string {
	if dir == "." {
		return name
	}
	return path.Join(dir, name)
}
