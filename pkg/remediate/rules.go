package remediate

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
)

// Operation is the Dot-Operation trailer of remediation commits.
const Operation = "remediate"

// Rule maps one kind of finding to a fix.
type Rule interface {
	// Name is the rule's name, e.g. "raise-memory-limit".
	Name() string
	// Propose returns the fix for f, or false when the rule does not apply
	// to it. A rule that applies but is not sure returns a Fix without a
	// ChangeSet, explaining why and listing options.
	Propose(f Finding, s *Snapshot) (*Fix, bool)
}

// DefaultRules are the built-in fix rules.
func DefaultRules() []Rule {
	return []Rule{memoryLimitRule{}, imageRollbackRule{}, crashRollbackRule{}, probePortRule{}, configRefRule{}, serviceSelectorRule{},
		targetPortRule{}, hpaRequestsRule{}, evictedRule{}, pvcStorageClassRule{}}
}

// Propose runs the rules over a diagnosis: the first rule that applies to
// a finding gives its fix; a Critical or Warning finding no rule covers
// gets advice without a change.
func Propose(d *Diagnosis, rules ...Rule) []Fix {
	if len(rules) == 0 {
		rules = DefaultRules()
	}
	var out []Fix
	for _, f := range d.Findings {
		var fix *Fix
		for _, r := range rules {
			if x, ok := r.Propose(f, d.snapshot); ok {
				fix = x
				fix.Rule = r.Name()
				break
			}
		}
		if fix == nil && !(symptoms[f.ID] && hasOther(d.Findings, f)) {
			fix = advice(f)
		}
		if fix == nil {
			continue
		}
		fix.Finding = f.Key()
		if fix.ChangeSet != nil {
			if fix.ChangeSet.Operation == "" {
				fix.ChangeSet.Operation = Operation
			}
			fix.Title = fix.ChangeSet.Title
		}
		out = append(out, *fix)
	}
	return out
}

// symptoms are findings that other findings on the same object explain;
// they get no advice of their own when such a finding exists.
var symptoms = map[string]bool{FindingUnavailable: true, FindingServiceNoReady: true, FindingNotReady: true, FindingProgressDeadline: true}

func hasOther(fs []Finding, f Finding) bool {
	for _, o := range fs {
		if o.Key() != f.Key() && o.Object.SameObject(f.Object) && !symptoms[o.ID] {
			return true
		}
	}
	return false
}

// advice explains what to look at when no rule changes anything.
func advice(f Finding) *Fix {
	if f.Severity == SeverityInfo {
		return nil
	}
	options := map[string][]string{
		FindingCrashLoop: {
			"read the previous container's logs: kubectl logs --previous -n " + f.Object.Namespace + " <pod> -c " + f.Container,
			"if it started after a change, roll it back: dot op rollback " + objName(f.Object) + " -n " + f.Object.Namespace,
			"exit code 137 without OOMKilled: a failing liveness probe or an external kill; 127/126: the command does not exist or is not executable",
		},
		FindingUnschedulable: {
			"lower the pod's requests (dot op resources), or add nodes with room",
			"check node selectors, affinity and tolerations against the nodes' labels and taints",
		},
		FindingProbeFailed: {
			"check that the probe's port and path are what the application serves",
			"raise initialDelaySeconds/timeoutSeconds if the application is slow to answer",
		},
		FindingNotReady: {
			"check the readiness probe against what the application serves; read the logs",
		},
		FindingContainerConfig: {
			"create the missing ConfigMap or Secret (in Git, next to the workload), or fix the reference",
		},
		FindingProgressDeadline: {
			"fix the cause in the pod findings; or roll back: dot op rollback " + objName(f.Object) + " -n " + f.Object.Namespace,
		},
		FindingReplicaFailure: {
			"read the message: raise or respect the ResourceQuota, fix the LimitRange, or satisfy the admission policy named",
		},
		FindingPVCPending: pvcOptions(f),
		FindingHPAMissingTarget: {
			"point scaleTargetRef at the workload's current name, or delete the autoscaler",
		},
		FindingGitOpsSyncFailed: {
			"fix the manifests the controller fails on (see its message), then let it sync",
			"dot gitops trace " + objName(f.Object) + " -n " + f.Object.Namespace + " shows the source and the last applied revision",
		},
		FindingServiceNoReady: {
			"fix the pods' readiness (see the pod findings)",
		},
		FindingUnavailable: {
			"read the events of the pods: kubectl get events -n " + f.Object.Namespace + " --field-selector involvedObject.kind=Pod",
		},
		FindingIngressClass: {
			"set spec.ingressClassName to a class the cluster has (" + orDefault(strings.ReplaceAll(f.fact("classes"), ",", ", "), "none installed") + "), or install the controller the class names",
			"or mark one IngressClass as the default (annotation " + defaultIngressClassAnnotation + ": \"true\")",
		},
		FindingIngressBackend: {
			"point the backend at the Service and port that serve the path" + candidatesText(f.fact("candidates")),
			"or create the Service (in Git, next to the Ingress)",
		},
		FindingIngressTLS: {
			"create the TLS Secret " + f.fact("secret") + " (kubernetes.io/tls, with tls.crt and tls.key), or let cert-manager issue it: check its Certificate and CertificateRequest",
			"or fix spec.tls[].secretName to the Secret that holds the certificate",
		},
		FindingPDBBlocking: {
			"allow one disruption: maxUnavailable: 1 instead of minAvailable equal to the replicas",
			"or raise the workload's replicas above minAvailable",
		},
		FindingPDBNoPods: {
			"make the budget's selector match the workload's pod labels, or delete the budget",
		},
		FindingJobFailed: {
			"read the failed pod's logs: kubectl logs -n " + f.Object.Namespace + " " + orDefault(firstOf(f.Pods), "<pod>"),
			"fix the cause, then let the CronJob run again or re-create the Job (a failed Job does not retry)",
			"if the failures are transient, raise spec.backoffLimit or spec.activeDeadlineSeconds",
		},
		FindingCronJobSchedule: {
			"write the schedule as five fields (minute hour day-of-month month day-of-week) or a macro like @daily; put the time zone in spec.timeZone",
		},
		FindingNodeNotReady: {
			"check the node's kubelet and network (kubectl describe node " + f.fact("node") + ")",
			"if it will not come back: kubectl drain " + f.fact("node") + " --ignore-daemonsets, so the pods move now instead of after their toleration",
			"run more than one replica, spread over nodes (topologySpreadConstraints), so one node does not take the workload down",
		},
		FindingNodePressure: {
			"set requests that match real usage, so the workload is not the first evicted; free or add capacity on " + f.fact("node"),
			"kubectl describe node " + f.fact("node") + " shows what uses the resource",
		},
	}[f.ID]
	if len(options) == 0 {
		options = []string{"no rule covers this finding; inspect the evidence"}
	}
	return &Fix{Rule: "advice", Title: "no automatic fix: " + f.Summary,
		Explanation: "dot has no rule that is sure about this finding, so it changes nothing.", Risk: RiskLow, Options: options}
}

func candidatesText(c string) string {
	if c == "" {
		return ""
	}
	return " (near names: " + strings.ReplaceAll(c, ",", ", ") + ")"
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func objName(r kube.ObjectRef) string { return strings.ToLower(r.Kind) + "/" + r.Name }

func nsSuffix(r kube.ObjectRef) string {
	if r.Namespace == "" {
		return ""
	}
	return " (" + r.Namespace + ")"
}

func setChange(title string, obj kube.ObjectRef, reason string, fields ...gitops.FieldChange) *gitops.ChangeSet {
	return &gitops.ChangeSet{Title: title + nsSuffix(obj), Operation: Operation, Changes: []gitops.Change{{
		Object: obj, Action: gitops.ActionSet, Reason: reason, Fields: fields,
	}}}
}

// templateContainer returns the container of a workload's pod template.
func (s *Snapshot) templateContainer(wl kube.ObjectRef, name string) (*corev1.PodSpec, *corev1.Container) {
	tpl := s.podTemplate(wl)
	if tpl == nil {
		return nil, nil
	}
	return &tpl.Spec, containerSpec(&tpl.Spec, name)
}

// memoryLimitRule: OOMKilled → raise the memory limit to max(limit × 1.2,
// limit + 100Mi), within the namespace's LimitRange maximum. The request
// stays below the old limit, so it stays below the new one.
type memoryLimitRule struct{}

func (memoryLimitRule) Name() string { return "raise-memory-limit" }

var mi = resource.MustParse("1Mi")

// RaisedMemoryLimit returns max(limit × 1.2, limit + 100Mi), rounded up to
// a whole MiB.
func RaisedMemoryLimit(limit resource.Quantity) resource.Quantity {
	v := limit.Value()
	up := max(int64(math.Ceil(float64(v)*1.2)), v+100*mi.Value())
	mib := (up + mi.Value() - 1) / mi.Value()
	return resource.MustParse(strconv.FormatInt(mib, 10) + "Mi")
}

func (memoryLimitRule) Propose(f Finding, s *Snapshot) (*Fix, bool) {
	if f.ID != FindingOOMKilled {
		return nil, false
	}
	fix := &Fix{Title: fmt.Sprintf("raise the memory limit of %s container %s", objName(f.Object), f.Container), Risk: RiskLow}
	spec, c := s.templateContainer(f.Object, f.Container)
	if c == nil {
		fix.Explanation = fmt.Sprintf("%s has no pod template dot can change (a bare pod, or an unknown owner).", objName(f.Object))
		fix.Options = []string{"raise the memory limit where the pod is defined"}
		return fix, true
	}
	field := containerPath(f.Object, spec, c.Name) + ".resources.limits.memory"
	cur, inTemplate := c.Resources.Limits[corev1.ResourceMemory]
	confidence := 0.9
	if !inTemplate {
		// The limit came from a LimitRange default, or there is none.
		l, err := resource.ParseQuantity(f.fact("memoryLimit"))
		if f.fact("memoryLimit") == "" || err != nil {
			fix.Explanation = "The container has no memory limit, so it was killed because the node ran out of memory, not because of its own limit."
			fix.Options = []string{"set memory requests to the real usage so the scheduler places it on a node with room", "look for a memory leak"}
			return fix, true
		}
		cur, confidence = l, 0.8
	} else if got := f.fact("memoryLimit"); got != "" && got != cur.String() {
		// The template changed after the killed pod was created.
		confidence = 0.6
	}
	next := RaisedMemoryLimit(cur)
	if lrMax, ok := limitRangeMax(s, corev1.ResourceMemory); ok && next.Cmp(lrMax) > 0 {
		if lrMax.Cmp(cur) <= 0 {
			fix.Explanation = fmt.Sprintf("The limit %s is already at the namespace's LimitRange maximum %s.", cur.String(), lrMax.String())
			fix.Options = []string{"raise the LimitRange maximum", "reduce the application's memory use"}
			return fix, true
		}
		next = lrMax
		confidence -= 0.1
	}
	fc := gitops.FieldChange{Path: field, Value: next.String()}
	if inTemplate {
		fc.Expect = cur.String()
	} else {
		fc.ExpectAbsent = true
	}
	fix.Confidence = confidence
	fix.Title = fmt.Sprintf("raise memory limit of %s container %s from %s to %s", objName(f.Object), c.Name, cur.String(), next.String())
	fix.Explanation = fmt.Sprintf("The container was OOMKilled at its %s limit. max(limit × 1.2, limit + 100Mi) = %s gives it room; the request (%s) stays below the limit.",
		cur.String(), next.String(), orDefault(quantityString(c.Resources.Requests, corev1.ResourceMemory), "none"))
	fix.ChangeSet = setChange(fix.Title, f.Object, fmt.Sprintf("container %s was OOMKilled at %s", c.Name, cur.String()), fc)
	return fix, true
}

func quantityString(l corev1.ResourceList, r corev1.ResourceName) string {
	if q, ok := l[r]; ok {
		return q.String()
	}
	return ""
}

// limitRangeMax returns the smallest Container max of the namespace's
// LimitRanges for a resource.
func limitRangeMax(s *Snapshot, r corev1.ResourceName) (resource.Quantity, bool) {
	var out resource.Quantity
	found := false
	for _, lr := range s.LimitRanges {
		for _, it := range lr.Spec.Limits {
			if it.Type != corev1.LimitTypeContainer {
				continue
			}
			if m, ok := it.Max[r]; ok && (!found || m.Cmp(out) < 0) {
				out, found = m, true
			}
		}
	}
	return out, found
}

// imageRollbackRule: an image that cannot be pulled after a change → the
// image of the previous ReplicaSet, the one that ran before the change.
type imageRollbackRule struct{}

func (imageRollbackRule) Name() string { return "previous-image" }

func (imageRollbackRule) Propose(f Finding, s *Snapshot) (*Fix, bool) {
	if f.ID != FindingImagePull {
		return nil, false
	}
	fix := &Fix{Title: fmt.Sprintf("restore a pullable image of %s container %s", objName(f.Object), f.Container), Risk: RiskLow,
		Options: []string{
			fmt.Sprintf("check that %s exists in the registry (name and tag)", f.fact("image")),
			"if the registry needs credentials, add imagePullSecrets to the pod template",
		}}
	spec, c := s.templateContainer(f.Object, f.Container)
	if c == nil || f.Object.Kind != "Deployment" {
		fix.Explanation = "dot finds the previous image in a Deployment's ReplicaSet history only."
		return fix, true
	}
	img, prevRS, available, found := previousImage(s, f.Object.Name, c.Name, c.Image)
	prev := &img
	if !found {
		fix.Explanation = fmt.Sprintf("No earlier ReplicaSet of %s ran another image of container %s, so there is no known-good image to return to.", objName(f.Object), c.Name)
		return fix, true
	}
	fix.Options = nil
	fix.Confidence = 0.7
	why := fmt.Sprintf("ReplicaSet %s ran %s before the change", prevRS, *prev)
	if available {
		fix.Confidence = 0.9
		why = fmt.Sprintf("ReplicaSet %s still runs %s with available pods", prevRS, *prev)
	}
	fix.Title = fmt.Sprintf("set image of %s container %s back to %s", objName(f.Object), c.Name, *prev)
	fix.Explanation = fmt.Sprintf("%s cannot be pulled (%s); %s. Returning to it restores the last version that ran; fix the new image and roll forward later.", c.Image, f.fact("reason"), why)
	fix.ChangeSet = setChange(fix.Title, f.Object, fmt.Sprintf("image %s cannot be pulled; %s", c.Image, why),
		gitops.FieldChange{Path: containerPath(f.Object, spec, c.Name) + ".image", Value: *prev, Expect: c.Image})
	return fix, true
}

// previousImage returns the image a Deployment's container ran in the
// newest earlier ReplicaSet with another image, that ReplicaSet's name,
// and whether it still has available pods.
func previousImage(s *Snapshot, deploy, container, current string) (image, rs string, available, ok bool) {
	for _, r := range s.replicaSetsOf(deploy) {
		rc := containerSpec(&r.Spec.Template.Spec, container)
		if rc == nil || rc.Image == current {
			continue
		}
		return rc.Image, r.Name, r.Status.AvailableReplicas > 0, true
	}
	return "", "", false, false
}

// crashRollbackRule: a crash loop right after an image change, while the
// previous ReplicaSet still serves → that ReplicaSet's image.
type crashRollbackRule struct{}

func (crashRollbackRule) Name() string { return "roll-back-image" }

func (crashRollbackRule) Propose(f Finding, s *Snapshot) (*Fix, bool) {
	if f.ID != FindingCrashLoop || f.Object.Kind != "Deployment" {
		return nil, false
	}
	spec, c := s.templateContainer(f.Object, f.Container)
	if c == nil {
		return nil, false
	}
	prev, rs, available, ok := previousImage(s, f.Object.Name, c.Name, c.Image)
	if !ok || !onlyImageChanged(s, f.Object.Name, rs) {
		return nil, false // advice: read the logs, roll back by hand
	}
	fix := &Fix{Risk: RiskLow, Confidence: 0.6}
	why := fmt.Sprintf("ReplicaSet %s ran %s before", rs, prev)
	if available {
		fix.Confidence = 0.8
		why = fmt.Sprintf("ReplicaSet %s still runs %s with available pods", rs, prev)
	}
	fix.Title = fmt.Sprintf("roll back image of %s container %s to %s", objName(f.Object), c.Name, prev)
	fix.Explanation = fmt.Sprintf("The container crash-loops (%s) since its image changed to %s; %s, and nothing else in the pod template changed. Rolling back restores the version that ran; fix the new version and roll forward later.",
		orDefault(f.fact("lastReason"), "exit code "+f.fact("exitCode")), c.Image, why)
	fix.ChangeSet = setChange(fix.Title, f.Object, fmt.Sprintf("container %s crash-loops since the change to %s; %s", c.Name, c.Image, why),
		gitops.FieldChange{Path: containerPath(f.Object, spec, c.Name) + ".image", Value: prev, Expect: c.Image})
	return fix, true
}

// onlyImageChanged reports whether the Deployment's template differs from
// ReplicaSet rs's only in container images (and the pod-template-hash).
func onlyImageChanged(s *Snapshot, deploy, rs string) bool {
	d, r := s.deployment(deploy), s.replicaSet(rs)
	if d == nil || r == nil {
		return false
	}
	a, b := d.Spec.Template.DeepCopy(), r.Spec.Template.DeepCopy()
	delete(b.Labels, "pod-template-hash")
	if len(b.Labels) == 0 && len(a.Labels) == 0 {
		a.Labels, b.Labels = nil, nil
	}
	for _, t := range []*corev1.PodTemplateSpec{a, b} {
		for i := range t.Spec.Containers {
			t.Spec.Containers[i].Image = ""
		}
	}
	return equality.Semantic.DeepEqual(a, b)
}

// probePortRule: a probe on a port the container does not expose → the
// container's only port.
type probePortRule struct{}

func (probePortRule) Name() string { return "probe-port" }

func (probePortRule) Propose(f Finding, s *Snapshot) (*Fix, bool) {
	if f.ID != FindingProbePort {
		return nil, false
	}
	fix := &Fix{Title: fmt.Sprintf("point the %s of %s container %s at an exposed port", f.fact("probe"), objName(f.Object), f.Container), Risk: RiskLow}
	target := f.fact("containerPort")
	if target == "" {
		fix.Explanation = "The container exposes several ports (or none), so dot cannot tell which one the probe should check."
		fix.Options = []string{"set the probe's port to the port the application serves its health endpoint on", "declare the port in the container's ports"}
		return fix, true
	}
	fix.Confidence = 0.6
	if f.fact("definite") == "true" || f.fact("observed") == "true" {
		fix.Confidence = 0.9
	}
	fix.Title = fmt.Sprintf("set %s port of %s container %s to %s", f.fact("probe"), objName(f.Object), f.Container, target)
	fix.Explanation = fmt.Sprintf("The probe checks port %s, but the container exposes only %s.", f.fact("port"), target)
	fix.ChangeSet = setChange(fix.Title, f.Object, fmt.Sprintf("%s checks port %s, which container %s does not expose", f.fact("probe"), f.fact("port"), f.Container),
		gitops.FieldChange{Path: f.fact("path"), Value: intOrString(target), Expect: intOrString(f.fact("port"))})
	return fix, true
}

func intOrString(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	return s
}

// configRefRule: a reference to a missing ConfigMap, Secret or key with
// exactly one near name (≤ 2 edits) → that name.
type configRefRule struct{}

func (configRefRule) Name() string { return "fix-config-reference" }

func (configRefRule) Propose(f Finding, s *Snapshot) (*Fix, bool) {
	if f.ID != FindingMissingConfigRef {
		return nil, false
	}
	what := f.fact("refKind") + " " + f.fact("field")
	fix := &Fix{Title: fmt.Sprintf("fix the %s reference of %s", what, objName(f.Object)), Risk: RiskLow}
	if f.fact("refKind") == "Secret" {
		fix.Risk = RiskMedium
	}
	var cands []string
	if c := f.fact("candidates"); c != "" {
		cands = strings.Split(c, ",")
	}
	switch {
	case f.fact("path") == "":
		fix.Explanation = "The reference is a volume item key; dot does not rewrite volume items."
		fix.Options = []string{"add the key to the " + f.fact("refKind"), "fix the item's key"}
		return fix, true
	case len(cands) != 1:
		fix.Explanation = fmt.Sprintf("%q matches no existing name closely enough (%d candidates within %d edits), so dot does not guess.", f.fact("value"), len(cands), maxNameDistance)
		fix.Options = []string{fmt.Sprintf("create %s %q (in Git, next to the workload)", f.fact("refKind"), f.fact("name")), "fix the reference by hand"}
		if len(cands) > 1 {
			fix.Options = append(fix.Options, "candidates: "+strings.Join(cands, ", "))
		}
		return fix, true
	}
	d := editDistance(f.fact("value"), cands[0])
	fix.Confidence = 0.85
	if d > 1 {
		fix.Confidence = 0.75
	}
	fix.Title = fmt.Sprintf("set %s %s of %s to %s", strings.ToLower(f.fact("refKind")), f.fact("field"), objName(f.Object), cands[0])
	fix.Explanation = fmt.Sprintf("%s %q does not exist; %q does, %d edit(s) away, and it is the only near name.", what, f.fact("value"), cands[0], d)
	fields := []gitops.FieldChange{{Path: f.fact("path"), Value: cands[0], Expect: f.fact("value")}}
	fix.ChangeSet = setChange(fix.Title, f.Object, fmt.Sprintf("%s %q does not exist", what, f.fact("value")), fields...)
	return fix, true
}

// serviceSelectorRule: a selector matching no pod but exactly one workload
// nearly → align the selector with that workload's labels.
type serviceSelectorRule struct{}

func (serviceSelectorRule) Name() string { return "align-service-selector" }

func (serviceSelectorRule) Propose(f Finding, s *Snapshot) (*Fix, bool) {
	if f.ID != FindingServiceNoPods {
		return nil, false
	}
	fix := &Fix{Title: "align the selector of " + objName(f.Object), Risk: RiskMedium}
	near := f.fact("nearWorkloads")
	if near == "" || strings.Contains(near, ",") {
		fix.Explanation = "No single workload's pod labels nearly match the selector, so dot cannot tell which pods the service is meant for."
		fix.Options = []string{"fix the selector or the pod template labels so they agree"}
		if near != "" {
			fix.Options = append(fix.Options, "near workloads: "+strings.ReplaceAll(near, ",", ", "))
		}
		return fix, true
	}
	key := f.fact("key")
	fix.Confidence = 0.8
	fix.Title = fmt.Sprintf("set selector %s of %s to %s", key, objName(f.Object), f.fact("have"))
	fix.Explanation = fmt.Sprintf("The selector wants %s=%s, which no pod has; %s pods have %s=%s and match every other selector label.",
		key, f.fact("want"), near, key, f.fact("have"))
	fix.ChangeSet = setChange(fix.Title, f.Object, fmt.Sprintf("selector %s=%s matches no pod; %s has %s", key, f.fact("want"), near, f.fact("have")),
		gitops.FieldChange{Path: "spec.selector" + mapKey(key), Value: f.fact("have"), Expect: f.fact("want")})
	return fix, true
}

// mapKey renders a map key as a field path step, quoting keys with dots,
// slashes or brackets.
func mapKey(k string) string {
	if strings.ContainsAny(k, `./[]"`) {
		return "[" + strconv.Quote(k) + "]"
	}
	return "." + k
}

// targetPortRule: a targetPort no selected container exposes → the
// containers' only port.
type targetPortRule struct{}

func (targetPortRule) Name() string { return "service-target-port" }

func (targetPortRule) Propose(f Finding, s *Snapshot) (*Fix, bool) {
	if f.ID != FindingServiceTargetPort {
		return nil, false
	}
	fix := &Fix{Title: "fix the targetPort of " + objName(f.Object), Risk: RiskLow}
	cp := f.fact("containerPort")
	if cp == "" {
		fix.Explanation = "The selected containers expose several ports (or none), so dot cannot tell which one the service should target."
		fix.Options = []string{"set targetPort to the port the application serves", "declare the port in the containers"}
		return fix, true
	}
	fix.Confidence = 0.85
	fix.Title = fmt.Sprintf("set targetPort of %s to %s", objName(f.Object), cp)
	fix.Explanation = fmt.Sprintf("The service targets %s, but the selected containers expose only port %s.", f.fact("targetPort"), cp)
	fix.ChangeSet = setChange(fix.Title, f.Object, fmt.Sprintf("targetPort %s is not exposed by the selected pods", f.fact("targetPort")),
		gitops.FieldChange{Path: f.fact("path"), Value: intOrString(cp), Expect: intOrString(f.fact("targetPort"))})
	return fix, true
}

// hpaRequestsRule: an HPA scaling on CPU utilization of containers without
// CPU requests → add requests (the LimitRange default request, else the
// container's CPU limit, else 100m).
type hpaRequestsRule struct{}

func (hpaRequestsRule) Name() string { return "add-cpu-requests" }

// DefaultCPURequest is the request dot adds when nothing suggests another.
const DefaultCPURequest = "100m"

func (hpaRequestsRule) Propose(f Finding, s *Snapshot) (*Fix, bool) {
	if f.ID != FindingHPAMissingRequests {
		return nil, false
	}
	fix := &Fix{Title: "add CPU requests to " + objName(f.Object), Risk: RiskMedium}
	if f.fact("resource") != string(corev1.ResourceCPU) {
		fix.Explanation = fmt.Sprintf("The autoscaler scales on %s; dot only adds CPU requests, since a wrong memory request changes where pods fit.", f.fact("resource"))
		fix.Options = []string{fmt.Sprintf("set %s requests on the containers (dot op resources)", f.fact("resource"))}
		return fix, true
	}
	var fields []gitops.FieldChange
	var parts []string
	for _, name := range strings.Split(f.fact("containers"), ",") {
		spec, c := s.templateContainer(f.Object, name)
		if c == nil {
			continue
		}
		v, from := DefaultCPURequest, "default"
		if d, ok := limitRangeDefaultRequest(s, corev1.ResourceCPU); ok {
			v, from = d.String(), "LimitRange default request"
		} else if l, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
			v, from = l.String(), "its CPU limit"
		}
		fields = append(fields, gitops.FieldChange{Path: containerPath(f.Object, spec, name) + ".resources.requests.cpu", Value: v, ExpectAbsent: true})
		parts = append(parts, fmt.Sprintf("%s: %s (%s)", name, v, from))
	}
	if len(fields) == 0 {
		return nil, false
	}
	fix.Confidence = 0.8
	fix.Title = fmt.Sprintf("add CPU requests to %s (%s)", objName(f.Object), strings.Join(parts, ", "))
	fix.Explanation = fmt.Sprintf("HorizontalPodAutoscaler %s computes CPU utilization against requests; with requests it can scale. Adjust the values to the measured usage later.", f.fact("hpa"))
	fix.ChangeSet = setChange(fix.Title, f.Object, "HorizontalPodAutoscaler "+f.fact("hpa")+" needs CPU requests", fields...)
	return fix, true
}

func limitRangeDefaultRequest(s *Snapshot, r corev1.ResourceName) (resource.Quantity, bool) {
	for _, lr := range s.LimitRanges {
		for _, it := range lr.Spec.Limits {
			if q, ok := it.DefaultRequest[r]; ok && it.Type == corev1.LimitTypeContainer {
				return q, true
			}
		}
	}
	return resource.Quantity{}, false
}

// evictedRule: evicted pods → delete them, directly (pods are not in Git).
type evictedRule struct{}

func (evictedRule) Name() string { return "delete-evicted-pods" }

func (evictedRule) Propose(f Finding, s *Snapshot) (*Fix, bool) {
	if f.ID != FindingEvicted || len(f.Pods) == 0 {
		return nil, false
	}
	cs := &gitops.ChangeSet{Title: fmt.Sprintf("delete %d evicted pod(s) of %s%s", len(f.Pods), objName(f.Object), nsSuffix(f.Object)), Operation: Operation}
	for _, p := range f.Pods {
		cs.Changes = append(cs.Changes, gitops.Change{Object: refTo(gvPod, f.Object.Namespace, p), Action: gitops.ActionDelete, Reason: "evicted"})
	}
	return &Fix{Title: cs.Title, Risk: RiskLow, Confidence: 0.95, Direct: true, ChangeSet: cs,
		Explanation: "Evicted pods stay as Failed objects until deleted; their controller already replaced them. Deleting them changes nothing that runs."}, true
}

// pvcOptions are the advice for a Pending claim no rule fixes.
func pvcOptions(f Finding) []string {
	out := []string{"create the StorageClass, or set storageClassName to an existing class (the claim must be recreated: its spec is immutable)"}
	if d := strings.Split(f.fact("defaultClass"), ","); len(d) > 1 {
		out = append(out, "several StorageClasses are marked default ("+strings.Join(sortedStrings(d), ", ")+"): dot cannot tell which one the claim should use; keep one default")
	}
	return out
}

// defaultStorageClassAnnotation marks the class claims without one get.
const defaultStorageClassAnnotation = "storageclass.kubernetes.io/is-default-class"

// pvcStorageClassRule: an unbound claim naming a StorageClass that does not
// exist, in a cluster with exactly one default class → that class. A
// claim's spec cannot change after creation, so the claim is deleted and
// created again (Change.Recreate): high risk, even though an unbound claim
// holds no data. Claims a StatefulSet template or a controller creates are
// left to advice: the template would create them again unchanged.
type pvcStorageClassRule struct{}

func (pvcStorageClassRule) Name() string { return "default-storage-class" }

func (pvcStorageClassRule) Propose(f Finding, s *Snapshot) (*Fix, bool) {
	class := f.fact("storageClass")
	if f.ID != FindingPVCPending || class == "" {
		return nil, false
	}
	pvc := s.pvc(f.Object.Name)
	if pvc == nil || pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.VolumeName != "" ||
		pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != class {
		return nil, false // bound, or about to be: never delete it
	}
	if metav1.GetControllerOf(pvc) != nil || s.claimTemplateOf(pvc.Name) != "" {
		return nil, false
	}
	var defaults []string
	for _, sc := range s.StorageClasses {
		if sc.Annotations[defaultStorageClassAnnotation] == "true" {
			defaults = append(defaults, sc.Name)
		}
	}
	if len(defaults) != 1 {
		return nil, false // none, or the cluster has no single answer
	}
	def := defaults[0]
	waiting := "no pod can have started with it"
	if users := s.claimUsers(pvc.Name); len(users) > 0 {
		waiting = strings.Join(users, ", ") + ", which mount it, cannot start until it binds"
	}
	fix := &Fix{Risk: RiskHigh, Confidence: 0.8}
	fix.Title = fmt.Sprintf("set storageClassName of %s to %s, the default class (recreates the claim)", objName(f.Object), def)
	fix.Explanation = fmt.Sprintf("StorageClass %q does not exist, so the claim can never be provisioned; %q is the cluster's only default class, the one claims without a preference get. "+
		"A claim's storageClassName cannot change after creation, so the claim is deleted (only if it is still the one read: same UID and resourceVersion) and created again with the same name, size and access modes; "+
		"its owner creates it from the commit when Argo CD or Flux manages it. "+
		"This is safe because the claim is unbound: no volume, so no data, belongs to it yet, and %s. "+
		"Confidence is not higher because %q may have been chosen for a reason (speed, zone, reclaim policy) that %q does not meet; if so, create %q instead.",
		class, def, waiting, class, def, class)
	cs := setChange(fix.Title, f.Object, fmt.Sprintf("StorageClass %s does not exist; %s is the only default class; the claim is unbound, so it is recreated", class, def),
		gitops.FieldChange{Path: "spec.storageClassName", Value: def, Expect: class})
	cs.Changes[0].Recreate = true
	fix.ChangeSet = cs
	return fix, true
}

// pvc returns the claim of the snapshot's namespace.
func (s *Snapshot) pvc(name string) *corev1.PersistentVolumeClaim {
	return named(s.PVCs, name)
}

// claimTemplateOf returns the StatefulSet whose volumeClaimTemplates
// create the claim ("<template>-<statefulset>-<ordinal>"), or "".
func (s *Snapshot) claimTemplateOf(claim string) string {
	for _, st := range s.StatefulSets {
		for _, ct := range st.Spec.VolumeClaimTemplates {
			if strings.HasPrefix(claim, ct.Name+"-"+st.Name+"-") {
				return st.Name
			}
		}
	}
	return ""
}

// claimUsers names the workloads whose pod templates mount the claim.
func (s *Snapshot) claimUsers(claim string) []string {
	var out []string
	for _, w := range s.workloadRefs() {
		tpl := s.podTemplate(w)
		if tpl == nil {
			continue
		}
		for _, v := range tpl.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim {
				out = append(out, "the pods of "+objName(w))
				break
			}
		}
	}
	return out
}
