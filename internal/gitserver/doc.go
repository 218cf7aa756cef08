// Package gitserver runs a real git server over HTTP on the loopback interface,
// for tests and for the local e2e environment.
//
// It is a thin wrapper around `git http-backend` (the smart HTTP server shipped
// with git) behind Go's net/http/cgi, so clients talk to the same protocol
// implementation they meet on real git hosts: push rejections, non-fast-forward
// errors and authentication failures are git's own. The git CLI must be on PATH.
//
// A Server keeps bare repositories under Options.Root and serves them at
// URL()/<name>.git. With Options.Username set, every request needs HTTP basic
// auth with those credentials, and wrong credentials get 401, so callers
// exercise credential handling. Options.Wrap lets a test put middleware in front
// of everything (reject or drop pushes, delay responses) for fault injection.
//
// Helpers operate on the bare repositories directly rather than through HTTP,
// so they bypass authentication and Wrap: Seed commits files onto a branch
// (with git plumbing and a compare-and-swap ref update), Head and Log read
// branches, and Reflog / IsFastForwardHistory let a test prove that no client
// ever force-pushed: every repository has core.logAllRefUpdates enabled, so git
// records each ref update (old sha -> new sha), including those made by pushes.
package gitserver
