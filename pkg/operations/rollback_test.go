package operations

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dot-ai/dot/internal/fixture"
	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/gitops/repo"
	"github.com/dot-ai/dot/pkg/kube"
)

func TestRollbackUnmanagedFromReplicaSets(t *testing.T) {
	objs, err := fixture.LoadObjects("testdata/rollback.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Client: fixture.NewBuilder().WithObjects(objs...).Build()}
	notManaged := func(ctx context.Context, ref kube.ObjectRef) (*gitops.Owner, []repo.CommitInfo, error) {
		return nil, nil, fmt.Errorf("find owner: %w", gitops.ErrNotManaged)
	}
	cases := []struct {
		steps     int
		to, image string
		wantErr   string
	}{
		{steps: 1, image: "shop:2"},
		{steps: 2, image: "shop:1"},
		{to: "1", image: "shop:1"},
		{steps: 3, wantErr: "no earlier revision"},
		{to: "abc", wantErr: "revision number"},
	}
	for _, tc := range cases {
		a := &Rollback{Config: cfg, History: notManaged, Steps: tc.steps, To: tc.to}
		cs, err := a.ChangeSet(context.Background(), dep("shop"))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("steps %d to %q: err = %v, want %q", tc.steps, tc.to, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("steps %d to %q: %v", tc.steps, tc.to, err)
		}
		f := cs.Changes[0].Fields[0]
		tmpl := f.Value.(map[string]any)
		spec := tmpl["spec"].(map[string]any)
		img := spec["containers"].([]any)[0].(map[string]any)["image"]
		labels := tmpl["metadata"].(map[string]any)["labels"].(map[string]any)
		if f.Path != "spec.template" || img != tc.image || labels["pod-template-hash"] != nil {
			t.Errorf("steps %d to %q: %s image %v labels %v", tc.steps, tc.to, f.Path, img, labels)
		}
	}
}

func TestRollbackManagedRevertsDotCommits(t *testing.T) {
	cfg := testConfig(t)
	owner := &gitops.Owner{Kind: gitops.OwnerFluxKustomization, Namespace: "flux-system", Name: "apps", Object: dep("web")}
	commits := []repo.CommitInfo{{SHA: strings.Repeat("c", 40), Subject: "dot: set image 3"}, {SHA: strings.Repeat("b", 40), Subject: "dot: set image 2"}, {SHA: strings.Repeat("a", 40), Subject: "dot: scale"}}
	history := func(ctx context.Context, ref kube.ObjectRef) (*gitops.Owner, []repo.CommitInfo, error) {
		return owner, commits, nil
	}
	cases := []struct {
		steps   int
		to      string
		want    []string
		wantErr string
	}{
		{want: []string{commits[0].SHA}},
		{steps: 2, want: []string{commits[0].SHA, commits[1].SHA}},
		{to: "aaaaaaa", want: []string{commits[0].SHA, commits[1].SHA}},
		{to: "ccccccc", wantErr: "nothing after it"},
		{to: "deadbee", wantErr: "is not one of dot's commits"},
		{steps: 4, wantErr: "only 3 change(s)"},
	}
	for _, tc := range cases {
		cs, err := (&Rollback{Config: cfg, History: history, Steps: tc.steps, To: tc.to}).ChangeSet(context.Background(), dep("web"))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("steps %d to %q: err = %v", tc.steps, tc.to, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		c := cs.Changes[0]
		if c.Action != gitops.ActionRevert || strings.Join(c.Revert, ",") != strings.Join(tc.want, ",") || cs.Validate() != nil {
			t.Errorf("steps %d to %q: %+v", tc.steps, tc.to, c)
		}
	}
}
