package manifest

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// embedded is YAML text held in a literal block scalar of a host file, such
// as an inline patch in kustomization.yaml (`patch: |-`). Edits are made on
// the de-indented text and mapped back to host offsets, so unchanged lines
// keep every byte.
type embedded struct {
	host       *yamlFile
	inner      *yamlFile
	indent     int
	outerLines []int // host offset of the start of each inner line
	strip      []int // spaces removed from each line
	regionEnd  int
}

// embeddedAt opens the literal block scalar of s as a YAML file.
func (f *yamlFile) embeddedAt(c *yamlChunk, s *step) (*embedded, error) {
	n := s.node
	if n.Kind != yaml.ScalarNode || n.Style&yaml.LiteralStyle == 0 {
		return nil, fmt.Errorf("%w: %s line %d: inline YAML must be a literal block (|) to be edited", ErrUnsupported, f.path, f.lineOf(f.start(c, n)))
	}
	p := f.skipProps(f.start(c, n))
	end := f.blockScalarEnd(p, s.ctx.parentIndent)
	contentStart := f.afterLine(p)
	if end < contentStart {
		end = contentStart
	}
	regionEnd := f.afterLine(end)
	if end >= len(f.src) || regionEnd > len(f.src) {
		regionEnd = len(f.src)
	}
	e := &embedded{host: f, regionEnd: regionEnd, indent: -1}
	// Block indentation: that of the first non-blank line.
	for pos := contentStart; pos < regionEnd; pos = f.afterLine(pos) {
		le := f.lineEnd(pos)
		if strings.TrimSpace(string(f.src[pos:le])) != "" {
			e.indent = f.indentOf(pos)
			break
		}
	}
	if e.indent < 0 {
		return nil, fmt.Errorf("%w: %s line %d: empty inline YAML", ErrUnsupported, f.path, f.lineOf(p))
	}
	var inner []byte
	for pos := contentStart; pos < regionEnd; {
		next := f.afterLine(pos)
		line := f.src[pos:next]
		strip := 0
		for strip < e.indent && strip < len(line) && line[strip] == ' ' {
			strip++
		}
		e.outerLines = append(e.outerLines, pos)
		e.strip = append(e.strip, strip)
		inner = append(inner, line[strip:]...)
		pos = next
	}
	in, err := parseYAMLFile(f.path, inner)
	if err != nil {
		return nil, fmt.Errorf("inline YAML at %s line %d: %w", f.path, f.lineOf(p), err)
	}
	in.newline = f.newline
	e.inner = in
	return e, nil
}

// outer maps an offset of the inner text to the host.
func (e *embedded) outer(off int) (int, bool) {
	ls := e.inner.lineStarts
	li := sort.Search(len(ls), func(i int) bool { return ls[i] > off }) - 1
	if li >= len(e.outerLines) {
		return e.regionEnd, false
	}
	col := off - ls[li]
	if col == 0 {
		return e.outerLines[li], true
	}
	return e.outerLines[li] + e.strip[li] + col, false
}

// mapSplice translates a splice on the inner text to one on the host,
// indenting inserted lines.
func (e *embedded) mapSplice(sp splice) splice {
	s, atLineStart := e.outer(sp.start)
	end, _ := e.outer(sp.end)
	pad := strings.Repeat(" ", e.indent)
	lines := strings.Split(sp.text, "\n")
	for i, l := range lines {
		if strings.TrimRight(l, "\r") == "" {
			continue
		}
		if i > 0 || atLineStart {
			lines[i] = pad + l
		}
	}
	return splice{s, end, strings.Join(lines, "\n")}
}

// docRef names the document an edit applies to: a document of a file, or a
// document of YAML embedded in a literal block of that document (inline
// patches in kustomization.yaml).
type docRef struct {
	file     string
	doc      int
	embed    FieldPath
	embedDoc int
}

func (d docRef) String() string {
	if d.embed != nil {
		return fmt.Sprintf("%s#%d %s#%d", d.file, d.doc, d.embed, d.embedDoc)
	}
	return fmt.Sprintf("%s#%d", d.file, d.doc)
}

// fieldOp is one set or delete on a document.
type fieldOp struct {
	path  FieldPath
	value any
	del   bool
	// appendItem appends value to the list at path (created if missing).
	appendItem bool
}

// editBytes applies ops in order to the document ref of src.
func editBytes(path string, src []byte, ref docRef, ops []fieldOp) ([]byte, error) {
	for _, op := range ops {
		if bad, ok := invalidUTF8(op.value); ok {
			return nil, &Error{Err: ErrUnsupported, Op: "edit", File: path, Field: op.path.String(),
				Detail: fmt.Sprintf("the value %q is not valid UTF-8; YAML files must be", bad)}
		}
		f, err := parseYAMLFile(path, src)
		if err != nil {
			return nil, err
		}
		if ref.doc < 0 || ref.doc >= len(f.docs) {
			return nil, fmt.Errorf("%s: no document %d", path, ref.doc)
		}
		c := f.docs[ref.doc]
		target, tc := f, c
		var emb *embedded
		if ref.embed != nil {
			s, err := f.lookup(c, ref.embed)
			if err != nil {
				return nil, err
			}
			if s == nil {
				return nil, fmt.Errorf("%s: no inline YAML at %s", path, ref.embed)
			}
			emb, err = f.embeddedAt(c, s)
			if err != nil {
				return nil, err
			}
			if ref.embedDoc >= len(emb.inner.docs) {
				return nil, fmt.Errorf("%s: inline YAML at %s has no document %d", path, ref.embed, ref.embedDoc)
			}
			target, tc = emb.inner, emb.inner.docs[ref.embedDoc]
		}
		st := target.detectStyle()
		var sp splice
		if op.del {
			var found bool
			sp, found, err = target.deleteSplice(tc, op.path)
			if err != nil {
				return nil, err
			}
			if !found {
				continue
			}
		} else if op.appendItem {
			sp, err = target.appendSplice(tc, op.path, op.value, st)
			if err != nil {
				return nil, err
			}
		} else {
			sp, err = target.setSplice(tc, op.path, op.value, st)
			if err != nil {
				return nil, err
			}
		}
		if emb != nil {
			sp = emb.mapSplice(sp)
		}
		before := src
		src = applySplice(src, sp)
		if emb == nil && !op.appendItem && len(src) <= maxCheckedSplice {
			if err := checkSplice(path, before, src, ref.doc, op); err != nil {
				return nil, err
			}
		}
	}
	return src, nil
}

// maxCheckedSplice bounds the files checkSplice re-parses: decoding a huge
// file twice per edit costs minutes; those rare files rely on the re-render
// verification of Plan alone.
const maxCheckedSplice = 4 << 20

// checkSplice makes the byte-level editor fail closed: after an edit, the
// document must parse and hold exactly the old value with the one field set
// (or deleted), and the other documents must be as they were. Byte splicing
// is exact for the YAML people write; for odd constructs (keys ending in ':',
// plain scalars with quotes in flow collections) it refuses rather than
// guess.
func checkSplice(path string, before, after []byte, doc int, op fieldOp) error {
	refuse := func(why string) error {
		return &Error{Err: ErrUnsupported, Op: "edit", File: path, Field: op.path.String(),
			Detail: "the edit cannot be made safely at the byte level (" + why + "); edit this file by hand"}
	}
	bf, err := parseYAMLFile(path, before)
	if err != nil || doc >= len(bf.docs) {
		return nil // nothing to compare against
	}
	var bv any
	if bf.docs[doc].root.Decode(&bv) != nil {
		return nil
	}
	if bv, err = normalizeValue(bv); err != nil {
		return nil
	}
	af, err := parseYAMLFile(path, after)
	if err != nil {
		return refuse("the result does not parse")
	}
	if len(af.docs) != len(bf.docs) {
		return refuse("the number of documents changed")
	}
	var av any
	if af.docs[doc].root.Decode(&av) != nil {
		return refuse("the result does not decode")
	}
	if av, err = normalizeValue(av); err != nil {
		return refuse("the result does not decode")
	}
	var want any
	if op.del {
		want = deletePathModel(deepCopy(bv), op.path)
	} else {
		nv, err := normalizeValue(op.value)
		if err != nil {
			return nil
		}
		if want, err = setPathModel(deepCopy(bv), op.path, nv); err != nil {
			return nil
		}
	}
	if !valuesEqual(av, want) {
		return refuse("other fields would change")
	}
	return nil
}

// invalidUTF8 finds a string in v (a scalar, map or list value) that is not
// valid UTF-8: written into a YAML file it would make the file unreadable.
func invalidUTF8(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, !utf8.ValidString(x)
	case map[string]any:
		for k, e := range x {
			if !utf8.ValidString(k) {
				return k, true
			}
			if s, bad := invalidUTF8(e); bad {
				return s, true
			}
		}
	case []any:
		for _, e := range x {
			if s, bad := invalidUTF8(e); bad {
				return s, true
			}
		}
	}
	return "", false
}
