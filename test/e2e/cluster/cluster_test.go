package cluster

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

func TestPKI(t *testing.T) {
	dir := t.TempDir()
	p, err := newPKI(dir)
	if err != nil {
		t.Fatal(err)
	}

	// The serving certificate must verify against the CA for every name a
	// client may use to reach the apiserver.
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(p.caPEM) {
		t.Fatal("CA PEM does not parse")
	}
	srv := readCert(t, p.serverCert)
	for _, name := range []string{"127.0.0.1", "localhost", "kubernetes.default.svc", serviceIP} {
		if _, err := srv.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("serving certificate for %s: %v", name, err)
		}
	}

	// Every user has a distinct token, and the token file lists it with
	// system:masters.
	csv, err := os.ReadFile(p.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, u := range users {
		tok := p.tokens[u]
		if len(tok) < 32 || seen[tok] {
			t.Errorf("user %s: token %q is short or reused", u, tok)
		}
		seen[tok] = true
		if want := tok + "," + u + "," + u + `,"system:masters"`; !strings.Contains(string(csv), want) {
			t.Errorf("token file lacks line %q", want)
		}
	}

	kc := filepath.Join(dir, "kc")
	if err := p.writeKubeconfig(kc, "https://127.0.0.1:6443", "argocd-application-controller", ArgoCDNamespace); err != nil {
		t.Fatal(err)
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: kc}, nil)
	cfg, err := cc.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://127.0.0.1:6443" || cfg.BearerToken != p.tokens["argocd-application-controller"] || len(cfg.CAData) == 0 {
		t.Errorf("kubeconfig: host %q token %q CA %d bytes", cfg.Host, cfg.BearerToken, len(cfg.CAData))
	}
	if ns, _, err := cc.Namespace(); err != nil || ns != ArgoCDNamespace {
		t.Errorf("kubeconfig namespace = %q, %v; want %q", ns, err, ArgoCDNamespace)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFreePortsDistinct(t *testing.T) {
	ports, err := freePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v: %d invalid or repeated", ports, p)
		}
		seen[p] = true
	}
}

func TestTailFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := 1; i <= 50; i++ {
		b.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		n         int
		first     string
		lastLines int
	}{
		{n: 3, first: "line 48", lastLines: 3},
		{n: 100, first: "line 1", lastLines: 50},
	}
	for _, tt := range tests {
		got := tailFile(path, tt.n)
		lines := strings.Split(got, "\n")
		if len(lines) != tt.lastLines || lines[0] != tt.first || lines[len(lines)-1] != "line 50" {
			t.Errorf("tailFile(%d) = %d lines starting %q", tt.n, len(lines), lines[0])
		}
	}
	if got := tailFile(filepath.Join(t.TempDir(), "missing"), 3); !strings.Contains(got, "cannot read log") {
		t.Errorf("tailFile of a missing file = %q", got)
	}
}

func TestValidTrackingMethod(t *testing.T) {
	for _, tt := range []struct {
		method string
		ok     bool
	}{
		{TrackingLabel, true},
		{TrackingAnnotation, true},
		{TrackingAnnotationAndLabel, true},
		{"", false},
		{"Label", false},
		{"annotation+labels", false},
	} {
		if err := validTrackingMethod(tt.method); (err == nil) != tt.ok {
			t.Errorf("validTrackingMethod(%q) = %v, want ok=%v", tt.method, err, tt.ok)
		}
	}
}

func TestReadObjects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crds.yaml")
	doc := "---\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n---\n# only a comment\n---\napiVersion: v1\nkind: B\nmetadata:\n  name: b\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := readObjects(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	if strings.Join(got, ",") != "A/a,B/b" {
		t.Errorf("readObjects = %v, want A/a,B/b", got)
	}
}

func TestCheckTestBin(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkTestBin(dir, Options{}); err != nil {
		t.Errorf("control plane only: %v", err)
	}
	err := checkTestBin(dir, Options{Flux: true})
	if err == nil || !strings.Contains(err.Error(), "kustomize-controller, crds/flux") || !strings.Contains(err.Error(), "make testbin") {
		t.Errorf("flux without its binary: %v", err)
	}
}

func TestTestBinDirFromEnv(t *testing.T) {
	t.Setenv("DOT_TESTBIN", "/somewhere/testbin")
	got, err := TestBinDir()
	if err != nil || got != "/somewhere/testbin" {
		t.Errorf("TestBinDir() = %q, %v", got, err)
	}
}

// TestTestBinDirFromScript checks the Go side resolves the same directory as
// hack/testbin.sh, from a package directory below the repository root.
func TestTestBinDirFromScript(t *testing.T) {
	t.Setenv("DOT_TESTBIN", "")
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	got, err := TestBinDir()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(got) != filepath.Join(cache, "dot", "testbin") || len(filepath.Base(got)) != 12 {
		t.Errorf("TestBinDir() = %q, want %s/dot/testbin/<12 hex digits>", got, cache)
	}
}

func TestRedisPing(t *testing.T) {
	for _, tt := range []struct {
		answer string
		ok     bool
	}{
		{"+PONG\r\n", true},
		{"-NOAUTH Authentication required.\r\n", false},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
				c.Write([]byte(tt.answer))
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = redisPing(ctx, ln.Addr().String())
		cancel()
		ln.Close()
		if (err == nil) != tt.ok {
			t.Errorf("answer %q: redisPing = %v, want ok=%v", tt.answer, err, tt.ok)
		}
	}
}
