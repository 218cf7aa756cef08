package cluster

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProcessLifecycle checks that Stop ends a component's whole process
// group (a child it forked too), and that a component dying during start-up
// is reported with its name and the end of its log.
func TestProcessLifecycle(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	e := &Env{Dir: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(e.Dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}

	// A component that forks a child and records its pid.
	pidFile := filepath.Join(e.Dir, "child.pid")
	p, err := e.spawn("forker", sh, []string{"-c", "sleep 300 & echo $! > " + pidFile + "; wait"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var child int
	if err := p.waitReady(context.Background(), 10*time.Second, func(context.Context) error {
		b, err := os.ReadFile(pidFile)
		if err == nil {
			child, err = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// A component that fails on start.
	bad, err := e.spawn("broken", sh, []string{"-c", "echo 'fatal: port already in use' >&2; exit 3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bad.waitReady(context.Background(), 10*time.Second, func(context.Context) error { return errors.New("not yet") })
	var ce *ComponentError
	if !errors.As(err, &ce) || ce.Component != "broken" || !strings.Contains(err.Error(), "fatal: port already in use") {
		t.Errorf("broken component: %v", err)
	}

	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if !p.exited() {
		t.Error("forker still running after Stop")
	}
	// The child was in the same process group: it must be gone too (give
	// the kernel a moment to reap it; it is not our child, so poll).
	deadline := time.Now().Add(5 * time.Second)
	for alive(child) {
		if time.Now().After(deadline) {
			syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("child %d of the component survived Stop", child)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(e.Dir); err != nil {
		t.Errorf("Stop removed a directory it did not create: %v", err)
	}
}

// alive reports whether pid runs and is not a zombie (an orphan is reaped by
// whatever PID 1 is, which in a container may be slow or never).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) STATE ...
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}
