package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
	"github.com/dot-ai/dot/pkg/recommend"
)

// RecommendOptions are the flags of dot recommend.
type RecommendOptions struct {
	Image, Host, Name, Schedule string
	Port, Replicas              int32
	Env                         []string
	AnswersFile                 string
	ComposeFile, Service        string
	AllowLatest                 bool
	Offline                     bool
	// Delivery to Git.
	Repo, Path, Branch string
	OwnerNamespace     string
	GitSecret          string
	owner              *enumValue
	// Local output.
	OutputDir string
	layout    *enumValue
	Overlay   string
}

func newRecommendCmd(cfg *Config) *cobra.Command {
	var o DeliveryOptions
	ro := RecommendOptions{owner: newEnum("", "", recommend.OwnerArgoCD, recommend.OwnerFlux), layout: newEnum(recommend.LayoutRaw, recommend.LayoutRaw, recommend.LayoutKustomize)}
	cmd := &cobra.Command{
		Use:   `recommend "<intent>"`,
		Short: "Turn an intent into validated manifests fitted to the cluster, commit them, and make Argo CD or Flux deploy them",
		Long: `Turn an intent into validated Kubernetes manifests fitted to the cluster.

dot parses the intent (image, port, replicas, host, KEY=VALUE, "worker",
"cron every 5 minutes", "database", "cache"), scans the cluster (ingress
classes, Gateway API, storage classes, operators, Pod Security, quotas,
Argo CD and Flux), ranks solutions, asks the questions that matter (flags,
--answers file.yaml, or interactively on a terminal), generates hardened
manifests and dry-runs every one of them on the API server.

Then, with --repo and --path, it commits one file per object to that
repository path; when no Argo CD Application or Flux Kustomization deploys
the path yet it creates one (--owner argocd|flux) by server-side apply, and
waits until the workload is healthy at the pushed commit. Running it again
with the same answers commits nothing.

Without --repo: --output-dir writes the files (--layout raw|kustomize),
--gitops=off applies them server-side, and otherwise the manifests are
printed.

Answers file: a YAML map of question IDs to values (see the questions in
-o json, e.g. image, name, namespace, port, replicas, host, schedule,
storage, ingressClass, autoscale, cpu, memory, healthPath, networkPolicy).
Without a terminal, missing required answers are an error listing them.`,
		Example: `  dot recommend "web app from ghcr.io/acme/shop:1.4 on port 8080, 3 replicas, public at shop.example.com" --output-dir ./shop
  dot recommend "worker from ghcr.io/acme/queue:2.0" --env QUEUE=orders -n jobs --dry-run
  dot recommend --from-compose docker-compose.yml --service web --output-dir ./web
  dot recommend "web app" --answers shop.yaml --repo https://git.example.com/acme/apps.git --path apps/shop --branch main --owner flux --yes`,
		Args: cobra.ArbitraryArgs,
	}
	addDeliveryFlags(cmd, &o)
	f := cmd.Flags()
	f.StringVar(&ro.Image, "image", "", "container image (pinned tag or digest)")
	f.Int32Var(&ro.Port, "port", 0, "port the container listens on")
	f.Int32Var(&ro.Replicas, "replicas", 0, "replicas")
	f.StringVar(&ro.Host, "host", "", "public host name (makes the app public)")
	f.StringVar(&ro.Name, "name", "", "workload name (default: from the image)")
	f.StringVar(&ro.Schedule, "schedule", "", "cron schedule of a job")
	f.StringArrayVar(&ro.Env, "env", nil, "environment variable KEY=VALUE (repeatable)")
	f.StringVar(&ro.AnswersFile, "answers", "", "YAML file of answers by question ID")
	f.StringVar(&ro.ComposeFile, "from-compose", "", "read the intent from a service of a Compose file (image, ports, environment, deploy.replicas)")
	f.StringVar(&ro.Service, "service", "", "with --from-compose: the service (default: the only one)")
	f.BoolVar(&ro.AllowLatest, "allow-latest", false, "accept an image without a pinned tag or digest")
	f.BoolVar(&ro.Offline, "offline", false, "do not contact the cluster: no scan, no server-side validation (with --output-dir or printing only)")
	f.StringVar(&ro.Repo, "repo", "", "Git repository to commit the manifests to")
	f.StringVar(&ro.Path, "path", "", "directory in --repo for the manifests")
	f.StringVar(&ro.Branch, "branch", "", "branch of --repo (default: the remote's default branch)")
	f.Var(ro.owner, "owner", "controller to deploy --path when nothing does yet: argocd or flux (default: the one installed)")
	f.StringVar(&ro.OwnerNamespace, "owner-namespace", "", "namespace of a new Flux GitRepository/Kustomization (default flux-system; Argo CD Applications go to --argocd-namespace)")
	f.StringVar(&ro.GitSecret, "git-secret", "", "Secret with Git credentials for a new Flux GitRepository (spec.secretRef)")
	f.StringVar(&ro.OutputDir, "output-dir", "", "write the manifests to this directory instead of delivering them")
	f.Var(ro.layout, "layout", "layout of --output-dir: raw (one file per object) or kustomize (base + overlays/<overlay>)")
	f.StringVar(&ro.Overlay, "overlay", "prod", "overlay name of the kustomize layout")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx, cancel := cfg.commandContext(cmd)
		defer cancel()
		return cfg.runRecommend(ctx, cmd, strings.Join(args, " "), &ro, &o)
	}
	return cmd
}

// RecommendReport is what dot recommend prints.
type RecommendReport struct {
	Intent       recommend.Intent        `json:"intent"`
	Capabilities *recommend.Capabilities `json:"capabilities,omitempty"`
	Solutions    []recommend.Solution    `json:"solutions"`
	Questions    []recommend.Question    `json:"questions"`
	Spec         *recommend.Spec         `json:"spec"`
	Objects      []kube.ObjectRef        `json:"objects"`
	// Validation is "passed" or why it was skipped.
	Validation string `json:"validation"`
	// Files are the files written by --output-dir.
	Files []string `json:"files,omitempty"`
	// Owner deploys the repository path; OwnerCreated says dot created it.
	Owner        *gitops.Owner      `json:"owner,omitempty"`
	OwnerCreated bool               `json:"ownerCreated,omitempty"`
	Delivery     *DeliveryReport    `json:"delivery,omitempty"`
	Commit       string             `json:"commit,omitempty"`
	Sync         *gitops.SyncReport `json:"sync,omitempty"`
	// Manifests are the generated objects (JSON and YAML output only).
	Manifests []*unstructured.Unstructured `json:"manifests,omitempty"`
	// printManifests shows the manifests in the table output.
	printManifests bool
}

func (r *RecommendReport) writeTable(w io.Writer) error {
	if r.printManifests {
		for i, m := range r.Manifests {
			b, err := recommend.Marshal(m)
			if err != nil {
				return err
			}
			if i > 0 {
				fmt.Fprintln(w, "---")
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("INTENT", fmt.Sprintf("%s %s from %s", r.Spec.Archetype, r.Spec.Name, r.Spec.Image))
	for i, s := range r.Solutions {
		mark := " "
		if s.ID == r.Spec.Solution {
			mark = "*"
		}
		k := ""
		if i == 0 {
			k = "SOLUTIONS"
		}
		row(k, fmt.Sprintf("%s %s: %s", mark, s.Title, s.Why))
	}
	var objs []string
	for _, o := range r.Objects {
		objs = append(objs, o.Kind+"/"+o.Name)
	}
	row("OBJECTS", fmt.Sprintf("%s (namespace %s)", strings.Join(objs, ", "), r.Spec.Namespace))
	row("VALIDATION", r.Validation)
	for i, f := range r.Files {
		k := ""
		if i == 0 {
			k = "FILES"
		}
		row(k, f)
	}
	if r.Owner != nil {
		v := r.Owner.String()
		if r.OwnerCreated {
			v += " (created)"
		}
		row("OWNER", v)
	}
	if r.Commit != "" {
		row("COMMIT", r.Commit)
	}
	if r.Sync != nil {
		row("SYNC", fmt.Sprintf("%s @%s", orDash(r.Sync.SyncStatus), shortRev(r.Sync.AppliedRevision)))
		row("HEALTH", orDash(r.Sync.Health))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Delivery != nil {
		fmt.Fprintln(w)
		return r.Delivery.writeTable(w)
	}
	return nil
}

// recommendIntent merges the intent text with the flags.
func (ro *RecommendOptions) intent(text string) (recommend.Intent, error) {
	var in recommend.Intent
	var err error
	if ro.ComposeFile != "" {
		if strings.TrimSpace(text) != "" {
			return in, &UsageError{errors.New("give an intent or --from-compose, not both")}
		}
		b, err := os.ReadFile(ro.ComposeFile)
		if err != nil {
			return in, &UsageError{fmt.Errorf("--from-compose: %w", err)}
		}
		if in, err = recommend.ParseCompose(b, ro.Service); err != nil {
			return in, &UsageError{fmt.Errorf("--from-compose %s: %w", ro.ComposeFile, err)}
		}
	} else if in, err = recommend.ParseIntent(text); err != nil {
		return in, &UsageError{fmt.Errorf("intent: %w", err)}
	}
	over := recommend.Intent{Image: ro.Image, Port: ro.Port, Replicas: ro.Replicas, Host: ro.Host, Name: ro.Name, Schedule: ro.Schedule}
	if ro.Schedule != "" {
		over.Archetype = recommend.Cron
	}
	for _, e := range ro.Env {
		k, v, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return in, &UsageError{fmt.Errorf("--env %q: want KEY=VALUE", e)}
		}
		over.Env = append(over.Env, recommend.EnvVar{Name: k, Value: v})
	}
	return in.Override(over), nil
}

// loadAnswers reads a YAML map of question IDs to scalar values.
func loadAnswers(path string) (recommend.Answers, error) {
	ans := recommend.Answers{}
	if path == "" {
		return ans, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &UsageError{fmt.Errorf("--answers: %w", err)}
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, &UsageError{fmt.Errorf("--answers %s: %w", path, err)}
	}
	for k, v := range raw {
		switch x := v.(type) {
		case string:
			ans[k] = x
		case bool:
			ans[k] = strconv.FormatBool(x)
		case float64:
			ans[k] = strconv.FormatFloat(x, 'f', -1, 64)
		case nil:
			ans[k] = ""
		default:
			return nil, &UsageError{fmt.Errorf("--answers %s: %s: want a single value, got %T", path, k, v)}
		}
	}
	return ans, nil
}

func (c *Config) runRecommend(ctx context.Context, cmd *cobra.Command, text string, ro *RecommendOptions, o *DeliveryOptions) error {
	if strings.TrimSpace(text) == "" && ro.Image == "" && ro.AnswersFile == "" && ro.ComposeFile == "" {
		return &UsageError{errors.New(`describe the workload ("web app from ghcr.io/acme/shop:1.4 on port 8080") or give --image or --answers`)}
	}
	if (ro.Repo == "") != (ro.Path == "") {
		return &UsageError{errors.New("--repo and --path go together")}
	}
	if ro.Repo != "" && ro.OutputDir != "" {
		return &UsageError{errors.New("--repo and --output-dir exclude each other")}
	}
	if ro.Offline && (ro.Repo != "" || c.GitOps == GitOpsOff) {
		return &UsageError{errors.New("--offline only writes (--output-dir) or prints manifests")}
	}
	in, err := ro.intent(text)
	if err != nil {
		return err
	}
	ans, err := loadAnswers(ro.AnswersFile)
	if err != nil {
		return err
	}
	// Namespace: answers, then -n, then the intent text, then kubeconfig.
	ns := ans["namespace"]
	if ns == "" && cmd.Flags().Changed("namespace") || ns == "" && in.Namespace == "" {
		n, _, err := c.KubeFlags.ToRawKubeConfigLoader().Namespace()
		if err != nil && !ro.Offline {
			return fmt.Errorf("namespace from kubeconfig: %w", err)
		}
		ns = n
	}
	if ns == "" {
		ns = in.Namespace
	}
	if ns == "" {
		ns = "default"
	}
	in.Namespace = ns

	var gc *gitops.Cluster
	caps := &recommend.Capabilities{Namespace: ns}
	if !ro.Offline {
		var clients *kube.Clients
		gc, clients, err = c.gitopsCluster()
		if err != nil {
			return err
		}
		c.Progress.Start("scanning the cluster")
		s := &recommend.Scanner{Reader: gc.Client, HasGroup: recommend.DiscoveryHasGroup(clients.Discovery)}
		caps, err = s.Scan(ctx, ns)
		if err != nil {
			c.Progress.Fail("scan failed")
			return err
		}
		c.Progress.Done("scanned the cluster")
	}
	rec := recommend.Recommend(in, caps)
	if missing := rec.Missing(ans); len(missing) > 0 || !o.Yes {
		if err := c.askQuestions(rec, ans, missing); err != nil {
			return err
		}
	}
	spec, err := rec.Resolve(ans, ro.AllowLatest)
	if err != nil {
		return &UsageError{err}
	}
	objs, err := recommend.Generate(spec)
	if err != nil {
		return &UsageError{err}
	}
	rep := &RecommendReport{Intent: rec.Intent, Capabilities: caps, Solutions: rec.Solutions, Questions: rec.Questions, Spec: spec, Manifests: objs, Validation: "skipped (--offline)"}
	for _, obj := range objs {
		rep.Objects = append(rep.Objects, kube.RefOf(obj))
	}
	if !ro.Offline {
		vo := recommend.ValidateOptions{}
		if !caps.NamespaceExists {
			// The owner creates the namespace on first sync; validate in
			// "default" meanwhile.
			vo.FallbackNamespace = "default"
		}
		c.Progress.Start("validating %d objects on the API server (dry run)", len(objs))
		if err := recommend.Validate(ctx, gc.Client, objs, vo); err != nil {
			c.Progress.Fail("validation failed")
			return err
		}
		c.Progress.Done("validated %d objects", len(objs))
		rep.Validation = "passed (server-side dry run)"
		if vo.FallbackNamespace != "" {
			rep.Validation += fmt.Sprintf("; namespace %s does not exist yet: validated in default", spec.Namespace)
		}
	}
	format := o.out.Format()
	switch {
	case ro.OutputDir != "":
		files, err := recommend.Files(objs, ro.layout.value, ro.Overlay)
		if err != nil {
			return &UsageError{err}
		}
		if err := recommend.WriteFiles(ro.OutputDir, files); err != nil {
			return err
		}
		for f := range files {
			rep.Files = append(rep.Files, f)
		}
		sort.Strings(rep.Files)
		return printResult(c.Streams.Out, format, rep)
	case ro.Repo != "":
		return c.recommendToGit(ctx, rep, objs, caps, gc, ro, o)
	case c.GitOps == GitOpsOff:
		cs := recommend.ChangeSet(fmt.Sprintf("recommend %s %s", spec.Archetype, spec.Name), objs, nil)
		return c.deliver(ctx, o, cs)
	}
	rep.printManifests = format == OutputTable
	return printResult(c.Streams.Out, format, rep)
}

// askQuestions asks, on a terminal, the required questions and the basic
// ones (Enter keeps the default). Without a terminal it returns the
// missing required answers as a usage error.
func (c *Config) askQuestions(rec *recommend.Recommendation, ans recommend.Answers, missing []recommend.Question) error {
	f, ok := c.Streams.In.(*os.File)
	if !ok || !isTerminal(f) || !isTerminal(c.Streams.ErrOut) {
		if len(missing) > 0 {
			return &UsageError{&recommend.MissingAnswersError{Questions: missing}}
		}
		return nil
	}
	return promptQuestions(c.Streams.In, c.Streams.ErrOut, rec.Questions, ans)
}

// promptQuestions asks the required and basic questions not answered yet,
// one line each; an empty line keeps the default, and a required question
// is asked again until answered (end of input: an error listing it).
func promptQuestions(in io.Reader, out io.Writer, questions []recommend.Question, ans recommend.Answers) error {
	r := bufio.NewReader(in)
	for _, q := range questions {
		if _, done := ans[q.ID]; done || q.Level == recommend.Advanced {
			continue
		}
		for {
			prompt := q.Prompt
			if len(q.Choices) > 0 {
				prompt += " (" + strings.Join(q.Choices, "|") + ")"
			}
			if q.Default != "" {
				prompt += " [" + q.Default + "]"
			}
			fmt.Fprintf(out, "%s: ", prompt)
			line, err := r.ReadString('\n')
			line = strings.TrimSpace(line)
			if line != "" {
				ans[q.ID] = line
				break
			}
			if q.Default != "" {
				break
			}
			if err != nil {
				return &UsageError{&recommend.MissingAnswersError{Questions: []recommend.Question{q}}}
			}
		}
	}
	return nil
}

// recommendToGit commits the manifests to the repository path, creates the
// owner when nothing deploys that path, and waits for the workload.
func (c *Config) recommendToGit(ctx context.Context, rep *RecommendReport, objs []*unstructured.Unstructured, caps *recommend.Capabilities,
	gc *gitops.Cluster, ro *RecommendOptions, o *DeliveryOptions) error {
	dp, err := recommend.PlanGitDelivery(ctx, gc, caps, rep.Spec, objs, recommend.GitDelivery{
		Target:    recommend.GitTarget{RepoURL: ro.Repo, Branch: ro.Branch, Path: ro.Path},
		OwnerKind: ro.owner.value, ArgoCDNamespace: c.ArgoCDNamespace, FluxNamespace: ro.OwnerNamespace, GitSecret: ro.GitSecret,
	})
	if errors.Is(err, recommend.ErrNoOwnerKind) {
		return &UsageError{fmt.Errorf("%w: use --owner argocd|flux, or --gitops=off / --output-dir", err)}
	}
	if err != nil {
		return err
	}
	cs, owner := dp.ChangeSet, dp.Owner
	rep.Owner, rep.OwnerCreated = owner, dp.OwnerCreated

	git, err := c.gitOptions(o)
	if err != nil {
		return err
	}
	// The workload is waited for below, at the pushed commit; the direct
	// path only applies the owner objects.
	d := &gitops.Deliverer{Cluster: gc, Options: gitops.Options{Mode: gitops.ModeAuto, DryRun: o.DryRun(), NoWait: true, Git: git, OnEvent: c.progressEvent}}
	c.Progress.Start("planning %s", cs.Title)
	plan, err := d.Plan(ctx, cs)
	if err != nil {
		c.Progress.Fail("planning failed")
		return err
	}
	c.Progress.Done("planned %s", cs.Title)
	rep.Delivery = &DeliveryReport{Plan: plan}
	format := o.out.Format()
	if o.DryRun() != DryRunNone {
		if err := printResult(c.Streams.Out, format, rep); err != nil {
			return err
		}
		if plan.HasChanges() {
			return fmt.Errorf("dry run: %w", gitops.ErrChangesPending)
		}
		return nil
	}
	res := &gitops.Result{}
	if plan.HasChanges() {
		if !o.Yes {
			if err := c.approve(plan); err != nil {
				return err
			}
			rep.Delivery.planShown = true
		}
		var derr error
		res, derr = d.Apply(ctx, plan)
		if derr != nil {
			rep.Delivery.Result = res
			return errors.Join(derr, printResult(c.Streams.Out, format, rep))
		}
	} else {
		for _, g := range plan.Git {
			res.Git = append(res.Git, gitops.GitResult{Owner: g.Source.RepoURL + ":" + g.Source.Path, RepoURL: g.Source.RepoURL, Branch: g.Branch, Status: "unchanged"})
		}
	}
	rep.Delivery.Result = res
	rep.Commit = recommend.DeliveredCommit(plan, res)
	var werr error
	if !o.NoWait && rep.Commit != "" {
		c.Progress.Start("waiting for %s to apply %s", owner, short(rep.Commit))
		report, found, err := recommend.WaitHealthy(ctx, gc, owner, rep.Commit, objs, gitops.WaitOptions{Sync: o.Sync, OnEvent: c.progressEvent})
		rep.Sync, rep.Owner = &report, found
		if err != nil {
			c.Progress.Fail("wait failed")
			werr = err
		} else {
			c.Progress.Done("%s applied %s: %s", owner, short(rep.Commit), orDash(report.Health))
		}
	}
	return errors.Join(werr, printResult(c.Streams.Out, format, rep))
}
