package gitops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"

	"github.com/dot-ai/dot/pkg/gitops/manifest"
	"github.com/dot-ai/dot/pkg/gitops/repo"
	"github.com/dot-ai/dot/pkg/kube"
)

// Delivery modes (the CLI's --gitops).
const (
	ModeAuto   = "auto"
	ModeArgoCD = "argocd"
	ModeFlux   = "flux"
	ModeOff    = "off"
)

// Dry-run modes.
const (
	DryRunNone   = "none"
	DryRunClient = "client"
	DryRunServer = "server"
)

// GitOptions configure how dot talks to Git.
type GitOptions struct {
	// Auth are explicit credentials (flags, environment); they win over
	// cluster credentials.
	Auth repo.Auth
	// UseClusterCredentials allows reading the owner's Git credentials from
	// the cluster (Flux GitRepository secretRef, Argo CD repository secrets)
	// when Auth is empty.
	UseClusterCredentials bool
	// Author of dot's commits; empty uses "dot <dot@localhost>".
	Author repo.Signature
	// SignOff adds a Signed-off-by trailer.
	SignOff bool
	// TempDir is where clones go (default os.TempDir()).
	TempDir string
	// Update tunes push retries.
	Update repo.UpdateOptions
}

// Options configure a Deliverer.
type Options struct {
	// Mode is auto, argocd, flux or off.
	Mode string
	// DryRun is none, client or server.
	DryRun string
	// NoWait skips waiting for the controller after pushing or applying.
	NoWait bool
	// RevertOnFailure pushes a revert of dot's commit when the wait fails,
	// then waits again.
	RevertOnFailure bool
	// ForceDirect applies directly to GitOps-managed objects (with a warning).
	ForceDirect bool
	// Sync starts an Argo CD sync when automated sync is off.
	Sync bool
	Git  GitOptions
	// OnEvent receives progress events.
	OnEvent EventFunc
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) emit(owner, step, msg string) {
	if o.OnEvent != nil {
		o.OnEvent(Event{Time: o.now(), Owner: owner, Step: step, Message: msg})
	}
}

// Deliverer is the one delivery layer the pipelines call.
type Deliverer struct {
	Cluster *Cluster
	Options Options
}

// Plan says what delivering a change set would do. It is data: the CLI
// renders it as a table, JSON or YAML and asks for approval.
type Plan struct {
	ChangeSet ChangeSet `json:"changeSet"`
	// Git lists one group per repository branch: the changes that become one
	// commit there.
	Git []GitPlan `json:"git,omitempty"`
	// Direct lists the changes applied server-side.
	Direct   []DirectPlan `json:"direct,omitempty"`
	Warnings []string     `json:"warnings,omitempty"`
}

// HasChanges reports whether delivering the plan would change anything.
func (p *Plan) HasChanges() bool {
	for _, g := range p.Git {
		if g.Diff != "" {
			return true
		}
		for _, c := range g.Changes {
			if c.Recreate != nil {
				return true // Git may have the values already, the cluster not
			}
		}
	}
	for _, d := range p.Direct {
		if d.Diff != "" || d.Change.Action != ActionSet {
			return true
		}
	}
	return false
}

// GitPlan is the changes of one commit.
type GitPlan struct {
	Owner  *Owner `json:"owner"`
	Source Source `json:"source"`
	Branch string `json:"branch"`
	// Base is the commit the plan was computed on; delivery re-applies the
	// edits on the tip it finds then (the compare-and-swap still holds).
	Base    string        `json:"base"`
	Changes []PlannedEdit `json:"changes"`
	// Files are the files the commit changes.
	Files []string `json:"files"`
	// Diff is the unified diff of the commit.
	Diff string `json:"diff"`
	// Message is the commit message.
	Message string `json:"message"`

	reverts map[string][]repo.FileChange
}

// ownerName names the group's owner, or its target when it has none.
func (gp GitPlan) ownerName() string {
	if gp.Owner == nil {
		return fmt.Sprintf("%s:%s", gp.Source.RepoURL, gp.Source.Path)
	}
	return gp.Owner.String()
}

// PlannedEdit is one change as located in the repository.
type PlannedEdit struct {
	Change Change `json:"change"`
	// Locations say where each field is edited (file:line, layer, why).
	Locations []manifest.Location `json:"locations"`
	// Explain is the locator's human-readable explanation.
	Explain string `json:"explain,omitempty"`
	// Unchanged is true when the repository already has the values.
	Unchanged bool `json:"unchanged,omitempty"`
	// Recreate is set when delivery deletes the live object after the push
	// so that the owner creates it from the commit (Change.Recreate, and
	// the live object lacks the values).
	Recreate *Recreation `json:"recreate,omitempty"`
}

// Result says what delivery did.
type Result struct {
	Git      []GitResult    `json:"git,omitempty"`
	Direct   []DirectResult `json:"direct,omitempty"`
	Duration time.Duration  `json:"duration"`
}

// GitResult is the outcome of one commit.
type GitResult struct {
	Owner   string `json:"owner"`
	RepoURL string `json:"repoURL"`
	Branch  string `json:"branch"`
	// Status is configured (pushed), unchanged (nothing to commit) or
	// skipped (dry run).
	Status   string   `json:"status"`
	Commit   string   `json:"commit,omitempty"`
	Files    []string `json:"files,omitempty"`
	Attempts int      `json:"attempts,omitempty"`
	// Sync is the controller's report at the pushed commit (nil with
	// --no-wait).
	Sync *SyncReport `json:"sync,omitempty"`
	// Revert is set when --revert-on-failure reverted the commit.
	Revert *GitResult `json:"revert,omitempty"`
	// Recreated lists the objects deleted after the push so that the owner
	// creates them from the commit (Change.Recreate), with the new UID
	// once the wait saw it. An entry is there as soon as its delete was
	// attempted.
	Recreated []Recreation `json:"recreated,omitempty"`
}

// Deliver plans and applies a change set: the one entry point of the
// pipelines. With a dry run it returns the plan's result without changing
// anything (Status "skipped").
func (d *Deliverer) Deliver(ctx context.Context, cs ChangeSet) (*Plan, *Result, error) {
	plan, err := d.Plan(ctx, cs)
	if err != nil {
		return nil, nil, err
	}
	res, err := d.Apply(ctx, plan)
	return plan, res, err
}

// route is where one change goes.
type route struct {
	change Change
	owner  *Owner  // nil: direct, unless target is set
	target *Target // a Create placed in Git without an owner yet
	why    string
}

// Plan finds the owner of every change, locates and edits the defining
// files in temporary clones, and returns what delivery would do. Nothing
// is pushed or applied.
func (d *Deliverer) Plan(ctx context.Context, cs ChangeSet) (*Plan, error) {
	if err := cs.Validate(); err != nil {
		return nil, err
	}
	plan := &Plan{ChangeSet: cs}
	routes, err := d.route(ctx, cs, plan)
	if err != nil {
		return nil, err
	}
	groups, order := map[string]*gitGroup{}, []string{}
	var direct []Change
	for _, r := range routes {
		if r.owner == nil && r.target == nil {
			direct = append(direct, r.change)
			continue
		}
		var src Source
		if r.target != nil {
			src, err = targetSource(*r.target)
		} else {
			var srcs []Source
			if srcs, err = d.Cluster.Sources(ctx, r.owner); err == nil {
				src, err = d.pickSource(r, srcs)
			}
		}
		if err != nil {
			return nil, err
		}
		key, err := RepoKey(src.RepoURL)
		if err != nil {
			return nil, err
		}
		key += "@" + src.Ref
		g := groups[key]
		if g == nil {
			g = &gitGroup{owner: r.owner, source: src}
			groups[key] = g
			order = append(order, key)
		}
		g.changes = append(g.changes, r.change)
	}
	for _, key := range order {
		gp, err := d.planGroup(ctx, cs, groups[key])
		if err != nil {
			return nil, err
		}
		if err := d.planRecreations(ctx, gp, plan); err != nil {
			return nil, err
		}
		plan.Git = append(plan.Git, *gp)
	}
	if len(direct) > 0 {
		dp, err := d.Cluster.PlanDirect(ctx, direct, d.directOptions())
		if err != nil {
			return nil, err
		}
		plan.Direct = dp
		for _, p := range dp {
			plan.Warnings = append(plan.Warnings, p.Warnings...)
		}
	}
	return plan, nil
}

func (d *Deliverer) directOptions() DirectOptions {
	return DirectOptions{DryRun: d.Options.DryRun, ForceDirect: d.Options.ForceDirect, NoWait: d.Options.NoWait, OnEvent: d.Options.OnEvent}
}

// route decides, per change, Git (with its owner) or direct.
func (d *Deliverer) route(ctx context.Context, cs ChangeSet, plan *Plan) ([]route, error) {
	mode := d.Options.Mode
	if mode == "" {
		mode = ModeAuto
	}
	var out []route
	for _, c := range cs.Changes {
		if mode == ModeOff {
			out = append(out, route{change: c, why: "--gitops=off"})
			continue
		}
		if c.Action == ActionCreate {
			// A new object has no owner yet: with a Target it is written to
			// that repository path (the caller makes sure an owner deploys
			// it); without one it is applied directly.
			out = append(out, route{change: c, target: c.Target, why: "new object without a Git target"})
			continue
		}
		owner, err := d.Cluster.FindOwner(ctx, c.Object)
		switch {
		case errors.Is(err, ErrNotManaged) && c.Action == ActionRevert:
			return nil, fmt.Errorf("revert dot's commits of %s: %w", c.Object, err)
		case errors.Is(err, ErrNotManaged) && mode == ModeAuto:
			out = append(out, route{change: c, why: err.Error()})
			continue
		case err != nil:
			return nil, fmt.Errorf("find owner of %s: %w", c.Object, err)
		}
		if (mode == ModeArgoCD && owner.Kind != OwnerArgoCDApplication) || (mode == ModeFlux && owner.Kind == OwnerArgoCDApplication) {
			return nil, fmt.Errorf("%s is managed by %s, not by %s (--gitops=%s)", c.Object, owner, mode, mode)
		}
		if owner.Suspended {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s is suspended: the commit lands but is not applied until it is resumed", owner))
		}
		if c.Action == ActionDelete {
			prunes, err := d.Cluster.Prunes(ctx, owner)
			if err != nil {
				return nil, err
			}
			if !prunes {
				plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s does not prune: removing %s from Git leaves the object running until it is deleted by hand or pruning is turned on", owner, c.Object))
			}
		}
		out = append(out, route{change: c, owner: owner})
	}
	return out, nil
}

// pickSource chooses the owner's source that can hold the change: a Git
// source with a path (Argo CD multi-source apps may also have Helm chart
// sources and pure `ref:` sources).
func (d *Deliverer) pickSource(r route, srcs []Source) (Source, error) {
	var candidates []Source
	for _, s := range srcs {
		if s.Chart != "" || s.Render == "" || s.Render == RenderPlugin {
			continue
		}
		if s.Render == RenderHelm {
			continue // values-file edits are not supported yet
		}
		candidates = append(candidates, s)
	}
	if len(candidates) == 0 {
		return Source{}, fmt.Errorf("%s: %s renders no Git directory or kustomization dot can edit (sources: %s)", r.change.Object, r.owner, describeSources(srcs))
	}
	src := candidates[0]
	if !src.RefKind.Pushable() {
		return Source{}, fmt.Errorf("%s follows %s %q of %s: %w; change the owner to follow a branch, or open a pull request by hand",
			r.owner, strings.ToLower(string(src.RefKind)), src.Ref, src.RepoURL, ErrRefNotPushable)
	}
	return src, nil
}

// targetSource is the source of a Create placed by its Target.
func targetSource(t Target) (Source, error) {
	if _, err := NormalizeRepoURL(t.RepoURL); err != nil {
		return Source{}, err
	}
	src := Source{RepoURL: t.RepoURL, Ref: t.Branch, RefKind: RefBranch, Path: cleanPath(t.Path), Render: RenderAuto, Via: "target"}
	if t.Branch == "" {
		src.RefKind = RefDefault
	}
	return src, nil
}

func describeSources(srcs []Source) string {
	var s []string
	for _, src := range srcs {
		s = append(s, fmt.Sprintf("%s (%s)", src, src.Render))
	}
	return strings.Join(s, ", ")
}

type gitGroup struct {
	owner   *Owner
	source  Source
	changes []Change
	// reverts holds the file contents of commits to revert, by SHA.
	reverts map[string][]repo.FileChange
}

// revertDepth is how much history a clone fetches to find dot's commits.
const revertDepth = 500

func (g *gitGroup) branch() string {
	if g.source.RefKind == RefDefault {
		return ""
	}
	return g.source.Ref
}

// planGroup clones the group's branch and runs its edits there.
func (d *Deliverer) planGroup(ctx context.Context, cs ChangeSet, g *gitGroup) (*GitPlan, error) {
	auth, err := d.auth(ctx, g.owner, g.source)
	if err != nil {
		return nil, err
	}
	depth := 1
	for _, c := range g.changes {
		if c.Action == ActionRevert {
			depth = revertDepth
		}
	}
	r, err := repo.Clone(ctx, repo.Options{URL: g.source.RepoURL, Branch: g.branch(), Auth: auth, TempDir: d.Options.Git.TempDir, Depth: depth})
	if err != nil {
		return nil, mapRepoErr(err)
	}
	defer r.Close()
	base, err := r.Head()
	if err != nil {
		return nil, err
	}
	for _, c := range g.changes {
		for _, sha := range c.Revert {
			files, err := r.CommitFiles(sha)
			if err != nil {
				return nil, fmt.Errorf("revert %s of %s: %w", short(sha), c.Object, err)
			}
			if g.reverts == nil {
				g.reverts = map[string][]repo.FileChange{}
			}
			g.reverts[sha] = files
		}
	}
	gp := &GitPlan{Owner: g.owner, Source: g.source, Branch: r.Branch, Base: base, reverts: g.reverts}
	edits, files, err := applyEdits(ctx, r.Dir, g)
	if err != nil {
		return nil, err
	}
	var diff strings.Builder
	for i, e := range edits {
		pe := PlannedEdit{Change: g.changes[i], Explain: e.Explain(), Unchanged: !e.Changed()}
		for _, ae := range e.Edits {
			pe.Locations = append(pe.Locations, ae.Location)
		}
		gp.Changes = append(gp.Changes, pe)
		diff.WriteString(e.Diff())
	}
	gp.Files, gp.Diff = files, diff.String()
	gp.Message = commitMessage(cs, g, d.Options.Git)
	return gp, nil
}

// applyEdits runs the group's changes on the checkout at dir, in order (a
// later change sees the earlier ones), writing the files. It returns each
// change's edit result and the union of changed files.
func applyEdits(ctx context.Context, dir string, g *gitGroup) ([]*manifest.EditResult, []string, error) {
	src := manifestSource(dir, g.owner, g.source)
	if g.owner == nil {
		// A target path may not exist yet; Git keeps no empty directories.
		if err := mkdirInside(dir, src.Path); err != nil {
			return nil, nil, err
		}
	}
	var results []*manifest.EditResult
	changed := map[string]bool{}
	for _, c := range g.changes {
		var res *manifest.EditResult
		var err error
		switch c.Action {
		case ActionSet:
			var edits []manifest.FieldEdit
			edits, err = fieldEdits(c)
			if err == nil {
				res, err = applySet(ctx, src, c.Object, edits)
			}
		case ActionDelete:
			res, err = manifest.Remove(ctx, src, c.Object)
		case ActionCreate:
			file := ""
			if c.Target != nil {
				file = c.Target.File
			}
			res, err = manifest.Create(ctx, src, c.Manifest, file)
			if errors.Is(err, manifest.ErrExists) {
				res, err = sameAsExisting(dir, src.Path, file, c)
			}
		case ActionRevert:
			res, err = revertCommits(dir, c, g.reverts)
		}
		if err != nil {
			return nil, nil, mapManifestErr(fmt.Errorf("%s in %s: %w", c.Object, g.source, err))
		}
		results = append(results, res)
		for _, f := range res.Files {
			changed[f.Path] = true
		}
	}
	files := make([]string, 0, len(changed))
	for f := range changed {
		files = append(files, f)
	}
	sort.Strings(files)
	return results, files, nil
}

// manifestSource maps an owner's source onto the locator's view of it.
func manifestSource(dir string, o *Owner, s Source) manifest.Source {
	ms := manifest.Source{Root: dir, Path: s.Path, Recurse: s.Recurse, Include: s.Include, Exclude: s.Exclude, Overrides: s.Layers}
	if o == nil {
		return ms // a target path: rendered as it is found
	}
	switch s.Render {
	case RenderKustomize:
		ms.Kind = manifest.KindKustomize
	case RenderDirectory:
		ms.Kind = manifest.KindDirectory
	}
	if o.Kind == OwnerFluxKustomization {
		// Flux renders every path with kustomize, generating a
		// kustomization.yaml when there is none.
		ms.Kind = manifest.KindAuto
		ms.GenerateKustomization = true
	} else {
		ms.DefaultNamespace = s.Namespace
	}
	return ms
}

// applySet edits the fields in the checkout. A field whose compare-and-swap
// fails because the repository already holds the value the edit writes is
// done, not a conflict (ErrConflict is a value that is neither the expected
// nor the new one), as on the direct path: its expectation is dropped and
// the edit planned again, so that delivering a change a second time (after
// a push whose later steps failed, or one a teammate made by hand) finds
// nothing to commit.
func applySet(ctx context.Context, src manifest.Source, ref kube.ObjectRef, edits []manifest.FieldEdit) (*manifest.EditResult, error) {
	for range len(edits) + 1 {
		res, err := manifest.Apply(ctx, src, ref, edits)
		var me *manifest.Error
		if err == nil || !errors.Is(err, manifest.ErrConflict) || !errors.As(err, &me) {
			return res, err
		}
		i := slices.IndexFunc(edits, func(e manifest.FieldEdit) bool { return e.Path.String() == me.Field })
		if i < 0 || !alreadyWritten(edits[i], me) {
			return res, err
		}
		edits = slices.Clone(edits)
		edits[i].Expect, edits[i].ExpectAbsent = nil, false
	}
	return nil, fmt.Errorf("edit %s: compare-and-swap did not settle", ref)
}

// alreadyWritten reports whether a conflict's actual value is what the edit
// writes.
func alreadyWritten(e manifest.FieldEdit, me *manifest.Error) bool {
	if e.Expect == nil && !e.ExpectAbsent {
		return false
	}
	if e.Delete {
		return me.Actual == nil && me.Expected != nil // "the field is not set"
	}
	want, err := manifest.NormalizeValue(e.Value)
	return err == nil && me.Actual != nil && manifest.ValuesEqual(want, me.Actual)
}

func fieldEdits(c Change) ([]manifest.FieldEdit, error) {
	out := make([]manifest.FieldEdit, 0, len(c.Fields))
	for _, f := range c.Fields {
		p, err := manifest.ParseFieldPath(f.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: field %q: %w", c.Object, f.Path, err)
		}
		out = append(out, manifest.FieldEdit{Path: p, Value: f.Value, Delete: f.Delete, Expect: f.Expect, ExpectAbsent: f.ExpectAbsent})
	}
	return out, nil
}

// mapManifestErr makes the locator's compare-and-swap failure a delivery
// conflict too, so the CLI exits with the conflict code.
func mapManifestErr(err error) error {
	if errors.Is(err, manifest.ErrConflict) && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

func mapRepoErr(err error) error {
	if errors.Is(err, repo.ErrBranchNotFound) {
		return fmt.Errorf("%w: %w", ErrRefNotPushable, err)
	}
	return err
}

// commitMessage builds "dot: <title>", the reasons, and trailers that
// identify the operation and objects (rollback finds dot's commits by them).
func commitMessage(cs ChangeSet, g *gitGroup, opts GitOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dot: %s\n", cs.Title)
	var reasons []string
	for _, c := range g.changes {
		if c.Reason != "" {
			reasons = append(reasons, "- "+c.Reason)
		}
	}
	if len(reasons) > 0 {
		b.WriteString("\n" + strings.Join(reasons, "\n") + "\n")
	}
	b.WriteString("\n")
	if cs.Operation != "" {
		fmt.Fprintf(&b, "Dot-Operation: %s\n", cs.Operation)
	}
	for _, c := range g.changes {
		fmt.Fprintf(&b, "Dot-Object: %s\n", TrailerObject(c.Object))
	}
	for _, c := range g.changes {
		for _, sha := range c.Revert {
			fmt.Fprintf(&b, "Dot-Reverts: %s\n", sha)
		}
	}
	if g.owner != nil {
		fmt.Fprintf(&b, "Dot-Owner: %s\n", g.owner)
	}
	if opts.SignOff {
		a := opts.Author
		if a.Name == "" {
			a = repo.Signature{Name: "dot", Email: "dot@localhost"}
		}
		fmt.Fprintf(&b, "Signed-off-by: %s <%s>\n", a.Name, a.Email)
	}
	return b.String()
}

// TrailerObject renders an object for the Dot-Object trailer:
// "<group>/<Kind> <namespace>/<name>" (group empty for core kinds).
func TrailerObject(r kube.ObjectRef) string {
	ns := r.Namespace
	return fmt.Sprintf("%s/%s %s/%s", r.Group, r.Kind, ns, r.Name)
}

// Apply delivers a plan: for each Git group it clones the branch tip,
// re-runs the edits there, commits, pushes (retrying on rejection), triggers
// the controller and waits for the pushed commit; then it applies the direct
// changes. With a dry run it changes nothing.
func (d *Deliverer) Apply(ctx context.Context, plan *Plan) (*Result, error) {
	start := d.Options.now()
	res := &Result{}
	defer func() { res.Duration = d.Options.now().Sub(start) }()
	dry := d.Options.DryRun == DryRunClient || d.Options.DryRun == DryRunServer
	for _, gp := range plan.Git {
		if dry {
			res.Git = append(res.Git, GitResult{Owner: gp.ownerName(), RepoURL: gp.Source.RepoURL, Branch: gp.Branch, Status: "skipped", Files: gp.Files})
			continue
		}
		gr, err := d.applyGroup(ctx, plan.ChangeSet, gp)
		if gr != nil {
			res.Git = append(res.Git, *gr)
		}
		if err != nil {
			return res, err
		}
	}
	if len(plan.Direct) > 0 {
		dr, err := d.Cluster.ApplyDirect(ctx, plan.Direct, d.directOptions())
		res.Direct = dr
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

func (d *Deliverer) applyGroup(ctx context.Context, cs ChangeSet, gp GitPlan) (*GitResult, error) {
	g := &gitGroup{owner: gp.Owner, source: gp.Source, reverts: gp.reverts}
	for _, c := range gp.Changes {
		g.changes = append(g.changes, c.Change)
	}
	auth, err := d.auth(ctx, g.owner, g.source)
	if err != nil {
		return nil, err
	}
	owner := gp.ownerName()
	opts := repo.Options{URL: gp.Source.RepoURL, Branch: gp.Branch, Auth: auth, TempDir: d.Options.Git.TempDir, Author: d.Options.Git.Author, Now: d.Options.Now}
	uo := d.Options.Git.Update
	uo.OnRetry = func(attempt int, err error) {
		d.Options.emit(owner, "push", fmt.Sprintf("push attempt %d failed, retrying on the new tip: %v", attempt, err))
	}
	recs := gp.recreations()
	if len(recs) > 0 {
		// The objects to delete after the push must still be the ones the
		// plan read; otherwise nothing is pushed.
		if err := d.Cluster.checkRecreations(ctx, recs); err != nil {
			return nil, err
		}
	}
	d.Options.emit(owner, "push", fmt.Sprintf("committing to %s branch %s", gp.Source.RepoURL, gp.Branch))
	var edited []*manifest.EditResult
	ur, err := repo.Update(ctx, opts, uo, func(ctx context.Context, dir string) ([]string, string, error) {
		results, files, err := applyEdits(ctx, dir, g)
		edited = results
		return files, gp.Message, err
	})
	gr := &GitResult{Owner: owner, RepoURL: gp.Source.RepoURL, Branch: ur.Branch, Commit: ur.Commit, Files: ur.Files, Attempts: ur.Attempts}
	if err != nil {
		return gr, mapRepoErr(err)
	}
	commit := ur.Commit
	if ur.Unchanged {
		gr.Status = "unchanged"
		d.Options.emit(owner, "push", "the repository already has these values: nothing to commit")
		if len(recs) == 0 || gp.Owner == nil {
			return gr, nil
		}
		// An earlier delivery pushed the values but did not get to
		// recreating the objects: finish that at the tip.
		commit = ur.Base
	} else {
		gr.Status = "configured"
		d.Options.emit(owner, "push", fmt.Sprintf("pushed %s", short(ur.Commit)))
	}
	if gp.Owner == nil {
		return gr, nil // nothing deploys a target path yet: the caller waits
	}
	anc := &ancestry{opts: repo.Options{URL: gp.Source.RepoURL, Branch: gp.Branch, Auth: auth, TempDir: d.Options.Git.TempDir, Depth: 200}}
	defer anc.close()
	var recreated []kube.ObjectRef
	if len(recs) > 0 {
		gr.Recreated = recs
		if err := d.recreateThroughOwner(ctx, gp, commit, anc.isAncestor, recs); err != nil {
			return gr, err
		}
		for _, r := range recs {
			recreated = append(recreated, r.Object)
		}
		if d.Options.NoWait {
			// Without a wait, ask the owner to create them now.
			return gr, d.Cluster.triggerAfterRecreate(ctx, gp.Owner, commit, WaitOptions{Sync: d.Options.Sync, SourceIndexes: []int{gp.Source.Index}, OnEvent: d.Options.OnEvent, Now: d.Options.Now})
		}
	}
	if d.Options.NoWait {
		return gr, nil
	}
	report, werr := d.wait(ctx, gp, commit, anc, edited, recreated)
	gr.Sync = &report
	if len(recs) > 0 && werr == nil {
		d.Cluster.recordNewUIDs(ctx, gr.Recreated)
	}
	if werr == nil || !d.Options.RevertOnFailure || ur.Unchanged || IsTimeout(werr) && ctx.Err() != nil {
		return gr, werr
	}
	d.Options.emit(owner, "revert", fmt.Sprintf("%v; reverting %s", werr, short(ur.Commit)))
	rev, rerr := d.revert(ctx, gp, opts, uo, ur, edited)
	gr.Revert = rev
	if rerr != nil {
		return gr, errors.Join(werr, fmt.Errorf("revert %s: %w", short(ur.Commit), rerr))
	}
	return gr, werr
}

// wait triggers the owner and waits for commit (or a descendant) to be
// applied and healthy.
func (d *Deliverer) wait(ctx context.Context, gp GitPlan, commit string, anc *ancestry, edited []*manifest.EditResult, recreated []kube.ObjectRef) (SyncReport, error) {
	var objects []kube.ObjectRef
	for i, e := range edited {
		// Deleted objects have no health to wait for; the owner's own
		// readiness covers their pruning.
		if e != nil && e.Changed() && gp.Changes[i].Change.Action != ActionDelete {
			objects = append(objects, e.Object)
		}
	}
	for _, r := range recreated {
		if !slices.ContainsFunc(objects, r.SameObject) {
			objects = append(objects, r)
		}
	}
	return d.Cluster.Wait(ctx, gp.Owner, commit, WaitOptions{
		Sync:          d.Options.Sync,
		SourceIndexes: []int{gp.Source.Index},
		Objects:       objects,
		Recreated:     recreated,
		IsAncestor:    anc.isAncestor,
		OnEvent:       d.Options.OnEvent,
	})
}

// ancestry answers "does b descend from a?" from a clone made on first use
// (another push may land after ours; the controller then applies that).
type ancestry struct {
	opts repo.Options
	r    *repo.Repo
}

func (a *ancestry) isAncestor(ctx context.Context, x, y string) (bool, error) {
	if x == y {
		return true, nil
	}
	if a.r == nil {
		r, err := repo.Clone(ctx, a.opts)
		if err != nil {
			return false, err
		}
		a.r = r
	}
	ok, err := a.r.IsAncestor(x, y)
	if err == nil && !ok {
		// y may be newer than the clone: refresh once.
		if _, ferr := a.r.Reset(ctx); ferr == nil {
			ok, err = a.r.IsAncestor(x, y)
		}
	}
	return ok, err
}

func (a *ancestry) close() {
	if a.r != nil {
		a.r.Close()
	}
}

// revert pushes a commit that restores the files dot's commit changed, on
// the current tip, provided nobody changed those files since (else it is a
// conflict: a human must decide), then waits for it.
func (d *Deliverer) revert(ctx context.Context, gp GitPlan, opts repo.Options, uo repo.UpdateOptions, ur repo.UpdateResult, edited []*manifest.EditResult) (*GitResult, error) {
	msg := fmt.Sprintf("dot: revert %s\n\nThe controller did not apply %s healthily.\n\nDot-Operation: revert\nDot-Reverts: %s\nDot-Owner: %s\n", short(ur.Commit), short(ur.Commit), ur.Commit, gp.Owner)
	rr, err := repo.Update(ctx, opts, uo, func(ctx context.Context, dir string) ([]string, string, error) {
		paths, err := restoreFiles(dir, edited, ur.Commit)
		return paths, msg, err
	})
	gr := &GitResult{Owner: gp.Owner.String(), RepoURL: gp.Source.RepoURL, Branch: rr.Branch, Commit: rr.Commit, Files: rr.Files, Attempts: rr.Attempts, Status: "configured"}
	if err != nil {
		return gr, err
	}
	if rr.Unchanged {
		gr.Status = "unchanged"
		return gr, nil
	}
	if gp.Owner.Kind == OwnerArgoCDApplication {
		// Argo CD keeps retrying the failed sync of the bad commit and starts
		// no new one meanwhile: stop it, as `argocd app terminate-op` does.
		if err := d.Cluster.terminateArgoOperation(ctx, gp.Owner, ur.Commit); err != nil {
			return gr, err
		}
	}
	report, err := d.Cluster.Wait(ctx, gp.Owner, rr.Commit, WaitOptions{Sync: d.Options.Sync, SourceIndexes: []int{gp.Source.Index}, OnEvent: d.Options.OnEvent})
	gr.Sync = &report
	return gr, err
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// History returns dot's commits that changed the object, newest first,
// leaving out reverts and commits already reverted. It reads up to
// revertDepth commits of the owner's branch.
func (d *Deliverer) History(ctx context.Context, ref kube.ObjectRef) (*Owner, []repo.CommitInfo, error) {
	owner, err := d.Cluster.FindOwner(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	srcs, err := d.Cluster.Sources(ctx, owner)
	if err != nil {
		return nil, nil, err
	}
	src, err := d.pickSource(route{change: Change{Object: ref}, owner: owner}, srcs)
	if err != nil {
		return nil, nil, err
	}
	auth, err := d.auth(ctx, owner, src)
	if err != nil {
		return nil, nil, err
	}
	g := &gitGroup{owner: owner, source: src}
	r, err := repo.Clone(ctx, repo.Options{URL: src.RepoURL, Branch: g.branch(), Auth: auth, TempDir: d.Options.Git.TempDir, Depth: revertDepth})
	if err != nil {
		return nil, nil, mapRepoErr(err)
	}
	defer r.Close()
	log, err := r.Log(ctx, revertDepth)
	if err != nil {
		return nil, nil, err
	}
	want := TrailerObject(owner.Object)
	reverted := map[string]bool{}
	var out []repo.CommitInfo
	for _, c := range log {
		for _, sha := range c.Trailers["Dot-Reverts"] {
			reverted[sha] = true
		}
		if reverted[c.SHA] || len(c.Trailers["Dot-Reverts"]) > 0 || !slices.Contains(c.Trailers["Dot-Object"], want) {
			continue
		}
		out = append(out, c)
	}
	return owner, out, nil
}

// revertCommits restores, in the checkout at dir, the files the commits
// changed to their content before each commit (newest first). A file that
// changed since a commit is a conflict.
func revertCommits(dir string, c Change, reverts map[string][]repo.FileChange) (*manifest.EditResult, error) {
	res := &manifest.EditResult{Object: c.Object}
	first := map[string]int{}
	for _, sha := range c.Revert {
		files, ok := reverts[sha]
		if !ok {
			return nil, fmt.Errorf("commit %s was not read", short(sha))
		}
		var edited []*manifest.EditResult
		for _, f := range files {
			edited = append(edited, &manifest.EditResult{Files: []manifest.FileChange{{Path: f.Path, Before: f.Before, After: f.After}}})
		}
		if _, err := restoreFiles(dir, edited, sha); err != nil {
			return nil, err
		}
		for _, f := range files {
			if i, seen := first[f.Path]; seen {
				res.Files[i].After = f.Before // the oldest commit's Before is the end state
				continue
			}
			first[f.Path] = len(res.Files)
			res.Files = append(res.Files, manifest.FileChange{Path: f.Path, Before: f.After, After: f.Before})
		}
	}
	return res, nil
}

// mkdirInside creates rel below root, refusing paths that leave it.
func mkdirInside(root, rel string) error {
	clean := filepath.Clean(filepath.FromSlash(rel))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return fmt.Errorf("target path %q leaves the repository", rel)
	}
	return os.MkdirAll(filepath.Join(root, clean), 0o755)
}

// sameAsExisting answers a Create of an object the path already defines: when
// the file dot would have written holds exactly this object, nothing changes
// (re-running a pipeline with the same input makes no commit); otherwise it is
// a conflict.
func sameAsExisting(dir, path, file string, c Change) (*manifest.EditResult, error) {
	if file == "" {
		file = filepath.ToSlash(filepath.Join(path, strings.ToLower(c.Object.Kind)+"-"+c.Object.Name+".yaml"))
	}
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
	if err == nil {
		var have map[string]any
		if yaml.Unmarshal(b, &have) == nil {
			want, _ := yaml.Marshal(c.Manifest.Object)
			var wantObj map[string]any
			if yaml.Unmarshal(want, &wantObj) == nil && equality.Semantic.DeepEqual(have, wantObj) {
				return &manifest.EditResult{Object: c.Object}, nil
			}
		}
	}
	return nil, fmt.Errorf("%s is already defined in the repository with other content: %w", c.Object, ErrConflict)
}
