package cluster

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// StopComponent stops the named component (a name of PIDs, e.g.
// "kube-apiserver" or "argocd-application-controller"): SIGTERM to its
// process group, SIGKILL after grace. It stays stopped until
// StartComponent or RestartComponent; Stop ignores it. Not safe to call
// concurrently with Stop or another control method.
func (e *Env) StopComponent(ctx context.Context, name string, grace time.Duration) error {
	p, err := e.component(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	if err := p.stop(grace); err != nil {
		return err
	}
	e.opts.Logf("cluster: %s stopped", name)
	return nil
}

// StartComponent starts a stopped component again with the same command
// line and environment (same ports, same data directory) and returns when
// it is ready: kube-apiserver answers /readyz; any other component has run
// for settle without exiting (controllers have no health endpoint here, so
// a caller that needs more waits for the work it expects).
func (e *Env) StartComponent(ctx context.Context, name string, settle time.Duration) error {
	old, err := e.component(name)
	if err != nil {
		return err
	}
	if !old.exited() {
		return fmt.Errorf("start %s: already running (pid %d)", name, old.cmd.Process.Pid)
	}
	p, err := e.spawn(name, old.cmd.Path, old.cmd.Args[1:], old.cmd.Env)
	if err != nil {
		return err
	}
	e.procs = slices.DeleteFunc(e.procs, func(q *process) bool { return q == old })
	step := time.Now()
	if name == "kube-apiserver" {
		tlsClient, err := e.apiHTTPClient()
		if err != nil {
			return err
		}
		token := e.pki.tokens["admin"]
		if err := p.waitReady(ctx, startTimeout, func(ctx context.Context) error {
			_, err := get(ctx, tlsClient, e.APIServerURL+"/readyz", token)
			return err
		}); err != nil {
			return err
		}
	} else {
		select {
		case <-ctx.Done():
			return p.fail(ctx.Err())
		case <-p.done:
			return p.fail(fmt.Errorf("exited after restart: %v", p.waitErr))
		case <-time.After(settle):
		}
	}
	e.opts.Logf("cluster: %s started again (%s)", name, since(step))
	return nil
}

// RestartComponent stops the named component and starts it again (see
// StopComponent and StartComponent).
func (e *Env) RestartComponent(ctx context.Context, name string) error {
	if err := e.StopComponent(ctx, name, 10*time.Second); err != nil {
		return err
	}
	return e.StartComponent(ctx, name, time.Second)
}

// component returns the newest process of that name.
func (e *Env) component(name string) (*process, error) {
	for i := len(e.procs) - 1; i >= 0; i-- {
		if e.procs[i].name == name {
			return e.procs[i], nil
		}
	}
	names := make([]string, 0, len(e.procs))
	for _, p := range e.procs {
		names = append(names, p.name)
	}
	return nil, fmt.Errorf("no component %q in the environment (have %v)", name, names)
}
