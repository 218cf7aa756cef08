package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
	"github.com/dot-ai/dot/pkg/llm"
	"github.com/dot-ai/dot/pkg/remediate"
)

// RemediateOptions are the flags of dot remediate beyond the delivery flags.
type RemediateOptions struct {
	Auto          bool
	maxRisk       *enumValue
	MinConfidence float64
	VerifyTimeout time.Duration
	// Query is the problem in words (--query, or an argument with spaces).
	Query string
}

func newRemediateCmd(cfg *Config) *cobra.Command {
	var o DeliveryOptions
	ro := RemediateOptions{maxRisk: newEnum(string(remediate.RiskLow), string(remediate.RiskLow), string(remediate.RiskMedium), string(remediate.RiskHigh))}
	cmd := &cobra.Command{
		Use:   `remediate [<kind>/<name> | <pod> | "<problem in words>"]`,
		Short: "Diagnose a failing workload (or every object of a namespace), fix it through Git or server-side apply, and verify",
		Long: `Diagnose a failing workload with deterministic analyzers, explain the root
cause with evidence, propose minimal fixes (each with a risk and a confidence),
deliver them like dot op does (a commit in the file that defines the field
when Argo CD or Flux owns the object, server-side apply otherwise), then re-run
the analyzers until the problems are gone.

Without an object, every object of the namespace (-n) is diagnosed.

The problem can be said in words: an argument with spaces (or --query) such
as "checkout in shop keeps crashing" is resolved, without an LLM, to one
object: the namespace (-n, else "in namespace X", "X namespace", "ns X" or an
existing namespace the text names, else all namespaces), the kind words
(deployment, pod, service, ingress, job, cronjob, pvc, hpa, node, ...) and
the objects whose names match the other words (exact, prefix or suffix at a
'-', substring, then up to two edits). Symptom words (crash, oom, pull,
pending, 503, tls, ...) prefer, among equally good matches, those with
matching findings. The report says what the text was resolved to and why.
When several objects stay equally good, or none matches, nothing is
diagnosed and dot exits 2, listing the candidates as <kind>/<name> -n <ns>
or the words it tried.

By default each fix is shown with its plan and delivered only after approval
(--yes approves all). With --auto, the fixes within --max-risk and
--min-confidence are delivered without asking; the others are reported with
the reason. --dry-run shows the diagnosis and the plans only.

An LLM is optional: with DOT_LLM_PROVIDER=openai (any OpenAI-compatible
endpoint) or DOT_LLM_PROVIDER=anthropic, DOT_LLM_MODEL, DOT_LLM_BASE_URL
(a local server or gateway) and DOT_LLM_API_KEY (else OPENAI_API_KEY or
ANTHROPIC_API_KEY), findings no rule covers are sent to the model with names,
namespaces, label values and secret-looking values masked. Its answer is a
typed patch checked against the live object and delivered like any fix,
with a confidence of at most 0.6 and a risk of at least medium (so --auto
with the default bounds never applies it).

Exit codes: 0 nothing to fix or all delivered fixes verified; 1 problems
remain after delivery (see verification); 2 usage, or a problem in words
that names no object or several equally well; 4 dry run with fixes pending;
7 declined; 3, 5, 6 as for dot op.`,
		Example: `  dot remediate deployment/web -n shop --dry-run
  dot remediate pod/web-7d9c5b8f6-2xkqp -n shop --yes
  dot remediate -n shop --auto --max-risk medium --min-confidence 0.8 -o json
  dot remediate "checkout in shop keeps crashing" --dry-run
  dot remediate --query "my ingress for web returns 503" -n shop`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 2 {
				return fmt.Errorf("want <kind>/<name>, <kind> <name>, or the problem in words as one quoted argument (\"checkout in shop keeps crashing\"); got %d arguments", len(args))
			}
			return nil
		},
	}
	addDeliveryFlags(cmd, &o)
	f := cmd.Flags()
	f.BoolVar(&ro.Auto, "auto", false, "deliver, without asking, the fixes within --max-risk and --min-confidence")
	f.Var(ro.maxRisk, "max-risk", "with --auto: the highest risk of a fix to deliver")
	f.Float64Var(&ro.MinConfidence, "min-confidence", 0.8, "with --auto: the lowest confidence (0..1) of a fix to deliver")
	f.DurationVar(&ro.VerifyTimeout, "verify-timeout", 2*time.Minute, "how long to re-run the analyzers after delivery until the problems are gone")
	f.StringVar(&ro.Query, "query", "", `the problem in words, e.g. "checkout in shop keeps crashing" (same as one argument with spaces)`)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if ro.MinConfidence < 0 || ro.MinConfidence > 1 {
			return &UsageError{fmt.Errorf("--min-confidence %v: want a number from 0 to 1", ro.MinConfidence)}
		}
		query, err := queryArg(args, ro.Query, cmd.Flags().Changed("query"))
		if err != nil {
			return err
		}
		ctx, cancel := cfg.commandContext(cmd)
		defer cancel()
		gc, clients, err := cfg.gitopsCluster()
		if err != nil {
			return err
		}
		var target remediate.Target
		var resolved *remediate.Resolution
		switch {
		case query != "":
			ns, explicit, err := cfg.KubeFlags.ToRawKubeConfigLoader().Namespace()
			if err != nil {
				return fmt.Errorf("namespace from kubeconfig: %w", err)
			}
			q := remediate.Query{Text: query, DefaultNamespace: ns}
			if explicit {
				q.Namespace = ns
			}
			cfg.Progress.Start("resolving %q", query)
			resolved, err = resolveQuery(ctx, &remediate.Config{Client: gc.Client}, q)
			if err != nil {
				cfg.Progress.Fail("cannot resolve %q", query)
				return err
			}
			cfg.Progress.Done("resolved %q to %s", query, resolved)
			target = resolved.Target()
		case len(args) == 0:
			ns, _, err := cfg.KubeFlags.ToRawKubeConfigLoader().Namespace()
			if err != nil {
				return fmt.Errorf("namespace from kubeconfig: %w", err)
			}
			target.Namespace = ns
		default:
			ref, err := cfg.resolveObject(args, clients.Mapper)
			if err != nil {
				return err
			}
			target.Object, target.Namespace = &ref, ref.Namespace
		}
		git, err := cfg.gitOptions(&o)
		if err != nil {
			return err
		}
		d := &gitops.Deliverer{Cluster: gc, Options: gitops.Options{
			Mode: cfg.GitOps, DryRun: o.DryRun(), NoWait: o.NoWait, RevertOnFailure: o.RevertOnFailure,
			ForceDirect: o.ForceDirect, Sync: o.Sync, Git: git, OnEvent: cfg.progressEvent,
		}}
		r := &remediate.Remediation{
			Config:    &remediate.Config{Client: gc.Client, Cluster: gc, Now: cfg.now},
			Deliverer: d, Auto: ro.Auto, MaxRisk: remediate.Risk(ro.maxRisk.value), MinConfidence: ro.MinConfidence,
			VerifyTimeout: ro.VerifyTimeout, OnEvent: cfg.progressEvent,
		}
		provider, err := llm.FromEnv(cfg.getenv)
		if err != nil {
			return &UsageError{err}
		}
		if provider != nil {
			r.Advisor = &remediate.LLMAdvisor{Provider: provider}
		}
		if !o.Yes && !ro.Auto {
			r.Approve = func(_ context.Context, fix *remediate.Fix, plan *gitops.Plan) error {
				return cfg.approveFix(fix, plan)
			}
		}
		// Without waiting for the controller there is nothing to verify yet.
		r.NoVerify = o.NoWait
		cfg.Progress.Start("diagnosing %s", target)
		rep, runErr := r.Run(ctx, target)
		if rep == nil {
			cfg.Progress.Fail("diagnosis failed")
			return runErr
		}
		cfg.Progress.Done("diagnosed %s: %d finding(s), %d fix(es)", rep.Target, len(rep.Findings), len(rep.Fixes))
		if err := printResult(cfg.Streams.Out, o.out.Format(), &RemediationReport{Report: rep, Resolution: resolved}); err != nil {
			return err
		}
		return runErr
	}
	return cmd
}

// approveFix shows the fix, its risk and confidence, and its plan on
// stderr, and asks.
func (c *Config) approveFix(fix *remediate.Fix, plan *gitops.Plan) error {
	// Stop the spinner: the prompt needs the terminal.
	c.Progress.Done("planned %s", fix.Title)
	fmt.Fprintf(c.Streams.ErrOut, "\nFix: %s\n  rule %s, risk %s, confidence %.2f\n  %s\n\n", fix.Title, fix.Rule, fix.Risk, fix.Confidence, fix.Explanation)
	if err := c.approve(plan); err != nil {
		return err
	}
	c.Progress.Start("delivering %s", fix.Title)
	return nil
}

// queryArg returns the problem in words, "" when the arguments name an
// object: --query, or one argument with white space in it.
func queryArg(args []string, flag string, flagSet bool) (string, error) {
	spaced := -1
	for i, a := range args {
		if strings.ContainsAny(a, " \t\n") {
			spaced = i
		}
	}
	switch {
	case flagSet && strings.TrimSpace(flag) == "":
		return "", &UsageError{fmt.Errorf("--query: want the problem in words, got an empty text")}
	case flagSet && len(args) > 0:
		return "", &UsageError{fmt.Errorf("--query and the argument %q: give the problem in words or an object, not both", strings.Join(args, " "))}
	case flagSet:
		return flag, nil
	case spaced >= 0 && len(args) > 1:
		return "", &UsageError{fmt.Errorf("%q: the problem in words must be the only argument (quote the whole sentence)", args[spaced])}
	case spaced == 0:
		return args[0], nil
	}
	return "", nil
}

// resolveQuery resolves the problem in words; a text that names no object,
// or several equally well, is a usage error: the user reruns with a more
// precise text or one of the candidates.
func resolveQuery(ctx context.Context, c *remediate.Config, q remediate.Query) (*remediate.Resolution, error) {
	res, err := c.Resolve(ctx, q)
	var qe *remediate.QueryError
	if errors.As(err, &qe) {
		return nil, &UsageError{err}
	}
	return res, err
}

// RemediationReport renders a remediate.Report, and how the problem in
// words was resolved when it was given so.
type RemediationReport struct {
	*remediate.Report
	Resolution *remediate.Resolution `json:"resolution,omitempty"`
}

func (r *RemediationReport) writeTable(w io.Writer) error {
	if q := r.Resolution; q != nil {
		fmt.Fprintf(w, "Query %q: %s\n", q.Query, q)
		for _, why := range q.Reasons {
			fmt.Fprintf(w, "  - %s\n", why)
		}
		var also []string
		for _, c := range q.Candidates {
			if q.Object == nil || c.Object != *q.Object {
				also = append(also, c.String())
			}
		}
		if len(also) > 0 {
			fmt.Fprintf(w, "  also matched: %s\n", strings.Join(also, ", "))
		}
		fmt.Fprintln(w)
	}
	n := len(r.Findings)
	fmt.Fprintf(w, "Diagnosis of %s: %d finding(s)\n", r.Target, n)
	if n == 0 {
		fmt.Fprintln(w, "  no problems found")
	}
	for i, f := range r.Findings {
		writeFinding(w, i+1, f)
	}
	for _, note := range r.Notes {
		fmt.Fprintf(w, "\nnote: %s\n", note)
	}
	if len(r.Fixes) > 0 {
		fmt.Fprintf(w, "\nFixes\n")
	}
	for i, fx := range r.Fixes {
		writeFix(w, i+1, fx)
	}
	if v := r.Verification; v != nil {
		fmt.Fprintf(w, "\nVerification: %s after %s (%d resolved, %d remaining)\n", v.Status, v.Took.Round(time.Second), len(v.Resolved), len(v.Remaining))
		for _, k := range v.Resolved {
			fmt.Fprintf(w, "  resolved:  %s\n", k)
		}
		for _, k := range v.Remaining {
			fmt.Fprintf(w, "  remaining: %s\n", k)
		}
	}
	return nil
}

func refName(r kube.ObjectRef) string {
	return strings.ToLower(r.Kind) + "/" + r.Name
}

func writeFinding(w io.Writer, i int, f remediate.Finding) {
	on := refName(f.Object)
	if f.Container != "" {
		on += " container " + f.Container
	}
	fmt.Fprintf(w, "\n%d. [%s] %s on %s\n", i, f.Severity, f.ID, on)
	fmt.Fprintf(w, "   %s\n", f.Summary)
	if o := f.Owner; o != nil {
		owner := o.Owner
		if o.Source != "" {
			owner += " from " + o.Source
		}
		fmt.Fprintf(w, "   owner:    %s\n", owner)
		if o.File != "" {
			fmt.Fprintf(w, "   defined:  %s\n", o.File)
		}
	}
	for j, e := range f.Evidence {
		label := "evidence:"
		if j > 0 {
			label = ""
		}
		fmt.Fprintf(w, "   %-9s %s %s: %s\n", label, e.Source, refName(e.Object), e.Text)
	}
	if f.Detail != "" {
		fmt.Fprintf(w, "   why:      %s\n", f.Detail)
	}
}

func writeFix(w io.Writer, i int, fx remediate.FixReport) {
	fmt.Fprintf(w, "\n%d. %s\n", i, fx.Title)
	if fx.Actionable() {
		fmt.Fprintf(w, "   rule %s, risk %s, confidence %.2f: %s", fx.Rule, fx.Risk, fx.Confidence, fx.Decision)
	} else {
		fmt.Fprintf(w, "   rule %s: no change", fx.Rule)
	}
	if fx.Why != "" {
		fmt.Fprintf(w, " (%s)", fx.Why)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "   for: %s\n", fx.Finding)
	fmt.Fprintf(w, "   %s\n", fx.Explanation)
	for _, o := range fx.Options {
		fmt.Fprintf(w, "   - %s\n", o)
	}
	if fx.Plan != nil && (fx.Decision == remediate.DecisionPlanned || fx.Decision == remediate.DecisionDelivered || fx.Decision == remediate.DecisionFailed) {
		var b strings.Builder
		_ = writePlan(&b, fx.Plan)
		if fx.Result != nil {
			b.WriteString("\n")
			_ = writeResult(&b, fx.Result)
		}
		for _, line := range strings.SplitAfter(strings.TrimRight(b.String(), "\n"), "\n") {
			if strings.TrimSpace(line) == "" {
				fmt.Fprintln(w)
				continue
			}
			fmt.Fprintf(w, "   %s", line)
		}
		fmt.Fprintln(w)
	}
}
