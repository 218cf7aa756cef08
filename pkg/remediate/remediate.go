package remediate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/dot-ai/dot/pkg/gitops"
)

// ErrNotResolved is returned by Run when delivered fixes did not make the
// findings go away within the verification time.
var ErrNotResolved = errors.New("findings not resolved")

// Decisions of a FixReport.
const (
	// DecisionDelivered: planned, approved, delivered.
	DecisionDelivered = "delivered"
	// DecisionPlanned: a dry run planned it and stopped there.
	DecisionPlanned = "planned"
	// DecisionUnchanged: the source already has the values.
	DecisionUnchanged = "unchanged"
	// DecisionSkipped: outside the --auto bounds.
	DecisionSkipped = "skipped"
	// DecisionDeclined: the user said no.
	DecisionDeclined = "declined"
	// DecisionFailed: validation, planning or delivery failed.
	DecisionFailed = "failed"
	// DecisionAdvice: the fix changes nothing (explanation and options).
	DecisionAdvice = "advice"
)

// Verification statuses.
const (
	StatusResolved          = "resolved"
	StatusPartiallyResolved = "partially-resolved"
	StatusNotResolved       = "not-resolved"
)

// Remediation is the remediate verb: diagnose, propose, validate,
// deliver, verify.
type Remediation struct {
	Config *Config
	// Deliverer delivers fixes (its Options carry the dry run, wait and Git
	// settings). Direct fixes use a copy with Mode off.
	Deliverer *gitops.Deliverer
	// Rules replace DefaultRules when set.
	Rules []Rule
	// Auto delivers, without asking, the fixes within MaxRisk and
	// MinConfidence; the others are reported as skipped with the reason.
	Auto          bool
	MaxRisk       Risk
	MinConfidence float64
	// Approve is asked before each fix is delivered when Auto is off; it
	// returns gitops.ErrAborted to decline. nil approves every fix.
	Approve func(ctx context.Context, fix *Fix, plan *gitops.Plan) error
	// Advisor, when set, is asked about the findings no rule covers.
	Advisor Advisor
	// SkipValidation skips the server-side dry run of each change.
	SkipValidation bool
	// NoVerify skips the verification (the delivery did not wait for the
	// controller, so there is nothing to verify yet).
	NoVerify bool
	// VerifyTimeout bounds the wait for the findings to go away after
	// delivery (default 2m); VerifyInterval is the polling period (2s).
	VerifyTimeout, VerifyInterval time.Duration
	// OnEvent receives progress.
	OnEvent gitops.EventFunc
}

// Report is what Run did.
type Report struct {
	Target   string      `json:"target"`
	Findings []Finding   `json:"findings"`
	Fixes    []FixReport `json:"fixes"`
	// Verification is set when something was delivered.
	Verification *Verification `json:"verification,omitempty"`
	Notes        []string      `json:"notes,omitempty"`
}

// FixReport is one fix and what happened to it.
type FixReport struct {
	Fix
	Decision string `json:"decision"`
	// Why explains a skip, a decline or a failure.
	Why    string         `json:"why,omitempty"`
	Plan   *gitops.Plan   `json:"plan,omitempty"`
	Result *gitops.Result `json:"result,omitempty"`
}

// Verification compares the findings after delivery with those before.
type Verification struct {
	Status string `json:"status"`
	// Resolved are the keys of findings that are gone; Remaining of those
	// still there.
	Resolved  []string `json:"resolved,omitempty"`
	Remaining []string `json:"remaining,omitempty"`
	// Findings are the findings of the last analysis.
	Findings []Finding     `json:"findings"`
	Took     time.Duration `json:"took"`
}

func (r *Remediation) emit(step, format string, args ...any) {
	if r.OnEvent != nil {
		r.OnEvent(gitops.Event{Time: r.Config.now(), Step: step, Message: fmt.Sprintf(format, args...)})
	}
}

// Run diagnoses the target, proposes fixes and delivers the allowed ones,
// then verifies. The report is returned even with an error (what was
// found and done so far). A dry run that planned changes returns
// gitops.ErrChangesPending; findings left after delivery, ErrNotResolved.
func (r *Remediation) Run(ctx context.Context, t Target) (*Report, error) {
	r.emit("diagnose", "analyzing %s", t)
	d, err := r.Config.Diagnose(ctx, t)
	if err != nil {
		return nil, err
	}
	rep := &Report{Target: d.Target, Findings: d.Findings, Notes: d.Notes, Fixes: []FixReport{}}
	fixes := Propose(d, r.Rules...)
	if r.Advisor != nil {
		r.advise(ctx, d, fixes, rep)
	}
	dry := r.Deliverer != nil && (r.Deliverer.Options.DryRun == gitops.DryRunClient || r.Deliverer.Options.DryRun == gitops.DryRunServer)
	var delivered []string
	var runErr, declined error
	pending := false
	for i := range fixes {
		fr := FixReport{Fix: fixes[i]}
		switch {
		case !fr.Actionable():
			fr.Decision = DecisionAdvice
		case runErr != nil:
			fr.Decision, fr.Why = DecisionSkipped, "an earlier fix failed"
		case r.Auto && !fr.Risk.AtMost(r.MaxRisk):
			fr.Decision, fr.Why = DecisionSkipped, fmt.Sprintf("risk %s is above --max-risk %s", fr.Risk, r.MaxRisk)
		case r.Auto && fr.Confidence < r.MinConfidence:
			fr.Decision, fr.Why = DecisionSkipped, fmt.Sprintf("confidence %.2f is below --min-confidence %.2f", fr.Confidence, r.MinConfidence)
		case r.Deliverer == nil:
			fr.Decision, fr.Why = DecisionSkipped, "no delivery configured"
		default:
			err := r.deliver(ctx, &fr, dry)
			switch {
			case fr.Decision == DecisionDeclined:
				declined = err
			case err != nil:
				runErr = err
			}
			if fr.Decision == DecisionDelivered {
				delivered = append(delivered, fr.Finding)
			}
			if fr.Decision == DecisionPlanned && fr.Plan.HasChanges() {
				pending = true
			}
			attachFile(rep.Findings, &fr)
		}
		rep.Fixes = append(rep.Fixes, fr)
	}
	if r.Deliverer != nil {
		r.locateAdvised(ctx, rep)
	}
	if len(delivered) > 0 && !r.NoVerify {
		v, err := r.verify(ctx, d.Stable(), d.Findings, delivered)
		rep.Verification = v
		if err != nil && runErr == nil {
			runErr = err
		}
		if runErr == nil && v != nil && v.Status != StatusResolved {
			runErr = fmt.Errorf("%s after delivery: %d finding(s) remain: %w", v.Status, len(v.Remaining), ErrNotResolved)
		}
	}
	if runErr == nil && declined != nil && len(delivered) == 0 {
		runErr = declined
	}
	if runErr == nil && pending {
		runErr = fmt.Errorf("dry run: %w", gitops.ErrChangesPending)
	}
	return rep, runErr
}

// advise replaces advice-only fixes by the advisor's proposals.
func (r *Remediation) advise(ctx context.Context, d *Diagnosis, fixes []Fix, rep *Report) {
	for i := range fixes {
		if fixes[i].Rule != "advice" {
			continue
		}
		for _, f := range d.Findings {
			if f.Key() != fixes[i].Finding {
				continue
			}
			r.emit("advise", "asking the advisor about %s", f.Key())
			fix, err := r.Advisor.Advise(ctx, f, d.snapshot)
			if err != nil {
				rep.Notes = append(rep.Notes, fmt.Sprintf("advisor on %s: %v", f.Key(), err))
				break
			}
			fix.Finding = f.Key()
			if fix.ChangeSet != nil && fix.ChangeSet.Operation == "" {
				fix.ChangeSet.Operation = Operation
			}
			fixes[i] = *fix
			break
		}
	}
}

// deliver validates, plans, asks and applies one fix.
func (r *Remediation) deliver(ctx context.Context, fr *FixReport, dry bool) error {
	cs := *fr.ChangeSet
	d := r.Deliverer
	if fr.Direct {
		dc := *r.Deliverer
		dc.Options.Mode = gitops.ModeOff
		d = &dc
	}
	if !r.SkipValidation && !fr.Direct {
		r.emit("validate", "server-side dry run of %s", cs.Title)
		if _, err := d.Cluster.PlanDirect(ctx, cs.Changes, gitops.DirectOptions{DryRun: gitops.DryRunServer, ForceDirect: true}); err != nil {
			fr.Decision, fr.Why = DecisionFailed, "server-side dry run: "+err.Error()
			return fmt.Errorf("validate %q: %w", cs.Title, err)
		}
	}
	r.emit("plan", "planning %s", cs.Title)
	plan, err := d.Plan(ctx, cs)
	if err != nil {
		fr.Decision, fr.Why = DecisionFailed, "plan: "+err.Error()
		return err
	}
	fr.Plan = plan
	switch {
	case dry:
		fr.Decision = DecisionPlanned
		return nil
	case !plan.HasChanges():
		fr.Decision, fr.Why = DecisionUnchanged, "the source already has these values"
		return nil
	}
	if !r.Auto && r.Approve != nil {
		if err := r.Approve(ctx, &fr.Fix, plan); err != nil {
			fr.Decision, fr.Why = DecisionFailed, err.Error()
			if errors.Is(err, gitops.ErrAborted) {
				fr.Decision = DecisionDeclined
			}
			return err
		}
	}
	r.emit("deliver", "delivering %s", cs.Title)
	res, err := d.Apply(ctx, plan)
	fr.Result = res
	if err != nil {
		fr.Decision, fr.Why = DecisionFailed, err.Error()
		return err
	}
	fr.Decision = DecisionDelivered
	return nil
}

// attachFile records where the fix edits the source in the finding's owner.
func attachFile(fs []Finding, fr *FixReport) {
	if fr.Plan == nil {
		return
	}
	var files []string
	for _, g := range fr.Plan.Git {
		for _, c := range g.Changes {
			for _, l := range c.Locations {
				where := l.File
				if where != "" && l.Line > 0 {
					where = fmt.Sprintf("%s:%d", l.File, l.Line)
				}
				if where != "" && !slices.Contains(files, where) {
					files = append(files, where)
				}
			}
		}
	}
	if len(files) == 0 {
		return
	}
	for i := range fs {
		if fs[i].Key() == fr.Finding && fs[i].Owner != nil {
			fs[i].Owner.File = strings.Join(files, ", ")
		}
	}
}

// verify re-runs the diagnosis until the delivered fixes' findings and
// the other problems of the target are gone, or the time runs out.
func (r *Remediation) verify(ctx context.Context, t Target, before []Finding, fixed []string) (*Verification, error) {
	timeout, interval := r.VerifyTimeout, r.VerifyInterval
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	if interval <= 0 {
		interval = 2 * time.Second
	}
	start := r.Config.now()
	vctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r.emit("verify", "re-running the analyzers on %s (up to %s)", t, timeout)
	var v *Verification
	for {
		d, err := r.Config.Diagnose(vctx, t)
		if apierrors.IsNotFound(err) {
			return v, fmt.Errorf("verify %s: %w", t, err)
		}
		if err == nil {
			v = compare(before, d.Findings, fixed)
			v.Took = r.Config.now().Sub(start)
			if v.Status == StatusResolved {
				r.emit("verify", "resolved after %s", v.Took.Round(time.Second))
				return v, nil
			}
		}
		select {
		case <-vctx.Done():
			if v == nil {
				return nil, fmt.Errorf("verify %s: %w", t, err)
			}
			if ctx.Err() != nil {
				return v, ctx.Err()
			}
			r.emit("verify", "%s after %s", v.Status, v.Took.Round(time.Second))
			return v, nil
		case <-time.After(interval):
		}
	}
}

// compare classifies the findings after delivery: resolved when no
// Critical or Warning finding is left, partially resolved when some fixed
// finding is gone but problems remain, not resolved when none is gone.
func compare(before, after []Finding, fixed []string) *Verification {
	v := &Verification{Findings: after}
	now := map[string]bool{}
	problems := 0
	for _, f := range after {
		now[f.Key()] = true
		if f.Severity != SeverityInfo {
			problems++
		}
	}
	for _, f := range before {
		if f.Severity == SeverityInfo {
			continue
		}
		if now[f.Key()] {
			v.Remaining = append(v.Remaining, f.Key())
		} else {
			v.Resolved = append(v.Resolved, f.Key())
		}
	}
	for _, f := range after {
		if f.Severity != SeverityInfo && !slices.Contains(v.Remaining, f.Key()) {
			v.Remaining = append(v.Remaining, f.Key())
		}
	}
	fixedGone := 0
	for _, k := range fixed {
		if !now[k] {
			fixedGone++
		}
	}
	switch {
	case problems == 0:
		v.Status = StatusResolved
	case fixedGone > 0 || len(v.Resolved) > 0:
		v.Status = StatusPartiallyResolved
	default:
		v.Status = StatusNotResolved
	}
	return v
}
