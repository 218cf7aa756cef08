package gitops

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dot-ai/dot/pkg/kube"
)

// Action is what a Change does to its object.
type Action string

// Actions.
const (
	// ActionSet sets or removes fields of an existing object.
	ActionSet Action = "Set"
	// ActionCreate adds a new object.
	ActionCreate Action = "Create"
	// ActionDelete removes an object.
	ActionDelete Action = "Delete"
	// ActionRevert undoes earlier commits of dot that changed the object
	// (Git only): each file they changed goes back to its content before
	// them, provided nobody changed it since.
	ActionRevert Action = "Revert"
)

// FieldChange is one field of a Set change.
type FieldChange struct {
	// Path is the field, in manifest.ParseFieldPath syntax:
	// spec.template.spec.containers[name=web].image.
	Path string `json:"path"`
	// Value is the new value (scalar, map or list).
	Value any `json:"value,omitempty"`
	// Delete removes the field instead.
	Delete bool `json:"delete,omitempty"`
	// Expect is the value the pipeline saw when it decided the change
	// (compare-and-swap): when Git or the cluster holds another value, the
	// change fails with ErrConflict instead of overwriting someone's edit.
	Expect any `json:"expect,omitempty"`
	// ExpectAbsent requires the field to be unset now.
	ExpectAbsent bool `json:"expectAbsent,omitempty"`
}

// Target says where a new object goes in Git when it has no owner yet (a
// Create from the recommend pipeline).
type Target struct {
	RepoURL string `json:"repoURL"`
	Branch  string `json:"branch,omitempty"`
	// Path is the directory the owner renders; File the file to write,
	// relative to the repository root (default: <path>/<kind>-<name>.yaml).
	Path string `json:"path"`
	File string `json:"file,omitempty"`
}

// Change is one intended change to one object.
type Change struct {
	Object kube.ObjectRef `json:"object"`
	Action Action         `json:"action"`
	// Fields are the fields of a Set.
	Fields []FieldChange `json:"fields,omitempty"`
	// Manifest is the object of a Create.
	Manifest *unstructured.Unstructured `json:"manifest,omitempty"`
	// Target places a Create in Git (optional).
	Target *Target `json:"target,omitempty"`
	// Revert lists the commits an ActionRevert undoes, newest first.
	Revert []string `json:"revert,omitempty"`
	// Reason is shown in the plan and the commit message.
	Reason string `json:"reason,omitempty"`
	// Recreate says that a Set changes fields the API server does not let
	// change on a live object (a claim's storageClassName, a Job's
	// template, a Service's clusterIP), so delivery deletes the object and
	// creates it again from the edited manifest, the way `kubectl replace
	// --force` or Flux's force apply do. Only with ActionSet. The plan says
	// so; the delete is conditional on the UID and resourceVersion the plan
	// read (an object that changed since is never deleted), a bound
	// PersistentVolumeClaim and an object another controller owns are
	// refused, and the Result records the old and the new UID.
	//
	// Through Git the commit is pushed first; once the owner sees the
	// commit, the live object is deleted and the owner creates it from the
	// commit (an Argo CD sync that failed at the commit on the immutable
	// field is started again, since automated sync does not retry a failed
	// revision). Directly, the edited object is created by dot.
	Recreate bool `json:"recreate,omitempty"`
}

// ChangeSet is what a pipeline hands to delivery.
type ChangeSet struct {
	// Title becomes the commit subject: "dot: <Title>".
	Title string `json:"title"`
	// Operation names the pipeline step, e.g. "scale"; it goes into the
	// Dot-Operation commit trailer, by which rollback finds dot's commits.
	Operation string   `json:"operation"`
	Changes   []Change `json:"changes"`
}

// Validate checks the change set before anything is read or written.
func (cs ChangeSet) Validate() error {
	if len(cs.Changes) == 0 {
		return fmt.Errorf("change set %q has no changes", cs.Title)
	}
	var errs []string
	for i, c := range cs.Changes {
		where := fmt.Sprintf("change %d (%s)", i+1, c.Object)
		if c.Object.Kind == "" || c.Object.Name == "" {
			errs = append(errs, where+": object kind and name are required")
		}
		if c.Recreate && c.Action != ActionSet {
			errs = append(errs, where+": only a Set can recreate its object")
		}
		switch c.Action {
		case ActionSet:
			if len(c.Fields) == 0 {
				errs = append(errs, where+": a Set needs fields")
			}
			for _, f := range c.Fields {
				if f.Path == "" {
					errs = append(errs, where+": a field has no path")
				}
			}
		case ActionCreate:
			if c.Manifest == nil {
				errs = append(errs, where+": a Create needs a manifest")
			}
		case ActionDelete:
		case ActionRevert:
			if len(c.Revert) == 0 {
				errs = append(errs, where+": a Revert needs commits")
			}
		default:
			errs = append(errs, fmt.Sprintf("%s: unknown action %q", where, c.Action))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid change set %q: %s", cs.Title, strings.Join(errs, "; "))
	}
	return nil
}
