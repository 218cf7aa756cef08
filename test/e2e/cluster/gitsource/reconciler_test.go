package gitsource

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dot-ai/dot/internal/gitserver"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

const (
	gitUser = "flux"
	gitPass = "flux-s3cret-pass"
	ns      = "apps"
)

// testEnv is a real git server, a fake API server, and a reconciler whose
// artifacts are served by an httptest server with the Publisher's handler.
type testEnv struct {
	git     *gitserver.Server
	client  client.Client
	r       *reconciler
	clock   *fakeClock
	fetches atomic.Int32 // git-upload-pack POSTs: actual fetches, not ref listings
}

type fakeClock struct{ t atomic.Pointer[time.Time] }

func (c *fakeClock) now() time.Time { return *c.t.Load() }
func (c *fakeClock) advance(d time.Duration) {
	t := c.now().Add(d)
	c.t.Store(&t)
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	e := &testEnv{clock: &fakeClock{}}
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	e.clock.t.Store(&start)

	var err error
	e.git, err = gitserver.Start(t.Context(), gitserver.Options{
		Username: gitUser, Password: gitPass,
		Wrap: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
					e.fetches.Add(1)
				}
				next.ServeHTTP(w, r)
			})
		},
	})
	if err != nil {
		t.Fatalf("start git server: %v", err)
	}
	t.Cleanup(func() { _ = e.git.Close() })

	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), sourcev1.AddToScheme(scheme)); err != nil {
		t.Fatal(err)
	}
	e.client = fake.NewClientBuilder().
		WithScheme(scheme).
		WithStatusSubresource(&sourcev1.GitRepository{}).
		WithObjects(
			secret("git-auth", map[string]string{"username": gitUser, "password": gitPass}),
			secret("git-wrong", map[string]string{"username": gitUser, "password": "not-the-password"}),
		).
		Build()

	st := &storage{root: t.TempDir()}
	srv := httptest.NewServer(st.handler())
	t.Cleanup(srv.Close)
	e.r = &reconciler{client: e.client, storage: st, baseURL: srv.URL, now: e.clock.now, log: logr.Discard()}
	return e
}

func secret(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func gitRepo(name, url string, ref *sourcev1.GitRepositoryRef) *sourcev1.GitRepository {
	return &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1},
		Spec: sourcev1.GitRepositorySpec{
			URL:       url,
			Reference: ref,
			Interval:  metav1.Duration{Duration: time.Minute},
			SecretRef: &meta.LocalObjectReference{Name: "git-auth"},
		},
	}
}

// reconcile creates obj if needed, reconciles it once and returns the stored
// object and Reconcile's result.
func (e *testEnv) reconcile(t *testing.T, obj *sourcev1.GitRepository) (*sourcev1.GitRepository, ctrl.Result, error) {
	t.Helper()
	key := client.ObjectKeyFromObject(obj)
	if err := e.client.Get(t.Context(), key, &sourcev1.GitRepository{}); err != nil {
		if err := e.client.Create(t.Context(), obj.DeepCopy()); err != nil {
			t.Fatalf("create %s: %v", key, err)
		}
	}
	res, err := e.r.Reconcile(t.Context(), ctrl.Request{NamespacedName: key})
	got := &sourcev1.GitRepository{}
	if gErr := e.client.Get(t.Context(), key, got); gErr != nil {
		t.Fatalf("get %s: %v", key, gErr)
	}
	return got, res, err
}

func (e *testEnv) seed(t *testing.T, branch string, files map[string]string) string {
	t.Helper()
	sha, err := e.git.SeedBranch(t.Context(), "app", branch, files, "commit on "+branch)
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

func condition(obj *sourcev1.GitRepository, typ string) *metav1.Condition {
	return apimeta.FindStatusCondition(obj.Status.Conditions, typ)
}

// download fetches the artifact as a consumer would.
func download(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("download %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type tarEntry struct {
	hdr     *tar.Header
	content string
}

func untar(t *testing.T, b []byte) []tarEntry {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	tr := tar.NewReader(gz)
	var out []tarEntry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("untar: %v", err)
		}
		c, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr: hdr, content: string(c)})
	}
}

func fileContent(t *testing.T, entries []tarEntry, name string) string {
	t.Helper()
	for _, e := range entries {
		if e.hdr.Name == name {
			return e.content
		}
	}
	t.Fatalf("%s not in archive", name)
	return ""
}

func TestRevisionPerRefKind(t *testing.T) {
	e := newTestEnv(t)
	ctx := t.Context()
	c1 := e.seed(t, "main", map[string]string{"version.txt": "1"})
	c2 := e.seed(t, "main", map[string]string{"version.txt": "2"})
	m := e.seed(t, "master", map[string]string{"version.txt": "master"})
	o := e.seed(t, "other", map[string]string{"version.txt": "other"})
	for _, tag := range []struct{ name, target, msg string }{
		{"v1.0.0", c1, ""},            // lightweight
		{"v1.1.0", c2, "release 1.1"}, // annotated: resolves to the commit
		{"v2.0.0", o, ""},
		{"not-semver", c1, ""},
	} {
		if err := e.git.Tag(ctx, "app", tag.name, tag.target, tag.msg); err != nil {
			t.Fatal(err)
		}
	}
	url := e.git.RepoURL("app")

	tests := []struct {
		name         string
		ref          *sourcev1.GitRepositoryRef
		wantRevision string
		wantVersion  string
	}{
		{"branch", &sourcev1.GitRepositoryRef{Branch: "main"}, "main@sha1:" + c2, "2"},
		{"default branch is master", nil, "master@sha1:" + m, "master"},
		{"lightweight tag", &sourcev1.GitRepositoryRef{Tag: "v1.0.0"}, "v1.0.0@sha1:" + c1, "1"},
		{"annotated tag", &sourcev1.GitRepositoryRef{Tag: "v1.1.0"}, "v1.1.0@sha1:" + c2, "2"},
		{"tag wins over branch", &sourcev1.GitRepositoryRef{Branch: "main", Tag: "v1.0.0"}, "v1.0.0@sha1:" + c1, "1"},
		{"semver newest match", &sourcev1.GitRepositoryRef{SemVer: ">=1.0.0 <2.0.0"}, "v1.1.0@sha1:" + c2, "2"},
		{"semver wildcard", &sourcev1.GitRepositoryRef{SemVer: "2.x"}, "v2.0.0@sha1:" + o, "other"},
		{"name of a branch", &sourcev1.GitRepositoryRef{Name: "refs/heads/other"}, "other@sha1:" + o, "other"},
		{"name of a tag", &sourcev1.GitRepositoryRef{Name: "refs/tags/v1.0.0"}, "v1.0.0@sha1:" + c1, "1"},
		{"commit", &sourcev1.GitRepositoryRef{Commit: c1}, "sha1:" + c1, "1"},
		{"commit on branch", &sourcev1.GitRepositoryRef{Branch: "main", Commit: c1}, "main@sha1:" + c1, "1"},
	}
	pathRE := regexp.MustCompile(`^gitrepository/apps/[a-z0-9-]+/[0-9a-f]{40}\.tar\.gz$`)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, res, err := e.reconcile(t, gitRepo(fmt.Sprintf("ref-%d", i), url, tt.ref))
			if err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			if res.RequeueAfter != time.Minute {
				t.Errorf("RequeueAfter = %v, want spec.interval", res.RequeueAfter)
			}
			art := obj.Status.Artifact
			if art == nil {
				t.Fatalf("no artifact; conditions %+v", obj.Status.Conditions)
			}
			if art.Revision != tt.wantRevision {
				t.Errorf("revision = %q, want %q", art.Revision, tt.wantRevision)
			}
			if !pathRE.MatchString(art.Path) || art.URL != e.r.baseURL+"/"+art.Path {
				t.Errorf("path %q / url %q not in source-controller's layout", art.Path, art.URL)
			}
			if !art.LastUpdateTime.Time.Equal(e.clock.now()) || art.Size == nil || *art.Size == 0 {
				t.Errorf("lastUpdateTime %v size %v", art.LastUpdateTime, art.Size)
			}
			wantMsg := fmt.Sprintf("stored artifact for revision '%s'", tt.wantRevision)
			for _, typ := range []string{meta.ReadyCondition, sourcev1.ArtifactInStorageCondition} {
				c := condition(obj, typ)
				if c == nil || c.Status != metav1.ConditionTrue || c.Reason != meta.SucceededReason || c.Message != wantMsg || c.ObservedGeneration != 1 {
					t.Errorf("%s condition = %+v, want True/Succeeded/%q", typ, c, wantMsg)
				}
			}
			if obj.Status.ObservedGeneration != 1 {
				t.Errorf("observedGeneration = %d", obj.Status.ObservedGeneration)
			}
			if got := fileContent(t, untar(t, download(t, art.URL)), "version.txt"); got != tt.wantVersion {
				t.Errorf("archive version.txt = %q, want %q", got, tt.wantVersion)
			}
		})
	}
}

func TestArchiveIsDeterministicAndDigestMatchesServedBytes(t *testing.T) {
	e := newTestEnv(t)
	files := map[string]string{
		"kustomization.yaml":       "resources: [deploy/app.yaml]\n",
		"deploy/app.yaml":          "kind: Deployment\n",
		"deploy/nested/extra.yaml": "kind: ConfigMap\n",
		"README.md":                "read me\n",
	}
	sha := e.seed(t, "main", files)
	url := e.git.RepoURL("app")
	a, _, err := e.reconcile(t, gitRepo("a", url, &sourcev1.GitRepositoryRef{Branch: "main"}))
	if err != nil {
		t.Fatal(err)
	}
	e.clock.advance(time.Hour) // a later build of the same commit
	b, _, err := e.reconcile(t, gitRepo("b", url, &sourcev1.GitRepositoryRef{Commit: sha}))
	if err != nil {
		t.Fatal(err)
	}

	served := download(t, a.Status.Artifact.URL)
	sum := sha256.Sum256(served)
	if want := "sha256:" + hex.EncodeToString(sum[:]); a.Status.Artifact.Digest != want {
		t.Errorf("digest = %s, sha256 of served bytes = %s", a.Status.Artifact.Digest, want)
	}
	if *a.Status.Artifact.Size != int64(len(served)) {
		t.Errorf("size = %d, served %d bytes", *a.Status.Artifact.Size, len(served))
	}
	if a.Status.Artifact.Digest != b.Status.Artifact.Digest || !bytes.Equal(served, download(t, b.Status.Artifact.URL)) {
		t.Errorf("same commit built twice gave different archives: %s vs %s", a.Status.Artifact.Digest, b.Status.Artifact.Digest)
	}

	entries := untar(t, served)
	var names []string
	for _, en := range entries {
		names = append(names, en.hdr.Name)
		if !en.hdr.ModTime.Equal(time.Unix(0, 0)) || en.hdr.Uid != 0 || en.hdr.Gid != 0 {
			t.Errorf("%s: mtime %v uid %d gid %d, want fixed values", en.hdr.Name, en.hdr.ModTime, en.hdr.Uid, en.hdr.Gid)
		}
		if strings.HasPrefix(en.hdr.Name, ".git") {
			t.Errorf("archive contains %s", en.hdr.Name)
		}
		if en.hdr.Typeflag == tar.TypeReg && (en.hdr.Mode != 0o644 || files[en.hdr.Name] != en.content) {
			t.Errorf("%s: mode %o content %q", en.hdr.Name, en.hdr.Mode, en.content)
		}
	}
	want := []string{"README.md", "deploy/", "deploy/app.yaml", "deploy/nested/", "deploy/nested/extra.yaml", "kustomization.yaml"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("archive entries = %v, want %v", names, want)
	}
}

func TestAuthFailureIsAConditionWithoutTheSecret(t *testing.T) {
	e := newTestEnv(t)
	e.seed(t, "main", map[string]string{"a": "a"})
	url := e.git.RepoURL("app")
	withUserInfo := strings.Replace(url, "http://", "http://"+gitUser+":url-embedded-pass@", 1)

	tests := []struct {
		name      string
		url       string
		secretRef string // "" for none
		reason    string
		secrets   []string
	}{
		{"wrong password", url, "git-wrong", sourcev1.AuthenticationFailedReason, []string{"not-the-password", gitPass}},
		{"no credentials", url, "", sourcev1.AuthenticationFailedReason, []string{gitPass}},
		{"missing secret", url, "absent", sourcev1.AuthenticationFailedReason, []string{gitPass}},
		{"credentials in url", withUserInfo, "", sourcev1.AuthenticationFailedReason, []string{"url-embedded-pass"}},
		{"unknown branch", url, "git-auth", sourcev1.GitOperationFailedReason, []string{gitPass}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := gitRepo(fmt.Sprintf("fail-%d", i), tt.url, &sourcev1.GitRepositoryRef{Branch: "main"})
			if tt.name == "unknown branch" {
				obj.Spec.Reference.Branch = "nope"
			}
			obj.Spec.SecretRef = nil
			if tt.secretRef != "" {
				obj.Spec.SecretRef = &meta.LocalObjectReference{Name: tt.secretRef}
			}
			got, _, err := e.reconcile(t, obj)
			if err == nil {
				t.Fatal("Reconcile succeeded, want an error for backoff")
			}
			ready := condition(got, meta.ReadyCondition)
			if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != tt.reason {
				t.Fatalf("Ready = %+v, want False/%s", ready, tt.reason)
			}
			if ff := condition(got, sourcev1.FetchFailedCondition); ff == nil || ff.Status != metav1.ConditionTrue {
				t.Errorf("FetchFailed = %+v, want True", ff)
			}
			for _, s := range tt.secrets {
				if strings.Contains(ready.Message, s) || strings.Contains(err.Error(), s) {
					t.Errorf("message leaks a secret: %q", ready.Message)
				}
			}
			if got.Status.Artifact != nil || condition(got, sourcev1.ArtifactInStorageCondition) != nil {
				t.Errorf("failed reconcile produced an artifact: %+v", got.Status.Artifact)
			}
			if got.Status.ObservedGeneration != 1 {
				t.Errorf("observedGeneration = %d, want 1", got.Status.ObservedGeneration)
			}
			t.Logf("message: %s", ready.Message)
		})
	}

	t.Run("fixing the secret recovers", func(t *testing.T) {
		key := types.NamespacedName{Namespace: ns, Name: "git-wrong"}
		var s corev1.Secret
		if err := e.client.Get(t.Context(), key, &s); err != nil {
			t.Fatal(err)
		}
		s.Data["password"] = []byte(gitPass)
		if err := e.client.Update(t.Context(), &s); err != nil {
			t.Fatal(err)
		}
		got, _, err := e.reconcile(t, gitRepo("fail-0", url, nil))
		if err != nil {
			t.Fatal(err)
		}
		if c := condition(got, meta.ReadyCondition); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("Ready = %+v after fixing the secret", c)
		}
		if condition(got, sourcev1.FetchFailedCondition) != nil {
			t.Error("FetchFailed still present after success")
		}
	})
}

func TestRequestedAtIsHandled(t *testing.T) {
	e := newTestEnv(t)
	c1 := e.seed(t, "main", map[string]string{"v": "1"})
	obj := gitRepo("app", e.git.RepoURL("app"), &sourcev1.GitRepositoryRef{Branch: "main"})
	got, _, err := e.reconcile(t, obj)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Artifact.Revision != "main@sha1:"+c1 || got.Status.LastHandledReconcileAt != "" {
		t.Fatalf("first reconcile: revision %s lastHandled %q", got.Status.Artifact.Revision, got.Status.LastHandledReconcileAt)
	}

	c2 := e.seed(t, "main", map[string]string{"v": "2"})
	token := "2025-03-01T12:05:00.000000000Z"
	old := got.DeepCopy()
	got.Annotations = map[string]string{meta.ReconcileRequestAnnotation: token}
	if err := e.client.Update(t.Context(), got); err != nil {
		t.Fatal(err)
	}
	if !requestedAtChanged.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: got}) {
		t.Fatal("a requestedAt change does not trigger a reconcile")
	}
	got, _, err = e.reconcile(t, got)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.LastHandledReconcileAt != token {
		t.Errorf("lastHandledReconcileAt = %q, want %q", got.Status.LastHandledReconcileAt, token)
	}
	if got.Status.Artifact.Revision != "main@sha1:"+c2 {
		t.Errorf("revision after requestedAt = %s, want main@sha1:%s", got.Status.Artifact.Revision, c2)
	}
}

func TestEventFilter(t *testing.T) {
	base := gitRepo("app", "http://example.invalid/app.git", nil)
	base.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "a"}
	tests := []struct {
		name   string
		mutate func(*sourcev1.GitRepository)
		want   bool
	}{
		{"spec change", func(o *sourcev1.GitRepository) { o.Generation++ }, true},
		{"requestedAt change", func(o *sourcev1.GitRepository) { o.Annotations[meta.ReconcileRequestAnnotation] = "b" }, true},
		{"requestedAt removed", func(o *sourcev1.GitRepository) { delete(o.Annotations, meta.ReconcileRequestAnnotation) }, true},
		{"status only", func(o *sourcev1.GitRepository) { o.Status.ObservedGeneration = 1 }, false},
		{"other annotation", func(o *sourcev1.GitRepository) { o.Annotations["x"] = "y" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := base.DeepCopy()
			tt.mutate(n)
			if got := requestedAtChanged.Update(event.UpdateEvent{ObjectOld: base, ObjectNew: n}); got != tt.want {
				t.Errorf("Update = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUpToDateSkipsFetchAndOldArtifactsArePruned(t *testing.T) {
	e := newTestEnv(t)
	e.seed(t, "main", map[string]string{"v": "1"})
	obj := gitRepo("app", e.git.RepoURL("app"), &sourcev1.GitRepositoryRef{Branch: "main"})
	first, _, err := e.reconcile(t, obj)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.fetches.Load(); n != 1 {
		t.Fatalf("first reconcile fetched %d times, want 1", n)
	}

	e.clock.advance(time.Minute)
	again, _, err := e.reconcile(t, obj)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.fetches.Load(); n != 1 {
		t.Errorf("unchanged branch was fetched again (%d fetches)", n)
	}
	if !again.Status.Artifact.LastUpdateTime.Equal(&first.Status.Artifact.LastUpdateTime) || again.Status.Artifact.Digest != first.Status.Artifact.Digest {
		t.Errorf("unchanged revision rewrote the artifact: %+v -> %+v", first.Status.Artifact, again.Status.Artifact)
	}

	var paths []string
	for i := 2; i <= 4; i++ {
		e.seed(t, "main", map[string]string{"v": fmt.Sprint(i)})
		got, _, err := e.reconcile(t, obj)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, got.Status.Artifact.Path)
	}
	dir := filepath.Join(e.r.storage.root, "gitrepository", ns, "app")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, en := range entries {
		left = append(left, "gitrepository/"+ns+"/app/"+en.Name())
	}
	if want := paths[1:]; strings.Join(left, " ") != strings.Join(sortedCopy(want), " ") {
		t.Errorf("storage holds %v, want the current and previous artifacts %v", left, want)
	}

	if err := e.client.Delete(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
	if _, err := e.r.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("artifacts of a deleted GitRepository remain: %v", err)
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func TestSuspendedIsLeftAlone(t *testing.T) {
	e := newTestEnv(t)
	e.seed(t, "main", map[string]string{"v": "1"})
	obj := gitRepo("app", e.git.RepoURL("app"), &sourcev1.GitRepositoryRef{Branch: "main"})
	obj.Spec.Suspend = true
	obj.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "now"}
	got, res, err := e.reconcile(t, obj)
	if err != nil || res.RequeueAfter != 0 {
		t.Fatalf("Reconcile = %+v, %v", res, err)
	}
	if got.Status.Artifact != nil || len(got.Status.Conditions) != 0 || got.Status.LastHandledReconcileAt != "" || e.fetches.Load() != 0 {
		t.Errorf("suspended object was reconciled: %+v", got.Status)
	}
}

func TestUnsupportedSpecFails(t *testing.T) {
	e := newTestEnv(t)
	e.seed(t, "main", map[string]string{"v": "1"})
	tests := []struct {
		name   string
		mutate func(*sourcev1.GitRepository)
		reason string
	}{
		{"include", func(o *sourcev1.GitRepository) {
			o.Spec.Include = []sourcev1.GitRepositoryInclude{{GitRepositoryRef: meta.LocalObjectReference{Name: "x"}}}
		}, reasonUnsupported},
		{"verify", func(o *sourcev1.GitRepository) {
			o.Spec.Verification = &sourcev1.GitRepositoryVerification{SecretRef: meta.LocalObjectReference{Name: "keys"}}
		}, reasonUnsupported},
		{"ssh url", func(o *sourcev1.GitRepository) { o.Spec.URL = "ssh://git@example.com/app.git" }, sourcev1.URLInvalidReason},
		{"short commit", func(o *sourcev1.GitRepository) { o.Spec.Reference = &sourcev1.GitRepositoryRef{Commit: "abc123"} }, sourcev1.GitOperationFailedReason},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := gitRepo(fmt.Sprintf("unsupported-%d", i), e.git.RepoURL("app"), nil)
			tt.mutate(obj)
			got, _, err := e.reconcile(t, obj)
			if err == nil {
				t.Fatal("Reconcile succeeded")
			}
			if c := condition(got, meta.ReadyCondition); c == nil || c.Status != metav1.ConditionFalse || c.Reason != tt.reason {
				t.Errorf("Ready = %+v, want False/%s", c, tt.reason)
			}
		})
	}
}
