package manifest

import (
	"fmt"
	"strconv"
	"strings"
)

// PathElem is one step of a FieldPath: a mapping key, a list item selected
// by the value of one of its fields (a merge key such as a container's name),
// or a list position.
type PathElem struct {
	// Key selects a mapping entry.
	Key string
	// MatchKey and MatchValue select the list item whose MatchKey field has
	// the scalar value MatchValue ("containers[name=web]").
	MatchKey, MatchValue string
	// Index selects a list item by position; -1 when unused.
	Index int
}

// IsKey reports whether e selects a mapping entry.
func (e PathElem) IsKey() bool { return e.MatchKey == "" && e.Index < 0 }

// IsMatch reports whether e selects a list item by key.
func (e PathElem) IsMatch() bool { return e.MatchKey != "" }

// IsIndex reports whether e selects a list item by position.
func (e PathElem) IsIndex() bool { return e.MatchKey == "" && e.Index >= 0 }

// FieldPath addresses a field inside an object, e.g.
// spec.template.spec.containers[name=web].image. Keys holding dots or
// brackets are written in brackets and quotes: metadata.labels["app.kubernetes.io/name"].
type FieldPath []PathElem

// Key returns a PathElem selecting a mapping key.
func Key(k string) PathElem { return PathElem{Key: k, Index: -1} }

// Match returns a PathElem selecting the list item whose field key equals value.
func Match(key, value string) PathElem { return PathElem{MatchKey: key, MatchValue: value, Index: -1} }

// Index returns a PathElem selecting the list item at position i.
func Index(i int) PathElem { return PathElem{Index: i} }

// ParseFieldPath parses the textual form of a field path.
func ParseFieldPath(s string) (FieldPath, error) {
	var p FieldPath
	i := 0
	expectKey := true
	for i < len(s) {
		switch c := s[i]; {
		case c == '.':
			if expectKey {
				return nil, fmt.Errorf("parse field path %q: empty key at %d", s, i)
			}
			expectKey = true
			i++
		case c == '[':
			end, elem, err := parseBracket(s, i)
			if err != nil {
				return nil, err
			}
			p = append(p, elem)
			i = end
			expectKey = false
		default:
			if !expectKey {
				return nil, fmt.Errorf("parse field path %q: missing '.' at %d", s, i)
			}
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			p = append(p, Key(s[i:j]))
			i = j
			expectKey = false
		}
	}
	if len(p) == 0 || (expectKey && len(s) > 0) {
		return nil, fmt.Errorf("parse field path %q: empty path or trailing '.'", s)
	}
	return p, nil
}

func parseBracket(s string, i int) (int, PathElem, error) {
	j := i + 1
	if j < len(s) && (s[j] == '"' || s[j] == '\'') {
		q := s[j]
		k := strings.IndexByte(s[j+1:], q)
		if k < 0 || j+1+k+1 >= len(s) || s[j+1+k+1] != ']' {
			return 0, PathElem{}, fmt.Errorf("parse field path %q: bad quoted key at %d", s, i)
		}
		return j + 1 + k + 2, Key(s[j+1 : j+1+k]), nil
	}
	k := strings.IndexByte(s[j:], ']')
	if k < 0 {
		return 0, PathElem{}, fmt.Errorf("parse field path %q: unclosed '[' at %d", s, i)
	}
	inner := s[j : j+k]
	end := j + k + 1
	if eq := strings.IndexByte(inner, '='); eq >= 0 {
		key, val := inner[:eq], inner[eq+1:]
		if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0] {
			val = val[1 : len(val)-1]
		}
		if key == "" {
			return 0, PathElem{}, fmt.Errorf("parse field path %q: empty match key at %d", s, i)
		}
		return end, Match(key, val), nil
	}
	n, err := strconv.Atoi(inner)
	if err != nil || n < 0 {
		return 0, PathElem{}, fmt.Errorf("parse field path %q: %q is neither an index nor key=value", s, inner)
	}
	return end, Index(n), nil
}

// MustParseFieldPath is ParseFieldPath for constant paths; it panics on error.
func MustParseFieldPath(s string) FieldPath {
	p, err := ParseFieldPath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String renders the path in the form ParseFieldPath reads.
func (p FieldPath) String() string {
	var b strings.Builder
	for i, e := range p {
		switch {
		case e.IsMatch():
			fmt.Fprintf(&b, "[%s=%s]", e.MatchKey, e.MatchValue)
		case e.IsIndex():
			fmt.Fprintf(&b, "[%d]", e.Index)
		default:
			if strings.ContainsAny(e.Key, ".[]") || e.Key == "" {
				fmt.Fprintf(&b, "[%q]", e.Key)
				continue
			}
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e.Key)
		}
	}
	return b.String()
}

// Append returns a new path with elems added.
func (p FieldPath) Append(elems ...PathElem) FieldPath {
	out := make(FieldPath, 0, len(p)+len(elems))
	return append(append(out, p...), elems...)
}

// HasPrefix reports whether q is a prefix of p.
func (p FieldPath) HasPrefix(q FieldPath) bool {
	if len(q) > len(p) {
		return false
	}
	for i := range q {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// Equal reports whether p and q are the same path.
func (p FieldPath) Equal(q FieldPath) bool { return len(p) == len(q) && p.HasPrefix(q) }

// last returns the last key of p, or "".
func (p FieldPath) lastKey() string {
	if len(p) == 0 || !p[len(p)-1].IsKey() {
		return ""
	}
	return p[len(p)-1].Key
}

// mergeKeys lists the fields that identify items of well-known lists, by the
// name of the list. These are the strategic-merge keys of the Kubernetes
// types dot edits most.
var mergeKeys = map[string]string{
	"containers":          "name",
	"initContainers":      "name",
	"ephemeralContainers": "name",
	"env":                 "name",
	"volumes":             "name",
	"volumeMounts":        "mountPath",
	"ports":               "containerPort",
	"imagePullSecrets":    "name",
	"hostAliases":         "ip",
	"tolerations":         "key",
	"images":              "name", // kustomization images:
	"replicas":            "name", // kustomization replicas:
}

// mergeKeyFor returns the item key of list field, or "".
func mergeKeyFor(list string) string { return mergeKeys[list] }
