package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// corpusFiles lists every manifest of the golden corpus.
func corpusFiles(t *testing.T) []string {
	var out []string
	err := filepath.WalkDir(filepath.Join("testdata", "repos"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch filepath.Ext(p) {
		case ".yaml", ".yml", ".json":
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 20 {
		t.Fatalf("corpus too small: %d files", len(out))
	}
	return out
}

// TestPreserveScalarEdits sets every single-line scalar of every corpus
// document to a new value and checks that exactly one line changes, and
// that on that line everything before the value (indentation, key, list
// dash) and after it (trailing comment) is byte-for-byte the same.
func TestPreserveScalarEdits(t *testing.T) {
	edits := 0
	for _, file := range corpusFiles(t) {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		yf, err := parseYAMLFile(file, src)
		if err != nil {
			t.Fatal(err)
		}
		for di, c := range yf.docs {
			var paths []FieldPath
			leafPaths(c.root, nil, &paths)
			for _, p := range paths {
				st, _ := yf.lookup(c, p)
				if st == nil || st.node.Kind != yaml.ScalarNode || isEmptyNull(st.node) ||
					st.node.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
					continue
				}
				s0, e0, err := yf.span(c, st.node, st.ctx)
				if err != nil {
					t.Fatalf("%s %s: %v", file, p, err)
				}
				if yf.lineOf(s0) != yf.lineOf(e0) {
					continue
				}
				cur, _ := nodeValue(st.node)
				var nv any
				switch x := cur.(type) {
				case int64:
					nv = x + 1
				case bool:
					nv = !x
				case string:
					nv = x + "-dot"
				default:
					continue
				}
				out, err := editBytes(file, src, docRef{doc: di}, []fieldOp{{path: p, value: nv}})
				if err != nil {
					t.Fatalf("%s %s: %v", file, p, err)
				}
				edits++
				checkOneLine(t, file, p, src, out, s0-yf.lineStart(s0), e0)
				// And the value reads back.
				af, err := parseYAMLFile(file, out)
				if err != nil {
					t.Fatalf("%s %s: output does not parse: %v", file, p, err)
				}
				ast, _ := af.lookup(af.docs[di], p)
				got, _ := nodeValue(ast.node)
				if !valuesEqual(got, nv) {
					t.Fatalf("%s %s: reads back %v, want %v", file, p, got, nv)
				}
			}
		}
	}
	if edits < 150 {
		t.Fatalf("only %d scalar edits exercised", edits)
	}
	t.Logf("%d scalar edits, each changing exactly one line", edits)
}

func checkOneLine(t *testing.T, file string, p FieldPath, src, out []byte, col, valueEnd int) {
	t.Helper()
	a := strings.Split(string(src), "\n")
	b := strings.Split(string(out), "\n")
	if len(a) != len(b) {
		t.Fatalf("%s %s: line count %d -> %d", file, p, len(a), len(b))
	}
	changed := -1
	for i := range a {
		if a[i] != b[i] {
			if changed >= 0 {
				t.Fatalf("%s %s: lines %d and %d both changed", file, p, changed+1, i+1)
			}
			changed = i
		}
	}
	if changed < 0 {
		t.Fatalf("%s %s: nothing changed", file, p)
	}
	before, after := a[changed], b[changed]
	if before[:col] != after[:col] {
		t.Fatalf("%s %s: text before the value changed: %q -> %q", file, p, before, after)
	}
	// The trailing part (comment, flow punctuation) is kept.
	lineStart := 0
	for i := 0; i < changed; i++ {
		lineStart += len(a[i]) + 1
	}
	tail := before[valueEnd-lineStart:]
	if !strings.HasSuffix(after, tail) {
		t.Fatalf("%s %s: text after the value changed: %q -> %q", file, p, before, after)
	}
}

// TestPreserveDeleteKey deletes single-line mapping entries and checks that
// exactly that line goes.
func TestPreserveDeleteKey(t *testing.T) {
	deletes := 0
	for _, file := range corpusFiles(t) {
		if filepath.Ext(file) == ".json" {
			continue
		}
		src, _ := os.ReadFile(file)
		yf, err := parseYAMLFile(file, src)
		if err != nil {
			t.Fatal(err)
		}
		for di, c := range yf.docs {
			var paths []FieldPath
			leafPaths(c.root, nil, &paths)
			for _, p := range paths {
				st, _ := yf.lookup(c, p)
				if st == nil || st.key == nil || st.node.Kind != yaml.ScalarNode || st.parent.node.Style&yaml.FlowStyle != 0 ||
					len(st.parent.node.Content) < 4 || !yf.onlySpaceBefore(yf.start(c, st.key), false) {
					continue
				}
				s0, e0, _ := yf.span(c, st.node, st.ctx)
				if yf.lineOf(s0) != yf.lineOf(e0) {
					continue
				}
				out, err := editBytes(file, src, docRef{doc: di}, []fieldOp{{path: p, del: true}})
				if err != nil {
					t.Fatalf("%s %s: %v", file, p, err)
				}
				deletes++
				line := yf.lineOf(s0)
				a := strings.SplitAfter(string(src), "\n")
				want := strings.Join(append(append([]string(nil), a[:line-1]...), a[line:]...), "")
				if string(out) != want {
					t.Fatalf("%s %s: deleting changed more than line %d\n%s", file, p, line, unifiedDiff(file, src, out))
				}
			}
		}
	}
	if deletes < 50 {
		t.Fatalf("only %d deletes exercised", deletes)
	}
}
