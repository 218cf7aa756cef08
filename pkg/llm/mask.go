package llm

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Masker replaces identifying and secret values by placeholders before a
// prompt is sent, and restores them in the answer. Names, namespaces and
// label values are registered with Add; secret-looking values (keys of the
// form password=..., tokens, long random strings) are found by Mask
// itself. The same value always gets the same placeholder, so the model
// can still tell objects apart.
type Masker struct {
	toPlaceholder map[string]string
	toValue       map[string]string
	counts        map[string]int
}

// NewMasker returns an empty masker.
func NewMasker() *Masker {
	return &Masker{toPlaceholder: map[string]string{}, toValue: map[string]string{}, counts: map[string]int{}}
}

// Add registers values of a kind ("name", "namespace", "label", ...).
// Empty values and values of one or two characters are ignored: masking
// them would mangle ordinary words.
func (m *Masker) Add(kind string, values ...string) {
	for _, v := range values {
		if len(v) < 3 {
			continue
		}
		m.placeholder(kind, v)
	}
}

func (m *Masker) placeholder(kind, v string) string {
	if p, ok := m.toPlaceholder[v]; ok {
		return p
	}
	m.counts[kind]++
	p := fmt.Sprintf("<%s-%d>", kind, m.counts[kind])
	m.toPlaceholder[v], m.toValue[p] = p, v
	return p
}

var (
	// secretAssignment is key=value or key: value with a secret-looking key.
	secretAssignment = regexp.MustCompile(`(?i)\b([a-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|private[_-]?key|credential)[a-z0-9_.-]*)(["']?\s*[:=]\s*["']?)([^\s"',;]+)`)
	// tokenLike is a long run of letters and digits (base64, hex, JWT).
	tokenLike = regexp.MustCompile(`\b(?:eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+|[A-Za-z0-9+/_-]{32,}={0,2})`)
)

// Mask returns s with registered values and secret-looking values
// replaced by placeholders.
func (m *Masker) Mask(s string) string {
	s = secretAssignment.ReplaceAllStringFunc(s, func(match string) string {
		sub := secretAssignment.FindStringSubmatch(match)
		return sub[1] + sub[2] + m.placeholder("secret", sub[3])
	})
	s = tokenLike.ReplaceAllStringFunc(s, func(match string) string {
		if !hasDigitAndLetter(match) {
			return match // a long word, not a token
		}
		return m.placeholder("secret", match)
	})
	// Longest first, so "web-api" is not masked as "<name-1>-api".
	values := make([]string, 0, len(m.toPlaceholder))
	for v := range m.toPlaceholder {
		values = append(values, v)
	}
	sort.Slice(values, func(i, j int) bool {
		if len(values[i]) != len(values[j]) {
			return len(values[i]) > len(values[j])
		}
		return values[i] < values[j]
	})
	for _, v := range values {
		s = replaceToken(s, v, m.toPlaceholder[v])
	}
	return s
}

// replaceToken replaces v where it is not part of a longer name (a
// neighbouring letter, digit or '-'; '_' separates, as in the kubelet's
// "<pod>_<namespace>(<uid>)": Kubernetes names have none).
func replaceToken(s, v, p string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, v)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		before, after := i > 0 && isNameByte(s[i-1]), i+len(v) < len(s) && isNameByte(s[i+len(v)])
		b.WriteString(s[:i])
		if before || after {
			b.WriteString(v)
		} else {
			b.WriteString(p)
		}
		s = s[i+len(v):]
	}
}

func isNameByte(c byte) bool {
	return c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func hasDigitAndLetter(s string) bool {
	d, l := false, false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			d = true
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			l = true
		}
	}
	return d && l
}

// secretName matches names of variables and keys whose values are secret.
var secretName = regexp.MustCompile(`(?i)(password|passwd|secret|token|api[_-]?key|private[_-]?key|credential)`)

// SecretName reports whether a variable or key name says its value is
// secret (DB_PASSWORD, api-key, ...).
func SecretName(name string) bool { return secretName.MatchString(name) }

// HasSecret reports whether s holds a secret-looking value: a secret
// assignment or a long token.
func HasSecret(s string) bool {
	if secretAssignment.MatchString(s) {
		return true
	}
	for _, t := range tokenLike.FindAllString(s, -1) {
		if hasDigitAndLetter(t) {
			return true
		}
	}
	return false
}

// Unmask restores the values of the placeholders in s.
func (m *Masker) Unmask(s string) string {
	if !strings.Contains(s, "<") {
		return s
	}
	placeholders := make([]string, 0, len(m.toValue))
	for p := range m.toValue {
		placeholders = append(placeholders, p)
	}
	// "<name-12>" before "<name-1>".
	sort.Slice(placeholders, func(i, j int) bool { return len(placeholders[i]) > len(placeholders[j]) })
	for _, p := range placeholders {
		s = strings.ReplaceAll(s, p, m.toValue[p])
	}
	return s
}

// UnmaskValue restores placeholders in every string of a decoded JSON
// value (maps, lists, strings), in place where possible.
func (m *Masker) UnmaskValue(v any) any {
	switch x := v.(type) {
	case string:
		return m.Unmask(x)
	case map[string]any:
		for k, e := range x {
			x[k] = m.UnmaskValue(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = m.UnmaskValue(e)
		}
		return x
	}
	return v
}
