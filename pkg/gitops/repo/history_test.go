package repo

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dot-ai/dot/internal/gitserver"
)

func TestLogAndCommitFiles(t *testing.T) {
	srv := startServer(t, gitserver.Options{})
	seed(t, srv, "app", map[string]string{"a.yaml": "image: web:1\n", "old.yaml": "x: 1\n"})
	ctx := context.Background()
	msg := "dot: set image\n\nwhy it changed\n\nDot-Operation: image\nDot-Object: apps/Deployment prod/web\nDot-Object: /Service prod/web\n"
	res, err := Update(ctx, Options{URL: srv.RepoURL("app"), Branch: "main"}, UpdateOptions{}, func(ctx context.Context, dir string) ([]string, string, error) {
		os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("image: web:2\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "new.yaml"), []byte("y: 1\n"), 0o644)
		os.Remove(filepath.Join(dir, "old.yaml"))
		return []string{"a.yaml", "new.yaml", "old.yaml"}, msg, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Clone(ctx, Options{URL: srv.RepoURL("app"), Branch: "main", Depth: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	log, err := r.Log(ctx, 10)
	if err != nil || len(log) != 2 || log[0].SHA != res.Commit || log[0].Subject != "dot: set image" {
		t.Fatalf("Log = %+v, %v", log, err)
	}
	tr := log[0].Trailers
	if len(tr["Dot-Object"]) != 2 || tr["Dot-Operation"][0] != "image" || log[1].Trailers != nil {
		t.Errorf("trailers = %v / %v", tr, log[1].Trailers)
	}
	files, err := r.CommitFiles(res.Commit)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]string{}
	for _, f := range files {
		got[f.Path] = [2]string{string(f.Before), string(f.After)}
	}
	want := map[string][2]string{"a.yaml": {"image: web:1\n", "image: web:2\n"}, "new.yaml": {"", "y: 1\n"}, "old.yaml": {"x: 1\n", ""}}
	if len(got) != len(want) {
		t.Errorf("CommitFiles = %v", got)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q, want %q", p, got[p], w)
		}
	}
}

func TestParseTrailers(t *testing.T) {
	if tr := ParseTrailers("subject\n\nbody text here\n"); tr != nil {
		t.Errorf("a body is not trailers: %v", tr)
	}
	if tr := ParseTrailers("s\n\nA: 1\nB: 2\nA: 3"); len(tr["A"]) != 2 || tr["B"][0] != "2" {
		t.Errorf("trailers = %v", tr)
	}
}
