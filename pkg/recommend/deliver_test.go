package recommend

import (
	"context"
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
