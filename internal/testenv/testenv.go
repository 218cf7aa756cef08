// Package testenv starts a real kube-apiserver (etcd + kube-apiserver from
// hack/testbin.sh, through controller-runtime's envtest) for tests whose
// behaviour depends on the API server: server-side apply, dry runs, CRD
// schemas. No controllers run; the e2e suite (test/e2e) has those.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// BinDir returns the directory of the test binaries: $DOT_TESTBIN, else what
// `hack/testbin.sh --print-dir` prints (found by walking up from the working
// directory), the same resolution as test/e2e/cluster.TestBinDir.
func BinDir() (string, error) {
	if d := os.Getenv("DOT_TESTBIN"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		script := filepath.Join(dir, "hack", "testbin.sh")
		if _, err := os.Stat(script); err == nil {
			out, err := exec.Command("bash", script, "--print-dir").Output()
			if err != nil {
				return "", fmt.Errorf("%s --print-dir: %w", script, err)
			}
			return strings.TrimSpace(string(out)), nil
		}
		if filepath.Dir(dir) == dir {
			return "", errors.New("no hack/testbin.sh above " + wd + "; set DOT_TESTBIN")
		}
	}
}

// StartAPIServer starts etcd and kube-apiserver for the test, installs the
// CRDs found in crdDirs (relative to the test binaries' directory, e.g.
// "crds/flux"), and stops them when the test ends. Without the binaries the
// test is skipped, or fails when the CI environment variable is set (CI
// builds them first, so a missing binary there is a broken set-up). -short
// skips it too.
func StartAPIServer(t testing.TB, crdDirs ...string) *rest.Config {
	t.Helper()
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	bin, err := BinDir()
	if err != nil {
		missing("no test binaries: %v: run `make testbin`", err)
	}
	needs := append([]string{"etcd", "kube-apiserver"}, crdDirs...)
	for _, need := range needs {
		if _, err := os.Stat(filepath.Join(bin, need)); err != nil {
			missing("test binaries in %s lack %s: run `make testbin`", bin, need)
		}
	}
	env := &envtest.Environment{BinaryAssetsDirectory: bin, ErrorIfCRDPathMissing: true}
	for _, d := range crdDirs {
		env.CRDDirectoryPaths = append(env.CRDDirectoryPaths, filepath.Join(bin, d))
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start kube-apiserver (envtest): %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop kube-apiserver (envtest): %v", err)
		}
	})
	return cfg
}
