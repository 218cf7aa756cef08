package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/util/homedir"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/internal/fixture"
	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/remediate"
)

// TestRemediateOutputGolden renders real remediation reports (fake cluster
// from pkg/remediate's fixtures, fixed clock) as table and JSON: a dry run
// planning server-side fixes of two Services, a delivered deletion of
// evicted pods with its verification, and an --auto run on a Flux-managed
// OOMKilled Deployment whose fix is outside the bounds.
func TestRemediateOutputGolden(t *testing.T) {
	clock := func() time.Time { return time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC) }
	flux := func(o client.Object) {
		if o.GetObjectKind().GroupVersionKind().Kind == "Deployment" && o.GetName() == "web" {
			o.SetLabels(map[string]string{"kustomize.toolkit.fluxcd.io/name": "shop", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"})
		}
	}
	cases := []struct {
		name    string
		files   []string
		mutate  func(client.Object)
		opts    gitops.Options
		setup   func(r *remediate.Remediation)
		wantErr error
	}{
		{"remediate-dryrun", []string{"service.yaml"}, nil, gitops.Options{Mode: gitops.ModeOff, DryRun: gitops.DryRunClient},
			func(r *remediate.Remediation) { r.SkipValidation = true }, gitops.ErrChangesPending},
		{"remediate-delivered", []string{"evicted.yaml"}, nil, gitops.Options{NoWait: true},
			func(r *remediate.Remediation) { r.Auto, r.MaxRisk, r.MinConfidence = true, remediate.RiskLow, 0.8 }, nil},
		{"remediate-skipped", []string{"oom.yaml", "owner-flux.yaml"}, flux, gitops.Options{},
			func(r *remediate.Remediation) { r.Auto, r.MaxRisk, r.MinConfidence = true, remediate.RiskLow, 0.95 }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var objs []client.Object
			for _, f := range tc.files {
				o, err := fixture.LoadObjects("../remediate/testdata/" + f)
				if err != nil {
					t.Fatal(err)
				}
				objs = append(objs, o...)
			}
			if tc.mutate != nil {
				for _, o := range objs {
					tc.mutate(o)
				}
			}
			c := fixture.NewBuilder().WithObjects(objs...).Build()
			gc := &gitops.Cluster{Client: c}
			tc.opts.Now = clock
			r := &remediate.Remediation{Config: &remediate.Config{Client: c, Cluster: gc, Now: clock},
				Deliverer: &gitops.Deliverer{Cluster: gc, Options: tc.opts}, VerifyInterval: time.Millisecond}
			tc.setup(r)
			rep, err := r.Run(context.Background(), remediate.Target{Namespace: "shop"})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("run: err = %v, want %v", err, tc.wantErr)
			}
			for i := range rep.Fixes {
				if res := rep.Fixes[i].Result; res != nil {
					for j := range res.Direct {
						res.Direct[j].Duration = 0 // measured with the real clock
					}
				}
			}
			for _, f := range []struct{ format, ext string }{{OutputTable, ".txt"}, {OutputJSON, ".json"}} {
				var buf bytes.Buffer
				if err := printResult(&buf, f.format, &RemediationReport{Report: rep}); err != nil {
					t.Fatal(err)
				}
				golden(t, tc.name+f.ext, buf.String())
			}
		})
	}
}

// TestRemediateQueryGolden renders the report of a problem given in
// words: the resolution (target, reasons, other matches) comes before the
// diagnosis, in the table and in JSON.
func TestRemediateQueryGolden(t *testing.T) {
	clock := func() time.Time { return time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC) }
	objs, err := fixture.LoadObjects("../remediate/testdata/query.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := fixture.NewBuilder().WithObjects(objs...).Build()
	gc := &gitops.Cluster{Client: c}
	cfg := &remediate.Config{Client: c, Cluster: gc, Now: clock}
	res, err := resolveQuery(context.Background(), cfg, remediate.Query{Text: "checkout in shop keeps crashing", DefaultNamespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	r := &remediate.Remediation{Config: cfg, SkipValidation: true,
		Deliverer: &gitops.Deliverer{Cluster: gc, Options: gitops.Options{Mode: gitops.ModeOff, DryRun: gitops.DryRunClient, Now: clock}}}
	rep, err := r.Run(context.Background(), res.Target())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ format, ext string }{{OutputTable, ".txt"}, {OutputJSON, ".json"}} {
		var buf bytes.Buffer
		if err := printResult(&buf, f.format, &RemediationReport{Report: rep, Resolution: res}); err != nil {
			t.Fatal(err)
		}
		golden(t, "remediate-query"+f.ext, buf.String())
	}
}

// TestRemediateQueryUsage: how arguments become a problem in words, and
// the ways to get it wrong, which exit 2 before any cluster is contacted;
// a text that names several objects equally well, or none, exits 2 too.
func TestRemediateQueryUsage(t *testing.T) {
	cases := []struct {
		args    []string
		flag    string
		flagSet bool
		want    string
		err     string
	}{
		{[]string{"deployment/web"}, "", false, "", ""},
		{[]string{"deployment", "web"}, "", false, "", ""},
		{[]string{"checkout in shop keeps crashing"}, "", false, "checkout in shop keeps crashing", ""},
		{nil, "web returns 503", true, "web returns 503", ""},
		{nil, "", false, "", ""},
		{[]string{"web is down", "extra"}, "", false, "", "must be the only argument"},
		{[]string{"deployment/web"}, "web is down", true, "", "not both"},
		{nil, " ", true, "", "empty text"},
	}
	for _, tc := range cases {
		got, err := queryArg(tc.args, tc.flag, tc.flagSet)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("queryArg(%q, %q) = %q, %v; want %q", tc.args, tc.flag, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || ExitCode(err) != ExitUsage):
			t.Errorf("queryArg(%q, %q): err = %v, want a usage error saying %q", tc.args, tc.flag, err, tc.err)
		}
	}
	for _, args := range [][]string{
		{"dot", "remediate", "checkout", "in", "shop", "keeps", "crashing"},
		{"dot", "remediate", "web is down", "extra"},
		{"dot", "remediate", "--query", "web is down", "deployment/web"},
	} {
		r := run(t, nil, args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "--help' for usage.") {
			t.Errorf("%q: exit %d, stderr %q; want 2 with a usage hint", args, r.code, r.stderr)
		}
	}
	r := run(t, nil, "dot", "remediate", "a", "b", "c")
	if !strings.Contains(r.stderr, "quoted argument") {
		t.Errorf("too many arguments: the error should say to quote the sentence: %q", r.stderr)
	}

	objs, err := fixture.LoadObjects("../remediate/testdata/query.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &remediate.Config{Client: fixture.NewBuilder().WithObjects(objs...).Build()}
	for _, text := range []string{"cart in shop", "frobnicator in shop"} {
		_, err := resolveQuery(context.Background(), cfg, remediate.Query{Text: text})
		if ExitCode(err) != ExitUsage {
			t.Errorf("%q: err %v exits %d, want 2", text, err, ExitCode(err))
		}
	}
}

// TestRemediateHelp keeps the help of dot remediate (free-text form,
// examples, exit codes) reviewed.
func TestRemediateHelp(t *testing.T) {
	r := run(t, nil, "dot", "remediate", "--help")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "help-remediate.txt", strings.ReplaceAll(r.stdout, homedir.HomeDir(), "$HOME"))
}
