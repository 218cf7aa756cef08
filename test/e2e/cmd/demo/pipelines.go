package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/cli"
	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
	"github.com/dot-ai/dot/pkg/remediate"
)

// A failure the local cluster's kwok stages (test/e2e/cluster/stages)
// produce for pods whose image contains a marker, and what dot remediate
// should make of it.
type failure struct {
	tag     string // the failing tag of imageRepo, containing the stage's marker
	reason  string // the container's waiting reason kwok reports
	finding string // the finding dot remediate reports first
	rule    string // the rule whose fix dot remediate delivers
	what    string // for the step's title
}

// failureOf is the failure the demo gives each app: an image that cannot
// be pulled for Flux, an image that crash-loops for Argo CD. Both are fixed
// by going back to the image that ran before (read from the Deployment's
// ReplicaSets), in the prod overlay's images: entry.
func failureOf(a *app) failure {
	if a.kind == "flux" {
		return failure{tag: "6.8.0-doesnotexist", reason: "ImagePullBackOff", finding: remediate.FindingImagePull,
			rule: "previous-image", what: "a tag that was never pushed (ImagePullBackOff)"}
	}
	return failure{tag: "6.8.0-e2e-crashloop", reason: "CrashLoopBackOff", finding: remediate.FindingCrashLoop,
		rule: "roll-back-image", what: "an image that exits at start (CrashLoopBackOff)"}
}

// remediateSteps break a's web through dot op, then diagnose and fix it
// with dot remediate.
func remediateSteps(a *app) []step {
	f := failureOf(a)
	bad := imageRepo + ":" + f.tag
	good := imageRepo + ":" + prodTag
	target := []string{"deployment/web", "-n", a.ns}
	return []step{
		{a.label + ": break web for remediate: dot op image to " + f.what, func(ctx context.Context, d *demo) error {
			// --no-wait: the rollout never becomes healthy, so dot op would
			// wait for its --timeout. The demo asks the controller to
			// reconcile instead (what the next poll would do).
			before, err := d.env.Git.Head(ctx, a.repo, "main")
			if err != nil {
				return err
			}
			if err := d.dot(ctx, cli.ExitOK, "op", "image", "deployment/web", bad, "-n", a.ns, "--yes", "--no-wait"); err != nil {
				return err
			}
			if err := d.checkOneCommit(ctx, a, before); err != nil {
				return err
			}
			if err := d.trigger(ctx, a); err != nil {
				return err
			}
			return d.waitPodWaiting(ctx, a, f.reason)
		}},
		{a.label + ": remediate dry run: diagnosis, owner, file:line and the planned fix (nothing is pushed)", func(ctx context.Context, d *demo) error {
			before, err := d.env.Git.Head(ctx, a.repo, "main")
			if err != nil {
				return err
			}
			out, err := d.dotOutput(ctx, cli.ExitChangesPending, append([]string{"remediate"}, append(target, "--dry-run")...)...)
			if err != nil {
				return err
			}
			for _, want := range []string{"] " + f.finding + " on ", "rule " + f.rule + ",", "to " + good, ": planned"} {
				if !strings.Contains(out, want) {
					return fmt.Errorf("dot remediate --dry-run output lacks %q", want)
				}
			}
			if after, err := d.env.Git.Head(ctx, a.repo, "main"); err != nil {
				return err
			} else if after != before {
				return fmt.Errorf("the dry run moved main from %s to %s", short(before), short(after))
			}
			fmt.Fprintf(d.out, "check: finding %s, fix %s planned; main still at %s\n", f.finding, f.rule, short(before))
			return nil
		}},
		{a.label + ": remediate web, named in words (--yes): resolved to deployment/web, one commit, the controller applies it, the problem is verified gone", func(ctx context.Context, d *demo) error {
			before, err := d.env.Git.Head(ctx, a.repo, "main")
			if err != nil {
				return err
			}
			query := "web in " + a.ns + " is failing"
			out, err := d.dotOutput(ctx, cli.ExitOK, "remediate", query, "--yes")
			if err != nil {
				return err
			}
			if want := fmt.Sprintf("Query %q: deployment/web -n %s", query, a.ns); !strings.Contains(out, want) {
				return fmt.Errorf("dot remediate did not resolve the text to deployment/web: output lacks %q", want)
			}
			if !strings.Contains(out, "rule "+f.rule+",") || !strings.Contains(out, ": delivered") {
				return fmt.Errorf("dot remediate did not report the %s fix delivered", f.rule)
			}
			if !strings.Contains(out, "Verification: "+remediate.StatusResolved+" ") {
				return fmt.Errorf("dot remediate did not report the problems %s", remediate.StatusResolved)
			}
			if err := d.checkOneCommit(ctx, a, before); err != nil {
				return err
			}
			return d.checkDeployment(ctx, a, "image "+good, imageIs(good))
		}},
	}
}

// recommendApp is the app dot recommend creates next to web, in web's
// repository (under apps/) and namespace.
const recommendApp = "shop"

// recommendIntent is what the user asks dot recommend for.
const recommendIntent = "web app from " + imageRepo + ":" + prodTag + " on port 9898 with PODINFO_UI_MESSAGE=recommended"

// recommendSteps run dot recommend twice on a: the first run commits the
// manifests and creates the owner, which deploys them; the second commits
// nothing.
func recommendSteps(a *app) []step {
	return []step{
		{a.label + ": recommend a new app from an intent: commit to apps/" + recommendApp + ", create the " + a.label + " owner, deploy it", func(ctx context.Context, d *demo) error {
			args, err := d.recommendArgs(a)
			if err != nil {
				return err
			}
			before, err := d.env.Git.Head(ctx, a.repo, "main")
			if err != nil {
				return err
			}
			out, err := d.dotOutput(ctx, cli.ExitOK, args...)
			if err != nil {
				return err
			}
			for _, want := range []string{"VALIDATION  passed", "HEALTH      Healthy"} {
				if !strings.Contains(out, want) {
					return fmt.Errorf("dot recommend output lacks %q", want)
				}
			}
			if err := d.checkOneCommit(ctx, a, before); err != nil {
				return err
			}
			if err := d.checkOwnerCreated(ctx, a); err != nil {
				return err
			}
			return d.checkWorkload(ctx, a.ns, recommendApp, "2 replicas available", replicasAre(2))
		}},
		{a.label + ": recommend again with the same answers: unchanged, nothing committed", func(ctx context.Context, d *demo) error {
			args, err := d.recommendArgs(a)
			if err != nil {
				return err
			}
			before, err := d.env.Git.Head(ctx, a.repo, "main")
			if err != nil {
				return err
			}
			out, err := d.dotOutput(ctx, cli.ExitOK, args...)
			if err != nil {
				return err
			}
			if !strings.Contains(out, "unchanged") || !strings.Contains(out, "HEALTH      Healthy") {
				return fmt.Errorf("dot recommend's second run did not report unchanged and healthy")
			}
			if after, err := d.env.Git.Head(ctx, a.repo, "main"); err != nil {
				return err
			} else if after != before {
				return fmt.Errorf("the second run moved main from %s to %s", short(before), short(after))
			}
			fmt.Fprintf(d.out, "check: main of %s still at %s\n", a.repo, short(before))
			return d.checkWorkload(ctx, a.ns, recommendApp, "2 replicas available", replicasAre(2))
		}},
	}
}

// recommendArgs writes a's answers file (the questions dot recommend would
// ask) and returns the command line, with the flags the e2e test uses.
func (d *demo) recommendArgs(a *app) ([]string, error) {
	answers := filepath.Join(d.dir, "answers-"+a.kind+".yaml")
	content := fmt.Sprintf("name: %s\nnamespace: %s\nreplicas: 2\ncpu: 50m\nmemory: 64Mi\n", recommendApp, a.ns)
	if err := os.WriteFile(answers, []byte(content), 0o644); err != nil {
		return nil, fmt.Errorf("write answers: %w", err)
	}
	args := []string{"recommend", recommendIntent, "--answers", answers,
		"--repo", d.env.Git.RepoURL(a.repo), "--path", "apps/" + recommendApp, "--branch", "main", "--owner", a.kind, "--yes"}
	if a.kind == "flux" {
		// The GitRepository reads the repository with the secret the
		// demo's own Flux objects use.
		args = append(args, "--owner-namespace", a.ns, "--git-secret", "git-auth")
	}
	return args, nil
}

// checkOwnerCreated checks that a new owner of a.kind, not web's, deploys
// the recommended Deployment.
func (d *demo) checkOwnerCreated(ctx context.Context, a *app) error {
	gc, err := d.gitopsCluster()
	if err != nil {
		return err
	}
	ref := kube.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: a.ns, Name: recommendApp}
	owner, err := gc.FindOwner(ctx, ref)
	if err != nil {
		return fmt.Errorf("find the owner of deployment %s/%s: %w", a.ns, recommendApp, err)
	}
	wantKind := map[string]gitops.OwnerKind{"flux": gitops.OwnerFluxKustomization, "argocd": gitops.OwnerArgoCDApplication}[a.kind]
	if owner == nil || owner.Kind != wantKind || owner.Name == a.owner {
		return fmt.Errorf("deployment %s/%s: owner %v, want a new %s", a.ns, recommendApp, owner, wantKind)
	}
	fmt.Fprintf(d.out, "check: deployment %s/%s is deployed by %s, which dot created\n", a.ns, recommendApp, owner)
	return nil
}

// checkOneCommit checks that main of a's repository has exactly one new
// commit on top of before.
func (d *demo) checkOneCommit(ctx context.Context, a *app, before string) error {
	log, err := d.env.Git.Log(ctx, a.repo, "main")
	if err != nil {
		return err
	}
	if len(log) < 2 || log[1] != before {
		return fmt.Errorf("want exactly one new commit on top of %s in %s, history is %s", short(before), a.repo, shortAll(log))
	}
	fmt.Fprintf(d.out, "check: one new commit on main of %s: %s\n", a.repo, short(log[0]))
	return nil
}

// gitopsCluster is dot's view of the environment's controllers.
func (d *demo) gitopsCluster() (*gitops.Cluster, error) {
	c, err := client.NewWithWatch(d.env.RESTConfig, client.Options{Scheme: kube.NewScheme()})
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	return &gitops.Cluster{Client: c}, nil
}

// trigger asks the controller owning a's web to reconcile now (Flux
// requestedAt, Argo CD refresh), as dot does after a push when it waits.
func (d *demo) trigger(ctx context.Context, a *app) error {
	gc, err := d.gitopsCluster()
	if err != nil {
		return err
	}
	ref := kube.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: a.ns, Name: "web"}
	owner, err := gc.FindOwner(ctx, ref)
	if err != nil {
		return fmt.Errorf("find the owner of deployment %s/web: %w", a.ns, err)
	}
	if _, err := gc.Trigger(ctx, owner, gitops.WaitOptions{}); err != nil {
		return fmt.Errorf("trigger %s: %w", owner, err)
	}
	fmt.Fprintf(d.out, "asked %s to reconcile now\n", owner)
	return nil
}

// waitPodWaiting waits until a container of a pod of a's web waits with
// reason, as kwok's failure stages report it, and prints that pod's state.
func (d *demo) waitPodWaiting(ctx context.Context, a *app, reason string) error {
	var found string
	err := d.poll(ctx, fmt.Sprintf("a pod of web in %s in %s", a.ns, reason), func(ctx context.Context) (bool, string, error) {
		var pods corev1.PodList
		if err := d.client.List(ctx, &pods, client.InNamespace(a.ns), client.MatchingLabels{"app": "web"}); err != nil {
			return false, "", err
		}
		var states []string
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if w := cs.State.Waiting; w != nil {
					states = append(states, p.Name+": "+w.Reason)
					if w.Reason == reason {
						found = fmt.Sprintf("pod %s: container %s %s (%s)", p.Name, cs.Name, w.Reason, w.Message)
						return true, "", nil
					}
				}
			}
		}
		return false, strings.Join(states, ", "), nil
	}, "kwok", "kustomize-controller", "argocd-application-controller")
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "check: %s\n", found)
	return nil
}
