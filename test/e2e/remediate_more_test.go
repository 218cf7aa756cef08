//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/remediate"
)

// queryReport is dot remediate's JSON report with the resolution of a
// problem given in words.
type queryReport struct {
	remediate.Report
	Resolution *remediate.Resolution `json:"resolution"`
}

// runRemediateJSON runs dot remediate with -o json, checks the exit code
// and decodes the report (empty when nothing was diagnosed).
func runRemediateJSON(t *testing.T, wantCode int, args ...string) (rep *queryReport, stderr string) {
	t.Helper()
	start := time.Now()
	out, errOut, code := dotCLI(t, append([]string{"remediate"}, append(args, "-o", "json")...)...)
	t.Logf("dot remediate %q: exit %d in %s\nstderr:\n%s", args, code, time.Since(start).Round(time.Millisecond), errOut)
	if code != wantCode {
		t.Fatalf("exit %d, want %d\nstdout:\n%s", code, wantCode, out)
	}
	rep = &queryReport{}
	if strings.TrimSpace(out) != "" {
		if err := json.Unmarshal([]byte(out), rep); err != nil {
			t.Fatalf("output is not the JSON report: %v\n%s", err, out)
		}
	}
	return rep, errOut
}

// findingOn returns the finding id on kind/name, failing the test when
// there is none.
func findingOn(t *testing.T, fs []remediate.Finding, id, kind, name string) remediate.Finding {
	t.Helper()
	var have []string
	for _, f := range fs {
		if f.ID == id && f.Object.Kind == kind && f.Object.Name == name {
			return f
		}
		have = append(have, f.ID+" "+f.Object.Kind+"/"+f.Object.Name)
	}
	t.Fatalf("no %s on %s/%s; findings: %v", id, kind, name, have)
	return remediate.Finding{}
}

func evidenceText(f remediate.Finding) string {
	var s []string
	for _, e := range f.Evidence {
		s = append(s, e.Text)
	}
	return strings.Join(s, "\n")
}

// lineOf returns the 1-based line of file content that contains sub.
func lineOf(t *testing.T, content, sub string) int {
	t.Helper()
	for i, l := range strings.Split(content, "\n") {
		if strings.Contains(l, sub) {
			return i + 1
		}
	}
	t.Fatalf("no %q in\n%s", sub, content)
	return 0
}

// checkAdviceOnly checks that every fix is advice (no change) and that the
// repository did not move.
func checkAdviceOnly(t *testing.T, a *gitopsApp, before string, fixes []remediate.FixReport) {
	t.Helper()
	for _, fx := range fixes {
		if fx.Decision != remediate.DecisionAdvice || fx.Actionable() || len(fx.Options) == 0 {
			t.Errorf("fix %s (%s): decision %s, options %v: want advice only", fx.Rule, fx.Title, fx.Decision, fx.Options)
		}
	}
	if head, _ := suite.git.Head(context.Background(), a.repo, "main"); head != before {
		t.Errorf("advice committed %s (was %s)", head, before)
	}
}

// TestRemediateFreeText (issue 8): an app that Flux delivers, OOMKilled at
// its prod memory limit, is named only by a sentence; dot remediate
// resolves it, says why, fixes it by one commit in the prod overlay's
// patch and verifies it. A sentence that matches two objects equally well
// lists them and changes nothing.
func TestRemediateFreeText(t *testing.T) {
	t.Parallel()
	files := shopRepo(oomImage, "64Mi")
	// Two Services named web-*, selecting nothing: "the web services" is
	// ambiguous between them.
	files["base/kustomization.yaml"] = "resources:\n  - deployment.yaml\n  - services.yaml\n"
	files["base/services.yaml"] = `apiVersion: v1
kind: Service
metadata:
  name: web-internal
spec:
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata:
  name: web-public
spec:
  ports: [{port: 80}]
`
	a := setupShopApp(t, "flux", files)
	waitPodsIn(t, a.ns, "CrashLoopBackOff")
	ctx := context.Background()
	before, _ := suite.git.Head(ctx, a.repo, "main")

	// Ambiguous: both Services match "web" as a prefix; dot lists them and
	// does nothing.
	ambiguous := "are the web services in " + a.ns + " ok?"
	rep, stderr := runRemediateJSON(t, 2, ambiguous, "--yes")
	for _, want := range []string{"several objects match equally well", "service/web-internal -n " + a.ns, "service/web-public -n " + a.ns, "--help' for usage."} {
		if !strings.Contains(stderr, want) {
			t.Errorf("ambiguous sentence: stderr does not say %q", want)
		}
	}
	if rep.Target != "" || len(rep.Fixes) != 0 {
		t.Errorf("ambiguous sentence diagnosed %q", rep.Target)
	}
	if head, _ := suite.git.Head(ctx, a.repo, "main"); head != before {
		t.Fatalf("the ambiguous sentence committed %s", head)
	}

	sentence := "the web deployment in namespace " + a.ns + " keeps getting OOMKilled"
	rep, _ = runRemediateJSON(t, 0, sentence, "--yes")
	res := rep.Resolution
	if res == nil || res.Object == nil || res.Object.Kind != "Deployment" || res.Object.Name != "web" || res.Namespace != a.ns || res.Query != sentence {
		t.Fatalf("resolution %+v, want deployment/web in %s", res, a.ns)
	}
	reasons := strings.Join(res.Reasons, "\n")
	for _, want := range []string{`namespace ` + a.ns + `: the text says "namespace ` + a.ns + `"`, `the kind words "deployment" keep deployments`, `"web" is the name of deployment/web in ` + a.ns} {
		if !strings.Contains(reasons, want) {
			t.Errorf("reasons do not say %q:\n%s", want, reasons)
		}
	}
	if !slices.Equal(res.Symptoms, []string{"oom"}) {
		t.Errorf("symptoms %v, want [oom]", res.Symptoms)
	}
	t.Logf("resolved %q: %s", sentence, reasons)
	oom := findingOn(t, rep.Findings, remediate.FindingOOMKilled, "Deployment", "web")
	if oom.Owner == nil || oom.Owner.Owner != "Kustomization "+a.ns+"/web" || oom.Owner.File != "overlays/prod/memory.yaml:13" {
		t.Errorf("owner %+v, want Kustomization %s/web, file overlays/prod/memory.yaml:13", oom.Owner, a.ns)
	}
	checkMemoryFixed(t, a, before, &rep.Report)
}

// TestRemediateNodeNotReady (issue 8): a node whose kubelet reports
// NotReady (not one kwok runs; the node lifecycle controller may turn it
// Unknown) holds the pods of an app Argo CD delivers. The diagnosis names
// the node as the cause, on the node and on the unavailable Deployment,
// with the owner and the file defining the Deployment; no rule changes a
// node, so nothing is committed, even with --auto.
func TestRemediateNodeNotReady(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	nodeName := uniqueName(t, "dot-e2e-down")
	res := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName, Labels: map[string]string{"kubernetes.io/hostname": nodeName}}}
	createAll(t, node)
	t.Cleanup(func() { suite.client.Delete(context.Background(), node) })
	// What a kubelet whose runtime network is down posts. A merge patch: the
	// node lifecycle controller may be updating the node meanwhile.
	orig := node.DeepCopy()
	now := metav1.Now()
	node.Status = corev1.NodeStatus{Capacity: res, Allocatable: res, Conditions: []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady",
		Message: "container runtime network not ready: NetworkReady=false", LastHeartbeatTime: now, LastTransitionTime: now,
	}}}
	if err := suite.client.Status().Patch(ctx, node, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}

	files := shopRepo(goodImage, "128Mi")
	files["base/deployment.yaml"] = strings.Replace(files["base/deployment.yaml"], "    spec:\n      containers:", "    spec:\n      nodeName: "+nodeName+"\n      containers:", 1)
	a := setupShopApp(t, "argocd", files)
	eventually(t, 60*time.Second, "pods of web bound to "+nodeName, func(ctx context.Context) (bool, string, error) {
		var pods corev1.PodList
		if err := suite.client.List(ctx, &pods, client.InNamespace(a.ns), client.MatchingLabels{"app": "web"}); err != nil {
			return false, "", err
		}
		var where []string
		for _, p := range pods.Items {
			where = append(where, p.Name+" on "+p.Spec.NodeName)
		}
		return len(pods.Items) == 2 && pods.Items[0].Spec.NodeName == nodeName, strings.Join(where, ", "), nil
	}, "kube-controller-manager")
	waitDeployment(t, a.ns, func(d *appsv1.Deployment) bool {
		return d.Status.ObservedGeneration >= d.Generation && d.Status.Replicas == 2 && d.Status.AvailableReplicas == 0
	})
	before, _ := suite.git.Head(ctx, a.repo, "main")

	rep, _ := runRemediateJSON(t, 0, "deployment/web", "-n", a.ns, "--auto", "--max-risk", "high", "--min-confidence", "0")
	nf := findingOn(t, rep.Findings, remediate.FindingNodeNotReady, "Node", nodeName)
	ready := regexp.MustCompile(`^Ready=(False \(KubeletNotReady\): container runtime network not ready|Unknown \(NodeStatusUnknown\))`)
	if nf.Severity != remediate.SeverityCritical || !ready.MatchString(nf.Evidence[0].Text) || !strings.Contains(nf.Summary, "2 pod(s) of "+a.ns+" run there (deployment/web)") {
		t.Errorf("node finding %q (%s), evidence:\n%s", nf.Summary, nf.Severity, evidenceText(nf))
	}
	t.Logf("node finding: %s\n%s", nf.Summary, evidenceText(nf))
	uf := findingOn(t, rep.Findings, remediate.FindingUnavailable, "Deployment", "web")
	wantOwner := "Application argocd/" + a.ownerName
	if !strings.HasSuffix(uf.Summary, ": its pods are on NotReady node "+nodeName) || !strings.Contains(evidenceText(uf), "is bound to node "+nodeName+": Ready=") {
		t.Errorf("deployment finding %q does not blame the node; evidence:\n%s", uf.Summary, evidenceText(uf))
	}
	if uf.Owner == nil || uf.Owner.Owner != wantOwner || !strings.Contains(uf.Owner.Source, "overlays/prod") || uf.Owner.File != "base/deployment.yaml:1" {
		t.Errorf("deployment finding owner %+v, want %s from overlays/prod, defined at base/deployment.yaml:1", uf.Owner, wantOwner)
	}
	t.Logf("deployment finding: %s (owner %s, defined %s)", uf.Summary, uf.Owner.Owner, uf.Owner.File)
	checkAdviceOnly(t, a, before, rep.Fixes)
	if !slices.ContainsFunc(rep.Fixes, func(fx remediate.FixReport) bool {
		return strings.HasPrefix(fx.Finding, remediate.FindingNodeNotReady) && slices.ContainsFunc(fx.Options, func(o string) bool { return strings.Contains(o, "drain "+nodeName) })
	}) {
		t.Errorf("no advice to drain %s: %+v", nodeName, rep.Fixes)
	}

	// No kubelet renews the node's lease: the node lifecycle controller
	// marks it Unknown and taints it unreachable. The diagnosis holds.
	eventually(t, 150*time.Second, "node "+nodeName+" Ready=Unknown and tainted unreachable", func(ctx context.Context) (bool, string, error) {
		var n corev1.Node
		if err := suite.client.Get(ctx, client.ObjectKey{Name: nodeName}, &n); err != nil {
			return false, "", err
		}
		var state []string
		unknown, tainted := false, false
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				unknown = c.Status == corev1.ConditionUnknown
				state = append(state, fmt.Sprintf("Ready=%s (%s)", c.Status, c.Reason))
			}
		}
		for _, tn := range n.Spec.Taints {
			tainted = tainted || (tn.Key == corev1.TaintNodeUnreachable && tn.Effect == corev1.TaintEffectNoExecute)
			state = append(state, tn.Key+":"+string(tn.Effect))
		}
		return unknown && tainted, strings.Join(state, ", "), nil
	}, "kube-controller-manager")
	rep, _ = runRemediateJSON(t, 0, "deployment/web", "-n", a.ns, "--auto", "--max-risk", "high", "--min-confidence", "0")
	nf = findingOn(t, rep.Findings, remediate.FindingNodeNotReady, "Node", nodeName)
	if ev := evidenceText(nf); !strings.HasPrefix(ev, "Ready=Unknown (NodeStatusUnknown)") || !regexp.MustCompile(`(?m)^taints .*node.kubernetes.io/unreachable:NoExecute`).MatchString(ev) {
		t.Errorf("node finding after the lifecycle controller: %q, evidence:\n%s", nf.Summary, ev)
	}
	if uf = findingOn(t, rep.Findings, remediate.FindingUnavailable, "Deployment", "web"); !strings.Contains(uf.Summary, "NotReady node "+nodeName) || uf.Owner == nil || uf.Owner.File != "base/deployment.yaml:1" {
		t.Errorf("deployment finding after the lifecycle controller: %q, owner %+v", uf.Summary, uf.Owner)
	}
	t.Logf("node finding once Unknown: %s\n%s", nf.Summary, evidenceText(nf))
	checkAdviceOnly(t, a, before, rep.Fixes)
}

// TestRemediateIngress (issue 8): an Ingress whose backends name a Service
// that does not exist and a port its Service does not define, and an
// Ingress whose TLS Secret is missing, delivered by Flux, are diagnosed
// with their evidence, owner and the line that defines the broken field;
// advice only, no commit. The brief's sentence "my ingress for web returns
// 503" resolves to the first.
func TestRemediateIngress(t *testing.T) {
	t.Parallel()
	ingress := `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  annotations:
    kubernetes.io/ingress.class: nginx
spec:
  rules:
    - host: shop.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: web-frontnd
                port: {number: 80}
          - path: /api
            pathType: Prefix
            backend:
              service:
                name: web
                port: {number: 8081}
`
	secure := `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web-secure
  annotations:
    kubernetes.io/ingress.class: nginx
spec:
  tls:
    - hosts: [secure.example.com]
      secretName: web-secure-tls
  rules:
    - host: secure.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: web, port: {number: 80}}}
`
	files := ruleRepo(goodImage, map[string]string{
		"overlays/prod/kustomization.yaml":  "resources:\n  - ../../base\n  - ingress.yaml\n  - ingress-secure.yaml\n",
		"overlays/prod/ingress.yaml":        ingress,
		"overlays/prod/ingress-secure.yaml": secure,
	})
	a := setupShopApp(t, "flux", files)
	waitDeployment(t, a.ns, deploymentAvailable)
	ctx := context.Background()
	before, _ := suite.git.Head(ctx, a.repo, "main")

	rep, _ := runRemediateJSON(t, 0, "-n", a.ns, "--auto", "--max-risk", "high", "--min-confidence", "0")
	wantOwner := "Kustomization " + a.ns + "/web"
	bf := findingOn(t, rep.Findings, remediate.FindingIngressBackend, "Ingress", "web")
	bev := evidenceText(bf)
	for _, want := range []string{
		"host shop.example.com path /: backend service web-frontnd port 80; services: web",
		"host shop.example.com path /api: backend service web port 8081",
		"service web ports: 80",
	} {
		if !strings.Contains(bev, want) {
			t.Errorf("backend finding evidence does not say %q:\n%s", want, bev)
		}
	}
	if bf.Severity != remediate.SeverityCritical || !strings.HasPrefix(bf.Summary, "2 backends are broken") {
		t.Errorf("backend finding %q (%s)", bf.Summary, bf.Severity)
	}
	wantFile := fmt.Sprintf("overlays/prod/ingress.yaml:%d", lineOf(t, ingress, "name: web-frontnd"))
	if bf.Owner == nil || bf.Owner.Owner != wantOwner || bf.Owner.File != wantFile {
		t.Errorf("backend finding owner %+v, want %s, defined at %s", bf.Owner, wantOwner, wantFile)
	}
	tf := findingOn(t, rep.Findings, remediate.FindingIngressTLS, "Ingress", "web-secure")
	if !strings.Contains(evidenceText(tf), "tls secretName web-secure-tls for secure.example.com; no such Secret in "+a.ns) {
		t.Errorf("TLS finding evidence:\n%s", evidenceText(tf))
	}
	wantFile = fmt.Sprintf("overlays/prod/ingress-secure.yaml:%d", lineOf(t, secure, "secretName: web-secure-tls"))
	if tf.Owner == nil || tf.Owner.Owner != wantOwner || tf.Owner.File != wantFile {
		t.Errorf("TLS finding owner %+v, want %s, defined at %s", tf.Owner, wantOwner, wantFile)
	}
	for _, f := range []remediate.Finding{bf, tf} {
		t.Logf("%s on %s: %s (defined %s)", f.ID, f.Object.Name, f.Summary, f.Owner.File)
	}
	checkAdviceOnly(t, a, before, rep.Fixes)

	// The brief's sentence, with the namespace from -n.
	rep, _ = runRemediateJSON(t, 0, "my ingress for web returns 503", "-n", a.ns, "--dry-run")
	if r := rep.Resolution; r == nil || r.Object == nil || r.Object.Kind != "Ingress" || r.Object.Name != "web" || r.Namespace != a.ns {
		t.Fatalf("resolution %+v, want ingress/web in %s", rep.Resolution, a.ns)
	}
	t.Logf("resolved: %s", strings.Join(rep.Resolution.Reasons, "; "))
	findingOn(t, rep.Findings, remediate.FindingIngressBackend, "Ingress", "web")
	checkAdviceOnly(t, a, before, rep.Fixes)
}
