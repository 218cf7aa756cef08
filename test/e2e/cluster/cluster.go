package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/dot-ai/dot/internal/gitserver"
	"github.com/dot-ai/dot/test/e2e/cluster/gitsource"
)

// Namespaces the controllers run in, as in their standard installations.
const (
	FluxNamespace   = "flux-system"
	ArgoCDNamespace = "argocd"
)

// Argo CD resource tracking methods (argocd-cm
// application.resourceTrackingMethod). Argo CD v2 defaults to label, v3 to
// annotation.
const (
	TrackingLabel              = "label"
	TrackingAnnotation         = "annotation"
	TrackingAnnotationAndLabel = "annotation+label"
)

// DefaultArgoCDTrackingMethod is the tracking method used when
// Options.ArgoCDTrackingMethod is empty: annotation, the default of current
// Argo CD (v3) installations, although the v2 binary run here defaults to
// label when argocd-cm does not say.
const DefaultArgoCDTrackingMethod = TrackingAnnotation

// Options configures Start.
type Options struct {
	// Dir holds everything the environment writes: kubeconfig, certificates,
	// etcd data, git repositories, artifacts, and logs/<component>.log. When
	// empty, Start creates a temporary directory and Stop removes it; a Dir
	// given by the caller is left in place (with its logs) by Stop, and what
	// an earlier environment left in it is removed by Start.
	Dir string
	// TestBin is the directory hack/testbin.sh built the binaries into;
	// TestBinDir() when empty.
	TestBin string
	// Flux starts Flux's kustomize-controller and the GitRepository artifact
	// publisher (package gitsource, a stand-in for source-controller).
	Flux bool
	// ArgoCD starts redis, Argo CD's repo-server and application-controller.
	ArgoCD bool
	// ArgoCDTrackingMethod is written to argocd-cm; one of TrackingLabel,
	// TrackingAnnotation, TrackingAnnotationAndLabel.
	// DefaultArgoCDTrackingMethod when empty.
	ArgoCDTrackingMethod string
	// GitUsername and GitPassword turn on basic auth on the git server. Argo
	// CD gets a repo-creds secret for the server's URL; Flux GitRepositories
	// need a secretRef (see Env.GitSecret).
	GitUsername, GitPassword string
	// Nodes is the number of kwok fake nodes; 1 when zero.
	Nodes int
	// Logf receives one line per start-up step; nil is silent.
	Logf func(format string, args ...any)
}

// stateEntries are what Start writes into Dir; Start removes them from a
// Dir given by the caller before it begins.
var stateEntries = []string{
	"logs", "kubeconfig", "kubeconfigs", "pki", "etcd", "git", "artifacts",
	"redis", "argocd", "home", "tmp", "env.sh",
}

// Env is a running environment. Stop it with Stop.
type Env struct {
	// Dir is the environment's directory (Options.Dir or a temporary one).
	Dir string
	// Kubeconfig is the path of an admin kubeconfig (context "dot-testbed").
	Kubeconfig string
	// RESTConfig is the admin configuration Kubeconfig describes.
	RESTConfig *rest.Config
	// APIServerURL is https://127.0.0.1:PORT.
	APIServerURL string
	// Git is the git server; repositories on it are reachable by every
	// component at Git.RepoURL(name).
	Git *gitserver.Server
	// Artifacts is the GitRepository artifact publisher; nil without Flux.
	Artifacts *gitsource.Publisher
	// TestBin is the directory the binaries were run from.
	TestBin string
	// NodeNames are the kwok nodes.
	NodeNames []string

	opts      Options
	ownDir    bool
	pki       *pki
	procs     []*process
	client    kubernetes.Interface
	stopBG    context.CancelFunc // stops in-process components (publisher)
	bgDone    chan error         // publisher's Start result
	logFiles  []*os.File         // logs of in-process components, closed by Stop
	stopOnce  sync.Once
	stopErr   error
	startedAt time.Time
}

// Start starts the environment and returns when every component is ready.
// ctx bounds start-up only: the environment runs until Stop. On error,
// everything already started is stopped before Start returns.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	if err := platformCheck(); err != nil {
		return nil, err
	}
	if opts.Nodes <= 0 {
		opts.Nodes = 1
	}
	if opts.ArgoCDTrackingMethod == "" {
		opts.ArgoCDTrackingMethod = DefaultArgoCDTrackingMethod
	}
	if err := validTrackingMethod(opts.ArgoCDTrackingMethod); err != nil {
		return nil, err
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	e := &Env{opts: opts, startedAt: time.Now()}
	defer func() {
		if err != nil {
			if stopErr := e.Stop(); stopErr != nil {
				err = errors.Join(err, stopErr)
			}
		}
	}()

	if e.TestBin = opts.TestBin; e.TestBin == "" {
		if e.TestBin, err = TestBinDir(); err != nil {
			return nil, err
		}
	}
	if err := checkTestBin(e.TestBin, opts); err != nil {
		return nil, err
	}
	if e.Dir = opts.Dir; e.Dir == "" {
		if e.Dir, err = os.MkdirTemp("", "dot-env-"); err != nil {
			return nil, fmt.Errorf("create env dir: %w", err)
		}
		e.ownDir = true
	}
	if e.Dir, err = filepath.Abs(e.Dir); err != nil {
		return nil, fmt.Errorf("create env dir: %w", err)
	}
	if !e.ownDir {
		// A Dir reused from an earlier run (`dotenv up --dir D` twice)
		// would otherwise start etcd on the old data with new credentials.
		for _, name := range stateEntries {
			if err := os.RemoveAll(filepath.Join(e.Dir, name)); err != nil {
				return nil, fmt.Errorf("clear env dir: %w", err)
			}
		}
	}
	for _, d := range []string{"logs", "kubeconfigs", "home", "tmp"} {
		if err := os.MkdirAll(filepath.Join(e.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("create env dir: %w", err)
		}
	}
	if e.pki, err = newPKI(filepath.Join(e.Dir, "pki")); err != nil {
		return nil, err
	}

	if err := e.startControlPlane(ctx); err != nil {
		return nil, err
	}

	step := time.Now()
	e.Git, err = gitserver.Start(ctx, gitserver.Options{
		Root:     filepath.Join(e.Dir, "git"),
		Username: opts.GitUsername,
		Password: opts.GitPassword,
		Log:      e.logWriter("gitserver"),
	})
	if err != nil {
		return nil, err
	}
	opts.Logf("cluster: git server ready at %s (%s)", e.Git.URL(), since(step))

	if opts.Flux || opts.ArgoCD {
		if err := e.startGitOps(ctx); err != nil {
			return nil, err
		}
	}
	opts.Logf("cluster: environment ready in %s (dir %s)", since(e.startedAt), e.Dir)
	return e, nil
}

// Stop stops what Start started, in reverse order: each process group gets
// SIGTERM, then SIGKILL after a grace period. It removes the environment's
// directory when Start created it. Stop is safe to call more than once.
func (e *Env) Stop() error {
	e.stopOnce.Do(func() {
		var errs []error
		if e.stopBG != nil {
			e.stopBG()
			select {
			case err := <-e.bgDone:
				if err != nil {
					errs = append(errs, err)
				}
			case <-time.After(15 * time.Second):
				errs = append(errs, errors.New("stop gitrepository publisher: timed out"))
			}
		}
		if e.Git != nil {
			if err := e.Git.Close(); err != nil {
				errs = append(errs, fmt.Errorf("stop git server: %w", err))
			}
		}
		// Controllers first, etcd last, so nothing logs a storm of
		// connection errors on the way down.
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := len(e.procs) - 1; i >= 0; i-- {
			p := e.procs[i]
			if p.name == "etcd" || p.name == "kube-apiserver" {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.stop(10 * time.Second); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		for _, name := range []string{"kube-apiserver", "etcd"} {
			for _, p := range e.procs {
				if p.name == name {
					if err := p.stop(10 * time.Second); err != nil {
						errs = append(errs, err)
					}
				}
			}
		}
		for _, f := range e.logFiles {
			f.Close()
		}
		if e.ownDir && e.Dir != "" {
			if err := os.RemoveAll(e.Dir); err != nil {
				errs = append(errs, fmt.Errorf("remove env dir: %w", err))
			}
		}
		e.stopErr = errors.Join(errs...)
	})
	return e.stopErr
}

// PIDs returns the process id of each running component, by name.
func (e *Env) PIDs() map[string]int {
	m := map[string]int{}
	for _, p := range e.procs {
		if !p.exited() {
			m[p.name] = p.cmd.Process.Pid
		}
	}
	return m
}

// LogPath returns the log file of the named component.
func (e *Env) LogPath(component string) string {
	return filepath.Join(e.Dir, "logs", component+".log")
}

// baseEnv is the environment every child starts from: PATH (with the testbin
// directory first, so Argo CD finds kustomize and its askpass helper), and a
// HOME and TMPDIR of its own inside Dir.
func (e *Env) baseEnv(name string, extra ...string) ([]string, error) {
	home := filepath.Join(e.Dir, "home", name)
	tmp := filepath.Join(e.Dir, "tmp", name)
	for _, d := range []string{home, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
	}
	env := []string{
		"PATH=" + e.TestBin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + tmp,
		"GIT_CONFIG_NOSYSTEM=1",
	}
	return append(env, extra...), nil
}

// logWriter returns an append-only writer on logs/<name>.log for in-process
// components; Stop closes it. If the file cannot be opened the logs are
// dropped: they are diagnostics, not results.
func (e *Env) logWriter(name string) io.Writer {
	f, err := os.OpenFile(e.LogPath(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return io.Discard
	}
	e.logFiles = append(e.logFiles, f)
	return f
}

func validTrackingMethod(m string) error {
	switch m {
	case TrackingLabel, TrackingAnnotation, TrackingAnnotationAndLabel:
		return nil
	}
	return fmt.Errorf("argocd tracking method %q: want %s, %s or %s", m, TrackingLabel, TrackingAnnotation, TrackingAnnotationAndLabel)
}

func since(t time.Time) string { return time.Since(t).Round(10 * time.Millisecond).String() }

// TestBinDir returns the directory hack/testbin.sh builds into: $DOT_TESTBIN
// when set, else what `hack/testbin.sh --print-dir` prints (its default
// depends on a hash of test/e2e/tools). The script is looked for in the
// working directory and its parents, so this works from any package
// directory of the repository.
func TestBinDir() (string, error) {
	if d := os.Getenv("DOT_TESTBIN"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find testbin dir: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		script := filepath.Join(dir, "hack", "testbin.sh")
		if _, err := os.Stat(script); err == nil {
			out, err := exec.Command("bash", script, "--print-dir").Output()
			if err != nil {
				return "", fmt.Errorf("find testbin dir: %s --print-dir: %w", script, err)
			}
			return strings.TrimSpace(string(out)), nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("find testbin dir: no hack/testbin.sh above %s; set DOT_TESTBIN", wd)
		}
	}
}

// checkTestBin verifies the binaries and manifests opts needs are present,
// so a missing build says what to run instead of failing half-way.
func checkTestBin(dir string, opts Options) error {
	need := []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages"}
	if opts.Flux {
		need = append(need, "kustomize-controller", "crds/flux")
	}
	if opts.ArgoCD {
		need = append(need, "argocd", "kustomize", "crds/argocd")
	}
	var missing []string
	for _, n := range need {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("testbin dir %s lacks %s: run `make testbin` (hack/testbin.sh)", dir, strings.Join(missing, ", "))
	}
	if opts.ArgoCD {
		if _, err := exec.LookPath("redis-server"); err != nil {
			return errors.New("argocd needs redis-server on PATH (Debian/Ubuntu: apt-get install redis-server)")
		}
	}
	if _, err := exec.LookPath("git"); err != nil {
		return errors.New("the git server needs git on PATH")
	}
	return nil
}

// newRESTConfig loads a kubeconfig file.
func newRESTConfig(path string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}
