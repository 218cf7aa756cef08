package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/dot-ai/dot/pkg/cli"
)

// A step is one named part of the demo. The runner prints a header with
// its title, runs it, and stops the demo at the first step that fails.
// A pipeline adds itself to the demo by appending steps in steps().
type step struct {
	title string
	run   func(ctx context.Context, d *demo) error
}

// steps is the demo, in order. Steps that need the environment come after
// "start"; the runner tears the environment down whatever happens.
func steps(apps []*app) []step {
	s := []step{
		{"Start the local environment: kube-apiserver, kwok nodes, Flux, Argo CD, git server (basic auth)", func(ctx context.Context, d *demo) error { return d.start(ctx) }},
		{"Seed two Git repositories with the sample app; Flux deploys one, Argo CD the other", func(ctx context.Context, d *demo) error { return d.deploy(ctx) }},
		{"Wait until both controllers applied the first commit and the app is healthy", func(ctx context.Context, d *demo) error { return d.waitDeployed(ctx) }},
		{"dot version", func(ctx context.Context, d *demo) error {
			return d.dot(ctx, cli.ExitOK, "version")
		}},
	}
	for _, a := range apps {
		s = append(s, operationSteps(a)...)
	}
	for _, a := range apps {
		s = append(s, remediateSteps(a)...)
	}
	for _, a := range apps {
		s = append(s, recommendSteps(a)...)
	}
	for _, a := range apps {
		s = append(s, step{a.label + ": the repository's history (dot's commits on top)", func(ctx context.Context, d *demo) error {
			return d.git(ctx, a, "log", "--oneline", "main")
		}})
	}
	s = append(s, step{"The message of dot's last commit (recommend's): its trailers name the operation and the objects, as rollback reads them", func(ctx context.Context, d *demo) error {
		return d.git(ctx, apps[0], "log", "-1", "--format=%B", "main")
	}})
	return s
}

// operationSteps is the operations pipeline (dot gitops trace, dot op) on
// one app.
func operationSteps(a *app) []step {
	original := imageRepo + ":" + prodTag
	updated := imageRepo + ":" + newTag
	return []step{
		{a.label + ": trace a pod back to its owner, Git source and revision", func(ctx context.Context, d *demo) error {
			pod, err := d.anyPod(ctx, a)
			if err != nil {
				return err
			}
			return d.dot(ctx, cli.ExitOK, "gitops", "trace", "pod", pod, "-n", a.ns)
		}},
		{a.label + ": plan scaling web to 3 (dry run: the file and line, and the diff; nothing is pushed)", func(ctx context.Context, d *demo) error {
			before, err := d.env.Git.Head(ctx, a.repo, "main")
			if err != nil {
				return err
			}
			// Exit code 4 (cli.ExitChangesPending): a dry run that found
			// changes to deliver.
			if err := d.dot(ctx, cli.ExitChangesPending, "op", "scale", "deployment/web", "-n", a.ns, "--replicas", "3", "--dry-run"); err != nil {
				return err
			}
			after, err := d.env.Git.Head(ctx, a.repo, "main")
			if err != nil {
				return err
			}
			if after != before {
				return fmt.Errorf("the dry run moved main from %s to %s", short(before), short(after))
			}
			return nil
		}},
		{a.label + ": scale web to 3 (commit, push, the controller applies it, healthy)", func(ctx context.Context, d *demo) error {
			return d.op(ctx, a, "3 replicas available", replicasAre(3),
				"scale", "deployment/web", "-n", a.ns, "--replicas", "3", "--yes")
		}},
		{a.label + ": change web's image to " + newTag + " (the overlay's images: entry)", func(ctx context.Context, d *demo) error {
			return d.op(ctx, a, "image "+updated, imageIs(updated),
				"image", "deployment/web", updated, "-n", a.ns, "--yes")
		}},
		{a.label + ": roll back dot's last change to web (the image)", func(ctx context.Context, d *demo) error {
			return d.op(ctx, a, "image "+original, imageIs(original),
				"rollback", "deployment/web", "-n", a.ns, "--yes")
		}},
	}
}

// stepError says which step failed.
type stepError struct {
	index, total int
	title        string
	err          error
}

func (e *stepError) Error() string {
	return fmt.Sprintf("step %d/%d (%s): %v", e.index, e.total, e.title, e.err)
}

func (e *stepError) Unwrap() error { return e.err }

// stepTiming is how long one step took, for the summary.
type stepTiming struct {
	title string
	took  time.Duration
}

// runSteps runs steps in order, printing a header before each and its
// duration after it, and returns at the first failure.
func runSteps(ctx context.Context, d *demo, steps []step) ([]stepTiming, error) {
	var timings []stepTiming
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			return timings, &stepError{i + 1, len(steps), s.title, err}
		}
		fmt.Fprintf(d.out, "\n==> [%d/%d] %s\n", i+1, len(steps), s.title)
		start := time.Now()
		err := s.run(ctx, d)
		took := time.Since(start)
		if err != nil {
			fmt.Fprintf(d.out, "--- FAILED after %s\n", round(took))
			return timings, &stepError{i + 1, len(steps), s.title, err}
		}
		timings = append(timings, stepTiming{s.title, took})
		fmt.Fprintf(d.out, "--- ok (%s)\n", round(took))
	}
	return timings, nil
}

// dot runs the dot command in-process, against the environment, with the
// git server's credentials in its environment, and checks its exit code.
// Its stdout and stderr are the demo's.
func (d *demo) dot(ctx context.Context, wantExit int, args ...string) error {
	_, err := d.dotOutput(ctx, wantExit, args...)
	return err
}

// dotOutput is dot that also returns what the command wrote to stdout, for
// steps that check the report.
func (d *demo) dotOutput(ctx context.Context, wantExit int, args ...string) (string, error) {
	fmt.Fprintf(d.out, "$ dot %s\n", quoteArgs(args))
	full := append([]string{"dot"}, args...)
	full = append(full, "--kubeconfig", d.env.Kubeconfig, "--timeout", dotTimeout.String())
	var stdout strings.Builder
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: io.MultiWriter(d.out, &stdout), ErrOut: d.errOut}
	code := cli.Execute(ctx, full, streams, cli.WithGetenv(d.getenv))
	if code != wantExit {
		return stdout.String(), fmt.Errorf("dot %s exited %d, want %d", quoteArgs(args), code, wantExit)
	}
	if code != cli.ExitOK {
		fmt.Fprintf(d.out, "(exit code %d, as expected)\n", code)
	}
	return stdout.String(), nil
}

// quoteArgs joins args for display, quoting those with spaces as a shell
// needs them.
func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if a == "" || strings.ContainsAny(a, " \t\"'$") {
			q[i] = strconv.Quote(a)
		}
	}
	return strings.Join(q, " ")
}

// dotTimeout is each dot command's --timeout.
const dotTimeout = 2 * time.Minute

// op runs a dot op verb that delivers through Git and checks what it
// promises: exactly one new commit on main, and the live Deployment in the
// state the change asked for.
func (d *demo) op(ctx context.Context, a *app, what string, cond deploymentCond, args ...string) error {
	before, err := d.env.Git.Head(ctx, a.repo, "main")
	if err != nil {
		return err
	}
	if err := d.dot(ctx, cli.ExitOK, append([]string{"op"}, args...)...); err != nil {
		return err
	}
	if err := d.checkOneCommit(ctx, a, before); err != nil {
		return err
	}
	return d.checkDeployment(ctx, a, what, cond)
}

// git runs git in a's bare repository on the git server and prints its
// output.
func (d *demo) git(ctx context.Context, a *app, args ...string) error {
	fmt.Fprintf(d.out, "$ git %s    # in %s\n", strings.Join(args, " "), d.env.Git.RepoURL(a.repo))
	cmd := exec.CommandContext(ctx, "git", append([]string{"--no-pager", "-C", d.env.Git.RepoPath(a.repo)}, args...)...)
	cmd.Stdout, cmd.Stderr = d.out, d.errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func shortAll(shas []string) string {
	s := make([]string, len(shas))
	for i, sha := range shas {
		s[i] = short(sha)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }

func since(t time.Time) time.Duration { return round(time.Since(t)) }

// writeSummary prints each step's duration.
func writeSummary(w io.Writer, timings []stepTiming, total time.Duration) {
	fmt.Fprintf(w, "\n==> Summary: %d steps in %s\n", len(timings), round(total))
	for i, t := range timings {
		fmt.Fprintf(w, "  %2d. %8s  %s\n", i+1, round(t.took), t.title)
	}
}
