package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/llm"
)

// llmServer speaks the OpenAI chat completions protocol with a recorded
// answer and keeps the prompt it was sent.
func llmServer(t *testing.T, answer string, prompt *string) llm.Provider {
	t.Helper()
	body, err := os.ReadFile("testdata/" + answer)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req struct {
			Messages []struct{ Content string } `json:"messages"`
		}
		if err := json.Unmarshal(b, &req); err != nil || len(req.Messages) != 2 {
			t.Errorf("request: %v %s", err, b)
		}
		if prompt != nil && len(req.Messages) == 2 {
			*prompt = req.Messages[1].Content
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return llm.NewOpenAI(llm.Settings{Model: "gpt-4o", BaseURL: srv.URL + "/v1", APIKey: "sk-test"})
}

// TestLLMAdvisor: a crash loop no rule covers goes to the model masked;
// its typed patch comes back unmasked, checked against the live object,
// with capped confidence; a stale expectation or a secret is refused.
func TestLLMAdvisor(t *testing.T) {
	s := loadSnapshot(t, "crashloop-deploy.yaml")
	var crash Finding
	for _, f := range Analyze(s) {
		if f.ID == FindingCrashLoop {
			crash = f
		}
	}
	if crash.ID == "" {
		t.Fatal("no crash loop finding")
	}
	cases := []struct {
		answer, field, refused string
	}{
		{answer: "llm-answer-image.json", field: `spec.template.spec.containers[name=worker].image="registry.example.com/shop/worker:0.9.0" expect="registry.example.com/shop/worker:0.9.1"`},
		{answer: "llm-answer-stale.json", refused: `is "registry.example.com/shop/worker:0.9.1", the model expected "registry.example.com/shop/worker:0.8.0"`},
		{answer: "llm-answer-secret.json", refused: "looks like a secret: dot does not write secrets to Git"},
	}
	for _, tc := range cases {
		t.Run(tc.answer, func(t *testing.T) {
			var prompt string
			a := &LLMAdvisor{Provider: llmServer(t, tc.answer, &prompt)}
			fix, err := a.Advise(context.Background(), crash, s)
			if err != nil {
				t.Fatal(err)
			}
			for _, leak := range []string{"worker", "shop", "s3cr3t-Passw0rd", "k8w2x"} {
				if strings.Contains(prompt, leak) {
					t.Errorf("the prompt holds %q:\n%s", leak, prompt)
				}
			}
			if !strings.Contains(prompt, "panic: DATABASE_URL is not set") || !strings.Contains(prompt, "image: registry.example.com/<namespace-1>/<name-1>:0.9.1") {
				t.Errorf("the prompt lacks the evidence or the object:\n%s", prompt)
			}
			if fix.Rule != "llm" || fix.Risk != RiskMedium || fix.Confidence != 0.6 || !strings.Contains(fix.Explanation, "worker exits with code 1") {
				t.Errorf("fix %s risk %s confidence %.2f: %s", fix.Rule, fix.Risk, fix.Confidence, fix.Explanation)
			}
			if tc.refused != "" {
				if fix.ChangeSet != nil || !strings.Contains(strings.Join(fix.Options, "\n"), tc.refused) {
					t.Errorf("want no change and %q in the options, got %+v %v", tc.refused, fix.ChangeSet, fix.Options)
				}
				return
			}
			if fix.ChangeSet == nil || len(fix.ChangeSet.Changes) != 1 || len(fix.ChangeSet.Changes[0].Fields) != 1 {
				t.Fatalf("change set %+v", fix.ChangeSet)
			}
			if got := fieldString(fix.ChangeSet.Changes[0].Fields[0]); got != tc.field {
				t.Errorf("field %s\nwant  %s", got, tc.field)
			}
		})
	}
}

// TestRunWithAdvisor: the advisor's fix goes through the same path as the
// rules' (here a dry run); with the default --auto bounds it is skipped.
func TestRunWithAdvisor(t *testing.T) {
	c := fakeCluster(t, nil, "crashloop-deploy.yaml")
	cfg := &Config{Client: c, Cluster: &gitops.Cluster{Client: c}}
	r := &Remediation{Config: cfg, Advisor: &LLMAdvisor{Provider: llmServer(t, "llm-answer-image.json", nil)}, SkipValidation: true,
		Deliverer: &gitops.Deliverer{Cluster: cfg.Cluster, Options: gitops.Options{DryRun: gitops.DryRunClient, Mode: gitops.ModeOff}}}
	rep, err := r.Run(context.Background(), Target{Namespace: "shop"})
	if !errors.Is(err, gitops.ErrChangesPending) || len(rep.Fixes) != 1 || rep.Fixes[0].Rule != "llm" || rep.Fixes[0].Decision != DecisionPlanned {
		t.Fatalf("dry run: %v %+v", err, rep.Fixes)
	}
	r.Auto, r.MaxRisk, r.MinConfidence = true, RiskLow, 0.8
	rep, err = r.Run(context.Background(), Target{Namespace: "shop"})
	if err != nil || rep.Fixes[0].Decision != DecisionSkipped || rep.Fixes[0].Why != "risk medium is above --max-risk low" {
		t.Errorf("auto: %v %s %s", err, rep.Fixes[0].Decision, rep.Fixes[0].Why)
	}
}
