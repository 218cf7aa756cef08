//go:build e2e && linux

package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestStartStopControlPlane starts the environment without controllers
// (the binaries come from `make testbin`), checks the apiserver reports the
// pinned version and the nodes are there, then checks Stop ends every
// process and removes the directory Start created.
func TestStartStopControlPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env, err := Start(ctx, Options{Nodes: 2, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			env.Stop()
		}
	}()

	v, err := env.client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v1.33.13" {
		t.Errorf("server version %q, want v1.33.13 (set by hack/testbin.sh ldflags)", v.GitVersion)
	}
	nodes, err := env.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 2 {
		t.Errorf("%d nodes, want 2", len(nodes.Items))
	}

	pids := env.PIDs()
	for _, c := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if pids[c] == 0 {
			t.Errorf("no pid for %s", c)
		}
	}
	dir := env.Dir
	stopped = true
	if err := env.Stop(); err != nil {
		t.Fatal(err)
	}
	for c, pid := range pids {
		if alive(pid) {
			t.Errorf("%s (pid %d) still running after Stop", c, pid)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("env dir %s not removed: %v", dir, err)
	}
}

// TestStartFailureCleansUp makes kube-apiserver fail on start (a script in
// its place) and checks Start names it with its log tail, and that etcd,
// already running by then, has been stopped when Start returns.
func TestStartFailureCleansUp(t *testing.T) {
	real, err := TestBinDir()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	for _, f := range []string{"etcd", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages"} {
		if err := os.Symlink(filepath.Join(real, f), filepath.Join(bin, f)); err != nil {
			t.Fatal(err)
		}
	}
	script := "#!/bin/sh\necho 'E0101 bind: address already in use' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "kube-apiserver"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	etcdReady := false
	_, err = Start(context.Background(), Options{Dir: dir, TestBin: bin, Logf: func(f string, _ ...any) {
		etcdReady = etcdReady || strings.HasPrefix(f, "cluster: etcd ready")
	}})
	var ce *ComponentError
	if !errors.As(err, &ce) || ce.Component != "kube-apiserver" || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start error = %v; want kube-apiserver's failure with its log tail", err)
	}
	t.Logf("Start failed as intended:\n%v", err)
	if !etcdReady {
		t.Fatal("etcd never became ready, so its cleanup was not exercised")
	}
	// Every process of the environment has Dir on its command line.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), dir) && alive(pidOf(p)) {
			t.Errorf("%s still running after a failed Start: %q", p, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
}

func pidOf(cmdlinePath string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(cmdlinePath)))
	return n
}
