package remediate

import (
	"context"
	"fmt"

	"github.com/dot-ai/dot/pkg/kube"
)

// locateAdvised fills in where the findings that got advice only (nothing
// planned, so no file is known from a plan) are defined in their owner's
// source: the layer that sets the field the finding is about (Facts
// "field", e.g. an Ingress backend), else the object's document. It reads
// one shallow clone per object; what cannot be located becomes a note.
func (r *Remediation) locateAdvised(ctx context.Context, rep *Report) {
	advised := map[string]bool{}
	for _, fx := range rep.Fixes {
		if fx.Decision == DecisionAdvice {
			advised[fx.Finding] = true
		}
	}
	type key struct {
		obj   kube.ObjectRef
		field string
	}
	done := map[key]string{}
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.Owner == nil || f.Owner.File != "" || !advised[f.Key()] || f.ID == FindingGitOpsSyncFailed || f.ID == FindingGitOpsUnhealthy {
			continue
		}
		k := key{obj: unversioned(f.Owner.Object)}
		if f.Object.SameObject(f.Owner.Object) {
			k.field = f.fact("field")
		}
		where, ok := done[k]
		if !ok {
			r.emit("locate", "finding %s in the source of %s", objName(f.Owner.Object), f.Owner.Owner)
			def, err := r.Deliverer.Locate(ctx, f.Owner.Object, k.field)
			if err != nil {
				rep.Notes = append(rep.Notes, fmt.Sprintf("where %s is defined: %v", objName(f.Owner.Object), err))
			} else {
				where = def.Where()
			}
			done[k] = where
		}
		f.Owner.File = where
	}
}
