package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
)

// DefaultOpenAIBaseURL is OpenAI's API.
const DefaultOpenAIBaseURL = "https://api.openai.com/v1"

// OpenAI talks to an OpenAI-compatible chat completions endpoint with
// structured outputs (response_format json_schema, strict).
type OpenAI struct {
	model, baseURL string
	client         openai.Client
}

var _ Provider = (*OpenAI)(nil)

// OpenAIOption customises NewOpenAI.
type OpenAIOption func(*[]option.RequestOption)

// WithHTTPClient sets the HTTP client (tests, proxies).
func WithHTTPClient(c *http.Client) OpenAIOption {
	return func(o *[]option.RequestOption) { *o = append(*o, option.WithHTTPClient(c)) }
}

// NewOpenAI returns a provider for s. Only s is used: unlike the SDK's
// default client, no OPENAI_* variable is read behind the caller's back.
func NewOpenAI(s Settings, opts ...OpenAIOption) *OpenAI {
	base := s.BaseURL
	if base == "" {
		base = DefaultOpenAIBaseURL
	}
	ro := []option.RequestOption{option.WithBaseURL(base), option.WithMaxRetries(1)}
	if s.APIKey != "" {
		ro = append(ro, option.WithAPIKey(s.APIKey))
	} else {
		// Local servers (Ollama, llama.cpp) need no key, but the SDK sends
		// the header anyway.
		ro = append(ro, option.WithAPIKey("none"))
	}
	for _, o := range opts {
		o(&ro)
	}
	// option.WithBaseURL etc. are applied after the environment defaults
	// NewClient reads, so ours win.
	return &OpenAI{model: s.Model, baseURL: base, client: openai.NewClient(ro...)}
}

// Name implements Provider.
func (p *OpenAI) Name() string { return fmt.Sprintf("openai (%s at %s)", p.model, p.baseURL) }

// Chat implements Provider.
func (p *OpenAI) Chat(ctx context.Context, req Request) (*Response, error) {
	params := openai.ChatCompletionNewParams{Model: p.model}
	for _, m := range req.Messages {
		switch m.Role {
		case RoleSystem:
			params.Messages = append(params.Messages, openai.SystemMessage(m.Content))
		case RoleAssistant:
			params.Messages = append(params.Messages, openai.AssistantMessage(m.Content))
		default:
			params.Messages = append(params.Messages, openai.UserMessage(m.Content))
		}
	}
	if req.Schema != nil {
		params.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONSchema: &openai.ResponseFormatJSONSchemaParam{JSONSchema: openai.ResponseFormatJSONSchemaJSONSchemaParam{
				Name: req.SchemaName, Schema: req.Schema, Strict: openai.Bool(true),
			}},
		}
	}
	if req.MaxTokens > 0 {
		params.MaxCompletionTokens = openai.Int(int64(req.MaxTokens))
	}
	out, err := p.client.Chat.Completions.New(ctx, params)
	if err != nil {
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			return nil, fmt.Errorf("llm %s: %d %s: %s", p.model, apiErr.StatusCode, apiErr.Type, apiErr.Message)
		}
		return nil, fmt.Errorf("llm %s: %w", p.model, err)
	}
	if len(out.Choices) == 0 {
		return nil, fmt.Errorf("llm %s: the answer has no choices", p.model)
	}
	msg := out.Choices[0].Message
	if msg.Refusal != "" {
		return nil, fmt.Errorf("llm %s: %w: %s", p.model, ErrRefused, msg.Refusal)
	}
	return &Response{Content: msg.Content, Model: out.Model, PromptTokens: out.Usage.PromptTokens, CompletionTokens: out.Usage.CompletionTokens}, nil
}
