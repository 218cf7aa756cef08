// Command demo is `make demo`: dot's main job on the local environment.
//
// It starts the environment of package test/e2e/cluster (a real
// kube-apiserver with kwok nodes, Flux's kustomize-controller, Argo CD and a
// git server with basic auth, all as local processes), seeds two Git
// repositories with a small kustomize app (a shared base and a prod
// overlay), has Flux deploy one and Argo CD the other, and runs dot's real
// commands against them in-process through cli.Execute: dot version, dot
// gitops trace, and dot op scale (dry run, then delivered), image and
// rollback on both apps; then it breaks each app through dot op image (an
// image kwok's failure stages never pull, or crash-loop) and has dot
// remediate diagnose it (dry run) and fix it (one commit, verified); then
// dot recommend turns an intent into a new app under apps/ of each
// repository, creating its Flux or Argo CD owner, and a second run commits
// nothing; last it shows each repository's history with dot's commits.
// Each step is checked (exit code, one commit per change, the live
// Deployment); the demo exits non-zero at the first step that fails,
// saying why, and keeps the environment's logs.
//
//	demo [--keep] [--pid-file FILE] [--timeout 10m]
//
// The environment is stopped at the end, on Ctrl-C or SIGTERM at any time,
// and when a step fails. With --keep it stays up after the last step: the
// demo prints `export KUBECONFIG=...` (and the git credentials) and waits
// for Ctrl-C or SIGTERM. --pid-file records the demo's process id while it
// runs, so `make demo-down` can stop it.
//
// The steps are a list (see steps in steps.go): a pipeline joins the demo
// by appending its own steps.
//
// Exit codes: 0 every step passed; 1 a step failed or the environment did
// not stop cleanly; 2 bad flags; 130 interrupted before the last step.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/dot-ai/dot/pkg/kube"
	"github.com/dot-ai/dot/test/e2e/cluster"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// demo is what the steps share.
type demo struct {
	out, errOut io.Writer
	apps        []*app
	// dir is the environment's directory; its logs/ are kept when a step
	// fails.
	dir                  string
	gitUser, gitPassword string

	env    *cluster.Env  // set by the start step
	client client.Client // admin client of env
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keep := fs.Bool("keep", false, "leave the environment running after the last step, until Ctrl-C or SIGTERM")
	pidFile := fs.String("pid-file", "", "write the demo's process id to this file while it runs (for `make demo-down`)")
	timeout := fs.Duration("timeout", 10*time.Minute, "time limit for the steps (not for --keep's wait)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "demo: unexpected arguments %q\n", fs.Args())
		return 2
	}
	// dot's commands run in-process: silence the libraries' global loggers
	// as the dot binary does (cli.Run), so stdout and stderr stay readable.
	ctrllog.SetLogger(logr.Discard())
	klog.SetLogger(logr.Discard())

	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *pidFile != "" {
		if err := writePIDFile(*pidFile, os.Getpid()); err != nil {
			fmt.Fprintln(stderr, "demo:", err)
			return 1
		}
		defer removePIDFile(*pidFile, os.Getpid())
	}

	dir, err := os.MkdirTemp("", "dot-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	password, err := randomHex(12)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	d := &demo{out: stdout, errOut: stderr, apps: demoApps(), dir: dir, gitUser: "demo", gitPassword: password}

	fmt.Fprintln(stdout, "dot demo: the operations pipeline on a local cluster with Flux and Argo CD.")
	fmt.Fprintln(stdout, "Every `dot` below runs in-process (the dot binary's own code) with --kubeconfig <env>/kubeconfig,")
	fmt.Fprintln(stdout, "and DOT_GIT_USERNAME/DOT_GIT_TOKEN set to the git server's basic-auth credentials.")

	start := time.Now()
	ctx, cancel := context.WithTimeout(sigCtx, *timeout)
	timings, err := runSteps(ctx, d, steps(d.apps))
	cancel()
	code := 0
	switch {
	case err != nil && sigCtx.Err() != nil:
		// What failed is only the interruption's echo (a cancelled wait or
		// command): name the step, not its error.
		var se *stepError
		if errors.As(err, &se) {
			fmt.Fprintf(stderr, "\ndemo: interrupted during step %d/%d (%s)\n", se.index, se.total, se.title)
		} else {
			fmt.Fprintf(stderr, "\ndemo: interrupted: %v\n", err)
		}
		code = 130
	case err != nil:
		fmt.Fprintf(stderr, "\ndemo: FAILED: %v\n", err)
		code = 1
	default:
		writeSummary(stdout, timings, time.Since(start))
		if *keep {
			if err := d.hold(sigCtx, *pidFile); err != nil {
				fmt.Fprintln(stderr, "demo:", err)
				code = 1
			}
		}
	}
	// Logs are worth keeping when a step failed, not after a clean run or
	// an interruption.
	if err := d.teardown(code != 1); err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		code = 1
	}
	if code == 0 {
		fmt.Fprintf(stdout, "\ndot demo: done in %s\n", since(start))
	}
	return code
}

// getenv is the environment dot's commands see: the git credentials, and a
// HOME of their own so a developer's ~/.config/dot/config.yaml cannot change
// what the demo does.
func (d *demo) getenv(key string) string {
	switch key {
	case "DOT_GIT_USERNAME":
		return d.gitUser
	case "DOT_GIT_TOKEN":
		return d.gitPassword
	case "HOME":
		return filepath.Join(d.dir, "home", "dot")
	case "NO_COLOR":
		return os.Getenv(key)
	}
	return ""
}

// start is the first step: it starts the environment with both controllers
// and basic auth on the git server.
func (d *demo) start(ctx context.Context) error {
	env, err := cluster.Start(ctx, cluster.Options{
		Dir:         d.dir,
		Flux:        true,
		ArgoCD:      true,
		GitUsername: d.gitUser,
		GitPassword: d.gitPassword,
		Logf:        func(format string, a ...any) { fmt.Fprintf(d.out, format+"\n", a...) },
	})
	if err != nil {
		return err
	}
	d.env = env
	if d.client, err = client.New(env.RESTConfig, client.Options{Scheme: kube.NewScheme()}); err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	return nil
}

// hold keeps the environment up until ctx ends, after printing how to use
// it from another shell.
func (d *demo) hold(ctx context.Context, pidFile string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "export KUBECONFIG=%s\n", d.env.Kubeconfig)
	fmt.Fprintf(&b, "export DOT_GIT_USERNAME=%s DOT_GIT_TOKEN=%s\n", d.gitUser, d.gitPassword)
	envFile := filepath.Join(d.dir, "env.sh")
	if err := os.WriteFile(envFile, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", envFile, err)
	}
	fmt.Fprintf(d.out, "\n==> The environment keeps running. In another shell (or: source %s):\n%s", envFile, b.String())
	for _, a := range d.apps {
		fmt.Fprintf(d.out, "# %s app: namespace %s, repo %s\n", a.label, a.ns, d.env.Git.CredentialURL(a.repo))
	}
	fmt.Fprintf(d.out, "go run ./cmd/dot gitops trace deployment/web -n %s\n", d.apps[0].ns)
	stopHow := "Ctrl-C here"
	if pidFile != "" {
		stopHow += " or `make demo-down` (pid " + strconv.Itoa(os.Getpid()) + ")"
	}
	fmt.Fprintf(d.out, "Stop it with %s; logs are in %s/logs.\n", stopHow, d.dir)
	<-ctx.Done()
	fmt.Fprintln(d.out, "\ndemo: stop requested")
	return nil
}

// teardown stops the environment (if it started) and removes its
// directory, unless removeLogs is false or stopping failed: then the logs
// are kept.
func (d *demo) teardown(removeLogs bool) error {
	start := time.Now()
	var err error
	if d.env != nil {
		fmt.Fprintln(d.out, "\n==> Stopping the local environment")
		if err = d.env.Stop(); err != nil {
			err = fmt.Errorf("stop the environment: %w", err)
		}
	}
	_, statErr := os.Stat(filepath.Join(d.dir, "logs"))
	if (removeLogs && err == nil) || statErr != nil {
		if rmErr := os.RemoveAll(d.dir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove %s: %w", d.dir, rmErr))
		}
	} else {
		fmt.Fprintf(d.errOut, "demo: the environment's logs are kept in %s/logs\n", d.dir)
	}
	if d.env != nil && err == nil {
		fmt.Fprintf(d.out, "stopped every component in %s\n", since(start))
	}
	return err
}

// writePIDFile records pid in path. It refuses when the file names another
// process that is still running: a demo already up, which `make demo-down`
// stops (or, if the process is something else, whose stale file it removes).
func writePIDFile(path string, pid int) error {
	if b, err := os.ReadFile(path); err == nil {
		if old, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && old != pid && processRunning(old) {
			return fmt.Errorf("%s names process %d, which is running: a demo is already up; stop it with `make demo-down`", path, old)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

// removePIDFile removes path if it still names pid.
func removePIDFile(path string, pid int) {
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(pid) {
		os.Remove(path)
	}
}

func processRunning(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, os.ErrPermission)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate git password: %w", err)
	}
	return hex.EncodeToString(b), nil
}
