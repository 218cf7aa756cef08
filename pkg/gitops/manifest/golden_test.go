package manifest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/dot-ai/dot/pkg/kube"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// goldenCase is one entry of testdata/cases.yaml.
type goldenCase struct {
	Name    string         `json:"name"`
	Comment string         `json:"comment"`
	Repo    string         `json:"repo"`
	Source  caseSource     `json:"source"`
	Object  kube.ObjectRef `json:"object"`
	Locate  []string       `json:"locate"`
	Edits   []caseEdit     `json:"edits"`
	Create  *caseCreate    `json:"create"`
	Remove  bool           `json:"remove"`
	Options []string       `json:"options"`
}

type caseSource struct {
	Path             string     `json:"path"`
	Kind             SourceKind `json:"kind"`
	Recurse          bool       `json:"recurse"`
	Include          string     `json:"include"`
	Exclude          string     `json:"exclude"`
	Generate         bool       `json:"generate"`
	DefaultNamespace string     `json:"defaultNamespace"`
	Overrides        *Overrides `json:"overrides"`
}

type caseEdit struct {
	Path         string `json:"path"`
	Value        any    `json:"value"`
	Delete       bool   `json:"delete"`
	Expect       any    `json:"expect"`
	ExpectAbsent bool   `json:"expectAbsent"`
}

type caseCreate struct {
	File     string         `json:"file"`
	Manifest map[string]any `json:"manifest"`
}

func (c goldenCase) source(t testing.TB) Source {
	root, err := filepath.Abs(filepath.Join("testdata", "repos", c.Repo))
	if err != nil {
		t.Fatal(err)
	}
	return Source{Root: root, Path: c.Source.Path, Kind: c.Source.Kind, Recurse: c.Source.Recurse,
		Include: c.Source.Include, Exclude: c.Source.Exclude, GenerateKustomization: c.Source.Generate,
		DefaultNamespace: c.Source.DefaultNamespace, Overrides: c.Source.Overrides}
}

func (c goldenCase) options() []Option {
	var out []Option
	for _, o := range c.Options {
		switch o {
		case "shared":
			out = append(out, WithSharedEdits())
		case "collateral":
			out = append(out, WithCollateral())
		}
	}
	return out
}

func loadCases(t testing.TB) []goldenCase {
	b, err := os.ReadFile(filepath.Join("testdata", "cases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := sigsyaml.UnmarshalStrict(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

var sentinels = []struct {
	name string
	err  error
}{
	{"ErrNotFound", ErrNotFound}, {"ErrAmbiguous", ErrAmbiguous}, {"ErrOutsideRepo", ErrOutsideRepo},
	{"ErrConflict", ErrConflict}, {"ErrPlainSecret", ErrPlainSecret}, {"ErrEncrypted", ErrEncrypted},
	{"ErrOwnerOverride", ErrOwnerOverride}, {"ErrShared", ErrShared}, {"ErrUnsafePath", ErrUnsafePath},
	{"ErrVerify", ErrVerify}, {"ErrUnsupported", ErrUnsupported}, {"ErrExists", ErrExists},
}

func describeErr(root string, err error) string {
	var names []string
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			names = append(names, s.name)
		}
	}
	msg := strings.ReplaceAll(err.Error(), root, "<repo>")
	return fmt.Sprintf("error (%s): %s\n", strings.Join(names, ", "), msg)
}

// runCase renders everything a case shows: the locate answer with the
// layer of each field, then the plan with its exact diff.
func runCase(t testing.TB, c goldenCase) string {
	ctx := context.Background()
	src := c.source(t)
	var b strings.Builder
	if c.Comment != "" {
		fmt.Fprintf(&b, "# %s\n", c.Comment)
	}
	var fields []FieldPath
	for _, f := range c.Locate {
		fields = append(fields, MustParseFieldPath(f))
	}
	if len(fields) > 0 || (len(c.Edits) == 0 && c.Create == nil && !c.Remove) {
		b.WriteString("## locate\n")
		loc, err := Locate(ctx, src, c.Object, fields, c.options()...)
		if err != nil {
			b.WriteString(describeErr(src.Root, err))
		} else {
			b.WriteString(loc.Explain())
			fmt.Fprintf(&b, "definition: layer=%s %s\n", loc.Definition.Layer, at(loc.Definition))
			for _, f := range loc.Fields {
				fmt.Fprintf(&b, "field %s: layer=%s %s\n", f.Field, f.Location.Layer, at(f.Location))
			}
		}
	}
	var res *EditResult
	var err error
	switch {
	case len(c.Edits) > 0:
		b.WriteString("## plan\n")
		var edits []FieldEdit
		for _, e := range c.Edits {
			edits = append(edits, FieldEdit{Path: MustParseFieldPath(e.Path), Value: e.Value, Delete: e.Delete, Expect: e.Expect, ExpectAbsent: e.ExpectAbsent})
		}
		res, err = Plan(ctx, src, c.Object, edits, c.options()...)
	case c.Create != nil:
		b.WriteString("## create\n")
		res, err = PlanCreate(ctx, src, &unstructured.Unstructured{Object: c.Create.Manifest}, c.Create.File, c.options()...)
	case c.Remove:
		b.WriteString("## remove\n")
		res, err = PlanRemove(ctx, src, c.Object, c.options()...)
	default:
		return b.String()
	}
	if err != nil {
		b.WriteString(describeErr(src.Root, err))
		return b.String()
	}
	b.WriteString(res.Explain())
	for _, e := range res.Edits {
		fmt.Fprintf(&b, "edit %s: layer=%s %s\n", e.Field, e.Location.Layer, at(e.Location))
	}
	b.WriteString("## diff\n")
	b.WriteString(res.Diff())
	return b.String()
}

func at(l Location) string {
	s := l.File
	if l.Line > 0 {
		s += fmt.Sprintf(":%d", l.Line)
	}
	if l.File != "" {
		s += fmt.Sprintf(" doc=%d", l.DocumentIndex)
	}
	if l.YAMLPath != "" {
		s += " path=" + l.YAMLPath
	}
	return strings.TrimSpace(s)
}

// TestGolden runs every case of testdata/cases.yaml and compares the
// located layers and the planned diff with testdata/golden/<name>.golden.
// Regenerate with: go test ./pkg/gitops/manifest -run TestGolden -update
func TestGolden(t *testing.T) {
	for _, c := range loadCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			got := runCase(t, c)
			path := filepath.Join("testdata", "golden", c.Name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if got != string(want) {
				t.Errorf("golden mismatch for %s\n--- got ---\n%s\n--- want ---\n%s", c.Name, got, want)
			}
		})
	}
}
