package cluster

import "syscall"

// sysProcAttr puts the child in its own process group and has the kernel
// kill it if the test binary dies without calling Stop (Pdeathsig), so an
// aborted `go test` leaves no apiserver or controllers behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
