package repo

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dot-ai/dot/internal/gitserver"
)

// The reliability suite puts a fault injector (gitserver.Options.Wrap, in
// front of git http-backend) between Update and the server and runs Update
// N times per fault, one after the other. Each run must end in success or a
// clear error within its deadline, and afterwards the remote must be whole:
// the branch tip is the previous tip or the run's commit, every recorded
// update is a fast-forward, git fsck is clean, and the branch holds exactly
// one commit per successful run, each changing exactly its run's file.
//
// DOT_RELIABILITY_RUNS sets N (default 12; make reliability uses the
// default, longer soaks pass a larger N).

func reliabilityRuns(t *testing.T) int {
	t.Helper()
	if s := os.Getenv("DOT_RELIABILITY_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("DOT_RELIABILITY_RUNS=%q: want a positive integer", s)
		}
		return n
	}
	if testing.Short() {
		return 4
	}
	return 12
}

// injector counts requests and decides which to disturb.
type injector struct {
	mu       sync.Mutex
	requests map[string]int // by kind: "GET upload-pack", "POST receive-pack", ...
	injected atomic.Int64
}

func requestKind(r *http.Request) string {
	switch {
	case strings.HasSuffix(r.URL.Path, "/info/refs"):
		return "GET " + strings.TrimPrefix(r.URL.Query().Get("service"), "git-")
	case strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
		return "POST upload-pack"
	case strings.HasSuffix(r.URL.Path, "/git-receive-pack"):
		return "POST receive-pack"
	}
	return r.Method + " " + r.URL.Path
}

// next returns the 1-based number of this request among those of its kind.
func (in *injector) next(kind string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.requests == nil {
		in.requests = map[string]int{}
	}
	in.requests[kind]++
	return in.requests[kind]
}

// hangUp closes the client connection without an HTTP answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(fmt.Sprintf("hijack: %v", err)) // the test server is HTTP/1.1; cannot happen
	}
	_ = conn.Close()
}

type fault struct {
	name string
	// wrap builds the middleware; in counts what it injected.
	wrap func(in *injector) func(http.Handler) http.Handler
	// runTimeout bounds one Update (default 30s).
	runTimeout time.Duration
	// maxRuns caps the runs of a slow case (0: no cap).
	maxRuns int
	// wrongPassword makes the client send bad credentials.
	wrongPassword bool
	// wantAllOK: every run must succeed (the fault is one Update absorbs).
	wantAllOK bool
	// wantNoneOK: every run must fail.
	wantNoneOK bool
	// errorMentions lists substrings of which a failed run's error must
	// contain at least one (after the repository URL, which it always must).
	errorMentions []string
}

var faults = []fault{
	{
		// Every second push answered 503: Update retries on the next attempt.
		name: "503 on every second push",
		wrap: func(in *injector) func(http.Handler) http.Handler {
			return func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if k := requestKind(r); k == "POST receive-pack" && in.next(k)%2 == 1 {
						in.injected.Add(1)
						http.Error(w, "injected failure", http.StatusServiceUnavailable)
						return
					}
					next.ServeHTTP(w, r)
				})
			}
		},
		wantAllOK: true,
	},
	{
		// 5xx anywhere: a quarter of all requests, clone and fetch included,
		// picked by a seeded generator (a fixed period would line up with
		// the request pattern of one attempt). A failed clone or re-fetch is
		// not retried by Update (the caller is told), so runs end in a mix
		// of successes and clear errors.
		name: "502 on a quarter of all requests",
		wrap: func(in *injector) func(http.Handler) http.Handler {
			var mu sync.Mutex
			rnd := rand.New(rand.NewPCG(10, 10))
			return func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					hit := rnd.IntN(4) == 0
					mu.Unlock()
					if hit {
						in.injected.Add(1)
						http.Error(w, "injected bad gateway", http.StatusBadGateway)
						return
					}
					next.ServeHTTP(w, r)
				})
			}
		},
		errorMentions: []string{"status code: 502"},
	},
	{
		// Connection reset in the middle of a push: read part of the
		// receive-pack body, then close the connection. git never sees a
		// complete pack, so the ref must not move.
		name: "reset mid-push",
		wrap: func(in *injector) func(http.Handler) http.Handler {
			return func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if k := requestKind(r); k == "POST receive-pack" && in.next(k)%2 == 1 {
						in.injected.Add(1)
						_, _ = io.CopyN(io.Discard, r.Body, 64)
						hangUp(w)
						return
					}
					next.ServeHTTP(w, r)
				})
			}
		},
		wantAllOK: true,
	},
	{
		// The server applies the push, then the connection drops before the
		// answer reaches the client: Update must see its commit on the
		// remote and report success rather than push it twice.
		name: "reset after push applied",
		wrap: func(in *injector) func(http.Handler) http.Handler {
			return func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if k := requestKind(r); k == "POST receive-pack" && in.next(k)%2 == 1 {
						in.injected.Add(1)
						next.ServeHTTP(httptest.NewRecorder(), r)
						hangUp(w)
						return
					}
					next.ServeHTTP(w, r)
				})
			}
		},
		wantAllOK: true,
	},
	{
		// Slow responses: every request waits 20–140ms before git sees it.
		name: "slow responses",
		wrap: func(in *injector) func(http.Handler) http.Handler {
			return func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					n := in.next("any")
					in.injected.Add(1)
					time.Sleep(time.Duration(20+(n*37)%120) * time.Millisecond)
					next.ServeHTTP(w, r)
				})
			}
		},
		wantAllOK: true,
	},
	{
		// Slower than the caller's deadline: the push discovery request
		// stalls past the run's timeout. Runs end in a deadline error and
		// nothing lands.
		name: "slower than the deadline",
		wrap: func(in *injector) func(http.Handler) http.Handler {
			return func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if requestKind(r) == "GET receive-pack" {
						in.injected.Add(1)
						select {
						case <-time.After(3 * time.Second):
						case <-r.Context().Done():
							return
						}
					}
					next.ServeHTTP(w, r)
				})
			}
		},
		runTimeout:    time.Second,
		maxRuns:       4,
		wantNoneOK:    true,
		errorMentions: []string{"context deadline exceeded"},
	},
	{
		// Wrong credentials: the server answers 401 to everything.
		name:          "wrong credentials",
		wrongPassword: true,
		wantNoneOK:    true,
		errorMentions: []string{"authentication required", "authorization failed"},
	},
}

const (
	relUser = "bot"
	relPass = "right-s3cret"
	badPass = "wrong-s3cret"
)

func TestReliabilityFaults(t *testing.T) {
	n := reliabilityRuns(t)
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			in := &injector{}
			so := gitserver.Options{Username: relUser, Password: relPass}
			if f.wrap != nil {
				so.Wrap = f.wrap(in)
			}
			srv := startServer(t, so)
			seedSHA := seed(t, srv, "app", map[string]string{"README": "x\n"})
			opts := Options{URL: srv.RepoURL("app"), Branch: "main", TempDir: t.TempDir(), Auth: Auth{Username: relUser, Password: relPass}}
			if f.wrongPassword {
				opts.Auth.Password = badPass
			}
			timeout := f.runTimeout
			if timeout == 0 {
				timeout = 30 * time.Second
			}
			n := n
			if f.maxRuns > 0 {
				n = min(n, f.maxRuns)
			}
			ctx := context.Background()
			prev := seedSHA
			var ok []UpdateResult
			var failed int
			start := time.Now()
			for i := range n {
				file := fmt.Sprintf("runs/r%03d.yaml", i)
				rctx, cancel := context.WithTimeout(ctx, timeout)
				t0 := time.Now()
				res, err := Update(rctx, opts, UpdateOptions{MaxAttempts: 6, Backoff: 5 * time.Millisecond}, writeFile(file, fmt.Sprintf("run: %d\n", i), nil))
				cancel()
				if d := time.Since(t0); d > timeout+5*time.Second {
					t.Errorf("run %d took %s, beyond its %s deadline", i, d, timeout)
				}
				head, herr := srv.Head(ctx, "app", "main")
				if herr != nil {
					t.Fatal(herr)
				}
				if err != nil {
					failed++
					if os.Getenv("DOT_RELIABILITY_DEBUG") != "" {
						t.Logf("run %d: %v", i, err)
					}
					checkClearError(t, i, err, opts.URL, f.errorMentions)
					if head != prev {
						t.Errorf("run %d failed (%v) but the branch moved %s → %s", i, err, prev, head)
					}
					continue
				}
				if res.Commit == "" || head != res.Commit {
					t.Errorf("run %d succeeded with commit %q but the branch tip is %s (previous %s)", i, res.Commit, head, prev)
				}
				ok = append(ok, res)
				prev = head
			}
			if f.wantAllOK && failed > 0 {
				t.Errorf("%d of %d runs failed; this fault is one Update must absorb", failed, n)
			}
			if f.wantNoneOK && len(ok) > 0 {
				t.Errorf("%d of %d runs succeeded; every run must fail", len(ok), n)
			}
			checkRemoteWhole(t, srv, seedSHA, ok)
			t.Logf("RELIABILITY fault=%q runs=%d ok=%d failed=%d injected=%d commits=%d lost=0 elapsed=%s",
				f.name, n, len(ok), failed, in.injected.Load(), len(ok), time.Since(start).Round(time.Millisecond))
		})
	}
}

// checkClearError: the error names the repository, says what went wrong and
// never echoes a password.
func checkClearError(t *testing.T, run int, err error, url string, mentions []string) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, relPass) || strings.Contains(msg, badPass) {
		t.Errorf("run %d: error echoes a password: %v", run, err)
	}
	if !strings.Contains(msg, url) {
		t.Errorf("run %d: error does not name the repository %s: %v", run, url, err)
	}
	if len(mentions) == 0 {
		t.Errorf("run %d: unexpected failure: %v", run, err)
		return
	}
	for _, m := range mentions {
		if strings.Contains(msg, m) {
			return
		}
	}
	t.Errorf("run %d: error %q mentions none of %q", run, msg, mentions)
}

// checkRemoteWhole asserts that the remote holds exactly the successful
// runs' commits on top of the seed, each changing only its own file, with a
// fast-forward-only reflog and a clean fsck.
func checkRemoteWhole(t *testing.T, srv *gitserver.Server, seedSHA string, ok []UpdateResult) {
	t.Helper()
	ctx := context.Background()
	log, err := srv.Log(ctx, "app", "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != len(ok)+1 {
		t.Errorf("branch has %d commits, want %d (seed + one per successful run)", len(log), len(ok)+1)
	}
	if len(log) > 0 && log[len(log)-1] != seedSHA {
		t.Errorf("oldest commit %s is not the seed %s", log[len(log)-1], seedSHA)
	}
	landed := map[string]bool{}
	for _, sha := range log {
		landed[sha] = true
	}
	dir := srv.RepoPath("app")
	for _, res := range ok {
		if !landed[res.Commit] {
			t.Errorf("successful run's commit %s is not on the branch", res.Commit)
			continue
		}
		out, err := exec.Command("git", "-C", dir, "diff-tree", "--no-commit-id", "--name-only", "-r", res.Commit).Output()
		if err != nil {
			t.Fatalf("diff-tree %s: %v", res.Commit, err)
		}
		if got := strings.Fields(string(out)); len(got) != 1 || len(res.Files) != 1 || got[0] != res.Files[0] {
			t.Errorf("commit %s changes %v, want exactly %v", res.Commit, got, res.Files)
		}
	}
	if ok, err := srv.IsFastForwardHistory(ctx, "app", "main"); err != nil || !ok {
		bad, _ := srv.NonFastForwardUpdates(ctx, "app", "main")
		t.Errorf("reflog has non-fast-forward updates: %v %v", bad, err)
	}
	updates, err := srv.Reflog(ctx, "app", "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(updates) != len(ok)+1 {
		t.Errorf("reflog has %d updates, want %d (seed + one per successful run)", len(updates), len(ok)+1)
	}
	out, err := exec.Command("git", "-C", dir, "fsck", "--full", "--strict", "--no-progress").CombinedOutput()
	if err != nil {
		t.Errorf("git fsck: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !strings.HasPrefix(line, "dangling ") {
			t.Errorf("git fsck: %s", line)
		}
	}
}
