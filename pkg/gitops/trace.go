package gitops

import (
	"context"

	"github.com/dot-ai/dot/pkg/kube"
)

// Trace answers "who delivers this object, from where, and is it live?":
// the owner chain with evidence, each owner's sources and current status.
type Trace struct {
	// Object is the object asked about.
	Object kube.ObjectRef `json:"object"`
	// Owner is its owner; Owner.Parent the chain above it.
	Owner *Owner `json:"owner"`
	// Sources are where the owner's manifests live.
	Sources []Source `json:"sources"`
	// Status is the owner's sync and health now.
	Status OwnerStatus `json:"status"`
	// Parents are the parent owners, nearest first, with what could be read
	// of them (a parent's source or status missing is not an error).
	Parents []ParentTrace `json:"parents,omitempty"`
}

// ParentTrace is a parent owner with its sources and status.
type ParentTrace struct {
	Owner   string       `json:"owner"`
	Sources []Source     `json:"sources,omitempty"`
	Status  *OwnerStatus `json:"status,omitempty"`
}

// Trace finds the owner of ref and reads its sources and status.
func (c *Cluster) Trace(ctx context.Context, ref kube.ObjectRef) (*Trace, error) {
	owner, err := c.FindOwner(ctx, ref)
	if err != nil {
		return nil, err
	}
	t := &Trace{Object: ref, Owner: owner}
	if t.Sources, err = c.Sources(ctx, owner); err != nil {
		return nil, err
	}
	if t.Status, err = c.Status(ctx, owner); err != nil {
		return nil, err
	}
	for p := owner.Parent; p != nil; p = p.Parent {
		pt := ParentTrace{Owner: p.String()}
		if srcs, err := c.Sources(ctx, p); err == nil {
			pt.Sources = srcs
		}
		if st, err := c.Status(ctx, p); err == nil {
			pt.Status = &st
		}
		t.Parents = append(t.Parents, pt)
	}
	return t, nil
}
