package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// normalizeValue converts any Go value into the JSON data model
// (nil, bool, int64, float64, string, map[string]any, []any), which is what
// the editor renders and what verification compares.
func normalizeValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, int64:
		return x, nil
	case float64:
		// Numbers decoded from JSON or YAML arrive as float64; integral
		// ones are integers to Kubernetes (replicas: 3, not 3.0).
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), nil
		}
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case float32:
		return float64(x), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("normalize value %v: %w", v, err)
	}
	return decodeJSONValue(b)
}

func decodeJSONValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return fixNumbers(out), nil
}

func fixNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f)
		}
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = fixNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = fixNumbers(e)
		}
	}
	return v
}

// valuesEqual compares two values of the JSON data model, treating integral
// floats and ints as equal.
func valuesEqual(a, b any) bool {
	na, err1 := normalizeValue(a)
	nb, err2 := normalizeValue(b)
	if err1 != nil || err2 != nil {
		return reflect.DeepEqual(a, b)
	}
	return reflect.DeepEqual(canonNum(na), canonNum(nb))
}

func canonNum(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonNum(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonNum(e)
		}
		return out
	}
	return v
}

func isScalarValue(v any) bool {
	switch v.(type) {
	case map[string]any, []any, omap:
		return false
	}
	return true
}

// renderScalar renders a scalar value. style is the style of the scalar it
// replaces (kept for strings), flow tells whether it sits in a flow
// collection, jsonSyntax whether the file is JSON.
func renderScalar(v any, style yaml.Style, flow, jsonSyntax bool) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if jsonSyntax {
			return s
		}
		switch {
		case math.IsInf(x, 1):
			return ".inf"
		case math.IsInf(x, -1):
			return "-.inf"
		case math.IsNaN(x):
			return ".nan"
		}
		return s
	case string:
		switch {
		case jsonSyntax, style&yaml.DoubleQuotedStyle != 0:
			return doubleQuote(x)
		case style&yaml.SingleQuotedStyle != 0:
			if strings.ContainsAny(x, "\n\r\t") || !isPrintable(x) {
				return doubleQuote(x)
			}
			return "'" + strings.ReplaceAll(x, "'", "''") + "'"
		}
		if plainSafe(x, flow) {
			return x
		}
		return doubleQuote(x)
	}
	return doubleQuote(fmt.Sprint(v))
}

func doubleQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimRight(b.String(), "\n")
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfeff {
			return false
		}
	}
	return true
}

// plainSafe reports whether s can be written as a plain (unquoted) scalar
// that reads back as the same string under both YAML 1.2 (kustomize,
// yaml.v3) and YAML 1.1 (sigs.k8s.io/yaml as used by kubectl, Argo CD):
// "yes", "on", "1.20", "0755", "null", "~", timestamps and the like are not.
func plainSafe(s string, flow bool) bool {
	if s == "" || strings.TrimSpace(s) != s || !isPrintable(s) || strings.ContainsAny(s, "\n\r\t") {
		return false
	}
	if strings.IndexByte("-?:,[]{}#&*!|>'\"%@`", s[0]) >= 0 {
		return false
	}
	if strings.Contains(s, ": ") || strings.Contains(s, " #") || strings.HasSuffix(s, ":") {
		return false
	}
	if flow && strings.ContainsAny(s, ",[]{}") {
		return false
	}
	if s == "=" || s == "<<" {
		return false
	}
	// YAML 1.1 resolves more than YAML 1.2: booleans, sexagesimal numbers,
	// underscores in numbers, octal with a leading 0.
	if looksTyped11(s) {
		return false
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("v: "+s), &n); err != nil {
		return false
	}
	if len(n.Content) != 1 || len(n.Content[0].Content) != 2 {
		return false
	}
	sc := n.Content[0].Content[1]
	if sc.Kind != yaml.ScalarNode || sc.Tag != "!!str" || sc.Value != s {
		return false
	}
	var m map[string]any
	if err := sigsyaml.Unmarshal([]byte("v: "+s), &m); err != nil {
		return false
	}
	got, ok := m["v"].(string)
	return ok && got == s
}

func looksTyped11(s string) bool {
	switch strings.ToLower(s) {
	case "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~", ".inf", "-.inf", "+.inf", ".nan":
		return true
	}
	return sexagesimal.MatchString(s)
}

// sexagesimal matches YAML 1.1 base-60 numbers ("1:20" is 80 to a YAML 1.1
// reader), which neither yaml.v3 nor sigs.k8s.io/yaml resolve but others do.
var sexagesimal = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$`)

// omap is an ordered mapping used when the editor builds new structures, so
// that identifying keys (name, apiVersion, kind, metadata) come first.
type omap []omapEntry

type omapEntry struct {
	Key   string
	Value any
}

// toOrdered converts a JSON-model value into one with ordered mappings.
func toOrdered(v any) any {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			pi, pj := keyPriority(keys[i]), keyPriority(keys[j])
			if pi != pj {
				return pi < pj
			}
			return keys[i] < keys[j]
		})
		out := make(omap, 0, len(keys))
		for _, k := range keys {
			out = append(out, omapEntry{k, toOrdered(x[k])})
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toOrdered(e)
		}
		return out
	case omap:
		out := make(omap, len(x))
		for i, e := range x {
			out[i] = omapEntry{e.Key, toOrdered(e.Value)}
		}
		return out
	}
	return v
}

func keyPriority(k string) int {
	switch k {
	case "apiVersion":
		return 0
	case "kind":
		return 1
	case "metadata":
		return 2
	case "name":
		return 3
	case "$patch":
		return 4
	}
	return 10
}

// blockStyle describes a file's indentation habits.
type blockStyle struct {
	step      int  // spaces per nesting level
	seqIndent bool // "key:\n  - item" (true) or "key:\n- item" (false)
}

// emitBlock renders v (a mapping or list) as block YAML lines indented by
// indent spaces.
func emitBlock(v any, indent int, st blockStyle) []string {
	pad := strings.Repeat(" ", indent)
	var lines []string
	switch x := toOrdered(v).(type) {
	case omap:
		for _, e := range x {
			k := renderKey(e.Key, false)
			switch val := e.Value.(type) {
			case omap:
				if len(val) == 0 {
					lines = append(lines, pad+k+": {}")
					continue
				}
				lines = append(lines, pad+k+":")
				lines = append(lines, emitBlock(val, indent+st.step, st)...)
			case []any:
				if len(val) == 0 {
					lines = append(lines, pad+k+": []")
					continue
				}
				lines = append(lines, pad+k+":")
				si := indent
				if st.seqIndent {
					si += st.step
				}
				lines = append(lines, emitBlock(val, si, st)...)
			default:
				lines = append(lines, pad+k+": "+renderScalar(val, 0, false, false))
			}
		}
	case []any:
		for _, item := range x {
			switch val := item.(type) {
			case omap, []any:
				if isEmptyCollection(val) {
					lines = append(lines, pad+"- "+emptyFlow(val))
					continue
				}
				sub := emitBlock(val, indent+2, st)
				sub[0] = pad + "- " + strings.TrimLeft(sub[0], " ")
				lines = append(lines, sub...)
			default:
				lines = append(lines, pad+"- "+renderScalar(val, 0, false, false))
			}
		}
	default:
		lines = append(lines, pad+renderScalar(x, 0, false, false))
	}
	return lines
}

func isEmptyCollection(v any) bool {
	switch x := v.(type) {
	case omap:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func emptyFlow(v any) string {
	if _, ok := v.([]any); ok {
		return "[]"
	}
	return "{}"
}

// emitFlow renders v in flow (JSON) syntax, keeping key order.
func emitFlow(v any, jsonSyntax bool) string {
	switch x := toOrdered(v).(type) {
	case omap:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = renderKey(e.Key, true) + ": " + emitFlow(e.Value, jsonSyntax)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = emitFlow(e, jsonSyntax)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		if jsonSyntax {
			return renderScalar(x, 0, true, true)
		}
		if s, ok := x.(string); ok {
			return doubleQuote(s)
		}
		return renderScalar(x, 0, true, false)
	}
}

func renderKey(k string, quoted bool) string {
	if quoted {
		return doubleQuote(k)
	}
	if plainSafe(k, false) {
		return k
	}
	return doubleQuote(k)
}
