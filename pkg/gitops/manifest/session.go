package manifest

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/dot-ai/dot/pkg/kube"
)

// Option tunes Locate, Plan, Apply, Create and Remove.
type Option func(*options)

type options struct {
	allowShared     bool
	allowCollateral bool
	patchName       func(ref kube.ObjectRef) string
}

// WithSharedEdits lets an edit change a file that other deployments also
// use (a base included by other overlays) instead of adding a patch to the
// overlay the source points at.
func WithSharedEdits() Option { return func(o *options) { o.allowShared = true } }

// WithCollateral accepts edits that also change other rendered objects
// (an images: entry shared by several Deployments); verification then
// reports those changes instead of refusing.
func WithCollateral() Option { return func(o *options) { o.allowCollateral = true } }

// WithPatchFileName overrides the name of patch files dot creates in an
// overlay (default "<kind>-<name>-patch.yaml", lower case).
func WithPatchFileName(f func(ref kube.ObjectRef) string) Option {
	return func(o *options) { o.patchName = f }
}

// session is one operation over one source.
type session struct {
	ctx     context.Context
	src     Source
	ws      *workspace
	r       *renderer
	opts    options
	base    *rendering
	shared  map[string][]string
	renders int
}

func newSession(ctx context.Context, src Source, opts []Option, name string) (*session, error) {
	ws, err := newWorkspace(src.Root)
	if err != nil {
		return nil, err
	}
	r, err := newRenderer(ws, src)
	if err != nil {
		return nil, err
	}
	r.nameHint = name
	s := &session{ctx: ctx, src: src, ws: ws, r: r}
	for _, o := range opts {
		o(&s.opts)
	}
	s.base, err = s.render(ws)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *session) render(ws *workspace) (*rendering, error) {
	return s.renderWith(ws, s.src.Overrides)
}

func (s *session) renderWith(ws *workspace, ov *Overrides) (*rendering, error) {
	s.renders++
	return s.r.renderWith(s.ctx, ws, ov)
}

// find returns the object ref in rd.
func (s *session) find(rd *rendering, ref kube.ObjectRef, op string) (*renderedObject, error) {
	var hits []*renderedObject
	for _, o := range rd.objects {
		if o.ref.Group != ref.Group || o.ref.Kind != ref.Kind || o.ref.Name != ref.Name {
			continue
		}
		if o.ref.Namespace != ref.Namespace && o.ref.Namespace != "" && ref.Namespace != "" {
			continue
		}
		hits = append(hits, o)
	}
	switch len(hits) {
	case 1:
		if !s.r.kustomize && hits[0].obj == nil {
			if err := decodePlain(s.ws, hits); err != nil {
				return nil, err
			}
		}
		return hits[0], nil
	case 0:
		e := &Error{Err: ErrNotFound, Op: op, Object: ref, File: rd.topDir, Searched: rd.searched,
			Detail: "no document in the source defines it"}
		if len(rd.outside) > 0 {
			e.Err = ErrOutsideRepo
			e.Detail = "not in the repository; it may come from " + strings.Join(rd.outside, ", ")
		}
		return nil, e
	}
	e := &Error{Err: ErrAmbiguous, Op: op, Object: ref, Searched: rd.searched}
	var where []string
	for _, h := range hits {
		loc := s.definition(rd, h)
		e.Locations = append(e.Locations, loc)
		where = append(where, fmt.Sprintf("%s:%d", loc.File, loc.Line))
	}
	e.File, e.Line = e.Locations[0].File, e.Locations[0].Line
	e.Detail = "defined by " + strings.Join(where, " and ")
	return nil, e
}

// definition describes the document defining o.
func (s *session) definition(rd *rendering, o *renderedObject) Location {
	if o.file == "" {
		if o.generator != nil {
			return *o.generator
		}
		return Location{Layer: LayerUnknown, DocumentIndex: -1, Reason: "created by a transformer dot cannot trace"}
	}
	loc := Location{File: o.file, DocumentIndex: o.doc, Layer: LayerBase, Line: o.line}
	if loc.Line == 0 {
		loc.Line = s.docLine(o)
	}
	if o.item >= 0 {
		loc.YAMLPath = fmt.Sprintf("items[%d]", o.item)
	}
	loc.Reason = fmt.Sprintf("defined in %s line %d (document %d)", o.file, loc.Line, o.doc)
	if rd.tree != nil {
		chain := rd.tree.chainTo(o.file)
		if len(chain) > 0 {
			var via []string
			for _, l := range chain {
				via = append(via, l.dir.label())
			}
			loc.Reason += ", included by " + strings.Join(via, " -> ")
		}
	}
	return loc
}

// docLine returns the line where o's document (or List item) starts.
func (s *session) docLine(o *renderedObject) int {
	b, err := s.ws.read(o.file)
	if err != nil {
		return 0
	}
	yf, err := parseYAMLFile(o.file, b)
	if err != nil || o.doc < 0 || o.doc >= len(yf.docs) {
		return 0
	}
	c := yf.docs[o.doc]
	if o.item >= 0 {
		if st, _ := yf.lookup(c, FieldPath{Key("items"), Index(o.item)}); st != nil {
			return yf.lineOf(yf.start(c, st.node))
		}
	}
	return yf.lineOf(yf.start(c, c.root))
}

// Locate finds the document that defines ref in src and, for each field,
// the layer its final value comes from.
func Locate(ctx context.Context, src Source, ref kube.ObjectRef, fields []FieldPath, opts ...Option) (*Located, error) {
	s, err := newSession(ctx, src, opts, ref.Name)
	if err != nil {
		return nil, err
	}
	o, err := s.find(s.base, ref, "locate")
	if err != nil {
		return nil, err
	}
	out := &Located{Object: o.ref, Definition: s.definition(s.base, o), Transformations: o.transforms}
	out.Notes = append(out.Notes, s.base.notes...)
	for _, x := range s.base.outside {
		out.Notes = append(out.Notes, "not rendered: "+x)
	}
	for _, f := range fields {
		fl, err := s.locateField(o, f)
		if err != nil {
			return nil, err
		}
		out.Fields = append(out.Fields, *fl)
	}
	return out, nil
}

// Explain renders the result as sentences for a plan.
func (l *Located) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s is %s.\n", l.Object.Kind, nsName(l.Object), l.Definition.Reason)
	for _, f := range l.Fields {
		b.WriteString("  " + f.Explain() + "\n")
	}
	for _, n := range l.Notes {
		b.WriteString("  note: " + n + "\n")
	}
	return b.String()
}

// Explain renders one field's provenance as a sentence.
func (f FieldLocation) Explain() string {
	var b strings.Builder
	b.WriteString(f.Field.String())
	if f.Set {
		fmt.Fprintf(&b, " = %s: ", short(f.Value))
	} else {
		b.WriteString(" is not set: ")
	}
	b.WriteString(f.Location.Reason)
	if len(f.Shadowed) > 0 {
		var sh []string
		for _, l := range f.Shadowed {
			sh = append(sh, l.where())
		}
		b.WriteString(", which overrides " + strings.Join(sh, " and "))
	}
	return b.String()
}

func (l Location) where() string {
	switch {
	case l.File == "":
		return l.Reason
	case l.Line > 0:
		return fmt.Sprintf("%s line %d", l.File, l.Line)
	}
	return l.File
}

func nsName(r kube.ObjectRef) string {
	if r.Namespace == "" {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}

// sharedWith returns the kustomization files outside the build that also
// use file (through its kustomization directory).
func (s *session) sharedWith(rd *rendering, file string) []string {
	if rd.tree == nil {
		return nil
	}
	if s.shared == nil {
		sh, err := sharedDirs(s.ws, rd.tree)
		if err != nil {
			sh = map[string][]string{}
		}
		s.shared = sh
	}
	var by []string
	by = append(by, s.shared[file]...)
	// The directories holding the file, up to the top of the build.
	for d := range rd.tree.dirs {
		if d == rd.tree.top.dir {
			continue
		}
		if ownsFile(rd.tree.dirs[d], file) {
			by = appendUnique(by, s.shared[d]...)
		}
	}
	sort.Strings(by)
	return by
}

// ownsFile reports whether file belongs to kustomization d: its
// kustomization file, one of its resources, or a file below its directory.
func ownsFile(d *kustDir, file string) bool {
	if d.file == file {
		return true
	}
	for _, e := range d.entries {
		if e.kind == entryFile && e.rel == file {
			return true
		}
	}
	return strings.HasPrefix(file, d.dir+"/")
}
