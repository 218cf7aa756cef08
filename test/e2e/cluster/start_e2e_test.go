//go:build e2e && linux

package cluster

import (
	"context"
	"os"
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
