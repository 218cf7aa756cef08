package llm

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
)

// server answers chat completions with a recorded response and keeps the
// request it got.
func server(t *testing.T, status int, file string, got *map[string]any, header *http.Header) string {
	t.Helper()
	body, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		b, _ := io.ReadAll(r.Body)
		if got != nil {
			if err := json.Unmarshal(b, got); err != nil {
				t.Errorf("request body is not JSON: %v", err)
			}
		}
		if header != nil {
			*header = r.Header.Clone()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

var answerSchema = map[string]any{
	"type": "object", "additionalProperties": false, "required": []any{"explanation"},
	"properties": map[string]any{"explanation": map[string]any{"type": "string"}},
}

func TestOpenAIChat(t *testing.T) {
	var req map[string]any
	var header http.Header
	url := server(t, 200, "chat-completion.json", &req, &header)
	p, err := FromEnv(func(k string) string {
		return map[string]string{"DOT_LLM_PROVIDER": "openai", "DOT_LLM_MODEL": "gpt-4o-mini", "DOT_LLM_BASE_URL": url, "OPENAI_API_KEY": "sk-test"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Chat(context.Background(), Request{
		Messages:   []Message{{Role: RoleSystem, Content: "You are dot."}, {Role: RoleUser, Content: "Why does it crash?"}},
		SchemaName: "diagnosis", Schema: answerSchema, MaxTokens: 300,
	})
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		Explanation string  `json:"explanation"`
		Confidence  float64 `json:"confidence"`
	}
	if err := res.Decode(&answer); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(answer.Explanation, "<name-1> in <namespace-1>") || answer.Confidence != 0.55 || res.Model != "gpt-4o-mini-2024-07-18" || res.PromptTokens != 412 {
		t.Errorf("answer %+v, response %+v", answer, res)
	}
	// The wire request: model, messages in order, strict JSON schema.
	if header.Get("Authorization") != "Bearer sk-test" {
		t.Errorf("authorization %q", header.Get("Authorization"))
	}
	msgs, _ := req["messages"].([]any)
	rf, _ := req["response_format"].(map[string]any)
	js, _ := rf["json_schema"].(map[string]any)
	if req["model"] != "gpt-4o-mini" || len(msgs) != 2 || msgs[0].(map[string]any)["role"] != "system" ||
		rf["type"] != "json_schema" || js["name"] != "diagnosis" || js["strict"] != true || js["schema"] == nil || req["max_completion_tokens"] != float64(300) {
		t.Errorf("request %v", req)
	}
	if !strings.Contains(p.Name(), "gpt-4o-mini") {
		t.Errorf("name %q", p.Name())
	}
}

func TestOpenAIErrors(t *testing.T) {
	ctx := context.Background()
	p := NewOpenAI(Settings{Model: "m", BaseURL: server(t, 401, "error-401.json", nil, nil), APIKey: "sk-wrong"})
	_, err := p.Chat(ctx, Request{Messages: []Message{{Role: RoleUser, Content: "hi"}}})
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Incorrect API key") {
		t.Errorf("401: err = %v", err)
	}
	p = NewOpenAI(Settings{Model: "m", BaseURL: server(t, 200, "chat-refusal.json", nil, nil)})
	_, err = p.Chat(ctx, Request{Messages: []Message{{Role: RoleUser, Content: "hi"}}})
	if !errors.Is(err, ErrRefused) {
		t.Errorf("refusal: err = %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		wantNil bool
		wantErr string
	}{
		{env: nil, wantNil: true},
		{env: map[string]string{"DOT_LLM_PROVIDER": "openai"}, wantErr: "DOT_LLM_MODEL is required"},
		{env: map[string]string{"DOT_LLM_PROVIDER": "anthropic", "DOT_LLM_MODEL": "x", "ANTHROPIC_API_KEY": "k"}},
		{env: map[string]string{"DOT_LLM_PROVIDER": "gemini", "DOT_LLM_MODEL": "x"}, wantErr: `llm provider "gemini"`},
		{env: map[string]string{"DOT_LLM_PROVIDER": "Ollama", "DOT_LLM_MODEL": "llama3.1", "DOT_LLM_BASE_URL": "http://localhost:11434/v1"}},
	} {
		p, err := FromEnv(func(k string) string { return tc.env[k] })
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err = %v, want %q", tc.env, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%v: %v", tc.env, err)
		case (p == nil) != tc.wantNil:
			t.Errorf("%v: provider %v", tc.env, p)
		}
	}
}

func TestMasker(t *testing.T) {
	m := NewMasker()
	m.Add("name", "web", "web-api", "db")
	m.Add("namespace", "shop")
	in := `deployment web-api in shop: env DB_PASSWORD=hunter2pass, token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl; image web:1.4 (webhook unchanged); key AKIAIOSFODNN7EXAMPLE1234567890abcdef`
	out := m.Mask(in)
	for _, leak := range []string{"web-api", "shop", "hunter2pass", "eyJhbGci", "AKIAIOSFODNN7EXAMPLE1234567890abcdef"} {
		if strings.Contains(out, leak) {
			t.Errorf("masked text still holds %q: %s", leak, out)
		}
	}
	for _, keep := range []string{"webhook unchanged", "DB_PASSWORD=", "deployment <name-2> in <namespace-1>", "image <name-1>:1.4"} {
		if !strings.Contains(out, keep) {
			t.Errorf("masked text lost %q: %s", keep, out)
		}
	}
	if back := m.Unmask(out); back != in {
		t.Errorf("unmask:\n%s\nwant\n%s", back, in)
	}
	// The same value keeps its placeholder across calls, and answers are
	// unmasked inside JSON values.
	if again := m.Mask("web-api"); again != "<name-2>" {
		t.Errorf("second mask: %s", again)
	}
	v := m.UnmaskValue(map[string]any{"path": "spec.template.spec.containers[name=<name-1>].image", "list": []any{"<namespace-1>"}})
	if js, _ := json.Marshal(v); string(js) != `{"list":["shop"],"path":"spec.template.spec.containers[name=web].image"}` {
		t.Errorf("UnmaskValue: %s", js)
	}
}
