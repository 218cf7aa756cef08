package remediate

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/dot-ai/dot/internal/fixture"
)

// TestResolve: sentences as people type them resolve to one object of
// the fixture cluster (or its whole namespace), with the reasons; the -n
// flag wins over the text; symptoms and coverage break ties.
func TestResolve(t *testing.T) {
	cases := []struct {
		name string
		q    Query
		// want is "kind/name -n ns" or "namespace ns".
		want string
		// reasons are substrings of the reasons, in any order.
		reasons []string
	}{
		{"crashing in a namespace", Query{Text: "checkout in shop keeps crashing"}, "deployment/checkout -n shop",
			[]string{`namespace shop: the text says "in shop"`, `"checkout" is the name of deployment/checkout in shop`,
				"only deployment/checkout (CrashLoopBackOff) has findings matching \"crash\""}},
		{"kind and namespace phrase", Query{Text: "the api deployment in namespace prod is OOMing"}, "deployment/api -n prod",
			[]string{`namespace prod: the text says "namespace prod"`, `the kind words "deployment" keep deployments`, `"api" is the name of deployment/api in prod, the best match`}},
		{"kind word picks the ingress", Query{Text: "my ingress for web returns 503"}, "ingress/web -n shop",
			[]string{"the text names no namespace: searched all namespaces", `the kind words "ingress" keep ingresses`}},
		{"pods of a workload", Query{Text: "pods of orders are pending"}, "deployment/orders -n shop",
			[]string{`"orders" is the name of deployment/orders in shop, the best match`}},
		{"-n wins over the text", Query{Text: "checkout in shop keeps crashing", Namespace: "prod"}, "deployment/checkout -n prod",
			[]string{`namespace prod: from -n, which wins over "in shop" in the text`}},
		{"the text wins over the context's namespace", Query{Text: "the api deployment in namespace prod is OOMing", DefaultNamespace: "shop"}, "deployment/api -n prod", nil},
		{"symptom breaks a tie across namespaces", Query{Text: "checkout keeps crashing"}, "deployment/checkout -n shop",
			[]string{"of the 4 equally good matches, only deployment/checkout (CrashLoopBackOff) has findings"}},
		{"symptom breaks a prefix tie", Query{Text: "payments in shop keeps crashing"}, "deployment/payments-api -n shop",
			[]string{`"payments" is a prefix of deployment/payments-api at a '-'`, "only deployment/payments-api (CrashLoopBackOff)"}},
		{"503 prefers the broken ingress", Query{Text: "web in shop returns 503"}, "ingress/web -n shop",
			[]string{"only ingress/web (IngressBackendMissing"}},
		{"coverage: the workload of the service and ingress", Query{Text: "look at checkout in shop"}, "deployment/checkout -n shop",
			[]string{"deployment/checkout matches as well as service/checkout, ingress/checkout, and its diagnosis covers them"}},
		{"typo", Query{Text: "chekout in shop keeps crashing"}, "deployment/checkout -n shop",
			[]string{`"chekout" is close to the name of deployment/checkout (similar, 1 edit)`}},
		{"kind/name and -n in the text", Query{Text: "why is deploy/api crashing -n prod"}, "deployment/api -n prod",
			[]string{`namespace prod: the text says "-n prod"`}},
		{"namespace/name", Query{Text: "prod/api is down"}, "deployment/api -n prod", nil},
		{"joined words", Query{Text: "the payments worker in shop"}, "deployment/payments-worker -n shop",
			[]string{`"payments-worker" is the name of deployment/payments-worker in shop`}},
		{"only a namespace", Query{Text: "what is wrong in namespace shop?"}, "namespace shop",
			[]string{"the text names no object: the whole namespace is diagnosed"}},
		{"a namespace mentioned that is also a word", Query{Text: "Orders, in SHOP, pending!"}, "deployment/orders -n shop", nil},
	}
	cfg := &Config{Client: fakeCluster(t, nil, "query.yaml")}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := cfg.Resolve(context.Background(), tc.q)
			if err != nil {
				t.Fatalf("resolve %q: %v", tc.q.Text, err)
			}
			if got := r.String(); got != tc.want {
				t.Errorf("resolved %q to %s, want %s; reasons:\n%s", tc.q.Text, got, tc.want, strings.Join(r.Reasons, "\n"))
			}
			all := strings.Join(r.Reasons, "\n")
			for _, want := range tc.reasons {
				if !strings.Contains(all, want) {
					t.Errorf("reasons do not say %q:\n%s", want, all)
				}
			}
			if tgt := r.Target(); tgt.Namespace != r.Namespace || (r.Object == nil) != (tgt.Object == nil) {
				t.Errorf("target %v, resolution %+v", tgt, r)
			}
		})
	}
}

// TestResolveErrors: equally good candidates are listed so the user can
// name one; words matching nothing are named; nothing is guessed.
func TestResolveErrors(t *testing.T) {
	cases := []struct {
		name string
		q    Query
		err  error
		// want are substrings of the error.
		want []string
	}{
		{"ambiguous prefix", Query{Text: "cart in shop"}, ErrQueryAmbiguous,
			[]string{"in namespace shop; name one of them:", "\n  deployment/cart-api -n shop  (prefix \"cart\")", "\n  deployment/cart-worker -n shop  (prefix \"cart\")"}},
		{"ambiguous across namespaces", Query{Text: "look at checkout"}, ErrQueryAmbiguous,
			[]string{"in all namespaces", "deployment/checkout -n prod", "deployment/checkout -n shop", "service/checkout -n shop", "ingress/checkout -n shop"}},
		{"symptom matching none of them", Query{Text: "payments in shop cannot pull its image"}, ErrQueryAmbiguous,
			[]string{"deployment/payments-api -n shop", "deployment/payments-worker -n shop"}},
		{"no match", Query{Text: "frobnicator in shop is broken"}, ErrQueryNoMatch,
			[]string{`in namespace shop: tried the words "frobnicator" as names`}},
		{"no namespace of that name", Query{Text: "checkout in namespace staging"}, ErrQueryNoMatch,
			[]string{"namespace staging does not exist"}},
		{"nothing but filler", Query{Text: "why is it broken?"}, ErrQueryNoMatch,
			[]string{"in all namespaces: the text names no object"}},
		{"empty", Query{Text: "  "}, ErrQueryNoMatch, []string{"the text is empty"}},
	}
	cfg := &Config{Client: fakeCluster(t, nil, "query.yaml")}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := cfg.Resolve(context.Background(), tc.q)
			if !errors.Is(err, tc.err) {
				t.Fatalf("resolve %q: %v (resolution %+v), want %v", tc.q.Text, err, r, tc.err)
			}
			var qe *QueryError
			if !errors.As(err, &qe) || qe.Query != tc.q.Text {
				t.Fatalf("error %T %v: want a *QueryError for the query", err, err)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q:\n%v", want, err)
				}
			}
			if errors.Is(err, ErrQueryAmbiguous) && len(qe.Candidates) < 2 {
				t.Errorf("ambiguous with %d candidates", len(qe.Candidates))
			}
		})
	}
}

// TestResolveForbiddenClusterList: a user who may not list objects across
// namespaces is searched in the context's namespace.
func TestResolveForbiddenClusterList(t *testing.T) {
	objs, err := fixture.LoadObjects("testdata/query.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := fixture.NewBuilder().WithObjects(objs...).WithInterceptorFuncs(interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			lo := (&client.ListOptions{}).ApplyOptions(opts)
			kind := list.GetObjectKind().GroupVersionKind().Kind
			if lo.Namespace == "" && kind != "NodeList" {
				return apierrors.NewForbidden(schema.GroupResource{Resource: strings.ToLower(strings.TrimSuffix(kind, "List")) + "s"}, "", errors.New("cluster scope"))
			}
			return c.List(ctx, list, opts...)
		},
	}).Build()
	cfg := &Config{Client: c}
	r, err := cfg.Resolve(context.Background(), Query{Text: "api keeps getting oom killed", DefaultNamespace: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if r.String() != "deployment/api -n prod" || !strings.Contains(strings.Join(r.Reasons, "\n"), "searched the context's namespace prod") {
		t.Errorf("resolved to %s; reasons %q", r, r.Reasons)
	}
}

func TestTokenize(t *testing.T) {
	got := strings.Join(tokenize(`Why is "deploy/Web" in --namespace=shop OOM-killed? it's down.`), " ")
	if want := "why is deploy/web in -n shop oom-killed it s down"; got != want {
		t.Errorf("tokenize = %q, want %q", got, want)
	}
}

func TestMatchName(t *testing.T) {
	cases := []struct{ word, name, want string }{
		{"web", "web", "exact"},
		{"web", "web-frontend", "prefix"},
		{"frontend", "web-frontend", "suffix"},
		{"front", "web-frontend", "contains"},
		{"we", "web-frontend", ""},
		{"chekout", "checkout-api", "similar, 1 edit"},
		{"chckot", "checkout", "similar, 2 edits"},
		{"cart", "card", "similar, 1 edit"},
		{"cart", "cord", ""}, // short words: one edit at most
		{"payment", "orders", ""},
	}
	for _, tc := range cases {
		if got := matchName(tc.word, tc.name); got != tc.want {
			t.Errorf("matchName(%q, %q) = %q, want %q", tc.word, tc.name, got, tc.want)
		}
	}
}
