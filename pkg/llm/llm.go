package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Role is who says a message.
type Role string

// Roles.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one chat message.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content"`
}

// Request asks for an answer in JSON matching Schema.
type Request struct {
	Messages []Message
	// SchemaName names the answer's format (letters, digits, _ and -).
	SchemaName string
	// Schema is the JSON Schema of the answer (an object schema; with strict
	// providers every property must be required and additionalProperties
	// false).
	Schema map[string]any
	// MaxTokens bounds the answer (0: the provider's default).
	MaxTokens int
}

// Response is the provider's answer.
type Response struct {
	// Content is the answer: JSON matching the request's schema.
	Content string `json:"content"`
	// Model is the model that answered.
	Model            string `json:"model"`
	PromptTokens     int64  `json:"promptTokens"`
	CompletionTokens int64  `json:"completionTokens"`
}

// Decode unmarshals the answer into v.
func (r *Response) Decode(v any) error {
	if err := json.Unmarshal([]byte(r.Content), v); err != nil {
		return fmt.Errorf("decode answer of %s: %w", r.Model, err)
	}
	return nil
}

// Provider is a chat model that answers with JSON.
type Provider interface {
	// Name is e.g. "openai (gpt-4o-mini at https://api.openai.com/v1)".
	Name() string
	// Chat sends the messages and returns the answer.
	Chat(ctx context.Context, req Request) (*Response, error)
}

// ErrRefused means the model refused to answer.
var ErrRefused = errors.New("the model refused to answer")

// Settings configure a provider; FromEnv reads them from DOT_LLM_*.
type Settings struct {
	// Provider is "openai" (any OpenAI-compatible endpoint) or
	// "anthropic" (Anthropic's Messages API).
	Provider string
	Model    string
	// BaseURL is the API base, e.g. http://localhost:11434/v1 for Ollama
	// or a gateway in front of Anthropic.
	BaseURL string
	APIKey  string
}

// FromEnv returns the provider configured by DOT_LLM_PROVIDER,
// DOT_LLM_MODEL, DOT_LLM_BASE_URL and DOT_LLM_API_KEY, or nil when
// DOT_LLM_PROVIDER is not set. Without DOT_LLM_API_KEY the provider's own
// variable is used: ANTHROPIC_API_KEY for anthropic, OPENAI_API_KEY for
// the others (never one provider's key for the other).
func FromEnv(getenv func(string) string) (Provider, error) {
	s := Settings{
		Provider: strings.ToLower(getenv("DOT_LLM_PROVIDER")),
		Model:    getenv("DOT_LLM_MODEL"),
		BaseURL:  getenv("DOT_LLM_BASE_URL"),
		APIKey:   getenv("DOT_LLM_API_KEY"),
	}
	if s.Provider == "" {
		return nil, nil
	}
	if s.APIKey == "" {
		if s.Provider == "anthropic" {
			s.APIKey = getenv("ANTHROPIC_API_KEY")
		} else {
			s.APIKey = getenv("OPENAI_API_KEY")
		}
	}
	return New(s)
}

// New returns the provider of s.
func New(s Settings) (Provider, error) {
	switch s.Provider {
	case "openai", "openai-compatible", "ollama", "vllm", "litellm", "llamacpp":
		if s.Model == "" {
			return nil, fmt.Errorf("llm provider %s: DOT_LLM_MODEL is required", s.Provider)
		}
		return NewOpenAI(s), nil
	case "anthropic":
		if s.Model == "" {
			return nil, fmt.Errorf("llm provider %s: DOT_LLM_MODEL is required", s.Provider)
		}
		// Anthropic's API needs a key; a gateway (DOT_LLM_BASE_URL) may
		// authenticate otherwise.
		if s.APIKey == "" && s.BaseURL == "" {
			return nil, fmt.Errorf("llm provider %s: DOT_LLM_API_KEY or ANTHROPIC_API_KEY is required", s.Provider)
		}
		return NewAnthropic(s), nil
	}
	return nil, fmt.Errorf("llm provider %q: want openai (any OpenAI-compatible endpoint: set DOT_LLM_BASE_URL) or anthropic", s.Provider)
}
