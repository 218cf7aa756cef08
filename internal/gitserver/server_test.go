package gitserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// gitCLI runs the git CLI as a client would, isolated from the user's config.
func gitCLI(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "git", args...)
	cmd.Dir = dir
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "GIT_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, gitEnv()...)
	cmd.Env = append(cmd.Env,
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.com")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitCLI(t, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestCloneAndPush(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{name: "anonymous", opts: Options{}},
		{name: "basic auth", opts: Options{Username: "alice", Password: "s3cret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.opts)
			ctx := t.Context()
			first, err := s.Seed(ctx, "app", map[string]string{"deploy/app.yaml": "replicas: 1\n", "README.md": "hi\n"}, "initial")
			if err != nil {
				t.Fatalf("Seed: %v", err)
			}

			work := filepath.Join(t.TempDir(), "app")
			mustGit(t, "", "clone", "--quiet", s.CredentialURL("app"), work)
			got, err := os.ReadFile(filepath.Join(work, "deploy", "app.yaml"))
			if err != nil || string(got) != "replicas: 1\n" {
				t.Fatalf("cloned deploy/app.yaml = %q, %v", got, err)
			}
			if b := mustGit(t, work, "rev-parse", "--abbrev-ref", "HEAD"); b != "main" {
				t.Errorf("cloned branch = %q, want main", b)
			}

			if err := os.WriteFile(filepath.Join(work, "deploy", "app.yaml"), []byte("replicas: 3\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			mustGit(t, work, "commit", "--quiet", "-am", "scale")
			mustGit(t, work, "push", "--quiet", "origin", "main")
			local := mustGit(t, work, "rev-parse", "HEAD")

			head, err := s.Head(ctx, "app", "main")
			if err != nil || head != local {
				t.Fatalf("Head = %q, %v; want %q", head, err, local)
			}
			log, err := s.Log(ctx, "app", "main")
			if err != nil {
				t.Fatalf("Log: %v", err)
			}
			if want := []string{local, first}; strings.Join(log, " ") != strings.Join(want, " ") {
				t.Errorf("Log = %v, want %v", log, want)
			}
			reflog, err := s.Reflog(ctx, "app", "main")
			if err != nil {
				t.Fatalf("Reflog: %v", err)
			}
			if len(reflog) != 2 || reflog[1].Old != first || reflog[1].New != local {
				t.Fatalf("Reflog = %+v, want seed then push %s..%s", reflog, first, local)
			}
			wantWho := "anonymous"
			if tt.opts.Username != "" {
				wantWho = tt.opts.Username
			}
			if !strings.HasPrefix(reflog[1].Who, wantWho+" ") || reflog[1].Message != "push" {
				t.Errorf("push reflog entry = %+v, want by %s with message push", reflog[1], wantWho)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	s := startServer(t, Options{Username: "alice", Password: "s3cret"})
	if _, err := s.Seed(t.Context(), "app", map[string]string{"a.txt": "a\n"}, "initial"); err != nil {
		t.Fatal(err)
	}
	infoRefs := "/app.git/info/refs?service=git-upload-pack"
	tests := []struct {
		name       string
		user, pass string
		noAuth     bool
		wantStatus int
	}{
		{name: "right credentials", user: "alice", pass: "s3cret", wantStatus: http.StatusOK},
		{name: "wrong password", user: "alice", pass: "nope", wantStatus: http.StatusUnauthorized},
		{name: "wrong user", user: "bob", pass: "s3cret", wantStatus: http.StatusUnauthorized},
		{name: "no credentials", noAuth: true, wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+infoRefs, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.noAuth {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate header")
			}
		})
	}

	t.Run("git clone with wrong password fails", func(t *testing.T) {
		bad := strings.Replace(s.CredentialURL("app"), "s3cret", "wrong", 1)
		out, err := gitCLI(t, "", "clone", "--quiet", bad, filepath.Join(t.TempDir(), "app"))
		if err == nil {
			t.Fatal("clone with wrong password succeeded")
		}
		if !strings.Contains(out, "Authentication failed") && !strings.Contains(out, "401") {
			t.Errorf("clone output %q does not mention the authentication failure", out)
		}
	})
	t.Run("RepoURL carries no credentials", func(t *testing.T) {
		if strings.Contains(s.RepoURL("app"), "s3cret") || strings.Contains(s.RepoURL("app"), "alice") {
			t.Errorf("RepoURL = %q", s.RepoURL("app"))
		}
	})
}

func TestForcePushIsFlagged(t *testing.T) {
	s := startServer(t, Options{Username: "alice", Password: "s3cret"})
	ctx := t.Context()
	if _, err := s.Seed(ctx, "app", map[string]string{"a.txt": "1\n"}, "one"); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "app")
	mustGit(t, "", "clone", "--quiet", s.CredentialURL("app"), work)
	if err := os.WriteFile(filepath.Join(work, "a.txt"), []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, work, "commit", "--quiet", "-am", "two")
	mustGit(t, work, "push", "--quiet", "origin", "main")
	if _, err := s.Seed(ctx, "app", map[string]string{"b.txt": "b\n"}, "server side"); err != nil {
		t.Fatal(err)
	}

	ff, err := s.IsFastForwardHistory(ctx, "app", "main")
	if err != nil || !ff {
		t.Fatalf("IsFastForwardHistory after fast-forward pushes = %v, %v; want true", ff, err)
	}

	// Rewrite history locally: a plain push is rejected, a forced one lands.
	mustGit(t, work, "reset", "--quiet", "--hard", "HEAD~1")
	if err := os.WriteFile(filepath.Join(work, "a.txt"), []byte("rewritten\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, work, "commit", "--quiet", "-am", "rewrite")
	if out, err := gitCLI(t, work, "push", "origin", "main"); err == nil {
		t.Fatalf("non-fast-forward push was accepted: %s", out)
	}
	before, err := s.Head(ctx, "app", "main")
	if err != nil {
		t.Fatal(err)
	}
	mustGit(t, work, "push", "--quiet", "--force", "origin", "main")
	after := mustGit(t, work, "rev-parse", "HEAD")

	ff, err = s.IsFastForwardHistory(ctx, "app", "main")
	if err != nil || ff {
		t.Fatalf("IsFastForwardHistory after force push = %v, %v; want false", ff, err)
	}
	bad, err := s.NonFastForwardUpdates(ctx, "app", "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || bad[0].Old != before || bad[0].New != after || !strings.HasPrefix(bad[0].Who, "alice ") {
		t.Errorf("NonFastForwardUpdates = %+v, want one update %s..%s by alice", bad, before, after)
	}
}

func TestConcurrentSeeds(t *testing.T) {
	s := startServer(t, Options{})
	ctx := t.Context()
	const repos, commits = 6, 4
	var wg sync.WaitGroup
	errs := make(chan error, repos*commits)
	for r := range repos {
		for c := range commits {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("repo-%d", r)
				file := fmt.Sprintf("f-%d.txt", c)
				if _, err := s.Seed(ctx, name, map[string]string{file: name + file}, "add "+file); err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for r := range repos {
		name := fmt.Sprintf("repo-%d", r)
		log, err := s.Log(ctx, name, "main")
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != commits {
			t.Errorf("%s has %d commits, want %d", name, len(log), commits)
		}
		files := mustGit(t, s.RepoPath(name), "ls-tree", "--name-only", "main")
		if got := len(strings.Fields(files)); got != commits {
			t.Errorf("%s main has files %q, want %d files", name, files, commits)
		}
		if ff, err := s.IsFastForwardHistory(ctx, name, "main"); err != nil || !ff {
			t.Errorf("%s IsFastForwardHistory = %v, %v", name, ff, err)
		}
	}
}

func TestSeedEditsAndDeletes(t *testing.T) {
	s := startServer(t, Options{})
	ctx := t.Context()
	if _, err := s.Seed(ctx, "team/app", map[string]string{"keep.txt": "k\n", "drop.txt": "d\n", "edit.txt": "1\n"}, "initial"); err != nil {
		t.Fatal(err)
	}
	sha, err := s.Seed(ctx, "team/app", map[string]string{"drop.txt": "", "edit.txt": "2\n", "dir/new.txt": "n\n"}, "change")
	if err != nil {
		t.Fatal(err)
	}
	dir := s.RepoPath("team/app")
	if got := mustGit(t, dir, "ls-tree", "-r", "--name-only", sha); got != "dir/new.txt\nedit.txt\nkeep.txt" {
		t.Errorf("tree = %q", got)
	}
	if got := mustGit(t, dir, "show", sha+":edit.txt"); got != "2" {
		t.Errorf("edit.txt = %q", got)
	}
	if got := mustGit(t, dir, "log", "-1", "--format=%s", sha); got != "change" {
		t.Errorf("message = %q", got)
	}

	if _, err := s.SeedBranch(ctx, "team/app", "feature", map[string]string{"f.txt": "f\n"}, "feature"); err != nil {
		t.Fatal(err)
	}
	if log, err := s.Log(ctx, "team/app", "feature"); err != nil || len(log) != 1 {
		t.Errorf("new branch log = %v, %v; want one root commit", log, err)
	}
	if err := s.Tag(ctx, "team/app", "v1.0.0", sha, "release"); err != nil {
		t.Fatal(err)
	}
	if got := mustGit(t, dir, "rev-parse", "v1.0.0^{commit}"); got != sha {
		t.Errorf("tag points to %s, want %s", got, sha)
	}

	for _, bad := range []struct{ name, path string }{
		{"../escape", "a"}, {"app.git", "a"}, {"", "a"}, {"ok", "../a"}, {"ok", "/abs"}, {"ok", ".git/config"}, {"ok", "a//b"},
	} {
		if _, err := s.Seed(ctx, bad.name, map[string]string{bad.path: "x"}, "bad"); err == nil {
			t.Errorf("Seed(%q, %q) succeeded", bad.name, bad.path)
		}
	}
	if _, err := s.Head(ctx, "missing", "main"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Head of missing repo: %v, want ErrNotFound", err)
	}
	if _, err := s.Head(ctx, "team/app", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Head of missing branch: %v, want ErrNotFound", err)
	}
	if err := s.CreateRepo("team/app"); !errors.Is(err, os.ErrExist) {
		t.Errorf("CreateRepo of existing repo: %v, want ErrExist", err)
	}
}

func TestWrapRejectsPushes(t *testing.T) {
	rejectPush := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
				http.Error(w, "pushes are closed", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	s := startServer(t, Options{Wrap: rejectPush})
	ctx := t.Context()
	seeded, err := s.Seed(ctx, "app", map[string]string{"a.txt": "a\n"}, "initial")
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "app")
	mustGit(t, "", "clone", "--quiet", s.RepoURL("app"), work)
	mustGit(t, work, "commit", "--quiet", "--allow-empty", "-m", "empty")
	if out, err := gitCLI(t, work, "push", "origin", "main"); err == nil {
		t.Fatalf("push through rejecting middleware succeeded: %s", out)
	}
	if head, err := s.Head(ctx, "app", "main"); err != nil || head != seeded {
		t.Errorf("Head = %s, %v; want unchanged %s", head, err, seeded)
	}
}

func TestChunkedPush(t *testing.T) {
	s := startServer(t, Options{})
	if _, err := s.Seed(t.Context(), "app", map[string]string{"a.txt": "a\n"}, "initial"); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "app")
	mustGit(t, "", "clone", "--quiet", s.RepoURL("app"), work)
	// Incompressible content larger than the post buffer makes git send a
	// chunked request body, which net/http/cgi cannot pass on by itself.
	blob := make([]byte, 64<<10)
	if _, err := rand.Read(blob); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "big.txt"), []byte(hex.EncodeToString(blob)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, work, "add", "big.txt")
	mustGit(t, work, "commit", "--quiet", "-m", "big")
	mustGit(t, work, "-c", "http.postBuffer=4096", "push", "--quiet", "origin", "main")
	if head, err := s.Head(t.Context(), "app", "main"); err != nil || head != mustGit(t, work, "rev-parse", "HEAD") {
		t.Errorf("Head = %s, %v after chunked push", head, err)
	}
}

func TestCloseRemovesOwnRoot(t *testing.T) {
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	root := s.Root()
	if err := s.CreateRepo("app"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("root %s still there after Close: %v", root, err)
	}

	given := t.TempDir()
	s, err = Start(context.Background(), Options{Root: given})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRepo("app"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(given, "app.git", "HEAD")); err != nil {
		t.Errorf("caller's root was touched by Close: %v", err)
	}
}
