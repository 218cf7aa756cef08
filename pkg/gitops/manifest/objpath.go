package manifest

import (
	"fmt"
	"strconv"
)

// Helpers for FieldPaths over the JSON data model (map[string]any, []any).

func scalarKey(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// getPath returns the value at p.
func getPath(v any, p FieldPath) (any, bool) {
	cur := v
	for _, e := range p {
		switch {
		case e.IsKey():
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			cur, ok = m[e.Key]
			if !ok {
				return nil, false
			}
		case e.IsMatch():
			l, ok := cur.([]any)
			if !ok {
				return nil, false
			}
			i := matchIndex(l, e)
			if i < 0 {
				return nil, false
			}
			cur = l[i]
		default:
			l, ok := cur.([]any)
			if !ok || e.Index >= len(l) {
				return nil, false
			}
			cur = l[e.Index]
		}
	}
	return cur, true
}

func matchIndex(l []any, e PathElem) int {
	for i, it := range l {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		if s, ok := scalarKey(m[e.MatchKey]); ok && s == e.MatchValue {
			return i
		}
	}
	return -1
}

// setPathModel sets p to val in v (a map), creating what is missing the
// way the editor does. It returns the new root.
func setPathModel(v any, p FieldPath, val any) (any, error) {
	if len(p) == 0 {
		return val, nil
	}
	e := p[0]
	switch {
	case e.IsKey():
		m, ok := v.(map[string]any)
		if v == nil {
			m, ok = map[string]any{}, true
		}
		if !ok {
			return nil, fmt.Errorf("%s: not a mapping", e.Key)
		}
		child, err := setPathModel(m[e.Key], p[1:], val)
		if err != nil {
			return nil, err
		}
		m[e.Key] = child
		return m, nil
	case e.IsMatch():
		l, ok := v.([]any)
		if v == nil {
			l, ok = []any{}, true
		}
		if !ok {
			return nil, fmt.Errorf("[%s=%s]: not a list", e.MatchKey, e.MatchValue)
		}
		i := matchIndex(l, e)
		if i < 0 {
			item := map[string]any{e.MatchKey: matchValue(e)}
			child, err := setPathModel(item, p[1:], val)
			if err != nil {
				return nil, err
			}
			if cm, ok := child.(map[string]any); ok {
				cm[e.MatchKey] = matchValue(e)
			}
			return append(l, child), nil
		}
		child, err := setPathModel(l[i], p[1:], val)
		if err != nil {
			return nil, err
		}
		l[i] = child
		return l, nil
	default:
		l, ok := v.([]any)
		if !ok || e.Index >= len(l) {
			return nil, fmt.Errorf("[%d]: no such item", e.Index)
		}
		child, err := setPathModel(l[e.Index], p[1:], val)
		if err != nil {
			return nil, err
		}
		l[e.Index] = child
		return l, nil
	}
}

// deletePathModel removes p from v; a collection emptied by the removal
// stays, empty.
func deletePathModel(v any, p FieldPath) any {
	if len(p) == 0 {
		return v
	}
	e := p[0]
	last := len(p) == 1
	switch {
	case e.IsKey():
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		if last {
			delete(m, e.Key)
			return m
		}
		if c, ok := m[e.Key]; ok {
			m[e.Key] = deletePathModel(c, p[1:])
		}
		return m
	default:
		l, ok := v.([]any)
		if !ok {
			return v
		}
		i := e.Index
		if e.IsMatch() {
			i = matchIndex(l, e)
		}
		if i < 0 || i >= len(l) {
			return v
		}
		if last {
			return append(append([]any{}, l[:i]...), l[i+1:]...)
		}
		l[i] = deletePathModel(l[i], p[1:])
		return l
	}
}

// deepCopy copies a JSON-model value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// diffPaths lists the paths at which a and b differ (up to limit).
func diffPaths(a, b any, prefix string, limit int) []string {
	var out []string
	var walk func(a, b any, p string)
	walk = func(a, b any, p string) {
		if len(out) >= limit {
			return
		}
		am, aok := a.(map[string]any)
		bm, bok := b.(map[string]any)
		if aok && bok {
			keys := map[string]bool{}
			for k := range am {
				keys[k] = true
			}
			for k := range bm {
				keys[k] = true
			}
			for _, k := range sortedKeys(keys) {
				walk(am[k], bm[k], p+"."+k)
			}
			return
		}
		al, aok := a.([]any)
		bl, bok := b.([]any)
		if aok && bok && len(al) == len(bl) {
			for i := range al {
				walk(al[i], bl[i], fmt.Sprintf("%s[%d]", p, i))
			}
			return
		}
		if !valuesEqual(a, b) {
			out = append(out, fmt.Sprintf("%s: %s -> %s", trimDot(p), short(a), short(b)))
		}
	}
	walk(a, b, prefix)
	return out
}

func trimDot(s string) string {
	if len(s) > 0 && s[0] == '.' {
		return s[1:]
	}
	return s
}

func short(v any) string {
	if v == nil {
		return "<absent>"
	}
	s := fmt.Sprintf("%v", v)
	if str, ok := v.(string); ok {
		s = strconv.Quote(str)
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}
