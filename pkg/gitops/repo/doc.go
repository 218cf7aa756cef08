// Package repo clones a Git repository into a temporary directory, commits
// and pushes with go-git, and never loses a concurrent commit: a push is never
// forced, and a rejected push is retried by fetching the new tip, resetting to
// it and re-running the caller's edit there (so a compare-and-swap in the edit
// sees the other writer's change).
//
// Credentials are passed as an Auth value and never appear in remote URLs,
// errors or logs. Clones live in temporary directories removed by Close, also
// when the context is cancelled.
package repo
