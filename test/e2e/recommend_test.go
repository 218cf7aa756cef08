//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/test/e2e/cluster"
)

// recommendReport is the part of dot recommend's JSON report the test reads.
type recommendReport struct {
	Owner        *gitops.Owner `json:"owner"`
	OwnerCreated bool          `json:"ownerCreated"`
	Validation   string        `json:"validation"`
	Commit       string        `json:"commit"`
	Sync         *struct {
		Health          string `json:"health"`
		AppliedRevision string `json:"appliedRevision"`
	} `json:"sync"`
	Delivery struct {
		Result gitops.Result `json:"result"`
	} `json:"delivery"`
}

// TestRecommend (issue 9): an intent with answers in a file goes to a new
// repository path; dot creates the owner (Flux GitRepository +
// Kustomization, or an Argo CD Application), the controller deploys it, the
// Deployment becomes Available on kwok nodes, and dot reports the commit
// and health. Running it again with the same answers commits nothing.
func TestRecommend(t *testing.T) {
	for _, owner := range []string{"flux", "argocd"} {
		t.Run(owner, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ns := newNamespace(t, "dot-rec-"+owner)
			repo, _ := newRepo(t, "dot-rec-"+owner, map[string]string{"README.md": "apps\n"})
			name := uniqueName(t, "shop")
			extra := []string{"--owner", owner}
			if owner == "flux" {
				secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git-auth", Namespace: ns},
					StringData: map[string]string{"username": gitUser, "password": gitPassword}}
				if err := suite.client.Create(ctx, secret); err != nil {
					t.Fatal(err)
				}
				extra = append(extra, "--owner-namespace", ns, "--git-secret", "git-auth")
			} else {
				t.Cleanup(func() {
					app := &unstructured.Unstructured{}
					app.SetGroupVersionKind(applicationGVK)
					app.SetNamespace(cluster.ArgoCDNamespace)
					app.SetName(name)
					suite.client.Delete(context.Background(), app)
				})
			}
			answers := filepath.Join(t.TempDir(), "answers.yaml")
			if err := os.WriteFile(answers, []byte(fmt.Sprintf("name: %s\nnamespace: %s\nreplicas: 2\ncpu: 50m\nmemory: 64Mi\n", name, ns)), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"recommend", "web app from registry.k8s.io/pause:3.10 on port 8080 with MODE=demo",
				"--answers", answers, "--repo", repoURLForCluster(repo), "--path", "apps/" + name, "--branch", "main", "--yes", "-o", "json"}, extra...)

			start := time.Now()
			rep := runRecommend(t, args...)
			first := time.Since(start)
			if !rep.OwnerCreated || rep.Owner == nil || !strings.HasPrefix(rep.Validation, "passed") {
				t.Fatalf("owner %v (created %v), validation %q", rep.Owner, rep.OwnerCreated, rep.Validation)
			}
			head, err := suite.git.Head(ctx, repo, "main")
			if err != nil {
				t.Fatal(err)
			}
			if rep.Commit != head || len(rep.Delivery.Result.Git) != 1 || rep.Delivery.Result.Git[0].Status != "configured" {
				t.Fatalf("commit %s, head %s, git results %+v", rep.Commit, head, rep.Delivery.Result.Git)
			}
			if rep.Sync == nil || rep.Sync.Health != "Healthy" || !strings.Contains(rep.Sync.AppliedRevision, head) {
				t.Fatalf("sync report %+v, want Healthy at %s", rep.Sync, head)
			}
			var d appsv1.Deployment
			if err := suite.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
				t.Fatal(err)
			}
			if !deploymentAvailable(&d) || *d.Spec.Replicas != 2 {
				t.Fatalf("deployment %s/%s not available: %+v", ns, name, d.Status)
			}
			if got := fileAt(t, repo, "apps/"+name+"/deployment-"+name+".yaml"); !strings.Contains(got, "image: registry.k8s.io/pause:3.10") {
				t.Fatalf("deployment file:\n%s", got)
			}
			t.Logf("%s: first run %s: commit %s, %s, owner %s", owner, first.Round(100*time.Millisecond), head[:7], rep.Sync.Health, rep.Owner)

			start = time.Now()
			again := runRecommend(t, args...)
			second := time.Since(start)
			head2, err := suite.git.Head(ctx, repo, "main")
			if err != nil {
				t.Fatal(err)
			}
			if head2 != head || again.OwnerCreated || again.Commit != head || len(again.Delivery.Result.Git) != 1 || again.Delivery.Result.Git[0].Status != "unchanged" {
				t.Fatalf("second run: head %s → %s, owner created %v, commit %s, git %+v", head, head2, again.OwnerCreated, again.Commit, again.Delivery.Result.Git)
			}
			if again.Sync == nil || again.Sync.Health != "Healthy" {
				t.Fatalf("second run sync %+v", again.Sync)
			}
			t.Logf("%s: second run %s: unchanged at %s, owner %s", owner, second.Round(100*time.Millisecond), head2[:7], again.Owner)

			// A dry run with the table output: nothing pending.
			dry := append([]string{}, args...)
			for i, a := range dry {
				if a == "json" {
					dry[i] = "table"
				}
			}
			out, errOut, code := dotCLI(t, append(dry, "--dry-run")...)
			if code != 0 || !strings.Contains(out, "no changes: nothing to commit") || !strings.Contains(out, "VALIDATION  passed") {
				t.Fatalf("dry run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			t.Logf("%s: dry run output:\n%s", owner, out)
		})
	}
}

// TestRecommendDirect: --gitops=off applies the manifests server-side and
// waits for them (no Git involved).
func TestRecommendDirect(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "dot-rec-direct")
	out, errOut, code := dotCLI(t, "recommend", "worker from registry.k8s.io/pause:3.10 named queue, 2 replicas", "-n", ns, "--gitops=off", "--yes")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var d appsv1.Deployment
	if err := suite.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "queue"}, &d); err != nil {
		t.Fatal(err)
	}
	if !deploymentAvailable(&d) {
		t.Fatalf("deployment not available: %+v\n%s", d.Status, out)
	}
	t.Logf("direct:\n%s", out)

	// The API server rejects a schedule dot cannot check: its message is
	// shown and nothing is applied.
	out, errOut, code = dotCLI(t, "recommend", "cron job from registry.k8s.io/pause:3.10 named tick", "--schedule", "every tuesday", "-n", ns, "--gitops=off", "--yes")
	if code != 1 || !strings.Contains(errOut, "CronJob") || !strings.Contains(errOut, "spec.schedule") {
		t.Fatalf("want exit 1 with the API server's message about spec.schedule, got %d\nstderr:\n%s\nstdout:\n%s", code, errOut, out)
	}
	t.Logf("rejected: %s", strings.TrimSpace(errOut[strings.LastIndex(errOut, "Error:"):]))
}

func runRecommend(t *testing.T, args ...string) recommendReport {
	t.Helper()
	out, errOut, code := dotCLI(t, args...)
	if code != 0 {
		t.Fatalf("dot %s: exit %d\nstderr:\n%s\nstdout:\n%s", strings.Join(args, " "), code, errOut, out)
	}
	var r recommendReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not the JSON report: %v\n%s", err, out)
	}
	return r
}
