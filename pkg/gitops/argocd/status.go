package argocd

import (
	"encoding/json"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// Application condition types dot reacts to.
const (
	// ConditionComparisonError: manifests could not be generated or compared
	// (a broken kustomization, a missing path, an unreachable repository).
	ConditionComparisonError = "ComparisonError"
	// ConditionInvalidSpecError: the Application's spec is invalid (unknown
	// project, destination not permitted, bad source).
	ConditionInvalidSpecError = "InvalidSpecError"
	// ConditionSyncError: an automated sync could not be started or failed.
	ConditionSyncError = "SyncError"
)

// Hydration phases of Argo CD's source hydrator.
const (
	HydratePhaseHydrating = "Hydrating"
	HydratePhaseFailed    = "Failed"
	HydratePhaseHydrated  = "Hydrated"
)

// SourceHydratorStatus is status.sourceHydrator: where the hydrator stands.
// It is not a field of ApplicationStatus because dot's Application subset
// predates it; ReadApplication extracts it from the unstructured object.
type SourceHydratorStatus struct {
	LastSuccessfulOperation *HydrateOperation `json:"lastSuccessfulOperation,omitempty"`
	CurrentOperation        *HydrateOperation `json:"currentOperation,omitempty"`
}

// HydrateOperation is one hydration: which dry commit was rendered into which
// hydrated commit.
type HydrateOperation struct {
	StartedAt   *metav1.Time `json:"startedAt,omitempty"`
	FinishedAt  *metav1.Time `json:"finishedAt,omitempty"`
	Phase       string       `json:"phase,omitempty"`
	Message     string       `json:"message,omitempty"`
	DrySHA      string       `json:"drySHA,omitempty"`
	HydratedSHA string       `json:"hydratedSHA,omitempty"`
}

// ReadApplication converts an unstructured Application to dot's typed subset
// and returns its source hydrator status (nil when there is none). Fields the
// subset does not declare are ignored.
func ReadApplication(u *unstructured.Unstructured) (*Application, *SourceHydratorStatus, error) {
	app := &Application{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, app); err != nil {
		return nil, nil, fmt.Errorf("read Application %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	raw, found, err := unstructured.NestedMap(u.Object, "status", "sourceHydrator")
	if err != nil || !found || len(raw) == 0 {
		return app, nil, nil
	}
	hs := &SourceHydratorStatus{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, hs); err != nil {
		return nil, nil, fmt.Errorf("read Application %s/%s status.sourceHydrator: %w", u.GetNamespace(), u.GetName(), err)
	}
	return app, hs, nil
}

// IsCommitSHA reports whether s is a full Git commit SHA (40 hex characters
// for SHA-1 repositories, 64 for SHA-256). Argo CD reports Git sources at such
// revisions and Helm chart sources at chart versions.
func IsCommitSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') && (r < 'A' || r > 'F') {
			return false
		}
	}
	return true
}

// AutoSyncEnabled reports whether the Application syncs automatically.
func (a *Application) AutoSyncEnabled() bool {
	p := a.Spec.SyncPolicy
	if p == nil || p.Automated == nil {
		return false
	}
	return p.Automated.Enabled == nil || *p.Automated.Enabled
}

// SyncRevisions returns the revision status.sync compared against, one per
// source index: status.sync.revisions for multi-source Applications,
// status.sync.revision alone otherwise.
func (a *Application) SyncRevisions() []string {
	if a.Spec.HasMultipleSources() || len(a.Status.Sync.Revisions) > 0 {
		return a.Status.Sync.Revisions
	}
	if a.Status.Sync.Revision == "" {
		return nil
	}
	return []string{a.Status.Sync.Revision}
}

// ComparedSources returns the sources that status.sync's revisions belong to,
// index for index: status.sync.comparedTo when it lines up with the
// revisions (the spec may have changed since the comparison), the spec's
// sources otherwise.
func (a *Application) ComparedSources() []ApplicationSource {
	n := len(a.SyncRevisions())
	ct := a.Status.Sync.ComparedTo
	if len(ct.Sources) > 0 && len(ct.Sources) == n {
		return ct.Sources
	}
	if ct.Source != nil && n == 1 && !a.Spec.HasMultipleSources() {
		return []ApplicationSource{*ct.Source}
	}
	return a.Spec.GetSources()
}

// IsGit reports whether the source is a Git repository (not a Helm chart
// repository or an OCI registry).
func (s ApplicationSource) IsGit() bool {
	return s.Chart == "" && !strings.HasPrefix(s.RepoURL, "oci://")
}

// OperationPending reports whether an operation was requested and not yet
// finished: spec-level operation set, or operationState Running/Terminating.
func (a *Application) OperationPending() bool {
	if a.Operation != nil {
		return true
	}
	op := a.Status.OperationState
	return op != nil && (op.Phase == OperationRunning || op.Phase == OperationTerminating || (op.Phase == "" && op.FinishedAt == nil))
}

// HealthTrusted reports whether status.health describes the cluster after the
// last operation: Argo CD computes health during a comparison, so health
// written before the operation finished describes the objects before it.
// It is true when no operation has finished, or status.reconciledAt is at or
// after operationState.finishedAt.
func (a *Application) HealthTrusted() bool {
	op := a.Status.OperationState
	if op == nil || op.FinishedAt == nil {
		return true
	}
	r := a.Status.ReconciledAt
	return r != nil && !r.Before(op.FinishedAt)
}

// Revisions returns the revisions an operation synced (its sync result) or,
// before there is a result, the ones it was asked to sync. One per source
// index for multi-source Applications.
func (op *OperationState) Revisions() []string {
	if op == nil {
		return nil
	}
	if r := op.SyncResult; r != nil {
		if len(r.Revisions) > 0 {
			return r.Revisions
		}
		if r.Revision != "" {
			return []string{r.Revision}
		}
	}
	if s := op.Operation.Sync; s != nil {
		if len(s.Revisions) > 0 {
			return s.Revisions
		}
		if s.Revision != "" {
			return []string{s.Revision}
		}
	}
	return nil
}

// IsFailureCondition reports whether an Application condition type means the
// Application cannot reach its desired state.
func IsFailureCondition(t string) bool {
	switch t {
	case ConditionComparisonError, ConditionInvalidSpecError, ConditionSyncError:
		return true
	}
	return false
}

// transientMarkers are fragments of condition messages Argo CD writes when a
// component it depends on is briefly unreachable (repo-server restarting, a
// network blip); they clear on their own.
var transientMarkers = []string{
	"code = Unavailable",
	"code = DeadlineExceeded",
	"connection refused",
	"connection reset by peer",
	"i/o timeout",
	"context deadline exceeded",
	"TLS handshake timeout",
	"the server is currently unable to handle the request",
}

// TransientConditionMessage reports whether a condition message describes an
// outage of Argo CD's own components rather than a problem of the
// Application.
func TransientConditionMessage(msg string) bool {
	for _, m := range transientMarkers {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// ResourceProblems returns the managed resources that are not healthy or not
// in sync, and the resources the last sync failed on, each with the
// controller's message.
func (a *Application) ResourceProblems() []ResourceProblem {
	var out []ResourceProblem
	seen := map[string]int{}
	add := func(p ResourceProblem) {
		k := p.Group + "/" + p.Kind + "/" + p.Namespace + "/" + p.Name
		if i, ok := seen[k]; ok {
			if out[i].Message == "" {
				out[i].Message = p.Message
			}
			return
		}
		seen[k] = len(out)
		out = append(out, p)
	}
	if op := a.Status.OperationState; op != nil && op.SyncResult != nil {
		for _, r := range op.SyncResult.Resources {
			if r.Status == "SyncFailed" || r.HookPhase == OperationFailed || r.HookPhase == OperationError {
				add(ResourceProblem{Group: r.Group, Version: r.Version, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Status: "SyncFailed", Message: r.Message})
			}
		}
	}
	for _, r := range a.Status.Resources {
		h := ""
		msg := ""
		if r.Health != nil {
			h, msg = r.Health.Status, r.Health.Message
		}
		switch {
		case h != "" && h != HealthHealthy:
			add(ResourceProblem{Group: r.Group, Version: r.Version, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Status: h, Message: msg})
		case r.Status == SyncStatusOutOfSync && !r.RequiresPruning:
			add(ResourceProblem{Group: r.Group, Version: r.Version, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Status: SyncStatusOutOfSync, Message: msg})
		}
	}
	return out
}

// ResourceProblem is a resource of an Application that is not healthy, not in
// sync, or failed to sync.
type ResourceProblem struct {
	Group, Version, Kind, Namespace, Name string
	// Status is the resource's health (Degraded, Progressing, Missing...),
	// OutOfSync, or SyncFailed.
	Status  string
	Message string
}

// String renders "Deployment prod/web: Degraded: <message>".
func (p ResourceProblem) String() string {
	name := p.Name
	if p.Namespace != "" {
		name = p.Namespace + "/" + p.Name
	}
	s := fmt.Sprintf("%s %s: %s", p.Kind, name, p.Status)
	if p.Message != "" {
		s += ": " + p.Message
	}
	return s
}

// SyncOperationRequest is what dot asks Argo CD to do when it starts a sync.
type SyncOperationRequest struct {
	// Revisions holds one revision per source index (one entry for a
	// single-source Application); empty entries take the source's
	// targetRevision.
	Revisions []string
	// Username is recorded as operation.initiatedBy.username.
	Username string
	// Reason is recorded as the operation info "Reason".
	Reason string
	// ResourceVersion, when set, makes the patch fail with a conflict if the
	// Application changed since it was read, so an operation started by
	// someone else in between is never overwritten.
	ResourceVersion string
	// Prune deletes live objects the revision no longer has, as an
	// automated sync with prune does.
	Prune bool
}

// SyncOperationPatch returns a JSON merge patch that starts a sync operation
// on app, the way `argocd app sync` does through the API server: it sets
// the Application's operation field, which the application controller picks
// up. Only the operation (and metadata.resourceVersion for optimistic
// locking) is sent; other fields are left alone.
func SyncOperationPatch(app *Application, req SyncOperationRequest) ([]byte, error) {
	srcs := app.Spec.GetSources()
	if len(srcs) == 0 && app.Spec.SourceHydrator == nil {
		return nil, fmt.Errorf("start sync of Application %s/%s: no source", app.Namespace, app.Name)
	}
	revs := make([]string, len(srcs))
	for i, s := range srcs {
		revs[i] = s.TargetRevision
		if i < len(req.Revisions) && req.Revisions[i] != "" {
			revs[i] = req.Revisions[i]
		}
	}
	sync := map[string]any{}
	switch {
	case app.Spec.SourceHydrator != nil:
		// The controller syncs the hydrated branch; a dry revision means
		// nothing there.
	case app.Spec.HasMultipleSources():
		sync["revisions"] = revs
	case revs[0] != "":
		sync["revision"] = revs[0]
	}
	if p := app.Spec.SyncPolicy; p != nil && len(p.SyncOptions) > 0 {
		sync["syncOptions"] = p.SyncOptions
	}
	if req.Prune {
		sync["prune"] = true
	}
	op := map[string]any{
		"sync":        sync,
		"initiatedBy": map[string]any{"username": req.Username},
	}
	if req.Reason != "" {
		op["info"] = []map[string]string{{"name": "Reason", "value": req.Reason}}
	}
	body := map[string]any{"operation": op}
	if req.ResourceVersion != "" {
		body["metadata"] = map[string]any{"resourceVersion": req.ResourceVersion}
	}
	return json.Marshal(body)
}
