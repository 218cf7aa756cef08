package gitops

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/dot-ai/dot/internal/fixture"
	"github.com/dot-ai/dot/pkg/kube"
)

// apiCalls counts the calls a lookup makes.
type apiCalls struct{ gets, lists atomic.Int64 }

func newFixtureCluster(t testing.TB, file string) (*Cluster, *apiCalls) {
	t.Helper()
	calls := &apiCalls{}
	objs, err := fixture.LoadObjects(filepath.Join("testdata", "owner", file))
	if err != nil {
		t.Fatal(err)
	}
	c := fixture.NewBuilder().
		WithObjects(objs...).
		WithInterceptorFuncs(interceptor.Funcs{
			Get: func(ctx context.Context, cl client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				calls.gets.Add(1)
				return cl.Get(ctx, key, obj, opts...)
			},
			List: func(ctx context.Context, cl client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
				calls.lists.Add(1)
				return cl.List(ctx, list, opts...)
			},
		}).Build()
	return &Cluster{Client: c}, calls
}

func ref(group, version, kind, ns, name string) kube.ObjectRef {
	return kube.ObjectRef{Group: group, Version: version, Kind: kind, Namespace: ns, Name: name}
}

func TestFindOwner(t *testing.T) {
	type want struct {
		owner    string // "Application argocd/web"
		object   string // the object the owner applies
		walked   int
		evidence []string // substrings of the joined evidence
		parents  []string
		err      error    // errors.Is target
		errText  []string // substrings of the error
		maxGets  int64
	}
	cases := []struct {
		name    string
		fixture string
		ref     kube.ObjectRef
		want    want
	}{
		{"argo annotation, pod walked to deployment", "argocd-annotation.yaml", ref("", "v1", "Pod", "prod", "web-7c9d-x2k4p"), want{
			owner: "Application argocd/web", object: "prod/deployment.apps/web", walked: 2,
			evidence: []string{"annotation argocd.argoproj.io/tracking-id=web:apps/Deployment:prod/web on prod/deployment.apps/web"},
			maxGets:  6, // pod, rs, deployment, argocd-cm, application, application (parent check)
		}},
		{"argo annotation, deployment itself (version from the mapper)", "argocd-annotation.yaml", ref("apps", "", "Deployment", "prod", "web"), want{
			owner: "Application argocd/web", object: "prod/deployment.apps/web", maxGets: 4,
		}},
		{"argo copied annotation is rejected", "argocd-annotation.yaml", ref("", "v1", "ConfigMap", "prod", "web-cache"), want{
			err: ErrNotManaged, errText: []string{"names another object (copied annotation)"},
		}},
		{"argo app in another namespace (ns_name)", "argocd-annotation.yaml", ref("", "v1", "Service", "team-a", "api"), want{
			owner: "Application team-a/api", object: "team-a/service/api",
		}},
		{"argo label confirmed by status.resources", "argocd-label.yaml", ref("apps", "v1", "Deployment", "shop", "shop"), want{
			owner: "Application argocd/shop", evidence: []string{"label app.kubernetes.io/instance=shop", "listed in Application argocd/shop status.resources"},
		}},
		{"helm label trap: app exists but does not list the object", "argocd-label.yaml", ref("apps", "v1", "Deployment", "shop", "shop-redis"), want{
			err: ErrNotManaged, errText: []string{"does not list it in status.resources"},
		}},
		{"helm label trap: no such app", "argocd-label.yaml", ref("apps", "v1", "Deployment", "shop", "metrics"), want{
			err: ErrNotManaged, errText: []string{"no Application argocd/metrics"},
		}},
		{"flux kustomization confirmed by inventory", "flux.yaml", ref("apps", "v1", "Deployment", "prod", "web"), want{
			owner: "Kustomization flux-system/apps", evidence: []string{"inventory entry prod_web_apps_Deployment"},
		}},
		{"flux labels without inventory entry are rejected", "flux.yaml", ref("apps", "v1", "Deployment", "prod", "debug"), want{
			err: ErrNotManaged, errText: []string{"not in Kustomization flux-system/apps inventory"},
		}},
		{"flux helmrelease with parent kustomization", "flux.yaml", ref("apps", "v1", "Deployment", "prod", "podinfo"), want{
			owner: "HelmRelease prod/podinfo", evidence: []string{"Helm release prod/podinfo"},
			parents: []string{"Kustomization flux-system/apps"},
		}},
		{"job walked to cronjob", "flux.yaml", ref("batch", "v1", "Job", "prod", "report-29123"), want{
			owner: "Kustomization flux-system/apps", object: "prod/cronjob.batch/report", walked: 1,
		}},
		{"app of apps: child application has a parent", "mixed.yaml", ref("apps", "v1", "Deployment", "child", "child"), want{
			owner: "Application argocd/child", parents: []string{"Application argocd/root"},
			// annotation+label: the annotation decides; the label naming
			// another app is not consulted.
			evidence: []string{"tracking-id=child:apps/Deployment:child/child"},
		}},
		{"installation id of another Argo CD", "mixed.yaml", ref("apps", "v1", "Deployment", "child", "other-install"), want{
			err: ErrNotManaged, errText: []string{`installation id "staging" does not match argocd-cm installationID "prod-east"`},
		}},
		{"claimed by Argo CD and Flux", "mixed.yaml", ref("apps", "v1", "Deployment", "child", "contested"), want{
			err: ErrAmbiguousOwner, errText: []string{"Application argocd/child", "Kustomization flux-system/dup"},
		}},
		{"plain object", "mixed.yaml", ref("", "v1", "ConfigMap", "child", "plain"), want{
			err: ErrNotManaged, errText: []string{"child/configmap/plain is not managed by Argo CD or Flux"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, calls := newFixtureCluster(t, tc.fixture)
			o, err := c.FindOwner(context.Background(), tc.ref)
			w := tc.want
			if w.err != nil {
				if !errors.Is(err, w.err) {
					t.Fatalf("err = %v, want %v", err, w.err)
				}
				for _, s := range w.errText {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("FindOwner: %v", err)
			}
			if o.String() != w.owner {
				t.Errorf("owner = %s, want %s", o, w.owner)
			}
			if w.object != "" && o.Object.String() != w.object {
				t.Errorf("object = %s, want %s", o.Object, w.object)
			}
			if len(o.Walked) != w.walked {
				t.Errorf("walked %v, want %d hops", o.Walked, w.walked)
			}
			ev := strings.Join(o.Evidence, "\n")
			for _, s := range w.evidence {
				if !strings.Contains(ev, s) {
					t.Errorf("evidence %q does not contain %q", ev, s)
				}
			}
			var parents []string
			for p := o.Parent; p != nil; p = p.Parent {
				parents = append(parents, p.String())
			}
			if strings.Join(parents, ",") != strings.Join(w.parents, ",") {
				t.Errorf("parents = %v, want %v", parents, w.parents)
			}
			if calls.lists.Load() != 0 {
				t.Errorf("FindOwner listed objects %d times; it must only GET", calls.lists.Load())
			}
			if w.maxGets > 0 && calls.gets.Load() > w.maxGets {
				t.Errorf("FindOwner made %d GETs, want at most %d", calls.gets.Load(), w.maxGets)
			}
		})
	}
}

func TestArgoSettingsAreReadOnce(t *testing.T) {
	c, calls := newFixtureCluster(t, "argocd-annotation.yaml")
	ctx := context.Background()
	for range 3 {
		if _, err := c.FindOwner(ctx, ref("apps", "v1", "Deployment", "prod", "web")); err != nil {
			t.Fatal(err)
		}
	}
	// deployment + application + parent check per lookup, argocd-cm once.
	if got := calls.gets.Load(); got != 3*3+1 {
		t.Errorf("3 lookups made %d GETs, want %d (argocd-cm cached)", got, 3*3+1)
	}
}

func TestParseTrackingID(t *testing.T) {
	cases := []struct {
		in   string
		want TrackingID
		bad  bool
	}{
		{in: "web:apps/Deployment:prod/web", want: TrackingID{AppName: "web", Group: "apps", Kind: "Deployment", Namespace: "prod", Name: "web"}},
		{in: "team-a_api:/Service:team-a/api", want: TrackingID{AppNamespace: "team-a", AppName: "api", Kind: "Service", Namespace: "team-a", Name: "api"}},
		{in: "root:rbac.authorization.k8s.io/ClusterRole:/viewer", want: TrackingID{AppName: "root", Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "viewer"}},
		{in: "web", bad: true},
		{in: "web:apps/Deployment", bad: true},
		{in: ":apps/Deployment:prod/web", bad: true},
		{in: "web:apps:prod/web", bad: true},
	}
	for _, tc := range cases {
		got, err := ParseTrackingID(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: want an error", tc.in)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseTrackingID(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}
