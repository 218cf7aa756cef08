package gitops

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// ErrCredentialsInURL means a repository URL carries a password or token.
// dot refuses such URLs: credentials would end up in logs, plans and remote
// configuration.
var ErrCredentialsInURL = errors.New("repository URL contains credentials")

// scpLike matches git's scp-like SSH syntax: [user@]host:path (no scheme, no
// "//" after the colon).
var scpLike = regexp.MustCompile(`^(?:([^@/]+)@)?([A-Za-z0-9][A-Za-z0-9.-]*):([^/].*)$`)

// hostRe matches DNS names and IPv4 addresses.
var hostRe = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$`)

// NormalizeRepoURL returns a canonical form of a Git repository URL so the
// same repository is recognised however it is written: scp-like SSH becomes
// ssh://, the scheme and host are lower-cased, default ports, a trailing "/"
// and ".git" are dropped. A URL with a password (or a token as user name over
// HTTP) is refused with ErrCredentialsInURL.
func NormalizeRepoURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New("empty repository URL")
	}
	if !strings.Contains(s, "://") {
		if m := scpLike.FindStringSubmatch(s); m != nil && !strings.HasPrefix(s, "/") {
			user := m[1]
			if user != "" {
				user += "@"
			}
			s = "ssh://" + user + m[2] + "/" + strings.TrimPrefix(m[3], "/")
		} else if strings.HasPrefix(s, "/") {
			s = "file://" + s
		} else {
			return "", fmt.Errorf("repository URL %q: no scheme and not scp-like user@host:path", redactURL(raw))
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("repository URL %q: %w", redactURL(raw), errors.Unwrap(err))
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch u.Scheme {
	case "http", "https", "ssh", "git", "file":
	default:
		return "", fmt.Errorf("repository URL %q: unsupported scheme %q", redactURL(raw), u.Scheme)
	}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			return "", fmt.Errorf("repository URL %q: %w; pass credentials with DOT_GIT_TOKEN/DOT_GIT_USERNAME or --use-cluster-credentials", redactURL(raw), ErrCredentialsInURL)
		}
		if u.Scheme == "http" || u.Scheme == "https" {
			// https://<token>@host/... is how tokens are often embedded.
			return "", fmt.Errorf("repository URL %q: %w (user info in an HTTP URL); pass credentials with DOT_GIT_TOKEN/DOT_GIT_USERNAME", redactURL(raw), ErrCredentialsInURL)
		}
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case host == "" && u.Scheme != "file":
		return "", fmt.Errorf("repository URL %q: no host", redactURL(raw))
	case strings.Contains(host, ":"):
		if net.ParseIP(host) == nil {
			return "", fmt.Errorf("repository URL %q: invalid host %q", redactURL(raw), host)
		}
		host = "[" + host + "]"
	case host != "" && !hostRe.MatchString(host):
		return "", fmt.Errorf("repository URL %q: invalid host %q", redactURL(raw), host)
	}
	port := u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") || (u.Scheme == "ssh" && port == "22") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.Path = strings.TrimRight(strings.TrimSuffix(strings.TrimRight(u.Path, "/"), ".git"), "/")
	if u.Scheme == "file" && u.Path == "" {
		return "", fmt.Errorf("repository URL %q: no path", redactURL(raw))
	}
	u.RawPath = ""
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// RepoKey returns a key under which two URLs of the same repository are
// equal even across transports (https://host/org/repo and git@host:org/repo).
func RepoKey(raw string) (string, error) {
	n, err := NormalizeRepoURL(raw)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(n)
	if err != nil {
		return "", err
	}
	if u.Scheme == "file" {
		return "file:" + u.Path, nil
	}
	return u.Hostname() + u.Path, nil
}

// SameRepo reports whether two URLs name the same repository.
func SameRepo(a, b string) bool {
	ka, err1 := RepoKey(a)
	kb, err2 := RepoKey(b)
	return err1 == nil && err2 == nil && ka == kb
}

// redactURL hides user info in a URL so it can be shown in an error.
func redactURL(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
			return raw[:i+3] + "REDACTED@" + rest[at+1:]
		}
	}
	return raw
}
