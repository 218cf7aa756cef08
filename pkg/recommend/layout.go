package recommend

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Output layouts.
const (
	// LayoutRaw writes one file per object.
	LayoutRaw = "raw"
	// LayoutKustomize writes base/ (one file per object and a
	// kustomization.yaml) and overlays/<env>/ that sets the image tag.
	LayoutKustomize = "kustomize"
)

// FileName is the file an object goes to: "<kind>-<name>.yaml", the name
// the gitops package gives a Create without a file.
func FileName(o *unstructured.Unstructured) string {
	return strings.ToLower(o.GetKind()) + "-" + o.GetName() + ".yaml"
}

// Marshal renders one object as YAML.
func Marshal(o *unstructured.Unstructured) ([]byte, error) {
	b, err := yaml.Marshal(o.Object)
	if err != nil {
		return nil, fmt.Errorf("marshal %s %s: %w", o.GetKind(), o.GetName(), err)
	}
	return b, nil
}

// Files lays the objects out as files, by path relative to the output
// directory. env names the kustomize overlay (default "prod").
func Files(objs []*unstructured.Unstructured, layout, env string) (map[string][]byte, error) {
	out := map[string][]byte{}
	prefix := ""
	switch layout {
	case "", LayoutRaw:
	case LayoutKustomize:
		prefix = "base/"
	default:
		return nil, fmt.Errorf("unknown layout %q (raw or kustomize)", layout)
	}
	var names []string
	for _, o := range objs {
		b, err := Marshal(o)
		if err != nil {
			return nil, err
		}
		name := FileName(o)
		if _, dup := out[prefix+name]; dup {
			return nil, fmt.Errorf("two objects would go to %s", name)
		}
		out[prefix+name] = b
		names = append(names, name)
	}
	if layout != LayoutKustomize {
		return out, nil
	}
	if env == "" {
		env = "prod"
	}
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  - %s\n", n)
	}
	out["base/kustomization.yaml"] = []byte(b.String())
	b.Reset()
	fmt.Fprintf(&b, "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\n")
	images := map[string]string{}
	for _, o := range objs {
		for _, img := range imagesOf(o) {
			if name, tag, ok := splitTag(img); ok {
				images[name] = tag
			}
		}
	}
	if len(images) > 0 {
		keys := make([]string, 0, len(images))
		for k := range images {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("images:\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "  - name: %s\n    newTag: %q\n", k, images[k])
		}
	}
	out["overlays/"+env+"/kustomization.yaml"] = []byte(b.String())
	return out, nil
}

// splitTag splits "repo:tag" (not digests).
func splitTag(image string) (string, string, bool) {
	if strings.Contains(image, "@") {
		return "", "", false
	}
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return "", "", false
	}
	return image[:i], image[i+1:], true
}

func imagesOf(o *unstructured.Unstructured) []string {
	var out []string
	for _, path := range [][]string{
		{"spec", "template", "spec", "containers"},
		{"spec", "jobTemplate", "spec", "template", "spec", "containers"},
	} {
		cs, _, _ := unstructured.NestedSlice(o.Object, path...)
		for _, c := range cs {
			if m, ok := c.(map[string]any); ok {
				if img, ok := m["image"].(string); ok {
					out = append(out, img)
				}
			}
		}
	}
	return out
}

// WriteFiles writes files under dir, creating directories.
func WriteFiles(dir string, files map[string][]byte) error {
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}
