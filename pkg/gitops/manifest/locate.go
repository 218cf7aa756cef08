package manifest

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// locateField answers where field p of o gets its final value.
func (s *session) locateField(o *renderedObject, p FieldPath) (*FieldLocation, error) {
	rd := s.base
	final, set := getPath(o.obj, p)
	if !set && p.Equal(nsPath) && o.ref.Namespace != "" {
		// The controller's default namespace.
		final, set = o.ref.Namespace, true
	}
	fl := &FieldLocation{Field: p, Set: set, Value: final}
	cands, err := s.candidates(rd, o, p)
	if err != nil {
		return nil, err
	}
	eff, shadowed := s.effective(rd, o, p, cands, final, set)
	if eff != nil {
		fl.Location = eff.location(s.reason(rd, eff))
		for _, c := range shadowed {
			fl.Shadowed = append(fl.Shadowed, c.location("set by "+c.describe()))
		}
		return fl, nil
	}
	if set {
		fl.Location = Location{Layer: LayerUnknown, DocumentIndex: -1,
			Reason: "no layer dot knows sets this value (vars, configurations or transformer plugins may)"}
		for _, c := range cands {
			if !c.absent {
				fl.Shadowed = append(fl.Shadowed, c.location("set by "+c.describe()))
			}
		}
		return fl, nil
	}
	target, err := s.newSite(rd, o, p, false)
	if err != nil {
		return nil, err
	}
	fl.Location = target.location(target.desc)
	return fl, nil
}

func (c *candidate) describe() string {
	if c.line > 0 && !strings.Contains(c.desc, fmt.Sprintf("line %d", c.line)) {
		return fmt.Sprintf("%s (line %d)", c.desc, c.line)
	}
	return c.desc
}

// reason explains an effective layer.
func (s *session) reason(rd *rendering, c *candidate) string {
	r := "set by "
	switch c.layer {
	case LayerPatchSMP:
		r += "strategic-merge patch "
	case LayerPatchJSON6902:
		r += "JSON 6902 patch "
	}
	r += c.describe()
	if !c.owner && rd.tree != nil && c.site.file != "" {
		if sh := s.sharedWith(rd, c.site.file); len(sh) > 0 {
			r += " (shared with " + strings.Join(sh, ", ") + ")"
		}
	}
	return r
}

// effective returns the highest-precedence candidate whose value is the
// final one, and the lower candidates it overrides. Editable layers are
// probed: dot sets a marker value in memory, re-renders, and checks that
// the marker comes out.
func (s *session) effective(rd *rendering, o *renderedObject, p FieldPath, cands []*candidate, final any, set bool) (*candidate, []*candidate) {
	if !set {
		return nil, nil
	}
	for i, c := range cands {
		if c.absent {
			continue
		}
		ok := false
		switch {
		case c.effective != nil:
			ok = c.effective(final, set)
		case rd.tree == nil:
			// A plain directory has one layer: the document.
			ok = true
		case c.value != nil:
			// The layer's own value decides; verification after an
			// edit catches a layer that only seemed to apply.
			ok = staticMatch(c, p, final) || staticMatch(&candidate{layer: c.layer, value: s.expand(c.value)}, p, final)
		case c.set != nil:
			ok, _ = s.probe(o, p, c, final)
		}
		if ok {
			var rest []*candidate
			for _, r := range cands[i+1:] {
				if !r.absent && !r.owner {
					rest = append(rest, r)
				}
			}
			return c, rest
		}
	}
	return nil, nil
}

// expand applies the owner's post-build substitution to a layer's value.
func (s *session) expand(v any) any {
	ov := s.src.Overrides
	str, ok := v.(string)
	if !ok || ov == nil || (len(ov.Substitute) == 0 && len(ov.SubstituteFrom) == 0) || !strings.Contains(str, "${") {
		return v
	}
	out, _ := substitute(str, ov)
	return resolveScalar(out)
}

func staticMatch(c *candidate, p FieldPath, final any) bool {
	if c.value == nil {
		return false
	}
	if c.layer == LayerImages {
		want, _ := c.value.(string)
		got, _ := final.(string)
		w, g := parseImage(want), parseImage(got)
		return w.name == g.name && (w.tag == "" || w.tag == g.tag) && (w.digest == "" || w.digest == g.digest)
	}
	return valuesEqual(c.value, final)
}

// probeValue picks a marker of the same type as the current value.
func probeValue(p FieldPath, cur any) any {
	if p.lastKey() == "image" {
		return probeImg
	}
	switch x := cur.(type) {
	case int64:
		return probeInt
	case float64:
		return probeFlt
	case bool:
		return !x
	case string:
		return probeStr
	}
	return nil
}

// probe sets a marker in candidate c and reports whether the rendered
// object shows it. conclusive is false when no probe could be made.
func (s *session) probe(o *renderedObject, p FieldPath, c *candidate, cur any) (effective, conclusive bool) {
	pv := probeValue(p, cur)
	if pv == nil {
		return false, false
	}
	ops, err := c.set(pv)
	if err != nil {
		return false, false
	}
	ws := s.ws.clone()
	if err := applyOps(ws, c.site, ops); err != nil {
		return false, false
	}
	rd, err := s.render(ws)
	if err != nil {
		return false, false
	}
	o2 := sameObject(rd, o)
	if o2 == nil {
		return false, false
	}
	if !s.r.kustomize {
		if err := decodePlain(ws, []*renderedObject{o2}); err != nil {
			return false, false
		}
	}
	got, ok := getPath(o2.obj, p)
	return ok && valuesEqual(got, pv), true
}

// sameObject finds o in another rendering of the same source: by its
// defining document when it has one, else by identity.
func sameObject(rd *rendering, o *renderedObject) *renderedObject {
	for _, x := range rd.objects {
		if o.file != "" {
			if x.file == o.file && x.doc == o.doc && x.item == o.item {
				return x
			}
			continue
		}
		if objKey(x.ref) == objKey(o.ref) {
			return x
		}
	}
	return nil
}

// applyOps applies field operations to one document of the workspace.
func applyOps(ws *workspace, site docRef, ops []fieldOp) error {
	if len(ops) == 0 {
		return nil
	}
	b, err := ws.read(site.file)
	if err != nil {
		return err
	}
	nb, err := editBytes(site.file, b, site, ops)
	if err != nil {
		return err
	}
	return ws.set(site.file, nb)
}

// newSite decides where a field nothing sets is added: the defining
// document, unless it is shared with other deployments, in which case a
// strategic-merge patch in the overlay the source points at.
func (s *session) newSite(rd *rendering, o *renderedObject, p FieldPath, forcePatch bool) (*candidate, error) {
	if o.file == "" {
		return nil, &Error{Err: ErrUnsupported, Op: "edit", Object: o.ref, Field: p.String(),
			Detail: "the object is generated (" + s.definition(rd, o).Reason + "); dot edits documents, not generators"}
	}
	full := p
	if o.item >= 0 {
		full = FieldPath{Key("items"), Index(o.item)}.Append(p...)
	}
	var shared []string
	if rd.tree != nil {
		shared = s.sharedWith(rd, o.file)
	}
	if !forcePatch && (rd.tree == nil || len(shared) == 0 || s.opts.allowShared) {
		line, parent := s.parentLine(o, full)
		c := &candidate{layer: LayerNew, site: docRef{file: o.file, doc: o.doc}, path: full, line: line,
			desc: fmt.Sprintf("will be added to %s (document %d) under %s", o.file, o.doc, parent)}
		if len(shared) > 0 {
			c.desc += " (shared with " + strings.Join(shared, ", ") + "; allowed by the caller)"
		}
		c.set = func(v any) ([]fieldOp, error) { return []fieldOp{{path: full, value: v}}, nil }
		c.del = func() ([]fieldOp, error) { return []fieldOp{{path: full, del: true}}, nil }
		return c, nil
	}
	why := ""
	if len(shared) > 0 {
		why = fmt.Sprintf("%s is shared with %s", o.file, strings.Join(shared, ", "))
	}
	return s.overlayPatch(rd, o, p, why)
}

// parentLine returns the line of the deepest existing ancestor of p in
// o's document, and that ancestor's path.
func (s *session) parentLine(o *renderedObject, p FieldPath) (int, string) {
	b, err := s.ws.read(o.file)
	if err != nil {
		return 0, "the document root"
	}
	yf, err := parseYAMLFile(o.file, b)
	if err != nil || o.doc >= len(yf.docs) {
		return 0, "the document root"
	}
	c := yf.docs[o.doc]
	steps, rest, err := yf.walk(c, p)
	if err != nil || len(steps) == 0 {
		return 0, "the document root"
	}
	last := steps[len(steps)-1]
	n := last.node
	if last.key != nil {
		n = last.key
	}
	parent := p[:len(p)-len(rest)].String()
	if parent == "" {
		parent = "the document root"
	}
	return yf.lineOf(yf.start(c, n)), parent
}

// overlayPatch returns the place in the top kustomization where a
// strategic-merge patch sets p on o: an existing patch addressing o by
// name, or a new patch file.
func (s *session) overlayPatch(rd *rendering, o *renderedObject, p FieldPath, why string) (*candidate, error) {
	top := rd.tree.top
	if top.virtual {
		return nil, &Error{Err: ErrShared, Op: "edit", Object: o.ref, Field: p.String(), File: o.file,
			Detail: why + "; the source has no kustomization file of its own (Flux generates one) to hold a patch; add a kustomization.yaml to " + top.dir + " or allow shared edits"}
	}
	prefix := ""
	if why != "" {
		prefix = why + "; "
	}
	cands, err := s.ownCandidates(top, o, p, true)
	if err != nil {
		return nil, err
	}
	for _, c := range cands {
		if c.layer == LayerPatchSMP && c.patchTarget && c.set != nil {
			c.desc = prefix + "will be set in the existing patch " + c.desc + " of " + top.file
			if !c.absent {
				c.desc = prefix + "set in " + c.describe()
			}
			// Removing through an overlay patch means a deletion directive,
			// whatever lower layers hold.
			pp := c.path
			c.del = func() ([]fieldOp, error) { return deletionOps(pp) }
			return c, nil
		}
	}
	name := patchFileName(o)
	if s.opts.patchName != nil {
		name = s.opts.patchName(o.ref)
	}
	file := joinDir(top.dir, name)
	for i := 2; s.ws.isFile(file); i++ {
		file = joinDir(top.dir, strings.TrimSuffix(name, ".yaml")+fmt.Sprintf("-%d.yaml", i))
	}
	rel := strings.TrimPrefix(file, top.dir+"/")
	if top.dir == "." {
		rel = file
	}
	st := blockStyle{step: 2, seqIndent: true}
	if top.yf != nil {
		st = top.yf.detectStyle()
	}
	c := &candidate{layer: LayerNewPatch, dir: top, site: docRef{file: file}, path: p,
		desc: prefix + fmt.Sprintf("a new strategic-merge patch %s, listed in %s patches:, will set it", file, top.file)}
	c.apply = func(ws *workspace, v any, del bool) error {
		doc := omap{{"apiVersion", o.apiVersion}, {"kind", o.ref.Kind}}
		meta := omap{{"name", o.origName}}
		if o.origNS != "" {
			meta = append(meta, omapEntry{"namespace", o.origNS})
		}
		doc = append(doc, omapEntry{"metadata", meta})
		var body any
		var err error
		if del {
			body, err = deletionPatch(p)
		} else {
			body, err = buildNested(p, v)
		}
		if err != nil {
			return err
		}
		if bm, ok := body.(omap); ok {
			doc = append(doc, bm...)
		}
		text := strings.Join(emitBlock(doc, 0, st), "\n") + "\n"
		if err := ws.set(file, []byte(text)); err != nil {
			return err
		}
		kb, err := ws.read(top.file)
		if err != nil {
			return err
		}
		nk, err := editBytes(top.file, kb, docRef{}, []fieldOp{{path: FieldPath{Key("patches")}, value: omap{{"path", rel}}, appendItem: true}})
		if err != nil {
			return err
		}
		return ws.set(top.file, nk)
	}
	return c, nil
}

// deletionOps are the edits that make a strategic-merge patch delete p.
func deletionOps(p FieldPath) ([]fieldOp, error) {
	last := p[len(p)-1]
	switch {
	case last.IsKey():
		return []fieldOp{{path: p, value: nil}}, nil
	case last.IsMatch():
		return []fieldOp{{path: p.Append(Key("$patch")), value: "delete"}}, nil
	}
	return nil, fmt.Errorf("%w: cannot delete list item [%d] with a strategic-merge patch", ErrUnsupported, last.Index)
}

// deletionPatch builds the strategic-merge body deleting p: null for a
// mapping key, "$patch: delete" for a list item.
func deletionPatch(p FieldPath) (any, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: empty path", ErrUnsupported)
	}
	last := p[len(p)-1]
	switch {
	case last.IsKey():
		return buildNested(p, nil)
	case last.IsMatch():
		parent := p[:len(p)-1]
		item := omap{{last.MatchKey, matchValue(last)}, {"$patch", "delete"}}
		return buildNested(parent, []any{item})
	}
	return nil, fmt.Errorf("%w: cannot delete list item [%d] with a strategic-merge patch", ErrUnsupported, last.Index)
}

// secretCheck refuses edits that would write Secret data in plain text,
// and any edit of a SOPS-encrypted document.
func (s *session) secretCheck(o *renderedObject, paths []FieldPath, op string) error {
	if o.file != "" {
		if b, err := s.ws.read(o.file); err == nil {
			if yf, err := parseYAMLFile(o.file, b); err == nil && o.doc >= 0 && o.doc < len(yf.docs) {
				root := yf.docs[o.doc].root
				if _, sops, _ := mapGet(root, "sops"); sops != nil && sops.Kind == yaml.MappingNode {
					return &Error{Err: ErrEncrypted, Op: op, Object: o.ref, File: o.file, Line: o.line,
						Detail: "editing it would break its SOPS MAC; decrypt, edit and re-encrypt it with sops"}
				}
			}
		}
	}
	if o.ref.Group != "" || o.ref.Kind != "Secret" {
		return nil
	}
	for _, p := range paths {
		if len(p) > 0 && p[0].IsKey() && (p[0].Key == "data" || p[0].Key == "stringData") {
			return &Error{Err: ErrPlainSecret, Op: op, Object: o.ref, Field: p.String(), File: o.file, Line: o.line,
				Detail: "a Secret's data in Git must be encrypted: use a SOPS-encrypted Secret (sops --encrypt), a SealedSecret (kubeseal), or an ExternalSecret that reads it from a secret store"}
		}
	}
	return nil
}
