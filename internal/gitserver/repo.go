package gitserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrNotFound is returned (wrapped) when a repository or branch does not exist.
var ErrNotFound = errors.New("not found")

const zeroSHA = "0000000000000000000000000000000000000000"

// seedIdentity is the author and committer of commits made by Seed.
var seedIdentity = []string{
	"GIT_AUTHOR_NAME=gitserver seed", "GIT_AUTHOR_EMAIL=seed@gitserver.local",
	"GIT_COMMITTER_NAME=gitserver seed", "GIT_COMMITTER_EMAIL=seed@gitserver.local",
}

// Seed commits files onto the main branch of the named repository, creating
// the repository (and the branch) if needed, and returns the new commit's
// sha. See SeedBranch.
func (s *Server) Seed(ctx context.Context, name string, files map[string]string, msg string) (string, error) {
	return s.SeedBranch(ctx, name, DefaultBranch, files, msg)
}

// SeedBranch commits files on top of branch in the named repository and
// returns the new commit's sha. files maps slash-separated paths to contents;
// an empty content deletes the path. Files not named keep their content.
// The repository and the branch are created if needed.
//
// The commit is written straight into the bare repository and the branch is
// moved with a compare-and-swap update, so seeding neither needs credentials
// nor passes through Options.Wrap, and a concurrent push is never
// overwritten: SeedBranch fails instead. Calls for different repositories run
// concurrently; calls for the same repository are serialised.
func (s *Server) SeedBranch(ctx context.Context, name, branch string, files map[string]string, msg string) (string, error) {
	unlock, err := s.lockRepo(name)
	if err != nil {
		return "", fmt.Errorf("seed %s: %w", name, err)
	}
	defer unlock()
	sha, err := s.seed(ctx, name, branch, files, msg)
	if err != nil {
		return "", fmt.Errorf("seed %s %s: %w", name, branch, err)
	}
	return sha, nil
}

func (s *Server) seed(ctx context.Context, name, branch string, files map[string]string, msg string) (string, error) {
	dir := s.RepoPath(name)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := s.createRepo(ctx, name); err != nil {
			return "", err
		}
	}
	ref := "refs/heads/" + branch
	if _, err := s.git(ctx, "", nil, nil, "check-ref-format", ref); err != nil {
		return "", fmt.Errorf("invalid branch name %q", branch)
	}
	parent, err := s.resolve(ctx, dir, ref)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", err
	}

	tmp, err := os.MkdirTemp("", "gitserver-seed-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	env := []string{"GIT_INDEX_FILE=" + filepath.Join(tmp, "index")}

	if parent != "" {
		_, err = s.git(ctx, dir, nil, env, "read-tree", parent)
	} else {
		_, err = s.git(ctx, dir, nil, env, "read-tree", "--empty")
	}
	if err != nil {
		return "", err
	}

	paths := make([]string, 0, len(files))
	for p := range files {
		if err := checkPath(p); err != nil {
			return "", err
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var info strings.Builder
	for _, p := range paths {
		content := files[p]
		if content == "" {
			fmt.Fprintf(&info, "0 %s\t%s\n", zeroSHA, p)
			continue
		}
		blob, err := s.git(ctx, dir, strings.NewReader(content), nil, "hash-object", "-w", "--stdin")
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&info, "100644 %s\t%s\n", blob, p)
	}
	if _, err := s.git(ctx, dir, strings.NewReader(info.String()), env, "update-index", "--index-info"); err != nil {
		return "", err
	}
	tree, err := s.git(ctx, dir, nil, env, "write-tree")
	if err != nil {
		return "", err
	}
	if msg == "" {
		msg = "seed"
	}
	args := []string{"commit-tree", tree, "-m", msg}
	if parent != "" {
		args = append(args, "-p", parent)
	}
	commit, err := s.git(ctx, dir, nil, seedIdentity, args...)
	if err != nil {
		return "", err
	}
	old := parent
	if old == "" {
		old = zeroSHA
	}
	if _, err := s.git(ctx, dir, nil, seedIdentity, "update-ref", "-m", "seed: "+firstLine(msg), ref, commit, old); err != nil {
		return "", err
	}
	return commit, nil
}

// checkPath accepts clean, relative, slash-separated paths outside .git.
func checkPath(p string) error {
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") ||
		strings.ContainsAny(p, "\t\n\\") || p == ".git" || strings.HasPrefix(p, ".git/") {
		return fmt.Errorf("invalid file path %q", p)
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Tag creates the tag in the named repository pointing to target (a sha or a
// ref). An empty message makes a lightweight tag, otherwise an annotated one.
// It fails if the tag exists.
func (s *Server) Tag(ctx context.Context, name, tag, target, message string) error {
	unlock, err := s.lockRepo(name)
	if err != nil {
		return fmt.Errorf("tag %s %s: %w", name, tag, err)
	}
	defer unlock()
	dir, err := s.existingRepo(name)
	if err != nil {
		return fmt.Errorf("tag %s %s: %w", name, tag, err)
	}
	args := []string{"tag", tag, target}
	if message != "" {
		args = []string{"tag", "-a", "-m", message, tag, target}
	}
	if _, err := s.git(ctx, dir, nil, seedIdentity, args...); err != nil {
		return fmt.Errorf("tag %s %s: %w", name, tag, err)
	}
	return nil
}

// Head returns the sha of the commit branch points to in the named
// repository, read from the bare repository. The error wraps ErrNotFound
// when the repository or the branch does not exist.
func (s *Server) Head(ctx context.Context, name, branch string) (string, error) {
	dir, err := s.existingRepo(name)
	if err != nil {
		return "", fmt.Errorf("head %s %s: %w", name, branch, err)
	}
	sha, err := s.resolve(ctx, dir, "refs/heads/"+branch)
	if err != nil {
		return "", fmt.Errorf("head %s %s: %w", name, branch, err)
	}
	return sha, nil
}

// Log returns the shas of the commits reachable from branch, newest first.
func (s *Server) Log(ctx context.Context, name, branch string) ([]string, error) {
	dir, err := s.existingRepo(name)
	if err != nil {
		return nil, fmt.Errorf("log %s %s: %w", name, branch, err)
	}
	ref := "refs/heads/" + branch
	if _, err := s.resolve(ctx, dir, ref); err != nil {
		return nil, fmt.Errorf("log %s %s: %w", name, branch, err)
	}
	out, err := s.git(ctx, dir, nil, nil, "rev-list", ref)
	if err != nil {
		return nil, fmt.Errorf("log %s %s: %w", name, branch, err)
	}
	return strings.Fields(out), nil
}

func (s *Server) existingRepo(name string) (string, error) {
	if !repoNameRE.MatchString(name) {
		return "", fmt.Errorf("invalid repository name %q", name)
	}
	dir := s.RepoPath(name)
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("repository %s: %w", name, ErrNotFound)
	}
	return dir, nil
}

// resolve returns the commit sha ref points to, or an error wrapping
// ErrNotFound.
func (s *Server) resolve(ctx context.Context, dir, ref string) (string, error) {
	sha, err := s.git(ctx, dir, nil, nil, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.ExitCode() == 1 {
		return "", fmt.Errorf("%s: %w", ref, ErrNotFound)
	}
	return sha, err
}

// RefUpdate is one entry of a reflog: a ref moved from Old to New.
type RefUpdate struct {
	// Old is the sha before the update; all zeros when the ref was created.
	Old string
	// New is the sha after the update; all zeros when the ref was deleted.
	New string
	// Who is the identity git recorded: for pushes over HTTP, the
	// authenticated user.
	Who string
	// Time is when the update happened.
	Time time.Time
	// Message is git's description, e.g. "push" or "seed: <msg>".
	Message string
}

// Reflog returns every recorded update of branch in the named repository,
// oldest first: pushes over HTTP as well as Seed's updates. Deleting a
// branch deletes its reflog, as git does.
func (s *Server) Reflog(ctx context.Context, name, branch string) ([]RefUpdate, error) {
	dir, err := s.existingRepo(name)
	if err != nil {
		return nil, fmt.Errorf("reflog %s %s: %w", name, branch, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, "logs", "refs", "heads", filepath.FromSlash(branch)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reflog %s %s: %w", name, branch, err)
	}
	defer f.Close()
	var out []RefUpdate
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		u, err := parseReflogLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("reflog %s %s: %w", name, branch, err)
		}
		out = append(out, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reflog %s %s: %w", name, branch, err)
	}
	return out, nil
}

// parseReflogLine parses "<old> <new> <name> <<email>> <unix> <tz>\t<message>".
func parseReflogLine(line string) (RefUpdate, error) {
	head, msg, _ := strings.Cut(line, "\t")
	fields := strings.Fields(head)
	if len(fields) < 5 {
		return RefUpdate{}, fmt.Errorf("malformed reflog line %q", line)
	}
	u := RefUpdate{Old: fields[0], New: fields[1], Message: msg}
	ts, err := strconv.ParseInt(fields[len(fields)-2], 10, 64)
	if err != nil {
		return RefUpdate{}, fmt.Errorf("malformed reflog time in %q", line)
	}
	u.Time = time.Unix(ts, 0)
	u.Who = strings.Join(fields[2:len(fields)-2], " ")
	return u, nil
}

// NonFastForwardUpdates returns the updates of branch whose new commit does
// not descend from the old one: force pushes, resets and deletions. Branch
// creations are fast-forwards by definition.
func (s *Server) NonFastForwardUpdates(ctx context.Context, name, branch string) ([]RefUpdate, error) {
	updates, err := s.Reflog(ctx, name, branch)
	if err != nil {
		return nil, err
	}
	dir := s.RepoPath(name)
	var bad []RefUpdate
	for _, u := range updates {
		switch {
		case u.Old == zeroSHA:
			continue
		case u.New == zeroSHA:
			bad = append(bad, u)
			continue
		}
		_, err := s.git(ctx, dir, nil, nil, "merge-base", "--is-ancestor", u.Old, u.New)
		var exitErr *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exitErr) && exitErr.ExitCode() == 1:
			bad = append(bad, u)
		default:
			return nil, fmt.Errorf("check ancestry %s..%s in %s: %w", u.Old, u.New, name, err)
		}
	}
	return bad, nil
}

// IsFastForwardHistory reports whether every recorded update of branch
// moved it forward, i.e. nobody force-pushed, reset or deleted it.
func (s *Server) IsFastForwardHistory(ctx context.Context, name, branch string) (bool, error) {
	bad, err := s.NonFastForwardUpdates(ctx, name, branch)
	if err != nil {
		return false, err
	}
	return len(bad) == 0, nil
}
