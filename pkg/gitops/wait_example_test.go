package gitops_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/gitops/argocd"
	"github.com/dot-ai/dot/pkg/kube"
)

// Wait for the commit just pushed to be applied and healthy. Here a fake
// client holds an Application Argo CD already synced; against a cluster, use
// kube.NewClients and FindOwner.
func ExampleCluster_Wait() {
	const pushed = "3f786850e387550fdab836ed7e6dc881de23001b"
	finished := metav1.NewTime(time.Date(2026, 11, 21, 10, 0, 7, 0, time.UTC))
	compared := metav1.NewTime(finished.Add(time.Second))
	app := &argocd.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "argocd"},
		Spec: argocd.ApplicationSpec{
			Source:     &argocd.ApplicationSource{RepoURL: "https://git.example.com/acme/deploy.git", TargetRevision: "main", Path: "apps/web"},
			SyncPolicy: &argocd.SyncPolicy{Automated: &argocd.SyncPolicyAutomated{Prune: true}},
		},
		Status: argocd.ApplicationStatus{
			Sync:         argocd.SyncStatus{Status: argocd.SyncStatusSynced, Revision: pushed},
			Health:       argocd.HealthStatus{Status: argocd.HealthHealthy},
			ReconciledAt: &compared,
			OperationState: &argocd.OperationState{Phase: argocd.OperationSucceeded, FinishedAt: &finished,
				SyncResult: &argocd.SyncOperationResult{Revision: pushed}},
		},
	}
	cl := fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(app).Build()
	c := &gitops.Cluster{Client: cl}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	owner := &gitops.Owner{Kind: gitops.OwnerArgoCDApplication, Namespace: "argocd", Name: "web"}
	report, err := c.Wait(ctx, owner, pushed, gitops.WaitOptions{
		OnEvent: func(e gitops.Event) { fmt.Printf("%s: %s\n", e.Step, e.Message) },
	})
	var we *gitops.WaitError
	switch {
	case errors.As(err, &we) && we.Timeout:
		fmt.Println("timed out:", we.Last)
	case err != nil:
		fmt.Println("failed:", err)
	default:
		fmt.Println(report.Summary())
	}
	// Output:
	// trigger: refresh requested
	// done: synced at 3f78685, healthy
	// Application argocd/web at 3f786850e387550fdab836ed7e6dc881de23001b Synced Healthy
}
