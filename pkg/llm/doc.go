// Package llm is dot's optional language-model layer: a small provider
// interface (chat that answers with JSON matching a schema), an
// OpenAI-compatible provider (the official SDK with a configurable base
// URL, which covers OpenAI, vLLM, Ollama, llama.cpp and LiteLLM), an
// Anthropic provider (the official SDK; the answer is the input of a
// forced tool call whose input schema is the request's schema), and a
// Masker that replaces object names, namespaces, label values and
// secret-looking values by placeholders before a prompt leaves the machine,
// and puts them back into the answer. Providers send the messages as they
// are given: masking is the caller's job (remediate's LLMAdvisor masks
// before calling whichever provider is configured).
//
// dot's deterministic engine needs none of this; a provider is used only
// when DOT_LLM_PROVIDER is set (see FromEnv). Answers are data — typed
// patches that go through the same validation, dry run and approval as the
// rules' fixes — never commands to run.
package llm
