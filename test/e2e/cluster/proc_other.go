//go:build !unix

package cluster

import (
	"errors"
	"os"
	"syscall"
)

// errUnsupported is returned by Start on systems without process groups.
var errUnsupported = errors.New("the local test environment needs a Unix system")

func sysProcAttr() *syscall.SysProcAttr { return nil }

func signalGroup(p *os.Process, _ bool) error { return p.Kill() }

// platformCheck reports whether the environment can run here.
func platformCheck() error { return errUnsupported }
