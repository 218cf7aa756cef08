// Package llm is dot's optional language-model layer: a small provider
// interface (chat that answers with JSON matching a schema), an
// OpenAI-compatible provider (the official SDK with a configurable base
// URL, which covers OpenAI, vLLM, Ollama, llama.cpp and LiteLLM), and a
// Masker that replaces object names, namespaces, label values and
// secret-looking values by placeholders before a prompt leaves the machine,
// and puts them back into the answer.
//
// dot's deterministic engine needs none of this; a provider is used only
// when DOT_LLM_PROVIDER is set (see FromEnv). Answers are data — typed
// patches that go through the same validation, dry run and approval as the
// rules' fixes — never commands to run.
package llm
