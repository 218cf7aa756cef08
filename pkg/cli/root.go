package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // kubeconfig auth plugins (exec, oidc)
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/dot-ai/dot/pkg/version"
)

// Config is the configuration shared by every command, built once by the root
// command and injected into the actions. Nothing in the CLI reads globals.
type Config struct {
	// Streams are stdin, stdout (data only) and stderr (progress, warnings).
	Streams genericiooptions.IOStreams
	// KubeFlags are --kubeconfig, --context, -n and friends.
	KubeFlags *genericclioptions.ConfigFlags
	// Timeout bounds the whole operation (0: no limit).
	Timeout time.Duration
	// GitOps is auto, argocd, flux or off.
	GitOps string
	// ArgoCDNamespace is where Argo CD's control plane runs.
	ArgoCDNamespace string
	// ArgoCDContext is the kubeconfig context of the Argo CD control plane
	// when it is not the workload's cluster.
	ArgoCDContext string
	// Logger receives debug logs (discarded unless --log-level is set).
	Logger *slog.Logger
	// Progress writes user-facing progress to stderr.
	Progress *Progress

	gitops     *enumValue
	logLevel   *enumValue
	getenv     func(string) string
	settings   []SettingValue
	configFile string
	version    func() version.Info
	clock      func() time.Time
}

func (c *Config) now() time.Time { return c.clock() }

// WithClock replaces time.Now (golden tests use a fixed clock).
func WithClock(now func() time.Time) Option {
	return func(c *Config) { c.clock = now }
}

// Option customises the root command; tests use it to inject the environment
// and a fixed build version.
type Option func(*Config)

// WithGetenv replaces os.Getenv for settings and the config file location.
func WithGetenv(getenv func(string) string) Option {
	return func(c *Config) { c.getenv = getenv }
}

// WithVersion replaces the build version reported by `dot version`.
func WithVersion(v func() version.Info) Option {
	return func(c *Config) { c.version = v }
}

// NewRootCmd returns the dot command tree. name is the program name shown in
// help: "dot", or "kubectl dot" when run as a kubectl plugin.
func NewRootCmd(name string, streams genericiooptions.IOStreams, opts ...Option) *cobra.Command {
	cfg := &Config{
		Streams:  streams,
		getenv:   os.Getenv,
		version:  version.Get,
		clock:    time.Now,
		gitops:   newEnum(GitOpsAuto, GitOpsAuto, GitOpsArgoCD, GitOpsFlux, GitOpsOff),
		logLevel: newEnum("off", "off", "error", "warn", "info", "debug"),
	}
	for _, o := range opts {
		o(cfg)
	}
	root := &cobra.Command{
		Use:   name,
		Short: "Change Kubernetes workloads through Git (Argo CD, Flux) or server-side apply",
		Long: `dot changes Kubernetes workloads the way a careful platform engineer would:
through Git when Argo CD or Flux owns them, and by server-side apply when
nothing does.

Settings are taken from flags, then DOT_* environment variables, then
$XDG_CONFIG_HOME/dot/config.yaml (or the file named by DOT_CONFIG).`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.complete(cmd); err != nil {
				return err
			}
			markRan(cmd)
			return nil
		},
	}
	if strings.Contains(name, " ") {
		// As a kubectl plugin, cobra must still see "dot" as the command name
		// for completion; help shows the full invocation.
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: name}
		root.Use = "dot"
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{err} })

	pf := root.PersistentFlags()
	cfg.KubeFlags = genericclioptions.NewConfigFlags(true)
	cfg.KubeFlags.AddFlags(pf)
	pf.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "time limit for the whole operation (0: no limit)")
	// --timeout from ConfigFlags is --request-timeout; ours bounds the operation.
	pf.Var(cfg.gitops, "gitops", "how to deliver changes: auto (through whatever owns the object), argocd, flux, or off (server-side apply)")
	pf.StringVar(&cfg.ArgoCDNamespace, "argocd-namespace", "argocd", "namespace of the Argo CD control plane")
	pf.StringVar(&cfg.ArgoCDContext, "argocd-context", "", "kubeconfig context of the Argo CD control plane, when it is not the workload's cluster")
	pf.Var(cfg.logLevel, "log-level", "debug log level on stderr: off, error, warn, info, debug")

	root.AddCommand(newVersionCmd(cfg), newConfigCmd(cfg), newGitOpsCmd(cfg), newOpCmd(cfg), newRemediateCmd(cfg), newRecommendCmd(cfg))
	return root
}

// complete applies the environment and the config file to unset flags and
// builds the logger and progress writer. It runs before every command.
func (c *Config) complete(cmd *cobra.Command) error {
	path, explicit := configPath(c.getenv)
	cf, err := loadConfigFile(path, explicit)
	if err != nil {
		return &UsageError{err}
	}
	c.settings, err = applySettings(cmd, c.getenv, cf)
	if err != nil {
		return err
	}
	c.configFile = cf.path
	c.GitOps = c.gitops.value
	c.Logger = newLogger(c.Streams.ErrOut, c.logLevel.value)
	tty := isTerminal(c.Streams.ErrOut)
	c.Progress = newProgress(c.Streams.ErrOut, tty, tty && c.getenv("NO_COLOR") == "")
	return nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch level {
	case "off":
		return slog.New(slog.DiscardHandler)
	case "error":
		l = slog.LevelError
	case "warn":
		l = slog.LevelWarn
	case "info":
		l = slog.LevelInfo
	default:
		l = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// commandContext returns the context of a command bounded by --timeout.
func (c *Config) commandContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if c.Timeout > 0 {
		return context.WithTimeout(ctx, c.Timeout)
	}
	return context.WithCancel(ctx)
}

// ProgramName returns the name dot was invoked as: "kubectl dot" when the
// binary is called kubectl-dot (kubectl's plugin convention), else "dot".
func ProgramName(argv0 string) string {
	base := strings.TrimSuffix(filepath.Base(argv0), ".exe")
	if base == "kubectl-dot" || base == "kubectl_dot" {
		return "kubectl dot"
	}
	return "dot"
}

// Run executes dot with args (args[0] is the program path) and returns the
// process exit code. It installs the signal handling: SIGINT or SIGTERM
// cancels the operation's context, and the command cleans up and returns.
func Run(args []string, streams genericiooptions.IOStreams, opts ...Option) int {
	// Silence the libraries' own loggers: stdout is data only, stderr is ours.
	ctrllog.SetLogger(logr.Discard())
	klog.SetLogger(logr.Discard())

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
			cancel(errInterrupted)
		case <-ctx.Done():
		}
	}()
	return Execute(ctx, args, streams, opts...)
}

// Execute runs dot with args under ctx and returns the exit code, writing the
// error, if any, to stderr. Unlike Run it installs no signal handlers, so
// tests and embedding programs can call it.
func Execute(ctx context.Context, args []string, streams genericiooptions.IOStreams, opts ...Option) int {
	name := "dot"
	if len(args) > 0 {
		name = ProgramName(args[0])
		args = args[1:]
	}
	root := NewRootCmd(name, streams, opts...)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if cause := context.Cause(ctx); cause == errInterrupted {
		err = fmt.Errorf("%w: %w", errInterrupted, err)
	}
	if !ranCommand(cmd) {
		// Cobra rejected the call before running anything: unknown command,
		// bad arguments, missing required flags.
		err = asUsage(err)
	}
	fmt.Fprintf(streams.ErrOut, "Error: %v\n", err)
	code := ExitCode(err)
	if code == ExitUsage {
		fmt.Fprintf(streams.ErrOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

const ranAnnotation = "dot.ran"

// markRan records that a command got past cobra's argument and flag checks
// and dot's settings, so later errors are not mistaken for usage errors.
func markRan(cmd *cobra.Command) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[ranAnnotation] = "true"
}

func ranCommand(cmd *cobra.Command) bool {
	return cmd != nil && cmd.Annotations[ranAnnotation] == "true"
}

func asUsage(err error) error {
	var u *UsageError
	if errors.As(err, &u) {
		return err
	}
	return &UsageError{err}
}
