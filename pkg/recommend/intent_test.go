package recommend

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseIntentGolden: testdata/intents/<case>.txt → <case>.json.
func TestParseIntentGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/intents/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no intents: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			in, err := ParseIntent(strings.TrimSpace(string(text)))
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.MarshalIndent(in, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(f, ".txt")+".json", append(b, '\n'))
		})
	}
}

func TestParseIntentErrors(t *testing.T) {
	if _, err := ParseIntent("web app from a/b:1 on port 70000"); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("want a port range error, got %v", err)
	}
}

func TestOverride(t *testing.T) {
	in, err := ParseIntent("web app from ghcr.io/acme/shop:1.4 on port 8080 with A=1 B=2")
	if err != nil {
		t.Fatal(err)
	}
	got := in.Override(Intent{Port: 9000, Host: "x.example.com", Env: []EnvVar{{Name: "B", Value: "3"}, {Name: "C", Value: "4"}}})
	if got.Port != 9000 || got.Image != "ghcr.io/acme/shop:1.4" || !got.Public || got.Host != "x.example.com" {
		t.Errorf("override: %+v", got)
	}
	env, _ := json.Marshal(got.Env)
	if string(env) != `[{"name":"A","value":"1"},{"name":"B","value":"3"},{"name":"C","value":"4"}]` {
		t.Errorf("env merge: %s", env)
	}
}

func TestLooksLikeImage(t *testing.T) {
	for tok, want := range map[string]bool{
		"ghcr.io/acme/shop:1.4": true, "redis:7.4": true, "acme/shop": true, "shop.example.com": false,
		"shop.example.com:443": false, "https://x.io/a": false, "port": false, "localhost:5000/app:1": true,
	} {
		if got := looksLikeImage(tok); got != want {
			t.Errorf("looksLikeImage(%q) = %v, want %v", tok, got, want)
		}
	}
}
