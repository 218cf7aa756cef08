package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/spf13/cobra"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/gitops/repo"
)

// DeliveryOptions are the flags of every command that changes something.
type DeliveryOptions struct {
	dryRun          *enumValue
	Yes             bool
	NoWait          bool
	RevertOnFailure bool
	ForceDirect     bool
	Sync            bool
	UseClusterCreds bool
	GitUsername     string
	GitTokenFile    string
	GitSSHKey       string
	GitSSHAgent     bool
	KnownHosts      []string
	InsecureHostKey bool
	AuthorName      string
	AuthorEmail     string
	SignOff         bool
	out             OutputOptions
}

// DryRun returns none, client or server.
func (o *DeliveryOptions) DryRun() string { return o.dryRun.value }

func addDeliveryFlags(cmd *cobra.Command, o *DeliveryOptions) {
	f := cmd.Flags()
	o.dryRun = newEnum(DryRunNone, DryRunNone, DryRunClient, DryRunServer)
	f.VarPF(o.dryRun, "dry-run", "", `"client": show the plan (owner, repo, file:line, diff) without pushing or applying; "server": also dry-run direct changes on the API server`).NoOptDefVal = DryRunClient
	f.BoolVarP(&o.Yes, "yes", "y", false, "deliver without asking for approval")
	f.BoolVar(&o.NoWait, "no-wait", false, "do not wait for the controller to apply the change")
	f.BoolVar(&o.RevertOnFailure, "revert-on-failure", false, "push a revert of dot's commit when the controller fails to apply it healthily")
	f.BoolVar(&o.ForceDirect, "force-direct", false, "apply directly to an object a GitOps controller manages (it may revert the change)")
	f.BoolVar(&o.Sync, "sync", false, "start an Argo CD sync when the Application has no automated sync")
	f.BoolVar(&o.UseClusterCreds, "use-cluster-credentials", false, "read Git credentials from the owner's secret in the cluster (Flux secretRef, Argo CD repository secrets)")
	f.StringVar(&o.GitUsername, "git-username", "", "user name for Git over HTTPS (token from DOT_GIT_TOKEN or --git-token-file)")
	f.StringVar(&o.GitTokenFile, "git-token-file", "", "file holding the Git password or token")
	f.StringVar(&o.GitSSHKey, "git-ssh-key", "", "private key file for Git over SSH")
	f.BoolVar(&o.GitSSHAgent, "git-ssh-agent", false, "use ssh-agent keys for Git over SSH")
	f.StringSliceVar(&o.KnownHosts, "known-hosts", nil, "known_hosts files for SSH host key checks (default ~/.ssh/known_hosts)")
	f.BoolVar(&o.InsecureHostKey, "insecure-skip-host-key-check", false, "do not verify SSH host keys (insecure)")
	f.StringVar(&o.AuthorName, "git-author-name", "", "commit author name (default: git config user.name, else dot)")
	f.StringVar(&o.AuthorEmail, "git-author-email", "", "commit author email (default: git config user.email)")
	f.BoolVar(&o.SignOff, "signoff", false, "add a Signed-off-by trailer to dot's commits")
	addOutputFlag(cmd, &o.out)
}

// gitOptions builds the Git settings: flags and DOT_GIT_* variables
// (through the settings table), DOT_GIT_TOKEN, then git config.
func (c *Config) gitOptions(o *DeliveryOptions) (gitops.GitOptions, error) {
	auth := repo.Auth{
		Username: o.GitUsername, SSHKeyFile: o.GitSSHKey, SSHAgent: o.GitSSHAgent,
		KnownHostsFiles: o.KnownHosts, InsecureSkipHostKeyCheck: o.InsecureHostKey,
	}
	switch {
	case o.GitTokenFile != "":
		b, err := os.ReadFile(o.GitTokenFile)
		if err != nil {
			return gitops.GitOptions{}, &UsageError{fmt.Errorf("--git-token-file: %w", err)}
		}
		auth.Password = strings.TrimSpace(string(b))
	case c.getenv("DOT_GIT_TOKEN") != "":
		auth.Password = c.getenv("DOT_GIT_TOKEN")
	}
	if o.InsecureHostKey && c.Progress != nil {
		c.Progress.Warn("--insecure-skip-host-key-check: SSH host keys are not verified")
	}
	author := repo.Signature{Name: o.AuthorName, Email: o.AuthorEmail}
	if author.Name == "" || author.Email == "" {
		if gc, err := gitconfig.LoadConfig(gitconfig.GlobalScope); err == nil {
			if author.Name == "" {
				author.Name = gc.User.Name
			}
			if author.Email == "" {
				author.Email = gc.User.Email
			}
		}
	}
	if author.Name == "" {
		author.Name = "dot"
	}
	if author.Email == "" {
		author.Email = "dot@localhost"
	}
	return gitops.GitOptions{Auth: auth, UseClusterCredentials: o.UseClusterCreds, Author: author, SignOff: o.SignOff}, nil
}

// DeliveryReport is what a changing command prints: the plan, and the
// result unless it was a dry run.
type DeliveryReport struct {
	Plan   *gitops.Plan   `json:"plan"`
	Result *gitops.Result `json:"result,omitempty"`
	// planShown is set when the plan was already shown for approval; the
	// table then has the result only (JSON and YAML keep both).
	planShown bool
}

func (r *DeliveryReport) writeTable(w io.Writer) error {
	if !r.planShown {
		if err := writePlan(w, r.Plan); err != nil {
			return err
		}
		if r.Result != nil {
			fmt.Fprintln(w)
		}
	}
	if r.Result != nil {
		return writeResult(w, r.Result)
	}
	return nil
}

func writePlan(w io.Writer, p *gitops.Plan) error {
	fmt.Fprintf(w, "Plan: %s\n", p.ChangeSet.Title)
	for _, g := range p.Git {
		if g.Owner != nil {
			fmt.Fprintf(w, "\n%s\n", g.Owner)
		} else {
			fmt.Fprintf(w, "\nnew files in %s\n", g.Source.Path)
		}
		fmt.Fprintf(w, "  repo:   %s (branch %s, at %s)\n", g.Source.RepoURL, g.Branch, short(g.Base))
		if g.Source.Path != "" {
			fmt.Fprintf(w, "  path:   %s (%s)\n", g.Source.Path, g.Source.Render)
		}
		for _, c := range g.Changes {
			for _, l := range c.Locations {
				where := l.File
				if l.Line > 0 {
					where = fmt.Sprintf("%s:%d", l.File, l.Line)
				}
				if where == "" {
					where = "(owner spec)"
				}
				fmt.Fprintf(w, "  edit:   %s %s [%s]\n", where, l.YAMLPath, l.Layer)
				if l.Reason != "" {
					fmt.Fprintf(w, "          %s\n", l.Reason)
				}
			}
			if c.Unchanged {
				fmt.Fprintf(w, "  %s: already as wanted\n", c.Change.Object)
			}
		}
		if g.Diff == "" {
			fmt.Fprintln(w, "  no changes: nothing to commit")
			continue
		}
		fmt.Fprintf(w, "  commit: %s\n\n", firstLine(g.Message))
		for _, line := range strings.SplitAfter(strings.TrimRight(g.Diff, "\n"), "\n") {
			fmt.Fprintf(w, "    %s", line)
		}
		fmt.Fprintln(w)
	}
	for _, d := range p.Direct {
		fmt.Fprintf(w, "\nserver-side apply: %s %s\n", strings.ToLower(string(d.Change.Action)), d.Object)
		if d.ManagedBy != "" {
			fmt.Fprintf(w, "  managed by %s (--force-direct)\n", d.ManagedBy)
		}
		if d.Diff != "" {
			for _, line := range strings.SplitAfter(strings.TrimRight(d.Diff, "\n"), "\n") {
				fmt.Fprintf(w, "    %s", line)
			}
			fmt.Fprintln(w)
		}
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "\nwarning: %s\n", warn)
	}
	return nil
}

func writeResult(w io.Writer, r *gitops.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DELIVERED\tTARGET\tSTATUS\tCOMMIT\tSYNC\tHEALTH")
	for _, g := range r.Git {
		writeGitRow(tw, g, "git")
		if g.Revert != nil {
			writeGitRow(tw, *g.Revert, "git (revert)")
		}
	}
	for _, d := range r.Direct {
		fmt.Fprintf(tw, "ssa\t%s\t%s\t-\t-\t%s\n", d.Object, d.Status, orDash(d.Health))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Deleting and creating an object again is never silent.
	var recs []gitops.Recreation
	for _, g := range r.Git {
		recs = append(recs, g.Recreated...)
	}
	for _, d := range r.Direct {
		if d.Recreated != nil {
			recs = append(recs, *d.Recreated)
		}
	}
	for _, rc := range recs {
		fmt.Fprintf(w, "recreated %s: deleted uid %s, new uid %s\n", rc.Object, rc.UID, orDash(string(rc.NewUID)))
	}
	_, err := fmt.Fprintf(w, "took %s\n", r.Duration.Round(100*time.Millisecond))
	return err
}

func writeGitRow(w io.Writer, g gitops.GitResult, how string) {
	sync, health := "-", "-"
	if g.Sync != nil {
		sync, health = orDash(g.Sync.SyncStatus), orDash(g.Sync.Health)
		if g.Sync.Synced {
			sync += " @" + shortRev(g.Sync.AppliedRevision)
		}
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", how, g.Owner, g.Status, orDash(short(g.Commit)), sync, health)
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// deliver plans a change set, asks for approval, delivers it and prints the
// report. A dry run that finds changes returns ErrChangesPending.
func (c *Config) deliver(ctx context.Context, o *DeliveryOptions, cs gitops.ChangeSet) error {
	gc, _, err := c.gitopsCluster()
	if err != nil {
		return err
	}
	git, err := c.gitOptions(o)
	if err != nil {
		return err
	}
	d := &gitops.Deliverer{Cluster: gc, Options: gitops.Options{
		Mode: c.GitOps, DryRun: o.DryRun(), NoWait: o.NoWait, RevertOnFailure: o.RevertOnFailure,
		ForceDirect: o.ForceDirect, Sync: o.Sync, Git: git, OnEvent: c.progressEvent,
	}}
	c.Progress.Start("planning %s", cs.Title)
	plan, err := d.Plan(ctx, cs)
	if err != nil {
		c.Progress.Fail("planning failed")
		return err
	}
	c.Progress.Done("planned %s", cs.Title)
	report := &DeliveryReport{Plan: plan}
	if o.DryRun() != DryRunNone {
		if err := printResult(c.Streams.Out, o.out.Format(), report); err != nil {
			return err
		}
		if plan.HasChanges() {
			return fmt.Errorf("dry run: %w", gitops.ErrChangesPending)
		}
		return nil
	}
	if !plan.HasChanges() {
		report.Result = &gitops.Result{}
		for _, g := range plan.Git {
			owner := g.Source.RepoURL + ":" + g.Source.Path
			if g.Owner != nil {
				owner = g.Owner.String()
			}
			report.Result.Git = append(report.Result.Git, gitops.GitResult{Owner: owner, RepoURL: g.Source.RepoURL, Branch: g.Branch, Status: "unchanged"})
		}
		return printResult(c.Streams.Out, o.out.Format(), report)
	}
	if !o.Yes {
		if err := c.approve(plan); err != nil {
			return err
		}
		report.planShown = true
	}
	res, derr := d.Apply(ctx, plan)
	report.Result = res
	if res != nil {
		if err := printResult(c.Streams.Out, o.out.Format(), report); err != nil {
			return errors.Join(derr, err)
		}
	}
	return derr
}

// approve shows the plan on stderr and asks; without a terminal it refuses
// rather than hang.
func (c *Config) approve(plan *gitops.Plan) error {
	f, ok := c.Streams.In.(*os.File)
	if !ok || !isTerminal(f) || !isTerminal(c.Streams.ErrOut) {
		return fmt.Errorf("approval needed but there is no terminal to ask on: review with --dry-run, then re-run with --yes: %w", gitops.ErrAborted)
	}
	if err := writePlan(c.Streams.ErrOut, plan); err != nil {
		return err
	}
	fmt.Fprint(c.Streams.ErrOut, "\nDeliver this plan? [y/N] ")
	line, _ := bufio.NewReader(c.Streams.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return gitops.ErrAborted
}

// progressEvent shows delivery progress on stderr.
func (c *Config) progressEvent(e gitops.Event) {
	c.Progress.Line("%s: %s", e.Step, e.Message)
}
