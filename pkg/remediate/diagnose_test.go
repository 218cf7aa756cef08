package remediate

import (
	"context"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/internal/fixture"
	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
)

// fakeCluster loads fixture files into a fake client; mutate may change
// the objects first (e.g. add tracking metadata).
func fakeCluster(t *testing.T, mutate func(client.Object), files ...string) client.WithWatch {
	t.Helper()
	var all []client.Object
	for _, f := range files {
		objs, err := fixture.LoadObjects("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, objs...)
	}
	if mutate != nil {
		for _, o := range all {
			mutate(o)
		}
	}
	return fixture.NewBuilder().WithObjects(all...).Build()
}

func isWeb(o client.Object) bool {
	return o.GetObjectKind().GroupVersionKind().Kind == "Deployment" && o.GetName() == "web"
}

var webDeployment = kube.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"}

// TestDiagnoseGitOps: the diagnosis names the owner and its source on each
// finding, reports an Argo CD Application that cannot render its source as
// a root cause, and a Flux Kustomization whose health check fails as a
// consequence.
func TestDiagnoseGitOps(t *testing.T) {
	cases := []struct {
		name, file string
		mutate     func(client.Object)
		owner      string
		source     string
		ownerWant  want
	}{
		{"argocd", "owner-argocd.yaml", func(o client.Object) {
			if isWeb(o) {
				o.SetAnnotations(map[string]string{"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/web"})
			}
		}, "Application argocd/shop", "https://git.example.com/acme/shop.git@main:overlays/prod",
			want{id: FindingGitOpsSyncFailed, object: "Application/shop", severity: SeverityCritical,
				summary:  "Application argocd/shop fails to sync: ComparisonError: Failed to load target state",
				evidence: []string{"open overlays/prod/hpa.yaml: no such file or directory"}}},
		{"flux", "owner-flux.yaml", func(o client.Object) {
			if isWeb(o) {
				o.SetLabels(map[string]string{"kustomize.toolkit.fluxcd.io/name": "shop", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"})
			}
		}, "Kustomization flux-system/shop", "https://git.example.com/acme/shop.git@main:overlays/prod",
			want{id: FindingGitOpsUnhealthy, object: "Kustomization/shop", severity: SeverityInfo,
				summary:  "Kustomization flux-system/shop reports Degraded: a consequence of the findings above",
				evidence: []string{"Ready=False (HealthCheckFailed)"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := fakeCluster(t, tc.mutate, "oom.yaml", tc.file)
			cfg := &Config{Client: c, Cluster: &gitops.Cluster{Client: c}}
			pod := kube.ObjectRef{Version: "v1", Kind: "Pod", Namespace: "shop", Name: "web-7d9c5b8f6-2xkqp"}
			d, err := cfg.Diagnose(context.Background(), Target{Object: &pod})
			if err != nil {
				t.Fatal(err)
			}
			checkFindings(t, d.Findings, []want{
				{id: FindingOOMKilled, object: "Deployment/web", container: "web", severity: SeverityCritical, pods: 2, summary: "OOMKilled"},
				{id: FindingUnavailable, object: "Deployment/web", severity: SeverityCritical},
				tc.ownerWant,
			})
			for _, f := range d.Findings {
				if f.Owner == nil || f.Owner.Owner != tc.owner || f.Owner.Source != tc.source {
					t.Errorf("%s: owner %+v, want %s from %s", f.Key(), f.Owner, tc.owner, tc.source)
				}
			}
			if d.Target != "pod/web-7d9c5b8f6-2xkqp (shop)" {
				t.Errorf("target %q", d.Target)
			}
			// The pod goes away with the rollout of the fix: verification
			// looks at its Deployment.
			if st := d.Stable(); st.Object == nil || !st.Object.SameObject(webDeployment) {
				t.Errorf("stable target %v, want deployment/web", st)
			}
		})
	}
}

// TestDiagnoseScope: a namespace diagnosis reports every object; an object
// diagnosis only what concerns it; a missing object is an error.
func TestDiagnoseScope(t *testing.T) {
	c := fakeCluster(t, nil, "service.yaml")
	cfg := &Config{Client: c}
	ctx := context.Background()
	d, err := cfg.Diagnose(ctx, Target{Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Findings) != 2 || d.Target != "namespace shop" {
		t.Errorf("namespace: %d findings, target %q", len(d.Findings), d.Target)
	}
	d, err = cfg.Diagnose(ctx, Target{Object: &webDeployment})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Findings) != 1 || d.Findings[0].ID != FindingServiceNoPods {
		t.Errorf("deployment/web: %+v, want only the service nearly selecting it", d.Findings)
	}
	missing := webDeployment
	missing.Name = "nope"
	if _, err := cfg.Diagnose(ctx, Target{Object: &missing}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing object: err = %v", err)
	}
}

// TestDiagnoseIngressPDBJobNode: the Ingress, disruption budget, Job and
// Node findings come out of a diagnosis read through a client, scoped to
// the object asked about, and each gets advice — options, no change: no
// rule is sure enough to change a class, a budget, a job or a node.
func TestDiagnoseIngressPDBJobNode(t *testing.T) {
	obj := func(group, kind, name string) *kube.ObjectRef {
		return &kube.ObjectRef{Group: group, Version: "v1", Kind: kind, Namespace: "shop", Name: name}
	}
	cases := []struct {
		file   string
		target *kube.ObjectRef
		want   []string // finding IDs on objects, "ID Kind/name"
		option string   // in the options of the first finding's advice
	}{
		{"ingress.yaml", obj("networking.k8s.io", "Ingress", "shop"),
			[]string{"IngressClassMissing Ingress/shop", "IngressBackendMissing Ingress/shop", "IngressTLSSecretMissing Ingress/shop"}, "ingressClassName to a class the cluster has (nginx)"},
		// The api Service is a backend of Ingress shop: its findings concern it.
		{"ingress.yaml", obj("", "Service", "api"),
			[]string{"IngressClassMissing Ingress/shop", "IngressBackendMissing Ingress/shop", "IngressTLSSecretMissing Ingress/shop"}, "nginx"},
		{"ingress.yaml", obj("networking.k8s.io", "Ingress", "admin"), nil, ""},
		{"pdb.yaml", obj("apps", "Deployment", "web"), []string{"PDBBlocksDisruption PodDisruptionBudget/web"}, "maxUnavailable: 1"},
		{"pdb.yaml", obj("apps", "Deployment", "worker"), []string{"PDBSelectsNoPods PodDisruptionBudget/worker"}, "selector match"},
		{"pdb.yaml", obj("policy", "PodDisruptionBudget", "web"), []string{"PDBBlocksDisruption PodDisruptionBudget/web"}, "raise the workload's replicas"},
		// A CronJob's run is diagnosed on its CronJob, which Git holds.
		{"job.yaml", obj("batch", "Job", "report-29002"), []string{"JobFailed CronJob/report"}, "kubectl logs -n shop report-29002-x7k2p"},
		{"job.yaml", obj("batch", "Job", "migrate"), []string{"JobFailed Job/migrate"}, "activeDeadlineSeconds"},
		{"job.yaml", obj("batch", "CronJob", "cleanup"), []string{"CronJobInvalidSchedule CronJob/cleanup"}, "five fields"},
		{"job.yaml", obj("batch", "CronJob", "hourly"), nil, ""},
		{"node.yaml", obj("apps", "Deployment", "web"), []string{"NodeNotReady Node/node-1", "NodePressure Node/node-2"}, "kubectl drain node-1"},
		{"node.yaml", &kube.ObjectRef{Version: "v1", Kind: "Pod", Namespace: "shop", Name: "web-7d9c-bbbbb"}, []string{"NodeNotReady Node/node-1", "NodePressure Node/node-2"}, "drain"},
	}
	for _, tc := range cases {
		t.Run(tc.file+" "+tc.target.Kind+"/"+tc.target.Name, func(t *testing.T) {
			cfg := &Config{Client: fakeCluster(t, nil, tc.file)}
			d, err := cfg.Diagnose(context.Background(), Target{Object: tc.target})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range d.Findings {
				got = append(got, f.ID+" "+f.Object.Kind+"/"+f.Object.Name)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("findings:\n%s\nwant:\n%s\nnotes: %v", strings.Join(got, "\n"), strings.Join(tc.want, "\n"), d.Notes)
			}
			fixes := Propose(d)
			if len(fixes) != len(d.Findings) {
				t.Fatalf("%d fixes for %d findings", len(fixes), len(d.Findings))
			}
			for _, fx := range fixes {
				if fx.Rule != "advice" || fx.Actionable() || len(fx.Options) == 0 {
					t.Errorf("%s: rule %s, actionable %v, options %v: want advice only", fx.Finding, fx.Rule, fx.Actionable(), fx.Options)
				}
			}
			if tc.option != "" && !strings.Contains(strings.Join(fixes[0].Options, "\n"), tc.option) {
				t.Errorf("options %q do not contain %q", fixes[0].Options, tc.option)
			}
		})
	}
}
