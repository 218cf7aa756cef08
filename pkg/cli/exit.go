package cli

import (
	"context"
	"errors"

	"github.com/dot-ai/dot/pkg/gitops"
)

// Exit codes of the dot command. They are documented in README.md; scripts
// depend on them, so a code never changes meaning.
const (
	// ExitOK: the command did what was asked.
	ExitOK = 0
	// ExitError: any error not listed below.
	ExitError = 1
	// ExitUsage: bad flags, arguments, environment or configuration file.
	ExitUsage = 2
	// ExitTimeout: the operation's --timeout passed, or waiting for sync and
	// health timed out.
	ExitTimeout = 3
	// ExitChangesPending: a dry run or diff found changes that were not
	// delivered.
	ExitChangesPending = 4
	// ExitDegraded: the change was delivered but the controller reported a
	// failure (sync error, degraded health).
	ExitDegraded = 5
	// ExitConflict: the value in Git or in the cluster is not the one the
	// change expected to replace (compare-and-swap failed).
	ExitConflict = 6
	// ExitAborted: the user declined the plan, or approval was needed but
	// there was no terminal to ask on.
	ExitAborted = 7
	// ExitInterrupted: stopped by SIGINT or SIGTERM (128 + SIGINT).
	ExitInterrupted = 130
)

// UsageError marks an error in how dot was called (flags, arguments,
// environment, configuration file).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// errInterrupted is the cause of the root context's cancellation on a signal.
var errInterrupted = errors.New("interrupted")

// ExitCode maps an error returned by a command to the process exit code. It is
// the only place where errors become exit codes.
func ExitCode(err error) int {
	var usage *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errInterrupted):
		return ExitInterrupted
	case errors.As(err, &usage):
		return ExitUsage
	case gitops.IsTimeout(err), errors.Is(err, context.DeadlineExceeded):
		return ExitTimeout
	case gitops.IsWaitFailure(err):
		return ExitDegraded
	case errors.Is(err, gitops.ErrChangesPending):
		return ExitChangesPending
	case errors.Is(err, gitops.ErrConflict):
		return ExitConflict
	case errors.Is(err, gitops.ErrAborted):
		return ExitAborted
	default:
		return ExitError
	}
}
