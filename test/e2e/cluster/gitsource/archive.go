package gitsource

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// archiveTime is the modification time of every archive entry, so that the
// same tree always gives the same bytes and hence the same digest.
var archiveTime = time.Unix(0, 0).UTC()

type archiveEntry struct {
	path string
	mode filemode.FileMode
	blob *object.Blob // nil for directories
}

// writeArchive writes the tree as a gzip-compressed tarball: directories and
// regular files, sorted by path, with fixed owners, modes and times. Symlinks
// and submodules are left out, as source-controller leaves out everything
// that is not a regular file or a directory.
func writeArchive(w io.Writer, tree *object.Tree) error {
	var entries []archiveEntry
	if err := collect(tree, "", &entries); err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].path < entries[j].path })

	gz := gzip.NewWriter(w) // zero header: no name, no mtime
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.path, ModTime: archiveTime}
		if e.blob == nil {
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, e.path+"/", 0o755
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("archive %s: %w", e.path, err)
			}
			continue
		}
		hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, 0o644, e.blob.Size
		if e.mode == filemode.Executable {
			hdr.Mode = 0o755
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("archive %s: %w", e.path, err)
		}
		r, err := e.blob.Reader()
		if err != nil {
			return fmt.Errorf("archive %s: %w", e.path, err)
		}
		_, err = io.Copy(tw, r)
		r.Close()
		if err != nil {
			return fmt.Errorf("archive %s: %w", e.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

// collect walks the tree recursively; unlike go-git's TreeWalker it fails on
// missing objects instead of skipping them.
func collect(tree *object.Tree, dir string, out *[]archiveEntry) error {
	for _, e := range tree.Entries {
		p := path.Join(dir, e.Name)
		switch e.Mode {
		case filemode.Dir:
			sub, err := tree.Tree(e.Name)
			if err != nil {
				return fmt.Errorf("archive %s: %w", p, err)
			}
			*out = append(*out, archiveEntry{path: p, mode: e.Mode})
			if err := collect(sub, p, out); err != nil {
				return err
			}
		case filemode.Regular, filemode.Deprecated, filemode.Executable:
			f, err := tree.TreeEntryFile(&e)
			if err != nil {
				return fmt.Errorf("archive %s: %w", p, err)
			}
			*out = append(*out, archiveEntry{path: p, mode: e.Mode, blob: &f.Blob})
		}
	}
	return nil
}

// storage keeps artifacts under root at
// gitrepository/<namespace>/<name>/<commit>.tar.gz, the layout
// source-controller uses, and serves root over HTTP.
type storage struct {
	root string
}

func artifactDir(namespace, name string) string {
	return path.Join("gitrepository", namespace, name)
}

func (s *storage) abs(rel string) string { return filepath.Join(s.root, filepath.FromSlash(rel)) }

// exists reports whether the artifact file at rel is present.
func (s *storage) exists(rel string) bool {
	if rel == "" {
		return false
	}
	fi, err := os.Stat(s.abs(rel))
	return err == nil && fi.Mode().IsRegular()
}

// store writes the archive of tree to rel atomically and returns its sha256
// digest ("sha256:<hex>") and size.
func (s *storage) store(rel string, tree *object.Tree) (digest string, size int64, err error) {
	dst := s.abs(rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(tmp, h)}
	if err := writeArchive(cw, tree); err != nil {
		tmp.Close()
		return "", 0, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", 0, err
	}
	if err := tmp.Close(); err != nil {
		return "", 0, err
	}
	// Rename is atomic: a client downloading the previous file of the same
	// name keeps reading the old inode.
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", 0, err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), cw.n, nil
}

// prune removes the artifacts of one object except those in keep (paths
// relative to root), so storage holds the current and the previous artifact.
func (s *storage) prune(namespace, name string, keep ...string) error {
	dir := artifactDir(namespace, name)
	entries, err := os.ReadDir(s.abs(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		rel := path.Join(dir, e.Name())
		kept := false
		for _, k := range keep {
			kept = kept || k == rel
		}
		if !kept {
			errs = append(errs, os.RemoveAll(s.abs(rel)))
		}
	}
	return errors.Join(errs...)
}

// handler serves the artifacts, byte for byte (no content encoding).
func (s *storage) handler() http.Handler { return http.FileServer(http.Dir(s.root)) }

// removeAll deletes every artifact of a deleted object.
func (s *storage) removeAll(namespace, name string) error {
	return os.RemoveAll(s.abs(artifactDir(namespace, name)))
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
