package recommend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/dot-ai/dot/pkg/kube"
)

// testBinDir finds etcd and kube-apiserver like hack/testbin.sh does.
func testBinDir() (string, error) {
	if d := os.Getenv("DOT_TESTBIN"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		script := filepath.Join(dir, "hack", "testbin.sh")
		if _, err := os.Stat(script); err == nil {
			out, err := exec.Command("bash", script, "--print-dir").Output()
			if err != nil {
				return "", fmt.Errorf("%s --print-dir: %w", script, err)
			}
			return strings.TrimSpace(string(out)), nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no hack/testbin.sh above %s; set DOT_TESTBIN", wd)
		}
	}
}

// TestValidateAPIServer dry-runs generated manifests against a real
// kube-apiserver (envtest): valid ones pass and are not stored; the API
// server's own message comes back for rejected ones. Without the binaries
// it skips, or fails when CI is set.
func TestValidateAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	missing := func(format string, args ...any) {
		if os.Getenv("CI") != "" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	bin, err := testBinDir()
	if err != nil {
		missing("no testbin: %v: run `make testbin`", err)
	}
	for _, need := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(bin, need)); err != nil {
			missing("testbin %s lacks %s: run `make testbin`", bin, need)
		}
	}
	env := &envtest.Environment{BinaryAssetsDirectory: bin}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
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
