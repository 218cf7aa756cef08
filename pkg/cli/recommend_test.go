package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dot-ai/dot/pkg/recommend"
)

// TestRecommendOffline runs dot recommend without a cluster: manifests on
// stdout, files in a directory, and the usage errors.
func TestRecommendOffline(t *testing.T) {
	const intent = "web app from ghcr.io/acme/shop:1.4 on port 8080, 3 replicas, public at shop.example.com with LOG_LEVEL=info"
	t.Run("print", func(t *testing.T) {
		r := run(t, nil, "dot", "recommend", intent, "--offline", "-n", "shop", "--replicas", "2")
		if r.code != ExitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		golden(t, "recommend-print.yaml", r.stdout)
	})
	t.Run("output-dir", func(t *testing.T) {
		dir := t.TempDir()
		answers := filepath.Join(t.TempDir(), "answers.yaml")
		if err := os.WriteFile(answers, []byte("namespace: shop\nhealthPath: /healthz\nautoscale: true\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := run(t, nil, "dot", "recommend", intent, "--offline", "--answers", answers, "--output-dir", dir, "--layout", "kustomize", "--overlay", "staging")
		if r.code != ExitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		golden(t, "recommend-output-dir.txt", r.stdout)
		var files []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(dir, p)
				files = append(files, filepath.ToSlash(rel))
			}
			return err
		})
		sort.Strings(files)
		if got := strings.Join(files, " "); !strings.Contains(got, "base/deployment-shop.yaml") || !strings.Contains(got, "overlays/staging/kustomization.yaml") || !strings.Contains(got, "base/horizontalpodautoscaler-shop.yaml") {
			t.Errorf("files: %s", got)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "base/deployment-shop.yaml"))
		if !strings.Contains(string(b), "path: /healthz") || strings.Contains(string(b), "replicas:") {
			t.Errorf("deployment does not use the answers:\n%s", b)
		}
	})
	t.Run("compose", func(t *testing.T) {
		compose := filepath.Join(t.TempDir(), "compose.yaml")
		if err := os.WriteFile(compose, []byte("services:\n  api:\n    image: ghcr.io/acme/api:3.1\n    ports: [\"8081:8080\"]\n    environment: [MODE=prod]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := run(t, nil, "dot", "recommend", "--from-compose", compose, "--offline", "-n", "api", "-o", "json")
		if r.code != ExitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var rep struct {
			Spec recommend.Spec `json:"spec"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if s := rep.Spec; s.Name != "api" || s.Port != 8080 || s.Image != "ghcr.io/acme/api:3.1" || len(s.Env) != 1 || s.Namespace != "api" {
			t.Errorf("spec from compose: %+v", s)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing answers", []string{"a web app", "--offline"}, "required answers missing: image (Container image (pinned tag or digest)), name (Name of the workload), port (Port the container listens on)"},
		{"latest", []string{"web app from ghcr.io/acme/shop:latest on port 80", "--offline"}, "--allow-latest"},
		{"no intent", []string{"--offline"}, "describe the workload"},
		{"repo without path", []string{intent, "--repo", "https://git.example.com/a.git"}, "--repo and --path go together"},
		{"offline delivery", []string{intent, "--offline", "--repo", "https://git.example.com/a.git", "--path", "apps/shop"}, "--offline only writes"},
		{"bad env", []string{intent, "--offline", "--env", "NOVALUE"}, `--env "NOVALUE": want KEY=VALUE`},
		{"compose and intent", []string{intent, "--offline", "--from-compose", "x.yaml"}, "not both"},
		{"compose missing", []string{"--offline", "--from-compose", "/nonexistent/compose.yaml"}, "--from-compose: open"},
		{"bad port", []string{"web app from a/b:1 on port 99999", "--offline"}, "port 99999 is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, append([]string{"dot", "recommend"}, tc.args...)...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d with %q", r.code, r.stderr, ExitUsage, tc.want)
			}
		})
	}
}

func TestPromptQuestions(t *testing.T) {
	qs := []recommend.Question{
		{ID: "image", Level: recommend.Required, Prompt: "Image"},
		{ID: "name", Level: recommend.Basic, Prompt: "Name", Default: "shop"},
		{ID: "port", Level: recommend.Required, Prompt: "Port"},
		{ID: "cpu", Level: recommend.Advanced, Prompt: "CPU", Default: "100m"},
		{ID: "replicas", Level: recommend.Basic, Prompt: "Replicas", Default: "2", Choices: []string{"1", "2"}},
	}
	t.Run("answered", func(t *testing.T) {
		ans := recommend.Answers{"port": "8080"}
		var out strings.Builder
		// The empty first line re-asks the required image; name keeps its
		// default; replicas is answered.
		if err := promptQuestions(strings.NewReader("\nghcr.io/a/b:1\n\n1\n"), &out, qs, ans); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(ans); got != "map[image:ghcr.io/a/b:1 port:8080 replicas:1]" {
			t.Errorf("answers %s", got)
		}
		if out.String() != "Image: Image: Name [shop]: Replicas (1|2) [2]: " {
			t.Errorf("prompts %q", out.String())
		}
	})
	t.Run("end of input", func(t *testing.T) {
		err := promptQuestions(strings.NewReader(""), io.Discard, qs, recommend.Answers{})
		if err == nil || !strings.Contains(err.Error(), "image (Image)") {
			t.Fatalf("got %v", err)
		}
	})
}
