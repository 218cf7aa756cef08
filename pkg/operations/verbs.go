package operations

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
)

// Scale sets the replicas of a Deployment, StatefulSet or ReplicaSet, or the
// bounds of the HPA that controls them.
type Scale struct {
	Config *Config
	// Replicas is the wanted count (ignored when an HPA is changed).
	Replicas *int32
	// Min and Max change the HPA's minReplicas/maxReplicas instead.
	Min, Max *int32
}

// ChangeSet returns the change that scales the workload at ref.
func (s *Scale) ChangeSet(ctx context.Context, ref kube.ObjectRef) (gitops.ChangeSet, error) {
	w, err := s.Config.ResolveWorkload(ctx, ref)
	if err != nil {
		return gitops.ChangeSet{}, err
	}
	switch w.Ref.Kind {
	case "Deployment", "StatefulSet", "ReplicaSet":
	default:
		return gitops.ChangeSet{}, fmt.Errorf("%s cannot be scaled: only Deployments, StatefulSets and ReplicaSets have replicas", w.Ref)
	}
	hpa, err := s.Config.hpaFor(ctx, w)
	if err != nil {
		return gitops.ChangeSet{}, err
	}
	if hpa != nil {
		return s.scaleHPA(w, hpa)
	}
	if s.Min != nil || s.Max != nil {
		return gitops.ChangeSet{}, fmt.Errorf("--min/--max change an HPA, and no HorizontalPodAutoscaler targets %s", w.Ref)
	}
	if s.Replicas == nil || *s.Replicas < 0 {
		return gitops.ChangeSet{}, fmt.Errorf("--replicas must be 0 or more")
	}
	title := fmt.Sprintf("scale %s to %d", objName(w), *s.Replicas)
	return gitops.ChangeSet{Title: title + nsSuffix(w.Ref), Operation: "scale", Changes: []gitops.Change{{
		Object: w.Ref, Action: gitops.ActionSet, Reason: title,
		Fields: []gitops.FieldChange{{Path: "spec.replicas", Value: int64(*s.Replicas)}},
	}}}, nil
}

func (s *Scale) scaleHPA(w *Workload, hpa *autoscalingv2.HorizontalPodAutoscaler) (gitops.ChangeSet, error) {
	href := kube.ObjectRef{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler", Namespace: hpa.Namespace, Name: hpa.Name}
	if s.Min == nil && s.Max == nil {
		return gitops.ChangeSet{}, fmt.Errorf("%s is scaled by %s (min %d, max %d): change its bounds with --min/--max instead of --replicas",
			w.Ref, href, ptrOr(hpa.Spec.MinReplicas, 1), hpa.Spec.MaxReplicas)
	}
	lo, hi := ptrOr(hpa.Spec.MinReplicas, 1), hpa.Spec.MaxReplicas
	var fields []gitops.FieldChange
	if s.Min != nil {
		lo = *s.Min
		fields = append(fields, gitops.FieldChange{Path: "spec.minReplicas", Value: int64(lo)})
	}
	if s.Max != nil {
		hi = *s.Max
		fields = append(fields, gitops.FieldChange{Path: "spec.maxReplicas", Value: int64(hi)})
	}
	if lo < 1 || hi < lo {
		return gitops.ChangeSet{}, fmt.Errorf("HPA bounds must satisfy 1 <= min <= max, got min %d max %d", lo, hi)
	}
	title := fmt.Sprintf("scale hpa/%s to %d..%d", hpa.Name, lo, hi)
	return gitops.ChangeSet{Title: title + nsSuffix(href), Operation: "scale", Changes: []gitops.Change{{
		Object: href, Action: gitops.ActionSet, Fields: fields, Reason: title + " (it controls " + objName(w) + ")",
	}}}, nil
}

func ptrOr(p *int32, d int32) int32 {
	if p != nil {
		return *p
	}
	return d
}

// hpaFor returns the HPA whose scaleTargetRef is the workload, if any.
func (c *Config) hpaFor(ctx context.Context, w *Workload) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	var list autoscalingv2.HorizontalPodAutoscalerList
	if err := c.Client.List(ctx, &list, client.InNamespace(w.Ref.Namespace)); err != nil {
		return nil, fmt.Errorf("list HorizontalPodAutoscalers in %s: %w", w.Ref.Namespace, err)
	}
	for i := range list.Items {
		t := list.Items[i].Spec.ScaleTargetRef
		if t.Kind == w.Ref.Kind && t.Name == w.Ref.Name {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

func nsSuffix(r kube.ObjectRef) string {
	if r.Namespace == "" {
		return ""
	}
	return " (" + r.Namespace + ")"
}

// Image sets a container's image.
type Image struct {
	Config    *Config
	Container string
	// Image is name[:tag][@digest].
	Image string
}

var imageRe = regexp.MustCompile(`^[a-z0-9]+([._/:-][a-zA-Z0-9_.-]+)*(@sha256:[a-f0-9]{64})?$`)

// ChangeSet returns the change that sets the image. In a kustomize source
// the locator puts it into the images: entry when one sets it.
func (a *Image) ChangeSet(ctx context.Context, ref kube.ObjectRef) (gitops.ChangeSet, error) {
	if !imageRe.MatchString(a.Image) {
		return gitops.ChangeSet{}, fmt.Errorf("%q is not a valid image reference (name[:tag][@sha256:digest])", a.Image)
	}
	w, err := a.Config.ResolveWorkload(ctx, ref)
	if err != nil {
		return gitops.ChangeSet{}, err
	}
	c, err := w.container(a.Container)
	if err != nil {
		return gitops.ChangeSet{}, err
	}
	title := fmt.Sprintf("set image of %s container %s to %s", objName(w), c, a.Image)
	return gitops.ChangeSet{Title: title + nsSuffix(w.Ref), Operation: "image", Changes: []gitops.Change{{
		Object: w.Ref, Action: gitops.ActionSet, Reason: title,
		Fields: []gitops.FieldChange{{Path: w.containerField(c, "image"), Value: a.Image}},
	}}}, nil
}

// Env sets and unsets a container's environment variables and adds
// ConfigMap/Secret references. Secret values never go to Git: only
// references to Secrets.
type Env struct {
	Config    *Config
	Container string
	// Set are KEY=VALUE pairs; Unset are KEY names (from "KEY-").
	Set   map[string]string
	Unset []string
	// FromConfigMap and FromSecret add envFrom references.
	FromConfigMap, FromSecret []string
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// ParseEnvArgs splits KEY=VALUE and KEY- arguments.
func ParseEnvArgs(args []string) (set map[string]string, unset []string, err error) {
	set = map[string]string{}
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok {
			if !envNameRe.MatchString(k) {
				return nil, nil, fmt.Errorf("%q: invalid variable name %q", a, k)
			}
			set[k] = v
			continue
		}
		if k, ok := strings.CutSuffix(a, "-"); ok && envNameRe.MatchString(k) {
			unset = append(unset, k)
			continue
		}
		return nil, nil, fmt.Errorf("%q: want KEY=VALUE or KEY-", a)
	}
	return set, unset, nil
}

// secretLike matches variable names whose values should not be in Git.
var secretLike = regexp.MustCompile(`(?i)(password|passwd|secret|token|api[_-]?key|private[_-]?key|credential)`)

// ChangeSet returns the env change.
func (a *Env) ChangeSet(ctx context.Context, ref kube.ObjectRef) (gitops.ChangeSet, error) {
	if len(a.Set)+len(a.Unset)+len(a.FromConfigMap)+len(a.FromSecret) == 0 {
		return gitops.ChangeSet{}, fmt.Errorf("nothing to change: give KEY=VALUE, KEY-, --from-configmap or --from-secret")
	}
	for k := range a.Set {
		if secretLike.MatchString(k) {
			return gitops.ChangeSet{}, fmt.Errorf("%s looks like a secret: dot does not write secret values to Git; put it in a Secret and use --from-secret", k)
		}
	}
	w, err := a.Config.ResolveWorkload(ctx, ref)
	if err != nil {
		return gitops.ChangeSet{}, err
	}
	c, err := w.container(a.Container)
	if err != nil {
		return gitops.ChangeSet{}, err
	}
	var fields []gitops.FieldChange
	var parts []string
	for _, k := range envOrder(w, c, a.Set) {
		fields = append(fields, gitops.FieldChange{Path: w.containerField(c, fmt.Sprintf("env[name=%s]", k)), Value: map[string]any{"name": k, "value": a.Set[k]}})
		parts = append(parts, k)
	}
	for _, k := range a.Unset {
		if _, ok := envValue(w, c, k); !ok {
			return gitops.ChangeSet{}, fmt.Errorf("%s container %s has no variable %s to unset", w.Ref, c, k)
		}
		fields = append(fields, gitops.FieldChange{Path: w.containerField(c, fmt.Sprintf("env[name=%s]", k)), Delete: true})
		parts = append(parts, k+"-")
	}
	envFrom, _ := w.containerValue(c, "envFrom")
	existing, _ := envFrom.([]any)
	refs := slices.Clone(existing)
	add := func(kind, name string) {
		key := map[string]string{"configMapRef": "configmap", "secretRef": "secret"}[kind]
		for _, e := range existing {
			if m, ok := e.(map[string]any); ok {
				if r, ok := m[kind].(map[string]any); ok && r["name"] == name {
					return
				}
			}
		}
		refs = append(refs, map[string]any{kind: map[string]any{"name": name}})
		parts = append(parts, "from "+key+" "+name)
	}
	for _, n := range a.FromConfigMap {
		add("configMapRef", n)
	}
	for _, n := range a.FromSecret {
		add("secretRef", n)
	}
	if len(refs) != len(existing) {
		fields = append(fields, gitops.FieldChange{Path: w.containerField(c, "envFrom"), Value: refs})
	}
	if len(fields) == 0 {
		return gitops.ChangeSet{}, fmt.Errorf("%s container %s already has these references", w.Ref, c)
	}
	title := fmt.Sprintf("set env of %s container %s: %s", objName(w), c, strings.Join(parts, ", "))
	return gitops.ChangeSet{Title: title + nsSuffix(w.Ref), Operation: "env", Changes: []gitops.Change{{
		Object: w.Ref, Action: gitops.ActionSet, Fields: fields, Reason: title,
	}}}, nil
}

func envValue(w *Workload, container, name string) (any, bool) {
	env, _ := w.containerValue(container, "env")
	list, _ := env.([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && m["name"] == name {
			return m, true
		}
	}
	return nil, false
}

// Resources sets a container's requests and limits.
type Resources struct {
	Config    *Config
	Container string
	// Requests and Limits map resource names (cpu, memory, ...) to quantities.
	Requests, Limits map[string]string
}

// ParseResourceList parses "cpu=100m,memory=128Mi".
func ParseResourceList(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want name=quantity", kv)
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", k, v, err)
		}
		out[k] = q.String()
	}
	return out, nil
}

// ChangeSet returns the resources change; it refuses requests above limits.
func (a *Resources) ChangeSet(ctx context.Context, ref kube.ObjectRef) (gitops.ChangeSet, error) {
	if len(a.Requests)+len(a.Limits) == 0 {
		return gitops.ChangeSet{}, fmt.Errorf("nothing to change: give --requests and/or --limits")
	}
	w, err := a.Config.ResolveWorkload(ctx, ref)
	if err != nil {
		return gitops.ChangeSet{}, err
	}
	c, err := w.container(a.Container)
	if err != nil {
		return gitops.ChangeSet{}, err
	}
	merged := func(kind string, set map[string]string) map[string]string {
		out := map[string]string{}
		if cur, ok := w.containerValue(c, "resources", kind); ok {
			if m, ok := cur.(map[string]any); ok {
				for k, v := range m {
					out[k] = fmt.Sprint(v)
				}
			}
		}
		for k, v := range set {
			out[k] = v
		}
		return out
	}
	req, lim := merged("requests", a.Requests), merged("limits", a.Limits)
	for k, l := range lim {
		rq, err1 := resource.ParseQuantity(req[k])
		lq, err2 := resource.ParseQuantity(l)
		if _, ok := req[k]; ok && err1 == nil && err2 == nil && rq.Cmp(lq) > 0 {
			r := req[k]
			return gitops.ChangeSet{}, fmt.Errorf("%s request %s is above its limit %s", k, r, l)
		}
	}
	var fields []gitops.FieldChange
	var parts []string
	for _, kind := range []struct {
		name string
		set  map[string]string
	}{{"requests", a.Requests}, {"limits", a.Limits}} {
		keys := make([]string, 0, len(kind.set))
		for k := range kind.set {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fields = append(fields, gitops.FieldChange{Path: w.containerField(c, fmt.Sprintf("resources.%s.%s", kind.name, k)), Value: kind.set[k]})
			parts = append(parts, fmt.Sprintf("%s.%s=%s", kind.name, k, kind.set[k]))
		}
	}
	title := fmt.Sprintf("set resources of %s container %s: %s", objName(w), c, strings.Join(parts, ", "))
	return gitops.ChangeSet{Title: title + nsSuffix(w.Ref), Operation: "resources", Changes: []gitops.Change{{
		Object: w.Ref, Action: gitops.ActionSet, Fields: fields, Reason: title,
	}}}, nil
}

// RestartAnnotation is the pod-template annotation a restart changes, the
// same one `kubectl rollout restart` sets.
const RestartAnnotation = "kubectl.kubernetes.io/restartedAt"

// Restart rolls a workload's pods by changing a pod-template annotation,
// delivered like any other change so GitOps does not undo it.
type Restart struct{ Config *Config }

// ChangeSet returns the restart change.
func (a *Restart) ChangeSet(ctx context.Context, ref kube.ObjectRef) (gitops.ChangeSet, error) {
	w, err := a.Config.ResolveWorkload(ctx, ref)
	if err != nil {
		return gitops.ChangeSet{}, err
	}
	if w.Ref.Kind == "Job" || w.Ref.Kind == "ReplicaSet" {
		return gitops.ChangeSet{}, fmt.Errorf("%s cannot be restarted: restart its Deployment/CronJob, or delete its pods", w.Ref)
	}
	ts := a.Config.now().UTC().Format(time.RFC3339)
	title := fmt.Sprintf("restart %s", objName(w))
	return gitops.ChangeSet{Title: title + nsSuffix(w.Ref), Operation: "restart", Changes: []gitops.Change{{
		Object: w.Ref, Action: gitops.ActionSet, Reason: title + " at " + ts,
		Fields: []gitops.FieldChange{{Path: fmt.Sprintf("%s.metadata.annotations[%q]", w.templatePath(), RestartAnnotation), Value: ts}},
	}}}, nil
}

// Delete removes an object: its document (and resources: entry) in Git, or
// the object itself when nothing owns it.
type Delete struct{ Config *Config }

// ChangeSet returns the delete change. ref is taken as is (a Pod is not
// walked to its workload: deleting a Pod is a different request).
func (a *Delete) ChangeSet(ctx context.Context, ref kube.ObjectRef) (gitops.ChangeSet, error) {
	obj, err := a.Config.get(ctx, ref)
	if err != nil {
		return gitops.ChangeSet{}, err
	}
	r := kube.RefOf(obj)
	title := fmt.Sprintf("delete %s/%s", strings.ToLower(r.Kind), r.Name)
	return gitops.ChangeSet{Title: title + nsSuffix(r), Operation: "delete", Changes: []gitops.Change{{
		Object: r, Action: gitops.ActionDelete, Reason: title,
	}}}, nil
}

// envOrder lists the variables to set: those the container has, in its
// order, then new ones sorted. Environment order matters ($(VAR) refers to
// earlier variables only), and a strategic-merge patch puts list items in
// the patch's order, so edits must not reorder existing variables.
func envOrder(w *Workload, container string, set map[string]string) []string {
	var out []string
	seen := map[string]bool{}
	env, _ := w.containerValue(container, "env")
	list, _ := env.([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			if n, ok := m["name"].(string); ok {
				if _, want := set[n]; want && !seen[n] {
					out = append(out, n)
					seen[n] = true
				}
			}
		}
	}
	var added []string
	for k := range set {
		if !seen[k] {
			added = append(added, k)
		}
	}
	sort.Strings(added)
	return append(out, added...)
}
