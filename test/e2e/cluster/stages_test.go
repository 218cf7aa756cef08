package cluster

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestFailureStages: every failure stage is a Pod Stage that leaves
// deleted pods to kwok's pod-delete stage, selects by a marker in the
// image, and outweighs the default stages.
func TestFailureStages(t *testing.T) {
	paths, err := writeFailureStages(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 4 {
		t.Fatalf("%d stage files, want 4", len(paths))
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				ResourceRef struct{ Kind string } `json:"resourceRef"`
				Weight      int                   `json:"weight"`
				Selector    struct {
					MatchExpressions []struct {
						Key      string `json:"key"`
						Operator string `json:"operator"`
					} `json:"matchExpressions"`
				} `json:"selector"`
				Next struct {
					StatusTemplate string `json:"statusTemplate"`
				} `json:"next"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(b, &st); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var keys []string
		for _, e := range st.Spec.Selector.MatchExpressions {
			keys = append(keys, e.Key+" "+e.Operator)
		}
		sel := strings.Join(keys, "; ")
		if st.Kind != "Stage" || st.Spec.ResourceRef.Kind != "Pod" || st.Spec.Weight < 1000 ||
			!strings.Contains(sel, ".metadata.deletionTimestamp DoesNotExist") || !strings.Contains(sel, "select(.image | contains(") ||
			!strings.Contains(st.Spec.Next.StatusTemplate, "containerStatuses") || strings.Contains(st.Spec.Next.StatusTemplate, "Now") {
			t.Errorf("%s (%s): kind %s resource %s weight %d selector %q", p, st.Metadata.Name, st.Kind, st.Spec.ResourceRef.Kind, st.Spec.Weight, sel)
		}
	}
}
