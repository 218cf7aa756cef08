package recommend

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/internal/testenv"
	"github.com/dot-ai/dot/pkg/kube"
)

// TestValidateAPIServer dry-runs generated manifests against a real
// kube-apiserver (envtest): valid ones pass and are not stored; the API
// server's own message comes back for rejected ones. Without the binaries
// it skips, or fails when CI is set.
func TestValidateAPIServer(t *testing.T) {
	cfg := testenv.StartAPIServer(t)
	cl, err := client.New(cfg, client.Options{Scheme: kube.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	generate := func(t *testing.T, intent string, caps *Capabilities, ans Answers) []*unstructured.Unstructured {
		t.Helper()
		in, err := ParseIntent(intent)
		if err != nil {
			t.Fatal(err)
		}
		spec, err := Recommend(in, caps).Resolve(ans, false)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := Generate(spec)
		if err != nil {
			t.Fatal(err)
		}
		return objs
	}
	web := &Capabilities{Namespace: "default", IngressClasses: []string{"nginx"}, DefaultIngressClass: "nginx", MetricsAPI: true}

	t.Run("ValidPassesAndStoresNothing", func(t *testing.T) {
		objs := generate(t, "web app from ghcr.io/acme/shop:1.4 on port 8080, 3 replicas, public at shop.example.com with A=1", web, nil)
		if len(objs) < 8 {
			t.Fatalf("only %d objects", len(objs))
		}
		if err := Validate(ctx, cl, objs, ValidateOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(o.GroupVersionKind())
			if err := cl.Get(ctx, client.ObjectKeyFromObject(o), got); !apierrors.IsNotFound(err) {
				t.Errorf("%s %s after a dry run: %v", o.GetKind(), o.GetName(), err)
			}
		}
	})
	t.Run("CronJobAndDatabase", func(t *testing.T) {
		objs := generate(t, "cron job from ghcr.io/acme/report:0.9 every 5 minutes", &Capabilities{Namespace: "default"}, nil)
		objs = append(objs, generate(t, "postgres database with 1Gi storage", &Capabilities{Namespace: "default"}, nil)...)
		if err := Validate(ctx, cl, objs, ValidateOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("RejectedWithTheServersMessage", func(t *testing.T) {
		// A schedule the parser cannot check, and a port the API server
		// refuses. (A nonexistent ingress class is accepted: the valid case
		// above names "nginx", which envtest does not have.)
		objs := generate(t, "cron job from ghcr.io/acme/report:0.9", &Capabilities{Namespace: "default"}, Answers{"schedule": "every tuesday"})
		objs = append(objs, generate(t, "web app from ghcr.io/acme/shop:1.4 on port 8080", web, Answers{"name": "bad"})...)
		bad := objs[len(objs)-1].DeepCopy() // the NetworkPolicy
		bad.SetName("bad-port")
		if err := unstructured.SetNestedSlice(bad.Object, []any{map[string]any{"ports": []any{map[string]any{"port": int64(70000)}}}}, "spec", "ingress"); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, bad)
		err := Validate(ctx, cl, objs, ValidateOptions{})
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("want a *ValidationError, got %v", err)
		}
		got := map[string]string{}
		for _, f := range ve.Failures {
			got[f.Object.Kind+"/"+f.Object.Name] = f.Message
		}
		for obj, want := range map[string]string{
			"CronJob/report":         "spec.schedule",
			"NetworkPolicy/bad-port": "spec.ingress[0].ports[0].port",
		} {
			if !strings.Contains(got[obj], want) {
				t.Errorf("%s: message %q does not mention %q (all: %v)", obj, got[obj], want, got)
			}
		}
		if len(ve.Failures) != 2 {
			t.Errorf("failures: %v", got)
		}
	})
	t.Run("UnservedKind", func(t *testing.T) {
		objs := generate(t, "api from registry.example.com/api:2.3.0 on port 9090 public at api.example.com",
			&Capabilities{Namespace: "default", GatewayAPI: true, Gateways: []string{"infra/public"}}, nil)
		err := Validate(ctx, cl, objs, ValidateOptions{})
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Failures) != 1 || ve.Failures[0].Object.Kind != "HTTPRoute" || !strings.Contains(ve.Failures[0].Message, "does not serve") {
			t.Fatalf("want HTTPRoute unserved, got %v", err)
		}
	})
	t.Run("MissingNamespace", func(t *testing.T) {
		objs := generate(t, "worker from ghcr.io/acme/w:1 in namespace not-yet", &Capabilities{}, nil)
		err := Validate(ctx, cl, objs, ValidateOptions{})
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.Contains(ve.Error(), `namespaces "not-yet" not found`) {
			t.Fatalf("want namespace not found, got %v", err)
		}
		if err := Validate(ctx, cl, objs, ValidateOptions{FallbackNamespace: "default"}); err != nil {
			t.Fatalf("with a fallback namespace: %v", err)
		}
	})
}
