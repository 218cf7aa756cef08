// Command dotenv runs dot's local test environment (package
// test/e2e/cluster) in the foreground, for `make demo` and for poking at it
// by hand:
//
//	dotenv up [--dir D] [--flux] [--argocd] [--nodes N]
//	          [--tracking label|annotation|annotation+label]
//	          [--git-username U --git-password P]
//
// With neither --flux nor --argocd, both are started. Progress goes to
// stderr; once everything is ready, shell exports go to stdout and to
// D/env.sh (written last, so its presence means "ready"):
//
//	export KUBECONFIG=D/kubeconfig
//	export DOT_GIT_URL=http://127.0.0.1:PORT
//
// It runs until SIGINT or SIGTERM, then stops every component. With --dir the
// directory (logs included) is kept; without it a temporary one is removed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/dot-ai/dot/test/e2e/cluster"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "dotenv:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || args[0] != "up" {
		return errors.New("usage: dotenv up [--dir D] [--flux] [--argocd] [--nodes N] [--tracking M] [--git-username U --git-password P]")
	}
	fs := flag.NewFlagSet("dotenv up", flag.ContinueOnError)
	var opts cluster.Options
	fs.StringVar(&opts.Dir, "dir", "", "environment directory, kept on exit (default: a temporary directory, removed on exit)")
	fs.BoolVar(&opts.Flux, "flux", false, "start Flux (kustomize-controller and the GitRepository artifact publisher)")
	fs.BoolVar(&opts.ArgoCD, "argocd", false, "start Argo CD (redis, repo-server, application-controller)")
	fs.IntVar(&opts.Nodes, "nodes", 1, "number of kwok fake nodes")
	fs.StringVar(&opts.ArgoCDTrackingMethod, "tracking", cluster.DefaultArgoCDTrackingMethod, "Argo CD resource tracking method: label, annotation or annotation+label")
	fs.StringVar(&opts.GitUsername, "git-username", "", "basic-auth user on the git server (default: no auth)")
	fs.StringVar(&opts.GitPassword, "git-password", "", "basic-auth password on the git server")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if !opts.Flux && !opts.ArgoCD {
		opts.Flux, opts.ArgoCD = true, true
	}
	opts.Logf = func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	// The in-process artifact publisher logs to Dir/logs/gitsource.log;
	// this only silences controller-runtime's "SetLogger was never called"
	// warning from code paths that use its global logger.
	ctrllog.SetLogger(logr.Discard())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	startCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	env, err := cluster.Start(startCtx, opts)
	cancel()
	if err != nil {
		return err
	}

	exports := fmt.Sprintf("export KUBECONFIG=%s\nexport DOT_GIT_URL=%s\n", env.Kubeconfig, env.Git.URL())
	fmt.Print(exports)
	envFile := filepath.Join(env.Dir, "env.sh")
	if err := os.WriteFile(envFile, []byte(exports), 0o644); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", envFile, err), env.Stop())
	}
	var pids []string
	all := env.PIDs()
	for _, name := range slices.Sorted(maps.Keys(all)) {
		pids = append(pids, fmt.Sprintf("%s=%d", name, all[name]))
	}
	fmt.Fprintf(os.Stderr, "dotenv: up (logs in %s/logs; pids %s); Ctrl-C to stop\n", env.Dir, strings.Join(pids, " "))

	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "dotenv: stopping")
	os.Remove(envFile)
	if err := env.Stop(); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "dotenv: stopped")
	return nil
}
