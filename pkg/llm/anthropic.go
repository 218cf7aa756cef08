package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
)

// DefaultAnthropicBaseURL is Anthropic's API (the SDK adds /v1/messages).
const DefaultAnthropicBaseURL = "https://api.anthropic.com"

const (
	// anthropicMaxTokens is max_tokens when the request sets none: the
	// Messages API requires one, and an answer of dot's schemas is far
	// shorter.
	anthropicMaxTokens = 4096
	// anthropicAttemptTimeout bounds one HTTP attempt (the SDK's default
	// for a non-streaming call is 10 minutes).
	anthropicAttemptTimeout = 2 * time.Minute
	// anthropicMaxRetries is the SDK's default: 408, 409, 429 and 5xx
	// (529 overloaded included) and connection errors are retried twice
	// with backoff.
	anthropicMaxRetries = 2
	// maxRetryWait is the longest Retry-After the provider waits for; a
	// server asking for more gets its error returned at once instead.
	maxRetryWait = 30 * time.Second
)

// ErrTruncated means the answer was cut off at the token limit before it
// was complete.
var ErrTruncated = errors.New("the answer was cut off at the token limit")

// Anthropic talks to Anthropic's Messages API (or a gateway that speaks
// it). Structured output is a forced tool call: the request's schema is
// the input schema of a single tool, tool_choice names that tool, and the
// tool's input is the answer.
type Anthropic struct {
	model, baseURL, apiKey string
	client                 anthropic.Client
}

var _ Provider = (*Anthropic)(nil)

// AnthropicOption customises NewAnthropic.
type AnthropicOption func(*[]aoption.RequestOption)

// WithAnthropicHTTPClient sets the HTTP client (tests, proxies).
func WithAnthropicHTTPClient(c *http.Client) AnthropicOption {
	return func(o *[]aoption.RequestOption) { *o = append(*o, aoption.WithHTTPClient(c)) }
}

// NewAnthropic returns a provider for s. Only s is used: the SDK's
// credential chain (ANTHROPIC_* variables, profile files, federation) and
// its OpenTelemetry spans, which could carry the prompt, are turned off.
// A base URL ending in /v1 is accepted as well as one without.
func NewAnthropic(s Settings, opts ...AnthropicOption) *Anthropic {
	base := strings.TrimSuffix(strings.TrimRight(s.BaseURL, "/"), "/v1")
	if base == "" {
		base = DefaultAnthropicBaseURL
	}
	ro := []aoption.RequestOption{
		aoption.WithoutEnvironmentDefaults(),
		aoption.WithoutOpenTelemetry(),
		aoption.WithBaseURL(base + "/"),
		aoption.WithMaxRetries(anthropicMaxRetries),
		aoption.WithRequestTimeout(anthropicAttemptTimeout),
		aoption.WithMiddleware(boundRetryAfter),
	}
	if s.APIKey != "" {
		ro = append(ro, aoption.WithAPIKey(s.APIKey))
	}
	for _, o := range opts {
		o(&ro)
	}
	return &Anthropic{model: s.Model, baseURL: base, apiKey: s.APIKey, client: anthropic.NewClient(ro...)}
}

// Name implements Provider.
func (p *Anthropic) Name() string { return fmt.Sprintf("anthropic (%s at %s)", p.model, p.baseURL) }

// Chat implements Provider.
func (p *Anthropic) Chat(ctx context.Context, req Request) (*Response, error) {
	params := anthropic.MessageNewParams{Model: p.model, MaxTokens: anthropicMaxTokens}
	if req.MaxTokens > 0 {
		params.MaxTokens = int64(req.MaxTokens)
	}
	for _, m := range req.Messages {
		switch m.Role {
		case RoleSystem:
			params.System = append(params.System, anthropic.TextBlockParam{Text: m.Content})
		case RoleAssistant:
			params.Messages = append(params.Messages, anthropic.NewAssistantMessage(anthropic.NewTextBlock(m.Content)))
		default:
			params.Messages = append(params.Messages, anthropic.NewUserMessage(anthropic.NewTextBlock(m.Content)))
		}
	}
	tool := ""
	if req.Schema != nil {
		tool = req.SchemaName
		if tool == "" {
			tool = "answer"
		}
		schema, err := toolInputSchema(req.Schema)
		if err != nil {
			return nil, fmt.Errorf("llm %s: schema %s: %w", p.model, tool, err)
		}
		params.Tools = []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
			Name:        tool,
			Description: anthropic.String("Give your answer by calling this tool: its input is the answer."),
			InputSchema: schema,
		}}}
		params.ToolChoice = anthropic.ToolChoiceParamOfTool(tool)
	}
	msg, err := p.client.Messages.New(ctx, params)
	if err != nil {
		return nil, p.apiError(err)
	}
	res := &Response{Model: msg.Model, PromptTokens: msg.Usage.InputTokens, CompletionTokens: msg.Usage.OutputTokens}
	switch msg.StopReason {
	case anthropic.StopReasonRefusal:
		if why := msg.StopDetails.Explanation; why != "" {
			return nil, fmt.Errorf("llm %s: %w: %s", p.model, ErrRefused, why)
		}
		return nil, fmt.Errorf("llm %s: %w", p.model, ErrRefused)
	case anthropic.StopReasonMaxTokens, anthropic.StopReasonModelContextWindowExceeded:
		// A tool_use block cut off here holds a partial input.
		return nil, fmt.Errorf("llm %s: %w (stop_reason %s, max_tokens %d)", p.model, ErrTruncated, msg.StopReason, params.MaxTokens)
	}
	var text strings.Builder
	for _, b := range msg.Content {
		switch {
		case tool != "" && b.Type == "tool_use" && b.Name == tool:
			var compact bytes.Buffer
			if err := json.Compact(&compact, b.Input); err != nil || !bytes.HasPrefix(compact.Bytes(), []byte("{")) {
				return nil, fmt.Errorf("llm %s: the input of tool %s is not a JSON object", p.model, tool)
			}
			res.Content = compact.String()
			return res, nil
		case b.Type == "text":
			text.WriteString(b.Text)
		}
	}
	if tool == "" {
		res.Content = text.String()
		return res, nil
	}
	return nil, fmt.Errorf("llm %s: the answer has no tool_use block for %s (stop_reason %s): %s", p.model, tool, msg.StopReason, clip(text.String(), 200))
}

// apiError turns an SDK error into one that names the status, the error
// type and the API's message, and never holds the key.
func (p *Anthropic) apiError(err error) error {
	var apiErr *anthropic.Error
	if errors.As(err, &apiErr) {
		var body struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
			RequestID string `json:"request_id"`
		}
		_ = json.Unmarshal([]byte(apiErr.RawJSON()), &body)
		msg := body.Error.Message
		if msg == "" {
			msg = http.StatusText(apiErr.StatusCode)
		}
		typ := string(apiErr.Type())
		if typ == "" {
			typ = "error"
		}
		hint := ""
		switch {
		case apiErr.StatusCode == http.StatusUnauthorized:
			hint = " (check DOT_LLM_API_KEY or ANTHROPIC_API_KEY)"
		case apiErr.StatusCode == http.StatusTooManyRequests || apiErr.StatusCode >= 500:
			hint = fmt.Sprintf(" (after %d retries)", anthropicMaxRetries)
		}
		// The request id is what Anthropic's support asks for.
		if id := apiErr.RequestID; id != "" || body.RequestID != "" {
			if id == "" {
				id = body.RequestID
			}
			hint += " (request-id " + id + ")"
		}
		return fmt.Errorf("llm %s: %d %s: %s%s", p.model, apiErr.StatusCode, typ, p.scrub(msg), hint)
	}
	if p.apiKey != "" && strings.Contains(err.Error(), p.apiKey) {
		return fmt.Errorf("llm %s: %s", p.model, p.scrub(err.Error()))
	}
	return fmt.Errorf("llm %s: %w", p.model, err)
}

// scrub removes the key from text that came back from the server or the
// transport (a gateway might echo a header).
func (p *Anthropic) scrub(s string) string {
	if p.apiKey == "" {
		return s
	}
	return strings.ReplaceAll(s, p.apiKey, "<api-key>")
}

// toolInputSchema converts an object JSON schema to a tool's input_schema.
func toolInputSchema(schema map[string]any) (anthropic.ToolInputSchemaParam, error) {
	var out anthropic.ToolInputSchemaParam
	if t, ok := schema["type"]; ok && t != "object" {
		return out, fmt.Errorf("a tool's input must be an object, the schema's type is %v", t)
	}
	out.ExtraFields = map[string]any{}
	for k, v := range schema {
		if k != "type" {
			out.ExtraFields[k] = v
		}
	}
	return out, nil
}

// boundRetryAfter stops the SDK from waiting longer than maxRetryWait
// before a retry: a response asking for more is not retried, so its error
// comes back at once.
func boundRetryAfter(req *http.Request, next aoption.MiddlewareNext) (*http.Response, error) {
	res, err := next(req)
	if res != nil && retryAfter(res.Header) > maxRetryWait {
		res.Header.Set("x-should-retry", "false")
	}
	return res, err
}

// retryAfter is the wait a response asks for (retry-after-ms, or
// retry-after in seconds or as a date), 0 if none.
func retryAfter(h http.Header) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
