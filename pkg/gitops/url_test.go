package gitops

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeRepoURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://github.com/acme/shop.git", "https://github.com/acme/shop"},
		{"https://GitHub.com/acme/shop/", "https://github.com/acme/shop"},
		{"HTTPS://github.com:443/acme/shop.git/", "https://github.com/acme/shop"},
		{"http://127.0.0.1:8080/repos/shop.git", "http://127.0.0.1:8080/repos/shop"},
		{"git@github.com:acme/shop.git", "ssh://git@github.com/acme/shop"},
		{"github.com:acme/shop", "ssh://github.com/acme/shop"},
		{"ssh://git@github.com:22/acme/shop.git", "ssh://git@github.com/acme/shop"},
		{"ssh://git@git.example.com:2222/acme/shop", "ssh://git@git.example.com:2222/acme/shop"},
		{"/srv/git/shop.git", "file:///srv/git/shop"},
		{"https://dev.azure.com/org/proj/_git/repo?x=1#frag", "https://dev.azure.com/org/proj/_git/repo"},
		{"http://[::1]:8080/shop.git", "http://[::1]:8080/shop"},
	}
	for _, tc := range cases {
		got, err := NormalizeRepoURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeRepoURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNormalizeRepoURLRefusesCredentials(t *testing.T) {
	for _, in := range []string{
		"https://user:s3cr3t@github.com/acme/shop.git",
		"https://ghp_token123@github.com/acme/shop.git",
		"ssh://git:s3cr3t@github.com/acme/shop",
	} {
		_, err := NormalizeRepoURL(in)
		if !errors.Is(err, ErrCredentialsInURL) {
			t.Errorf("%q: err = %v, want ErrCredentialsInURL", in, err)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "ghp_token123") {
			t.Errorf("%q: the error leaks the secret: %v", in, err)
		}
	}
}

func TestNormalizeRepoURLErrors(t *testing.T) {
	for _, in := range []string{"", "ftp://host/repo", "not a url", "#0000:000", "https:///path", "ssh://:22/x", "ssh://::", "https://bad host/x"} {
		if _, err := NormalizeRepoURL(in); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
}

func TestSameRepo(t *testing.T) {
	same := [][2]string{
		{"https://github.com/acme/shop.git", "git@github.com:acme/shop"},
		{"https://github.com/acme/shop", "ssh://git@github.com/acme/shop.git/"},
		{"http://127.0.0.1:8080/shop.git", "http://127.0.0.1:8080/shop"},
	}
	for _, p := range same {
		if !SameRepo(p[0], p[1]) {
			t.Errorf("SameRepo(%q, %q) = false", p[0], p[1])
		}
	}
	different := [][2]string{
		{"https://github.com/acme/shop", "https://github.com/acme/shop2"},
		{"https://github.com/acme/shop", "https://gitlab.com/acme/shop"},
		{"https://github.com/acme/shop", "https://user:pw@github.com/acme/shop"},
	}
	for _, p := range different {
		if SameRepo(p[0], p[1]) {
			t.Errorf("SameRepo(%q, %q) = true", p[0], p[1])
		}
	}
}

func FuzzNormalizeRepoURL(f *testing.F) {
	for _, s := range []string{"https://github.com/a/b.git", "git@h:a/b", "ssh://u@h:22/x", "/abs/path", "https://u:p@h/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeRepoURL(s)
		if err != nil {
			return
		}
		// Idempotent, and never keeps a password.
		n2, err := NormalizeRepoURL(n)
		if err != nil || n2 != n {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", s, n, n2, err)
		}
	})
}
