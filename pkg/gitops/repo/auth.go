package repo

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// Auth holds Git credentials. The zero value means anonymous access.
type Auth struct {
	// Username and Password (or token) for HTTP(S) basic auth. A token alone
	// is sent with the user name "git" unless Username is set.
	Username string
	Password string `json:"-"`
	// SSHKeyFile is a private key for SSH URLs; SSHKeyPassphrase unlocks it.
	SSHKeyFile       string
	SSHKeyPassphrase string `json:"-"`
	// SSHAgent uses the keys of the running ssh-agent.
	SSHAgent bool
	// KnownHostsFiles verify SSH host keys (default ~/.ssh/known_hosts).
	KnownHostsFiles []string
	// InsecureSkipHostKeyCheck disables SSH host key verification.
	InsecureSkipHostKeyCheck bool
}

// Redacted returns a description safe to log: which kind of credential is
// used, never its value.
func (a Auth) Redacted() string {
	switch {
	case a.Password != "":
		u := a.Username
		if u == "" {
			u = "git"
		}
		return "basic auth as " + u
	case a.SSHKeyFile != "":
		return "ssh key " + a.SSHKeyFile
	case a.SSHAgent:
		return "ssh agent"
	}
	return "anonymous"
}

// method returns the go-git auth method for a URL.
func (a Auth) method(rawURL string) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse repository URL: %w", err)
	}
	switch ep.Protocol {
	case "http", "https":
		if a.Password == "" {
			return nil, nil
		}
		user := a.Username
		if user == "" {
			user = "git"
		}
		return &githttp.BasicAuth{Username: user, Password: a.Password}, nil
	case "ssh":
		user := ep.User
		if user == "" {
			user = "git"
		}
		var pk gitssh.AuthMethod
		switch {
		case a.SSHKeyFile != "":
			k, err := gitssh.NewPublicKeysFromFile(user, a.SSHKeyFile, a.SSHKeyPassphrase)
			if err != nil {
				return nil, fmt.Errorf("read ssh key %s: %w", a.SSHKeyFile, err)
			}
			pk = k
		case a.SSHAgent:
			k, err := gitssh.NewSSHAgentAuth(user)
			if err != nil {
				return nil, fmt.Errorf("ssh agent: %w", err)
			}
			pk = k
		default:
			return nil, errors.New("an SSH repository URL needs an SSH key (--git-ssh-key) or --git-ssh-agent")
		}
		cb, err := a.hostKeyCallback()
		if err != nil {
			return nil, err
		}
		switch k := pk.(type) {
		case *gitssh.PublicKeys:
			k.HostKeyCallback = cb
		case *gitssh.PublicKeysCallback:
			k.HostKeyCallback = cb
		}
		return pk, nil
	case "file":
		return nil, nil
	}
	return nil, fmt.Errorf("unsupported protocol %q", ep.Protocol)
}

func (a Auth) hostKeyCallback() (ssh.HostKeyCallback, error) {
	if a.InsecureSkipHostKeyCheck {
		return ssh.InsecureIgnoreHostKey(), nil // the CLI warns about this
	}
	files := a.KnownHostsFiles
	if len(files) == 0 {
		home, _ := os.UserHomeDir()
		files = []string{filepath.Join(home, ".ssh", "known_hosts")}
	}
	cb, err := gitssh.NewKnownHostsCallback(files...)
	if err != nil {
		return nil, fmt.Errorf("load known_hosts %s: %w", strings.Join(files, ", "), err)
	}
	return cb, nil
}

// checkURL refuses URLs with embedded credentials.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok || u.Scheme == "http" || u.Scheme == "https" {
			return errors.New("repository URL contains credentials; pass them as Auth instead")
		}
	}
	return nil
}
