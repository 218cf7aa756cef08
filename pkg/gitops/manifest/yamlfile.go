package manifest

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// yamlFile is one parsed manifest file. It keeps the original bytes and, for
// every document, the yaml.v3 node tree whose positions are translated to
// byte offsets in src. Edits are computed as byte splices on src; the tree is
// only used to find where to splice.
type yamlFile struct {
	path       string
	src        []byte
	json       bool // a .json file: edits must produce JSON syntax
	newline    string
	lineStarts []int
	chunks     []*yamlChunk // every "---"-separated chunk, empty ones included
	docs       []*yamlChunk // chunks holding a YAML node, in order; index = DocumentIndex
}

// yamlChunk is the text between two document separators. start is the offset
// of its separator line ("---"), or 0 for the first chunk; end is the offset of
// the next separator line or len(src).
type yamlChunk struct {
	start, end int
	hasSep     bool
	firstLine  int // 0-based line index of start
	index      int // document index, -1 when the chunk is empty
	root       *yaml.Node
}

// parseYAMLFile parses src. JSON files are a single document.
func parseYAMLFile(path string, src []byte) (*yamlFile, error) {
	f := &yamlFile{path: path, src: src, newline: "\n"}
	f.json = strings.HasSuffix(strings.ToLower(path), ".json")
	if bytes.Count(src, []byte("\r\n")) > 0 && bytes.Count(src, []byte("\r\n"))*2 >= bytes.Count(src, []byte("\n")) {
		f.newline = "\r\n"
	}
	f.lineStarts = append(f.lineStarts, 0)
	for i, b := range src {
		switch {
		case b == '\n':
			f.lineStarts = append(f.lineStarts, i+1)
		case b == '\r' && (i+1 == len(src) || src[i+1] != '\n'):
			// YAML reads a lone CR as a line break; byte positions here are
			// by LF, so an edit would land in the wrong place. Refuse.
			return nil, &Error{Err: ErrUnsupported, Op: "parse", File: path, Line: len(f.lineStarts),
				Detail: "lone carriage return (classic Mac line ending); convert the file to LF or CRLF line endings"}
		}
	}
	if f.json {
		f.chunks = []*yamlChunk{{start: 0, end: len(src), index: -1}}
	} else {
		f.chunks = splitChunks(src, f.lineStarts)
	}
	for _, c := range f.chunks {
		text := make([]byte, c.end-c.start)
		copy(text, src[c.start:c.end])
		if c.hasSep {
			// Blank the marker so the parser sees a plain document while
			// line and column numbers stay those of the file.
			copy(text, "   ")
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(text, &doc); err != nil {
			return nil, fmt.Errorf("parse %s (document at line %d): %w", path, c.firstLine+1, err)
		}
		if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
			c.root = doc.Content[0]
			c.index = len(f.docs)
			f.docs = append(f.docs, c)
		}
	}
	return f, nil
}

// splitChunks splits a YAML stream at lines starting with "---" or "...".
func splitChunks(src []byte, lineStarts []int) []*yamlChunk {
	var chunks []*yamlChunk
	cur := &yamlChunk{start: 0, index: -1}
	for li, ls := range lineStarts {
		if ls >= len(src) {
			break
		}
		line := src[ls:]
		if isMarker(line, "---") || isMarker(line, "...") {
			if li == 0 {
				cur.hasSep = isMarker(line, "---")
				continue
			}
			cur.end = ls
			chunks = append(chunks, cur)
			cur = &yamlChunk{start: ls, firstLine: li, hasSep: true, index: -1}
			if isMarker(line, "...") {
				// A document end marker: the next chunk starts after it but
				// carries no "---"; treat the marker line as blank.
				cur.hasSep = true
			}
		}
	}
	cur.end = len(src)
	chunks = append(chunks, cur)
	return chunks
}

func isMarker(line []byte, m string) bool {
	if !bytes.HasPrefix(line, []byte(m)) {
		return false
	}
	if len(line) == 3 {
		return true
	}
	switch line[3] {
	case ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// offset converts a yaml.v3 position (1-based line within the chunk,
// 1-based column in characters) to a byte offset in src.
func (f *yamlFile) offset(c *yamlChunk, line, col int) int {
	li := c.firstLine + line - 1
	if li >= len(f.lineStarts) {
		return len(f.src)
	}
	off := f.lineStarts[li]
	for i := 1; i < col && off < len(f.src); i++ {
		if f.src[off] == '\n' {
			break
		}
		_, w := utf8.DecodeRune(f.src[off:])
		off += w
	}
	return off
}

// lineOf returns the 1-based line number of a byte offset.
func (f *yamlFile) lineOf(off int) int {
	lo, hi := 0, len(f.lineStarts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if f.lineStarts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1
}

// lineStart returns the offset of the start of the line holding off.
func (f *yamlFile) lineStart(off int) int {
	return f.lineStarts[f.lineOf(off)-1]
}

// lineEnd returns the offset of the newline ending the line holding off (or
// len(src)); a preceding '\r' is not included in the line.
func (f *yamlFile) lineEnd(off int) int {
	i := bytes.IndexByte(f.src[off:], '\n')
	if i < 0 {
		return len(f.src)
	}
	e := off + i
	if e > 0 && f.src[e-1] == '\r' {
		e--
	}
	return e
}

// afterLine returns the offset just past the newline ending the line holding off.
func (f *yamlFile) afterLine(off int) int {
	i := bytes.IndexByte(f.src[off:], '\n')
	if i < 0 {
		return len(f.src)
	}
	return off + i + 1
}

// indentOf returns the number of leading spaces of the line holding off.
func (f *yamlFile) indentOf(off int) int {
	s := f.lineStart(off)
	n := 0
	for s+n < len(f.src) && f.src[s+n] == ' ' {
		n++
	}
	return n
}

// column returns the 0-based byte column of off in its line.
func (f *yamlFile) column(off int) int {
	return off - f.lineStart(off)
}

// onlySpaceBefore reports whether only spaces (and, when dash, sequence
// indicators "- ") precede off on its line.
func (f *yamlFile) onlySpaceBefore(off int, dash bool) bool {
	for i := f.lineStart(off); i < off; i++ {
		switch f.src[i] {
		case ' ':
		case '-':
			if !dash {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// nodeCtx carries what a span computation needs to know about a node's
// surroundings.
type nodeCtx struct {
	flow         bool // inside a flow collection
	parentIndent int  // indentation of the enclosing block collection, -1 at the root
	key          bool // a mapping key
}

// start returns the byte offset where n's text starts (its tag or anchor
// included).
func (f *yamlFile) start(c *yamlChunk, n *yaml.Node) int {
	return f.offset(c, n.Line, n.Column)
}

// span returns the byte range [start, end) of n's text. For collections the
// end is the end of the last descendant (block) or just past the closing
// bracket (flow). Trailing comments and line breaks are not included.
func (f *yamlFile) span(c *yamlChunk, n *yaml.Node, ctx nodeCtx) (int, int, error) {
	s := f.start(c, n)
	switch n.Kind {
	case yaml.ScalarNode:
		e, err := f.scalarEnd(s, n, ctx)
		return s, e, err
	case yaml.AliasNode:
		e := s + 1
		for e < len(f.src) && !isSpaceOrBreak(f.src[e]) && !(ctx.flow && strings.IndexByte(",]}", f.src[e]) >= 0) {
			e++
		}
		return s, e, nil
	case yaml.MappingNode, yaml.SequenceNode:
		if n.Style&yaml.FlowStyle != 0 {
			// Skip tag/anchor properties to reach the bracket.
			p := f.skipProps(s)
			e, err := f.matchBracket(p)
			return s, e, err
		}
		if len(n.Content) == 0 {
			return s, s, nil
		}
		last := n.Content[len(n.Content)-1]
		var childCtx nodeCtx
		if n.Kind == yaml.MappingNode {
			childCtx = nodeCtx{parentIndent: f.column(f.start(c, n.Content[len(n.Content)-2]))}
		} else {
			childCtx = nodeCtx{parentIndent: f.column(s)}
		}
		_, e, err := f.span(c, last, childCtx)
		if err != nil {
			return 0, 0, err
		}
		if last.Kind == yaml.ScalarNode && isEmptyNull(last) && e == f.start(c, last) {
			// "key:" with nothing after it: the span ends after the colon.
			e = f.start(c, last)
		}
		if s > e {
			e = s
		}
		return s, e, nil
	}
	return s, s, fmt.Errorf("%w: node kind %d", ErrUnsupported, n.Kind)
}

func isEmptyNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" && n.Style == 0
}

func isSpaceOrBreak(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r'
}

// skipProps skips a tag ("!x ") and an anchor ("&a ") starting at off.
func (f *yamlFile) skipProps(off int) int {
	for off < len(f.src) && (f.src[off] == '!' || f.src[off] == '&') {
		for off < len(f.src) && !isSpaceOrBreak(f.src[off]) {
			off++
		}
		for off < len(f.src) && isSpaceOrBreak(f.src[off]) {
			off++
		}
	}
	return off
}

// matchBracket returns the offset just past the bracket matching the one at off.
func (f *yamlFile) matchBracket(off int) (int, error) {
	depth := 0
	for i := off; i < len(f.src); i++ {
		switch f.src[i] {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		case '"':
			e, err := f.quotedEnd(i, '"')
			if err != nil {
				return 0, err
			}
			i = e - 1
		case '\'':
			// A single quote starts a scalar only at a token start.
			if i > off && strings.IndexByte("[{, \t\n:", f.src[i-1]) >= 0 {
				e, err := f.quotedEnd(i, '\'')
				if err != nil {
					return 0, err
				}
				i = e - 1
			}
		case '#':
			if i > 0 && isSpaceOrBreak(f.src[i-1]) {
				i = f.lineEnd(i) - 1
			}
		}
	}
	return 0, fmt.Errorf("%w: cannot find the end of the flow collection at line %d", ErrUnsupported, f.lineOf(off))
}

// quotedEnd returns the offset just past the closing quote of the scalar
// opened at off.
func (f *yamlFile) quotedEnd(off int, q byte) (int, error) {
	for i := off + 1; i < len(f.src); i++ {
		switch {
		case q == '"' && f.src[i] == '\\':
			i++
		case f.src[i] == q:
			if q == '\'' && i+1 < len(f.src) && f.src[i+1] == '\'' {
				i++
				continue
			}
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("%w: cannot find the end of the quoted scalar at line %d", ErrUnsupported, f.lineOf(off))
}

// scalarEnd returns the end of the scalar whose text (properties included)
// starts at s.
func (f *yamlFile) scalarEnd(s int, n *yaml.Node, ctx nodeCtx) (int, error) {
	if isEmptyNull(n) {
		return s, nil
	}
	p := f.skipProps(s)
	if p >= len(f.src) {
		return p, nil
	}
	switch f.src[p] {
	case '"':
		return f.quotedEnd(p, '"')
	case '\'':
		return f.quotedEnd(p, '\'')
	case '|', '>':
		if ctx.flow {
			break
		}
		return f.blockScalarEnd(p, ctx.parentIndent), nil
	}
	return f.plainEnd(p, ctx), nil
}

// plainEnd finds the end of a plain scalar starting at p.
func (f *yamlFile) plainEnd(p int, ctx nodeCtx) int {
	end := p
	i := p
	for i < len(f.src) {
		b := f.src[i]
		if b == '\n' || b == '\r' {
			break
		}
		if b == '#' && i > p && (f.src[i-1] == ' ' || f.src[i-1] == '\t') {
			break
		}
		if b == ':' && (ctx.key || ctx.flow) && (i+1 >= len(f.src) || isSpaceOrBreak(f.src[i+1]) || (ctx.flow && strings.IndexByte(",[]{}", f.src[i+1]) >= 0)) {
			break
		}
		if ctx.flow && strings.IndexByte(",[]{}", b) >= 0 {
			break
		}
		if b != ' ' && b != '\t' {
			end = i + 1
		}
		i++
	}
	if ctx.flow || ctx.key {
		return end
	}
	// Continuation lines of a multi-line plain scalar are more indented than
	// the enclosing collection and are neither comments nor markers.
	for {
		next := f.afterLine(end)
		if next >= len(f.src) {
			return end
		}
		// Skip blank lines.
		probe := next
		for probe < len(f.src) {
			le := f.lineEnd(probe)
			if strings.TrimSpace(string(f.src[probe:le])) != "" {
				break
			}
			probe = f.afterLine(probe)
		}
		if probe >= len(f.src) {
			return end
		}
		ind := f.indentOf(probe)
		first := f.src[probe+ind]
		if ind <= ctx.parentIndent || first == '#' || isMarker(f.src[probe:], "---") || isMarker(f.src[probe:], "...") {
			return end
		}
		// Scan the continuation line.
		i := probe + ind
		last := -1
		for i < len(f.src) && f.src[i] != '\n' && f.src[i] != '\r' {
			if f.src[i] == '#' && (f.src[i-1] == ' ' || f.src[i-1] == '\t') {
				break
			}
			if f.src[i] != ' ' && f.src[i] != '\t' {
				last = i + 1
			}
			i++
		}
		if last < 0 {
			return end
		}
		end = last
	}
}

// blockScalarEnd returns the end of a literal or folded block scalar whose
// indicator is at p: the end of its last non-blank content line.
func (f *yamlFile) blockScalarEnd(p int, parentIndent int) int {
	end := f.lineEnd(p)
	// Explicit indentation indicator.
	explicit := 0
	for i := p + 1; i < end && i < p+3; i++ {
		if f.src[i] >= '1' && f.src[i] <= '9' {
			explicit = int(f.src[i] - '0')
		}
	}
	blockIndent := -1
	if explicit > 0 {
		blockIndent = max(parentIndent, 0) + explicit
	}
	pos := f.afterLine(p)
	for pos < len(f.src) {
		le := f.lineEnd(pos)
		line := f.src[pos:le]
		ind := 0
		for ind < len(line) && line[ind] == ' ' {
			ind++
		}
		if ind == len(line) { // blank line
			pos = f.afterLine(pos)
			continue
		}
		if blockIndent < 0 {
			if ind <= parentIndent {
				break
			}
			blockIndent = ind
		}
		if ind < blockIndent {
			break
		}
		end = le
		pos = f.afterLine(pos)
	}
	return end
}

// mapGet returns the key and value nodes of key in mapping m.
func mapGet(m *yaml.Node, key string) (k, v *yaml.Node, idx int) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil, -1
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1], i
		}
	}
	return nil, nil, -1
}

// scalarString returns the value of a scalar child, or "".
func scalarString(m *yaml.Node, key string) string {
	_, v, _ := mapGet(m, key)
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}
