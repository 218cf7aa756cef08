package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Errors callers branch on.
var (
	// ErrRejected means the server refused a push because the branch moved
	// (non-fast-forward, "fetch first", lock races). Update retries these.
	ErrRejected = errors.New("push rejected: the branch moved")
	// ErrBranchNotFound means the branch does not exist on the remote (the
	// ref may be a tag).
	ErrBranchNotFound = errors.New("branch not found")
)

// Signature is a commit author or committer.
type Signature struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Options say which repository and branch to work on and how.
type Options struct {
	// URL is the repository URL, without credentials.
	URL string
	// Branch to clone and push; empty means the remote's default branch.
	Branch string
	Auth   Auth
	// Depth of the clone; 0 means 1 (shallow). Use -1 for full history.
	Depth int
	// TempDir is the parent of clone directories (default os.TempDir()).
	TempDir string
	// Author of commits (default "dot <dot@localhost>"); Committer defaults
	// to Author.
	Author    Signature
	Committer *Signature
	// Now returns commit times (default time.Now).
	Now func() time.Time
}

func (o *Options) depth() int {
	switch {
	case o.Depth < 0:
		return 0
	case o.Depth == 0:
		return 1
	}
	return o.Depth
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Repo is a temporary clone of one branch.
type Repo struct {
	// Dir is the working tree.
	Dir string
	// Branch is the branch checked out (resolved when Options.Branch is empty).
	Branch string
	opts   Options
	repo   *git.Repository
	auth   transport.AuthMethod
}

// Clone clones one branch into a new temporary directory. Call Close to
// remove it.
func Clone(ctx context.Context, opts Options) (*Repo, error) {
	if err := checkURL(opts.URL); err != nil {
		return nil, err
	}
	auth, err := opts.Auth.method(opts.URL)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(opts.TempDir, "dot-clone-*")
	if err != nil {
		return nil, fmt.Errorf("create clone dir: %w", err)
	}
	co := &git.CloneOptions{URL: opts.URL, Auth: auth, SingleBranch: true, Depth: opts.depth(), Tags: git.NoTags}
	if opts.Branch != "" {
		co.ReferenceName = plumbing.NewBranchReferenceName(opts.Branch)
	}
	r, err := git.PlainCloneContext(ctx, dir, false, co)
	if err != nil {
		os.RemoveAll(dir)
		if errors.Is(err, plumbing.ErrReferenceNotFound) || strings.Contains(err.Error(), "couldn't find remote ref") {
			return nil, fmt.Errorf("clone %s: %w: %q (a tag or commit cannot be pushed to)", opts.URL, ErrBranchNotFound, opts.Branch)
		}
		return nil, fmt.Errorf("clone %s: %w", opts.URL, err)
	}
	rp := &Repo{Dir: dir, Branch: opts.Branch, opts: opts, repo: r, auth: auth}
	if rp.Branch == "" {
		head, err := r.Head()
		if err != nil {
			rp.Close()
			return nil, fmt.Errorf("clone %s: read HEAD: %w", opts.URL, err)
		}
		rp.Branch = head.Name().Short()
	}
	return rp, nil
}

// Close removes the clone.
func (r *Repo) Close() error {
	if r == nil || r.Dir == "" {
		return nil
	}
	err := os.RemoveAll(r.Dir)
	r.Dir = ""
	return err
}

// Head returns the SHA checked out.
func (r *Repo) Head() (string, error) {
	h, err := r.repo.Head()
	if err != nil {
		return "", fmt.Errorf("read HEAD: %w", err)
	}
	return h.Hash().String(), nil
}

// Commit stages the given paths (relative to Dir; a missing file is staged
// as deleted) and commits them. It returns the new commit's SHA.
func (r *Repo) Commit(ctx context.Context, message string, paths []string) (string, error) {
	wt, err := r.repo.Worktree()
	if err != nil {
		return "", err
	}
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if _, err := os.Lstat(filepath.Join(r.Dir, p)); errors.Is(err, os.ErrNotExist) {
			if _, err := wt.Remove(p); err != nil {
				return "", fmt.Errorf("stage removal of %s: %w", p, err)
			}
			continue
		}
		// SkipStatus: staging one file must not hash the whole work tree
		// (20,000 files in a large monorepo); dot names exactly what changed.
		if err := wt.AddWithOptions(&git.AddOptions{Path: p, SkipStatus: true}); err != nil {
			return "", fmt.Errorf("stage %s: %w", p, err)
		}
	}
	author := r.opts.Author
	if author.Name == "" {
		author = Signature{Name: "dot", Email: "dot@localhost"}
	}
	committer := author
	if r.opts.Committer != nil {
		committer = *r.opts.Committer
	}
	now := r.opts.now()
	h, err := wt.Commit(message, &git.CommitOptions{
		Author:    &object.Signature{Name: author.Name, Email: author.Email, When: now},
		Committer: &object.Signature{Name: committer.Name, Email: committer.Email, When: now},
	})
	if err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	return h.String(), nil
}

// Push pushes the branch without force. A refusal because the branch moved
// wraps ErrRejected.
func (r *Repo) Push(ctx context.Context) error {
	ref := plumbing.NewBranchReferenceName(r.Branch)
	err := r.repo.PushContext(ctx, &git.PushOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{config.RefSpec(ref + ":" + ref)},
		Auth:       r.auth,
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case IsRejection(err):
		return fmt.Errorf("push %s to %s: %w (%v)", r.Branch, r.opts.URL, ErrRejected, err)
	}
	return fmt.Errorf("push %s to %s: %w", r.Branch, r.opts.URL, err)
}

// rejectionMessages are how servers word "the branch moved under you".
var rejectionMessages = []string{
	"non-fast-forward", "fetch first", "cannot lock ref", "incorrect old value provided",
	"failed to update ref", "stale info", "reference already exists", "some refs were not updated",
	"failed to lock", "updates were rejected",
}

// IsRejection reports whether a push error means the branch moved.
func IsRejection(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrRejected) || errors.Is(err, git.ErrForceNeeded) || errors.Is(err, git.ErrNonFastForwardUpdate) {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, m := range rejectionMessages {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// RemoteHead asks the remote for the branch's current SHA.
func (r *Repo) RemoteHead(ctx context.Context) (string, error) {
	rem, err := r.repo.Remote("origin")
	if err != nil {
		return "", err
	}
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: r.auth})
	if err != nil {
		return "", fmt.Errorf("list remote refs of %s: %w", r.opts.URL, err)
	}
	want := plumbing.NewBranchReferenceName(r.Branch)
	for _, ref := range refs {
		if ref.Name() == want {
			return ref.Hash().String(), nil
		}
	}
	return "", fmt.Errorf("%w: %q on %s", ErrBranchNotFound, r.Branch, r.opts.URL)
}

// Reset fetches the remote branch and resets the working tree to its tip,
// dropping local commits. It returns the new tip.
func (r *Repo) Reset(ctx context.Context) (string, error) {
	ref := plumbing.NewBranchReferenceName(r.Branch)
	remoteRef := plumbing.NewRemoteReferenceName("origin", r.Branch)
	err := r.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{config.RefSpec("+" + ref + ":" + remoteRef)},
		Auth:       r.auth,
		Depth:      r.opts.depth(),
		Tags:       git.NoTags,
		Force:      true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return "", fmt.Errorf("fetch %s from %s: %w", r.Branch, r.opts.URL, err)
	}
	tip, err := r.repo.Reference(remoteRef, true)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", remoteRef, err)
	}
	wt, err := r.repo.Worktree()
	if err != nil {
		return "", err
	}
	if err := wt.Reset(&git.ResetOptions{Commit: tip.Hash(), Mode: git.HardReset}); err != nil {
		return "", fmt.Errorf("reset to %s: %w", tip.Hash(), err)
	}
	// Files the edit created are untracked: remove them too.
	if err := wt.Clean(&git.CleanOptions{Dir: true}); err != nil {
		return "", fmt.Errorf("clean: %w", err)
	}
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(ref, tip.Hash())); err != nil {
		return "", err
	}
	return tip.Hash().String(), nil
}

// IsAncestor reports whether commit a is an ancestor of (or equal to) b in
// the clone. With a shallow clone, history before the clone's tip is
// unknown and a is only found when it is recent enough.
func (r *Repo) IsAncestor(a, b string) (bool, error) {
	if a == b {
		return true, nil
	}
	ca, err := r.repo.CommitObject(plumbing.NewHash(a))
	if err != nil {
		return false, nil
	}
	cb, err := r.repo.CommitObject(plumbing.NewHash(b))
	if err != nil {
		return false, nil
	}
	return ca.IsAncestor(cb)
}
