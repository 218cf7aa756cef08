package remediate

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// podAnalyzer reads container states, pod conditions and the pods' events:
// crash loops with the last termination, OOM kills, image pull errors,
// container configuration errors, unschedulable pods, failing probes,
// evicted pods. Findings of pods of one workload are aggregated per
// workload, problem and container.
type podAnalyzer struct{}

func (podAnalyzer) Name() string { return "pods" }

// imagePullReasons are the waiting reasons of a container whose image
// cannot be pulled.
var imagePullReasons = map[string]bool{
	"ImagePullBackOff": true, "ErrImagePull": true, "InvalidImageName": true,
	"ErrImageNeverPull": true, "RegistryUnavailable": true, "ImageInspectError": true,
}

func (podAnalyzer) Analyze(s *Snapshot) []Finding {
	var c collector
	for _, p := range s.livePods() {
		for _, f := range analyzePod(s, p) {
			c.add(f, p.Name)
		}
	}
	return c.findings()
}

func analyzePod(s *Snapshot, p *corev1.Pod) []Finding {
	pr := podRef(p)
	wl := s.workloadOf(p)
	var out []Finding
	add := func(f Finding) {
		f.Object = wl
		out = append(out, f)
	}
	events := s.eventsFor("Pod", p.Name)

	if p.Status.Phase == corev1.PodFailed && p.Status.Reason == "Evicted" {
		add(Finding{ID: FindingEvicted, Severity: SeverityWarning,
			Summary:  "evicted pods are left behind",
			Detail:   "The kubelet evicted these pods (node pressure); their controller has replaced them, and the Failed pods only clutter the namespace.",
			Evidence: []Evidence{ev("status", pr, p.Status.StartTime, "phase Failed, reason Evicted: %s", p.Status.Message)},
			Facts:    map[string]string{"pod": p.Name}})
		return out
	}
	if p.Status.Phase == corev1.PodSucceeded {
		return nil
	}

	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
			f := Finding{ID: FindingUnschedulable, Severity: SeverityCritical,
				Summary:  "pods cannot be scheduled: " + firstSentence(cond.Message),
				Detail:   "The scheduler found no node for the pod. Its message names what is missing: resources (lower the requests or add nodes), node selectors/affinity, taints without tolerations, or volumes bound to another zone.",
				Evidence: []Evidence{ev("condition", pr, &cond.LastTransitionTime, "PodScheduled=False (Unschedulable): %s", cond.Message)}}
			for _, e := range events {
				if e.Reason == "FailedScheduling" {
					f.Evidence = append(f.Evidence, eventEvidence(pr, e))
				}
			}
			add(f)
		}
	}

	statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		spec := containerSpec(&p.Spec, cs.Name)
		image := cs.Image
		if spec != nil {
			image = spec.Image
		}
		oom := terminatedOOM(cs)
		switch {
		case oom != nil:
			f := Finding{ID: FindingOOMKilled, Severity: SeverityCritical, Container: cs.Name,
				Summary: fmt.Sprintf("container %s is OOMKilled (exit code %d)", cs.Name, oom.ExitCode),
				Detail:  "The container used more memory than its limit and the kernel killed it. Raising the memory limit (and the request if it was close) lets it run; if usage keeps growing, the application leaks memory.",
				Evidence: []Evidence{ev("status", pr, &oom.FinishedAt, "container %s terminated: %s (exit code %d), restarts %d",
					cs.Name, oom.Reason, oom.ExitCode, cs.RestartCount)},
				Facts: map[string]string{"image": image}}
			if spec != nil {
				if l, ok := spec.Resources.Limits[corev1.ResourceMemory]; ok {
					f.Facts["memoryLimit"] = l.String()
					f.Evidence = append(f.Evidence, ev("spec", pr, nil, "container %s memory limit %s", cs.Name, l.String()))
				}
				if r, ok := spec.Resources.Requests[corev1.ResourceMemory]; ok {
					f.Facts["memoryRequest"] = r.String()
				}
			}
			if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
				f.Evidence = append(f.Evidence, ev("status", pr, nil, "container %s waiting: CrashLoopBackOff", cs.Name))
			}
			add(f)
		case cs.State.Waiting != nil && imagePullReasons[cs.State.Waiting.Reason]:
			w := cs.State.Waiting
			f := Finding{ID: FindingImagePull, Severity: SeverityCritical, Container: cs.Name,
				Summary:  fmt.Sprintf("image %s of container %s cannot be pulled (%s)", image, cs.Name, w.Reason),
				Detail:   "The kubelet cannot pull the image: the name or tag does not exist, the registry refuses access (imagePullSecrets), or the reference is malformed.",
				Evidence: []Evidence{ev("status", pr, nil, "container %s waiting: %s: %s", cs.Name, w.Reason, w.Message)},
				Facts:    map[string]string{"image": image, "reason": w.Reason}}
			for _, e := range events {
				if (e.Reason == "Failed" && strings.Contains(e.Message, "image")) || e.Reason == "InspectFailed" {
					f.Evidence = append(f.Evidence, eventEvidence(pr, e))
				}
			}
			add(f)
		case cs.State.Waiting != nil && cs.State.Waiting.Reason == "CreateContainerConfigError":
			w := cs.State.Waiting
			f := Finding{ID: FindingContainerConfig, Severity: SeverityCritical, Container: cs.Name,
				Summary:  fmt.Sprintf("container %s cannot be created: %s", cs.Name, w.Message),
				Detail:   "The container's configuration refers to something that does not exist: usually a ConfigMap or Secret, or a key in one.",
				Evidence: []Evidence{ev("status", pr, nil, "container %s waiting: CreateContainerConfigError: %s", cs.Name, w.Message)},
				Facts:    map[string]string{"message": w.Message}}
			add(f)
		case cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff":
			f := Finding{ID: FindingCrashLoop, Severity: SeverityCritical, Container: cs.Name,
				Summary:  fmt.Sprintf("container %s is crash-looping (%d restarts)", cs.Name, cs.RestartCount),
				Detail:   "The container starts and exits again; the kubelet backs off between restarts. The last termination says how it ended: exit code 1 or 2 usually is an application error (read its logs), 137 a kill (OOM or failed liveness probe), 127/126 a missing or non-executable command.",
				Evidence: []Evidence{ev("status", pr, nil, "container %s waiting: CrashLoopBackOff: %s", cs.Name, cs.State.Waiting.Message)},
				Facts:    map[string]string{"image": image}}
			if t := cs.LastTerminationState.Terminated; t != nil {
				f.Summary = fmt.Sprintf("container %s is crash-looping: last exit %s (code %d), %d restarts", cs.Name, orUnknown(t.Reason), t.ExitCode, cs.RestartCount)
				msg := t.Message
				if msg != "" {
					msg = ": " + msg
				}
				f.Evidence = append(f.Evidence, ev("status", pr, &t.FinishedAt, "container %s last terminated: %s (exit code %d)%s", cs.Name, orUnknown(t.Reason), t.ExitCode, msg))
				f.Facts["exitCode"] = fmt.Sprint(t.ExitCode)
				f.Facts["lastReason"] = t.Reason
			}
			add(f)
		case p.Status.Phase == corev1.PodRunning && !cs.Ready && cs.State.Running != nil && !isInitContainer(&p.Spec, cs.Name):
			f := Finding{ID: FindingNotReady, Severity: SeverityWarning, Container: cs.Name,
				Summary:  fmt.Sprintf("container %s runs but is not ready", cs.Name),
				Detail:   "The container is running but its readiness probe does not pass, so the pod receives no traffic.",
				Evidence: []Evidence{ev("status", pr, &cs.State.Running.StartedAt, "container %s running since %s, ready=false", cs.Name, cs.State.Running.StartedAt.UTC().Format("2006-01-02T15:04:05Z"))}}
			if spec != nil && spec.ReadinessProbe != nil {
				f.Evidence = append(f.Evidence, ev("spec", pr, nil, "container %s readiness probe: %s", cs.Name, describeProbe(spec.ReadinessProbe)))
			}
			add(f)
		}
	}

	// Probe failures are reported by the kubelet as Unhealthy events.
	probe := map[string]*Finding{}
	var order []string
	for _, e := range events {
		if e.Reason != "Unhealthy" {
			continue
		}
		container := containerFromFieldPath(e.InvolvedObject.FieldPath)
		kind := probeKind(e.Message)
		key := container + "/" + kind
		f, ok := probe[key]
		if !ok {
			f = &Finding{ID: FindingProbeFailed, Severity: SeverityWarning, Container: container,
				Summary: fmt.Sprintf("%s probe of container %s fails", kind, orUnknown(container)),
				Detail:  "The kubelet's probe does not get a healthy answer. A failing liveness probe restarts the container; a failing readiness probe keeps the pod out of its Services. Check that the probe's port and path are what the application serves.",
				Facts:   map[string]string{"probe": kind}}
			if kind == "Liveness" {
				f.Severity = SeverityCritical
			}
			probe[key] = f
			order = append(order, key)
		}
		f.Evidence = append(f.Evidence, eventEvidence(pr, e))
	}
	for _, k := range order {
		add(*probe[k])
	}
	return out
}

func terminatedOOM(cs corev1.ContainerStatus) *corev1.ContainerStateTerminated {
	if t := cs.State.Terminated; t != nil && t.Reason == "OOMKilled" {
		return t
	}
	if t := cs.LastTerminationState.Terminated; t != nil && t.Reason == "OOMKilled" {
		return t
	}
	return nil
}

// containerFromFieldPath reads "spec.containers{web}".
func containerFromFieldPath(fp string) string {
	i, j := strings.Index(fp, "{"), strings.LastIndex(fp, "}")
	if i < 0 || j < i {
		return ""
	}
	return fp[i+1 : j]
}

func probeKind(msg string) string {
	for _, k := range []string{"Readiness", "Liveness", "Startup"} {
		if strings.HasPrefix(msg, k) {
			return k
		}
	}
	return "Health"
}

func describeProbe(p *corev1.Probe) string {
	switch {
	case p.HTTPGet != nil:
		return fmt.Sprintf("httpGet %s port %s", orDefault(p.HTTPGet.Path, "/"), p.HTTPGet.Port.String())
	case p.TCPSocket != nil:
		return "tcpSocket port " + p.TCPSocket.Port.String()
	case p.GRPC != nil:
		return fmt.Sprintf("grpc port %d", p.GRPC.Port)
	case p.Exec != nil:
		return "exec " + strings.Join(p.Exec.Command, " ")
	}
	return "(no handler)"
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i]
	}
	return strings.TrimSuffix(s, ".")
}

func orUnknown(s string) string { return orDefault(s, "unknown") }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
