package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dot-ai/dot/pkg/gitops/manifest"
)

// restoreFiles undoes the file changes of dot's commit in the checkout at
// dir: each file must still hold what dot wrote (else someone changed it
// since, and overwriting would lose their change: a conflict). It returns
// the paths restored.
func restoreFiles(dir string, edited []*manifest.EditResult, commit string) ([]string, error) {
	// The last write of a file wins when several changes touched it; the
	// first one's Before is the content before dot's commit.
	before, after := map[string][]byte{}, map[string][]byte{}
	for _, e := range edited {
		if e == nil {
			continue
		}
		for _, f := range e.Files {
			if _, seen := before[f.Path]; !seen {
				before[f.Path] = f.Before
			}
			after[f.Path] = f.After
		}
	}
	paths := make([]string, 0, len(after))
	for p := range after {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var changed []string
	for _, p := range paths {
		if strings.Contains(p, "..") || filepath.IsAbs(p) {
			return nil, fmt.Errorf("revert %s: unsafe path %q", short(commit), p)
		}
		abs := filepath.Join(dir, filepath.FromSlash(p))
		cur, err := os.ReadFile(abs)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		want, was := after[p], before[p]
		switch {
		case want == nil && !exists, want != nil && exists && bytes.Equal(cur, want):
		default:
			return nil, fmt.Errorf("revert %s: %s changed since dot's commit; not overwriting it: %w", short(commit), p, ErrConflict)
		}
		if was == nil {
			if exists {
				if err := os.Remove(abs); err != nil {
					return nil, err
				}
				changed = append(changed, p)
			}
			continue
		}
		if exists && bytes.Equal(cur, was) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(abs, was, 0o644); err != nil {
			return nil, err
		}
		changed = append(changed, p)
	}
	return changed, nil
}
