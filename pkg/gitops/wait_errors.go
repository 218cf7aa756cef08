package gitops

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// isTransient reports whether an API error is worth retrying: the API server
// restarting (connection refused or reset, EOF), overloaded (429, 5xx) or
// slow (timeouts). The caller checks its own context first: a deadline of
// the whole wait is not transient.
func isTransient(err error) bool {
	if err == nil {
		return false
	}
	switch {
	case apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsTooManyRequests(err),
		apierrors.IsInternalError(err), apierrors.IsServiceUnavailable(err), apierrors.IsUnexpectedServerError(err):
		return true
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		code := st.Status().Code
		return code >= 500 || code == 429
	}
	if utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) {
		return true
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		// Dial failures, DNS hiccups and timeouts while the server restarts.
		return true
	}
	msg := err.Error()
	for _, m := range []string{"connection refused", "connection reset", "http2: client connection lost", "GOAWAY", "TLS handshake timeout", "use of closed network connection", "unexpected EOF"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// isMissing reports whether an error says an object or its kind does not
// exist. Right after an API server restart, custom resources can briefly
// answer 404 or be missing from discovery, so the wait tolerates this for a
// grace period before believing it.
func isMissing(err error) bool {
	return apierrors.IsNotFound(err) || meta.IsNoMatchError(err)
}
