package remediate

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/dot-ai/dot/internal/fixture"
)

// loadSnapshot reads testdata/<name> into a snapshot of namespace shop.
func loadSnapshot(t *testing.T, name string) *Snapshot {
	t.Helper()
	objs, err := fixture.LoadObjects("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	ros := make([]runtime.Object, len(objs))
	for i, o := range objs {
		ros[i] = o
	}
	s, err := SnapshotOf("shop", ros...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// want describes one expected finding.
type want struct {
	id, object, container string
	severity              Severity
	summary               string            // substring
	evidence              []string          // substrings, each in some evidence text
	facts                 map[string]string // subset
	pods                  int
}

func checkFindings(t *testing.T, got []Finding, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		for _, f := range got {
			t.Logf("got %s: %s", f.Key(), f.Summary)
		}
		t.Fatalf("got %d findings, want %d", len(got), len(wants))
	}
	for _, w := range wants {
		var f *Finding
		for i := range got {
			if got[i].ID == w.id && got[i].Object.Kind+"/"+got[i].Object.Name == w.object && got[i].Container == w.container {
				f = &got[i]
			}
		}
		if f == nil {
			t.Errorf("no finding %s on %s container %q", w.id, w.object, w.container)
			continue
		}
		if f.Severity != w.severity {
			t.Errorf("%s: severity %s, want %s", f.Key(), f.Severity, w.severity)
		}
		if !strings.Contains(f.Summary, w.summary) {
			t.Errorf("%s: summary %q does not contain %q", f.Key(), f.Summary, w.summary)
		}
		for _, e := range w.evidence {
			found := false
			for _, x := range f.Evidence {
				found = found || strings.Contains(x.Text, e)
			}
			if !found {
				t.Errorf("%s: no evidence containing %q in %+v", f.Key(), e, f.Evidence)
			}
		}
		for k, v := range w.facts {
			if f.Facts[k] != v {
				t.Errorf("%s: fact %s = %q, want %q", f.Key(), k, f.Facts[k], v)
			}
		}
		if w.pods != len(f.Pods) {
			t.Errorf("%s: %d pods %v, want %d", f.Key(), len(f.Pods), f.Pods, w.pods)
		}
	}
}

func TestAnalyzers(t *testing.T) {
	cases := []struct {
		fixture string
		want    []want
	}{
		{"oom.yaml", []want{
			{id: FindingOOMKilled, object: "Deployment/web", container: "web", severity: SeverityCritical, pods: 2,
				summary:  "container web is OOMKilled (exit code 137) (2 pods)",
				evidence: []string{"terminated: OOMKilled (exit code 137), restarts 4", "memory limit 64Mi", "waiting: CrashLoopBackOff"},
				facts:    map[string]string{"memoryLimit": "64Mi", "memoryRequest": "48Mi"}},
			{id: FindingUnavailable, object: "Deployment/web", severity: SeverityCritical, summary: "0 of 2 replicas available",
				evidence: []string{"unavailable 2"}},
		}},
		{"imagepull.yaml", []want{
			{id: FindingImagePull, object: "Deployment/web", container: "web", severity: SeverityCritical, pods: 1,
				summary:  "image registry.example.com/shop/web:1.5.0-rc1x of container web cannot be pulled (ImagePullBackOff)",
				evidence: []string{"Back-off pulling image", "Failed to pull image", "not found"},
				facts:    map[string]string{"image": "registry.example.com/shop/web:1.5.0-rc1x", "reason": "ImagePullBackOff"}},
			{id: FindingUnavailable, object: "Deployment/web", severity: SeverityWarning, summary: "2 of 2 replicas available (1 updated)"},
		}},
		{"configref.yaml", []want{
			{id: FindingMissingConfigRef, object: "Deployment/api", container: "api", severity: SeverityCritical, pods: 1,
				summary:  `container api refers to ConfigMap "api-confg", which does not exist`,
				evidence: []string{"ConfigMap api-confg key LOG_LEVEL", `CreateContainerConfigError: configmap "api-confg" not found`},
				facts: map[string]string{"field": "name", "value": "api-confg", "candidates": "api-config",
					"path": "spec.template.spec.containers[name=api].env[name=LOG_LEVEL].valueFrom.configMapKeyRef.name"}},
			// Same object and container, different reference: only the first
			// one (by key) is kept; the Secret key typo is reported once the
			// ConfigMap is fixed. See TestAnalyzeConfigRefKeys for keys.
			{id: FindingUnavailable, object: "Deployment/api", severity: SeverityCritical, summary: "0 of 1 replicas available"},
		}},
		{"crashloop.yaml", []want{
			{id: FindingCrashLoop, object: "Pod/worker", container: "worker", severity: SeverityCritical, pods: 1,
				summary:  "last exit Error (code 1), 7 restarts",
				evidence: []string{"last terminated: Error (exit code 1): panic: DATABASE_URL is not set"},
				facts:    map[string]string{"exitCode": "1"}},
		}},
		{"unschedulable.yaml", []want{
			{id: FindingUnschedulable, object: "Pod/batch-0", severity: SeverityCritical, pods: 1,
				summary:  "pods cannot be scheduled: 0/3 nodes are available: 3 Insufficient memory",
				evidence: []string{"PodScheduled=False (Unschedulable)", "FailedScheduling", "(x5)"}},
		}},
		{"probe.yaml", []want{
			{id: FindingProbePort, object: "Deployment/web", container: "web", severity: SeverityCritical, pods: 1,
				summary:  "readinessProbe of container web checks port 8081, which the container does not expose (ports: 8080)",
				evidence: []string{"httpGet port 8081", "Readiness probe failed", "ready=false"},
				facts: map[string]string{"containerPort": "8080", "port": "8081", "observed": "true",
					"path": "spec.template.spec.containers[name=web].readinessProbe.httpGet.port"}},
			{id: FindingProbePort, object: "Deployment/web", container: "sidecar", severity: SeverityCritical,
				summary: "livenessProbe of container sidecar checks port metrics",
				facts:   map[string]string{"containerPort": "admin", "definite": "true"}},
			{id: FindingUnavailable, object: "Deployment/web", severity: SeverityCritical},
		}},
		{"evicted.yaml", []want{
			{id: FindingEvicted, object: "Deployment/web", severity: SeverityWarning, pods: 2, summary: "evicted pods are left behind (2 pods)",
				evidence: []string{"The node was low on resource: memory"}},
		}},
		{"service.yaml", []want{
			{id: FindingServiceNoPods, object: "Service/web", severity: SeverityCritical,
				summary:  "selector app=wbe,tier=frontend matches no pod",
				evidence: []string{"deployment/web pod labels have app=web where the selector wants app=wbe"},
				facts:    map[string]string{"nearWorkloads": "Deployment/web", "key": "app", "have": "web", "want": "wbe"}},
			{id: FindingServiceTargetPort, object: "Service/api", severity: SeverityCritical,
				summary: "port 80 targets 8081, which the selected pods do not expose (they expose 8080)",
				facts:   map[string]string{"containerPort": "8080", "path": "spec.ports[port=80].targetPort", "targetPort": "8081"}},
		}},
		{"pvc.yaml", []want{
			{id: FindingPVCPending, object: "PersistentVolumeClaim/data-db-0", severity: SeverityCritical,
				summary:  `StorageClass "fast-ssd" does not exist`,
				evidence: []string{"classes: standard", `ProvisioningFailed: storageclass.storage.k8s.io "fast-ssd" not found`},
				facts:    map[string]string{"storageClass": "fast-ssd", "defaultClass": "standard"}},
		}},
		{"hpa.yaml", []want{
			{id: FindingHPAMissingRequests, object: "Deployment/web", severity: SeverityWarning,
				summary:  "web scales on cpu utilization, but container(s) web request no cpu",
				evidence: []string{"utilization target 70%", "missing request for cpu in container web"},
				facts:    map[string]string{"containers": "web", "resource": "cpu"}},
			{id: FindingHPAMissingTarget, object: "HorizontalPodAutoscaler/gone", severity: SeverityWarning,
				summary: "scale target Deployment/renamed-away does not exist"},
		}},
		{"rollout.yaml", []want{
			{id: FindingProgressDeadline, object: "Deployment/web", severity: SeverityCritical, summary: `ReplicaSet "web-5d4f8b7c9" has timed out progressing`},
			{id: FindingReplicaFailure, object: "Deployment/web", severity: SeverityCritical, summary: "exceeded quota: compute",
				evidence: []string{"ReplicaFailure=True (FailedCreate)"}},
			{id: FindingUnavailable, object: "Deployment/web", severity: SeverityWarning, summary: "2 of 3 replicas available (1 updated)"},
			{id: FindingUnavailable, object: "StatefulSet/db", severity: SeverityCritical, summary: "0 of 3 replicas ready"},
		}},
		{"ingress.yaml", []want{
			{id: FindingIngressClass, object: "Ingress/shop", severity: SeverityCritical,
				summary:  `IngressClass "ngnix" does not exist (classes: nginx)`,
				evidence: []string{"ingressClassName ngnix; IngressClasses: nginx"},
				facts:    map[string]string{"class": "ngnix", "candidates": "nginx", "classes": "nginx"}},
			{id: FindingIngressBackend, object: "Ingress/shop", severity: SeverityCritical,
				summary: `2 backends are broken: backend service "web-frontnd" (host shop.example.com path /) does not exist; ` +
					"backend port 8080 of service api (host shop.example.com path /api) does not exist (ports: 80 (http))",
				evidence: []string{"services: api, web-frontend", "host shop.example.com path /api: backend service api port 8080", "service api ports: 80 (http)"},
				facts:    map[string]string{"service": "web-frontnd", "port": "http", "candidates": "web-frontend"}},
			{id: FindingIngressTLS, object: "Ingress/shop", severity: SeverityWarning,
				summary: `TLS secret "shop-tls" for shop.example.com does not exist`,
				facts:   map[string]string{"secret": "shop-tls"}},
		}},
		{"pdb.yaml", []want{
			{id: FindingPDBBlocking, object: "PodDisruptionBudget/web", severity: SeverityWarning,
				summary:  "allows no disruption with all 2 pods healthy",
				evidence: []string{"minAvailable 2; selector app=web", "expected pods 2, healthy 2, desired healthy 2, disruptions allowed 0", "DisruptionAllowed=False (InsufficientPods)"},
				facts:    map[string]string{"policy": "minAvailable 2", "expectedPods": "2"}},
			{id: FindingPDBNoPods, object: "PodDisruptionBudget/worker", severity: SeverityWarning,
				summary:  "selector app=wrker matches no pod: the budget protects nothing",
				evidence: []string{"deployment/worker pod labels have app=worker where the selector wants app=wrker"}},
		}},
		{"job.yaml", []want{
			{id: FindingJobFailed, object: "CronJob/report", container: "report", severity: SeverityCritical, pods: 1,
				summary: "job report-29002 failed (BackoffLimitExceeded): container report terminated: Error (exit code 2): psql: error: connection to server",
				evidence: []string{"Failed=True (BackoffLimitExceeded): Job has reached the specified backoff limit",
					`container report terminated: Error (exit code 2): psql: error: connection to server at "db" failed: FATAL: password authentication failed`},
				facts: map[string]string{"job": "report-29002", "reason": "BackoffLimitExceeded", "exitCode": "2", "podReason": "Error"}},
			{id: FindingJobFailed, object: "Job/migrate", severity: SeverityCritical,
				summary:  "job migrate failed (DeadlineExceeded)",
				evidence: []string{"Failed=True (DeadlineExceeded)", "Warning DeadlineExceeded: Job was active longer than specified deadline"},
				facts:    map[string]string{"reason": "DeadlineExceeded"}},
			{id: FindingCronJobSchedule, object: "CronJob/cleanup", severity: SeverityCritical,
				summary: `schedule "0 3 30 2 *" never fires: no month has that day`},
			{id: FindingCronJobSchedule, object: "CronJob/nightly", severity: SeverityCritical,
				summary:  "the CronJob controller rejects its schedule or time zone",
				evidence: []string{`schedule "@daily", timeZone Europe/Pariss`, "Warning UnknownTimeZone: invalid timeZone"}},
		}},
		{"node.yaml", []want{
			{id: FindingNodeNotReady, object: "Node/node-1", severity: SeverityCritical, pods: 1,
				summary:  "node node-1 is NotReady (NodeStatusUnknown): 1 pod(s) of shop run there (deployment/web)",
				evidence: []string{"Ready=Unknown (NodeStatusUnknown): Kubelet stopped posting node status.", "taints node.kubernetes.io/unreachable:NoExecute"}},
			{id: FindingNodePressure, object: "Node/node-2", severity: SeverityWarning, pods: 1,
				summary:  "node node-2 has MemoryPressure, DiskPressure: 1 pod(s) of shop run there (deployment/web)",
				evidence: []string{"MemoryPressure=True (KubeletHasInsufficientMemory)", "DiskPressure=True (KubeletHasDiskPressure)"},
				facts:    map[string]string{"node": "node-2", "condition": "MemoryPressure,DiskPressure"}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			checkFindings(t, Analyze(loadSnapshot(t, tc.fixture)), tc.want)
		})
	}
}

// TestAnalyzeConfigRefKeys: once the ConfigMap name is right, the Secret
// key typo is what remains, with the near key as candidate; a key missing
// from a ConfigMap with several near keys has several candidates.
func TestAnalyzeConfigRefKeys(t *testing.T) {
	s := loadSnapshot(t, "configref.yaml")
	s.Deployments[0].Spec.Template.Spec.Containers[0].Env[0].ValueFrom.ConfigMapKeyRef.Name = "api-config"
	s.Deployments[0].Spec.Template.Spec.Containers[0].EnvFrom = nil
	got := configRefAnalyzer{}.Analyze(s)
	checkFindings(t, got, []want{{id: FindingMissingConfigRef, object: "Deployment/api", container: "api", severity: SeverityCritical, pods: 1,
		summary: `reads key "pasword" of Secret "db", which has no such key (keys: password, username)`,
		facts:   map[string]string{"field": "key", "value": "pasword", "candidates": "password", "path": "spec.template.spec.containers[name=api].env[name=DB_PASSWORD].valueFrom.secretKeyRef.key"}}})
	// Secret values never enter the snapshot.
	for name, keys := range s.Secrets {
		for _, k := range keys {
			if strings.Contains(k, "c2VjcmV0") || strings.Contains(k, "secret") {
				t.Errorf("secret %s: key list %v holds a value", name, keys)
			}
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"api-confg", "api-config", 1}, {"pasword", "password", 1}, {"wbe", "web", 2}, {"abc", "xyz", 3}, {"", "ab", 2}, {"über", "uber", 1}} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if got := nearNames("app-cfg", []string{"app-cfg", "app-cfgs", "ap-cf", "apps-config", "app-cg"}); strings.Join(got, ",") != "app-cfgs,app-cg,ap-cf" {
		t.Errorf("nearNames = %v", got)
	}
}

// TestAnalyzeRelated: a diagnosis of one object keeps the findings of the
// objects related to it.
func TestAnalyzeRelated(t *testing.T) {
	s := loadSnapshot(t, "service.yaml")
	names := func(refs []string) string { return strings.Join(refs, ",") }
	var got []string
	for _, r := range s.related(refTo(gvDeployment, "shop", "web")) {
		got = append(got, r.Kind+"/"+r.Name)
	}
	if want := "Deployment/web,Deployment/web,ReplicaSet/web-1,Pod/web-1-aaaaa,Service/web"; names(got) != want {
		t.Errorf("related(deployment/web) = %s, want %s", names(got), want)
	}
	got = nil
	for _, r := range s.related(refTo(gvService, "shop", "api")) {
		got = append(got, r.Kind+"/"+r.Name)
	}
	if want := "Service/api,Deployment/api"; names(got) != want {
		t.Errorf("related(service/api) = %s, want %s", names(got), want)
	}
}
