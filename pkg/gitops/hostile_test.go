package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestHostileInputs (gitops layer): owners whose source settings dot must
// refuse. Each case must fail with an error naming the setting and the
// owner, never echo a credential, and leave the remote branch untouched.
func TestHostileInputs(t *testing.T) {
	cases := []struct {
		name string
		// repoURL and revision replace the Application's source fields; the
		// server's URL is substituted for %s in repoURL.
		repoURL, revision string
		// tag creates this tag on the seed commit first.
		tag     string
		wantErr error
		wantMsg []string
		secret  string
	}{
		{
			name: "password in the repo URL", repoURL: "http://bot:hunter2@%s", revision: "main",
			wantErr: ErrCredentialsInURL, wantMsg: []string{"repository URL", "Application argocd/web", "DOT_GIT_TOKEN"}, secret: "hunter2",
		},
		{
			name: "token as user name in the repo URL", repoURL: "http://ghp_s3cr3tT0ken@%s", revision: "main",
			wantErr: ErrCredentialsInURL, wantMsg: []string{"repository URL", "Application argocd/web"}, secret: "ghp_s3cr3tT0ken",
		},
		{
			name: "refs/tags ref", revision: "refs/tags/v1.0.0", tag: "v1.0.0",
			wantErr: ErrRefNotPushable, wantMsg: []string{"refs/tags/v1.0.0"},
		},
		{
			// Argo CD takes a bare name for a branch or a tag; the clone finds
			// no such branch.
			name: "bare tag name as targetRevision", revision: "v1.0.0", tag: "v1.0.0",
			wantErr: ErrRefNotPushable, wantMsg: []string{`"v1.0.0"`, "tag or commit cannot be pushed"},
		},
		{
			name: "commit SHA as targetRevision", revision: "3f786850e387550fdab836ed7e6dc881de23001b",
			wantErr: ErrRefNotPushable, wantMsg: []string{"3f786850e387550fdab836ed7e6dc881de23001b"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newDeliverEnv(t, "main")
			ctx := context.Background()
			before, err := e.srv.Head(ctx, overlayRepo, "main")
			if err != nil {
				t.Fatal(err)
			}
			if tc.tag != "" {
				if err := e.srv.Tag(ctx, overlayRepo, tc.tag, before, "release"); err != nil {
					t.Fatal(err)
				}
			}
			app := &unstructured.Unstructured{}
			app.SetAPIVersion("argoproj.io/v1alpha1")
			app.SetKind("Application")
			if err := e.d.Cluster.Client.Get(ctx, client.ObjectKey{Namespace: "argocd", Name: "web"}, app); err != nil {
				t.Fatal(err)
			}
			if tc.repoURL != "" {
				url := fmt.Sprintf(tc.repoURL, strings.TrimPrefix(e.srv.RepoURL(overlayRepo), "http://"))
				if err := unstructured.SetNestedField(app.Object, url, "spec", "source", "repoURL"); err != nil {
					t.Fatal(err)
				}
			}
			if err := unstructured.SetNestedField(app.Object, tc.revision, "spec", "source", "targetRevision"); err != nil {
				t.Fatal(err)
			}
			if err := e.d.Cluster.Client.Update(ctx, app); err != nil {
				t.Fatal(err)
			}
			var derr error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("Deliver panicked: %v", r)
					}
				}()
				_, _, derr = e.d.Deliver(ctx, scaleWeb(5, nil))
			}()
			if derr == nil {
				t.Fatal("Deliver succeeded")
			}
			if tc.wantErr != nil && !errors.Is(derr, tc.wantErr) {
				t.Errorf("err = %v, want %v", derr, tc.wantErr)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(derr.Error(), m) {
					t.Errorf("error does not mention %q: %v", m, derr)
				}
			}
			if tc.secret != "" && strings.Contains(derr.Error(), tc.secret) {
				t.Errorf("error echoes the credential: %v", derr)
			}
			if after, _ := e.srv.Head(ctx, overlayRepo, "main"); after != before {
				t.Errorf("branch main moved %s → %s", before, after)
			}
			if log, _ := e.srv.Log(ctx, overlayRepo, "main"); len(log) != 1 {
				t.Errorf("main has %d commits, want the seed only", len(log))
			}
			t.Logf("error: %v", derr)
		})
	}
}
