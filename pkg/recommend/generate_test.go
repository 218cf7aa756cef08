package recommend

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

type generateCase struct {
	Intent       string        `json:"intent"`
	Answers      Answers       `json:"answers"`
	Capabilities *Capabilities `json:"capabilities"`
}

// TestGenerateGolden: testdata/generate/<case>/input.yaml (intent text,
// answers, capabilities) → recommendation.json (solutions, questions), and
// the manifests in both layouts under raw/ and kustomize/.
func TestGenerateGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/generate/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var c generateCase
			if err := yaml.UnmarshalStrict(b, &c); err != nil {
				t.Fatal(err)
			}
			in, err := ParseIntent(c.Intent)
			if err != nil {
				t.Fatal(err)
			}
			rec := Recommend(in, c.Capabilities)
			rb, err := json.MarshalIndent(struct {
				Solutions []Solution `json:"solutions"`
				Questions []Question `json:"questions"`
			}{rec.Solutions, rec.Questions}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(dir, "recommendation.json"), append(rb, '\n'))
			spec, err := rec.Resolve(c.Answers, false)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := Generate(spec)
			if err != nil {
				t.Fatal(err)
			}
			for _, layout := range []string{LayoutRaw, LayoutKustomize} {
				files, err := Files(objs, layout, "prod")
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for name, content := range files {
					names = append(names, name)
					golden(t, filepath.Join(dir, layout, name), content)
				}
				// No stale golden files either.
				have, _ := filepath.Glob(filepath.Join(dir, layout, "*"))
				more, _ := filepath.Glob(filepath.Join(dir, layout, "*", "*", "*"))
				more2, _ := filepath.Glob(filepath.Join(dir, layout, "base", "*"))
				count := 0
				for _, h := range append(append(have, more...), more2...) {
					if fi, err := os.Stat(h); err == nil && !fi.IsDir() {
						count++
					}
				}
				if !*update && count != len(files) {
					sort.Strings(names)
					t.Errorf("%s/%s has %d files, generated %d: %s", dir, layout, count, len(files), strings.Join(names, " "))
				}
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	for _, tc := range []struct {
		name, intent string
		answers      Answers
		want         string
		is           error
	}{
		{name: "missing image and port", intent: "a web app", want: "required answers missing: image (Container image (pinned tag or digest)), name (Name of the workload), port"},
		{name: "public without host", intent: "public web app from a/b:1 on port 80", want: "host (Public host name)"},
		{name: "cron without schedule", intent: "cron job from a/b:1", want: "schedule"},
		{name: "latest", intent: "web app from a/b:latest on port 80", is: ErrUnpinnedImage, want: "--allow-latest"},
		{name: "no tag", intent: "web app from ghcr.io/a/b on port 80", is: ErrUnpinnedImage, want: "has no tag"},
		{name: "bad numbers", intent: "web app from a/b:1 on port 80", answers: Answers{"replicas": "many", "autoscale": "maybe", "cpu": "lots"}, want: `replicas: "many" is not a number`},
		{name: "unknown answer", intent: "web app from a/b:1 on port 80", answers: Answers{"colour": "blue"}, want: "unknown answers colour"},
		{name: "bad choice", intent: "web app from a/b:1 on port 80 public at x.example.com", answers: Answers{"ingressClass": "haproxy"}, want: `ingressClass: "haproxy" is not one of nginx`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := ParseIntent(tc.intent)
			if err != nil {
				t.Fatal(err)
			}
			caps := &Capabilities{IngressClasses: []string{"nginx"}, Namespace: "default"}
			_, err = Recommend(in, caps).Resolve(tc.answers, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("%v is not %v", err, tc.is)
			}
			var m *MissingAnswersError
			if strings.HasPrefix(tc.want, "required") && !errors.As(err, &m) {
				t.Fatalf("%T is not a *MissingAnswersError", err)
			}
		})
	}
	in, _ := ParseIntent("web app from a/b:latest on port 80")
	if _, err := Recommend(in, &Capabilities{Namespace: "default"}).Resolve(nil, true); err != nil {
		t.Fatalf("--allow-latest: %v", err)
	}
}
