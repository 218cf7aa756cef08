package repo_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dot-ai/dot/internal/gitserver"
	"github.com/dot-ai/dot/pkg/gitops/repo"
)

// The write-back benchmarks (issue 6) push a one-line change to a generated
// repository of benchFiles files and benchCommits commits on the local git
// server: BenchmarkWriteBack with repo.Update (go-git: shallow single-branch
// clone, edit, commit, push), BenchmarkWriteBackGitCLI with the git CLI
// doing the same (clone --depth 1, edit, commit, push). Both remove their
// clone each time, as Update does. Compare the two from the same run;
// hack/bench.sh measures their peak RSS as separate processes.
//
// DOT_BENCH_REPO_FILES and DOT_BENCH_REPO_COMMITS override the size (for a
// quick look while developing).
const (
	benchFiles   = 20000
	benchCommits = 10000
)

func BenchmarkWriteBack(b *testing.B) {
	br := benchRepo(b)
	opts := repo.Options{URL: br.url, Branch: "main", TempDir: b.TempDir(), Author: repo.Signature{Name: "bench", Email: "bench@example.com"}}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		res, err := repo.Update(ctx, opts, repo.UpdateOptions{}, func(_ context.Context, dir string) ([]string, string, error) {
			return []string{br.target}, fmt.Sprintf("bench: go-git %d", i), bumpReplicas(filepath.Join(dir, br.target))
		})
		if err != nil {
			b.Fatal(err)
		}
		if res.Commit == "" || res.Attempts != 1 {
			b.Fatalf("update: %+v", res)
		}
	}
	b.StopTimer()
	br.checkPushed(b, "go-git", i)
}

func BenchmarkWriteBackGitCLI(b *testing.B) {
	br := benchRepo(b)
	tmp := b.TempDir()
	env := append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com", "GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.com")
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	i := 0
	for b.Loop() {
		i++
		dir, err := os.MkdirTemp(tmp, "clone-*")
		if err != nil {
			b.Fatal(err)
		}
		git("clone", "--quiet", "--depth", "1", "--single-branch", "--branch", "main", "--no-tags", br.url, dir)
		if err := bumpReplicas(filepath.Join(dir, br.target)); err != nil {
			b.Fatal(err)
		}
		git("-C", dir, "commit", "--quiet", "-m", fmt.Sprintf("bench: git CLI %d", i), "--", br.target)
		git("-C", dir, "push", "--quiet", "origin", "main")
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	br.checkPushed(b, "git CLI", i)
}

var replicasRE = regexp.MustCompile(`(?m)^  replicas: (\d+)`)

// bumpReplicas adds one to the replicas line of a generated manifest, so
// every iteration changes the file whatever earlier runs left there.
func bumpReplicas(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	m := replicasRE.FindSubmatchIndex(b)
	if m == nil {
		return fmt.Errorf("%s: no replicas line to change", path)
	}
	n, err := strconv.Atoi(string(b[m[2]:m[3]]))
	if err != nil {
		return err
	}
	out := append(append(append([]byte{}, b[:m[2]]...), strconv.Itoa(n+1)...), b[m[3]:]...)
	return os.WriteFile(path, out, 0o644)
}

// checkPushed fails unless the branch tip is the last iteration's commit.
func (br *bigRepo) checkPushed(b *testing.B, variant string, n int) {
	b.Helper()
	out, err := exec.Command("git", "-C", br.srv.RepoPath(br.name), "log", "-1", "--format=%s", "main").Output()
	if err != nil {
		b.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(out)), fmt.Sprintf("bench: %s %d", variant, n); got != want {
		b.Fatalf("branch tip %q, want %q", got, want)
	}
}

type bigRepo struct {
	srv    *gitserver.Server
	name   string
	url    string
	target string // the file every iteration edits
}

// benchRepo starts a git server holding the generated repository. Both go
// away with the benchmark, unless DOT_BENCH_REPO_DIR names a directory to
// keep the server's repositories in: then a repository generated earlier at
// the same size is reused (hack/bench.sh serves it to separate processes to
// measure their peak RSS).
func benchRepo(b *testing.B) *bigRepo {
	b.Helper()
	files, commits := envInt(b, "DOT_BENCH_REPO_FILES", benchFiles), envInt(b, "DOT_BENCH_REPO_COMMITS", benchCommits)
	root := os.Getenv("DOT_BENCH_REPO_DIR")
	if root == "" {
		root = b.TempDir()
	}
	srv, err := gitserver.Start(context.Background(), gitserver.Options{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	name := fmt.Sprintf("big-%d-%d", files, commits)
	br := &bigRepo{srv: srv, name: name, url: srv.RepoURL(name), target: manifestPath(files * 2 / 3)}
	if _, err := os.Stat(srv.RepoPath(name)); err == nil {
		b.Logf("reusing %s", srv.RepoPath(name))
		return br
	}
	if err := srv.CreateRepo(name); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := generate(srv.RepoPath(name), files, commits); err != nil {
		os.RemoveAll(srv.RepoPath(name))
		b.Fatal(err)
	}
	b.Logf("generated %d files, %d commits in %s", files, commits, time.Since(start).Round(time.Millisecond))
	return br
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// generate writes a history into the bare repository gitDir with git
// fast-import: a first commit adding files manifests (100 per directory),
// then commits-1 commits changing one manifest each. Then it repacks, as a
// hosting server's maintenance would.
func generate(gitDir string, files, commits int) error {
	cmd := exec.Command("git", "--git-dir", gitDir, "fast-import", "--quiet", "--done")
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(in, 1<<20)
	data := func(s string) { fmt.Fprintf(w, "data %d\n%s\n", len(s), s) }
	when := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for c := range commits {
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter Gen <gen@example.com> %d +0000\n", when+int64(c)*60)
		if c == 0 {
			data("initial layout")
			for i := range files {
				fmt.Fprintf(w, "M 100644 inline %s\n", manifestPath(i))
				data(manifest(i, 0))
			}
		} else {
			i := (c * 7919) % files // spread the changes over the tree
			data(fmt.Sprintf("bump %s to revision %d", manifestPath(i), c))
			fmt.Fprintf(w, "M 100644 inline %s\n", manifestPath(i))
			data(manifest(i, c))
		}
		w.WriteString("\n")
	}
	w.WriteString("done\n")
	if err := w.Flush(); err != nil {
		return fmt.Errorf("git fast-import: %w: %s", err, stderr.String())
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git fast-import: %w: %s", err, stderr.String())
	}
	if out, err := exec.Command("git", "--git-dir", gitDir, "repack", "-a", "-d", "-q").CombinedOutput(); err != nil {
		return fmt.Errorf("git repack: %w: %s", err, out)
	}
	return nil
}

func manifestPath(i int) string { return fmt.Sprintf("apps/team-%03d/svc-%03d.yaml", i/100, i%100) }

func manifest(i, rev int) string {
	return fmt.Sprintf(`# service %d of team %d
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-%03d
  namespace: team-%03d
  labels:
    app: svc-%03d
  annotations:
    example.com/revision: "%d"
spec:
  replicas: %d
  selector:
    matchLabels:
      app: svc-%03d
  template:
    metadata:
      labels:
        app: svc-%03d
    spec:
      containers:
        - name: app
          image: registry.example.com/team-%03d/svc-%03d:1.%d.0
          resources:
            requests: {cpu: 50m, memory: 64Mi}
`, i%100, i/100, i%100, i/100, i%100, rev, 1+i%3, i%100, i%100, i/100, i%100, rev)
}
