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
	"sync"
	"testing"
	"time"
)

const testAnthropicKey = "sk-ant-api03-test-key-do-not-leak"

// reply is one recorded answer of the Messages API.
type reply struct {
	status int
	file   string
	header map[string]string
}

// sent is a request the fake Messages API got.
type sent struct {
	path   string
	header http.Header
	raw    string
	body   map[string]any
}

// anthropicServer speaks the Messages API wire protocol: it answers POST
// /v1/messages with the replies in turn (the last one repeats) and keeps
// the requests.
func anthropicServer(t *testing.T, replies ...reply) (string, func() []sent) {
	t.Helper()
	bodies := make([][]byte, len(replies))
	for i, r := range replies {
		b, err := os.ReadFile("testdata/" + r.file)
		if err != nil {
			t.Fatal(err)
		}
		bodies[i] = b
	}
	var mu sync.Mutex
	var got []sent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s := sent{path: r.URL.Path, header: r.Header.Clone(), raw: string(b)}
		if err := json.Unmarshal(b, &s.body); err != nil {
			t.Errorf("request body is not JSON: %v", err)
		}
		mu.Lock()
		i := min(len(got), len(replies)-1)
		got = append(got, s)
		mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
			http.NotFound(w, r)
			return
		}
		for k, v := range replies[i].header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(replies[i].status)
		w.Write(bodies[i])
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []sent {
		mu.Lock()
		defer mu.Unlock()
		return append([]sent(nil), got...)
	}
}

func TestAnthropicChat(t *testing.T) {
	// The SDK's own variables must not be read: they would send another
	// credential, or the prompt elsewhere.
	t.Setenv("ANTHROPIC_AUTH_TOKEN", "other-token")
	t.Setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:1")
	t.Setenv("ANTHROPIC_CUSTOM_HEADERS", "X-Leak: yes")
	url, requests := anthropicServer(t, reply{status: 200, file: "messages-tool-use.json"})
	p, err := FromEnv(func(k string) string {
		return map[string]string{"DOT_LLM_PROVIDER": "anthropic", "DOT_LLM_MODEL": "claude-sonnet-4-5", "DOT_LLM_BASE_URL": url, "ANTHROPIC_API_KEY": testAnthropicKey}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	// The caller masks, as remediate's LLMAdvisor does.
	m := NewMasker()
	m.Add("name", "web-api")
	m.Add("namespace", "shop")
	prompt := m.Mask("Deployment web-api in shop crashes: env DB_PASSWORD=hunter2pass; why?")
	res, err := p.Chat(context.Background(), Request{
		Messages:   []Message{{Role: RoleSystem, Content: "You are dot."}, {Role: RoleUser, Content: prompt}},
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
	if m.Unmask(answer.Explanation) != "web-api in shop cannot reach its database: DATABASE_URL is not set." || answer.Confidence != 0.55 ||
		res.Model != "claude-sonnet-4-5-20250929" || res.PromptTokens != 523 || res.CompletionTokens != 61 {
		t.Errorf("answer %+v, response %+v", answer, res)
	}

	reqs := requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.path != "/v1/messages" || r.header.Get("X-Api-Key") != testAnthropicKey || r.header.Get("Anthropic-Version") != "2023-06-01" ||
		r.header.Get("Authorization") != "" || r.header.Get("X-Leak") != "" {
		t.Errorf("path %s, headers %v", r.path, r.header)
	}
	for _, leak := range []string{"web-api", "shop", "hunter2pass", testAnthropicKey} {
		if strings.Contains(r.raw, leak) {
			t.Errorf("the request body holds %q: %s", leak, r.raw)
		}
	}
	// The wire request: model, system apart, the masked prompt, one tool
	// whose input schema is the request's schema, and tool_choice forcing it.
	var body struct {
		Model     string `json:"model"`
		MaxTokens int    `json:"max_tokens"`
		System    []struct{ Type, Text string }
		Messages  []struct {
			Role    string
			Content []struct{ Type, Text string }
		}
		Tools []struct {
			Name        string
			InputSchema map[string]any `json:"input_schema"`
		}
		ToolChoice map[string]any `json:"tool_choice"`
	}
	if err := json.Unmarshal([]byte(r.raw), &body); err != nil {
		t.Fatal(err)
	}
	if body.Model != "claude-sonnet-4-5" || body.MaxTokens != 300 || len(body.System) != 1 || body.System[0].Text != "You are dot." ||
		len(body.Messages) != 1 || body.Messages[0].Role != "user" || len(body.Messages[0].Content) != 1 ||
		body.Messages[0].Content[0].Text != "Deployment <name-1> in <namespace-1> crashes: env DB_PASSWORD=<secret-1>; why?" {
		t.Errorf("request %s", r.raw)
	}
	wantSchema, _ := json.Marshal(answerSchema)
	gotSchema := []byte(nil)
	if len(body.Tools) == 1 {
		gotSchema, _ = json.Marshal(body.Tools[0].InputSchema)
	}
	if len(body.Tools) != 1 || body.Tools[0].Name != "diagnosis" || string(gotSchema) != string(wantSchema) {
		t.Errorf("tools %+v, want one named diagnosis with input_schema %s", body.Tools, wantSchema)
	}
	if len(body.ToolChoice) != 2 || body.ToolChoice["type"] != "tool" || body.ToolChoice["name"] != "diagnosis" {
		t.Errorf("tool_choice %v", body.ToolChoice)
	}
	if p.Name() != "anthropic (claude-sonnet-4-5 at "+url+")" {
		t.Errorf("name %q", p.Name())
	}
}

func TestAnthropicErrors(t *testing.T) {
	user := Request{Messages: []Message{{Role: RoleUser, Content: "hi"}}, SchemaName: "diagnosis", Schema: answerSchema}
	for _, tc := range []struct {
		name     string
		replies  []reply
		want     string // in the error; "" for no error
		is       error
		attempts int
		noSchema bool
	}{
		{name: "401", replies: []reply{{status: 401, file: "anthropic-error-401.json"}},
			want: "401 authentication_error: invalid x-api-key (check DOT_LLM_API_KEY or ANTHROPIC_API_KEY) (request-id req_011CSHoEeqs5C35K2UUqR7Fy)", attempts: 1},
		{name: "429 asking for an hour is not waited for", replies: []reply{{status: 429, file: "anthropic-error-429.json", header: map[string]string{"Retry-After": "3600"}}},
			want: "429 rate_limit_error: This request would exceed the rate limit", attempts: 1},
		{name: "529 retried twice", replies: []reply{{status: 529, file: "anthropic-error-529.json", header: map[string]string{"Retry-After-Ms": "1"}}},
			want: "529 overloaded_error: Overloaded (after 2 retries)", attempts: 3},
		{name: "529 then an answer", replies: []reply{{status: 529, file: "anthropic-error-529.json", header: map[string]string{"Retry-After-Ms": "1"}}, {status: 200, file: "messages-tool-use.json"}},
			attempts: 2},
		{name: "a gateway echoing the key", replies: []reply{{status: 400, file: "anthropic-error-400-echo.json"}},
			want: "400 invalid_request_error: gateway: upstream rejected key <api-key>", attempts: 1},
		{name: "max_tokens", replies: []reply{{status: 200, file: "messages-max-tokens.json"}},
			want: "(stop_reason max_tokens, max_tokens 4096)", is: ErrTruncated, attempts: 1},
		{name: "no tool_use", replies: []reply{{status: 200, file: "messages-no-tool-use.json"}},
			want: "the answer has no tool_use block for diagnosis (stop_reason end_turn): The container exits because DATABASE_URL is not set.", attempts: 1},
		{name: "no schema: the text is the answer, no tool is sent", replies: []reply{{status: 200, file: "messages-no-tool-use.json"}},
			noSchema: true, attempts: 1},
		{name: "refusal", replies: []reply{{status: 200, file: "messages-refusal.json"}},
			want: "the model refused to answer: This request was declined.", is: ErrRefused, attempts: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, requests := anthropicServer(t, tc.replies...)
			p := NewAnthropic(Settings{Model: "claude-sonnet-4-5", BaseURL: url + "/v1/", APIKey: testAnthropicKey})
			// Retries must be bounded: a call that waits for the server's
			// Retry-After of an hour ends here with a deadline error.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req := user
			if tc.noSchema {
				req.Schema = nil
			}
			res, err := p.Chat(ctx, req)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("err = %v", err)
			case tc.want == "" && !strings.Contains(res.Content, "DATABASE_URL"):
				t.Errorf("content %q", res.Content)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want %q", err, tc.want)
			case tc.is != nil && !errors.Is(err, tc.is):
				t.Errorf("err = %v, want errors.Is %v", err, tc.is)
			case err != nil && strings.Contains(err.Error(), testAnthropicKey):
				t.Errorf("the error holds the key: %v", err)
			}
			if n := len(requests()); n != tc.attempts {
				t.Errorf("%d requests, want %d", n, tc.attempts)
			}
			for _, r := range requests() {
				if r.path != "/v1/messages" {
					t.Errorf("path %s (base URL %s/v1/)", r.path, url)
				}
				if _, tools := r.body["tools"]; tools == tc.noSchema {
					t.Errorf("tools sent: %v, schema: %v", tools, !tc.noSchema)
				}
			}
		})
	}
}

// TestAnthropicContext: a cancelled call ends at once with the context's
// error, and the HTTP client set by option is used.
func TestAnthropicContext(t *testing.T) {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	defer srv.Close()
	defer close(done)
	used := false
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used = true
		return http.DefaultTransport.RoundTrip(r)
	})}
	p := NewAnthropic(Settings{Model: "claude-sonnet-4-5", BaseURL: srv.URL, APIKey: testAnthropicKey}, WithAnthropicHTTPClient(hc))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Chat(ctx, Request{Messages: []Message{{Role: RoleUser, Content: "hi"}}, Schema: answerSchema})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("err = %v after %s", err, time.Since(start))
	}
	if !used {
		t.Error("the HTTP client given by WithAnthropicHTTPClient was not used")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestFromEnvAnthropic(t *testing.T) {
	for _, tc := range []struct {
		name          string
		env           map[string]string
		wantErr       string
		wantKey, base string
	}{
		{name: "no model", env: map[string]string{"DOT_LLM_PROVIDER": "anthropic", "ANTHROPIC_API_KEY": "k"}, wantErr: "llm provider anthropic: DOT_LLM_MODEL is required"},
		{name: "no key", env: map[string]string{"DOT_LLM_PROVIDER": "anthropic", "DOT_LLM_MODEL": "m"}, wantErr: "DOT_LLM_API_KEY or ANTHROPIC_API_KEY is required"},
		{name: "an OpenAI key is never sent to Anthropic", env: map[string]string{"DOT_LLM_PROVIDER": "anthropic", "DOT_LLM_MODEL": "m", "OPENAI_API_KEY": "sk-openai"},
			wantErr: "DOT_LLM_API_KEY or ANTHROPIC_API_KEY is required"},
		{name: "ANTHROPIC_API_KEY", env: map[string]string{"DOT_LLM_PROVIDER": "anthropic", "DOT_LLM_MODEL": "m", "ANTHROPIC_API_KEY": "sk-ant", "OPENAI_API_KEY": "sk-openai"},
			wantKey: "sk-ant", base: "https://api.anthropic.com"},
		{name: "DOT_LLM_API_KEY first", env: map[string]string{"DOT_LLM_PROVIDER": "Anthropic", "DOT_LLM_MODEL": "m", "DOT_LLM_API_KEY": "sk-dot", "ANTHROPIC_API_KEY": "sk-ant"},
			wantKey: "sk-dot", base: "https://api.anthropic.com"},
		{name: "a gateway without key", env: map[string]string{"DOT_LLM_PROVIDER": "anthropic", "DOT_LLM_MODEL": "m", "DOT_LLM_BASE_URL": "https://gw.example.com/anthropic/v1/"},
			base: "https://gw.example.com/anthropic"},
		{name: "unknown provider", env: map[string]string{"DOT_LLM_PROVIDER": "gemini", "DOT_LLM_MODEL": "m"}, wantErr: `llm provider "gemini": want openai (any OpenAI-compatible endpoint: set DOT_LLM_BASE_URL) or anthropic`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := FromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a, ok := p.(*Anthropic)
			if !ok {
				t.Fatalf("provider %T, want *Anthropic", p)
			}
			if a.apiKey != tc.wantKey || a.baseURL != tc.base || a.model != "m" {
				t.Errorf("key %q base %q model %q, want %q %q m", a.apiKey, a.baseURL, a.model, tc.wantKey, tc.base)
			}
		})
	}
}
