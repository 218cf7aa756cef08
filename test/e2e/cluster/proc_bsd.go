//go:build unix && !linux

package cluster

import "syscall"

// sysProcAttr puts the child in its own process group. Without Linux's
// Pdeathsig, children outlive a test binary that dies without calling Stop.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
