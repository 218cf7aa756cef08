package recommend

import (
	"context"
	"errors"
	"testing"

	"github.com/dot-ai/dot/internal/fixture"
	"github.com/dot-ai/dot/pkg/gitops"
)

func TestCoveringOwner(t *testing.T) {
	objs, err := fixture.LoadObjects("testdata/owners.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gc := &gitops.Cluster{Client: fixture.NewBuilder().WithObjects(objs...).Build()}
	for _, tc := range []struct {
		name string
		t    GitTarget
		want string
	}{
		{"argo exact path, other URL spelling", GitTarget{RepoURL: "https://git.example.com/acme/apps", Branch: "main", Path: "./apps/shop/"}, "Application argocd/shop"},
		{"argo other branch", GitTarget{RepoURL: "https://git.example.com/acme/apps.git", Branch: "dev", Path: "apps/shop"}, ""},
		{"argo sibling path", GitTarget{RepoURL: "https://git.example.com/acme/apps.git", Path: "apps/shop2"}, ""},
		{"flux parent directory", GitTarget{RepoURL: "https://git.example.com/acme/platform.git", Path: "clusters/prod/shop"}, "Kustomization flux-system/platform"},
		{"flux prefix is not a parent", GitTarget{RepoURL: "https://git.example.com/acme/platform.git", Path: "clusters/production"}, ""},
		{"other repo", GitTarget{RepoURL: "https://git.example.com/acme/other.git", Path: "apps/shop"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := CoveringOwner(context.Background(), gc, tc.t)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if o != nil {
				got = o.String()
			}
			if got != tc.want {
				t.Fatalf("owner %q, want %q", got, tc.want)
			}
		})
	}
}

func TestChangeSetAndOwnerObjects(t *testing.T) {
	in, _ := ParseIntent("web app from registry.k8s.io/pause:3.10 on port 8080")
	spec, err := Recommend(in, &Capabilities{Namespace: "shop"}).Resolve(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Generate(spec)
	if err != nil {
		t.Fatal(err)
	}
	cs := ChangeSet("recommend pause", objs, &GitTarget{RepoURL: "https://git.example.com/a.git", Branch: "main", Path: "./apps/pause/"})
	if err := cs.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs.Changes {
		if c.Target == nil || c.Target.Path != "apps/pause" || c.Target.File != "apps/pause/"+FileName(c.Manifest) || c.Action != gitops.ActionCreate {
			t.Errorf("change %s: target %+v", c.Object, c.Target)
		}
	}
	if w, ok := Workload(objs); !ok || w.Kind != "Deployment" || w.Name != "pause" || w.Namespace != "shop" {
		t.Errorf("workload %v %v", w, ok)
	}
	for _, kind := range []string{OwnerArgoCD, OwnerFlux} {
		objs, owner, err := OwnerObjects(OwnerOptions{Kind: kind, Name: "pause", Namespace: "gitops", TargetNamespace: "shop", RepoURL: "https://git.example.com/a.git", Branch: "main", Path: "apps/pause", SecretRef: "git-auth"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{OwnerArgoCD: 1, OwnerFlux: 2}[kind]
		if len(objs) != want || owner.Name != "pause" || owner.Namespace != "gitops" {
			t.Errorf("%s: %d objects, owner %v", kind, len(objs), owner)
		}
	}
	if _, _, err := OwnerObjects(OwnerOptions{Kind: "jenkins", Name: "x", Namespace: "y", RepoURL: "z"}); err == nil {
		t.Error("unknown owner kind accepted")
	}
}

func TestPlanGitDelivery(t *testing.T) {
	objs, err := fixture.LoadObjects("testdata/owners.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gc := &gitops.Cluster{Client: fixture.NewBuilder().WithObjects(objs...).Build()}
	in, _ := ParseIntent("web app from registry.k8s.io/pause:3.10 on port 8080 named shop")
	spec, err := Recommend(in, &Capabilities{Namespace: "shop"}).Resolve(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	manifests, err := Generate(spec)
	if err != nil {
		t.Fatal(err)
	}
	covered := GitTarget{RepoURL: "https://git.example.com/acme/apps.git", Branch: "main", Path: "apps/shop"}
	fresh := GitTarget{RepoURL: "https://git.example.com/acme/apps.git", Branch: "main", Path: "apps/new"}
	for _, tc := range []struct {
		name    string
		caps    Capabilities
		gd      GitDelivery
		owner   string
		created bool
		extra   int
		errIs   error
	}{
		{name: "covered", gd: GitDelivery{Target: covered}, owner: "Application argocd/shop"},
		{name: "only flux installed", caps: Capabilities{Flux: true}, gd: GitDelivery{Target: fresh}, owner: "Kustomization flux-system/shop", created: true, extra: 2},
		{name: "only argo installed", caps: Capabilities{ArgoCD: true}, gd: GitDelivery{Target: fresh, ArgoCDNamespace: "gitops"}, owner: "Application gitops/shop", created: true, extra: 1},
		{name: "both installed, named", caps: Capabilities{ArgoCD: true, Flux: true}, gd: GitDelivery{Target: fresh, OwnerKind: OwnerFlux, FluxNamespace: "shop"}, owner: "Kustomization shop/shop", created: true, extra: 2},
		{name: "both installed", caps: Capabilities{ArgoCD: true, Flux: true}, gd: GitDelivery{Target: fresh}, errIs: ErrNoOwnerKind},
		{name: "none installed", gd: GitDelivery{Target: fresh}, errIs: ErrNoOwnerKind},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dp, err := PlanGitDelivery(context.Background(), gc, &tc.caps, spec, manifests, tc.gd)
			if tc.errIs != nil {
				if !errors.Is(err, tc.errIs) {
					t.Fatalf("got %v, want %v", err, tc.errIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if dp.Owner.String() != tc.owner || dp.OwnerCreated != tc.created || len(dp.ChangeSet.Changes) != len(manifests)+tc.extra {
				t.Fatalf("owner %s created %v, %d changes", dp.Owner, dp.OwnerCreated, len(dp.ChangeSet.Changes))
			}
			for _, c := range dp.ChangeSet.Changes[len(manifests):] {
				if c.Target != nil {
					t.Errorf("owner object %s has a Git target", c.Object)
				}
			}
		})
	}
}

func TestDeliveredCommit(t *testing.T) {
	plan := &gitops.Plan{Git: []gitops.GitPlan{{Base: "base"}}}
	if got := DeliveredCommit(plan, &gitops.Result{Git: []gitops.GitResult{{Commit: "pushed"}}}); got != "pushed" {
		t.Errorf("pushed: %q", got)
	}
	if got := DeliveredCommit(plan, &gitops.Result{Git: []gitops.GitResult{{Status: "unchanged"}}}); got != "base" {
		t.Errorf("unchanged: %q", got)
	}
	if got := DeliveredCommit(&gitops.Plan{}, nil); got != "" {
		t.Errorf("no git: %q", got)
	}
}
