package recommend

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/dot-ai/dot/internal/fixture"
)

func TestScan(t *testing.T) {
	objs, err := fixture.LoadObjects("testdata/scan/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := fixture.NewBuilder().WithObjects(objs...).Build()
	for _, tc := range []struct {
		name     string
		ns       string
		hasGroup func(string) (bool, error)
		client   client.Reader
		check    func(t *testing.T, caps *Capabilities, err error)
	}{
		{name: "shop", ns: "shop", hasGroup: func(g string) (bool, error) { return g == "metrics.k8s.io", nil },
			check: func(t *testing.T, caps *Capabilities, err error) {
				if err != nil {
					t.Fatal(err)
				}
				got, _ := json.Marshal(caps)
				want := `{"ingressClasses":["nginx","traefik"],"defaultIngressClass":"nginx","gatewayAPI":true,` +
					`"storageClasses":["fast","standard"],"defaultStorageClass":"standard","certManager":true,"metricsAPI":true,"flux":true,` +
					`"namespace":"shop","namespaceExists":true,"podSecurity":"restricted","limitRanges":["defaults"],"quotas":["compute"],"requireLimits":true}`
				if string(got) != want {
					t.Errorf("capabilities:\n got %s\nwant %s", got, want)
				}
			}},
		{name: "forbidden lists become notes", ns: "shop", client: forbidden(c, "IngressClassList"), check: func(t *testing.T, caps *Capabilities, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if len(caps.IngressClasses) != 0 || len(caps.Notes) != 1 || !strings.Contains(caps.Notes[0], "ingress classes") {
				t.Errorf("ingress classes %q, notes %q", caps.IngressClasses, caps.Notes)
			}
		}},
		{name: "other errors fail", ns: "shop", client: failing(c, "StorageClassList"), check: func(t *testing.T, _ *Capabilities, err error) {
			if err == nil || !strings.Contains(err.Error(), "scan storage classes") {
				t.Fatalf("want a scan error, got %v", err)
			}
		}},
		{name: "missing namespace", ns: "nope", check: func(t *testing.T, caps *Capabilities, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if caps.NamespaceExists || caps.PodSecurity != "" || len(caps.Quotas) != 0 || caps.MetricsAPI {
				t.Errorf("capabilities of a missing namespace: %+v", caps)
			}
		}},
		{name: "discovery error", ns: "shop", hasGroup: func(string) (bool, error) { return false, errors.New("boom") },
			check: func(t *testing.T, _ *Capabilities, err error) {
				if err == nil {
					t.Fatal("want the discovery error")
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Scanner{Reader: c, HasGroup: tc.hasGroup}
			if tc.client != nil {
				s.Reader = tc.client
			}
			caps, err := s.Scan(context.Background(), tc.ns)
			tc.check(t, caps, err)
		})
	}
}

// forbidden and failing wrap c so that listing kind fails.
func forbidden(c client.WithWatch, kind string) client.Reader {
	return listFails(c, kind, apierrors.NewForbidden(schema.GroupResource{Resource: kind}, "", errors.New("rbac")))
}

func failing(c client.WithWatch, kind string) client.Reader {
	return listFails(c, kind, errors.New("connection refused"))
}

func listFails(c client.WithWatch, kind string, fail error) client.Reader {
	return interceptor.NewClient(c, interceptor.Funcs{List: func(ctx context.Context, cl client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
		gvk, err := cl.GroupVersionKindFor(list)
		if err == nil && gvk.Kind == kind {
			return fail
		}
		return cl.List(ctx, list, opts...)
	}})
}
