package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops/manifest"
	"github.com/dot-ai/dot/pkg/kube"
)

// The direct path: server-side apply of a change set to the cluster, used
// when GitOps is off or nothing owns an object. PlanDirect reads and
// computes; ApplyDirect dry-runs every change on the server, then applies
// them in dependency order with field manager "dot", then waits for kstatus.

// DefaultFieldManager is the field manager of dot's server-side applies.
const DefaultFieldManager = "dot"

// ErrGitOpsManaged means the object is reconciled by a GitOps controller,
// which would revert a direct change; deliver it through Git or pass
// ForceDirect.
var ErrGitOpsManaged = errors.New("object is managed by a GitOps controller")

// Statuses of a DirectResult.
const (
	directCreated    = "created"
	directConfigured = "configured"
	directUnchanged  = "unchanged"
	directDeleted    = "deleted"
	directSkipped    = "skipped"
	// directRecreated: deleted and created again (Change.Recreate).
	directRecreated = "recreated"
)

// DirectOptions configure the direct path.
type DirectOptions struct {
	// DryRun is "" or "none" (apply), "client" (plan only: reads, no
	// server-side dry run) or "server" (server-side dry runs; the plan's
	// diffs come from the server). ApplyDirect writes nothing with either
	// dry run and reports status "skipped".
	DryRun string
	// ForceDirect applies to GitOps-managed objects anyway; the plan carries
	// a warning naming the owner.
	ForceDirect bool
	// FieldManager is the server-side apply field manager ("dot" if empty).
	FieldManager string
	// NoWait returns after applying, without waiting for kstatus Current.
	NoWait bool
	// WaitTimeout bounds the wait; 0 waits until ctx is done.
	WaitTimeout time.Duration
	// PollInterval is how often the wait reads the objects (default 1s).
	PollInterval time.Duration
	// OnEvent receives progress events.
	OnEvent EventFunc
}

func (o DirectOptions) manager() string {
	if o.FieldManager != "" {
		return o.FieldManager
	}
	return DefaultFieldManager
}

func (o DirectOptions) interval() time.Duration {
	if o.PollInterval > 0 {
		return o.PollInterval
	}
	return time.Second
}

func (o DirectOptions) emit(step, format string, args ...any) {
	if o.OnEvent != nil {
		o.OnEvent(Event{Time: time.Now(), Step: step, Message: fmt.Sprintf(format, args...)})
	}
}

func (o DirectOptions) validate() error {
	switch o.DryRun {
	case "", "none", "client", "server":
		return nil
	}
	return fmt.Errorf("dry run %q: want none, client or server", o.DryRun)
}

// DirectPlan is what applying one change directly would do.
type DirectPlan struct {
	Change Change `json:"change"`
	// Object is the object with its version and namespace resolved.
	Object kube.ObjectRef `json:"object"`
	// Exists says whether the object exists now; UID and ResourceVersion
	// are what was read (a Delete only removes that UID).
	Exists          bool      `json:"exists"`
	UID             types.UID `json:"uid,omitempty"`
	ResourceVersion string    `json:"resourceVersion,omitempty"`
	// ManagedBy names the GitOps controller that manages the object and
	// the evidence (see ManagedBy); "" when none.
	ManagedBy string `json:"managedBy,omitempty"`
	// Diff is a unified diff of the live object and the result, as YAML
	// without status and server-maintained metadata, Secret values masked.
	// With DryRun "server" the result is the server's dry-run answer;
	// otherwise it is computed locally (server defaults are then missing).
	Diff string `json:"diff,omitempty"`
	// DiffFrom is "server" or "client": where Diff's result came from.
	DiffFrom string `json:"diffFrom,omitempty"`
	// Overrides lists the fields other field managers own that the apply
	// takes over, as "<manager>: <field>" (server dry run only).
	Overrides []string `json:"overrides,omitempty"`
	// Deferred says why the server dry run waits until an earlier change
	// of the set is applied (its namespace or CRD is created there).
	Deferred string `json:"deferred,omitempty"`
	// Recreate is set when the change deletes the object and creates it
	// again (Change.Recreate, and the live object lacks the values); Diff
	// then starts with a comment line saying so.
	Recreate *Recreation `json:"recreate,omitempty"`
	Warnings []string    `json:"warnings,omitempty"`
}

// DirectResult is what applying one change directly did.
type DirectResult struct {
	Object kube.ObjectRef `json:"object"`
	Action Action         `json:"action"`
	// Status is created, configured, unchanged, deleted, recreated
	// (Change.Recreate: Recreated has both UIDs), or skipped (dry run;
	// Message says what would happen).
	Status string `json:"status"`
	// Health is kstatus in dot's words: Healthy (Current), Progressing
	// (InProgress), Degraded (Failed), Unknown; "" for deletes.
	Health  string `json:"health,omitempty"`
	Message string `json:"message,omitempty"`
	// Overrode lists the fields taken over from other field managers, as
	// "<manager>: <field>".
	Overrode []string `json:"overrode,omitempty"`
	// Recreated records the object deleted and created again; set as soon
	// as the delete was attempted, so a failure after it says what was
	// deleted.
	Recreated *Recreation `json:"recreated,omitempty"`
	// Duration runs from the start of this change's apply to the end of its
	// wait.
	Duration time.Duration `json:"duration"`
}

// directOp is one change prepared against the live object.
type directOp struct {
	plan  *DirectPlan
	ref   kube.ObjectRef
	live  *unstructured.Unstructured // nil: absent
	edits []fieldEdit
	// body is the server-side apply body (Set, Create).
	body *unstructured.Unstructured
	// removals are removed by JSON patch before the apply; extra marks the
	// ones implied by replacing a mapping (not asked for explicitly), which
	// the server dry run drops when the server defaults them again.
	removals []manifest.FieldPath
	extra    map[string]bool
	// plannedUID is the UID the plan saw (a Delete removes only that one);
	// plannedRV its resourceVersion (a recreate deletes only that one).
	plannedUID types.UID
	plannedRV  string
	// recreate: the Set deletes the object and creates body
	// (Change.Recreate).
	recreate bool
	// expected is the result computed locally.
	expected map[string]any
	noop     bool
	// Filled by the server dry run.
	dryResult map[string]any
	overrides []string
	warnings  []string
	deferred  string
}

// PlanDirect computes what applying changes directly would do, in the
// order they would be applied. It reads each object, refuses GitOps-managed
// ones (ErrGitOpsManaged) unless opts.ForceDirect, checks the
// compare-and-swap expectations (ErrConflict), and renders a diff; with
// opts.DryRun "server" the diff comes from a server-side dry run. Nothing is
// written.
func (c *Cluster) PlanDirect(ctx context.Context, changes []Change, opts DirectOptions) ([]DirectPlan, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	argo, warn := c.directArgoSettings(ctx)
	plans := make([]DirectPlan, 0, len(changes))
	for _, i := range orderChanges(changes) {
		p := &DirectPlan{Change: changes[i]}
		op, err := c.prepare(ctx, p, plans, argo, opts)
		if err != nil {
			return nil, err
		}
		if warn != "" && op.live != nil {
			p.Warnings = append(p.Warnings, warn)
			warn = "" // once is enough
		}
		p.DiffFrom = "client"
		after := op.expected
		if opts.DryRun == "server" && op.deferred == "" {
			if err := c.dryRun(ctx, op, opts); err != nil {
				why := dependsOnEarlier(err, op.ref, plans)
				if why == "" {
					return nil, fmt.Errorf("server dry run of %s: %w", op.ref, err)
				}
				op.deferred = why
			} else {
				p.DiffFrom, after = "server", op.dryResult
				p.Overrides = op.overrides
			}
		}
		if op.deferred != "" {
			p.Deferred = op.deferred
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: server dry run deferred: %s", op.ref, op.deferred))
		}
		p.Warnings = append(p.Warnings, op.warnings...)
		var before map[string]any
		if op.live != nil {
			before = op.live.Object
		}
		if p.Change.Action == ActionDelete {
			after = nil
		}
		if before != nil || after != nil {
			if p.Diff, err = renderDiff(p.Object, before, after); err != nil {
				return nil, err
			}
		}
		if p.Recreate != nil {
			p.Diff = "# " + p.Recreate.Note() + "\n" + p.Diff
			p.Warnings = append(p.Warnings, p.Recreate.Note())
		}
		plans = append(plans, *p)
	}
	return plans, nil
}

// directArgoSettings reads argocd-cm for ManagedBy; when it cannot be read
// the defaults are used and the warning says so.
func (c *Cluster) directArgoSettings(ctx context.Context) (ArgoSettings, string) {
	s, err := c.ArgoSettings(ctx)
	if err != nil {
		return ArgoSettings{}, fmt.Sprintf("could not read Argo CD settings, so Argo CD label tracking is not recognised: %v", err)
	}
	return s, ""
}

// resolve fills in the version (the server's preferred one when empty) and
// checks the namespace against the kind's scope.
func (c *Cluster) resolve(ch Change) (kube.ObjectRef, error) {
	ref := ch.Object
	if ch.Action == ActionCreate && ch.Manifest != nil {
		m := ch.Manifest
		gvk := m.GroupVersionKind()
		if gvk.Kind != "" && (gvk.Kind != ref.Kind || gvk.Group != ref.Group) {
			return ref, fmt.Errorf("%s: manifest is a %s", ref, gvk.GroupKind())
		}
		if n := m.GetName(); n != "" && n != ref.Name {
			return ref, fmt.Errorf("%s: manifest is named %q", ref, n)
		}
		if ref.Version == "" {
			ref.Version = gvk.Version
		}
		switch ns := m.GetNamespace(); {
		case ref.Namespace == "":
			ref.Namespace = ns
		case ns != "" && ns != ref.Namespace:
			return ref, fmt.Errorf("%s: manifest is in namespace %q", ref, ns)
		}
	}
	var (
		mapping *meta.RESTMapping
		err     error
	)
	mapper := c.Client.RESTMapper()
	if ref.Version != "" {
		mapping, err = mapper.RESTMapping(ref.GroupKind(), ref.Version)
	} else {
		mapping, err = mapper.RESTMapping(ref.GroupKind())
	}
	if err != nil {
		return ref, fmt.Errorf("resolve kind %s: %w", ref.GroupKind(), err)
	}
	ref.Version = mapping.GroupVersionKind.Version
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if ref.Namespace == "" {
			return ref, fmt.Errorf("%s: %s is namespaced; a namespace is required", ref, ref.Kind)
		}
	} else {
		ref.Namespace = ""
	}
	return ref, nil
}

// getLive reads the object; nil when it does not exist.
func (c *Cluster) getLive(ctx context.Context, ref kube.ObjectRef) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ref.GroupVersionKind())
	err := c.Client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, u)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", ref, err)
	}
	return u, nil
}

// prepare resolves p's object, reads it, applies the ownership refusal and
// the compare-and-swap, and builds what the dry run and the apply send.
// earlier are the plans before p (a namespace or CRD they create lets p's
// kind or namespace be missing for now).
func (c *Cluster) prepare(ctx context.Context, p *DirectPlan, earlier []DirectPlan, argo ArgoSettings, opts DirectOptions) (*directOp, error) {
	ch := p.Change
	ref, err := c.resolve(ch)
	op := &directOp{plan: p, ref: ref, plannedUID: p.UID, plannedRV: p.ResourceVersion}
	p.Object = ref
	if err != nil {
		why := ""
		if ch.Action == ActionCreate && ref.Version != "" {
			why = dependsOnEarlier(err, ref, earlier)
		}
		if why == "" {
			return nil, err
		}
		// The kind comes with a CRD created earlier in the set: build the
		// create from the manifest alone.
		op.deferred = why
		op.body = createBody(ch.Manifest, ref)
		op.expected = op.body.Object
		return op, nil
	}
	if op.live, err = c.getLive(ctx, ref); err != nil {
		return nil, err
	}
	if op.live != nil {
		p.Exists, p.UID, p.ResourceVersion = true, op.live.GetUID(), op.live.GetResourceVersion()
		p.ManagedBy = ManagedBy(op.live, argo)
		if p.ManagedBy != "" {
			if !opts.ForceDirect {
				return nil, fmt.Errorf("%w: %s is managed by %s, which would revert a direct change: deliver it through GitOps (--gitops=auto) or pass --force-direct", ErrGitOpsManaged, ref, p.ManagedBy)
			}
			op.warnings = append(op.warnings, fmt.Sprintf("%s is managed by %s: applying directly (--force-direct); the controller may revert the change", ref, p.ManagedBy))
		}
	}
	switch ch.Action {
	case ActionSet:
		if op.live == nil {
			return nil, fmt.Errorf("%s: %w", ref, apierrors.NewNotFound(ref.GroupVersionKind().GroupVersion().WithResource(strings.ToLower(ref.Kind)).GroupResource(), ref.Name))
		}
		if err := op.prepareSet(opts); err != nil {
			return nil, err
		}
	case ActionCreate:
		op.body = createBody(ch.Manifest, ref)
		if op.live == nil {
			op.expected = manifest.DeepCopy(op.body.Object).(map[string]any)
		} else {
			op.expected = mergeObjects(manifest.DeepCopy(op.live.Object).(map[string]any), op.body.Object)
		}
	case ActionDelete:
		if op.live == nil {
			op.noop = true
		}
	default:
		return nil, fmt.Errorf("%s: unknown action %q", ref, ch.Action)
	}
	return op, nil
}

// prepareSet checks the expectations and builds the apply body and the
// removals of a Set.
func (op *directOp) prepareSet(opts DirectOptions) error {
	live := op.live.Object
	edits, err := parseEdits(op.ref, op.plan.Change.Fields)
	if err != nil {
		return err
	}
	if err := checkExpectations(op.ref, live, edits); err != nil {
		return err
	}
	op.edits = edits
	gk := gkKey(op.ref)
	op.extra = map[string]bool{}
	op.noop = true
	for _, e := range edits {
		cur, present := manifest.GetField(live, e.path)
		if !editDone(e, cur, present) {
			op.noop = false
		}
		switch {
		case e.delete:
			op.removals = append(op.removals, e.path)
		case present:
			for _, r := range replacedFields(gk, cur, e.value, e.path) {
				op.removals = append(op.removals, r)
				op.extra[r.String()] = true
			}
		}
	}
	if len(op.extra) > 0 {
		op.noop = false
	}
	if op.plan.Change.Recreate {
		return op.prepareRecreate()
	}
	return op.buildSet(opts)
}

// buildSet (re)builds the apply body and the expected result from the
// current removals.
func (op *directOp) buildSet(opts DirectOptions) error {
	live := op.live.Object
	base, err := managerSubset(op.live, opts.manager())
	if err != nil {
		return err
	}
	for _, r := range op.removals {
		if base != nil {
			base, _ = manifest.DeleteField(base, r).(map[string]any)
		}
	}
	body, err := applyBody(op.ref, live, base, op.edits)
	if err != nil {
		return err
	}
	op.body = &unstructured.Unstructured{Object: body}
	op.body.SetResourceVersion(op.live.GetResourceVersion())
	exp := manifest.DeepCopy(live)
	for _, r := range op.removals {
		exp = manifest.DeleteField(exp, r)
	}
	for _, e := range op.edits {
		if e.delete {
			continue
		}
		if exp, err = manifest.SetField(exp, e.path, manifest.DeepCopy(e.value)); err != nil {
			return fmt.Errorf("%s field %s: %w", op.ref, e.path, err)
		}
	}
	op.expected, _ = exp.(map[string]any)
	return nil
}

// createBody is the apply body of a Create: the manifest without server
// metadata and status, in the resolved namespace.
func createBody(m *unstructured.Unstructured, ref kube.ObjectRef) *unstructured.Unstructured {
	body := m.DeepCopy()
	body.SetGroupVersionKind(ref.GroupVersionKind())
	body.SetName(ref.Name)
	body.SetNamespace(ref.Namespace)
	if md, ok := body.Object["metadata"].(map[string]any); ok {
		for _, k := range serverMetadata {
			delete(md, k)
		}
	}
	delete(body.Object, "status")
	return body
}

// mergeObjects overlays src onto dst the way an apply roughly does for the
// client-side plan: mappings merge, everything else is replaced.
func mergeObjects(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = mergeObjects(dm, sm)
				continue
			}
		}
		dst[k] = manifest.DeepCopy(v)
	}
	return dst
}

// dependsOnEarlier returns why err (a missing kind or namespace) is
// expected because an earlier plan creates what is missing; "" otherwise.
func dependsOnEarlier(err error, ref kube.ObjectRef, earlier []DirectPlan) string {
	if meta.IsNoMatchError(err) {
		for _, p := range earlier {
			m := p.Change.Manifest
			if p.Change.Action != ActionCreate || m == nil || p.Change.Object.Kind != "CustomResourceDefinition" {
				continue
			}
			group, _, _ := unstructured.NestedString(m.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(m.Object, "spec", "names", "kind")
			if group == ref.Group && kind == ref.Kind {
				return fmt.Sprintf("its CustomResourceDefinition %s is created first", p.Change.Object.Name)
			}
		}
	}
	var se apierrors.APIStatus
	if apierrors.IsNotFound(err) && errors.As(err, &se) && ref.Namespace != "" {
		d := se.Status().Details
		if d != nil && d.Kind == "namespaces" && d.Name == ref.Namespace {
			for _, p := range earlier {
				if o := p.Change.Object; p.Change.Action == ActionCreate && o.Group == "" && o.Kind == "Namespace" && o.Name == ref.Namespace {
					return fmt.Sprintf("its namespace %s is created first", ref.Namespace)
				}
			}
		}
	}
	return ""
}

// errStale means the object changed between the read and the write; the
// change is prepared again on the new state (the compare-and-swap holds).
var errStale = errors.New("object changed since it was read")

// isStale reports a failed resourceVersion precondition of a server-side
// apply: a 409 without field manager conflicts.
func isStale(err error) bool {
	return apierrors.IsConflict(err) && len(managerConflicts(err)) == 0
}

// managerConflicts lists the "<manager>: <field>" conflicts of a
// server-side apply without force.
func managerConflicts(err error) []string {
	var se apierrors.APIStatus
	if !errors.As(err, &se) || se.Status().Details == nil {
		return nil
	}
	var out []string
	for _, cause := range se.Status().Details.Causes {
		if cause.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		mgr := cause.Message
		if _, rest, ok := strings.Cut(mgr, `"`); ok {
			if name, _, ok := strings.Cut(rest, `"`); ok {
				mgr = name
			}
		}
		out = append(out, mgr+": "+cause.Field)
	}
	return out
}

// dryRun asks the server what the op would produce, without writing. For a
// Set it also drops implied removals the server would default again, and
// checks that the apply changes nothing but the asked-for fields.
func (c *Cluster) dryRun(ctx context.Context, op *directOp, opts DirectOptions) error {
	fm := client.FieldOwner(opts.manager())
	switch op.plan.Change.Action {
	case ActionDelete:
		if op.live == nil {
			return nil
		}
		uid := op.live.GetUID()
		err := c.Client.Delete(ctx, op.live.DeepCopy(), client.DryRunAll, client.Preconditions{UID: &uid},
			client.PropagationPolicy(metav1.DeletePropagationBackground))
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	case ActionCreate:
		res, conflicts, err := c.serverApply(ctx, op.body, fm, true)
		if err != nil {
			return err
		}
		op.dryResult, op.overrides = res.Object, conflicts
		return nil
	}
	if op.recreate {
		return c.dryRunRecreate(ctx, op, opts)
	}
	if op.noop {
		op.dryResult = op.live.Object
		return nil
	}
	if err := c.dryRunRemovals(ctx, op, opts); err != nil {
		return err
	}
	res, conflicts, err := c.serverApply(ctx, op.body, fm, true)
	if err != nil {
		return err
	}
	post := res.Object
	for _, r := range op.removals {
		post, _ = manifest.DeleteField(post, r).(map[string]any)
	}
	op.dryResult, op.overrides = post, conflicts
	lost, changed := unexpectedChanges(gkKey(op.ref), op.expected, post, op.touched())
	if len(lost) > 0 {
		return fmt.Errorf("server-side apply of %s would also remove %s; refusing (a list or map the server treats as one value?)", op.ref, strings.Join(lost, ", "))
	}
	for _, ch := range changed {
		op.warnings = append(op.warnings, fmt.Sprintf("%s: the server also changes %s (defaulting or an admission webhook)", op.ref, ch))
	}
	return nil
}

// dryRunRemovals dry-runs the JSON patch of a Set's removals and keeps only
// the implied removals the server does not restore by defaulting.
func (c *Cluster) dryRunRemovals(ctx context.Context, op *directOp, opts DirectOptions) error {
	patch, removed, err := removalPatch(op.live, op.removals)
	if err != nil || patch == nil {
		op.removals = removed
		return err
	}
	res := &unstructured.Unstructured{}
	res.SetGroupVersionKind(op.ref.GroupVersionKind())
	res.SetNamespace(op.ref.Namespace)
	res.SetName(op.ref.Name)
	if err := c.Client.Patch(ctx, res, client.RawPatch(types.JSONPatchType, patch), client.FieldOwner(opts.manager()), client.DryRunAll); err != nil {
		return fmt.Errorf("remove fields: %w", err)
	}
	var keep []manifest.FieldPath
	for _, r := range removed {
		if op.extra[r.String()] {
			after, ok := manifest.GetField(res.Object, r)
			before, _ := manifest.GetField(op.live.Object, r)
			if ok && manifest.ValuesEqual(after, before) {
				continue // defaulted: the server puts it back
			}
		}
		keep = append(keep, r)
	}
	if len(keep) != len(op.removals) {
		op.removals = keep
		if err := op.buildSet(opts); err != nil {
			return err
		}
	}
	return nil
}

// touched are the paths a Set writes or removes, as unexpectedChanges
// addresses them.
func (op *directOp) touched() []manifest.FieldPath {
	gk := gkKey(op.ref)
	var out []manifest.FieldPath
	for _, e := range op.edits {
		out = append(out, canonicalPath(gk, op.live.Object, e.path))
	}
	for _, r := range op.removals {
		out = append(out, canonicalPath(gk, op.live.Object, r))
	}
	return out
}

// serverApply server-side applies body (dry run or not). Without a dry run
// it forces ownership straight away; a dry run first asks without force, to
// learn which managers' fields the apply takes over.
func (c *Cluster) serverApply(ctx context.Context, body *unstructured.Unstructured, fm client.FieldOwner, dry bool) (*unstructured.Unstructured, []string, error) {
	var conflicts []string
	if dry {
		res := body.DeepCopy()
		err := c.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(res), fm, client.DryRunAll)
		if err == nil {
			return res, nil, nil
		}
		conflicts = managerConflicts(err)
		if len(conflicts) == 0 {
			return nil, nil, err
		}
	}
	opts := []client.ApplyOption{fm, client.ForceOwnership}
	if dry {
		opts = append(opts, client.DryRunAll)
	}
	res := body.DeepCopy()
	if err := c.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(res), opts...); err != nil {
		return nil, nil, err
	}
	return res, conflicts, nil
}

// ApplyDirect applies plans (from PlanDirect) to the cluster: it prepares
// every change again on the live objects (the ownership refusal and the
// compare-and-swap hold at apply time), dry-runs all of them on the server
// and stops before writing anything if one fails, then applies them in
// dependency order (creates and sets by kind, deletes in reverse) with
// server-side apply, field manager "dot" and forced ownership. Removed
// fields go by a JSON patch guarded by the resourceVersion. Unless
// opts.NoWait it then waits until kstatus reports every object Current
// (*WaitError on Failed or when the deadline passes), and deleted objects
// gone. With a dry run it writes nothing and returns status "skipped".
//
// A Set sends only its fields plus those dot applied before (read from
// managedFields), so the server keeps both; a Create of an existing object
// applies the manifest as all of dot's intent, like kubectl apply
// --server-side: fields dot applied before and the manifest lacks go.
//
// On error the results of the changes already applied are returned too.
func (c *Cluster) ApplyDirect(ctx context.Context, plans []DirectPlan, opts DirectOptions) ([]DirectResult, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	changes := make([]Change, len(plans))
	for i, p := range plans {
		changes[i] = p.Change
	}
	ordered := make([]DirectPlan, 0, len(plans))
	for _, i := range orderChanges(changes) {
		ordered = append(ordered, plans[i])
	}
	if opts.DryRun == "client" {
		return skippedResults(ordered), nil
	}
	argo, _ := c.directArgoSettings(ctx)

	// Prepare and dry-run everything before the first write.
	ops := make([]*directOp, len(ordered))
	for i := range ordered {
		p := ordered[i] // a copy: prepare fills it in
		op, err := c.prepare(ctx, &p, ordered[:i], argo, opts)
		if err != nil {
			return nil, fmt.Errorf("%w; nothing was applied", err)
		}
		ops[i] = op
		if op.deferred != "" {
			continue
		}
		opts.emit("dry-run", "server dry run of %s %s", strings.ToLower(string(p.Change.Action)), op.ref)
		if err := c.dryRun(ctx, op, opts); err != nil {
			if why := dependsOnEarlier(err, op.ref, ordered[:i]); why != "" {
				op.deferred = why
				continue
			}
			return nil, fmt.Errorf("server dry run of %s: %w; nothing was applied", op.ref, err)
		}
	}
	if opts.DryRun == "server" {
		return skippedResults(ordered), nil
	}

	results := make([]DirectResult, 0, len(ops))
	starts := make([]time.Time, 0, len(ops))
	for i, op := range ops {
		start := time.Now()
		if op.deferred != "" {
			// What it needs was applied just before; wait until the server
			// serves it, then prepare and dry-run it for real.
			if err := c.waitDependency(ctx, op, results, opts); err != nil {
				return results, err
			}
			ref, why := op.ref, op.deferred
			var err error
			if op, err = c.prepare(ctx, op.plan, ordered[:i], argo, opts); err == nil {
				err = c.dryRun(ctx, op, opts)
			}
			if err != nil {
				return results, fmt.Errorf("%s (deferred: %s): %w", ref, why, err)
			}
		}
		res, err := c.applyOne(ctx, op, argo, opts)
		res.Duration = time.Since(start)
		results = append(results, res)
		starts = append(starts, start)
		if err != nil {
			return results, fmt.Errorf("apply %s: %w", op.ref, err)
		}
		opts.emit("apply", "%s %s", op.ref, res.Status)
	}
	if opts.NoWait {
		return results, nil
	}
	return results, c.waitDirect(ctx, results, starts, opts)
}

// skippedResults reports a dry run: what each plan would do.
func skippedResults(plans []DirectPlan) []DirectResult {
	out := make([]DirectResult, 0, len(plans))
	for _, p := range plans {
		msg := "no change"
		switch {
		case p.Change.Action == ActionDelete && p.Exists:
			msg = "would delete"
		case p.Change.Action == ActionDelete:
			msg = "already absent"
		case p.Change.Action == ActionCreate && !p.Exists:
			msg = "would create"
		case p.Recreate != nil:
			msg = "would delete and create again"
		case p.Diff != "":
			msg = "would configure"
		}
		out = append(out, DirectResult{Object: p.Object, Action: p.Change.Action, Status: directSkipped, Message: msg})
	}
	return out
}

// maxStaleRetries bounds how often a change is prepared again because the
// object changed between reading and writing it.
const maxStaleRetries = 5

// applyOne writes one prepared change, preparing it again when the object
// changed underneath (the compare-and-swap is checked on the new state).
func (c *Cluster) applyOne(ctx context.Context, op *directOp, argo ArgoSettings, opts DirectOptions) (DirectResult, error) {
	res := DirectResult{Object: op.ref, Action: op.plan.Change.Action}
	for attempt := 1; ; attempt++ {
		err := c.write(ctx, op, &res, opts)
		if err == nil || !errors.Is(err, errStale) || attempt == maxStaleRetries {
			return res, err
		}
		opts.emit("apply", "%s changed while applying; reading it again (attempt %d)", op.ref, attempt+1)
		p := *op.plan
		if op, err = c.prepare(ctx, &p, nil, argo, opts); err != nil {
			return res, err
		}
		if err := c.dryRun(ctx, op, opts); err != nil {
			return res, fmt.Errorf("server dry run: %w", err)
		}
	}
}

// write performs one change; a failed precondition is errStale.
func (c *Cluster) write(ctx context.Context, op *directOp, res *DirectResult, opts DirectOptions) error {
	fm := client.FieldOwner(opts.manager())
	res.Overrode = op.overrides
	switch op.plan.Change.Action {
	case ActionDelete:
		if op.live == nil {
			res.Status, res.Message = directUnchanged, "already absent"
			return nil
		}
		uid := op.live.GetUID()
		if op.plannedUID != "" && op.plannedUID != uid {
			return fmt.Errorf("%s was deleted and created again since the plan (uid %s, planned %s); not deleting the new object", op.ref, uid, op.plannedUID)
		}
		err := c.Client.Delete(ctx, op.live.DeepCopy(), client.Preconditions{UID: &uid},
			client.PropagationPolicy(metav1.DeletePropagationBackground))
		switch {
		case apierrors.IsNotFound(err):
			res.Status, res.Message = directUnchanged, "already absent"
		case err != nil:
			return err
		default:
			res.Status = directDeleted
		}
		return nil
	case ActionCreate:
		out, _, err := c.serverApply(ctx, op.body, fm, false)
		if err != nil {
			return err
		}
		res.Status = directCreated
		if op.live != nil {
			res.Status = directConfigured
			if out.GetResourceVersion() == op.live.GetResourceVersion() {
				res.Status = directUnchanged
			}
		}
		res.Health, res.Message = healthOf(out)
		return nil
	}
	if op.recreate {
		return c.recreateDirect(ctx, op, res, opts)
	}
	if op.noop {
		res.Status = directUnchanged
		res.Health, res.Message = healthOf(op.live)
		return nil
	}
	rv := op.live.GetResourceVersion()
	patch, _, err := removalPatch(op.live, op.removals)
	if err != nil {
		return err
	}
	body := op.body.DeepCopy()
	if patch != nil {
		out := &unstructured.Unstructured{}
		out.SetGroupVersionKind(op.ref.GroupVersionKind())
		out.SetNamespace(op.ref.Namespace)
		out.SetName(op.ref.Name)
		if err := c.Client.Patch(ctx, out, client.RawPatch(types.JSONPatchType, patch), fm); err != nil {
			// A failed test operation is a bare 422 Invalid, like any
			// other bad patch: the resourceVersion tells them apart.
			if apierrors.IsInvalid(err) {
				if now, gerr := c.getLive(ctx, op.ref); gerr == nil && (now == nil || now.GetResourceVersion() != rv) {
					return fmt.Errorf("%w: %v", errStale, err)
				}
			}
			return fmt.Errorf("remove fields: %w", err)
		}
		body.SetResourceVersion(out.GetResourceVersion())
	}
	out, _, err := c.serverApply(ctx, body, fm, false)
	if err != nil {
		if isStale(err) {
			return fmt.Errorf("%w: %v", errStale, err)
		}
		return err
	}
	res.Status = directConfigured
	if out.GetResourceVersion() == rv {
		res.Status = directUnchanged
	}
	res.Health, res.Message = healthOf(out)
	return nil
}
