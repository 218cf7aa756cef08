package gitops

import (
	"context"
	"fmt"

	"github.com/dot-ai/dot/pkg/gitops/manifest"
	"github.com/dot-ai/dot/pkg/gitops/repo"
	"github.com/dot-ai/dot/pkg/kube"
)

// Definition is where an object, or one of its fields, is defined in the
// source of the object's owner.
type Definition struct {
	Object kube.ObjectRef `json:"object"`
	// Owner is e.g. "Application argocd/shop".
	Owner string `json:"owner"`
	// Field is the field asked about; "" for the object's document.
	Field string `json:"field,omitempty"`
	// Location is the document that defines the object, or the layer that
	// sets Field.
	Location manifest.Location `json:"location"`
}

// Where renders the location as "file:line" ("file" without a line).
func (d *Definition) Where() string {
	if d.Location.Line > 0 {
		return fmt.Sprintf("%s:%d", d.Location.File, d.Location.Line)
	}
	return d.Location.File
}

// Locate finds, in a shallow clone of the source of ref's owner, the
// document that defines ref or, when field is not "", the layer that sets
// that field ("spec.tls[0].secretName"; the document when no layer sets
// it). It only reads: nothing is written,
// committed or pushed. An object no owner applies is ErrNotManaged.
func (d *Deliverer) Locate(ctx context.Context, ref kube.ObjectRef, field string) (*Definition, error) {
	owner, err := d.Cluster.FindOwner(ctx, ref)
	if err != nil {
		return nil, err
	}
	srcs, err := d.Cluster.Sources(ctx, owner)
	if err != nil {
		return nil, err
	}
	var src *Source
	for i, s := range srcs {
		if s.Chart == "" && s.Render != "" && s.Render != RenderPlugin && s.Render != RenderHelm {
			src = &srcs[i]
			break
		}
	}
	if src == nil {
		return nil, fmt.Errorf("locate %s: %s renders no Git directory or kustomization (sources: %s)", ref, owner, describeSources(srcs))
	}
	var fields []manifest.FieldPath
	if field != "" {
		p, err := manifest.ParseFieldPath(field)
		if err != nil {
			return nil, fmt.Errorf("locate %s: field %q: %w", ref, field, err)
		}
		fields = append(fields, p)
	}
	auth, err := d.auth(ctx, owner, *src)
	if err != nil {
		return nil, err
	}
	g := gitGroup{owner: owner, source: *src}
	r, err := repo.Clone(ctx, repo.Options{URL: src.RepoURL, Branch: g.branch(), Auth: auth, TempDir: d.Options.Git.TempDir, Depth: 1})
	if err != nil {
		return nil, fmt.Errorf("locate %s: %w", ref, mapRepoErr(err))
	}
	defer r.Close()
	l, err := manifest.Locate(ctx, manifestSource(r.Dir, owner, *src), ref, fields)
	if err != nil {
		return nil, fmt.Errorf("locate %s in %s: %w", ref, src, err)
	}
	def := &Definition{Object: ref, Owner: owner.String(), Field: field, Location: l.Definition}
	// A field no layer sets yet: the object's document defines it.
	if len(l.Fields) > 0 && l.Fields[0].Set && l.Fields[0].Location.File != "" {
		def.Location = l.Fields[0].Location
	}
	return def, nil
}
