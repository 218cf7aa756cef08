package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
	"github.com/dot-ai/dot/pkg/operations"
)

// changeSetter is what every operation verb is.
type changeSetter interface {
	ChangeSet(ctx context.Context, ref kube.ObjectRef) (gitops.ChangeSet, error)
}

func newOpCmd(cfg *Config) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "op",
		Short: "Day-2 operations delivered through Git (Argo CD, Flux) or server-side apply",
		Long: `Day-2 operations. Each one finds who owns the workload, edits the file that
defines the field in the owner's Git repository (or applies server-side when
nothing owns it), shows the plan, asks for approval, pushes, and waits until
the controller applied the commit and the workload is healthy.

Workloads are named like kubectl does: deployment/web, "deployment web", or a
Pod name (dot walks to its Deployment, StatefulSet, ...).`,
	}
	cmd.AddCommand(newScaleCmd(cfg), newImageCmd(cfg), newEnvCmd(cfg), newResourcesCmd(cfg), newRestartCmd(cfg),
		newRollbackCmd(cfg), newDeleteCmd(cfg), newFreezeCmd(cfg, true), newFreezeCmd(cfg, false))
	return cmd
}

// opCommand builds a verb command: it resolves the object from the leading
// arguments, builds the change set with make, and delivers it.
func opCommand(cfg *Config, cmd *cobra.Command, refArgs func([]string) ([]string, []string), make func(opcfg *operations.Config, rest []string, o *DeliveryOptions) (changeSetter, error)) *cobra.Command {
	var o DeliveryOptions
	addDeliveryFlags(cmd, &o)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx, cancel := cfg.commandContext(cmd)
		defer cancel()
		objArgs, rest := refArgs(args)
		gc, ref, err := cfg.clusterAndObject(objArgs)
		if err != nil {
			return err
		}
		verb, err := make(&operations.Config{Client: gc.Client, Now: cfg.now}, rest, &o)
		if err != nil {
			return err
		}
		cs, err := verb.ChangeSet(ctx, ref)
		if err != nil {
			return err
		}
		return cfg.deliver(ctx, &o, cs)
	}
	return cmd
}

// refOnly: every argument names the object.
func refOnly(args []string) ([]string, []string) { return args, nil }

// refThen splits "<ref...> <n trailing arguments>".
func refThen(n int) func([]string) ([]string, []string) {
	return func(args []string) ([]string, []string) {
		if len(args) <= n {
			return args, nil
		}
		return args[:len(args)-n], args[len(args)-n:]
	}
}

// refThenAssignments splits "<ref...> KEY=VALUE... KEY-...".
func refThenAssignments(args []string) ([]string, []string) {
	i := 0
	for i < len(args) && i < 2 && !strings.Contains(args[i], "=") && !strings.HasSuffix(args[i], "-") {
		i++
	}
	return args[:i], args[i:]
}

func newScaleCmd(cfg *Config) *cobra.Command {
	var replicas, lo, hi int32
	cmd := &cobra.Command{
		Use:   "scale <workload> --replicas N | --min N --max M",
		Short: "Set replicas (or, when an HPA controls them, the HPA's bounds)",
		Example: `  dot op scale deployment/web --replicas 5 -n prod
  dot op scale deployment/api --min 3 --max 12   # its HPA`,
		Args: cobra.RangeArgs(1, 2),
	}
	cmd.Flags().Int32Var(&replicas, "replicas", -1, "wanted replicas")
	cmd.Flags().Int32Var(&lo, "min", 0, "HPA minReplicas")
	cmd.Flags().Int32Var(&hi, "max", 0, "HPA maxReplicas")
	return opCommand(cfg, cmd, refOnly, func(oc *operations.Config, _ []string, _ *DeliveryOptions) (changeSetter, error) {
		s := &operations.Scale{Config: oc}
		if cmd.Flags().Changed("replicas") {
			s.Replicas = &replicas
		}
		if cmd.Flags().Changed("min") {
			s.Min = &lo
		}
		if cmd.Flags().Changed("max") {
			s.Max = &hi
		}
		if s.Replicas == nil && s.Min == nil && s.Max == nil {
			return nil, &UsageError{fmt.Errorf("give --replicas, or --min/--max for an HPA")}
		}
		return s, nil
	})
}

func newImageCmd(cfg *Config) *cobra.Command {
	var container string
	cmd := &cobra.Command{
		Use:     "image <workload> <image[:tag|@digest]>",
		Short:   "Set a container's image (a kustomize images: entry when one sets it)",
		Example: `  dot op image deployment/web registry.example.com/web:1.5.0 -n prod`,
		Args:    cobra.RangeArgs(2, 3),
	}
	cmd.Flags().StringVarP(&container, "container", "c", "", "container to change (default: the only one)")
	return opCommand(cfg, cmd, refThen(1), func(oc *operations.Config, rest []string, _ *DeliveryOptions) (changeSetter, error) {
		return &operations.Image{Config: oc, Container: container, Image: rest[0]}, nil
	})
}

func newEnvCmd(cfg *Config) *cobra.Command {
	var container string
	var fromCM, fromSecret []string
	cmd := &cobra.Command{
		Use:   "env <workload> [KEY=VALUE ...] [KEY- ...]",
		Short: "Set or unset environment variables; add ConfigMap/Secret references (never secret values)",
		Example: `  dot op env deployment/web LOG_LEVEL=debug OLD_FLAG- -n prod
  dot op env deployment/web --from-secret db-credentials`,
		Args: cobra.MinimumNArgs(1),
	}
	cmd.Flags().StringVarP(&container, "container", "c", "", "container to change (default: the only one)")
	cmd.Flags().StringSliceVar(&fromCM, "from-configmap", nil, "add an envFrom reference to this ConfigMap")
	cmd.Flags().StringSliceVar(&fromSecret, "from-secret", nil, "add an envFrom reference to this Secret")
	return opCommand(cfg, cmd, refThenAssignments, func(oc *operations.Config, rest []string, _ *DeliveryOptions) (changeSetter, error) {
		set, unset, err := operations.ParseEnvArgs(rest)
		if err != nil {
			return nil, &UsageError{err}
		}
		return &operations.Env{Config: oc, Container: container, Set: set, Unset: unset, FromConfigMap: fromCM, FromSecret: fromSecret}, nil
	})
}

func newResourcesCmd(cfg *Config) *cobra.Command {
	var container, requests, limits string
	cmd := &cobra.Command{
		Use:     "resources <workload> [--requests cpu=..,memory=..] [--limits ...]",
		Short:   "Set a container's resource requests and limits",
		Example: `  dot op resources deployment/web --requests cpu=250m,memory=256Mi --limits memory=512Mi`,
		Args:    cobra.RangeArgs(1, 2),
	}
	cmd.Flags().StringVarP(&container, "container", "c", "", "container to change (default: the only one)")
	cmd.Flags().StringVar(&requests, "requests", "", "requests, e.g. cpu=250m,memory=256Mi")
	cmd.Flags().StringVar(&limits, "limits", "", "limits, e.g. cpu=1,memory=512Mi")
	return opCommand(cfg, cmd, refOnly, func(oc *operations.Config, _ []string, _ *DeliveryOptions) (changeSetter, error) {
		req, err := operations.ParseResourceList(requests)
		if err != nil {
			return nil, &UsageError{fmt.Errorf("--requests: %w", err)}
		}
		lim, err := operations.ParseResourceList(limits)
		if err != nil {
			return nil, &UsageError{fmt.Errorf("--limits: %w", err)}
		}
		return &operations.Resources{Config: oc, Container: container, Requests: req, Limits: lim}, nil
	})
}

func newRestartCmd(cfg *Config) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "restart <workload>",
		Short: "Roll the pods by changing a pod-template annotation (through Git, so GitOps keeps it)",
		Args:  cobra.RangeArgs(1, 2),
	}
	return opCommand(cfg, cmd, refOnly, func(oc *operations.Config, _ []string, _ *DeliveryOptions) (changeSetter, error) {
		return &operations.Restart{Config: oc}, nil
	})
}

func newDeleteCmd(cfg *Config) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete <kind>/<name>",
		Short: "Remove an object's document (and its resources: entry) from Git, or the object when unmanaged",
		Args:  cobra.RangeArgs(1, 2),
	}
	return opCommand(cfg, cmd, refOnly, func(oc *operations.Config, _ []string, _ *DeliveryOptions) (changeSetter, error) {
		return &operations.Delete{Config: oc}, nil
	})
}

func newRollbackCmd(cfg *Config) *cobra.Command {
	var to string
	var steps int
	cmd := &cobra.Command{
		Use:   "rollback <workload> [--steps N | --to <sha>]",
		Short: "Revert dot's own commits for a workload, or roll an unmanaged Deployment back to an earlier ReplicaSet",
		Example: `  dot op rollback deployment/web -n prod            # undo dot's last change to it
  dot op rollback deployment/web --to 3f78685       # undo dot's changes after that commit`,
		Args: cobra.RangeArgs(1, 2),
	}
	cmd.Flags().StringVar(&to, "to", "", "commit (managed) or revision number (unmanaged) to go back to")
	cmd.Flags().IntVar(&steps, "steps", 1, "how many of dot's changes to undo")
	return opCommand(cfg, cmd, refOnly, func(oc *operations.Config, _ []string, o *DeliveryOptions) (changeSetter, error) {
		gc, _, err := cfg.gitopsCluster()
		if err != nil {
			return nil, err
		}
		git, err := cfg.gitOptions(o)
		if err != nil {
			return nil, err
		}
		d := &gitops.Deliverer{Cluster: gc, Options: gitops.Options{Git: git}}
		return &operations.Rollback{Config: oc, History: d.History, Steps: steps, To: to}, nil
	})
}

// FreezeReport is what freeze and unfreeze print.
type FreezeReport struct {
	gitops.FreezeResult
	Object kube.ObjectRef `json:"object"`
}

func (r *FreezeReport) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "OBJECT\t%s\nOWNER\t%s\nCHANGED\t%v\nDETAIL\t%s\n", r.Object, r.Owner, r.Changed, r.Detail)
	return tw.Flush()
}

func newFreezeCmd(cfg *Config, freeze bool) *cobra.Command {
	use, short := "freeze", "Stop GitOps reconciliation of the object's owner for an incident (Argo CD automated sync off, Flux suspend)"
	if !freeze {
		use, short = "unfreeze", "Restart GitOps reconciliation stopped by freeze"
	}
	var out OutputOptions
	cmd := &cobra.Command{
		Use:   use + " <kind>/<name>",
		Short: short,
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := cfg.commandContext(cmd)
			defer cancel()
			gc, ref, err := cfg.clusterAndObject(args)
			if err != nil {
				return err
			}
			owner, err := gc.FindOwner(ctx, ref)
			if err != nil {
				return err
			}
			var res gitops.FreezeResult
			if freeze {
				res, err = gc.Freeze(ctx, owner, cfg.now())
			} else {
				res, err = gc.Unfreeze(ctx, owner, cfg.now())
			}
			if err != nil {
				return err
			}
			return printResult(cfg.Streams.Out, out.Format(), &FreezeReport{FreezeResult: res, Object: owner.Object})
		},
	}
	addOutputFlag(cmd, &out)
	return cmd
}
