package remediate

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/dot-ai/dot/pkg/kube"
)

// workloadAnalyzer reads Deployment, StatefulSet, DaemonSet and ReplicaSet
// status: unavailable replicas, a rollout past its progress deadline, and
// replicas that cannot be created (quota, admission).
type workloadAnalyzer struct{}

func (workloadAnalyzer) Name() string { return "workloads" }

func (workloadAnalyzer) Analyze(s *Snapshot) []Finding {
	var out []Finding
	for i := range s.Deployments {
		d := &s.Deployments[i]
		ref := refTo(gvDeployment, d.Namespace, d.Name)
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		for _, c := range d.Status.Conditions {
			switch {
			case c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded":
				out = append(out, Finding{ID: FindingProgressDeadline, Object: ref, Severity: SeverityCritical,
					Summary:  "the rollout is stuck: " + c.Message,
					Detail:   "The new ReplicaSet did not become available within spec.progressDeadlineSeconds. The pod findings say why its pods do not become ready.",
					Evidence: []Evidence{ev("condition", ref, &c.LastUpdateTime, "Progressing=False (ProgressDeadlineExceeded): %s", c.Message)}})
			case c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue:
				out = append(out, replicaFailure(ref, c.Reason, c.Message, &c.LastUpdateTime))
			}
		}
		if want > 0 && d.Status.ObservedGeneration >= d.Generation && (d.Status.AvailableReplicas < want || d.Status.UnavailableReplicas > 0) {
			f := Finding{ID: FindingUnavailable, Object: ref, Severity: SeverityWarning,
				Summary: fmt.Sprintf("%d of %d replicas available (%d updated)", d.Status.AvailableReplicas, want, d.Status.UpdatedReplicas),
				Detail:  "Fewer pods are available than wanted; the pod findings name the cause.",
				Evidence: []Evidence{ev("status", ref, nil, "replicas %d, updated %d, ready %d, available %d, unavailable %d",
					d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas, d.Status.UnavailableReplicas)}}
			if d.Status.AvailableReplicas == 0 {
				f.Severity = SeverityCritical
			}
			s.blameNodes(&f)
			out = append(out, f)
		}
	}
	for i := range s.ReplicaSets {
		rs := &s.ReplicaSets[i]
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
				ref := refTo(gvReplicaSet, rs.Namespace, rs.Name)
				f := replicaFailure(ref, c.Reason, c.Message, &c.LastTransitionTime)
				for _, e := range s.eventsFor("ReplicaSet", rs.Name) {
					if e.Reason == "FailedCreate" {
						f.Evidence = append(f.Evidence, eventEvidence(ref, e))
					}
				}
				out = append(out, f)
			}
		}
	}
	for i := range s.StatefulSets {
		st := &s.StatefulSets[i]
		ref := refTo(gvStatefulSet, st.Namespace, st.Name)
		want := int32(1)
		if st.Spec.Replicas != nil {
			want = *st.Spec.Replicas
		}
		if want > 0 && st.Status.ObservedGeneration >= st.Generation && st.Status.ReadyReplicas < want {
			f := Finding{ID: FindingUnavailable, Object: ref, Severity: SeverityWarning,
				Summary:  fmt.Sprintf("%d of %d replicas ready", st.Status.ReadyReplicas, want),
				Detail:   "A StatefulSet starts its pods one by one: one pod that does not become ready blocks the others. The pod findings name the cause.",
				Evidence: []Evidence{ev("status", ref, nil, "replicas %d, ready %d, current %d, updated %d", st.Status.Replicas, st.Status.ReadyReplicas, st.Status.CurrentReplicas, st.Status.UpdatedReplicas)}}
			if st.Status.ReadyReplicas == 0 {
				f.Severity = SeverityCritical
			}
			s.blameNodes(&f)
			out = append(out, f)
		}
	}
	for i := range s.DaemonSets {
		ds := &s.DaemonSets[i]
		ref := refTo(gvDaemonSet, ds.Namespace, ds.Name)
		if ds.Status.ObservedGeneration >= ds.Generation && (ds.Status.NumberUnavailable > 0 || ds.Status.NumberMisscheduled > 0) {
			f := Finding{ID: FindingUnavailable, Object: ref, Severity: SeverityWarning,
				Summary:  fmt.Sprintf("%d of %d daemon pods unavailable", ds.Status.NumberUnavailable, ds.Status.DesiredNumberScheduled),
				Detail:   "Some nodes do not run an available daemon pod; the pod findings name the cause.",
				Evidence: []Evidence{ev("status", ref, nil, "desired %d, available %d, unavailable %d, misscheduled %d", ds.Status.DesiredNumberScheduled, ds.Status.NumberAvailable, ds.Status.NumberUnavailable, ds.Status.NumberMisscheduled)}}
			s.blameNodes(&f)
			out = append(out, f)
		}
	}
	return out
}

func replicaFailure(ref kube.ObjectRef, reason, msg string, t *metav1.Time) Finding {
	return Finding{ID: FindingReplicaFailure, Object: ref, Severity: SeverityCritical,
		Summary:  "pods cannot be created: " + firstSentence(msg),
		Detail:   "The controller's pod creation is refused by the API server: a ResourceQuota, a LimitRange, an admission webhook or policy, or a missing ServiceAccount. Its message names which.",
		Evidence: []Evidence{ev("condition", ref, t, "ReplicaFailure=True (%s): %s", reason, msg)}}
}

// serviceAnalyzer finds Services that route nowhere: a selector matching no
// pod (with the one workload it nearly matches), a targetPort no selected
// container exposes, or selected pods that are not ready.
type serviceAnalyzer struct{}

func (serviceAnalyzer) Name() string { return "services" }

func (serviceAnalyzer) Analyze(s *Snapshot) []Finding {
	var out []Finding
	for i := range s.Services {
		svc := &s.Services[i]
		if svc.Spec.Type == corev1.ServiceTypeExternalName || len(svc.Spec.Selector) == 0 {
			continue
		}
		ref := refTo(gvService, svc.Namespace, svc.Name)
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		var pods []*corev1.Pod
		for _, p := range s.livePods() {
			if p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded && sel.Matches(labels.Set(p.Labels)) {
				pods = append(pods, p)
			}
		}
		if len(pods) == 0 {
			out = append(out, selectorFinding(s, svc))
			continue
		}
		if f, ok := targetPortFinding(svc, pods); ok {
			out = append(out, f)
			continue
		}
		ready := 0
		for _, p := range pods {
			if podReady(p) {
				ready++
			}
		}
		if ready == 0 {
			out = append(out, Finding{ID: FindingServiceNoReady, Object: ref, Severity: SeverityCritical,
				Summary:  fmt.Sprintf("none of the %d pods selected is ready: the service has no endpoints", len(pods)),
				Detail:   "The selector and ports are right, but no selected pod is ready; the pod findings name why.",
				Evidence: []Evidence{ev("spec", ref, nil, "selector %s matches %d pods, 0 ready", sel.String(), len(pods))}})
		}
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// selectorFinding explains a selector that matches no pod, naming the
// workloads whose pod labels nearly match it: every selector key present,
// and exactly one value different within maxNameDistance edits.
func selectorFinding(s *Snapshot, svc *corev1.Service) Finding {
	ref := refTo(gvService, svc.Namespace, svc.Name)
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	f := Finding{ID: FindingServiceNoPods, Object: ref, Severity: SeverityCritical,
		Summary:  fmt.Sprintf("selector %s matches no pod: the service has no endpoints", sel.String()),
		Detail:   "No running pod carries all the labels of the service's selector, so the service routes nowhere. Usually the selector or the pod template labels have a typo or were renamed on one side only.",
		Evidence: []Evidence{ev("spec", ref, nil, "selector %s; 0 of %d pods match", sel.String(), len(s.livePods()))},
		Facts:    map[string]string{}}
	var near []string
	for _, wl := range s.workloadRefs() {
		tpl := s.podTemplate(wl)
		if tpl == nil {
			continue
		}
		key, have, ok := nearSelector(svc.Spec.Selector, tpl.Labels)
		if !ok {
			continue
		}
		near = append(near, wl.Kind+"/"+wl.Name)
		f.Evidence = append(f.Evidence, ev("spec", wl, nil, "%s/%s pod labels have %s=%s where the selector wants %s=%s",
			strings.ToLower(wl.Kind), wl.Name, key, have, key, svc.Spec.Selector[key]))
		f.Facts["workload"], f.Facts["key"], f.Facts["have"], f.Facts["want"] = wl.Kind+"/"+wl.Name, key, have, svc.Spec.Selector[key]
	}
	f.Facts["nearWorkloads"] = strings.Join(near, ",")
	return f
}

func nearSelector(selector, podLabels map[string]string) (key, have string, ok bool) {
	diff := 0
	for k, v := range selector {
		lv, present := podLabels[k]
		if !present {
			return "", "", false
		}
		if lv != v {
			if editDistance(lv, v) > maxNameDistance {
				return "", "", false
			}
			diff++
			key, have = k, lv
		}
	}
	return key, have, diff == 1
}

// targetPortFinding checks each service port's targetPort against the
// ports of the selected pods' containers.
func targetPortFinding(svc *corev1.Service, pods []*corev1.Pod) (Finding, bool) {
	ref := refTo(gvService, svc.Namespace, svc.Name)
	type cport struct {
		name string
		port int32
	}
	var ports []cport
	seen := map[int32]bool{}
	for _, c := range pods[0].Spec.Containers {
		for _, p := range c.Ports {
			if (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) && !seen[p.ContainerPort] {
				seen[p.ContainerPort] = true
				ports = append(ports, cport{p.Name, p.ContainerPort})
			}
		}
	}
	for _, sp := range svc.Spec.Ports {
		if sp.Protocol != "" && sp.Protocol != corev1.ProtocolTCP {
			continue
		}
		tp := sp.TargetPort
		if tp.IntVal == 0 && tp.StrVal == "" {
			tp.IntVal = sp.Port
		}
		match := false
		for _, p := range ports {
			if (tp.StrVal != "" && p.name == tp.StrVal) || (tp.StrVal == "" && p.port == tp.IntVal) {
				match = true
			}
		}
		if match || (tp.StrVal == "" && len(ports) == 0) {
			continue
		}
		var declared []string
		for _, p := range ports {
			declared = append(declared, fmt.Sprintf("%d%s", p.port, parenName(p.name)))
		}
		portKey := fmt.Sprintf("port=%d", sp.Port)
		if sp.Name != "" {
			portKey = "name=" + sp.Name
		}
		f := Finding{ID: FindingServiceTargetPort, Object: ref, Severity: SeverityCritical,
			Summary:  fmt.Sprintf("port %d targets %s, which the selected pods do not expose (they expose %s)", sp.Port, tp.String(), orDefault(strings.Join(declared, ", "), "no ports")),
			Detail:   "The service forwards to a container port nobody listens on (or a port name no container defines), so connections are refused or the endpoints stay empty.",
			Evidence: []Evidence{ev("spec", ref, nil, "port %d targetPort %s; pod %s container ports: %s", sp.Port, tp.String(), pods[0].Name, orDefault(strings.Join(declared, ", "), "none"))},
			Facts:    map[string]string{"path": fmt.Sprintf("spec.ports[%s].targetPort", portKey), "targetPort": tp.String()}}
		if len(ports) == 1 {
			f.Facts["containerPort"] = fmt.Sprint(ports[0].port)
		}
		return f, true
	}
	return Finding{}, false
}

func parenName(n string) string {
	if n == "" {
		return ""
	}
	return " (" + n + ")"
}

// pvcAnalyzer explains Pending claims: a StorageClass that does not exist,
// no default class, or the provisioner's error.
type pvcAnalyzer struct{}

func (pvcAnalyzer) Name() string { return "storage" }

func (pvcAnalyzer) Analyze(s *Snapshot) []Finding {
	var out []Finding
	classes := map[string]*storagev1.StorageClass{}
	var defaults []string
	for i := range s.StorageClasses {
		sc := &s.StorageClasses[i]
		classes[sc.Name] = sc
		if sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" {
			defaults = append(defaults, sc.Name)
		}
	}
	for i := range s.PVCs {
		pvc := &s.PVCs[i]
		if pvc.Status.Phase != corev1.ClaimPending {
			continue
		}
		ref := refTo(gvPVC, pvc.Namespace, pvc.Name)
		f := Finding{ID: FindingPVCPending, Object: ref, Severity: SeverityCritical, Facts: map[string]string{},
			Detail: "A Pending claim blocks every pod that mounts it (they stay Pending too)."}
		class := ""
		if pvc.Spec.StorageClassName != nil {
			class = *pvc.Spec.StorageClassName
		}
		switch {
		case class != "" && s.StorageClasses != nil && classes[class] == nil:
			var names []string
			for n := range classes {
				names = append(names, n)
			}
			f.Summary = fmt.Sprintf("claim is Pending: StorageClass %q does not exist", class)
			f.Evidence = append(f.Evidence, ev("spec", ref, nil, "storageClassName %s; classes: %s", class, orDefault(strings.Join(sortedStrings(names), ", "), "none")))
			f.Facts["storageClass"] = class
			f.Facts["defaultClass"] = strings.Join(defaults, ",")
		case class == "" && pvc.Spec.StorageClassName == nil && len(defaults) == 0 && pvc.Spec.VolumeName == "":
			f.Summary = "claim is Pending: it names no StorageClass and the cluster has no default class"
			f.Evidence = append(f.Evidence, ev("spec", ref, nil, "no storageClassName; no StorageClass is annotated as default"))
		default:
			f.Summary = "claim is Pending"
			f.Evidence = append(f.Evidence, ev("status", ref, nil, "phase Pending, storageClassName %q", class))
			f.Severity = SeverityWarning
		}
		for _, e := range s.eventsFor("PersistentVolumeClaim", pvc.Name) {
			if e.Type == corev1.EventTypeWarning {
				f.Evidence = append(f.Evidence, eventEvidence(ref, e))
			}
		}
		out = append(out, f)
	}
	return out
}

// hpaAnalyzer finds autoscalers that cannot work: a missing scale target,
// or resource metrics on containers without requests for that resource.
type hpaAnalyzer struct{}

func (hpaAnalyzer) Name() string { return "autoscalers" }

func (hpaAnalyzer) Analyze(s *Snapshot) []Finding {
	var out []Finding
	for i := range s.HPAs {
		h := &s.HPAs[i]
		ref := refTo(gvHPA, h.Namespace, h.Name)
		t := h.Spec.ScaleTargetRef
		wl := refTo(gvDeployment, h.Namespace, t.Name)
		wl.Kind = t.Kind
		if t.Kind == "StatefulSet" {
			wl = refTo(gvStatefulSet, h.Namespace, t.Name)
		}
		tpl := s.podTemplate(wl)
		if tpl == nil {
			if t.Kind == "Deployment" || t.Kind == "StatefulSet" {
				out = append(out, Finding{ID: FindingHPAMissingTarget, Object: ref, Severity: SeverityWarning,
					Summary:  fmt.Sprintf("scale target %s/%s does not exist", t.Kind, t.Name),
					Detail:   "The autoscaler points at a workload that is not there (renamed, or not created yet), so it scales nothing.",
					Evidence: append([]Evidence{ev("spec", ref, nil, "scaleTargetRef %s %s", t.Kind, t.Name)}, hpaConditionEvidence(ref, h)...)})
			}
			continue
		}
		for _, m := range h.Spec.Metrics {
			if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource == nil || m.Resource.Target.Type != autoscalingv2.UtilizationMetricType {
				continue
			}
			res := m.Resource.Name
			var missing []string
			for _, c := range tpl.Spec.Containers {
				if _, ok := c.Resources.Requests[res]; !ok {
					missing = append(missing, c.Name)
				}
			}
			if len(missing) == 0 {
				continue
			}
			out = append(out, Finding{ID: FindingHPAMissingRequests, Object: wl, Severity: SeverityWarning,
				Summary:  fmt.Sprintf("%s scales on %s utilization, but container(s) %s request no %s", h.Name, res, strings.Join(missing, ", "), res),
				Detail:   "Utilization is usage divided by the request; without a request the autoscaler cannot compute it and does not scale.",
				Evidence: append([]Evidence{ev("spec", ref, nil, "metric %s utilization target %d%%; containers without %s requests: %s", res, ptrInt32(m.Resource.Target.AverageUtilization), res, strings.Join(missing, ", "))}, hpaConditionEvidence(ref, h)...),
				Facts:    map[string]string{"resource": string(res), "containers": strings.Join(missing, ","), "hpa": h.Name}})
		}
	}
	return out
}

func hpaConditionEvidence(ref kube.ObjectRef, h *autoscalingv2.HorizontalPodAutoscaler) []Evidence {
	var out []Evidence
	for _, c := range h.Status.Conditions {
		if c.Status == corev1.ConditionFalse && (c.Type == autoscalingv2.ScalingActive || c.Type == autoscalingv2.AbleToScale) {
			out = append(out, ev("condition", ref, &c.LastTransitionTime, "%s=False (%s): %s", c.Type, c.Reason, c.Message))
		}
	}
	return out
}

func ptrInt32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
