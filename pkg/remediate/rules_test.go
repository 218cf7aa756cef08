package remediate

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dot-ai/dot/pkg/gitops"
)

func TestRaisedMemoryLimit(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"64Mi", "164Mi"},      // +100Mi wins
		{"500Mi", "600Mi"},     // equal
		{"1Gi", "1229Mi"},      // ×1.2 wins (1228.8 rounded up)
		{"2Gi", "2458Mi"},      // 2457.6 → 2458
		{"100M", "196Mi"},      // decimal units: 95.37Mi + 100Mi, rounded up
		{"268435456", "356Mi"}, // bytes
	} {
		if got := RaisedMemoryLimit(resource.MustParse(tc.in)); got.String() != tc.want {
			t.Errorf("RaisedMemoryLimit(%s) = %s, want %s", tc.in, got.String(), tc.want)
		}
	}
}

// wantFix describes the fix expected for the first finding with an ID.
type wantFix struct {
	rule       string
	risk       Risk
	confidence float64
	title      string
	// fields are "path=value expect=old" or "path=value absent"; empty
	// means no change set (advice with options).
	fields  []string
	options string // substring of some option
	direct  bool
	deletes []string
	// recreate: every change deletes and creates its object again.
	recreate bool
}

func fieldString(f gitops.FieldChange) string {
	v, _ := json.Marshal(f.Value)
	s := f.Path + "=" + string(v)
	switch {
	case f.ExpectAbsent:
		s += " absent"
	case f.Expect != nil:
		e, _ := json.Marshal(f.Expect)
		s += " expect=" + string(e)
	}
	return s
}

func TestRules(t *testing.T) {
	cases := []struct {
		name, fixture, finding string
		mutate                 func(s *Snapshot)
		want                   wantFix
	}{
		{"oom raises the limit", "oom.yaml", FindingOOMKilled, nil, wantFix{rule: "raise-memory-limit", risk: RiskLow, confidence: 0.9,
			title:  "raise memory limit of deployment/web container web from 64Mi to 164Mi (shop)",
			fields: []string{`spec.template.spec.containers[name=web].resources.limits.memory="164Mi" expect="64Mi"`}}},
		{"oom capped by the LimitRange", "oom.yaml", FindingOOMKilled, func(s *Snapshot) {
			s.LimitRanges = []corev1.LimitRange{{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}}}}}}
		}, wantFix{rule: "raise-memory-limit", risk: RiskLow, confidence: 0.8,
			title:  "raise memory limit of deployment/web container web from 64Mi to 128Mi (shop)",
			fields: []string{`spec.template.spec.containers[name=web].resources.limits.memory="128Mi" expect="64Mi"`}}},
		{"oom at the LimitRange maximum", "oom.yaml", FindingOOMKilled, func(s *Snapshot) {
			s.LimitRanges = []corev1.LimitRange{{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}}
		}, wantFix{rule: "raise-memory-limit", risk: RiskLow, options: "raise the LimitRange maximum"}},
		{"oom with a LimitRange default limit", "oom.yaml", FindingOOMKilled, func(s *Snapshot) {
			delete(s.Deployments[0].Spec.Template.Spec.Containers[0].Resources.Limits, corev1.ResourceMemory)
		}, wantFix{rule: "raise-memory-limit", risk: RiskLow, confidence: 0.8,
			title:  "raise memory limit of deployment/web container web from 64Mi to 164Mi (shop)",
			fields: []string{`spec.template.spec.containers[name=web].resources.limits.memory="164Mi" absent`}}},
		{"oom after the template changed", "oom.yaml", FindingOOMKilled, func(s *Snapshot) {
			s.Deployments[0].Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("96Mi")
		}, wantFix{rule: "raise-memory-limit", risk: RiskLow, confidence: 0.6,
			title:  "raise memory limit of deployment/web container web from 96Mi to 196Mi (shop)",
			fields: []string{`spec.template.spec.containers[name=web].resources.limits.memory="196Mi" expect="96Mi"`}}},
		{"image pull goes back to the serving ReplicaSet's image", "imagepull.yaml", FindingImagePull, nil, wantFix{rule: "previous-image", risk: RiskLow, confidence: 0.9,
			title:  "set image of deployment/web container web back to registry.example.com/shop/web:1.4.2 (shop)",
			fields: []string{`spec.template.spec.containers[name=web].image="registry.example.com/shop/web:1.4.2" expect="registry.example.com/shop/web:1.5.0-rc1x"`}}},
		{"image pull, previous ReplicaSet scaled down", "imagepull.yaml", FindingImagePull, func(s *Snapshot) {
			s.replicaSet("web-6c8d7f9b4").Status.AvailableReplicas = 0
		}, wantFix{rule: "previous-image", risk: RiskLow, confidence: 0.7,
			fields: []string{`spec.template.spec.containers[name=web].image="registry.example.com/shop/web:1.4.2" expect="registry.example.com/shop/web:1.5.0-rc1x"`}}},
		{"image pull without history", "imagepull.yaml", FindingImagePull, func(s *Snapshot) {
			s.ReplicaSets = s.ReplicaSets[:1] // the new one only
		}, wantFix{rule: "previous-image", risk: RiskLow, options: "exists in the registry"}},
		{"probe port", "probe.yaml", FindingProbePort, nil, wantFix{rule: "probe-port", risk: RiskLow, confidence: 0.9,
			title:  "set readinessProbe port of deployment/web container web to 8080 (shop)",
			fields: []string{`spec.template.spec.containers[name=web].readinessProbe.httpGet.port=8080 expect=8081`}}},
		{"config reference typo", "configref.yaml", FindingMissingConfigRef, nil, wantFix{rule: "fix-config-reference", risk: RiskLow, confidence: 0.85,
			title:  "set configmap name of deployment/api to api-config (shop)",
			fields: []string{`spec.template.spec.containers[name=api].env[name=LOG_LEVEL].valueFrom.configMapKeyRef.name="api-config" expect="api-confg"`}}},
		{"secret key typo", "configref.yaml", FindingMissingConfigRef, func(s *Snapshot) {
			s.Deployments[0].Spec.Template.Spec.Containers[0].Env[0].ValueFrom.ConfigMapKeyRef.Name = "api-config"
		}, wantFix{rule: "fix-config-reference", risk: RiskMedium, confidence: 0.85,
			title:  "set secret key of deployment/api to password (shop)",
			fields: []string{`spec.template.spec.containers[name=api].env[name=DB_PASSWORD].valueFrom.secretKeyRef.key="password" expect="pasword"`}}},
		{"config reference without a near name", "configref.yaml", FindingMissingConfigRef, func(s *Snapshot) {
			delete(s.ConfigMaps, "api-config")
		}, wantFix{rule: "fix-config-reference", risk: RiskLow, options: `create ConfigMap "api-confg"`}},
		{"service selector near miss", "service.yaml", FindingServiceNoPods, nil, wantFix{rule: "align-service-selector", risk: RiskMedium, confidence: 0.8,
			title:  "set selector app of service/web to web (shop)",
			fields: []string{`spec.selector.app="web" expect="wbe"`}}},
		{"service selector with two near workloads", "service.yaml", FindingServiceNoPods, func(s *Snapshot) {
			d := s.Deployments[1].DeepCopy()
			d.Name = "web2"
			s.Deployments = append(s.Deployments, *d)
		}, wantFix{rule: "align-service-selector", risk: RiskMedium, options: "near workloads: Deployment/web, Deployment/web2"}},
		{"target port", "service.yaml", FindingServiceTargetPort, nil, wantFix{rule: "service-target-port", risk: RiskLow, confidence: 0.85,
			title:  "set targetPort of service/api to 8080 (shop)",
			fields: []string{`spec.ports[port=80].targetPort=8080 expect=8081`}}},
		{"hpa without requests", "hpa.yaml", FindingHPAMissingRequests, nil, wantFix{rule: "add-cpu-requests", risk: RiskMedium, confidence: 0.8,
			title:  "add CPU requests to deployment/web (web: 500m (its CPU limit)) (shop)",
			fields: []string{`spec.template.spec.containers[name=web].resources.requests.cpu="500m" absent`}}},
		{"hpa without requests, LimitRange default", "hpa.yaml", FindingHPAMissingRequests, func(s *Snapshot) {
			s.LimitRanges = []corev1.LimitRange{{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}}}}}}
		}, wantFix{rule: "add-cpu-requests", risk: RiskMedium, confidence: 0.8,
			fields: []string{`spec.template.spec.containers[name=web].resources.requests.cpu="250m" absent`}}},
		{"evicted pods are deleted directly", "evicted.yaml", FindingEvicted, nil, wantFix{rule: "delete-evicted-pods", risk: RiskLow, confidence: 0.95, direct: true,
			title: "delete 2 evicted pod(s) of deployment/web (shop)", deletes: []string{"web-7d9c5b8f6-evct1", "web-7d9c5b8f6-evct2"}}},
		{"crash loop gets advice only", "crashloop.yaml", FindingCrashLoop, nil, wantFix{rule: "advice", risk: RiskLow, options: "kubectl logs --previous"}},
		{"crash loop right after an image change", "crashloop-deploy.yaml", FindingCrashLoop, func(s *Snapshot) {
			s.ReplicaSets = append(s.ReplicaSets, previousRS(s, "registry.example.com/shop/worker:0.9.0", nil))
		}, wantFix{rule: "roll-back-image", risk: RiskLow, confidence: 0.8,
			title:  "roll back image of deployment/worker container worker to registry.example.com/shop/worker:0.9.0 (shop)",
			fields: []string{`spec.template.spec.containers[name=worker].image="registry.example.com/shop/worker:0.9.0" expect="registry.example.com/shop/worker:0.9.1"`}}},
		{"crash loop after an image and env change", "crashloop-deploy.yaml", FindingCrashLoop, func(s *Snapshot) {
			s.ReplicaSets = append(s.ReplicaSets, previousRS(s, "registry.example.com/shop/worker:0.9.0", func(c *corev1.Container) { c.Env = nil }))
		}, wantFix{rule: "advice", risk: RiskLow, options: "dot op rollback deployment/worker"}},
		{"pvc with a missing class gets the only default class", "pvc-default.yaml", FindingPVCPending, nil, wantFix{rule: "default-storage-class", risk: RiskHigh, confidence: 0.8,
			title:    "set storageClassName of persistentvolumeclaim/data to standard, the default class (recreates the claim) (shop)",
			fields:   []string{`spec.storageClassName="standard" expect="fast-ssd"`},
			recreate: true}},
		{"pvc with two default classes gets advice", "pvc-default.yaml", FindingPVCPending, func(s *Snapshot) {
			s.StorageClasses[1].Annotations = map[string]string{defaultStorageClassAnnotation: "true"}
		}, wantFix{rule: "advice", risk: RiskLow, options: "several StorageClasses are marked default (slow, standard)"}},
		{"pvc without a default class gets advice", "pvc-default.yaml", FindingPVCPending, func(s *Snapshot) {
			s.StorageClasses[0].Annotations = nil
		}, wantFix{rule: "advice", risk: RiskLow, options: "create the StorageClass"}},
		{"pvc pre-bound to a volume gets advice", "pvc-default.yaml", FindingPVCPending, func(s *Snapshot) {
			s.PVCs[0].Spec.VolumeName = "pv-data"
		}, wantFix{rule: "advice", risk: RiskLow, options: "create the StorageClass"}},
		{"pvc of a StatefulSet's claim template gets advice", "pvc.yaml", FindingPVCPending, func(s *Snapshot) {
			s.StatefulSets = []appsv1.StatefulSet{{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"},
				Spec: appsv1.StatefulSetSpec{VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}}}}}
		}, wantFix{rule: "advice", risk: RiskLow, options: "create the StorageClass"}},
		{"pvc a controller owns gets advice", "pvc-default.yaml", FindingPVCPending, func(s *Snapshot) {
			s.PVCs[0].OwnerReferences = []metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "Database", Name: "db", UID: "1", Controller: new(true)}}
		}, wantFix{rule: "advice", risk: RiskLow, options: "create the StorageClass"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := loadSnapshot(t, tc.fixture)
			if tc.mutate != nil {
				tc.mutate(s)
			}
			d := &Diagnosis{Findings: Analyze(s), snapshot: s}
			var fix *Fix
			fixes := Propose(d)
			for _, f := range d.Findings {
				if f.ID != tc.finding {
					continue
				}
				for i := range fixes {
					if fixes[i].Finding == f.Key() {
						fix = &fixes[i]
					}
				}
				break
			}
			if fix == nil {
				t.Fatalf("no fix for %s among %+v", tc.finding, fixes)
			}
			w := tc.want
			if fix.Rule != w.rule || fix.Risk != w.risk || fix.Confidence != w.confidence || fix.Direct != w.direct {
				t.Errorf("fix %s risk %s confidence %.2f direct %v; want %s %s %.2f %v", fix.Rule, fix.Risk, fix.Confidence, fix.Direct, w.rule, w.risk, w.confidence, w.direct)
			}
			if w.title != "" && fix.Title != w.title {
				t.Errorf("title %q\nwant  %q", fix.Title, w.title)
			}
			if fix.Explanation == "" {
				t.Error("no explanation")
			}
			if len(w.fields) == 0 && len(w.deletes) == 0 {
				if fix.ChangeSet != nil {
					t.Errorf("want no change, got %+v", fix.ChangeSet)
				}
				if !strings.Contains(strings.Join(fix.Options, "\n"), w.options) {
					t.Errorf("options %q do not mention %q", fix.Options, w.options)
				}
				return
			}
			if fix.ChangeSet == nil {
				t.Fatalf("no change set: %s (%v)", fix.Explanation, fix.Options)
			}
			if err := fix.ChangeSet.Validate(); err != nil || fix.ChangeSet.Operation != Operation {
				t.Errorf("change set: %v, operation %q", err, fix.ChangeSet.Operation)
			}
			var got []string
			for _, c := range fix.ChangeSet.Changes {
				if c.Action == gitops.ActionDelete {
					got = append(got, c.Object.Kind+"/"+c.Object.Name)
					continue
				}
				if c.Object.Namespace != "shop" || c.Reason == "" {
					t.Errorf("change %+v: want namespace shop and a reason", c)
				}
				if c.Recreate != w.recreate {
					t.Errorf("change of %s: recreate %v, want %v", c.Object, c.Recreate, w.recreate)
				}
				for _, f := range c.Fields {
					got = append(got, fieldString(f))
				}
			}
			wantList := w.fields
			for _, p := range w.deletes {
				wantList = append(wantList, "Pod/"+p)
			}
			if strings.Join(got, "\n") != strings.Join(wantList, "\n") {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantList, "\n"))
			}
		})
	}
}

// previousRS returns an earlier, still serving ReplicaSet of deployment
// worker running image, its container changed by mutate.
func previousRS(s *Snapshot, image string, mutate func(*corev1.Container)) appsv1.ReplicaSet {
	rs := s.replicaSet("worker-6d4cf7b9c5").DeepCopy()
	rs.Name = "worker-5c8b7d6f4"
	rs.Annotations = map[string]string{revisionAnnotation: "1"}
	rs.Spec.Template = *s.deployment("worker").Spec.Template.DeepCopy()
	rs.Spec.Template.Labels["pod-template-hash"] = "5c8b7d6f4"
	rs.Spec.Template.Spec.Containers[0].Image = image
	if mutate != nil {
		mutate(&rs.Spec.Template.Spec.Containers[0])
	}
	rs.Status.AvailableReplicas = 1
	return *rs
}

// TestPVCStorageClassRuleBoundClaim: a bound claim is never recreated, even
// when it names a class that no longer exists (deleting it would release
// the volume and its data).
func TestPVCStorageClassRuleBoundClaim(t *testing.T) {
	s := loadSnapshot(t, "pvc-default.yaml")
	var pending *Finding
	for _, f := range Analyze(s) {
		if f.ID == FindingPVCPending {
			pending = &f
		}
	}
	if pending == nil {
		t.Fatal("no PVCPending finding in the fixture")
	}
	if _, ok := (pvcStorageClassRule{}).Propose(*pending, s); !ok {
		t.Fatal("the rule does not apply to the unbound claim; the cases below would prove nothing")
	}
	for name, bind := range map[string]func(*corev1.PersistentVolumeClaim){
		"bound": func(c *corev1.PersistentVolumeClaim) {
			c.Status.Phase, c.Spec.VolumeName = corev1.ClaimBound, "pv-data"
		},
		"bound, no volume":   func(c *corev1.PersistentVolumeClaim) { c.Status.Phase = corev1.ClaimBound },
		"pending, pre-bound": func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv-data" },
		"lost its volume":    func(c *corev1.PersistentVolumeClaim) { c.Status.Phase, c.Spec.VolumeName = corev1.ClaimLost, "pv-data" },
	} {
		t.Run(name, func(t *testing.T) {
			s := loadSnapshot(t, "pvc-default.yaml")
			bind(&s.PVCs[0])
			if fix, ok := (pvcStorageClassRule{}).Propose(*pending, s); ok {
				t.Errorf("proposed %+v for a %s claim", fix, name)
			}
			for _, fix := range Propose(&Diagnosis{Findings: Analyze(s), snapshot: s}) {
				if fix.ChangeSet != nil && fix.ChangeSet.Changes[0].Object.Kind == "PersistentVolumeClaim" {
					t.Errorf("a fix changes the %s claim: %+v", name, fix)
				}
			}
		})
	}
}
