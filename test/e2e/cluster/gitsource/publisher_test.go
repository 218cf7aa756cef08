package gitsource_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dot-ai/dot/internal/gitserver"
	"github.com/dot-ai/dot/internal/testenv"
	"github.com/dot-ai/dot/test/e2e/cluster/gitsource"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestPublisherAgainstAPIServer runs a Publisher against a real
// kube-apiserver with the Flux CRDs, so the status it writes passes the CRD's
// schema, and the watch reacts to the requestedAt annotation. It needs etcd,
// kube-apiserver and the CRDs from `make testbin`.
func TestPublisherAgainstAPIServer(t *testing.T) {
	cfg := testenv.StartAPIServer(t, "crds/flux")

	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), sourcev1.AddToScheme(scheme)); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	git, err := gitserver.Start(t.Context(), gitserver.Options{Username: "flux", Password: "pa55word"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = git.Close() })
	c1, err := git.Seed(t.Context(), "app", map[string]string{"deploy/cm.yaml": "kind: ConfigMap\n"}, "one")
	if err != nil {
		t.Fatal(err)
	}

	pub, err := gitsource.New(cfg, gitsource.Options{Logger: testr.New(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	storageDir := pub.StorageDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pub.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start returned %v", err)
		}
		if _, err := os.Stat(storageDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("temporary storage %s left behind: %v", storageDir, err)
		}
	})
	select {
	case <-pub.Ready():
	case err := <-done:
		t.Fatalf("Start returned before ready: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("publisher not ready after a minute")
	}
	if !strings.HasPrefix(pub.URL(), "http://127.0.0.1:") {
		t.Errorf("URL = %q, want loopback", pub.URL())
	}

	const ns = "apps"
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "git-auth"},
			StringData: map[string]string{"username": "flux", "password": "pa55word"}},
		&sourcev1.GitRepository{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
			Spec: sourcev1.GitRepositorySpec{
				URL:       git.RepoURL("app"),
				Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
				// Long enough that only the annotation can explain a
				// second reconciliation within the test.
				Interval:  metav1.Duration{Duration: time.Hour},
				SecretRef: &meta.LocalObjectReference{Name: "git-auth"},
			},
		},
	} {
		if err := c.Create(t.Context(), obj); err != nil {
			t.Fatalf("create %T: %v", obj, err)
		}
	}
	key := client.ObjectKey{Namespace: ns, Name: "app"}

	start := time.Now()
	repo := waitFor(t, c, key, func(o *sourcev1.GitRepository) bool {
		return o.Status.Artifact != nil && o.Status.Artifact.Revision == "main@sha1:"+c1 && isReady(o)
	})
	t.Logf("first artifact after %v", time.Since(start).Round(time.Millisecond))
	art := repo.Status.Artifact
	if !strings.HasPrefix(art.URL, pub.URL()+"/") {
		t.Errorf("artifact URL %q not served by the publisher at %s", art.URL, pub.URL())
	}
	if got := sha256Of(t, art.URL); art.Digest != got {
		t.Errorf("digest = %s, served bytes hash to %s", art.Digest, got)
	}
	if repo.Status.ObservedGeneration != repo.Generation {
		t.Errorf("observedGeneration = %d, generation %d", repo.Status.ObservedGeneration, repo.Generation)
	}

	c2, err := git.Seed(t.Context(), "app", map[string]string{"deploy/cm.yaml": "kind: ConfigMap\ndata: {}\n"}, "two")
	if err != nil {
		t.Fatal(err)
	}
	token := time.Now().Format(time.RFC3339Nano)
	patch := client.MergeFrom(repo.DeepCopy())
	if repo.Annotations == nil {
		repo.Annotations = map[string]string{}
	}
	repo.Annotations[meta.ReconcileRequestAnnotation] = token
	start = time.Now()
	if err := c.Patch(t.Context(), repo, patch); err != nil {
		t.Fatal(err)
	}
	repo = waitFor(t, c, key, func(o *sourcev1.GitRepository) bool {
		return o.Status.LastHandledReconcileAt == token
	})
	t.Logf("requestedAt handled after %v", time.Since(start).Round(time.Millisecond))
	if repo.Status.Artifact.Revision != "main@sha1:"+c2 || !isReady(repo) {
		t.Errorf("after requestedAt: revision %s ready %v, want main@sha1:%s", repo.Status.Artifact.Revision, isReady(repo), c2)
	}

	if err := c.Delete(t.Context(), repo); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(storageDir, "gitrepository", ns, "app")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("artifacts of deleted GitRepository still in %s", dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func isReady(o *sourcev1.GitRepository) bool {
	return apimeta.IsStatusConditionTrue(o.Status.Conditions, meta.ReadyCondition)
}

func waitFor(t *testing.T, c client.Client, key client.ObjectKey, ok func(*sourcev1.GitRepository) bool) *sourcev1.GitRepository {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		o := &sourcev1.GitRepository{}
		if err := c.Get(t.Context(), key, o); err != nil {
			t.Fatal(err)
		}
		if ok(o) {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out; status: %+v", o.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sha256Of(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("sha256:%s", hex.EncodeToString(h.Sum(nil)))
}
