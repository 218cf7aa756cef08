package operations

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dot-ai/dot/internal/fixture"
	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
)

func testConfig(t *testing.T) *Config {
	t.Helper()
	objs, err := fixture.LoadObjects("testdata/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return &Config{Client: fixture.NewBuilder().WithObjects(objs...).Build(),
		Now: func() time.Time { return time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC) }}
}

func dep(name string) kube.ObjectRef {
	return kube.ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "prod", Name: name}
}

func i32(v int32) *int32 { return &v }

// csString renders a change set compactly for comparison.
func csString(cs gitops.ChangeSet) string {
	var b strings.Builder
	b.WriteString(cs.Operation + ": " + cs.Title + "\n")
	for _, c := range cs.Changes {
		b.WriteString("  " + string(c.Action) + " " + c.Object.String() + "\n")
		for _, f := range c.Fields {
			v, _ := json.Marshal(f.Value)
			if f.Delete {
				v = []byte("<delete>")
			}
			b.WriteString("    " + f.Path + " = " + string(v) + "\n")
		}
	}
	return b.String()
}

type verb interface {
	ChangeSet(ctx context.Context, ref kube.ObjectRef) (gitops.ChangeSet, error)
}

func TestVerbs(t *testing.T) {
	cfg := testConfig(t)
	pod := kube.ObjectRef{Version: "v1", Kind: "Pod", Namespace: "prod", Name: "web-7c9d-abcde"}
	cases := []struct {
		name    string
		verb    verb
		ref     kube.ObjectRef
		want    string
		wantErr string
	}{
		{"scale a deployment named by its pod", &Scale{Config: cfg, Replicas: i32(5)}, pod,
			"scale: scale deployment/web to 5 (prod)\n  Set prod/deployment.apps/web\n    spec.replicas = 5\n", ""},
		{"scale refuses when an HPA controls replicas", &Scale{Config: cfg, Replicas: i32(5)}, dep("api"), "",
			"is scaled by prod/horizontalpodautoscaler.autoscaling/api (min 2, max 10): change its bounds with --min/--max"},
		{"scale edits the HPA bounds", &Scale{Config: cfg, Min: i32(3), Max: i32(12)}, dep("api"),
			"scale: scale hpa/api to 3..12 (prod)\n  Set prod/horizontalpodautoscaler.autoscaling/api\n    spec.minReplicas = 3\n    spec.maxReplicas = 12\n", ""},
		{"scale refuses bad HPA bounds", &Scale{Config: cfg, Min: i32(20)}, dep("api"), "", "1 <= min <= max"},
		{"scale refuses min/max without HPA", &Scale{Config: cfg, Max: i32(3)}, dep("web"), "", "no HorizontalPodAutoscaler targets"},
		{"scale refuses non-workloads", &Scale{Config: cfg, Replicas: i32(1)}, kube.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "prod", Name: "settings"}, "", "is not a workload"},
		{"image of the only container", &Image{Config: cfg, Image: "registry.example.com/web:1.5.0"}, dep("web"),
			"image: set image of deployment/web container web to registry.example.com/web:1.5.0 (prod)\n  Set prod/deployment.apps/web\n    spec.template.spec.containers[name=web].image = \"registry.example.com/web:1.5.0\"\n", ""},
		{"image needs --container with two containers", &Image{Config: cfg, Image: "api:2"}, dep("api"), "", "has 2 containers (api, proxy): choose one with --container"},
		{"image of a named container", &Image{Config: cfg, Image: "envoy:1.31", Container: "proxy"}, dep("api"),
			"image: set image of deployment/api container proxy to envoy:1.31 (prod)\n  Set prod/deployment.apps/api\n    spec.template.spec.containers[name=proxy].image = \"envoy:1.31\"\n", ""},
		{"image of a missing container", &Image{Config: cfg, Image: "x:1", Container: "nope"}, dep("api"), "", `has no container "nope" (containers: api, proxy)`},
		{"invalid image", &Image{Config: cfg, Image: "Bad Image"}, dep("web"), "", "not a valid image reference"},
		{"env set, unset and references", &Env{Config: cfg, Set: map[string]string{"MODE": "fast"}, Unset: []string{"LOG_LEVEL"}, FromConfigMap: []string{"settings"}, FromSecret: []string{"db"}}, dep("web"),
			"env: set env of deployment/web container web: MODE, LOG_LEVEL-, from configmap settings, from secret db (prod)\n  Set prod/deployment.apps/web\n" +
				"    spec.template.spec.containers[name=web].env[name=MODE] = {\"name\":\"MODE\",\"value\":\"fast\"}\n" +
				"    spec.template.spec.containers[name=web].env[name=LOG_LEVEL] = <delete>\n" +
				"    spec.template.spec.containers[name=web].envFrom = [{\"configMapRef\":{\"name\":\"settings\"}},{\"secretRef\":{\"name\":\"db\"}}]\n", ""},
		{"env refuses secret values", &Env{Config: cfg, Set: map[string]string{"DB_PASSWORD": "hunter2"}}, dep("web"), "", "DB_PASSWORD looks like a secret"},
		{"env unset of a missing variable", &Env{Config: cfg, Unset: []string{"NOPE"}}, dep("web"), "", "has no variable NOPE to unset"},
		{"resources", &Resources{Config: cfg, Requests: map[string]string{"cpu": "250m"}, Limits: map[string]string{"cpu": "1"}}, dep("web"),
			"resources: set resources of deployment/web container web: requests.cpu=250m, limits.cpu=1 (prod)\n  Set prod/deployment.apps/web\n" +
				"    spec.template.spec.containers[name=web].resources.requests.cpu = \"250m\"\n    spec.template.spec.containers[name=web].resources.limits.cpu = \"1\"\n", ""},
		{"resources refuse request above limit", &Resources{Config: cfg, Requests: map[string]string{"memory": "512Mi"}}, dep("web"), "", "memory request 512Mi is above its limit 256Mi"},
		{"restart", &Restart{Config: cfg}, dep("web"),
			"restart: restart deployment/web (prod)\n  Set prod/deployment.apps/web\n    spec.template.metadata.annotations[\"kubectl.kubernetes.io/restartedAt\"] = \"2026-11-21T09:00:00Z\"\n", ""},
		{"delete", &Delete{Config: cfg}, kube.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "prod", Name: "settings"},
			"delete: delete configmap/settings (prod)\n  Delete prod/configmap/settings\n", ""},
		{"delete of a missing object", &Delete{Config: cfg}, kube.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "prod", Name: "gone"}, "", "not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := tc.verb.ChangeSet(context.Background(), tc.ref)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := cs.Validate(); err != nil {
				t.Errorf("invalid change set: %v", err)
			}
			if got := csString(cs); got != tc.want {
				t.Errorf("change set:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestParseEnvArgs(t *testing.T) {
	set, unset, err := ParseEnvArgs([]string{"A=1", "B=x=y", "C-", "D="})
	if err != nil || set["A"] != "1" || set["B"] != "x=y" || set["D"] != "" || len(unset) != 1 || unset[0] != "C" {
		t.Errorf("ParseEnvArgs = %v %v %v", set, unset, err)
	}
	for _, bad := range []string{"1A=x", "novalue", "-"} {
		if _, _, err := ParseEnvArgs([]string{bad}); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestParseResourceList(t *testing.T) {
	got, err := ParseResourceList("cpu=0.5, memory=128Mi")
	if err != nil || got["cpu"] != "500m" || got["memory"] != "128Mi" {
		t.Errorf("ParseResourceList = %v, %v", got, err)
	}
	if _, err := ParseResourceList("cpu=lots"); err == nil {
		t.Error("want an error for a bad quantity")
	}
}
