package gitserver

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// DefaultBranch is the branch HEAD of every created repository points to.
const DefaultBranch = "main"

// Options configures a Server.
type Options struct {
	// Root is the directory holding the bare repositories. When empty, Start
	// creates a temporary directory and Close removes it; a Root given by the
	// caller is left in place.
	Root string

	// Username and Password turn on HTTP basic auth when Username is
	// non-empty: every request must carry exactly these credentials, anything
	// else is answered with 401.
	Username, Password string

	// Wrap, when set, wraps the whole handler (authentication included), so a
	// test can reject, drop or delay requests before git sees them.
	Wrap func(http.Handler) http.Handler

	// Log receives git http-backend's stderr and CGI errors. Discarded when
	// nil.
	Log io.Writer
}

// Server is a git smart-HTTP server on 127.0.0.1. Create it with Start and
// stop it with Close.
type Server struct {
	opts    Options
	root    string
	ownRoot bool
	gitBin  string
	url     string
	ln      net.Listener
	srv     *http.Server
	served  chan struct{}

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// repoNameRE accepts names like "app", "team/app" or "app.v2"; every path
// element must start with a letter or digit so names cannot escape Root.
var repoNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$`)

// Start creates the root directory if needed and starts serving on a free
// loopback port. ctx bounds the start-up checks only; the server runs until
// Close.
func Start(ctx context.Context, opts Options) (*Server, error) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("start git server: %w", err)
	}
	s := &Server{opts: opts, root: opts.Root, gitBin: gitBin, locks: map[string]*sync.Mutex{}, served: make(chan struct{})}
	if _, err := s.git(ctx, "", nil, nil, "version"); err != nil {
		return nil, fmt.Errorf("start git server: %w", err)
	}
	if s.root == "" {
		dir, err := os.MkdirTemp("", "gitserver-")
		if err != nil {
			return nil, fmt.Errorf("start git server: %w", err)
		}
		s.root, s.ownRoot = dir, true
	} else if err := os.MkdirAll(s.root, 0o755); err != nil {
		return nil, fmt.Errorf("start git server: %w", err)
	}
	if s.root, err = filepath.Abs(s.root); err != nil {
		s.removeRoot()
		return nil, fmt.Errorf("start git server: %w", err)
	}

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		s.removeRoot()
		return nil, fmt.Errorf("start git server: %w", err)
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()

	var h http.Handler = http.HandlerFunc(s.serveGit)
	if opts.Username != "" {
		h = s.basicAuth(h)
	}
	if opts.Wrap != nil {
		h = opts.Wrap(h)
	}
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// URL returns the server's base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.url }

// RepoURL returns the clone URL of the named repository, without credentials.
func (s *Server) RepoURL(name string) string { return s.url + "/" + name + ".git" }

// CredentialURL returns RepoURL with the server's basic-auth credentials in
// its user-info part, for clients that only take a URL (the git CLI). It
// equals RepoURL when the server has no authentication.
func (s *Server) CredentialURL(name string) string {
	if s.opts.Username == "" {
		return s.RepoURL(name)
	}
	u, _ := url.Parse(s.RepoURL(name)) // built from our own listener address, always valid
	u.User = url.UserPassword(s.opts.Username, s.opts.Password)
	return u.String()
}

// Root returns the directory holding the bare repositories.
func (s *Server) Root() string { return s.root }

// RepoPath returns the filesystem path of the named bare repository.
func (s *Server) RepoPath(name string) string {
	return filepath.Join(s.root, filepath.FromSlash(name)+".git")
}

// Close stops the server, waits for the serving goroutine, and removes Root
// if Start created it.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	<-s.served
	if rmErr := s.removeRoot(); rmErr != nil {
		err = errors.Join(err, rmErr)
	}
	if err != nil {
		return fmt.Errorf("close git server: %w", err)
	}
	return nil
}

func (s *Server) removeRoot() error {
	if !s.ownRoot {
		return nil
	}
	return os.RemoveAll(s.root)
}

// CreateRepo creates an empty bare repository whose HEAD points to
// refs/heads/main, with pushes over HTTP allowed and every ref update logged.
// It fails if the repository exists.
func (s *Server) CreateRepo(name string) error {
	unlock, err := s.lockRepo(name)
	if err != nil {
		return err
	}
	defer unlock()
	return s.createRepo(context.Background(), name)
}

func (s *Server) createRepo(ctx context.Context, name string) error {
	dir := s.RepoPath(name)
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("create repo %s: %w", name, os.ErrExist)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("create repo %s: %w", name, err)
	}
	steps := [][]string{
		{"init", "--quiet", "--bare", "--initial-branch=" + DefaultBranch, dir},
		{"-C", dir, "config", "http.receivepack", "true"},
		// "always" also logs tag updates; bare repositories log nothing by default.
		{"-C", dir, "config", "core.logAllRefUpdates", "always"},
	}
	for _, args := range steps {
		if _, err := s.git(ctx, "", nil, nil, args...); err != nil {
			_ = os.RemoveAll(dir)
			return fmt.Errorf("create repo %s: %w", name, err)
		}
	}
	return nil
}

// lockRepo validates name and serialises helpers working on the same
// repository; helpers on different repositories run concurrently.
func (s *Server) lockRepo(name string) (func(), error) {
	if !repoNameRE.MatchString(name) || strings.HasSuffix(name, ".git") {
		return nil, fmt.Errorf("invalid repository name %q", name)
	}
	s.mu.Lock()
	l, ok := s.locks[name]
	if !ok {
		l = &sync.Mutex{}
		s.locks[name] = l
	}
	s.mu.Unlock()
	l.Lock()
	return l.Unlock, nil
}

func (s *Server) basicAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok ||
			subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.Username)) != 1 ||
			subtle.ConstantTimeCompare([]byte(pass), []byte(s.opts.Password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="gitserver"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveGit hands the request to `git http-backend` through CGI.
func (s *Server) serveGit(w http.ResponseWriter, r *http.Request) {
	// net/http/cgi refuses chunked bodies, which git sends for packs larger
	// than http.postBuffer; buffer them so large pushes work too.
	if len(r.TransferEncoding) > 0 {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.TransferEncoding = nil
	}
	user := "anonymous"
	if u, _, ok := r.BasicAuth(); ok && u != "" {
		user = u
	}
	logw := s.opts.Log
	if logw == nil {
		logw = io.Discard
	}
	h := &cgi.Handler{
		Path: s.gitBin,
		Args: []string{"http-backend"},
		Dir:  s.root,
		Env: append(gitEnv(),
			"GIT_PROJECT_ROOT="+s.root,
			"GIT_HTTP_EXPORT_ALL=1",
			// http-backend only enables receive-pack for an authenticated
			// user; REMOTE_USER is how CGI says who that is.
			"REMOTE_USER="+user,
			"GIT_COMMITTER_NAME="+user,
			"GIT_COMMITTER_EMAIL="+user+"@gitserver.local",
		),
		InheritEnv: []string{"HOME", "TMPDIR"},
		Logger:     log.New(logw, "gitserver: ", 0),
		Stderr:     logw,
	}
	h.ServeHTTP(w, r)
}

// gitEnv isolates git from the user's and system's configuration.
func gitEnv() []string {
	return []string{
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
	}
}

// git runs the git CLI with an environment free of inherited GIT_* variables.
func (s *Server) git(ctx context.Context, dir string, stdin io.Reader, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.gitBin, args...)
	cmd.Dir = dir
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "GIT_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, gitEnv()...)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}
