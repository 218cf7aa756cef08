package repo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dot-ai/dot/internal/gitserver"
)

func startServer(t *testing.T, opts gitserver.Options) *gitserver.Server {
	t.Helper()
	srv, err := gitserver.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func seed(t *testing.T, srv *gitserver.Server, name string, files map[string]string) string {
	t.Helper()
	sha, err := srv.Seed(context.Background(), name, files, "seed")
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

// writeFile returns an EditFunc that sets a file's content, with a
// compare-and-swap on its previous content when expect is not nil.
func writeFile(name, content string, expect *string) EditFunc {
	return func(ctx context.Context, dir string) ([]string, string, error) {
		p := filepath.Join(dir, name)
		old, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, "", err
		}
		if string(old) == content {
			return nil, "", nil
		}
		if expect != nil && string(old) != *expect {
			return nil, "", fmt.Errorf("%s holds %q, expected %q: %w", name, old, *expect, errConflict)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, "", err
		}
		return []string{name}, "set " + name, os.WriteFile(p, []byte(content), 0o644)
	}
}

var errConflict = errors.New("conflict")

func fileAt(t *testing.T, srv *gitserver.Server, repo, rev, path string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", srv.RepoPath(repo), "show", rev+":"+path).CombinedOutput()
	if err != nil {
		t.Fatalf("git show %s:%s: %v %s", rev, path, err, out)
	}
	return string(out)
}

func TestUpdateCommitsAndPushes(t *testing.T) {
	srv := startServer(t, gitserver.Options{})
	base := seed(t, srv, "app", map[string]string{"deploy/web.yaml": "replicas: 1 # keep\n"})
	tmp := t.TempDir()
	opts := Options{URL: srv.RepoURL("app"), Branch: "main", TempDir: tmp, Author: Signature{Name: "Ops", Email: "ops@example.com"}}

	res, err := Update(context.Background(), opts, UpdateOptions{}, writeFile("deploy/web.yaml", "replicas: 3 # keep\n", nil))
	if err != nil {
		t.Fatal(err)
	}
	head, _ := srv.Head(context.Background(), "app", "main")
	if res.Commit != head || res.Base != base || res.Attempts != 1 || res.Branch != "main" {
		t.Errorf("result %+v, server head %s, base %s", res, head, base)
	}
	if got := fileAt(t, srv, "app", "main", "deploy/web.yaml"); got != "replicas: 3 # keep\n" {
		t.Errorf("file on server = %q", got)
	}
	author, _ := exec.Command("git", "-C", srv.RepoPath("app"), "log", "-1", "--format=%an <%ae>|%s").Output()
	if strings.TrimSpace(string(author)) != "Ops <ops@example.com>|set deploy/web.yaml" {
		t.Errorf("commit = %q", author)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("clone dir not removed: %v", entries)
	}

	// The same edit again changes nothing: no commit.
	res, err = Update(context.Background(), opts, UpdateOptions{}, writeFile("deploy/web.yaml", "replicas: 3 # keep\n", nil))
	if err != nil || !res.Unchanged || res.Commit != "" {
		t.Errorf("second update: %+v, %v", res, err)
	}
	if h, _ := srv.Head(context.Background(), "app", "main"); h != head {
		t.Errorf("an unchanged edit moved the branch to %s", h)
	}
}

func TestUpdateDefaultBranchAndMissingBranch(t *testing.T) {
	srv := startServer(t, gitserver.Options{})
	seed(t, srv, "app", map[string]string{"a": "1"})
	res, err := Update(context.Background(), Options{URL: srv.RepoURL("app")}, UpdateOptions{}, writeFile("a", "2", nil))
	if err != nil || res.Branch != "main" {
		t.Fatalf("default branch: %+v, %v", res, err)
	}
	_, err = Update(context.Background(), Options{URL: srv.RepoURL("app"), Branch: "v1.0.0"}, UpdateOptions{}, writeFile("a", "3", nil))
	if !errors.Is(err, ErrBranchNotFound) {
		t.Errorf("missing branch: err = %v", err)
	}
}

// A concurrent writer lands a commit between our clone and our push: the
// push is rejected, the edit re-runs on the new tip, and both commits stay.
func TestUpdateRetriesOnRejectionWithoutLosingTheOtherCommit(t *testing.T) {
	srv := startServer(t, gitserver.Options{})
	seed(t, srv, "app", map[string]string{"a.yaml": "a: 1\n", "b.yaml": "b: 1\n"})
	calls := 0
	var other string
	edit := func(ctx context.Context, dir string) ([]string, string, error) {
		calls++
		if calls == 1 {
			other = seed(t, srv, "app", map[string]string{"b.yaml": "b: 2\n"})
		}
		return writeFile("a.yaml", "a: 2\n", nil)(ctx, dir)
	}
	var retries []error
	res, err := Update(context.Background(), Options{URL: srv.RepoURL("app"), Branch: "main"},
		UpdateOptions{Backoff: time.Millisecond, OnRetry: func(_ int, err error) { retries = append(retries, err) }}, edit)
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 2 || calls != 2 || len(retries) != 1 || !errors.Is(retries[0], ErrRejected) {
		t.Errorf("attempts %d, edit calls %d, retries %v", res.Attempts, calls, retries)
	}
	log, _ := srv.Log(context.Background(), "app", "main")
	if len(log) < 3 || log[0] != res.Commit || log[1] != other {
		t.Errorf("history %v: want our commit on top of the other writer's %s", log, other)
	}
	if fileAt(t, srv, "app", "main", "b.yaml") != "b: 2\n" || fileAt(t, srv, "app", "main", "a.yaml") != "a: 2\n" {
		t.Error("a change was lost")
	}
	if ok, err := srv.IsFastForwardHistory(context.Background(), "app", "main"); err != nil || !ok {
		t.Errorf("branch history has a forced update: %v %v", ok, err)
	}
}

// The other writer changed the very value we meant to replace: the
// compare-and-swap in the edit fails on the new tip and nothing is pushed.
func TestUpdateConflictLeavesRemoteAsItWas(t *testing.T) {
	srv := startServer(t, gitserver.Options{})
	seed(t, srv, "app", map[string]string{"a.yaml": "image: web:1\n"})
	expect := "image: web:1\n"
	calls := 0
	var other string
	edit := func(ctx context.Context, dir string) ([]string, string, error) {
		calls++
		if calls == 1 {
			other = seed(t, srv, "app", map[string]string{"a.yaml": "image: web:9\n"})
		}
		return writeFile("a.yaml", "image: web:2\n", &expect)(ctx, dir)
	}
	_, err := Update(context.Background(), Options{URL: srv.RepoURL("app"), Branch: "main"}, UpdateOptions{Backoff: time.Millisecond}, edit)
	if !errors.Is(err, errConflict) {
		t.Fatalf("err = %v, want the edit's conflict", err)
	}
	if h, _ := srv.Head(context.Background(), "app", "main"); h != other {
		t.Errorf("remote head %s, want the other writer's %s untouched", h, other)
	}
}

func TestUpdateConcurrentGoroutines(t *testing.T) {
	srv := startServer(t, gitserver.Options{})
	seed(t, srv, "app", map[string]string{"README": "x"})
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Update(context.Background(), Options{URL: srv.RepoURL("app"), Branch: "main"}, UpdateOptions{},
				writeFile(fmt.Sprintf("apps/w%02d.yaml", i), fmt.Sprintf("replicas: %d\n", i), nil))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	assertAllLanded(t, srv, n)
}

// TestUpdateConcurrentProcesses runs 5 copies of this test binary, each
// pushing a change to the same branch at once: the in-process lock cannot
// help, so every conflict is a real rejected push retried on the new tip.
func TestUpdateConcurrentProcesses(t *testing.T) {
	if os.Getenv("DOT_REPO_HELPER_URL") != "" {
		t.Skip("running as a helper process")
	}
	srv := startServer(t, gitserver.Options{})
	seed(t, srv, "app", map[string]string{"README": "x"})
	const n = 5
	var wg sync.WaitGroup
	outs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessWriter$", "-test.count=1")
			cmd.Env = append(os.Environ(), "DOT_REPO_HELPER_URL="+srv.RepoURL("app"), "DOT_REPO_HELPER_ID="+strconv.Itoa(i))
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("process %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	assertAllLanded(t, srv, n)
}

func TestHelperProcessWriter(t *testing.T) {
	url := os.Getenv("DOT_REPO_HELPER_URL")
	if url == "" {
		t.Skip("only runs as a helper process of TestUpdateConcurrentProcesses")
	}
	id := os.Getenv("DOT_REPO_HELPER_ID")
	_, err := Update(context.Background(), Options{URL: url, Branch: "main"}, UpdateOptions{MaxAttempts: 20, Backoff: 20 * time.Millisecond},
		writeFile("apps/p"+id+".yaml", "id: "+id+"\n", nil))
	if err != nil {
		t.Fatal(err)
	}
}

func assertAllLanded(t *testing.T, srv *gitserver.Server, n int) {
	t.Helper()
	ctx := context.Background()
	log, err := srv.Log(ctx, "app", "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != n+1 {
		t.Errorf("branch has %d commits, want %d (seed + %d writers)", len(log), n+1, n)
	}
	out, err := exec.Command("git", "-C", srv.RepoPath("app"), "ls-tree", "--name-only", "main", "apps/").Output()
	if err != nil {
		t.Fatal(err)
	}
	if files := strings.Fields(string(out)); len(files) != n {
		t.Errorf("%d files on main, want %d: %v", len(files), n, files)
	}
	if ok, err := srv.IsFastForwardHistory(ctx, "app", "main"); err != nil || !ok {
		t.Errorf("a forced update happened: %v %v", ok, err)
	}
}

// failPushes answers the first n receive-pack requests with 503.
func failPushes(n int32, count *atomic.Int32) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") && count.Add(1) <= n {
				http.Error(w, "injected failure", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestUpdateSurvivesFailedPushes(t *testing.T) {
	var count atomic.Int32
	srv := startServer(t, gitserver.Options{Wrap: failPushes(2, &count)})
	seed(t, srv, "app", map[string]string{"a": "1"})
	res, err := Update(context.Background(), Options{URL: srv.RepoURL("app"), Branch: "main"}, UpdateOptions{Backoff: time.Millisecond}, writeFile("a", "2", nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 3 {
		t.Errorf("attempts = %d, want 3 (two injected failures)", res.Attempts)
	}
	if fileAt(t, srv, "app", "main", "a") != "2" {
		t.Error("change not on the server")
	}
}

func TestUpdateGivesUpWithClearErrorAndRemoteUntouched(t *testing.T) {
	var count atomic.Int32
	srv := startServer(t, gitserver.Options{Wrap: failPushes(1000, &count)})
	base := seed(t, srv, "app", map[string]string{"a": "1"})
	_, err := Update(context.Background(), Options{URL: srv.RepoURL("app"), Branch: "main"}, UpdateOptions{MaxAttempts: 3, Backoff: time.Millisecond}, writeFile("a", "2", nil))
	if err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Fatalf("err = %v", err)
	}
	if h, _ := srv.Head(context.Background(), "app", "main"); h != base {
		t.Errorf("remote moved to %s", h)
	}
}

func TestAuth(t *testing.T) {
	srv := startServer(t, gitserver.Options{Username: "bot", Password: "s3cret-token"})
	seed(t, srv, "app", map[string]string{"a": "1"})
	opts := Options{URL: srv.RepoURL("app"), Branch: "main", Auth: Auth{Username: "bot", Password: "wrong-pass"}}
	_, err := Update(context.Background(), opts, UpdateOptions{}, writeFile("a", "2", nil))
	if err == nil || strings.Contains(err.Error(), "wrong-pass") {
		t.Fatalf("wrong password: err = %v (must fail without echoing the password)", err)
	}
	opts.Auth.Password = "s3cret-token"
	if _, err := Update(context.Background(), opts, UpdateOptions{}, writeFile("a", "2", nil)); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if _, err := Clone(context.Background(), Options{URL: strings.Replace(srv.RepoURL("app"), "://", "://bot:s3cret-token@", 1)}); err == nil ||
		strings.Contains(err.Error(), "s3cret") {
		t.Errorf("credentials in URL: err = %v", err)
	}
	if got := opts.Auth.Redacted(); strings.Contains(got, "s3cret") || got != "basic auth as bot" {
		t.Errorf("Redacted() = %q", got)
	}
}

func TestUpdateCancelledContextRemovesClone(t *testing.T) {
	srv := startServer(t, gitserver.Options{})
	seed(t, srv, "app", map[string]string{"a": "1"})
	tmp := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Update(ctx, Options{URL: srv.RepoURL("app"), Branch: "main", TempDir: tmp}, UpdateOptions{}, func(ctx context.Context, dir string) ([]string, string, error) {
		cancel()
		return nil, "", ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("clone dir left behind: %v", entries)
	}
}
