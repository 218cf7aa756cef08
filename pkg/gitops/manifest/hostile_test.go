package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dot-ai/dot/pkg/kube"
)

// TestHostileInputs runs an edit (and a locate) against a corpus of bad
// repositories under testdata/hostile plus a few generated in the test (a
// symlink out of the checkout, a 50 MB file). Each case must end in the
// expected outcome within its time bound, never panic, and leave the tree
// byte for byte as it was when the edit fails.
func TestHostileInputs(t *testing.T) {
	web := kube.ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "default", Name: "web"}
	replicas := []FieldEdit{{Path: MustParseFieldPath("spec.replicas"), Value: int64(3)}}
	cases := []struct {
		name string
		// large cases are skipped with -short.
		large bool
		// dir under testdata/hostile copied as the checkout (or "" and setup).
		dir   string
		setup func(t *testing.T, root string)
		// path is Source.Path inside the checkout.
		path  string
		ref   kube.ObjectRef
		edits []FieldEdit
		// wantErr is the sentinel; nil means the edit must succeed.
		wantErr error
		// wantMsg are substrings the error must contain (file, line, setting).
		wantMsg []string
		// check inspects the written tree after a successful edit.
		check func(t *testing.T, root string)
	}{
		{
			name: "invalid YAML", dir: "invalid-yaml", ref: web, edits: replicas,
			wantMsg: []string{"deploy.yaml", "line 8"},
		},
		{
			name: "duplicate objects in two files", dir: "duplicate-objects", ref: web, edits: replicas,
			wantErr: ErrAmbiguous, wantMsg: []string{"a.yaml:1", "b.yaml:1"},
		},
		{
			name: "duplicate objects in one file", dir: "duplicate-in-one-file", ref: web, edits: replicas,
			wantErr: ErrAmbiguous, wantMsg: []string{"deploy.yaml:1", "deploy.yaml:18"},
		},
		{
			name: "../ path in kustomization resources", dir: "dotdot-resource", path: "repo/app", ref: web, edits: replicas,
			// The checkout is repo/; outside/ sits next to it.
			wantErr: ErrOutsideRepo, wantMsg: []string{"kustomization.yaml", "../../outside"},
		},
		{
			name: "symlink out of the checkout", ref: web, edits: replicas,
			setup: func(t *testing.T, root string) {
				outside := t.TempDir()
				dep, err := os.ReadFile(filepath.Join("testdata", "hostile", "duplicate-objects", "a.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(outside, "deploy.yaml"), dep, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join(outside, "deploy.yaml"), filepath.Join(root, "deploy.yaml")); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: ErrOutsideRepo, wantMsg: []string{"deploy.yaml"},
		},
		{
			// A 50 MB manifest next to the edited one: read, left alone.
			name: "50 MB file beside the target", ref: web, edits: replicas, setup: bigRepo,
			check: func(t *testing.T, root string) { checkBigUntouched(t, root) },
		},
		{
			// The edited object lives in the 50 MB file: one line changes
			// (about 25 s; the splice self-check skips files over 4 MiB,
			// which the re-render verification covers). Skipped with -short.
			name: "50 MB file holding the target", setup: bigRepo, large: true,
			ref:   kube.ObjectRef{Kind: "ConfigMap", Namespace: "default", Name: "big"},
			edits: []FieldEdit{{Path: MustParseFieldPath("data.k0000007"), Value: "y"}},
			check: func(t *testing.T, root string) {
				b, err := os.ReadFile(filepath.Join(root, "big.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(b, []byte("\n  k0000007: \"y\"\n")) && !bytes.Contains(b, []byte("\n  k0000007: y\n")) || len(b) < 50<<20-100 {
					t.Errorf("big.yaml after edit: %d bytes, %q...", len(b), b[:min(len(b), 400)])
				}
			},
		},
		{
			name: "CRLF file is edited keeping CRLF", dir: "crlf", ref: web, edits: replicas,
			check: func(t *testing.T, root string) {
				b, err := os.ReadFile(filepath.Join(root, "deploy.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(b, []byte("  replicas: 3\r\n")) || bytes.Count(b, []byte("\n")) != bytes.Count(b, []byte("\r\n")) {
					t.Errorf("CRLF file after edit:\n%q", b)
				}
			},
		},
		{
			name: "BOM file is edited keeping the BOM", dir: "bom", ref: web, edits: replicas,
			check: func(t *testing.T, root string) {
				b, err := os.ReadFile(filepath.Join(root, "deploy.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(b, []byte("\xef\xbb\xbfapiVersion: apps/v1\n")) || !bytes.Contains(b, []byte("\n  replicas: 3\n")) {
					t.Errorf("BOM file after edit:\n%q", b)
				}
			},
		},
		{
			name: "anchors and aliases", dir: "anchors", ref: web, edits: replicas,
			wantErr: ErrUnsupported, wantMsg: []string{"deploy.yaml line 8", "alias"},
		},
		{
			name: "plain-text Secret", dir: "plain-secret",
			ref:     kube.ObjectRef{Kind: "Secret", Namespace: "default", Name: "db"},
			edits:   []FieldEdit{{Path: MustParseFieldPath("stringData.password"), Value: "hunter2"}},
			wantErr: ErrPlainSecret, wantMsg: []string{"secret.yaml"},
		},
		{
			name: "lone carriage return", dir: "lone-cr", ref: web, edits: replicas,
			wantMsg: []string{"deploy.yaml", "carriage return"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.large && testing.Short() {
				t.Skip("editing inside a 50 MB file (about 25 s)")
			}
			tmp := t.TempDir()
			root := tmp
			if tc.dir != "" {
				copyTree(t, filepath.Join("testdata", "hostile", tc.dir), tmp)
			}
			if tc.setup != nil {
				tc.setup(t, tmp)
			}
			src := Source{Root: root, Path: tc.path}
			if tc.dir == "dotdot-resource" {
				src = Source{Root: filepath.Join(tmp, "repo"), Path: "app"}
			}
			before := treeBytes(t, tmp)
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := bounded(t, 3*time.Minute, func() (*EditResult, error) { return Apply(ctx, src, tc.ref, tc.edits) })
			_, lerr := catchPanic(func() (*EditResult, error) {
				_, err := Locate(ctx, src, tc.ref, []FieldPath{tc.edits[0].Path})
				return nil, err
			})
			if errors.Is(lerr, errPanicked) {
				t.Errorf("Locate panicked: %v", lerr)
			}
			if tc.wantErr == nil && tc.wantMsg == nil {
				if err != nil {
					t.Fatalf("edit failed: %v", err)
				}
				if !res.Changed() {
					t.Fatal("edit changed nothing")
				}
				tc.check(t, tmp)
				if d := time.Since(start); d > time.Minute {
					t.Errorf("took %s", d)
				}
				return
			}
			if err == nil {
				t.Fatalf("edit succeeded, want an error naming %v; wrote %d files", tc.wantMsg, len(res.Files))
			}
			if errors.Is(err, errPanicked) {
				t.Fatal(err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error does not mention %q: %v", m, err)
				}
			}
			if after := treeBytes(t, tmp); !equalSnapshots(before, after) {
				t.Errorf("a failed edit changed the tree")
			}
			t.Logf("error: %.300s", err)
		})
	}
}

const bigSize = 50 << 20

func bigRepo(t *testing.T, root string) {
	t.Helper()
	dep, err := os.ReadFile(filepath.Join("testdata", "hostile", "duplicate-objects", "a.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "deploy.yaml"), dep, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "big.yaml"), bigYAML(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// bigYAML is a ConfigMap of about 50 MB (generated, never committed).
func bigYAML() []byte {
	var b bytes.Buffer
	b.Grow(bigSize + 200)
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  namespace: default\ndata:\n")
	val := strings.Repeat("x", 80)
	for i := 0; b.Len() < bigSize; i++ {
		fmt.Fprintf(&b, "  k%07d: %s\n", i, val)
	}
	return b.Bytes()
}

func checkBigUntouched(t *testing.T, root string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "big.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, bigYAML()) {
		t.Error("big.yaml changed by an edit of another file")
	}
}

var errPanicked = errors.New("panicked")

// bounded runs f (panics caught) and fails the test if it has not returned
// within d; the abandoned call keeps running until the test binary exits.
func bounded(t *testing.T, d time.Duration, f func() (*EditResult, error)) (*EditResult, error) {
	t.Helper()
	type result struct {
		res *EditResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := catchPanic(f)
		done <- result{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-time.After(d):
		t.Fatalf("no answer within %s", d)
		return nil, nil
	}
}

func catchPanic(f func() (*EditResult, error)) (res *EditResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("%w: %v", errPanicked, r)
		}
	}()
	return f()
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// treeBytes maps every path under root (symlinks not followed) to its
// content, or its link target for a symlink.
func treeBytes(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			m[rel] = "symlink → " + target
			return err
		case d.IsDir():
			m[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		m[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func equalSnapshots(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
