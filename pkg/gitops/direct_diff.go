package gitops

import (
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/dot-ai/dot/pkg/gitops/manifest"
	"github.com/dot-ai/dot/pkg/kube"
)

// Metadata the server maintains; a diff of intent leaves it out.
var serverMetadata = []string{"managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink"}

// noisyAnnotations are annotations that restate the object.
var noisyAnnotations = []string{"kubectl.kubernetes.io/last-applied-configuration"}

// diffView returns a copy of obj for diffing: without status and
// server-maintained metadata.
func diffView(obj map[string]any) map[string]any {
	if obj == nil {
		return nil
	}
	out, _ := manifest.DeepCopy(obj).(map[string]any)
	delete(out, "status")
	if md, ok := out["metadata"].(map[string]any); ok {
		for _, k := range serverMetadata {
			delete(md, k)
		}
		if ann, ok := md["annotations"].(map[string]any); ok {
			for _, k := range noisyAnnotations {
				delete(ann, k)
			}
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
	}
	return out
}

// maskSecrets hides Secret values in before and after (diff views, modified
// in place) the way kubectl diff does: equal values become "***", differing
// ones "*** (before)" and "*** (after)".
func maskSecrets(before, after map[string]any) {
	for _, field := range []string{"data", "stringData"} {
		b, _ := before[field].(map[string]any)
		a, _ := after[field].(map[string]any)
		for k, bv := range b {
			av, ok := a[k]
			switch {
			case ok && manifest.ValuesEqual(av, bv):
				b[k], a[k] = "***", "***"
			case ok:
				b[k], a[k] = "*** (before)", "*** (after)"
			default:
				b[k] = "***"
			}
		}
		for k := range a {
			if _, ok := b[k]; !ok {
				a[k] = "***"
			}
		}
	}
}

// renderDiff renders a unified diff of two objects as YAML; nil before or
// after is /dev/null. Status and server-maintained metadata are left out,
// Secret values are masked.
func renderDiff(ref kube.ObjectRef, before, after map[string]any) (string, error) {
	b, a := diffView(before), diffView(after)
	if ref.Group == "" && ref.Kind == "Secret" {
		mb, ma := b, a // masked in place; an absent side masks nothing
		if mb == nil {
			mb = map[string]any{}
		}
		if ma == nil {
			ma = map[string]any{}
		}
		maskSecrets(mb, ma)
	}
	by, err := toYAML(b)
	if err != nil {
		return "", fmt.Errorf("render %s: %w", ref, err)
	}
	ay, err := toYAML(a)
	if err != nil {
		return "", fmt.Errorf("render %s: %w", ref, err)
	}
	return manifest.UnifiedDiff(diffName(ref), by, ay), nil
}

func toYAML(obj map[string]any) ([]byte, error) {
	if obj == nil {
		return nil, nil
	}
	return yaml.Marshal(obj)
}

// diffName names an object in diff headers: <group>/<version>/<kind>/[<namespace>/]<name>.
func diffName(ref kube.ObjectRef) string {
	gv := ref.Version
	if ref.Group != "" {
		gv = ref.Group + "/" + ref.Version
	}
	if ref.Namespace != "" {
		return fmt.Sprintf("%s/%s/%s/%s", gv, ref.Kind, ref.Namespace, ref.Name)
	}
	return fmt.Sprintf("%s/%s/%s", gv, ref.Kind, ref.Name)
}
