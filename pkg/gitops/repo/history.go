package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// CommitInfo is one commit of the branch history.
type CommitInfo struct {
	SHA     string    `json:"sha"`
	Subject string    `json:"subject"`
	Message string    `json:"message"`
	Author  Signature `json:"author"`
	When    time.Time `json:"when"`
	// Trailers are the "Key: value" lines of the message's last paragraph.
	Trailers map[string][]string `json:"trailers,omitempty"`
}

// FileChange is a file as it was before and after a commit (nil: absent).
type FileChange struct {
	Path          string
	Before, After []byte
}

// Log returns up to max commits of the checked-out branch, newest first,
// following first parents. The clone's depth bounds what can be seen.
func (r *Repo) Log(ctx context.Context, max int) ([]CommitInfo, error) {
	head, err := r.repo.Head()
	if err != nil {
		return nil, fmt.Errorf("read HEAD: %w", err)
	}
	c, err := r.repo.CommitObject(head.Hash())
	if err != nil {
		return nil, err
	}
	var out []CommitInfo
	for c != nil && len(out) < max {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out = append(out, commitInfo(c))
		if c.NumParents() == 0 {
			break
		}
		p, err := c.Parent(0)
		if err != nil {
			break // the shallow boundary
		}
		c = p
	}
	return out, nil
}

func commitInfo(c *object.Commit) CommitInfo {
	subject, _, _ := strings.Cut(c.Message, "\n")
	return CommitInfo{SHA: c.Hash.String(), Subject: subject, Message: c.Message,
		Author: Signature{Name: c.Author.Name, Email: c.Author.Email}, When: c.Author.When, Trailers: ParseTrailers(c.Message)}
}

// ParseTrailers reads "Key: value" trailers from the last paragraph of a
// commit message.
func ParseTrailers(msg string) map[string][]string {
	paras := strings.Split(strings.TrimRight(msg, "\n"), "\n\n")
	last := paras[len(paras)-1]
	out := map[string][]string{}
	for _, line := range strings.Split(last, "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil // not a trailer block
		}
		out[k] = append(out[k], v)
	}
	return out
}

// CommitFiles returns the files a commit changed relative to its first
// parent, with their contents before and after.
func (r *Repo) CommitFiles(sha string) ([]FileChange, error) {
	c, err := r.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", sha, err)
	}
	if c.NumParents() == 0 {
		return nil, fmt.Errorf("commit %s has no parent in the clone", sha)
	}
	p, err := c.Parent(0)
	if err != nil {
		return nil, fmt.Errorf("parent of %s: %w", sha, err)
	}
	patch, err := p.PatchContext(context.Background(), c)
	if err != nil {
		return nil, fmt.Errorf("diff %s: %w", sha, err)
	}
	var out []FileChange
	for _, fp := range patch.FilePatches() {
		from, to := fp.Files()
		fc := FileChange{}
		if from != nil {
			fc.Path = from.Path()
			if fc.Before, err = fileContent(p, from.Path()); err != nil {
				return nil, err
			}
		}
		if to != nil {
			fc.Path = to.Path()
			if fc.After, err = fileContent(c, to.Path()); err != nil {
				return nil, err
			}
		}
		if from != nil && to != nil && from.Path() != to.Path() {
			// A rename: record it as a removal and an addition.
			out = append(out, FileChange{Path: from.Path(), Before: fc.Before})
			fc.Before = nil
		}
		out = append(out, fc)
	}
	return out, nil
}

func fileContent(c *object.Commit, path string) ([]byte, error) {
	f, err := c.File(path)
	if errors.Is(err, object.ErrFileNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", path, c.Hash, err)
	}
	rd, err := f.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}
