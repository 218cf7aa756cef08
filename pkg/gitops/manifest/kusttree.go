package manifest

//lint:file-ignore SA1019 users' kustomizations still use the deprecated fields (bases, commonLabels, imageTags, patchesStrategicMerge); reading them is the point.

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/api/types"
	sigsyaml "sigs.k8s.io/yaml"
)

// kustomizationNames are the file names kustomize recognizes, in its order.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// findKustomization returns the kustomization file in dir, or "".
func findKustomization(ws *workspace, dir string) string {
	for _, n := range kustomizationNames {
		p := path.Join(dir, n)
		if ws.isFile(p) {
			return p
		}
	}
	return ""
}

type entryKind int

const (
	entryFile entryKind = iota
	entryDir
	entryRemote  // a URL: outside the repository
	entryMissing // neither a file nor a directory here
)

// kustEntry is one item of a kustomization's resources/bases/components.
type kustEntry struct {
	field string // resources, bases, components
	index int
	ref   string
	rel   string // repo-relative target
	kind  entryKind
	sub   *kustDir
}

// kustDir is one kustomization (or component) of a build, as dot
// understands it: enough to enumerate the layers that can set a field and
// to edit them.
type kustDir struct {
	dir       string
	file      string // "" when generated in memory (Flux)
	virtual   bool
	yf        *yamlFile
	k         types.Kustomization
	component bool
	entries   []*kustEntry // resources and bases, in order
	comps     []*kustEntry
}

func (d *kustDir) label() string {
	if d.virtual {
		return d.dir + " (generated kustomization)"
	}
	return d.file
}

// kustTree is the kustomization graph of one build.
type kustTree struct {
	top       *kustDir
	dirs      map[string]*kustDir
	resources map[string]bool // resource files, repo-relative
	outside   []string        // remote or missing references, and generators dot cannot see into
}

// loadKustTree parses the kustomizations reachable from dir.
func loadKustTree(ws *workspace, dir string, virtualTop []byte, ownerComponents []string) (*kustTree, error) {
	t := &kustTree{dirs: map[string]*kustDir{}, resources: map[string]bool{}}
	top, err := t.load(ws, dir, false, virtualTop, nil)
	if err != nil {
		return nil, err
	}
	t.top = top
	// Components the owner adds (Flux spec.components, Argo CD
	// kustomize.components) come after the repository's own.
	for i, c := range ownerComponents {
		e := &kustEntry{field: "owner components", index: i, ref: c}
		rel, err := joinRel(dir, c)
		switch {
		case looksRemote(c) || err != nil || !ws.isDir(rel):
			e.kind = entryMissing
			t.outside = append(t.outside, "owner component "+c)
		default:
			e.kind, e.rel = entryDir, rel
			sub, err := t.load(ws, rel, true, nil, []string{dir})
			if err != nil {
				return nil, err
			}
			e.sub = sub
		}
		top.comps = append(top.comps, e)
	}
	return t, nil
}

func (t *kustTree) load(ws *workspace, dir string, component bool, virtual []byte, stack []string) (*kustDir, error) {
	if d, ok := t.dirs[dir]; ok {
		return d, nil
	}
	for _, s := range stack {
		if s == dir {
			return nil, fmt.Errorf("kustomization cycle through %s", dir)
		}
	}
	d := &kustDir{dir: dir, component: component}
	var src []byte
	if virtual != nil {
		d.virtual = true
		d.file = path.Join(dir, "kustomization.yaml")
		src = virtual
	} else {
		d.file = findKustomization(ws, dir)
		if d.file == "" {
			return nil, fmt.Errorf("%s: no kustomization file", dir)
		}
		b, err := ws.read(d.file)
		if err != nil {
			return nil, err
		}
		src = b
	}
	yf, err := parseYAMLFile(d.file, src)
	if err != nil {
		return nil, err
	}
	d.yf = yf
	if err := d.k.Unmarshal(src); err != nil {
		// Unknown fields: fall back to a lenient read, kustomize will
		// report the real error when it renders.
		if err2 := sigsyaml.Unmarshal(src, &d.k); err2 != nil {
			return nil, fmt.Errorf("read %s: %w", d.file, err)
		}
	}
	if d.k.Kind == types.ComponentKind {
		d.component = true
	}
	if len(d.k.HelmCharts) > 0 || len(d.k.HelmChartInflationGenerator) > 0 {
		for _, h := range d.k.HelmCharts {
			t.outside = append(t.outside, fmt.Sprintf("Helm chart %s (helmCharts in %s)", h.Name, d.file))
		}
		for _, h := range d.k.HelmChartInflationGenerator {
			t.outside = append(t.outside, fmt.Sprintf("Helm chart %s (helmChartInflationGenerator in %s)", h.ChartName, d.file))
		}
	}
	t.dirs[dir] = d
	stack = append(stack, dir)
	add := func(field string, list []string) error {
		for i, ref := range list {
			e := &kustEntry{field: field, index: i, ref: ref}
			rel, err := joinRel(dir, ref)
			switch {
			case looksRemote(ref):
				e.kind = entryRemote
			case err != nil:
				e.kind = entryMissing
			case ws.isFile(rel):
				e.kind, e.rel = entryFile, rel
			case ws.isDir(rel):
				e.kind, e.rel = entryDir, rel
			default:
				e.kind = entryMissing
			}
			switch e.kind {
			case entryRemote:
				t.outside = append(t.outside, fmt.Sprintf("remote %s %s (in %s)", field, ref, d.file))
			case entryMissing:
				t.outside = append(t.outside, fmt.Sprintf("missing %s %s (in %s)", field, ref, d.file))
			case entryDir:
				sub, err := t.load(ws, rel, field == "components", nil, stack)
				if err != nil {
					return err
				}
				e.sub = sub
			case entryFile:
				if field == "components" {
					return fmt.Errorf("%s: component %s is a file", d.file, ref)
				}
				t.resources[rel] = true
			}
			if field == "components" {
				d.comps = append(d.comps, e)
			} else {
				d.entries = append(d.entries, e)
			}
		}
		return nil
	}
	if err := add("resources", d.k.Resources); err != nil {
		return nil, err
	}
	if err := add("bases", d.k.Bases); err != nil {
		return nil, err
	}
	if err := add("components", d.k.Components); err != nil {
		return nil, err
	}
	return d, nil
}

// looksRemote tells URLs (git, http, go-getter) from local paths.
func looksRemote(ref string) bool {
	return strings.Contains(ref, "://") || strings.HasPrefix(ref, "git@") || strings.HasPrefix(ref, "github.com/") ||
		strings.HasPrefix(ref, "gitlab.com/") || strings.HasPrefix(ref, "bitbucket.org/") || strings.Contains(ref, "?ref=") ||
		strings.HasPrefix(ref, "git::")
}

// chainLink is one step from the build's top kustomization down to the
// kustomization listing the file that defines an object.
type chainLink struct {
	dir   *kustDir
	entry *kustEntry // entry of dir leading to the next link (or the file)
}

// chainTo returns the kustomizations that include file, from the top down.
func (t *kustTree) chainTo(file string) []chainLink {
	var found []chainLink
	seen := map[*kustDir]bool{}
	var dfs func(d *kustDir, acc []chainLink) bool
	dfs = func(d *kustDir, acc []chainLink) bool {
		if seen[d] {
			return false
		}
		seen[d] = true
		for _, list := range [][]*kustEntry{d.entries, d.comps} {
			for _, e := range list {
				next := append(append([]chainLink(nil), acc...), chainLink{dir: d, entry: e})
				if e.kind == entryFile && e.rel == file {
					found = next
					return true
				}
				if e.sub != nil && dfs(e.sub, next) {
					return true
				}
			}
		}
		return false
	}
	dfs(t.top, nil)
	return found
}

// generateKustomization builds the kustomization Flux generates for a
// directory without one: every .yaml/.yml file below dir, and
// sub-directories holding a kustomization file as directories.
func generateKustomization(ws *workspace, dir string) ([]byte, error) {
	var resources []string
	var walk func(rel string) error
	walk = func(rel string) error {
		names, err := ws.list(rel)
		if err != nil {
			return err
		}
		for _, n := range names {
			if strings.HasPrefix(n, ".") {
				continue
			}
			p := path.Join(rel, n)
			if ws.isDir(p) {
				if findKustomization(ws, p) != "" {
					resources = append(resources, "./"+strings.TrimPrefix(p, dir+"/"))
					continue
				}
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			ext := strings.ToLower(path.Ext(n))
			if ext == ".yaml" || ext == ".yml" {
				if dir == "." {
					resources = append(resources, "./"+p)
				} else {
					resources = append(resources, "./"+strings.TrimPrefix(p, dir+"/"))
				}
			}
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return nil, fmt.Errorf("generate kustomization for %s: %w", dir, err)
	}
	sort.Strings(resources)
	k := types.Kustomization{TypeMeta: types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind}, Resources: resources}
	return sigsyaml.Marshal(k)
}

// lineOfField returns the line of a kustomization field (1-based), or 0.
func (d *kustDir) lineOfField(p FieldPath) int {
	if d.yf == nil || len(d.yf.docs) == 0 {
		return 0
	}
	c := d.yf.docs[0]
	s, err := d.yf.lookup(c, p)
	if err != nil || s == nil {
		return 0
	}
	n := s.node
	if s.key != nil {
		n = s.key
	}
	return d.yf.lineOf(d.yf.start(c, n))
}

// sharedDirs returns, for every kustomization directory in t, the
// kustomization files outside t that include it (directly or through
// another directory of t). A base included by another overlay is shared:
// editing it changes that overlay too.
func sharedDirs(ws *workspace, t *kustTree) (map[string][]string, error) {
	refs := map[string][]string{} // target dir -> referencing kustomization files outside t
	var walk func(rel string) error
	walk = func(rel string) error {
		names, err := ws.list(rel)
		if err != nil {
			return err
		}
		for _, n := range names {
			if strings.HasPrefix(n, ".") || n == "node_modules" {
				continue
			}
			p := path.Join(rel, n)
			if rel == "." {
				p = n
			}
			if ws.isDir(p) {
				if err := walk(p); err != nil {
					return err
				}
			}
		}
		kf := findKustomization(ws, rel)
		if kf == "" {
			return nil
		}
		if _, inTree := t.dirs[rel]; inTree {
			return nil
		}
		b, err := ws.read(kf)
		if err != nil {
			return nil
		}
		var k types.Kustomization
		if err := sigsyaml.Unmarshal(b, &k); err != nil {
			return nil
		}
		for _, list := range [][]string{k.Resources, k.Bases, k.Components} {
			for _, ref := range list {
				if looksRemote(ref) {
					continue
				}
				target, err := joinRel(rel, ref)
				if err != nil {
					continue
				}
				refs[target] = append(refs[target], kf)
			}
		}
		return nil
	}
	if err := walk("."); err != nil {
		return nil, err
	}
	// Propagate: a directory of t is shared when any directory of t that
	// includes it is referenced from outside.
	out := map[string][]string{}
	var mark func(d *kustDir, by []string, seen map[*kustDir]bool)
	mark = func(d *kustDir, by []string, seen map[*kustDir]bool) {
		if seen[d] {
			return
		}
		seen[d] = true
		out[d.dir] = appendUnique(out[d.dir], by...)
		for _, list := range [][]*kustEntry{d.entries, d.comps} {
			for _, e := range list {
				if e.sub != nil {
					mark(e.sub, by, seen)
				}
			}
		}
	}
	for dir, d := range t.dirs {
		if by := refs[dir]; len(by) > 0 {
			mark(d, by, map[*kustDir]bool{})
		}
	}
	// Resource files referenced directly from outside.
	for f := range t.resources {
		if by := refs[f]; len(by) > 0 {
			out[f] = appendUnique(out[f], by...)
		}
	}
	return out, nil
}

func appendUnique(list []string, add ...string) []string {
	for _, a := range add {
		dup := false
		for _, l := range list {
			if l == a {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, a)
		}
	}
	return list
}
