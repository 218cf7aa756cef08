package gitops

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors callers branch on. Wrap them with %w; test with errors.Is.
var (
	// ErrNotManaged means no Argo CD Application or Flux object reconciles the
	// object; callers fall back to server-side apply.
	ErrNotManaged = errors.New("object is not managed by Argo CD or Flux")
	// ErrAmbiguousOwner means more than one owner claims the object.
	ErrAmbiguousOwner = errors.New("object has more than one GitOps owner")
	// ErrRefNotPushable means the owner's source follows a tag, a commit or a
	// semver range, so dot cannot push to it.
	ErrRefNotPushable = errors.New("source revision is not a branch")
	// ErrConflict means the value found in Git is neither the value the change
	// expected to replace nor the value it wants to write (compare-and-swap).
	ErrConflict = errors.New("conflicting change")
	// ErrChangesPending is returned by dry runs and diffs that found changes
	// which were not delivered.
	ErrChangesPending = errors.New("changes pending")
	// ErrAborted means the user declined the plan.
	ErrAborted = errors.New("aborted by user")
	// ErrSuspended means the owner's reconciliation is suspended, so waiting for
	// it would never end.
	ErrSuspended = errors.New("reconciliation is suspended")
)

// WaitError reports a wait for sync and health that did not succeed. It carries
// the last state observed so the user sees why.
type WaitError struct {
	// Owner is the object waited on, e.g. "Application argocd/web".
	Owner string
	// Revision is the revision that was expected to be applied.
	Revision string
	// Timeout is true when the deadline passed; false when the controller
	// reported a failure (sync error, degraded health).
	Timeout bool
	// Waited is how long the wait lasted.
	Waited time.Duration
	// Last is the last observed state, in the controller's own words.
	Last []string
}

func (e *WaitError) Error() string {
	var b strings.Builder
	if e.Timeout {
		fmt.Fprintf(&b, "timed out after %s waiting for %s to apply %s", e.Waited.Round(time.Second), e.Owner, e.Revision)
	} else {
		fmt.Fprintf(&b, "%s failed to apply %s", e.Owner, e.Revision)
	}
	if len(e.Last) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(e.Last, "; "))
	}
	return b.String()
}

// IsTimeout reports whether err is a WaitError caused by a deadline.
func IsTimeout(err error) bool {
	var we *WaitError
	return errors.As(err, &we) && we.Timeout
}

// IsWaitFailure reports whether err is a WaitError caused by the controller
// reporting a failure (not a timeout).
func IsWaitFailure(err error) bool {
	var we *WaitError
	return errors.As(err, &we) && !we.Timeout
}
