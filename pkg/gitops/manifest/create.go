package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dot-ai/dot/pkg/kube"
)

// PlanCreate plans adding obj to src as a new document. file is
// repo-relative; "" picks <path>/<kind>-<name>.yaml. An existing YAML file
// gets the object as an extra document. In a kustomize source the file is
// added to the resources: of the kustomization the source points at,
// unless it is listed already (or Flux generates that kustomization).
func PlanCreate(ctx context.Context, src Source, obj *unstructured.Unstructured, file string, opts ...Option) (*EditResult, error) {
	ref := kube.RefOf(obj)
	s, err := newSession(ctx, src, opts, ref.Name)
	if err != nil {
		return nil, err
	}
	if ref.Kind == "" || ref.Name == "" {
		return nil, &Error{Err: ErrUnsupported, Op: "create", Object: ref, Detail: "the object needs a kind and a name"}
	}
	if _, err := s.find(s.base, ref, "create"); err == nil {
		return nil, &Error{Err: ErrExists, Op: "create", Object: ref, Detail: "the source already defines it"}
	}
	for _, o := range s.base.objects {
		// Kustomize renames: compare with the names in the documents.
		if o.file != "" && o.origName == ref.Name && o.origNS == ref.Namespace && o.ref.Kind == ref.Kind && o.ref.Group == ref.Group {
			return nil, &Error{Err: ErrExists, Op: "create", Object: ref, File: o.file, Line: o.line,
				Detail: "the source already defines it (rendered as " + o.ref.String() + ")"}
		}
	}
	if err := plainSecretObject(obj.Object); err != nil {
		return nil, &Error{Err: ErrPlainSecret, Op: "create", Object: ref, Detail: err.Error()}
	}
	if file == "" {
		file = joinDir(s.r.dir, strings.ToLower(ref.Kind)+"-"+ref.Name+".yaml")
	}
	file, err = cleanRel(file)
	if err != nil {
		return nil, &Error{Err: ErrUnsafePath, Op: "create", Object: ref, Cause: err}
	}
	if !s.r.kustomize || s.base.tree.top.virtual {
		// The controller picks up files below the source path only.
		inside := s.r.dir == "." || strings.HasPrefix(file, s.r.dir+"/")
		if s.r.kustomize || !s.src.Recurse {
			inside = inside && (path.Dir(file) == s.r.dir || s.r.kustomize)
		}
		if !inside {
			return nil, &Error{Err: ErrUnsupported, Op: "create", Object: ref, File: file,
				Detail: "the controller would not read a file there; put it under " + s.r.dir}
		}
	}
	ext := strings.ToLower(path.Ext(file))
	if ext != ".yaml" && ext != ".yml" && ext != ".json" {
		return nil, &Error{Err: ErrUnsupported, Op: "create", Object: ref, File: file, Detail: "manifests are .yaml, .yml or .json files"}
	}
	nv, err := normalizeValue(obj.Object)
	if err != nil {
		return nil, err
	}
	ws := s.ws.clone()
	existing, readErr := ws.read(file)
	exists := readErr == nil
	var out []byte
	switch {
	case ext == ".json" && exists:
		return nil, &Error{Err: ErrUnsupported, Op: "create", Object: ref, File: file, Detail: "a JSON file holds one object; choose another file"}
	case ext == ".json":
		b, err := json.MarshalIndent(toOrderedJSON(nv), "", "  ")
		if err != nil {
			return nil, err
		}
		out = append(b, '\n')
	default:
		st := blockStyle{step: 2, seqIndent: true}
		nl := "\n"
		if exists {
			yf, err := parseYAMLFile(file, existing)
			if err != nil {
				return nil, err
			}
			if len(yf.docs) > 0 {
				st = yf.detectStyle()
			}
			nl = yf.newline
		}
		doc := strings.Join(emitBlock(nv, 0, st), nl) + nl
		switch {
		case !exists:
			out = []byte(doc)
		case len(strings.TrimSpace(string(existing))) == 0:
			out = []byte(doc)
		default:
			out = append([]byte(nil), existing...)
			if !strings.HasSuffix(string(out), "\n") {
				out = append(out, nl...)
			}
			out = append(out, "---"+nl+doc...)
		}
	}
	if err := ws.set(file, out); err != nil {
		return nil, err
	}
	reason := "new document in " + file
	if exists {
		reason = "appended as a new document to " + file
	}
	if s.r.kustomize && !s.base.tree.top.virtual && !s.base.tree.resources[file] {
		top := s.base.tree.top
		entry := strings.TrimPrefix(file, top.dir+"/")
		if top.dir == "." {
			entry = file
		}
		if !strings.HasPrefix(file, top.dir+"/") && top.dir != "." {
			entry = relPath(top.dir, file)
		}
		kb, err := ws.read(top.file)
		if err != nil {
			return nil, err
		}
		nk, err := editBytes(top.file, kb, docRef{}, []fieldOp{{path: FieldPath{Key("resources")}, value: entry, appendItem: true}})
		if err != nil {
			return nil, err
		}
		if err := ws.set(top.file, nk); err != nil {
			return nil, err
		}
		reason += ", listed in " + top.file + " resources:"
	}
	rd, err := s.render(ws)
	if err != nil {
		return nil, &Error{Err: ErrVerify, Op: "create", Object: ref, Detail: "the source does not render with the new object", Cause: err}
	}
	// Verify: every object as before, plus exactly the new one.
	before := map[string]*renderedObject{}
	for _, o := range s.base.objects {
		before[objKey(o.ref)] = o
	}
	var added []*renderedObject
	for _, o := range rd.objects {
		if _, ok := before[objKey(o.ref)]; !ok {
			added = append(added, o)
		}
	}
	if len(added) != 1 || added[0].ref.Kind != ref.Kind || added[0].ref.Group != ref.Group || !strings.Contains(added[0].ref.Name, ref.Name) {
		var names []string
		for _, a := range added {
			names = append(names, describeObj(a))
		}
		return nil, &Error{Err: ErrVerify, Op: "create", Object: ref, File: file,
			Detail: fmt.Sprintf("expected the new object to render, got %d new objects [%s]", len(added), strings.Join(names, ", "))}
	}
	problems, _, err := s.compareByRef(s.base, rd, s.ws, ws, added[0].ref)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, &Error{Err: ErrVerify, Op: "create", Object: ref, File: file, Detail: "adding it would change: " + strings.Join(problems, "; ")}
	}
	res := &EditResult{Object: added[0].ref, root: s.ws.root, Files: ws.fileChanges()}
	res.Edits = append(res.Edits, AppliedEdit{Location: Location{File: file, DocumentIndex: added[0].doc, Layer: LayerNew, Reason: reason, Line: added[0].line}})
	return res, nil
}

// Create is PlanCreate followed by Write.
func Create(ctx context.Context, src Source, obj *unstructured.Unstructured, file string, opts ...Option) (*EditResult, error) {
	res, err := PlanCreate(ctx, src, obj, file, opts...)
	if err != nil {
		return nil, err
	}
	return res, res.Write(ctx)
}

// relPath returns target relative to dir (both repo-relative).
func relPath(dir, target string) string {
	d := strings.Split(dir, "/")
	t := strings.Split(target, "/")
	i := 0
	for i < len(d) && i < len(t) && d[i] == t[i] {
		i++
	}
	var parts []string
	for range d[i:] {
		parts = append(parts, "..")
	}
	return path.Join(append(parts, t[i:]...)...)
}

func toOrderedJSON(v any) any {
	switch x := toOrdered(v).(type) {
	case omap:
		return orderedJSON(x)
	}
	return v
}

// orderedJSON marshals an omap keeping its order.
type orderedJSON omap

func (o orderedJSON) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.Key)
		b.Write(k)
		b.WriteByte(':')
		val := e.Value
		if m, ok := val.(omap); ok {
			val = orderedJSON(m)
		}
		if l, ok := val.([]any); ok {
			conv := make([]any, len(l))
			for i, it := range l {
				if m, ok := it.(omap); ok {
					conv[i] = orderedJSON(m)
				} else {
					conv[i] = it
				}
			}
			val = conv
		}
		vb, err := json.Marshal(val)
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// plainSecretObject reports Secrets carrying data in plain text.
func plainSecretObject(obj map[string]any) error {
	if obj["apiVersion"] != "v1" || obj["kind"] != "Secret" {
		return nil
	}
	if _, sops := obj["sops"]; sops {
		return nil
	}
	for _, k := range []string{"data", "stringData"} {
		if m, ok := obj[k].(map[string]any); ok && len(m) > 0 {
			return fmt.Errorf("a Secret with %s would be committed in plain text: encrypt it with SOPS (sops --encrypt), "+
				"seal it (kubeseal, kind SealedSecret), or reference a secret store with an ExternalSecret", k)
		}
	}
	return nil
}

// PlanRemove plans removing the document that defines ref: the document
// goes, and when its file becomes empty the file and its resources: entry
// go too. When the defining file is shared with other deployments, a
// "$patch: delete" patch in the overlay the source points at removes the
// object from this source only.
func PlanRemove(ctx context.Context, src Source, ref kube.ObjectRef, opts ...Option) (*EditResult, error) {
	s, err := newSession(ctx, src, opts, ref.Name)
	if err != nil {
		return nil, err
	}
	o, err := s.find(s.base, ref, "remove")
	if err != nil {
		return nil, err
	}
	if o.file == "" {
		return nil, &Error{Err: ErrUnsupported, Op: "remove", Object: o.ref, Detail: s.definition(s.base, o).Reason + "; remove the generator entry instead"}
	}
	ws := s.ws.clone()
	loc := s.definition(s.base, o)
	var shared []string
	if s.base.tree != nil && !s.opts.allowShared {
		shared = s.sharedWith(s.base, o.file)
	}
	switch {
	case len(shared) > 0:
		top := s.base.tree.top
		if top.virtual {
			return nil, &Error{Err: ErrShared, Op: "remove", Object: o.ref, File: o.file,
				Detail: fmt.Sprintf("%s is shared with %s and the source has no kustomization file to hold a patch", o.file, strings.Join(shared, ", "))}
		}
		pc, err := s.overlayPatch(s.base, o, FieldPath{Key("$patch")}, "")
		if err != nil {
			return nil, err
		}
		if pc.apply == nil {
			// The overlay already patches the object in a file of its own:
			// that patch becomes the deletion.
			if err := replaceWithDeletePatch(ws, pc.site); err != nil {
				return nil, &Error{Err: ErrUnsupported, Op: "remove", Object: o.ref, File: pc.site.file,
					Detail: "the overlay already patches the object in " + pc.site.file + " (" + err.Error() + "); remove that patch first"}
			}
		} else if err := pc.apply(ws, "delete", false); err != nil {
			return nil, err
		}
		// A replicas: entry naming only this object would fail the build
		// once the object is gone.
		if err := dropReplicaEntries(ws, top.file, o.ref.Name); err != nil {
			return nil, err
		}
		loc.Layer, loc.File, loc.Line, loc.DocumentIndex, loc.YAMLPath = LayerNewPatch, pc.site.file, 0, 0, ""
		loc.Reason = fmt.Sprintf("%s is shared with %s; a $patch: delete patch in %s removes it from this source only", o.file, strings.Join(shared, ", "), top.dir)
	case o.item >= 0:
		b, err := ws.read(o.file)
		if err != nil {
			return nil, err
		}
		nb, err := editBytes(o.file, b, docRef{file: o.file, doc: o.doc}, []fieldOp{{path: FieldPath{Key("items"), Index(o.item)}, del: true}})
		if err != nil {
			return nil, err
		}
		if err := ws.set(o.file, nb); err != nil {
			return nil, err
		}
		loc.Reason = fmt.Sprintf("item %d of the List in %s removed", o.item, o.file)
	default:
		b, err := ws.read(o.file)
		if err != nil {
			return nil, err
		}
		nb, empty, err := removeDocument(o.file, b, o.doc)
		if err != nil {
			return nil, err
		}
		if empty {
			if err := ws.remove(o.file); err != nil {
				return nil, err
			}
			loc.Reason = o.file + " held only this object and is deleted"
			if s.base.tree != nil {
				for _, d := range s.base.tree.dirs {
					if d.virtual {
						continue
					}
					for _, e := range d.entries {
						if e.kind == entryFile && e.rel == o.file {
							kb, err := ws.read(d.file)
							if err != nil {
								return nil, err
							}
							nk, err := editBytes(d.file, kb, docRef{}, []fieldOp{{path: FieldPath{Key(e.field), Index(e.index)}, del: true}})
							if err != nil {
								return nil, err
							}
							if err := ws.set(d.file, nk); err != nil {
								return nil, err
							}
							loc.Reason += ", and its entry in " + d.file + " " + e.field + ": removed"
						}
					}
				}
			}
		} else {
			if err := ws.set(o.file, nb); err != nil {
				return nil, err
			}
			loc.Reason = fmt.Sprintf("document %d of %s removed", o.doc, o.file)
		}
	}
	rd, err := s.render(ws)
	if err != nil {
		return nil, &Error{Err: ErrVerify, Op: "remove", Object: o.ref, File: o.file,
			Detail: "the source does not render without the object (a patch may still target it; remove that first)", Cause: err}
	}
	problems, _, err := s.compareByRef(s.base, rd, s.ws, ws, o.ref)
	if err != nil {
		return nil, err
	}
	gone := true
	for _, x := range rd.objects {
		if objKey(x.ref) == objKey(o.ref) {
			gone = false
		}
	}
	if !gone {
		problems = append(problems, describeObj(o)+" still renders")
	}
	if len(problems) > 0 {
		return nil, &Error{Err: ErrVerify, Op: "remove", Object: o.ref, File: o.file, Detail: "removing it would change: " + strings.Join(problems, "; ")}
	}
	res := &EditResult{Object: o.ref, root: s.ws.root, Files: ws.fileChanges()}
	res.Edits = append(res.Edits, AppliedEdit{Delete: true, Location: loc})
	return res, nil
}

// Remove is PlanRemove followed by Write.
func Remove(ctx context.Context, src Source, ref kube.ObjectRef, opts ...Option) (*EditResult, error) {
	res, err := PlanRemove(ctx, src, ref, opts...)
	if err != nil {
		return nil, err
	}
	return res, res.Write(ctx)
}

// removeDocument cuts document doc out of a YAML stream, with its
// separator. empty reports that no document is left.
func removeDocument(file string, src []byte, doc int) ([]byte, bool, error) {
	yf, err := parseYAMLFile(file, src)
	if err != nil {
		return nil, false, err
	}
	if doc < 0 || doc >= len(yf.docs) {
		return nil, false, fmt.Errorf("%s: no document %d", file, doc)
	}
	if len(yf.docs) == 1 {
		return nil, true, nil
	}
	c := yf.docs[doc]
	start, end := c.start, c.end
	if !c.hasSep {
		// The first document: take the next separator line with it.
		for _, n := range yf.chunks {
			if n.start >= c.end && n.hasSep {
				end = yf.afterLine(n.start)
				break
			}
		}
	}
	out := append(append([]byte(nil), src[:start]...), src[end:]...)
	return out, false, nil
}

// compareByRef checks that two renderings hold the same objects, except
// the one named skip (created or removed).
func (s *session) compareByRef(before, after *rendering, wsB, wsA *workspace, skip kube.ObjectRef) (problems, collateral []string, err error) {
	key := func(o *renderedObject) string { return objKey(o.ref) }
	b, a, keys, err := s.pairUp(before, after, wsB, wsA, key, func(o *renderedObject, changed bool) bool {
		return key(o) != objKey(skip) && (s.r.kustomize || changed)
	})
	if err != nil {
		return nil, nil, err
	}
	for _, k := range keys {
		bo, ao := b[k], a[k]
		switch {
		case bo == nil:
			problems = append(problems, describeObj(ao)+" appears")
		case ao == nil:
			problems = append(problems, describeObj(bo)+" disappears")
		default:
			if d := diffPaths(bo.obj, ao.obj, "", 3); len(d) > 0 {
				problems = append(problems, fmt.Sprintf("%s: %s", describeObj(ao), strings.Join(d, ", ")))
			}
		}
	}
	return problems, nil, nil
}

// replaceWithDeletePatch turns a strategic-merge patch file holding one
// document into a "$patch: delete" patch of the same object. Patches embedded
// in a kustomization or sharing a file with other documents are left alone.
func replaceWithDeletePatch(ws *workspace, site docRef) error {
	if site.embed != nil {
		return errors.New("it is written inline in the kustomization")
	}
	b, err := ws.read(site.file)
	if err != nil {
		return err
	}
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	if len(docs) != 1 {
		return fmt.Errorf("the file holds %d documents", len(docs))
	}
	md, _ := docs[0]["metadata"].(map[string]any)
	apiVersion, _ := docs[0]["apiVersion"].(string)
	kind, _ := docs[0]["kind"].(string)
	name, _ := md["name"].(string)
	if apiVersion == "" || kind == "" || name == "" {
		return errors.New("the patch does not name its target by apiVersion, kind and metadata.name")
	}
	var out strings.Builder
	fmt.Fprintf(&out, "# Removed from this overlay by dot; the base still defines it for other overlays.\napiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n", apiVersion, kind, name)
	if ns, _ := md["namespace"].(string); ns != "" {
		fmt.Fprintf(&out, "  namespace: %s\n", ns)
	}
	out.WriteString("$patch: delete\n")
	return ws.set(site.file, []byte(out.String()))
}

// dropReplicaEntries removes the replicas: entries of a kustomization that
// name the given object, editing the file in place.
func dropReplicaEntries(ws *workspace, file, name string) error {
	b, err := ws.read(file)
	if err != nil {
		return err
	}
	var k struct {
		Replicas []struct {
			Name string `yaml:"name"`
		} `yaml:"replicas"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	var ops []fieldOp
	for i := len(k.Replicas) - 1; i >= 0; i-- {
		if k.Replicas[i].Name == name {
			ops = append(ops, fieldOp{path: FieldPath{Key("replicas"), Index(i)}, del: true})
		}
	}
	if len(ops) == 0 {
		return nil
	}
	for _, op := range ops { // highest index first, so earlier indexes stay valid
		if b, err = editBytes(file, b, docRef{}, []fieldOp{op}); err != nil {
			return err
		}
	}
	return ws.set(file, b)
}
