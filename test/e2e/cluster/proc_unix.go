//go:build unix

package cluster

import (
	"os"
	"syscall"
)

// signalGroup sends SIGTERM (or SIGKILL when kill is set) to the process
// group led by p, so helpers a component started (git, kustomize) end too.
func signalGroup(p *os.Process, kill bool) error {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	return syscall.Kill(-p.Pid, sig)
}

// platformCheck reports whether the environment can run here.
func platformCheck() error { return nil }
