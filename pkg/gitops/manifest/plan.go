package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dot-ai/dot/pkg/kube"
)

// EditResult is a verified set of file changes. Plan returns it without
// writing; Write (or Apply) puts it on disk.
type EditResult struct {
	// Object is the rendered identity of the edited object.
	Object kube.ObjectRef
	// Files are the files that change, sorted by path. Files that would
	// not change are absent: the caller commits exactly these.
	Files []FileChange
	// Edits says where each (leaf) edit went and why.
	Edits []AppliedEdit
	// Collateral lists changes to other rendered objects, accepted with
	// WithCollateral.
	Collateral []string
	// Notes carries remarks (rendering notes, skipped no-op edits).
	Notes []string

	root string
}

// AppliedEdit is one field edit as planned.
type AppliedEdit struct {
	Field  FieldPath
	Value  any
	Delete bool
	// Location is where the edit was made (or, for a no-op, where the
	// value already comes from).
	Location Location
	// Unchanged is true when the field already had the value.
	Unchanged bool
}

// Changed reports whether the result changes any file.
func (r *EditResult) Changed() bool { return len(r.Files) > 0 }

// Diff renders the changes as a unified diff (a/ and b/ prefixes).
func (r *EditResult) Diff() string {
	var b strings.Builder
	for _, f := range r.Files {
		b.WriteString(unifiedDiff(f.Path, f.Before, f.After))
	}
	return b.String()
}

// Explain renders, one line per edit, where it goes and why.
func (r *EditResult) Explain() string {
	var b strings.Builder
	for _, e := range r.Edits {
		switch {
		case len(e.Field) == 0 && e.Delete:
			fmt.Fprintf(&b, "removed %s: %s\n", r.Object, e.Location.Reason)
		case len(e.Field) == 0:
			fmt.Fprintf(&b, "created %s: %s\n", r.Object, e.Location.Reason)
		case e.Unchanged:
			fmt.Fprintf(&b, "%s already %s (%s)\n", e.Field, short(e.Value), e.Location.Reason)
		case e.Delete:
			fmt.Fprintf(&b, "%s removed: %s\n", e.Field, e.Location.Reason)
		default:
			fmt.Fprintf(&b, "%s -> %s: %s\n", e.Field, short(e.Value), e.Location.Reason)
		}
	}
	for _, c := range r.Collateral {
		fmt.Fprintf(&b, "also changes %s\n", c)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}

// leaf is one scalar-level edit after decomposition.
type leaf struct {
	path   FieldPath
	value  any
	del    bool
	ensure bool // make a keyed list item exist (no-op when it does)
}

// decompose turns edits into leaf edits: mappings are merged key by key,
// keyed lists (containers, env, ports, ...) item by item; other lists and
// scalars are set whole.
func decompose(edits []FieldEdit) ([]leaf, error) {
	var out []leaf
	var walk func(p FieldPath, v any)
	walk = func(p FieldPath, v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 {
				out = append(out, leaf{path: p, value: x})
				return
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool {
				if keyPriority(keys[i]) != keyPriority(keys[j]) {
					return keyPriority(keys[i]) < keyPriority(keys[j])
				}
				return keys[i] < keys[j]
			})
			for _, k := range keys {
				walk(p.Append(Key(k)), x[k])
			}
		case []any:
			mk := listKey(p.lastKey(), x)
			if mk == "" {
				out = append(out, leaf{path: p, value: x})
				return
			}
			for _, it := range x {
				m := it.(map[string]any)
				kv, _ := scalarKey(m[mk])
				ip := p.Append(Match(mk, kv))
				if len(m) == 1 {
					out = append(out, leaf{path: ip, value: map[string]any{mk: m[mk]}, ensure: true})
					continue
				}
				rest := map[string]any{}
				for k, e := range m {
					if k != mk {
						rest[k] = e
					}
				}
				walk(ip, rest)
			}
		default:
			out = append(out, leaf{path: p, value: v})
		}
	}
	for _, e := range edits {
		if len(e.Path) == 0 {
			return nil, fmt.Errorf("edit: empty field path")
		}
		if e.Delete {
			out = append(out, leaf{path: e.Path, del: true})
			continue
		}
		if e.Value == nil {
			return nil, &Error{Err: ErrUnsupported, Op: "edit", Field: e.Path.String(), Detail: "no value; set Delete to remove a field"}
		}
		v, err := normalizeValue(e.Value)
		if err != nil {
			return nil, err
		}
		walk(e.Path, v)
	}
	return out, nil
}

// listKey returns the merge key of a keyed list value, or "".
func listKey(name string, items []any) string {
	mk := mergeKeyFor(name)
	if name == "ports" {
		mk = ""
		for _, cand := range []string{"containerPort", "port"} {
			if len(items) > 0 {
				if m, ok := items[0].(map[string]any); ok {
					if _, ok := m[cand]; ok {
						mk = cand
						break
					}
				}
			}
		}
	}
	if mk == "" || len(items) == 0 {
		return ""
	}
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return ""
		}
		if _, ok := scalarKey(m[mk]); !ok {
			return ""
		}
	}
	return mk
}

// Plan computes and verifies the edits of ref in src without writing.
func Plan(ctx context.Context, src Source, ref kube.ObjectRef, edits []FieldEdit, opts ...Option) (*EditResult, error) {
	s, err := newSession(ctx, src, opts, ref.Name)
	if err != nil {
		return nil, err
	}
	o, err := s.find(s.base, ref, "edit")
	if err != nil {
		return nil, err
	}
	res := &EditResult{Object: o.ref, root: s.ws.root, Notes: append([]string(nil), s.base.notes...)}
	var paths []FieldPath
	for _, e := range edits {
		paths = append(paths, e.Path)
		final, set := getPath(o.obj, e.Path)
		switch {
		case e.ExpectAbsent && set:
			return nil, s.conflict(o, e.Path, nil, final, true)
		case e.Expect != nil:
			want, err := normalizeValue(e.Expect)
			if err != nil {
				return nil, err
			}
			if !set || !valuesEqual(final, want) {
				return nil, s.conflict(o, e.Path, want, final, set)
			}
		}
	}
	if err := s.secretCheck(o, paths, "edit"); err != nil {
		return nil, err
	}
	leaves, err := decompose(edits)
	if err != nil {
		return nil, err
	}
	for _, l := range leaves {
		if err := s.applyLeaf(res, o, l); err != nil {
			return nil, err
		}
	}
	res.Files = s.ws.fileChanges()
	return res, nil
}

// Apply plans the edits and writes the changed files.
func Apply(ctx context.Context, src Source, ref kube.ObjectRef, edits []FieldEdit, opts ...Option) (*EditResult, error) {
	res, err := Plan(ctx, src, ref, edits, opts...)
	if err != nil {
		return nil, err
	}
	if err := res.Write(ctx); err != nil {
		return nil, err
	}
	return res, nil
}

func (s *session) conflict(o *renderedObject, p FieldPath, want, got any, set bool) error {
	e := &Error{Err: ErrConflict, Op: "edit", Object: o.ref, Field: p.String(), Expected: want}
	if set {
		e.Actual = got
		e.Detail = fmt.Sprintf("the repository holds %s, the caller expected %s", short(got), short(want))
	} else {
		e.Detail = fmt.Sprintf("the field is not set in the repository, the caller expected %s", short(want))
	}
	if want == nil {
		e.Detail = fmt.Sprintf("the repository already holds %s, the caller expected the field to be absent", short(got))
	}
	if fl, err := s.locateField(o, p); err == nil {
		e.File, e.Line = fl.Location.File, fl.Location.Line
		e.Locations = []Location{fl.Location}
	}
	return e
}

// applyLeaf plans one leaf edit on the session's current workspace and
// verifies it by re-rendering.
func (s *session) applyLeaf(res *EditResult, orig *renderedObject, l leaf) error {
	rd := s.base
	o := sameObject(rd, orig)
	if o == nil {
		return &Error{Err: ErrVerify, Op: "edit", Object: orig.ref, Detail: "the object disappeared while editing"}
	}
	if o.obj == nil {
		if err := decodePlain(s.ws, []*renderedObject{o}); err != nil {
			return err
		}
	}
	final, set := getPath(o.obj, l.path)
	if (l.del && !set) || (!l.del && set && (l.ensure || valuesEqual(final, l.value))) {
		fl, err := s.locateField(o, l.path)
		if err != nil {
			return err
		}
		res.Edits = append(res.Edits, AppliedEdit{Field: l.path, Value: l.value, Delete: l.del, Location: fl.Location, Unchanged: true})
		return nil
	}
	cands, err := s.candidates(rd, o, l.path)
	if err != nil {
		return err
	}
	var attempts []*candidate
	var reasons []string
	top := (*kustDir)(nil)
	if rd.tree != nil {
		top = rd.tree.top
	}
	fail := func(err error) error {
		if e, ok := err.(*Error); ok {
			if e.Field == "" {
				e.Field = l.path.String()
			}
			if e.Object.Kind == "" {
				e.Object = o.ref
			}
			return e
		}
		return &Error{Err: ErrUnsupported, Op: "edit", Object: o.ref, Field: l.path.String(), Cause: err}
	}
	sharedWhy := func(c *candidate) string {
		if rd.tree == nil || s.opts.allowShared || c.dir == top || c.site.file == "" {
			return ""
		}
		if sh := s.sharedWith(rd, c.site.file); len(sh) > 0 {
			return fmt.Sprintf("%s sets it but is shared with %s", c.describe(), strings.Join(sh, ", "))
		}
		return ""
	}
	if l.del {
		var mentions []*candidate
		for _, c := range cands {
			if !c.absent {
				mentions = append(mentions, c)
			}
		}
		needPatch := ""
		for _, c := range mentions {
			if c.owner {
				return &Error{Err: ErrOwnerOverride, Op: "edit", Object: o.ref, Field: l.path.String(),
					Locations: []Location{c.location("set by " + c.desc)}, Detail: "set by " + c.desc + "; remove it there"}
			}
			if !c.editable(true) {
				return fail(&Error{Err: ErrUnsupported, Op: "edit", File: c.site.file, Line: c.line, Detail: c.describe() + " sets it and dot cannot edit that"})
			}
			if why := sharedWhy(c); why != "" {
				needPatch = why
				continue
			}
		}
		var all []*candidate
		for _, c := range mentions {
			if sharedWhy(c) == "" {
				all = append(all, c)
				reasons = append(reasons, c.describe())
			}
		}
		var reason string
		if len(reasons) > 0 {
			reason = "removed from " + strings.Join(reasons, ", ")
		}
		if needPatch != "" {
			pc, err := s.overlayPatch(rd, o, l.path, "")
			if err != nil {
				return fail(err)
			}
			all = append(all, pc)
			if reason != "" {
				reason += "; "
			}
			reason += needPatch + ", so a deletion directive in " + pc.site.file + " removes it from this source"
		}
		if len(all) == 0 {
			return fail(&Error{Err: ErrUnsupported, Op: "edit", Detail: "nothing dot can edit sets this field"})
		}
		ws := s.ws.clone()
		for _, c := range all {
			if err := c.do(ws, nil, true); err != nil {
				return fail(err)
			}
		}
		return s.commitLeaf(res, o, l, ws, all[0].location(reason))
	}

	eff, _ := s.effective(rd, o, l.path, cands, final, set)
	switch {
	case eff != nil && eff.owner:
		loc := eff.location("set by " + eff.desc)
		return &Error{Err: ErrOwnerOverride, Op: "edit", Object: o.ref, Field: l.path.String(), Locations: []Location{loc},
			Detail: "the final value comes from " + eff.desc + "; change it there, a repository edit would be overridden"}
	case eff != nil && !eff.editable(false):
		return fail(&Error{Err: ErrUnsupported, Op: "edit", File: eff.site.file, Line: eff.line,
			Detail: "set by " + eff.describe() + ", which dot cannot edit"})
	case eff != nil:
		if why := sharedWhy(eff); why != "" {
			pc, err := s.overlayPatch(rd, o, l.path, why)
			if err != nil {
				return fail(err)
			}
			attempts = append(attempts, pc)
		} else {
			eff.desc = s.reason(rd, eff)
			attempts = append(attempts, eff)
		}
	case set:
		return fail(&Error{Err: ErrUnsupported, Op: "edit",
			Detail: "the rendered value is not set by any layer dot knows (vars, configurations or transformer plugins may set it)"})
	default:
		nc, err := s.newSite(rd, o, l.path, false)
		if err != nil {
			return fail(err)
		}
		attempts = append(attempts, nc)
	}
	// When the chosen place does not take (a later transformer rewrites
	// the value), a patch in the overlay the source points at is the
	// narrowest place left.
	if rd.tree != nil && !top.virtual && attempts[0].layer != LayerNewPatch && !(attempts[0].dir == top && attempts[0].layer == LayerPatchSMP) {
		if pc, err := s.overlayPatch(rd, o, l.path, ""); err == nil {
			attempts = append(attempts, pc)
		}
	}
	var errs []error
	for i, a := range attempts {
		if i > 0 {
			a.desc = fmt.Sprintf("%s cannot take the edit (%s); %s", attempts[0].describe(), brief(errs[0]), a.desc)
		}
		ws := s.ws.clone()
		err := a.do(ws, l.value, false)
		if err == nil {
			err = s.commitLeaf(res, o, l, ws, a.location(a.desc))
			if err == nil {
				return nil
			}
		}
		errs = append(errs, err)
	}
	if len(errs) > 1 {
		if e, ok := errs[0].(*Error); ok {
			e.Detail += "; a patch in " + top.dir + " does not work either: " + brief(errs[1])
		}
	}
	return fail(errs[0])
}

// brief shortens an error to its explanation.
func brief(err error) string {
	msg := err.Error()
	var e *Error
	if errors.As(err, &e) && e.Detail != "" {
		msg = e.Detail
	}
	if len(msg) > 300 {
		msg = msg[:297] + "..."
	}
	return msg
}

// commitLeaf re-renders ws, checks that only the leaf changed, and makes
// ws the session's state.
func (s *session) commitLeaf(res *EditResult, o *renderedObject, l leaf, ws *workspace, loc Location) error {
	rd, err := s.render(ws)
	if err != nil {
		return &Error{Err: ErrVerify, Op: "edit", Object: o.ref, Field: l.path.String(), Detail: "the edited source does not render", Cause: err}
	}
	expect := func(obj map[string]any) (map[string]any, error) {
		c := deepCopy(obj)
		var err error
		if l.del {
			c = deletePathModel(c, l.path)
		} else {
			c, err = setPathModel(c, l.path, deepCopy(l.value))
		}
		if err != nil {
			return nil, err
		}
		m, _ := c.(map[string]any)
		return m, nil
	}
	problems, collateral, err := s.compare(s.base, rd, s.ws, ws, o, expect)
	if err != nil {
		return err
	}
	if len(collateral) > 0 && !s.opts.allowCollateral {
		problems = append(problems, collateral...)
		collateral = nil
	}
	if len(problems) > 0 {
		return &Error{Err: ErrVerify, Op: "edit", Object: o.ref, Field: l.path.String(), File: loc.File, Line: loc.Line,
			Detail: "the edit would change " + strings.Join(problems, "; ")}
	}
	res.Collateral = append(res.Collateral, collateral...)
	res.Edits = append(res.Edits, AppliedEdit{Field: l.path, Value: l.value, Delete: l.del, Location: loc})
	s.ws, s.base = ws, rd
	return nil
}

// compare checks a rendering after an edit against the one before: the
// target object must equal expect(before) and nothing else may change
// (other changes are returned as collateral).
func (s *session) compare(before, after *rendering, wsB, wsA *workspace, target *renderedObject,
	expect func(map[string]any) (map[string]any, error)) (problems, collateral []string, err error) {
	key := func(o *renderedObject) string {
		if o.file != "" {
			return fmt.Sprintf("%s#%d#%d", o.file, o.doc, o.item)
		}
		return objKey(o.ref)
	}
	tk := key(target)
	b, a, keys, err := s.pairUp(before, after, wsB, wsA, key, func(o *renderedObject, changed bool) bool {
		return s.r.kustomize || changed || key(o) == tk
	})
	if err != nil {
		return nil, nil, err
	}
	for _, k := range keys {
		bo, ao := b[k], a[k]
		switch {
		case bo == nil:
			collateral = append(collateral, fmt.Sprintf("%s appears", describeObj(ao)))
		case ao == nil:
			if k == tk {
				problems = append(problems, fmt.Sprintf("%s disappears", describeObj(bo)))
			} else {
				collateral = append(collateral, fmt.Sprintf("%s disappears", describeObj(bo)))
			}
		case k == tk:
			want, err := expect(bo.obj)
			if err != nil {
				return nil, nil, err
			}
			if d := diffPaths(want, ao.obj, "", 5); len(d) > 0 {
				problems = append(problems, fmt.Sprintf("%s: %s (wanted -> got)", describeObj(ao), strings.Join(d, ", ")))
			}
		default:
			if d := diffPaths(bo.obj, ao.obj, "", 3); len(d) > 0 {
				collateral = append(collateral, fmt.Sprintf("%s: %s", describeObj(ao), strings.Join(d, ", ")))
			}
		}
	}
	return problems, collateral, nil
}

// pairUp gives the objects of two renderings that want selects (changed:
// the object's file differs between the two workspaces), decoded and by
// key, and the sorted union of their keys.
func (s *session) pairUp(before, after *rendering, wsB, wsA *workspace, key func(*renderedObject) string,
	want func(o *renderedObject, changed bool) bool) (b, a map[string]*renderedObject, keys []string, err error) {
	changed := changedFiles(wsB, wsA)
	pick := func(rd *rendering, ws *workspace) (map[string]*renderedObject, error) {
		out := map[string]*renderedObject{}
		var need []*renderedObject
		for _, o := range rd.objects {
			if !want(o, changed[o.file]) {
				continue
			}
			out[key(o)] = o
			if o.obj == nil {
				need = append(need, o)
			}
		}
		if len(need) > 0 {
			if err := decodePlain(ws, need); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	if b, err = pick(before, wsB); err != nil {
		return nil, nil, nil, err
	}
	if a, err = pick(after, wsA); err != nil {
		return nil, nil, nil, err
	}
	all := map[string]bool{}
	for k := range b {
		all[k] = true
	}
	for k := range a {
		all[k] = true
	}
	return b, a, sortedKeys(all), nil
}

func describeObj(o *renderedObject) string {
	return o.ref.Kind + " " + nsName(o.ref)
}

// changedFiles lists the files whose content differs between two states.
func changedFiles(a, b *workspace) map[string]bool {
	out := map[string]bool{}
	seen := map[string]bool{}
	for _, w := range []*workspace{a, b} {
		for k := range w.changes {
			seen[k] = true
		}
		for k := range w.deleted {
			seen[k] = true
		}
	}
	for k := range seen {
		x, errX := a.read(k)
		y, errY := b.read(k)
		if (errX == nil) != (errY == nil) || !bytes.Equal(x, y) {
			out[k] = true
		}
	}
	return out
}

// Write puts the planned changes on disk. It refuses when a file changed
// on disk since the plan, or when a path is unsafe (outside the checkout,
// through a symlink, inside .git). Files are replaced atomically.
func (r *EditResult) Write(ctx context.Context) error {
	if r.root == "" {
		return errors.New("write: result has no checkout")
	}
	ws := &workspace{root: r.root, changes: map[string][]byte{}, deleted: map[string]bool{}}
	for _, f := range r.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := cleanRel(f.Path)
		if err != nil {
			return err
		}
		if err := ws.checkWritable(rel); err != nil {
			return err
		}
		cur, err := os.ReadFile(ws.abs(rel))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if f.Before != nil {
				return &Error{Err: ErrConflict, Op: "write", File: rel, Detail: "the file was deleted since the plan"}
			}
		case err != nil:
			return fmt.Errorf("write %s: %w", rel, err)
		case f.Before == nil || !bytes.Equal(cur, f.Before):
			return &Error{Err: ErrConflict, Op: "write", File: rel, Detail: "the file changed since the plan"}
		}
	}
	for _, f := range r.Files {
		rel, _ := cleanRel(f.Path)
		p := ws.abs(rel)
		if f.After == nil {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("write %s: %w", rel, err)
			}
			continue
		}
		mode := os.FileMode(0o644)
		if st, err := os.Stat(p); err == nil {
			mode = st.Mode().Perm()
		}
		dir := filepath.Dir(p)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("write %s: %w", rel, err)
		}
		tmp, err := os.CreateTemp(dir, ".dot-*")
		if err != nil {
			return fmt.Errorf("write %s: %w", rel, err)
		}
		_, werr := tmp.Write(f.After)
		cerr := tmp.Close()
		if werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Chmod(tmp.Name(), mode)
		}
		if werr == nil {
			werr = os.Rename(tmp.Name(), p)
		}
		if werr != nil {
			_ = os.Remove(tmp.Name())
			return fmt.Errorf("write %s: %w", rel, werr)
		}
	}
	return nil
}
