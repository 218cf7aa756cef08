package gitops

import (
	"context"
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
)

func TestSources(t *testing.T) {
	cases := []struct {
		name    string
		fixture string
		owner   Owner
		want    []string // Source.String() + kind details, per source
	}{
		{"argo kustomize with image override", "argocd-annotation.yaml", Owner{Kind: OwnerArgoCDApplication, Namespace: "argocd", Name: "web"},
			[]string{"https://git.example.com/acme/apps.git@main:apps/web/overlays/prod Branch Kustomize ns=prod overrides=[kustomize.images web=registry.example.com/web:1.4.2]"}},
		{"argo directory recurse on HEAD over ssh", "argocd-annotation.yaml", Owner{Kind: OwnerArgoCDApplication, Namespace: "team-a", Name: "api"},
			[]string{"git@git.example.com:acme/team-a.git@HEAD:api Default Directory ns=team-a recurse"}},
		{"argo multi-source: chart with $values ref", "mixed.yaml", Owner{Kind: OwnerArgoCDApplication, Namespace: "argocd", Name: "child"},
			[]string{"https://charts.example.com@~1.4.0:. Semver Helm ns=child chart=child values=[$values/child/values.yaml]",
				"https://git.example.com/acme/values.git@main:. Branch  ns=child ref=values"}},
		{"flux kustomization", "flux.yaml", Owner{Kind: OwnerFluxKustomization, Namespace: "flux-system", Name: "apps"},
			[]string{"https://git.example.com/acme/platform.git@main:clusters/prod/apps Branch Kustomize ns=prod overrides=[spec.images web] secret=flux-system/platform-auth"}},
		{"flux helmrelease from a git chart", "flux.yaml", Owner{Kind: OwnerFluxHelmRelease, Namespace: "prod", Name: "podinfo"},
			[]string{"https://git.example.com/acme/platform.git@main:charts/podinfo Branch Helm ns=prod overrides=[spec.values in the HelmRelease] values=[./charts/podinfo/values-prod.yaml] secret=flux-system/platform-auth"}},
		{"flux semver ref", "mixed.yaml", Owner{Kind: OwnerFluxKustomization, Namespace: "flux-system", Name: "dup"},
			[]string{"https://git.example.com/acme/flux.git@>=1.0.0:dup Semver Kustomize"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newFixtureCluster(t, tc.fixture)
			srcs, err := c.Sources(context.Background(), &tc.owner)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range srcs {
				got = append(got, describeSource(s))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("sources:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func describeSource(s Source) string {
	d := s.String() + " " + string(s.RefKind) + " " + string(s.Render)
	if s.Namespace != "" {
		d += " ns=" + s.Namespace
	}
	if s.Recurse {
		d += " recurse"
	}
	if s.Chart != "" {
		d += " chart=" + s.Chart
	}
	if s.RefName != "" {
		d += " ref=" + s.RefName
	}
	if len(s.Overrides) > 0 {
		d += " overrides=[" + strings.Join(s.Overrides, ", ") + "]"
	}
	if len(s.ValueFiles) > 0 {
		d += " values=[" + strings.Join(s.ValueFiles, ", ") + "]"
	}
	if s.SecretRef != "" {
		d += " secret=" + s.SecretRef
	}
	return d
}

func TestArgoSourcesHydratorAndCredentials(t *testing.T) {
	app := &argocd.Application{ObjectMeta: metav1.ObjectMeta{Name: "h", Namespace: "argocd"}, Spec: argocd.ApplicationSpec{
		SourceHydrator: &argocd.SourceHydrator{
			DrySource:  argocd.DrySource{RepoURL: "https://git.example.com/a.git", TargetRevision: "main", Path: "./env/prod"},
			SyncSource: argocd.SyncSource{TargetBranch: "env/prod-next", Path: "env/prod"},
		},
	}}
	srcs, err := ArgoSources(app)
	if err != nil || len(srcs) != 1 || !srcs[0].Hydrated || srcs[0].Ref != "main" || srcs[0].Path != "env/prod" {
		t.Fatalf("hydrator: edits must go to the dry source; got %+v, %v", srcs, err)
	}

	app.Spec.SourceHydrator = nil
	app.Spec.Source = &argocd.ApplicationSource{RepoURL: "https://bot:hunter2@git.example.com/a.git", Path: "x"}
	_, err = ArgoSources(app)
	if !errors.Is(err, ErrCredentialsInURL) || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "Application argocd/h") {
		t.Errorf("credentials in URL: err = %v", err)
	}
}

func TestClassifyArgoRevision(t *testing.T) {
	cases := []struct {
		rev   string
		chart bool
		want  RefKind
	}{
		{"", false, RefDefault}, {"HEAD", false, RefDefault}, {"main", false, RefBranch}, {"release/1.x", false, RefBranch}, {"1.x", false, RefSemver}, {"v1.2.3", false, RefBranch},
		{"3f786850e387550fdab836ed7e6dc881de23001b", false, RefCommit}, {"refs/tags/v1.0.0", false, RefTag},
		{"1.4.2", true, RefTag}, {"~1.4.0", true, RefSemver}, {">=1.0.0 <2.0.0", false, RefSemver},
	}
	for _, tc := range cases {
		if got := ClassifyArgoRevision(tc.rev, tc.chart); got != tc.want {
			t.Errorf("ClassifyArgoRevision(%q, chart=%v) = %s, want %s", tc.rev, tc.chart, got, tc.want)
		}
	}
}
