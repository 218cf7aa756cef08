package flux

import (
	"fmt"
	"strings"
)

// Revision is a source revision as Flux writes it in status fields such as
// status.artifact.revision, lastAppliedRevision and lastAttemptedRevision.
//
// Forms understood:
//
//	main@sha1:<sha>        branch (Flux ≥ v2.0); also tags, semver matches
//	v1.0.0@sha1:<sha>      and ref names ("refs/pull/1/head@sha1:<sha>")
//	sha1:<sha>             a commit without a branch
//	main/<sha>             legacy (Flux < v2.0); HEAD/<sha> for a bare commit
//	<sha>                  a bare digest, e.g. from a user or Argo CD
//
// The algorithm may be sha1 or sha256 (SHA-256 Git repositories, OCI
// digests).
type Revision struct {
	// Ref is the branch, tag or ref name; empty when the revision names only a
	// commit.
	Ref string `json:"ref,omitempty"`
	// Algorithm is "sha1" or "sha256"; empty for an abbreviated bare digest.
	Algorithm string `json:"algorithm,omitempty"`
	// Digest is the lower-case hex digest: the commit SHA for Git sources.
	Digest string `json:"digest"`
	// Legacy is true when the revision used the "<ref>/<sha>" form.
	Legacy bool `json:"legacy,omitempty"`
}

// MinAbbrev is the shortest abbreviated SHA dot compares. Git itself accepts
// four characters, but seven is what tools print and what stays unambiguous in
// practice.
const MinAbbrev = 7

// ParseRevision parses a revision in any of the forms Revision lists.
func ParseRevision(s string) (Revision, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Revision{}, fmt.Errorf("parse revision: empty")
	}
	// <ref>@<algo>:<digest>. The digest part never holds "@"; a ref might.
	if at := strings.LastIndex(s, "@"); at >= 0 {
		ref, rest := s[:at], s[at+1:]
		algo, dig, ok := splitDigest(rest)
		if !ok || ref == "" {
			return Revision{}, fmt.Errorf("parse revision %q: want <ref>@<algorithm>:<hex digest>", s)
		}
		return Revision{Ref: ref, Algorithm: algo, Digest: dig}, nil
	}
	if algo, dig, ok := splitDigest(s); ok {
		return Revision{Algorithm: algo, Digest: dig}, nil
	}
	// Legacy <ref>/<sha>: the last path segment is a full digest.
	if i := strings.LastIndex(s, "/"); i > 0 {
		ref, dig := s[:i], strings.ToLower(s[i+1:])
		if algo := algoForLength(len(dig)); algo != "" && isHex(dig) {
			if ref == "HEAD" {
				ref = ""
			}
			return Revision{Ref: ref, Algorithm: algo, Digest: dig, Legacy: true}, nil
		}
		return Revision{}, fmt.Errorf("parse revision %q: legacy form needs a full 40 or 64 character digest after the last '/'", s)
	}
	if d := strings.ToLower(s); isHex(d) && len(d) >= MinAbbrev && len(d) <= 64 {
		return Revision{Algorithm: algoForLength(len(d)), Digest: d}, nil
	}
	return Revision{}, fmt.Errorf("parse revision %q: not a commit revision (want a SHA, <ref>@sha1:<sha> or <ref>/<sha>)", s)
}

// String renders the revision in Flux's current form: "<ref>@<algo>:<digest>",
// "<algo>:<digest>", or the bare digest when the algorithm is unknown.
func (r Revision) String() string {
	d := r.Digest
	if r.Algorithm != "" {
		d = r.Algorithm + ":" + d
	}
	if r.Ref != "" && r.Algorithm != "" {
		return r.Ref + "@" + d
	}
	return d
}

// Short returns the first seven characters of the digest.
func (r Revision) Short() string { return Short(r.Digest) }

// Short abbreviates a hex digest to seven characters; other strings are
// returned unchanged.
func Short(digest string) string {
	if len(digest) > MinAbbrev && isHex(digest) {
		return digest[:MinAbbrev]
	}
	return digest
}

// CommitOf returns the digest of a revision in any form ParseRevision
// accepts, and false when s names no commit (a chart version, an empty
// string).
func CommitOf(s string) (string, bool) {
	r, err := ParseRevision(s)
	if err != nil {
		return "", false
	}
	return r.Digest, true
}

// SameCommit reports whether two hex digests name the same commit: equal, or
// one an abbreviation (at least MinAbbrev characters) of the other. Case is
// ignored.
func SameCommit(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	if a == "" || b == "" || !isHex(a) || !isHex(b) {
		return false
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(a) == len(b) {
		return a == b
	}
	return len(a) >= MinAbbrev && strings.HasPrefix(b, a)
}

// ChartVersionCommit returns the commit abbreviation source-controller puts
// into the build metadata of a chart version when a HelmChart built from a
// Git source uses reconcileStrategy Revision ("1.2.3+8a2c64b1a7f0"), and false
// when the version carries none.
func ChartVersionCommit(version string) (string, bool) {
	i := strings.LastIndex(version, "+")
	if i < 0 {
		return "", false
	}
	meta := strings.ToLower(version[i+1:])
	// Helm turns "+" into "_" in some places; the metadata may also hold
	// dot-separated identifiers. Take the last identifier that looks like a SHA.
	parts := strings.FieldsFunc(meta, func(r rune) bool { return r == '.' || r == '_' })
	for j := len(parts) - 1; j >= 0; j-- {
		if p := parts[j]; len(p) >= MinAbbrev && len(p) <= 64 && isHex(p) {
			return p, true
		}
	}
	return "", false
}

func splitDigest(s string) (algo, digest string, ok bool) {
	i := strings.Index(s, ":")
	if i <= 0 {
		return "", "", false
	}
	algo, digest = strings.ToLower(s[:i]), strings.ToLower(s[i+1:])
	for _, r := range algo {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return "", "", false
		}
	}
	if digest == "" || !isHex(digest) {
		return "", "", false
	}
	return algo, digest, true
}

func algoForLength(n int) string {
	switch n {
	case 40:
		return "sha1"
	case 64:
		return "sha256"
	}
	return ""
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') && (r < 'A' || r > 'F') {
			return false
		}
	}
	return true
}
