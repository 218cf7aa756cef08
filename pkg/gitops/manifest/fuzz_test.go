package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Fuzz tests for the editor. Each decodes the document before and after the
// edit and requires: no panic, the output parses, the edited document
// equals the original with exactly the target path changed, and every
// other document is unchanged. They run as normal tests on their seeds;
// run them for longer with e.g.
//
//	go test ./pkg/gitops/manifest -run '^$' -fuzz FuzzEditSet -fuzztime 30s

var fuzzSeeds = []string{
	"a: 1\nb: two # comment\nc:\n  d: [1, 2]\n  e: {f: g}\n",
	"# head\nkind: X\nspec:\n  list:\n  - name: a\n    v: \"q\"\n  - name: b\n    v: 'single'\n",
	"x: |\n  block\n  text\ny: >-\n  folded\n  more\nz: end\n",
	"k: plain\n  continued\nn: ~\nm:\n",
	"---\na: 1\n---\n# second\nb:\n  - 1\n  - 2\n...\n",
	"{\"a\": {\"b\": [1, 2, {\"c\": \"d\"}]}, \"e\": \"f\"}",
	"a:\r\n  b: 1\r\n  c: [x, y]\r\n",
	"é: ü # ä\nlist: [a, 'b', \"c\"]\n",
	"seq:\n- - nested\n  - x\n- y\n",
	"m: {a: 1, b: {c: 2}}\nq: \"x\\ny\"\n",
	"top:\n    deep:\n        deeper: 1\n    other: 2\n",
}

func fuzzCorpus(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), uint16(0), "new-value")
		f.Add([]byte(s), uint16(3), "yes")
		f.Add([]byte(s), uint16(7), "1.20")
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "repos", "*", "*", "*.y*ml"))
	more, _ := filepath.Glob(filepath.Join("testdata", "repos", "*", "*", "*", "*.y*ml"))
	for i, p := range append(files, more...) {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b, uint16(i*5), "0755")
		}
	}
}

// fuzzDoc parses src and returns a document and its decoded value, or
// false when the input is not something the editor promises to handle.
func fuzzDoc(src []byte, pick uint16) (*yamlFile, int, any, bool) {
	yf, err := parseYAMLFile("fuzz.yaml", src)
	if err != nil || len(yf.docs) == 0 {
		return nil, 0, nil, false
	}
	di := int(pick) % len(yf.docs)
	v, ok := decodeDoc(yf, di)
	if !ok {
		return nil, 0, nil, false
	}
	return yf, di, v, true
}

func decodeDoc(yf *yamlFile, di int) (any, bool) {
	var v any
	if err := yf.docs[di].root.Decode(&v); err != nil {
		return nil, false
	}
	nv, err := normalizeValue(v)
	if err != nil {
		return nil, false
	}
	return nv, true
}

// leafPaths lists paths to nodes of a document through plain mappings and
// lists (no aliases, anchors or merge keys), scalars and collections.
func leafPaths(n *yaml.Node, prefix FieldPath, out *[]FieldPath) {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		return
	}
	if len(prefix) > 0 {
		*out = append(*out, prefix)
	}
	switch n.Kind {
	case yaml.MappingNode:
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Value == "<<" || seen[k.Value] {
				return
			}
			seen[k.Value] = true
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			leafPaths(n.Content[i+1], prefix.Append(Key(n.Content[i].Value)), out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			leafPaths(c, prefix.Append(Index(i)), out)
		}
	}
}

func fuzzValue(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && strconv.FormatInt(n, 10) == s {
		return n
	}
	if s == "true" || s == "false" {
		return s == "true"
	}
	return s
}

// checkEdit verifies an edit's output against the expected model.
func checkEdit(t *testing.T, src, out []byte, di int, want any) {
	t.Helper()
	after, err := parseYAMLFile("fuzz.yaml", out)
	if err != nil {
		t.Fatalf("output does not parse: %v\n--- input\n%s\n--- output\n%s", err, src, out)
	}
	before, _ := parseYAMLFile("fuzz.yaml", src)
	if len(after.docs) != len(before.docs) {
		t.Fatalf("document count changed %d -> %d\n--- output\n%s", len(before.docs), len(after.docs), out)
	}
	got, ok := decodeDoc(after, di)
	if !ok {
		t.Fatalf("output document does not decode\n--- output\n%s", out)
	}
	if !valuesEqual(got, want) {
		t.Fatalf("edited document differs beyond the target:\n%v\n--- input\n%s\n--- output\n%s",
			diffPaths(want, got, "", 5), src, out)
	}
	for i := range before.docs {
		if i == di {
			continue
		}
		b, ok1 := decodeDoc(before, i)
		a, ok2 := decodeDoc(after, i)
		if ok1 != ok2 || !valuesEqual(a, b) {
			t.Fatalf("document %d changed\n--- output\n%s", i, out)
		}
	}
}

func acceptableEditError(err error) bool {
	return errors.Is(err, ErrUnsupported) || errors.Is(err, ErrAmbiguous)
}

func FuzzEditSet(f *testing.F) {
	fuzzCorpus(f)
	f.Fuzz(func(t *testing.T, src []byte, pick uint16, value string) {
		yf, di, before, ok := fuzzDoc(src, pick)
		if !ok || !isPrintable(value) {
			return
		}
		var paths []FieldPath
		leafPaths(yf.docs[di].root, nil, &paths)
		if len(paths) == 0 {
			return
		}
		p := paths[int(pick)%len(paths)]
		v := fuzzValue(value)
		out, err := editBytes("fuzz.yaml", src, docRef{doc: di}, []fieldOp{{path: p, value: v}})
		if err != nil {
			if acceptableEditError(err) {
				return
			}
			t.Fatalf("set %s: %v\n--- input\n%s", p, err, src)
		}
		want, err := setPathModel(deepCopy(before), p, v)
		if err != nil {
			t.Fatal(err)
		}
		checkEdit(t, src, out, di, want)
	})
}

func FuzzEditDelete(f *testing.F) {
	fuzzCorpus(f)
	f.Fuzz(func(t *testing.T, src []byte, pick uint16, _ string) {
		yf, di, before, ok := fuzzDoc(src, pick)
		if !ok {
			return
		}
		var paths []FieldPath
		leafPaths(yf.docs[di].root, nil, &paths)
		if len(paths) == 0 {
			return
		}
		p := paths[int(pick)%len(paths)]
		out, err := editBytes("fuzz.yaml", src, docRef{doc: di}, []fieldOp{{path: p, del: true}})
		if err != nil {
			if acceptableEditError(err) {
				return
			}
			t.Fatalf("delete %s: %v\n--- input\n%s", p, err, src)
		}
		checkEdit(t, src, out, di, deletePathModel(deepCopy(before), p))
	})
}

func FuzzEditInsert(f *testing.F) {
	fuzzCorpus(f)
	f.Fuzz(func(t *testing.T, src []byte, pick uint16, value string) {
		yf, di, before, ok := fuzzDoc(src, pick)
		if !ok || !isPrintable(value) {
			return
		}
		// Insert a new key (with a nested level) under a mapping, or a new
		// keyed item into a list of mappings.
		var paths []FieldPath
		leafPaths(yf.docs[di].root, nil, &paths)
		paths = append(paths, nil)
		p := paths[int(pick)%len(paths)]
		cur, _ := getPath(before, p)
		var target FieldPath
		switch x := cur.(type) {
		case map[string]any:
			target = p.Append(Key("dot-new-key"), Key("inner"))
		case []any:
			if len(x) > 0 {
				if _, ok := x[0].(map[string]any); !ok {
					return
				}
			}
			target = p.Append(Match("dotname", "fresh"), Key("inner"))
		default:
			return
		}
		if strings.Contains(p.String(), "dot-new-key") {
			return
		}
		v := fuzzValue(value)
		out, err := editBytes("fuzz.yaml", src, docRef{doc: di}, []fieldOp{{path: target, value: v}})
		if err != nil {
			if acceptableEditError(err) {
				return
			}
			t.Fatalf("insert %s: %v\n--- input\n%s", target, err, src)
		}
		want, err := setPathModel(deepCopy(before), target, v)
		if err != nil {
			t.Fatal(err)
		}
		checkEdit(t, src, out, di, want)
	})
}
