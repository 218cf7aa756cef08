package cluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// process is one child process of the environment: its own process group,
// its output in Dir/logs/<name>.log.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	started time.Time
	done    chan struct{} // closed once the process has exited
	waitErr error         // set before done is closed
}

// ComponentError reports a component that failed to start or become ready,
// with the end of its log so the cause is visible in a test's output.
type ComponentError struct {
	Component string
	LogPath   string
	LogTail   string
	Err       error
}

func (e *ComponentError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "start %s: %v", e.Component, e.Err)
	if e.LogPath != "" {
		fmt.Fprintf(&b, "\n--- last lines of %s ---\n%s", e.LogPath, e.LogTail)
	}
	return b.String()
}

func (e *ComponentError) Unwrap() error { return e.Err }

// spawn starts bin with args in a new process group. env is the whole
// environment of the child: nothing of the caller's environment leaks in
// (a KUBECONFIG or GIT_* variable of the developer's shell must not point a
// component elsewhere).
func (e *Env) spawn(name, bin string, args, env []string) (*process, error) {
	logPath := filepath.Join(e.Dir, "logs", name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	fmt.Fprintf(f, "# %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = e.Dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = sysProcAttr()
	p := &process{name: name, cmd: cmd, logPath: logPath, logFile: f, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, &ComponentError{Component: name, Err: err}
	}
	p.started = time.Now()
	e.procs = append(e.procs, p)
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// fail wraps err as a ComponentError carrying the end of p's log.
func (p *process) fail(err error) error {
	return &ComponentError{Component: p.name, LogPath: p.logPath, LogTail: tailFile(p.logPath, 30), Err: err}
}

// waitReady polls check until it succeeds, the process exits, or timeout
// passes. The last check error is kept so a timeout says what was not ready.
func (p *process) waitReady(ctx context.Context, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if p.exited() {
			return p.fail(fmt.Errorf("exited before it was ready: %v", p.waitErr))
		}
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return p.fail(fmt.Errorf("not ready after %s: %w", timeout, last))
		case <-tick.C:
		}
	}
}

// stop asks the process group to terminate and kills it after grace.
func (p *process) stop(grace time.Duration) error {
	if p.exited() {
		return nil
	}
	if err := signalGroup(p.cmd.Process, false); err != nil && !p.exited() {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	if err := signalGroup(p.cmd.Process, true); err != nil && !p.exited() {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("kill %s: pid %d still running", p.name, p.cmd.Process.Pid)
	}
}

// tailFile returns the last n lines of path (best effort: a read error is
// returned as the text, since it only decorates another error).
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	b = bytes.TrimRight(b, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. All listeners are
// held until every port is chosen, so the ports differ from each other; a
// process outside the environment may still take one before its component
// binds it (rare, and reported as that component failing to start).
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find free port: %w", err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
