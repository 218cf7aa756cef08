package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
)

func newGitOpsCmd(cfg *Config) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gitops",
		Short: "Inspect how GitOps delivers an object: owner, source, sync and health",
	}
	cmd.AddCommand(newTraceCmd(cfg), newWaitCmd(cfg))
	return cmd
}

// traceView renders a gitops.Trace.
type traceView struct{ *gitops.Trace }

func (r traceView) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	obj := r.Owner.Object.String()
	if len(r.Owner.Walked) > 0 {
		var via []string
		for _, o := range r.Owner.Walked {
			via = append(via, o.String())
		}
		obj += " (from " + strings.Join(via, " → ") + ")"
	}
	row("OBJECT", obj)
	owner := r.Owner.String()
	if r.Owner.Suspended {
		owner += " [suspended]"
	}
	row("OWNER", owner)
	for i, e := range r.Owner.Evidence {
		k := ""
		if i == 0 {
			k = "EVIDENCE"
		}
		row(k, e)
	}
	for _, s := range r.Sources {
		label := "SOURCE"
		if len(r.Sources) > 1 {
			label = fmt.Sprintf("SOURCE[%d]", s.Index)
		}
		row(label, fmt.Sprintf("%s (%s, %s)", s, s.RefKind, s.Render))
		for _, o := range s.Overrides {
			row("  OVERRIDE", o)
		}
		if s.RefKind != "" && !s.RefKind.Pushable() {
			row("  NOTE", fmt.Sprintf("follows a %s: dot cannot push to it", strings.ToLower(string(s.RefKind))))
		}
	}
	row("REVISION", orDash(r.Status.AppliedRevision))
	row("SYNC", orDash(r.Status.Sync))
	row("HEALTH", orDash(r.Status.Health))
	for _, m := range r.Status.Messages {
		row("MESSAGE", m)
	}
	for _, p := range r.Parents {
		v := p.Owner
		if p.Status != nil {
			v += fmt.Sprintf(" (%s, %s)", p.Status.Health, shortRev(p.Status.AppliedRevision))
		}
		row("PARENT", v)
		for _, s := range p.Sources {
			row("  SOURCE", s.String())
		}
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortRev(s string) string {
	if i := strings.LastIndex(s, ":"); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 12 {
		return s[:12]
	}
	return orDash(s)
}

func newTraceCmd(cfg *Config) *cobra.Command {
	var out OutputOptions
	cmd := &cobra.Command{
		Use:   "trace (<kind>/<name> | <kind> <name> | <pod>)",
		Short: "Show who reconciles an object, where its manifests live, and whether the last revision is live",
		Long: `Show the GitOps owner chain of an object (Argo CD Application, Flux
Kustomization or HelmRelease), the tracking evidence used, the source
repository, ref and path, the last applied revision, sync and health.

A Pod or ReplicaSet is traced through its ownerReferences to the workload.`,
		Example: `  dot gitops trace deployment/web -n prod
  dot gitops trace pod web-7c9d-x2k4p -n prod -o yaml`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := cfg.commandContext(cmd)
			defer cancel()
			gc, ref, err := cfg.clusterAndObject(args)
			if err != nil {
				return err
			}
			tr, err := gc.Trace(ctx, ref)
			if err != nil {
				return err
			}
			return printResult(cfg.Streams.Out, out.Format(), traceView{tr})
		},
	}
	addOutputFlag(cmd, &out)
	return cmd
}

// waitView renders a SyncReport.
type waitView struct{ *gitops.SyncReport }

func (v waitView) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "OWNER\t%s\nREVISION\t%s\nAPPLIED\t%s\nSYNCED\t%v\nSYNC\t%s\nHEALTH\t%s\nWAITED\t%s\n",
		v.Owner, v.Revision, orDash(v.AppliedRevision), v.Synced, orDash(v.SyncStatus), orDash(v.Health), v.Duration.Round(100*time.Millisecond))
	for _, m := range v.Messages {
		fmt.Fprintf(tw, "MESSAGE\t%s\n", m)
	}
	for _, r := range v.Resources {
		fmt.Fprintf(tw, "RESOURCE\t%s %s %s\n", r.Object, r.Status, r.Message)
	}
	return tw.Flush()
}

func newWaitCmd(cfg *Config) *cobra.Command {
	var out OutputOptions
	var revision string
	var sync, noTrigger bool
	cmd := &cobra.Command{
		Use:   "wait (<kind>/<name> | <pod>) --revision <sha>",
		Short: "Trigger the owner and wait until a commit (or a descendant) is applied and healthy",
		Long: `Find the object's owner (or take an Argo CD Application, Flux Kustomization or
HelmRelease named directly), ask its controller to reconcile (Argo CD refresh,
Flux reconcile.fluxcd.io/requestedAt), and wait until the given commit is
applied and the objects are healthy. A failure the controller reports ends
the wait at once with its message (exit code 5); the --timeout ends it with
the last observed state (exit code 3).`,
		Example: `  dot gitops wait deployment/web -n prod --revision 3f78685
  dot gitops wait application/web -n argocd --revision 3f786850e387550fdab836ed7e6dc881de23001b`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if revision == "" {
				return &UsageError{fmt.Errorf("--revision is required")}
			}
			ctx, cancel := cfg.commandContext(cmd)
			defer cancel()
			gc, ref, err := cfg.clusterAndObject(args)
			if err != nil {
				return err
			}
			owner := gitops.OwnerOf(ref)
			var objects []kube.ObjectRef
			if owner == nil {
				if owner, err = gc.FindOwner(ctx, ref); err != nil {
					return err
				}
				objects = []kube.ObjectRef{owner.Object}
			}
			cfg.Progress.Start("waiting for %s to apply %s", owner, revision)
			report, err := gc.Wait(ctx, owner, revision, gitops.WaitOptions{
				Sync: sync, NoTrigger: noTrigger, Objects: objects, OnEvent: cfg.progressEvent,
			})
			if err != nil {
				cfg.Progress.Fail("%v", err)
			} else {
				cfg.Progress.Done("%s", report.Summary())
			}
			if perr := printResult(cfg.Streams.Out, out.Format(), waitView{&report}); perr != nil && err == nil {
				return perr
			}
			return err
		},
	}
	cmd.Flags().StringVar(&revision, "revision", "", "commit SHA (full or 7+ characters) to wait for")
	cmd.Flags().BoolVar(&sync, "sync", false, "start an Argo CD sync when the Application has no automated sync")
	cmd.Flags().BoolVar(&noTrigger, "no-trigger", false, "do not ask the controller to reconcile; only wait")
	addOutputFlag(cmd, &out)
	return cmd
}
