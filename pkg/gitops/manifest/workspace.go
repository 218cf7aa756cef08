package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// workspace is a read-only view of the checkout with pending, in-memory
// changes on top. Nothing is written to disk until (*EditResult).Write.
type workspace struct {
	root    string // absolute, symlinks resolved
	changes map[string][]byte
	deleted map[string]bool
	order   []string
}

func newWorkspace(root string) (*workspace, error) {
	if root == "" {
		return nil, fmt.Errorf("open checkout: %w: empty root", ErrUnsafePath)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open checkout %s: %w", root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("open checkout %s: %w", root, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("open checkout %s: %w", root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open checkout %s: not a directory", root)
	}
	return &workspace{root: real, changes: map[string][]byte{}, deleted: map[string]bool{}}, nil
}

func (w *workspace) clone() *workspace {
	c := &workspace{root: w.root, changes: make(map[string][]byte, len(w.changes)), deleted: make(map[string]bool, len(w.deleted))}
	for k, v := range w.changes {
		c.changes[k] = v
	}
	for k, v := range w.deleted {
		c.deleted[k] = v
	}
	c.order = append(c.order, w.order...)
	return c
}

// cleanRel validates a repo-relative path: no absolute paths, no "..",
// nothing inside .git. It returns the cleaned slash form ("." for the root).
func cleanRel(rel string) (string, error) {
	rel = filepath.ToSlash(rel)
	if rel == "" {
		rel = "."
	}
	if path.IsAbs(rel) || filepath.IsAbs(rel) || filepath.VolumeName(rel) != "" {
		return "", fmt.Errorf("%w: %s is absolute", ErrUnsafePath, rel)
	}
	c := path.Clean(rel)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: %s leaves the repository", ErrUnsafePath, rel)
	}
	for _, part := range strings.Split(c, "/") {
		if part == ".git" {
			return "", fmt.Errorf("%w: %s is inside .git", ErrUnsafePath, rel)
		}
	}
	return c, nil
}

// joinRel joins a repo-relative directory and a relative reference, failing
// when the result leaves the repository.
func joinRel(dir, ref string) (string, error) {
	if path.IsAbs(ref) {
		return "", fmt.Errorf("%w: absolute path %s", ErrOutsideRepo, ref)
	}
	j := path.Join(dir, ref)
	if j == ".." || strings.HasPrefix(j, "../") {
		return "", fmt.Errorf("%w: %s leaves the repository", ErrOutsideRepo, path.Join(dir, ref))
	}
	return j, nil
}

func (w *workspace) abs(rel string) string {
	return filepath.Join(w.root, filepath.FromSlash(rel))
}

// resolve returns the on-disk path of rel with symlinks followed, failing
// when they lead outside the checkout.
func (w *workspace) resolve(rel string) (string, error) {
	p := w.abs(rel)
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	if real != w.root && !strings.HasPrefix(real, w.root+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %s resolves to %s", ErrOutsideRepo, rel, real)
	}
	return real, nil
}

func (w *workspace) read(rel string) ([]byte, error) {
	rel, err := cleanRel(rel)
	if err != nil {
		return nil, err
	}
	if w.deleted[rel] {
		return nil, fmt.Errorf("read %s: %w", rel, fs.ErrNotExist)
	}
	if b, ok := w.changes[rel]; ok {
		return b, nil
	}
	p, err := w.resolve(rel)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	return b, nil
}

// readDisk reads the committed content, ignoring pending changes.
func (w *workspace) readDisk(rel string) ([]byte, error) {
	p, err := w.resolve(rel)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

func (w *workspace) isFile(rel string) bool {
	if w.deleted[rel] {
		return false
	}
	if _, ok := w.changes[rel]; ok {
		return true
	}
	p, err := w.resolve(rel)
	if err != nil {
		return false
	}
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func (w *workspace) isDir(rel string) bool {
	if rel == "." {
		return true
	}
	for k := range w.changes {
		if strings.HasPrefix(k, rel+"/") {
			return true
		}
	}
	p, err := w.resolve(rel)
	if err != nil {
		return false
	}
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// list returns the entry names of directory rel, pending changes included.
func (w *workspace) list(rel string) ([]string, error) {
	names := map[string]bool{}
	if p, err := w.resolve(rel); err == nil {
		ents, err := os.ReadDir(p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		for _, e := range ents {
			names[e.Name()] = true
		}
	}
	prefix := rel + "/"
	if rel == "." {
		prefix = ""
	}
	for k := range w.changes {
		if strings.HasPrefix(k, prefix) {
			names[strings.SplitN(strings.TrimPrefix(k, prefix), "/", 2)[0]] = true
		}
	}
	for k := range w.deleted {
		if path.Dir(k) == rel || (rel == "." && !strings.Contains(k, "/")) {
			delete(names, path.Base(k))
		}
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// set records new content for rel, checking that writing it later is safe.
func (w *workspace) set(rel string, data []byte) error {
	rel, err := cleanRel(rel)
	if err != nil {
		return err
	}
	if err := w.checkWritable(rel); err != nil {
		return err
	}
	if _, ok := w.changes[rel]; !ok && !w.deleted[rel] {
		w.order = append(w.order, rel)
	}
	delete(w.deleted, rel)
	w.changes[rel] = data
	return nil
}

func (w *workspace) remove(rel string) error {
	rel, err := cleanRel(rel)
	if err != nil {
		return err
	}
	if err := w.checkWritable(rel); err != nil {
		return err
	}
	if _, ok := w.changes[rel]; !ok && !w.deleted[rel] {
		w.order = append(w.order, rel)
	}
	delete(w.changes, rel)
	w.deleted[rel] = true
	return nil
}

// checkWritable refuses paths whose existing components are symlinks or
// not directories: a write must land exactly where the path says.
func (w *workspace) checkWritable(rel string) error {
	parts := strings.Split(rel, "/")
	cur := w.root
	for i, part := range parts {
		cur = filepath.Join(cur, part)
		st, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrUnsafePath, rel, err)
		}
		if st.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%w: %s goes through the symlink %s", ErrUnsafePath, rel, strings.Join(parts[:i+1], "/"))
		}
		if i < len(parts)-1 && !st.IsDir() {
			return fmt.Errorf("%w: %s: %s is not a directory", ErrUnsafePath, rel, strings.Join(parts[:i+1], "/"))
		}
		if i == len(parts)-1 && !st.Mode().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file", ErrUnsafePath, rel)
		}
	}
	return nil
}

// fileChanges lists the pending changes that differ from the disk.
func (w *workspace) fileChanges() []FileChange {
	var out []FileChange
	for _, rel := range w.order {
		before, err := w.readDisk(rel)
		if err != nil {
			before = nil
		}
		if w.deleted[rel] {
			if before != nil {
				out = append(out, FileChange{Path: rel, Before: before})
			}
			continue
		}
		after := w.changes[rel]
		if before != nil && bytes.Equal(before, after) {
			continue
		}
		out = append(out, FileChange{Path: rel, Before: before, After: after})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// renderFS adapts a workspace to kustomize's filesys.FileSystem. It is
// read-only, confined to the checkout, and can show generated files and
// rewrite what it serves (build metadata, owner overrides, markers) without
// touching the disk.
type renderFS struct {
	ws        *workspace
	virtual   map[string][]byte
	transform func(rel string, data []byte) ([]byte, error)
}

var _ filesys.FileSystem = (*renderFS)(nil)

var errReadOnly = errors.New("read-only file system")

func (r *renderFS) rel(p string) (string, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.ws.root, p)
	}
	p = filepath.Clean(p)
	if p == r.ws.root {
		return ".", nil
	}
	if !strings.HasPrefix(p, r.ws.root+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %s", ErrOutsideRepo, p)
	}
	rel := filepath.ToSlash(strings.TrimPrefix(p, r.ws.root+string(filepath.Separator)))
	for _, part := range strings.Split(rel, "/") {
		if part == ".git" {
			return "", fmt.Errorf("%w: %s is inside .git", ErrUnsafePath, rel)
		}
	}
	return rel, nil
}

func (r *renderFS) Create(string) (filesys.File, error) { return nil, errReadOnly }
func (r *renderFS) Mkdir(string) error                  { return errReadOnly }
func (r *renderFS) MkdirAll(string) error               { return errReadOnly }
func (r *renderFS) RemoveAll(string) error              { return errReadOnly }
func (r *renderFS) WriteFile(string, []byte) error      { return errReadOnly }

func (r *renderFS) Open(p string) (filesys.File, error) {
	b, err := r.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return &memFile{Reader: bytes.NewReader(b), name: filepath.Base(p), size: int64(len(b))}, nil
}

func (r *renderFS) IsDir(p string) bool {
	rel, err := r.rel(p)
	if err != nil {
		return false
	}
	for k := range r.virtual {
		if strings.HasPrefix(k, rel+"/") || rel == "." {
			return true
		}
	}
	return r.ws.isDir(rel)
}

func (r *renderFS) ReadDir(p string) ([]string, error) {
	rel, err := r.rel(p)
	if err != nil {
		return nil, err
	}
	names, err := r.ws.list(rel)
	if err != nil {
		return nil, err
	}
	for k := range r.virtual {
		if path.Dir(k) == rel {
			names = append(names, path.Base(k))
		}
	}
	sort.Strings(names)
	return names, nil
}

func (r *renderFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.ws.root, p)
	}
	p = filepath.Clean(p)
	rel, err := r.rel(p)
	if err != nil {
		return "", "", err
	}
	// Follow symlinks that exist on disk, staying inside the checkout.
	if real, err := r.ws.resolve(rel); err == nil {
		p = real
	} else if errors.Is(err, ErrOutsideRepo) {
		return "", "", err
	}
	if r.IsDir(p) {
		return filesys.ConfirmedDir(p), "", nil
	}
	return filesys.ConfirmedDir(filepath.Dir(p)), filepath.Base(p), nil
}

func (r *renderFS) Exists(p string) bool {
	rel, err := r.rel(p)
	if err != nil {
		return false
	}
	if _, ok := r.virtual[rel]; ok {
		return true
	}
	return r.ws.isFile(rel) || r.IsDir(p)
}

func (r *renderFS) Glob(pattern string) ([]string, error) {
	dir := filepath.Dir(pattern)
	names, err := r.ReadDir(dir)
	if err != nil {
		return nil, nil
	}
	var out []string
	for _, n := range names {
		if ok, _ := filepath.Match(filepath.Base(pattern), n); ok && !strings.HasPrefix(n, ".") {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return out, nil
}

func (r *renderFS) ReadFile(p string) ([]byte, error) {
	rel, err := r.rel(p)
	if err != nil {
		return nil, err
	}
	b, ok := r.virtual[rel]
	if !ok {
		b, err = r.ws.read(rel)
		if err != nil {
			return nil, err
		}
	}
	if r.transform != nil {
		return r.transform(rel, b)
	}
	return b, nil
}

func (r *renderFS) Walk(p string, fn filepath.WalkFunc) error {
	var walk func(string) error
	walk = func(cur string) error {
		isDir := r.IsDir(cur)
		if err := fn(cur, fileInfo{name: filepath.Base(cur), dir: isDir}, nil); err != nil {
			if errors.Is(err, filepath.SkipDir) {
				return nil
			}
			return err
		}
		if !isDir {
			return nil
		}
		names, err := r.ReadDir(cur)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := walk(filepath.Join(cur, n)); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(p)
}

type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func (m *memFile) Write([]byte) (int, error) { return 0, errReadOnly }
func (m *memFile) Close() error              { return nil }
func (m *memFile) Stat() (os.FileInfo, error) {
	return fileInfo{name: m.name, size: m.size}, nil
}

type fileInfo struct {
	name string
	size int64
	dir  bool
}

func (f fileInfo) Name() string { return f.name }
func (f fileInfo) Size() int64  { return f.size }
func (f fileInfo) Mode() os.FileMode {
	if f.dir {
		return os.ModeDir | 0o555
	}
	return 0o444
}
func (f fileInfo) ModTime() time.Time { return time.Time{} }
func (f fileInfo) IsDir() bool        { return f.dir }
func (f fileInfo) Sys() any           { return nil }
