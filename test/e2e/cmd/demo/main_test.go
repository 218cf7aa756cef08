package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func TestRunSteps(t *testing.T) {
	boom := errors.New("boom")
	ok := func(context.Context, *demo) error { return nil }
	fail := func(context.Context, *demo) error { return boom }
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		steps     []step
		wantRan   int // steps that completed
		wantErr   string
		wantPrint []string
	}{
		{
			name:      "all pass",
			ctx:       context.Background(),
			steps:     []step{{"one", ok}, {"two", ok}},
			wantRan:   2,
			wantPrint: []string{"==> [1/2] one", "==> [2/2] two", "--- ok"},
		},
		{
			name:      "stops at the first failure and names it",
			ctx:       context.Background(),
			steps:     []step{{"one", ok}, {"two", fail}, {"three", ok}},
			wantRan:   1,
			wantErr:   "step 2/3 (two): boom",
			wantPrint: []string{"==> [2/3] two", "--- FAILED"},
		},
		{
			name:    "a cancelled context runs nothing",
			ctx:     cancelled,
			steps:   []step{{"one", ok}},
			wantRan: 0,
			wantErr: "step 1/1 (one): context canceled",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			timings, err := runSteps(tc.ctx, &demo{out: &out, errOut: &out}, tc.steps)
			if len(timings) != tc.wantRan {
				t.Errorf("%d steps completed, want %d", len(timings), tc.wantRan)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("err = %v", err)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			if tc.wantErr == "step 2/3 (two): boom" && !errors.Is(err, boom) {
				t.Errorf("the step's error is not wrapped: %v", err)
			}
			if strings.Contains(out.String(), "three") {
				t.Errorf("a step after the failure ran:\n%s", out.String())
			}
			for _, want := range tc.wantPrint {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// exitedPID returns the pid of a process that has exited.
func exitedPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	return cmd.Process.Pid
}

func TestPIDFile(t *testing.T) {
	me := os.Getpid()
	tests := []struct {
		name    string
		before  string // file content before; "" for no file
		wantErr bool
	}{
		{name: "no file", before: ""},
		{name: "stale file of an exited process", before: strconv.Itoa(exitedPID(t))},
		{name: "garbage", before: "not a pid"},
		{name: "our own pid", before: strconv.Itoa(me)},
		{name: "a running process (a demo already up)", before: strconv.Itoa(os.Getppid()), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "demo.pid")
			if tc.before != "" {
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, []byte(tc.before+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := writePIDFile(path, me)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "make demo-down") {
					t.Fatalf("err = %v, want a refusal pointing at make demo-down", err)
				}
				if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != tc.before {
					t.Errorf("the refused write changed the file to %q", b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != strconv.Itoa(me) {
				t.Errorf("file holds %q, want %d", b, me)
			}
			removePIDFile(path, me+1) // another demo's: left alone
			if _, err := os.Stat(path); err != nil {
				t.Errorf("removePIDFile removed a file naming another pid: %v", err)
			}
			removePIDFile(path, me)
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("removePIDFile left the file: %v", err)
			}
		})
	}
}

// TestAppFiles builds the sample app's overlays as the controllers will, so
// a typo in the demo's repository fails here and not half-way into a run.
func TestAppFiles(t *testing.T) {
	fs := filesys.MakeFsInMemory()
	for name, content := range appFiles() {
		if err := fs.WriteFile("/repo/"+name, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		overlay  string
		replicas int32
		image    string
	}{
		{"overlays/prod", prodReplicas, imageRepo + ":" + prodTag},
		{"overlays/dev", 1, imageRepo + ":" + baseTag},
	}
	for _, tc := range tests {
		t.Run(tc.overlay, func(t *testing.T) {
			res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/repo/"+tc.overlay)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			var dep appsv1.Deployment
			for _, r := range res.Resources() {
				kinds = append(kinds, r.GetKind()+"/"+r.GetName())
				if r.GetKind() == "Deployment" {
					m, err := r.Map()
					if err != nil {
						t.Fatal(err)
					}
					if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &dep); err != nil {
						t.Fatal(err)
					}
				}
			}
			if strings.Join(kinds, ",") != "Service/web,Deployment/web" && strings.Join(kinds, ",") != "Deployment/web,Service/web" {
				t.Errorf("resources %v, want Deployment/web and Service/web", kinds)
			}
			if dep.Spec.Replicas == nil || *dep.Spec.Replicas != tc.replicas {
				t.Errorf("replicas %v, want %d", dep.Spec.Replicas, tc.replicas)
			}
			if cs := dep.Spec.Template.Spec.Containers; len(cs) != 1 || cs[0].Image != tc.image {
				t.Errorf("containers %+v, want one with image %s", cs, tc.image)
			}
		})
	}
}

func TestSteps(t *testing.T) {
	// The demo's promise: each app gets trace, a dry run and the delivered
	// operations, and every step has a title for its header.
	s := steps(demoApps())
	titles := map[string]bool{}
	for _, st := range s {
		if st.title == "" || st.run == nil {
			t.Fatalf("step %+v lacks a title or a function", st)
		}
		if titles[st.title] {
			t.Errorf("two steps are titled %q", st.title)
		}
		titles[st.title] = true
	}
	for _, a := range demoApps() {
		for _, verb := range []string{"trace", "dry run", "scale", "image", "roll back", "break web", "remediate dry run", "remediate web", "recommend a new app", "recommend again", "history"} {
			found := false
			for title := range titles {
				if strings.HasPrefix(title, a.label+":") && strings.Contains(title, verb) {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s step for the %s app", verb, a.label)
			}
		}
	}
}
