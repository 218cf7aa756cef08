package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/util/homedir"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/version"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// fixedVersion makes version output independent of the toolchain and build.
func fixedVersion() version.Info {
	return version.Info{
		GitVersion: "v1.2.3", GitCommit: "0123456789abcdef0123456789abcdef01234567", GitTreeState: "clean",
		BuildDate: "2026-01-02T03:04:05Z", GoVersion: "go1.26.8", Compiler: "gc", Platform: "linux/amd64",
	}
}

type runResult struct {
	stdout, stderr string
	code           int
}

// run executes dot in-process with a controlled environment: only the
// variables in env exist, HOME and XDG_CONFIG_HOME point into a temp dir.
func run(t *testing.T, env map[string]string, args ...string) runResult {
	t.Helper()
	const home = "/nonexistent/home"
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		if k == "HOME" {
			return home
		}
		return ""
	}
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := Execute(ctx, args, streams, WithGetenv(getenv), WithVersion(fixedVersion))
	return runResult{stdout: out.String(), stderr: errOut.String(), code: code}
}

// golden compares got with testdata/<name>; -update rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create): %v", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// fakeAPIServer answers /version like a kube-apiserver; it is enough for
// `dot version`, which needs nothing else from the server.
func fakeAPIServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/version" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"major":"1","minor":"33","gitVersion":"v1.33.13","gitCommit":"abc","gitTreeState":"clean","buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.24.0","compiler":"gc","platform":"linux/amd64"}`)
	}))
	t.Cleanup(srv.Close)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, srv.URL)
	if err := os.WriteFile(kc, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return kc
}

func TestVersionGolden(t *testing.T) {
	kc := fakeAPIServer(t)
	cases := []struct {
		name, golden string
		args         []string
	}{
		{"json with server", "version-server.json", []string{"dot", "version", "-o", "json", "--kubeconfig", kc}},
		{"yaml with server", "version-server.yaml", []string{"dot", "version", "-o", "yaml", "--kubeconfig", kc}},
		{"table with server", "version-server.txt", []string{"dot", "version", "--kubeconfig", kc}},
		{"json client only", "version-client.json", []string{"dot", "version", "--client", "-o", "json"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, tc.args...)
			if r.code != ExitOK {
				t.Fatalf("exit code %d, stderr: %s", r.code, r.stderr)
			}
			golden(t, tc.golden, r.stdout)
		})
	}
}

func TestVersionWithoutServerStillSucceeds(t *testing.T) {
	// A kubeconfig pointing at a closed port: the client version is printed,
	// the reason for the missing server version goes to stderr and the JSON.
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"), 0o600)
	r := run(t, nil, "dot", "version", "-o", "json", "--kubeconfig", kc)
	if r.code != ExitOK {
		t.Fatalf("exit code %d, want 0; stderr: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, `"gitVersion": "v1.2.3"`) || strings.Contains(r.stdout, "serverVersion") {
		t.Errorf("want client version only, got:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, `"serverError"`) || !strings.Contains(r.stderr, "server version unavailable") {
		t.Errorf("want the reason in serverError and on stderr; stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	xdg := filepath.Join(dir, "xdg")
	os.MkdirAll(filepath.Join(xdg, "dot"), 0o755)
	os.WriteFile(filepath.Join(xdg, "dot", "config.yaml"), []byte("# team defaults\ngitops: argocd\ntimeout: 7m\nargocdNamespace: gitops\n"), 0o644)
	explicit := filepath.Join(dir, "explicit.yaml")
	os.WriteFile(explicit, []byte("gitops: off\n"), 0o644)

	cases := []struct {
		name   string
		env    map[string]string
		args   []string
		golden string
	}{
		{"defaults", nil, nil, "config-defaults.json"},
		{"file", map[string]string{"XDG_CONFIG_HOME": xdg}, nil, "config-file.json"},
		{"env beats file", map[string]string{"XDG_CONFIG_HOME": xdg, "DOT_GITOPS": "flux", "DOT_TIMEOUT": "90s"}, nil, "config-env.json"},
		{"flag beats env and file", map[string]string{"XDG_CONFIG_HOME": xdg, "DOT_GITOPS": "flux"}, []string{"--gitops", "off", "--timeout=0s"}, "config-flag.json"},
		{"DOT_CONFIG names the file", map[string]string{"XDG_CONFIG_HOME": xdg, "DOT_CONFIG": explicit}, nil, "config-explicit.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"dot", "config", "view", "-o", "json"}, tc.args...)
			r := run(t, tc.env, args...)
			if r.code != ExitOK {
				t.Fatalf("exit code %d, stderr: %s", r.code, r.stderr)
			}
			golden(t, tc.golden, strings.ReplaceAll(r.stdout, dir, "$DIR"))
		})
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{"unknown key names key, file and line", map[string]string{"DOT_CONFIG": write("unknown.yaml", "gitops: flux\ngitopz: argocd\n")}, nil,
			`Error: config file $DIR/unknown.yaml:2: unknown key "gitopz"`},
		{"bad value in file names key and line", map[string]string{"DOT_CONFIG": write("bad.yaml", "\ntimeout: soon\n")}, nil,
			`Error: config file $DIR/bad.yaml:2: key "timeout": invalid value "soon"`},
		{"bad enum in env names variable", map[string]string{"DOT_GITOPS": "helm"}, nil,
			`Error: environment variable DOT_GITOPS: invalid value "helm": must be one of auto, argocd, flux, off`},
		{"missing explicit file", map[string]string{"DOT_CONFIG": filepath.Join(dir, "missing.yaml")}, nil,
			`Error: read config file: open $DIR/missing.yaml: no such file or directory`},
		{"not a mapping", map[string]string{"DOT_CONFIG": write("list.yaml", "- a\n- b\n")}, nil,
			`Error: config file $DIR/list.yaml:1: expected a mapping of settings`},
		{"bad flag value", nil, []string{"--gitops", "maybe"},
			`Error: invalid argument "maybe" for "--gitops" flag: must be one of auto, argocd, flux, off`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"dot", "config", "view"}, tc.args...)
			r := run(t, tc.env, args...)
			if r.code != ExitUsage {
				t.Errorf("exit code %d, want %d (usage)", r.code, ExitUsage)
			}
			got := strings.ReplaceAll(r.stderr, dir, "$DIR")
			if !strings.HasPrefix(got, tc.wantErr) {
				t.Errorf("stderr:\n%s\nwant prefix:\n%s", got, tc.wantErr)
			}
			if r.stdout != "" {
				t.Errorf("stdout must stay empty on error, got %q", r.stdout)
			}
		})
	}
}

func TestExitCodeMapping(t *testing.T) {
	wait := func(timeout bool) error {
		return fmt.Errorf("deliver: %w", &gitops.WaitError{Owner: "Application argocd/web", Revision: "abc", Timeout: timeout})
	}
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain error", errors.New("boom"), 1},
		{"usage", &UsageError{errors.New("bad flag")}, 2},
		{"wrapped usage", fmt.Errorf("x: %w", &UsageError{errors.New("bad")}), 2},
		{"operation deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), 3},
		{"wait timeout", wait(true), 3},
		{"changes pending", fmt.Errorf("plan: %w", gitops.ErrChangesPending), 4},
		{"wait failure (degraded)", wait(false), 5},
		{"conflict", fmt.Errorf("edit: %w", gitops.ErrConflict), 6},
		{"aborted", gitops.ErrAborted, 7},
		{"interrupted beats the rest", fmt.Errorf("%w: %w", errInterrupted, context.Canceled), 130},
		{"not managed is a plain error", gitops.ErrNotManaged, 1},
	}
	var table strings.Builder
	for _, tc := range cases {
		got := ExitCode(tc.err)
		if got != tc.want {
			t.Errorf("%s: ExitCode = %d, want %d", tc.name, got, tc.want)
		}
		fmt.Fprintf(&table, "%-28s %d\n", tc.name, got)
	}
	golden(t, "exit-codes.txt", table.String())
}

func TestUsageErrorsExitTwo(t *testing.T) {
	cases := [][]string{
		{"dot", "frobnicate"},
		{"dot", "version", "extra-arg"},
		{"dot", "version", "--no-such-flag"},
		{"dot", "version", "-o", "xml"},
	}
	for _, args := range cases {
		r := run(t, nil, args...)
		if r.code != ExitUsage {
			t.Errorf("%v: exit code %d, want 2; stderr: %s", args, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "--help' for usage.") {
			t.Errorf("%v: want a usage hint on stderr, got %q", args, r.stderr)
		}
	}
}

func TestKubectlPluginInvocation(t *testing.T) {
	cases := []struct{ argv0, golden string }{
		{"/usr/local/bin/dot", "help-dot.txt"},
		{"/usr/local/bin/kubectl-dot", "help-kubectl-dot.txt"},
	}
	for _, tc := range cases {
		t.Run(filepath.Base(tc.argv0), func(t *testing.T) {
			r := run(t, nil, tc.argv0, "version", "--help")
			if r.code != ExitOK {
				t.Fatalf("exit code %d: %s", r.code, r.stderr)
			}
			// The kubeconfig flags' defaults mention the real home directory.
			golden(t, tc.golden, strings.ReplaceAll(r.stdout, homedir.HomeDir(), "$HOME"))
		})
	}
	if got := ProgramName("kubectl-dot"); got != "kubectl dot" {
		t.Errorf("ProgramName(kubectl-dot) = %q", got)
	}
	r := run(t, nil, "kubectl-dot", "frob")
	if !strings.Contains(r.stderr, "Run 'kubectl dot --help' for usage.") {
		t.Errorf("usage hint should name the plugin invocation, got %q", r.stderr)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := run(t, nil, "dot", "completion", shell)
		if r.code != ExitOK || !strings.Contains(r.stdout, "__complete") {
			t.Errorf("completion %s: code %d, output does not call __complete:\n%.200s", shell, r.code, r.stdout)
		}
	}
}

func TestConfigViewTable(t *testing.T) {
	r := run(t, map[string]string{"DOT_GITOPS": "flux"}, "dot", "config", "view", "--timeout", "1m")
	if r.code != ExitOK {
		t.Fatalf("exit code %d: %s", r.code, r.stderr)
	}
	golden(t, "config-view.txt", r.stdout)
}
