//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/dot-ai/dot/internal/gitserver"
	"github.com/dot-ai/dot/test/e2e/cluster"
)

// Git credentials of the local environment's git server: basic auth is on so
// every test exercises credential handling (Flux secretRef, Argo CD
// repo-creds).
const (
	gitUser     = "dot-e2e"
	gitPassword = "e2e-password"
)

// suite is what every test uses; TestMain sets it up once per test binary.
var suite struct {
	cfg    *rest.Config
	client client.Client
	git    *gitserver.Server
	local  *cluster.Env // nil when running against DOT_TEST_KUBECONFIG
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// Silences controller-runtime's "SetLogger was never called" warning;
	// the environment's components log to files.
	ctrllog.SetLogger(logr.Discard())
	if kc := os.Getenv("DOT_TEST_KUBECONFIG"); kc != "" {
		return runExternal(m, kc)
	}
	return runLocal(m)
}

// runLocal starts the local environment (both controllers) in a temporary
// directory, which is kept, logs included, when a test fails.
func runLocal(m *testing.M) int {
	dir, err := os.MkdirTemp("", "dot-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	env, err := cluster.Start(ctx, cluster.Options{
		Dir:         dir,
		Flux:        true,
		ArgoCD:      true,
		GitUsername: gitUser,
		GitPassword: gitPassword,
		Logf:        func(f string, a ...any) { fmt.Fprintf(os.Stderr, "e2e: "+f+"\n", a...) },
	})
	cancel()
	if err != nil {
		// A missing testbin says to run `make testbin`; everything else
		// carries the failing component's log tail.
		fmt.Fprintf(os.Stderr, "e2e: start local environment: %v\n", err)
		if _, statErr := os.Stat(filepath.Join(dir, "logs")); statErr == nil {
			fmt.Fprintf(os.Stderr, "e2e: logs kept in %s/logs\n", dir)
		} else {
			os.RemoveAll(dir)
		}
		return 1
	}
	suite.local, suite.git, suite.cfg = env, env.Git, env.RESTConfig
	if suite.client, err = newClient(env.RESTConfig); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		env.Stop()
		return 1
	}

	code := m.Run()

	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: stop local environment:", err)
		if code == 0 {
			code = 1
		}
	}
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintf(os.Stderr, "e2e: tests failed; environment logs kept in %s/logs\n", dir)
	}
	return code
}

// runExternal runs the suite against the cluster of the kubeconfig file
// named by DOT_TEST_KUBECONFIG, and no other: neither KUBECONFIG nor
// ~/.kube/config is read, so the suite cannot touch a cluster by accident.
// The cluster runs the real Flux and Argo CD. The test git server listens on
// loopback; DOT_TEST_GIT_LISTEN (e.g. 0.0.0.0:8999) exposes it to the
// cluster through a TCP forwarder, and DOT_TEST_GIT_CLUSTER_URL is the base
// URL the cluster reaches that address by (e.g. http://172.18.0.1:8999).
func runExternal(m *testing.M, kubeconfig string) int {
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}, nil)
	raw, err := cc.RawConfig()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: DOT_TEST_KUBECONFIG=%s: %v\n", kubeconfig, err)
		return 1
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: DOT_TEST_KUBECONFIG=%s: %v\n", kubeconfig, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: using context %q (%s) from DOT_TEST_KUBECONFIG\n", raw.CurrentContext, cfg.Host)
	listen, clusterURL := os.Getenv("DOT_TEST_GIT_LISTEN"), os.Getenv("DOT_TEST_GIT_CLUSTER_URL")
	if listen == "" || clusterURL == "" {
		fmt.Fprintln(os.Stderr, "e2e: with DOT_TEST_KUBECONFIG, set DOT_TEST_GIT_LISTEN and DOT_TEST_GIT_CLUSTER_URL so the cluster's controllers can reach the test git server")
		return 1
	}
	git, err := gitserver.Start(context.Background(), gitserver.Options{Username: gitUser, Password: gitPassword})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer git.Close()
	stopFwd, err := forward(listen, strings.TrimPrefix(git.URL(), "http://"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer stopFwd()
	suite.git, suite.cfg = git, cfg
	if suite.client, err = newClient(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	// What the local environment's Argo CD gets at start: credentials for
	// every repository under the git server's URL.
	creds := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "dot-e2e-git-creds", Namespace: cluster.ArgoCDNamespace,
			Labels: map[string]string{"argocd.argoproj.io/secret-type": "repo-creds"}},
		StringData: map[string]string{"type": "git", "url": clusterURL, "username": gitUser, "password": gitPassword},
	}
	if err := suite.client.Patch(context.Background(), creds, client.Apply, client.FieldOwner("dot-e2e"), client.ForceOwnership); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: create argocd repo-creds:", err)
		return 1
	}
	return m.Run()
}

// forward accepts TCP connections on listen and pipes each to target.
func forward(listen, target string) (stop func(), err error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("expose git server on %s: %w", listen, err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				go io.Copy(u, c)
				io.Copy(c, u)
			}()
		}
	}()
	return func() { ln.Close() }, nil
}

func newClient(cfg *rest.Config) (client.Client, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, sourcev1.AddToScheme, kustomizev1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("build scheme: %w", err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	return c, nil
}

// repoURLForCluster is the URL the cluster's controllers clone name from:
// the git server's own URL locally, DOT_TEST_GIT_CLUSTER_URL on kind.
func repoURLForCluster(name string) string {
	u := suite.git.RepoURL(name)
	if base := os.Getenv("DOT_TEST_GIT_CLUSTER_URL"); base != "" && suite.local == nil {
		u = strings.TrimSuffix(base, "/") + strings.TrimPrefix(u, suite.git.URL())
	}
	return u
}

// uniqueName returns prefix-<6 hex digits>, for namespaces and repositories
// that no other test (or earlier run against an external cluster) uses.
func uniqueName(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + "-" + hex.EncodeToString(b)
}

// newNamespace creates a namespace for one test and deletes it afterwards.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	name := uniqueName(t, prefix)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := suite.client.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := suite.client.Delete(context.Background(), ns); err != nil {
			t.Logf("delete namespace %s: %v", name, err)
		}
	})
	return name
}

// newRepo creates a repository on the git server and seeds it with files.
func newRepo(t *testing.T, prefix string, files map[string]string) (name, sha string) {
	t.Helper()
	name = uniqueName(t, prefix)
	if err := suite.git.CreateRepo(name); err != nil {
		t.Fatalf("create repo %s: %v", name, err)
	}
	sha = push(t, name, files, "initial")
	return name, sha
}

// push commits files onto main and returns the new commit.
func push(t *testing.T, repo string, files map[string]string, msg string) string {
	t.Helper()
	sha, err := suite.git.Seed(context.Background(), repo, files, msg)
	if err != nil {
		t.Fatalf("push to %s: %v", repo, err)
	}
	return sha
}

// eventually polls cond every 100ms until it reports done or timeout
// passes; then it fails the test with cond's last description and, on the
// local environment, the end of the logs of the components named.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (done bool, state string, err error), components ...string) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var state string
	var err error
	for {
		var done bool
		done, state, err = cond(ctx)
		if done && err == nil {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			var logs strings.Builder
			if suite.local != nil {
				for _, c := range components {
					fmt.Fprintf(&logs, "\n--- %s (%s) ---\n%s", c, suite.local.LogPath(c), tail(suite.local.LogPath(c), 25))
				}
			}
			t.Fatalf("%s: not done after %s; last state: %s; last error: %v%s", what, timeout, state, err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
