package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dot-ai/dot/pkg/gitops"
)

func newGitOpsCmd(cfg *Config) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gitops",
		Short: "Inspect how GitOps delivers an object: owner, source, sync and health",
	}
	cmd.AddCommand(newTraceCmd(cfg))
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
			gc, clients, err := cfg.gitopsCluster()
			if err != nil {
				return err
			}
			ref, err := cfg.resolveObject(args, clients.Mapper)
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
