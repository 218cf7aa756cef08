package repo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// EditFunc changes files in the working tree dir and returns the paths it
// changed (relative to dir) and the commit message. It is called again on a
// fresh tip after a rejected push, so it must compute its change from what
// it finds, not from a previous run. Returning no paths means "nothing to
// change": no commit is made.
type EditFunc func(ctx context.Context, dir string) (paths []string, message string, err error)

// UpdateOptions tune the commit-and-push loop.
type UpdateOptions struct {
	// MaxAttempts bounds pushes (default 8).
	MaxAttempts int
	// Backoff is the base delay between attempts (default 200ms); each retry
	// waits a random time up to base·2^attempt, capped at 5s.
	Backoff time.Duration
	// OnRetry is told about each rejected or failed push.
	OnRetry func(attempt int, err error)
}

// UpdateResult says what Update did.
type UpdateResult struct {
	// Commit is the pushed commit; empty when nothing changed.
	Commit string `json:"commit,omitempty"`
	// Base is the commit the edit was applied on.
	Base string `json:"base"`
	// Branch that was pushed to.
	Branch string `json:"branch"`
	// Files changed by the commit.
	Files []string `json:"files,omitempty"`
	// Attempts is how many pushes it took (0 when nothing changed).
	Attempts int `json:"attempts"`
	// Unchanged is true when the edit found nothing to change.
	Unchanged bool `json:"unchanged,omitempty"`
}

// locks serialises updates to one repository branch within this process, so
// goroutines of one program queue instead of racing at the server.
var locks sync.Map // key → *sync.Mutex

func lockFor(url, branch string) func() {
	key := strings.TrimSuffix(strings.TrimRight(url, "/"), ".git") + "#" + branch
	v, _ := locks.LoadOrStore(key, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// Update clones the branch, runs edit, commits and pushes. A rejected push
// (the branch moved) is retried: fetch the new tip, reset to it, run edit
// again, commit, push, with jittered exponential backoff. Other push
// failures are retried the same way after checking whether the push in fact
// landed. The push is never forced. The clone is removed before returning.
func Update(ctx context.Context, opts Options, uo UpdateOptions, edit EditFunc) (UpdateResult, error) {
	if uo.MaxAttempts <= 0 {
		uo.MaxAttempts = 8
	}
	if uo.Backoff <= 0 {
		uo.Backoff = 200 * time.Millisecond
	}
	if opts.Branch != "" {
		defer lockFor(opts.URL, opts.Branch)()
	}
	r, err := Clone(ctx, opts)
	if err != nil {
		return UpdateResult{}, err
	}
	defer r.Close()
	res := UpdateResult{Branch: r.Branch}
	if opts.Branch == "" {
		defer lockFor(opts.URL, r.Branch)()
	}
	var lastErr error
	for attempt := 1; attempt <= uo.MaxAttempts; attempt++ {
		if attempt > 1 {
			if err := sleep(ctx, backoff(uo.Backoff, attempt-1)); err != nil {
				return res, err
			}
			if _, err := r.Reset(ctx); err != nil {
				return res, err
			}
		}
		base, err := r.Head()
		if err != nil {
			return res, err
		}
		res.Base = base
		paths, msg, err := edit(ctx, r.Dir)
		if err != nil {
			return res, err
		}
		if len(paths) == 0 {
			res.Unchanged = true
			return res, nil
		}
		sha, err := r.Commit(ctx, msg, paths)
		if err != nil {
			return res, err
		}
		res.Attempts = attempt
		err = r.Push(ctx)
		if err == nil {
			res.Commit, res.Files = sha, paths
			return res, nil
		}
		if ctx.Err() != nil {
			return res, errors.Join(ctx.Err(), err)
		}
		if !IsRejection(err) {
			// The connection may have dropped after the server took the
			// push: if the remote now has our commit, we are done.
			if head, herr := r.RemoteHead(ctx); herr == nil && head == sha {
				res.Commit, res.Files = sha, paths
				return res, nil
			}
		}
		lastErr = err
		if uo.OnRetry != nil {
			uo.OnRetry(attempt, err)
		}
	}
	return res, fmt.Errorf("push to %s branch %s: gave up after %d attempts: %w", opts.URL, res.Branch, uo.MaxAttempts, lastErr)
}

func backoff(base time.Duration, n int) time.Duration {
	max := base << min(n, 5)
	if max > 5*time.Second {
		max = 5 * time.Second
	}
	return base/2 + rand.N(max)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
