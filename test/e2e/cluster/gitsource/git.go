package gitsource

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/blang/semver/v4"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// defaultBranch is what source-controller checks out when spec.ref is empty.
const defaultBranch = "master"

var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// target is a resolved spec.ref: the commit to pack, the revision string to
// report, and what to fetch to get the commit.
type target struct {
	// revision is the artifact revision, e.g. "main@sha1:<sha>".
	revision string
	// commit is the commit whose tree is packed.
	commit plumbing.Hash
	// refSpecs are fetched to obtain commit.
	refSpecs []config.RefSpec
	// shallow is true when commit is the tip of refSpecs, so depth 1 is enough.
	shallow bool
}

// authError marks failures to authenticate, reported with reason
// AuthenticationFailed.
type authError struct{ err error }

func (e *authError) Error() string { return e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

// revisionFor formats a revision the way source-controller does: the
// reference without its first two path elements ("refs/heads/main" ->
// "main", "refs/tags/v1" -> "v1"), "@", and the commit digest; or the digest
// alone when there is no such reference.
func revisionFor(ref string, commit plumbing.Hash) string {
	digest := "sha1:" + commit.String()
	if parts := strings.SplitAfterN(ref, "/", 3); len(parts) == 3 {
		return parts[2] + "@" + digest
	}
	return digest
}

// resolve lists the remote's references and picks the commit spec.ref asks
// for. For a commit it asks the remote nothing: the commit is looked up after
// fetching.
func resolve(ctx context.Context, remote *git.Remote, ref *sourcev1.GitRepositoryRef, auth transport.AuthMethod) (target, error) {
	if ref == nil || *ref == (sourcev1.GitRepositoryRef{}) {
		ref = &sourcev1.GitRepositoryRef{Branch: defaultBranch}
	}
	if ref.Commit != "" {
		if !fullSHA.MatchString(ref.Commit) {
			return target{}, fmt.Errorf("commit %q is not a full lower-case sha1", ref.Commit)
		}
		h := plumbing.NewHash(ref.Commit)
		if ref.Branch != "" {
			branch := "refs/heads/" + ref.Branch
			return target{revision: revisionFor(branch, h), commit: h, refSpecs: []config.RefSpec{refSpec(branch)}}, nil
		}
		return target{revision: revisionFor("", h), commit: h, refSpecs: []config.RefSpec{
			"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*",
		}}, nil
	}

	refs, err := listRefs(ctx, remote, auth)
	if err != nil {
		return target{}, err
	}
	var name string
	switch {
	case ref.Name != "":
		name = ref.Name
	case ref.SemVer != "":
		if name, err = newestMatchingTag(refs, ref.SemVer); err != nil {
			return target{}, err
		}
	case ref.Tag != "":
		name = "refs/tags/" + ref.Tag
	default:
		name = "refs/heads/" + ref.Branch
	}
	h, ok := refs[name+"^{}"] // the commit an annotated tag points to
	if !ok {
		h, ok = refs[name]
	}
	if !ok {
		return target{}, fmt.Errorf("reference %s not found", name)
	}
	return target{revision: revisionFor(name, h), commit: h, refSpecs: []config.RefSpec{refSpec(name)}, shallow: true}, nil
}

func refSpec(name string) config.RefSpec {
	return config.RefSpec("+" + name + ":" + name)
}

// listRefs returns the remote's references by name, peeled tags included as
// "<name>^{}".
func listRefs(ctx context.Context, remote *git.Remote, auth transport.AuthMethod) (map[string]plumbing.Hash, error) {
	list, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth, PeelingOption: git.AppendPeeled})
	if err != nil {
		return nil, classify(fmt.Errorf("list remote %s: %w", remote.Config().URLs[0], err))
	}
	refs := make(map[string]plumbing.Hash, len(list))
	for _, r := range list {
		if r.Type() == plumbing.HashReference {
			refs[r.Name().String()] = r.Hash()
		}
	}
	return refs, nil
}

// newestMatchingTag returns the reference of the highest tag (a semantic
// version, "v" prefix allowed) within the range expression.
func newestMatchingTag(refs map[string]plumbing.Hash, expr string) (string, error) {
	rng, err := semver.ParseRange(expr)
	if err != nil {
		return "", fmt.Errorf("semver range %q: %w", expr, err)
	}
	var (
		best    semver.Version
		bestRef string
	)
	for name := range refs {
		tag, ok := strings.CutPrefix(name, "refs/tags/")
		if !ok || strings.HasSuffix(tag, "^{}") {
			continue
		}
		v, err := semver.ParseTolerant(tag)
		if err != nil || !rng(v) {
			continue
		}
		// Equal versions ("1.0.0" and "v1.0.0"): take the lexically larger
		// name so the choice does not depend on map order.
		if bestRef == "" || v.GT(best) || (v.EQ(best) && name > bestRef) {
			best, bestRef = v, name
		}
	}
	if bestRef == "" {
		return "", fmt.Errorf("no tag matches semver range %q", expr)
	}
	return bestRef, nil
}

// fetchCommit fetches what t needs into memory and returns the commit.
func fetchCommit(ctx context.Context, repo *git.Repository, remote *git.Remote, t target, auth transport.AuthMethod) (*object.Commit, error) {
	opts := &git.FetchOptions{RefSpecs: t.refSpecs, Auth: auth, Tags: git.NoTags}
	if t.shallow {
		opts.Depth = 1
	}
	err := remote.FetchContext(ctx, opts)
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, classify(fmt.Errorf("fetch %s from %s: %w", refSpecNames(t.refSpecs), remote.Config().URLs[0], err))
	}
	c, err := repo.CommitObject(t.commit)
	if err != nil {
		return nil, fmt.Errorf("commit %s not found in %s: %w", t.commit, refSpecNames(t.refSpecs), err)
	}
	return c, nil
}

func refSpecNames(specs []config.RefSpec) string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Src()
	}
	return strings.Join(names, ",")
}

// newRemote makes an empty in-memory repository with the remote "origin".
func newRemote(url string) (*git.Repository, *git.Remote, error) {
	repo, err := git.Init(memory.NewStorage(), nil)
	if err != nil {
		return nil, nil, err
	}
	remote, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}})
	if err != nil {
		return nil, nil, err
	}
	return repo, remote, nil
}

func classify(err error) error {
	if errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed) {
		return &authError{err: err}
	}
	return err
}
