package flux

import (
	"strings"
	"testing"
)

const (
	sha1a = "8a2c64b1a7f0e2f3d4c5b6a79881726354a0b1c2"
	sha2a = "5f0c6d1e2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5"
)

func TestParseRevision(t *testing.T) {
	tests := []struct {
		in      string
		want    Revision
		wantErr string
	}{
		{in: "main@sha1:" + sha1a, want: Revision{Ref: "main", Algorithm: "sha1", Digest: sha1a}},
		{in: "feature/login@sha1:" + sha1a, want: Revision{Ref: "feature/login", Algorithm: "sha1", Digest: sha1a}},
		{in: "v1.0.0@sha1:" + sha1a, want: Revision{Ref: "v1.0.0", Algorithm: "sha1", Digest: sha1a}},
		{in: "refs/pull/12/head@sha1:" + sha1a, want: Revision{Ref: "refs/pull/12/head", Algorithm: "sha1", Digest: sha1a}},
		{in: "sha1:" + sha1a, want: Revision{Algorithm: "sha1", Digest: sha1a}},
		{in: "main@sha256:" + sha2a, want: Revision{Ref: "main", Algorithm: "sha256", Digest: sha2a}},
		{in: "latest@sha256:" + sha2a, want: Revision{Ref: "latest", Algorithm: "sha256", Digest: sha2a}},
		{in: "main/" + sha1a, want: Revision{Ref: "main", Algorithm: "sha1", Digest: sha1a, Legacy: true}},
		{in: "feature/login/" + sha1a, want: Revision{Ref: "feature/login", Algorithm: "sha1", Digest: sha1a, Legacy: true}},
		{in: "HEAD/" + sha1a, want: Revision{Algorithm: "sha1", Digest: sha1a, Legacy: true}},
		{in: sha1a, want: Revision{Algorithm: "sha1", Digest: sha1a}},
		{in: strings.ToUpper(sha1a), want: Revision{Algorithm: "sha1", Digest: sha1a}},
		{in: "  main@SHA1:" + strings.ToUpper(sha1a) + "\n", want: Revision{Ref: "main", Algorithm: "sha1", Digest: sha1a}},
		{in: "8a2c64b", want: Revision{Digest: "8a2c64b"}},
		{in: "", wantErr: "empty"},
		{in: "main", wantErr: "not a commit revision"},
		{in: "8a2c6", wantErr: "not a commit revision"},
		{in: "1.2.3", wantErr: "not a commit revision"},
		{in: "main/8a2c64b", wantErr: "legacy form needs a full"},
		{in: "main@" + sha1a, wantErr: "want <ref>@<algorithm>:<hex digest>"},
		{in: "@sha1:" + sha1a, wantErr: "want <ref>@<algorithm>:<hex digest>"},
		{in: "main@sha1:xyz", wantErr: "want <ref>@<algorithm>:<hex digest>"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRevision(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRevision(%q) = %+v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRevision(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseRevision(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestRevisionString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"main@sha1:" + sha1a, "main@sha1:" + sha1a},
		{"main/" + sha1a, "main@sha1:" + sha1a},
		{"HEAD/" + sha1a, "sha1:" + sha1a},
		{"sha1:" + sha1a, "sha1:" + sha1a},
		{"8a2c64b", "8a2c64b"},
	}
	for _, tt := range tests {
		r, err := ParseRevision(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.String(); got != tt.want {
			t.Errorf("ParseRevision(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		if got := r.Short(); got != sha1a[:7] {
			t.Errorf("Short() = %q", got)
		}
	}
}

func TestSameCommit(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{sha1a, sha1a, true},
		{sha1a, strings.ToUpper(sha1a), true},
		{sha1a[:7], sha1a, true},
		{sha1a, sha1a[:12], true},
		{sha1a[:6], sha1a, false}, // too short to trust
		{sha1a[:7], "8a2c64c" + sha1a[7:], false},
		{sha1a, "0" + sha1a[1:], false},
		{sha1a[:8], sha1a[:9], true},
		{"", sha1a, false},
		{"main", "main", false},
	}
	for _, tt := range tests {
		if got := SameCommit(tt.a, tt.b); got != tt.want {
			t.Errorf("SameCommit(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestCommitOf(t *testing.T) {
	for in, want := range map[string]string{
		"main@sha1:" + sha1a: sha1a,
		"main/" + sha1a:      sha1a,
		sha1a:                sha1a,
		"1.2.3":              "",
		"":                   "",
	} {
		got, ok := CommitOf(in)
		if got != want || ok != (want != "") {
			t.Errorf("CommitOf(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestChartVersionCommit(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"6.5.4+8a2c64b1a7f0", "8a2c64b1a7f0"},
		{"6.5.4+" + sha1a, sha1a},
		{"1.0.0-rc.1+build.8a2c64b1a7f0", "8a2c64b1a7f0"},
		{"6.5.4", ""},
		{"6.5.4+build", ""},
		{"6.5.4+abc12", ""}, // shorter than MinAbbrev
	}
	for _, tt := range tests {
		got, ok := ChartVersionCommit(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("ChartVersionCommit(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func FuzzParseRevision(f *testing.F) {
	for _, s := range []string{"main@sha1:" + sha1a, "main/" + sha1a, "sha1:" + sha1a, sha1a, "a@b:c", "/", "@", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRevision(s)
		if err != nil {
			return
		}
		if r.Digest == "" || !isHex(r.Digest) || strings.ToLower(r.Digest) != r.Digest {
			t.Fatalf("ParseRevision(%q) = %+v: digest must be lower-case hex", s, r)
		}
		// The canonical form parses back to the same commit.
		back, err := ParseRevision(r.String())
		if err != nil || back.Digest != r.Digest || back.Ref != r.Ref {
			t.Fatalf("round trip of %q via %q = %+v, %v", s, r.String(), back, err)
		}
	})
}
