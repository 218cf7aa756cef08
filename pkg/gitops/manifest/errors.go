package manifest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dot-ai/dot/pkg/kube"
)

// Sentinel errors. Every error this package returns for one of these
// conditions wraps the sentinel, so callers branch with errors.Is and read
// the details (file, line, what was searched) with errors.As on *Error.
var (
	// ErrNotFound: no document in the source defines the object, or the
	// object has no such field where one was required.
	ErrNotFound = errors.New("not found")
	// ErrAmbiguous: two documents define the same object.
	ErrAmbiguous = errors.New("defined more than once")
	// ErrOutsideRepo: the object comes from outside the repository (a remote
	// kustomize base, a Helm chart generator) or a path leaves the checkout.
	ErrOutsideRepo = errors.New("defined outside the repository")
	// ErrConflict: compare-and-swap failed; the repository holds a value
	// other than the one the caller expected.
	ErrConflict = errors.New("conflicting value in repository")
	// ErrPlainSecret: the edit would put Secret data in plain text into Git.
	ErrPlainSecret = errors.New("refusing to write plain-text Secret data to Git")
	// ErrEncrypted: the document is SOPS-encrypted; dot cannot re-encrypt it.
	ErrEncrypted = errors.New("document is SOPS-encrypted")
	// ErrOwnerOverride: the field's final value is set by the owner object
	// (Flux Kustomization or Argo CD Application spec), not by the
	// repository; the caller decides whether to change the owner instead.
	ErrOwnerOverride = errors.New("value is set by the owner's spec, outside the repository")
	// ErrShared: the only place to edit is shared with other deployments
	// (a base used by other overlays) and no narrower place works.
	ErrShared = errors.New("definition is shared with other deployments")
	// ErrUnsafePath: a write would leave the checkout, follow a symlink or
	// touch .git.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrVerify: after editing, the re-rendered output did not have the
	// wanted values or changed something else; nothing was written.
	ErrVerify = errors.New("edit did not verify")
	// ErrUnsupported: the construct at hand cannot be edited safely (YAML
	// anchors, replacements, quoted inline patches, ...).
	ErrUnsupported = errors.New("unsupported")
	// ErrExists: Create found the object already defined.
	ErrExists = errors.New("already defined")
)

// Error carries the details of a failed locate or edit.
type Error struct {
	// Err is one of the sentinels above.
	Err error
	// Op is the operation: "locate", "edit", "create", "remove".
	Op string
	// Object is the object concerned.
	Object kube.ObjectRef
	// Field is the field path concerned, when there is one.
	Field string
	// File and Line point at the definition concerned (repo-relative).
	File string
	Line int
	// Detail explains what happened and what to do.
	Detail string
	// Searched lists what was searched (files, kustomization roots).
	Searched []string
	// Locations lists the definitions involved (for ErrAmbiguous: all of
	// them; for ErrOwnerOverride: the owner layer).
	Locations []Location
	// Expected and Actual are the compare-and-swap values (ErrConflict).
	Expected, Actual any
	// Cause is an underlying error, if any.
	Cause error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Object.Kind != "" {
		b.WriteString(" " + e.Object.String())
	}
	if e.Field != "" {
		b.WriteString(" " + e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if e.File != "" {
		if e.Line > 0 {
			fmt.Fprintf(&b, " at %s:%d", e.File, e.Line)
		} else {
			fmt.Fprintf(&b, " in %s", e.File)
		}
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	if len(e.Searched) > 0 {
		const maxShown = 8
		shown := e.Searched
		more := ""
		if len(shown) > maxShown {
			more = fmt.Sprintf(" and %d more", len(shown)-maxShown)
			shown = shown[:maxShown]
		}
		fmt.Fprintf(&b, " (searched %s%s)", strings.Join(shown, ", "), more)
	}
	if e.Cause != nil {
		b.WriteString(": " + e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns the sentinel and the cause, so errors.Is matches both.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}
