package manifest

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// splice replaces src[start:end] with text.
type splice struct {
	start, end int
	text       string
}

func applySplice(src []byte, s splice) []byte {
	out := make([]byte, 0, len(src)-(s.end-s.start)+len(s.text))
	out = append(out, src[:s.start]...)
	out = append(out, s.text...)
	return append(out, src[s.end:]...)
}

// step is one node reached while walking a FieldPath.
type step struct {
	node   *yaml.Node
	key    *yaml.Node // the key when node is a mapping value
	parent *step
	ctx    nodeCtx
	pos    int // index in parent.node.Content
}

func (f *yamlFile) childCtx(c *yamlChunk, parent *step, key *yaml.Node) nodeCtx {
	flow := parent.ctx.flow || parent.node.Style&yaml.FlowStyle != 0
	if flow {
		return nodeCtx{flow: true, parentIndent: parent.ctx.parentIndent}
	}
	if key != nil {
		return nodeCtx{parentIndent: f.column(f.start(c, key))}
	}
	return nodeCtx{parentIndent: f.column(f.start(c, parent.node))}
}

func (f *yamlFile) keyCtx(parent *step) nodeCtx {
	flow := parent.ctx.flow || parent.node.Style&yaml.FlowStyle != 0
	return nodeCtx{flow: flow, key: true, parentIndent: parent.ctx.parentIndent}
}

// walk follows p from the document root. It returns the steps taken and the
// part of p that does not exist in the document.
func (f *yamlFile) walk(c *yamlChunk, p FieldPath) ([]*step, FieldPath, error) {
	cur := &step{node: c.root, ctx: nodeCtx{parentIndent: -1}, pos: -1}
	steps := []*step{cur}
	for i, e := range p {
		n := cur.node
		if n.Kind == yaml.AliasNode {
			return nil, nil, fmt.Errorf("%w: %s line %d: %s goes through a YAML alias", ErrUnsupported, f.path, n.Line+c.firstLine, p[:i])
		}
		var next *step
		switch {
		case e.IsKey():
			if n.Kind != yaml.MappingNode {
				return steps, p[i:], nil
			}
			k, v, idx := mapGet(n, e.Key)
			if k == nil {
				if _, mv, _ := mapGet(n, "<<"); mv != nil {
					return nil, nil, fmt.Errorf("%w: %s: %s may come from a YAML merge key", ErrUnsupported, f.path, p[:i+1])
				}
				return steps, p[i:], nil
			}
			next = &step{node: v, key: k, parent: cur, pos: idx + 1, ctx: f.childCtx(c, cur, k)}
		case e.IsMatch():
			if n.Kind != yaml.SequenceNode {
				return steps, p[i:], nil
			}
			found := -1
			for j, item := range n.Content {
				if item.Kind != yaml.MappingNode {
					continue
				}
				_, kv, _ := mapGet(item, e.MatchKey)
				if kv != nil && kv.Kind == yaml.ScalarNode && kv.Value == e.MatchValue {
					if found >= 0 {
						return nil, nil, fmt.Errorf("%w: %s: two list items match %s", ErrAmbiguous, f.path, p[:i+1])
					}
					found = j
				}
			}
			if found < 0 {
				return steps, p[i:], nil
			}
			next = &step{node: n.Content[found], parent: cur, pos: found, ctx: f.childCtx(c, cur, nil)}
		default:
			if n.Kind != yaml.SequenceNode || e.Index >= len(n.Content) {
				return steps, p[i:], nil
			}
			next = &step{node: n.Content[e.Index], parent: cur, pos: e.Index, ctx: f.childCtx(c, cur, nil)}
		}
		steps = append(steps, next)
		cur = next
	}
	return steps, nil, nil
}

// lookup returns the node at p, or nil.
func (f *yamlFile) lookup(c *yamlChunk, p FieldPath) (*step, error) {
	steps, rest, err := f.walk(c, p)
	if err != nil || len(rest) > 0 {
		return nil, err
	}
	return steps[len(steps)-1], nil
}

// nodeValue decodes a node into the JSON data model.
func nodeValue(n *yaml.Node) (any, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return normalizeValue(v)
}

// colonAfter returns the offset of the ':' following key.
func (f *yamlFile) colonAfter(c *yamlChunk, key *yaml.Node, ctx nodeCtx) (int, error) {
	_, e, err := f.span(c, key, ctx)
	if err != nil {
		return 0, err
	}
	for i := e; i < len(f.src); i++ {
		switch f.src[i] {
		case ':':
			return i, nil
		case ' ', '\t':
		default:
			return 0, fmt.Errorf("%s line %d: no ':' after key %q", f.path, f.lineOf(e), key.Value)
		}
	}
	return 0, fmt.Errorf("%s: no ':' after key %q", f.path, key.Value)
}

// dashBefore returns the offset of the "-" introducing the item at off.
func (f *yamlFile) dashBefore(off int) (int, error) {
	for i := off - 1; i >= 0; i-- {
		switch f.src[i] {
		case ' ', '\t', '\n', '\r':
		case '-':
			return i, nil
		default:
			return 0, fmt.Errorf("%s line %d: no '-' before list item", f.path, f.lineOf(off))
		}
	}
	return 0, fmt.Errorf("%s: no '-' before list item", f.path)
}

// detectStyle guesses the file's indentation step and sequence style from
// the first examples it finds.
func (f *yamlFile) detectStyle() blockStyle {
	st := blockStyle{step: 2, seqIndent: true}
	foundStep, foundSeq := false, false
	var visit func(c *yamlChunk, n *yaml.Node)
	visit = func(c *yamlChunk, n *yaml.Node) {
		if n.Kind != yaml.MappingNode || n.Style&yaml.FlowStyle != 0 {
			for _, ch := range n.Content {
				visit(c, ch)
			}
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
				kc := f.column(f.start(c, k))
				vc := f.column(f.start(c, v))
				if v.Kind == yaml.MappingNode && !foundStep && vc > kc && f.lineOf(f.start(c, v)) > f.lineOf(f.start(c, k)) {
					st.step, foundStep = vc-kc, true
				}
				if v.Kind == yaml.SequenceNode && !foundSeq {
					st.seqIndent, foundSeq = vc > kc, true
				}
			}
			visit(c, v)
		}
	}
	for _, c := range f.docs {
		visit(c, c.root)
		if foundStep && foundSeq {
			break
		}
	}
	return st
}

// buildNested builds the structure that path describes below an existing
// node, ending in v.
func buildNested(path FieldPath, v any) (any, error) {
	if len(path) == 0 {
		return toOrdered(v), nil
	}
	e := path[0]
	sub, err := buildNested(path[1:], v)
	if err != nil {
		return nil, err
	}
	switch {
	case e.IsKey():
		return omap{{e.Key, sub}}, nil
	case e.IsMatch():
		item, err := newItem(e, sub, len(path) == 1)
		if err != nil {
			return nil, err
		}
		return []any{item}, nil
	}
	return nil, fmt.Errorf("%w: cannot create list item [%d] by position", ErrUnsupported, e.Index)
}

// newItem builds a list item selected by e holding sub.
func newItem(e PathElem, sub any, last bool) (omap, error) {
	item := omap{{e.MatchKey, matchValue(e)}}
	switch x := sub.(type) {
	case omap:
		for _, en := range x {
			if en.Key != e.MatchKey {
				item = append(item, en)
			}
		}
	default:
		if last {
			return nil, fmt.Errorf("%w: list item [%s=%s] must be set to a mapping", ErrUnsupported, e.MatchKey, e.MatchValue)
		}
	}
	return item, nil
}

// matchValue types the value of a [key=value] selector for a new item:
// numbers stay numbers (containerPort=8080).
func matchValue(e PathElem) any {
	if n, err := strconv.ParseInt(e.MatchValue, 10, 64); err == nil && strconv.FormatInt(n, 10) == e.MatchValue {
		return n
	}
	return e.MatchValue
}

// setSplice computes the splice that sets p to v in document c.
func (f *yamlFile) setSplice(c *yamlChunk, p FieldPath, v any, st blockStyle) (splice, error) {
	steps, rest, err := f.walk(c, p)
	if err != nil {
		return splice{}, err
	}
	last := steps[len(steps)-1]
	if len(rest) == 0 {
		return f.replaceValue(c, last, v, st)
	}
	n := last.node
	e := rest[0]
	switch {
	case e.IsKey():
		val, err := buildNested(rest[1:], v)
		if err != nil {
			return splice{}, err
		}
		switch {
		case n.Kind == yaml.MappingNode:
			return f.insertMapEntry(c, last, e.Key, val, st)
		case isEmptyNull(n):
			return f.replaceValue(c, last, omap{{e.Key, val}}, st)
		}
	case e.IsMatch():
		sub, err := buildNested(rest[1:], v)
		if err != nil {
			return splice{}, err
		}
		item, err := newItem(e, sub, len(rest) == 1)
		if err != nil {
			return splice{}, err
		}
		switch {
		case n.Kind == yaml.SequenceNode:
			return f.appendSeqItem(c, last, item, st)
		case isEmptyNull(n):
			return f.replaceValue(c, last, []any{item}, st)
		}
	default:
		return splice{}, fmt.Errorf("%w: %s: no list item at %s", ErrUnsupported, f.path, p)
	}
	return splice{}, fmt.Errorf("%w: %s line %d: %s is a %s, cannot hold %s", ErrUnsupported, f.path,
		f.lineOf(f.start(c, n)), p[:len(p)-len(rest)], kindName(n), rest)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	}
	return "node"
}

// replaceValue replaces the node of s with v.
func (f *yamlFile) replaceValue(c *yamlChunk, s *step, v any, st blockStyle) (splice, error) {
	n := s.node
	if n.Anchor != "" {
		return splice{}, fmt.Errorf("%w: %s line %d: the value carries the YAML anchor &%s", ErrUnsupported, f.path, f.lineOf(f.start(c, n)), n.Anchor)
	}
	if n.Kind == yaml.AliasNode {
		return splice{}, fmt.Errorf("%w: %s line %d: the value is a YAML alias", ErrUnsupported, f.path, f.lineOf(f.start(c, n)))
	}
	s0, e0, err := f.span(c, n, s.ctx)
	if err != nil {
		return splice{}, err
	}
	// Non-empty flow collections stay flow; an empty one ("[]", "{}") in a
	// block document becomes block.
	flow := s.ctx.flow || f.json || (n.Kind != yaml.ScalarNode && n.Style&yaml.FlowStyle != 0 && len(n.Content) > 0)
	if isScalarValue(v) || isEmptyCollection(v) || flow {
		var text string
		switch {
		case isScalarValue(v):
			text = f.scalarText(c, n, s, v)
		case isEmptyCollection(v):
			text = emptyFlow(toOrdered(v))
		default:
			text = emitFlow(v, f.json)
		}
		if isEmptyNull(n) {
			return f.fillNull(c, s, " "+text)
		}
		if n.Kind != yaml.ScalarNode && s.key != nil && n.Style&yaml.FlowStyle == 0 {
			colon, err := f.colonAfter(c, s.key, f.keyCtx(s.parent))
			if err != nil {
				return splice{}, err
			}
			return splice{colon + 1, e0, " " + text}, nil
		}
		return splice{s0, e0, text}, nil
	}
	// A block collection replaces whatever was there.
	nl := f.newline
	switch {
	case s.key != nil:
		kc := f.column(f.start(c, s.key))
		indent := kc + st.step
		if _, isList := toOrdered(v).([]any); isList && !st.seqIndent {
			indent = kc
		}
		colon, err := f.colonAfter(c, s.key, f.keyCtx(s.parent))
		if err != nil {
			return splice{}, err
		}
		lines := emitBlock(v, indent, st)
		return splice{colon + 1, e0, nl + strings.Join(lines, nl)}, nil
	case s.parent != nil:
		dash, err := f.dashBefore(s0)
		if err != nil {
			return splice{}, err
		}
		lines := emitBlock(v, f.column(dash)+2, st)
		lines[0] = strings.TrimLeft(lines[0], " ")
		return splice{s0, e0, strings.Join(lines, nl)}, nil
	default:
		lines := emitBlock(v, 0, st)
		return splice{s0, e0, strings.Join(lines, nl)}, nil
	}
}

// fillNull puts text where an empty value is: after the key's colon, or
// after the key with a colon when the key stands alone ("{a}", "? a").
func (f *yamlFile) fillNull(c *yamlChunk, s *step, text string) (splice, error) {
	if s.key == nil {
		s0 := f.start(c, s.node)
		return splice{s0, s0, text}, nil
	}
	_, ke, err := f.span(c, s.key, f.keyCtx(s.parent))
	if err != nil {
		return splice{}, err
	}
	if colon, err := f.colonAfter(c, s.key, f.keyCtx(s.parent)); err == nil {
		return splice{colon + 1, colon + 1, text}, nil
	}
	return splice{ke, ke, ":" + text}, nil
}

// scalarText renders v to replace scalar node n, keeping its quoting style
// and, for multi-line strings in literal blocks, its block form.
func (f *yamlFile) scalarText(c *yamlChunk, n *yaml.Node, s *step, v any) string {
	flow := s.ctx.flow
	style := n.Style &^ (yaml.TaggedStyle | yaml.FlowStyle)
	if n.Kind != yaml.ScalarNode {
		style = 0
	}
	str, isStr := v.(string)
	if isStr && (style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0) && !flow && !f.json {
		if strings.Contains(str, "\n") && isPrintable(strings.ReplaceAll(strings.ReplaceAll(str, "\n", ""), "\r", "")) && !strings.HasPrefix(str, " ") {
			return f.literalBlock(c, n, s, str)
		}
		style = 0
	}
	if style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		style = 0
	}
	return renderScalar(v, style, flow, f.json)
}

// literalBlock renders str as a literal block scalar with the indentation
// of the block it replaces.
func (f *yamlFile) literalBlock(c *yamlChunk, n *yaml.Node, s *step, str string) string {
	indent := s.ctx.parentIndent + 2
	if indent < 2 {
		indent = 2
	}
	// Reuse the existing content indentation when there is content.
	p := f.skipProps(f.start(c, n))
	next := f.afterLine(p)
	if next < len(f.src) {
		if ind := f.indentOf(next); ind > s.ctx.parentIndent && f.lineEnd(next) > next+ind {
			indent = ind
		}
	}
	chomp := "-"
	body := str
	switch {
	case strings.HasSuffix(str, "\n\n"):
		chomp = "+"
		body = strings.TrimSuffix(str, "\n")
	case strings.HasSuffix(str, "\n"):
		chomp = ""
		body = strings.TrimSuffix(str, "\n")
	}
	pad := strings.Repeat(" ", indent)
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return "|" + chomp + f.newline + strings.Join(lines, f.newline)
}

// insertMapEntry adds key: val to the mapping of s.
func (f *yamlFile) insertMapEntry(c *yamlChunk, s *step, key string, val any, st blockStyle) (splice, error) {
	n := s.node
	nl := f.newline
	if n.Style&yaml.FlowStyle != 0 || s.ctx.flow {
		entry := renderKey(key, f.json) + ": "
		if isScalarValue(val) {
			entry += renderScalar(val, 0, true, f.json)
		} else {
			entry += emitFlow(val, f.json)
		}
		s0, e0, err := f.span(c, n, s.ctx)
		if err != nil {
			return splice{}, err
		}
		if len(n.Content) == 0 {
			if !f.json && !s.ctx.flow && s.key != nil {
				return f.replaceValue(c, s, omap{{key, val}}, st)
			}
			return splice{f.skipProps(s0), e0, "{" + entry + "}"}, nil
		}
		lk, lv := n.Content[len(n.Content)-2], n.Content[len(n.Content)-1]
		_, le, err := f.span(c, lv, nodeCtx{flow: true})
		if err != nil {
			return splice{}, err
		}
		if f.lineOf(f.start(c, lk)) != f.lineOf(s0) && f.onlySpaceBefore(f.start(c, lk), false) {
			return splice{le, le, "," + nl + strings.Repeat(" ", f.column(f.start(c, lk))) + entry}, nil
		}
		return splice{le, le, ", " + entry}, nil
	}
	if len(n.Content) == 0 {
		return splice{}, fmt.Errorf("%s: empty block mapping", f.path)
	}
	_, e, err := f.span(c, n, s.ctx)
	if err != nil {
		return splice{}, err
	}
	indent := f.column(f.start(c, n.Content[0]))
	lines := emitBlock(omap{{key, val}}, indent, st)
	pos := f.lineEnd(e)
	return splice{pos, pos, nl + strings.Join(lines, nl)}, nil
}

// appendSeqItem adds item at the end of the list of s.
func (f *yamlFile) appendSeqItem(c *yamlChunk, s *step, item any, st blockStyle) (splice, error) {
	n := s.node
	nl := f.newline
	if n.Style&yaml.FlowStyle != 0 || s.ctx.flow {
		text := emitFlow(item, f.json)
		s0, e0, err := f.span(c, n, s.ctx)
		if err != nil {
			return splice{}, err
		}
		if len(n.Content) == 0 {
			if !f.json && !s.ctx.flow && s.key != nil {
				return f.replaceValue(c, s, []any{item}, st)
			}
			return splice{f.skipProps(s0), e0, "[" + text + "]"}, nil
		}
		last := n.Content[len(n.Content)-1]
		_, le, err := f.span(c, last, nodeCtx{flow: true})
		if err != nil {
			return splice{}, err
		}
		ls := f.start(c, last)
		if f.lineOf(ls) != f.lineOf(s0) && f.onlySpaceBefore(ls, false) {
			return splice{le, le, "," + nl + strings.Repeat(" ", f.column(ls)) + text}, nil
		}
		return splice{le, le, ", " + text}, nil
	}
	s0, e, err := f.span(c, n, s.ctx)
	if err != nil {
		return splice{}, err
	}
	lines := emitBlock([]any{item}, f.column(s0), st)
	pos := f.lineEnd(e)
	return splice{pos, pos, nl + strings.Join(lines, nl)}, nil
}

// deleteSplice computes the splice removing p from document c. found is
// false when p is not there (nothing to do).
func (f *yamlFile) deleteSplice(c *yamlChunk, p FieldPath) (sp splice, found bool, err error) {
	steps, rest, err := f.walk(c, p)
	if err != nil {
		return splice{}, false, err
	}
	if len(rest) > 0 {
		return splice{}, false, nil
	}
	s := steps[len(steps)-1]
	if s.parent == nil {
		return splice{}, false, fmt.Errorf("%w: cannot delete a whole document with a field edit", ErrUnsupported)
	}
	if s.node.Anchor != "" {
		return splice{}, false, fmt.Errorf("%w: %s line %d: the value carries the YAML anchor &%s", ErrUnsupported, f.path, f.lineOf(f.start(c, s.node)), s.node.Anchor)
	}
	par := s.parent
	pn := par.node
	_, ve, err := f.span(c, s.node, s.ctx)
	if err != nil {
		return splice{}, false, err
	}
	flow := pn.Style&yaml.FlowStyle != 0 || par.ctx.flow
	empty := "{}"
	count := len(pn.Content) / 2
	itemStart := 0
	if pn.Kind == yaml.SequenceNode {
		empty = "[]"
		count = len(pn.Content)
		itemStart = f.start(c, s.node)
	} else {
		itemStart = f.start(c, s.key)
	}
	step := 2
	if pn.Kind == yaml.SequenceNode {
		step = 1
	}
	if count == 1 {
		// The collection becomes empty.
		ps, pe, err := f.span(c, pn, par.ctx)
		if err != nil {
			return splice{}, false, err
		}
		if flow {
			return splice{f.skipProps(ps), pe, empty}, true, nil
		}
		if par.key != nil {
			colon, err := f.colonAfter(c, par.key, f.keyCtx(par.parent))
			if err != nil {
				return splice{}, false, err
			}
			return splice{colon + 1, pe, " " + empty}, true, nil
		}
		return splice{ps, pe, empty}, true, nil
	}
	if flow {
		if s.pos+step < len(pn.Content) {
			next := pn.Content[s.pos+step]
			if pn.Kind == yaml.MappingNode {
				next = pn.Content[s.pos+1]
			}
			return splice{itemStart, f.start(c, next), ""}, true, nil
		}
		prev := pn.Content[s.pos-step]
		_, pe, err := f.span(c, prev, nodeCtx{flow: true})
		if err != nil {
			return splice{}, false, err
		}
		return splice{pe, ve, ""}, true, nil
	}
	if pn.Kind == yaml.SequenceNode {
		dash, err := f.dashBefore(itemStart)
		if err != nil {
			return splice{}, false, err
		}
		if !f.onlySpaceBefore(dash, false) {
			return splice{}, false, fmt.Errorf("%w: %s line %d: nested inline list", ErrUnsupported, f.path, f.lineOf(dash))
		}
		return splice{f.lineStart(dash), f.afterLine(ve), ""}, true, nil
	}
	if f.onlySpaceBefore(itemStart, false) {
		return splice{f.lineStart(itemStart), f.afterLine(ve), ""}, true, nil
	}
	// The key shares its line with a list dash ("- name: web"): pull the
	// next entry up onto that line.
	if s.pos+1 < len(pn.Content) {
		next := pn.Content[s.pos+1]
		return splice{itemStart, f.start(c, next), ""}, true, nil
	}
	return splice{}, false, fmt.Errorf("%w: %s line %d: cannot remove %s", ErrUnsupported, f.path, f.lineOf(itemStart), p)
}

// appendSplice appends item to the list at p, creating the list if needed.
func (f *yamlFile) appendSplice(c *yamlChunk, p FieldPath, item any, st blockStyle) (splice, error) {
	steps, rest, err := f.walk(c, p)
	if err != nil {
		return splice{}, err
	}
	if len(rest) > 0 {
		return f.setSplice(c, p, []any{item}, st)
	}
	last := steps[len(steps)-1]
	switch {
	case last.node.Kind == yaml.SequenceNode:
		return f.appendSeqItem(c, last, item, st)
	case isEmptyNull(last.node):
		return f.replaceValue(c, last, []any{item}, st)
	}
	return splice{}, fmt.Errorf("%w: %s: %s is not a list", ErrUnsupported, f.path, p)
}
