package remediate

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/gitops/manifest"
	"github.com/dot-ai/dot/pkg/kube"
	"github.com/dot-ai/dot/pkg/llm"
)

// Advisor proposes a fix for a finding no rule covers. Its fixes go
// through the same validation, dry run and approval as the rules'.
type Advisor interface {
	Advise(ctx context.Context, f Finding, s *Snapshot) (*Fix, error)
}

// LLMAdvisor asks a language model. Names, namespaces, label values and
// secret-looking values are masked before anything is sent; the answer is
// a typed patch of the finding's object (field path, new value, the value
// the model believes is there), checked against the live object. Its
// confidence is capped and its risk at least medium, so --auto with the
// default bounds never delivers it without a human.
type LLMAdvisor struct {
	Provider llm.Provider
	// MaxConfidence caps the confidence of the model's fixes (default 0.6).
	MaxConfidence float64
}

var _ Advisor = (*LLMAdvisor)(nil)

// llmAnswer is the JSON the model answers with.
type llmAnswer struct {
	Explanation string      `json:"explanation"`
	Options     []string    `json:"options"`
	Risk        string      `json:"risk"`
	Confidence  float64     `json:"confidence"`
	Changes     []llmChange `json:"changes"`
}

type llmChange struct {
	Path   string `json:"path"`
	Value  string `json:"value"`
	Expect string `json:"expect"`
}

var llmSchema = map[string]any{
	"type": "object", "additionalProperties": false,
	"required": []any{"explanation", "options", "risk", "confidence", "changes"},
	"properties": map[string]any{
		"explanation": map[string]any{"type": "string", "description": "the root cause, citing the evidence"},
		"options":     map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "description": "what a human could do"},
		"risk":        map[string]any{"type": "string", "enum": []any{"low", "medium", "high"}},
		"confidence":  map[string]any{"type": "number", "description": "0 to 1"},
		"changes": map[string]any{"type": "array", "maxItems": 3, "items": map[string]any{
			"type": "object", "additionalProperties": false, "required": []any{"path", "value", "expect"},
			"properties": map[string]any{
				"path":   map[string]any{"type": "string", "description": "field path in the object, e.g. spec.template.spec.containers[name=app].image"},
				"value":  map[string]any{"type": "string", "description": "the new scalar value"},
				"expect": map[string]any{"type": "string", "description": "the value the field has now, empty if unset"},
			},
		}},
	},
}

const llmSystemPrompt = `You are the remediation assistant of dot, a tool that changes Kubernetes workloads through Git.
You get one finding (with its evidence) and the object it concerns, as YAML. Names are masked as <kind-N>; keep the placeholders as they are.
Explain the most likely root cause. Propose at most three field changes of that object only, as typed patches: a field path
(keys separated by dots, list items selected as containers[name=x]), the new scalar value, and the value the field has now.
Never propose commands, scripts, new objects, or secret values. When you are not sure, propose no change and list options.`

// Advise implements Advisor.
func (a *LLMAdvisor) Advise(ctx context.Context, f Finding, s *Snapshot) (*Fix, error) {
	obj, ok := s.object(f.Object)
	if !ok {
		return nil, fmt.Errorf("advise on %s: the object is not in the snapshot", f.Object)
	}
	m := llm.NewMasker()
	m.Add("namespace", f.Object.Namespace)
	m.Add("name", f.Object.Name, f.Container)
	m.Add("name", f.Pods...)
	m.Add("name", labelValues(obj)...)
	m.Add("name", sortedKeys(s.ConfigMaps)...)
	m.Add("name", sortedKeys(s.Secrets)...)
	m.Add("secret", secretEnvValues(obj)...)
	if f.Owner != nil {
		m.Add("owner", f.Owner.Owner)
	}
	y, err := yaml.Marshal(promptView(obj))
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Finding %s (%s) on %s %s", f.ID, f.Severity, f.Object.Kind, f.Object.Name)
	if f.Container != "" {
		fmt.Fprintf(&b, ", container %s", f.Container)
	}
	fmt.Fprintf(&b, ":\n%s\n%s\n\nEvidence:\n", f.Summary, f.Detail)
	for _, e := range f.Evidence {
		fmt.Fprintf(&b, "- %s %s/%s: %s\n", e.Source, e.Object.Kind, e.Object.Name, e.Text)
	}
	fmt.Fprintf(&b, "\nThe object:\n%s", y)
	res, err := a.Provider.Chat(ctx, llm.Request{
		Messages:   []llm.Message{{Role: llm.RoleSystem, Content: llmSystemPrompt}, {Role: llm.RoleUser, Content: m.Mask(b.String())}},
		SchemaName: "dot_remediation", Schema: llmSchema, MaxTokens: 1200,
	})
	if err != nil {
		return nil, err
	}
	var ans llmAnswer
	if err := res.Decode(&ans); err != nil {
		return nil, err
	}
	ans.Explanation = m.Unmask(ans.Explanation)
	for i := range ans.Options {
		ans.Options[i] = m.Unmask(ans.Options[i])
	}
	fix := &Fix{Rule: "llm", Title: "suggested by " + a.Provider.Name() + ": " + f.Summary, Risk: RiskMedium, Options: ans.Options,
		Explanation: fmt.Sprintf("%s (suggested by %s; check it)", ans.Explanation, a.Provider.Name())}
	if r, err := ParseRisk(ans.Risk); err == nil && r == RiskHigh {
		fix.Risk = RiskHigh
	}
	maxConf := a.MaxConfidence
	if maxConf <= 0 {
		maxConf = 0.6
	}
	fix.Confidence = math.Max(0, math.Min(ans.Confidence, maxConf))
	fields, why := a.checkChanges(obj, m, ans.Changes)
	if why != "" {
		fix.Options = append(fix.Options, "the model's change was not used: "+why)
		return fix, nil
	}
	if len(fields) > 0 {
		title := fmt.Sprintf("change %s as suggested by the model", objName(f.Object))
		fix.ChangeSet = setChange(title, f.Object, "suggested by "+a.Provider.Name()+" for "+f.ID, fields...)
		fix.Title = fix.ChangeSet.Title
	}
	return fix, nil
}

// checkChanges unmasks and validates the model's changes against the live
// object: parsable paths, scalar values, the expected value is the one
// there, nothing secret-looking.
func (a *LLMAdvisor) checkChanges(obj map[string]any, m *llm.Masker, changes []llmChange) ([]gitops.FieldChange, string) {
	var out []gitops.FieldChange
	for _, c := range changes {
		path, value, expect := m.Unmask(c.Path), m.Unmask(c.Value), m.Unmask(c.Expect)
		if strings.Contains(path+value+expect, "<secret-") || strings.Contains(path+value, "<name-") {
			return nil, fmt.Sprintf("%s refers to a masked value it cannot know", path)
		}
		p, err := manifest.ParseFieldPath(path)
		if err != nil {
			return nil, err.Error()
		}
		if len(p) < 2 || !p[0].IsKey() || p[0].Key != "spec" {
			return nil, fmt.Sprintf("%s is not a field of the spec", path)
		}
		if llm.HasSecret(value) || llm.SecretName(path) {
			return nil, fmt.Sprintf("%s looks like a secret: dot does not write secrets to Git", path)
		}
		cur, present := manifest.GetField(obj, p)
		fc := gitops.FieldChange{Path: path}
		switch {
		case !present && expect == "":
			fc.ExpectAbsent = true
		case !present:
			return nil, fmt.Sprintf("%s is not set, the model expected %q", path, expect)
		default:
			curS, ok := scalarText(cur)
			if !ok {
				return nil, fmt.Sprintf("%s is not a scalar field", path)
			}
			if curS != expect {
				return nil, fmt.Sprintf("%s is %q, the model expected %q", path, curS, expect)
			}
			fc.Expect = cur
		}
		fc.Value = typedLike(cur, value)
		out = append(out, fc)
	}
	return out, ""
}

func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// typedLike converts s to the type of the current value (numbers and
// booleans stay numbers and booleans).
func typedLike(cur any, s string) any {
	switch cur.(type) {
	case int64, float64:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	case bool:
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	}
	return s
}

// promptView is what the model sees of an object: its spec and the
// metadata that matter, not status or managed fields.
func promptView(obj map[string]any) map[string]any {
	out := map[string]any{"apiVersion": obj["apiVersion"], "kind": obj["kind"]}
	if md, ok := obj["metadata"].(map[string]any); ok {
		view := map[string]any{}
		for _, k := range []string{"name", "namespace", "labels"} {
			if v, ok := md[k]; ok && v != nil {
				view[k] = v
			}
		}
		out["metadata"] = view
	}
	if spec, ok := obj["spec"]; ok {
		out["spec"] = spec
	}
	return out
}

// secretEnvValues returns the literal values of environment variables
// whose names say they are secret (they should be in a Secret; they are
// never sent).
func secretEnvValues(obj map[string]any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if env, ok := x["env"].([]any); ok {
				for _, e := range env {
					if m, ok := e.(map[string]any); ok {
						name, _ := m["name"].(string)
						if val, ok := m["value"].(string); ok && llm.SecretName(name) {
							out = append(out, val)
						}
					}
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(obj)
	sort.Strings(out)
	return out
}

func labelValues(obj map[string]any) []string {
	var out []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if (k == "labels" || k == "matchLabels" || k == "selector") && key != "" {
					if m, ok := e.(map[string]any); ok {
						for _, lv := range m {
							if s, ok := lv.(string); ok {
								out = append(out, s)
							}
						}
					}
				}
				walk(e, k)
			}
		case []any:
			for _, e := range x {
				walk(e, key)
			}
		}
	}
	walk(obj, "root")
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// asObject returns p as a runtime.Object, nil (not a typed nil) when p is.
func asObject[T any, P interface {
	*T
	runtime.Object
}](p *T) runtime.Object {
	if p == nil {
		return nil
	}
	return P(p)
}

// object returns an object of the snapshot as a map (JSON field names).
func (s *Snapshot) object(ref kube.ObjectRef) (map[string]any, bool) {
	var o runtime.Object
	switch ref.Kind {
	case "Deployment":
		o = asObject(s.deployment(ref.Name))
	case "ReplicaSet":
		o = asObject(s.replicaSet(ref.Name))
	case "StatefulSet":
		o = asObject(named(s.StatefulSets, ref.Name))
	case "DaemonSet":
		o = asObject(named(s.DaemonSets, ref.Name))
	case "Service":
		o = asObject(s.service(ref.Name))
	case "Pod":
		o = asObject(named(s.Pods, ref.Name))
	case "HorizontalPodAutoscaler":
		o = asObject(named(s.HPAs, ref.Name))
	}
	if o == nil {
		return nil, false
	}
	// Round-trip through JSON: numbers become int64/float64 as the
	// manifest package compares them.
	b, err := json.Marshal(o)
	if err != nil {
		return nil, false
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, false
	}
	v, err := manifest.NormalizeValue(numbers(m))
	if err != nil {
		return nil, false
	}
	out, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	out["apiVersion"], out["kind"] = ref.GroupVersionKind().GroupVersion().String(), ref.Kind
	return out, true
}

// numbers turns json.Number into int64 or float64.
func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}
