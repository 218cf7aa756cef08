package remediate

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/dot-ai/dot/pkg/kube"
)

// maxNameDistance is how far (in edits) a wrong reference may be from an
// existing name or key for dot to propose it.
const maxNameDistance = 2

// templatePrefix is the field path of a workload's pod spec.
func templatePrefix(wl kube.ObjectRef) string {
	if wl.Kind == "Pod" {
		return "spec"
	}
	if wl.Kind == "CronJob" {
		return "spec.jobTemplate.spec.template.spec"
	}
	return "spec.template.spec"
}

func containerPath(wl kube.ObjectRef, spec *corev1.PodSpec, container string) string {
	list := "containers"
	if isInitContainer(spec, container) {
		list = "initContainers"
	}
	return fmt.Sprintf("%s.%s[name=%s]", templatePrefix(wl), list, container)
}

// configRefAnalyzer checks the ConfigMap and Secret references of every pod
// template against the namespace: a missing object or key stops the
// container from being created (CreateContainerConfigError) or the volume
// from being mounted.
type configRefAnalyzer struct{}

func (configRefAnalyzer) Name() string { return "config-references" }

// configRef is one reference from a pod template.
type configRef struct {
	kind      string // ConfigMap or Secret
	name, key string // key empty for whole-object references
	container string // empty for volumes
	// path is the field path of the reference's name; keyPath of its key.
	path, keyPath string
}

func templateRefs(wl kube.ObjectRef, spec *corev1.PodSpec) []configRef {
	var out []configRef
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, c := range all {
		cp := containerPath(wl, spec, c.Name)
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			base := fmt.Sprintf("%s.env[name=%s].valueFrom", cp, e.Name)
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil && !ptrTrue(r.Optional) {
				out = append(out, configRef{"ConfigMap", r.Name, r.Key, c.Name, base + ".configMapKeyRef.name", base + ".configMapKeyRef.key"})
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil && !ptrTrue(r.Optional) {
				out = append(out, configRef{"Secret", r.Name, r.Key, c.Name, base + ".secretKeyRef.name", base + ".secretKeyRef.key"})
			}
		}
		for i, e := range c.EnvFrom {
			base := fmt.Sprintf("%s.envFrom[%d]", cp, i)
			if r := e.ConfigMapRef; r != nil && !ptrTrue(r.Optional) {
				out = append(out, configRef{"ConfigMap", r.Name, "", c.Name, base + ".configMapRef.name", ""})
			}
			if r := e.SecretRef; r != nil && !ptrTrue(r.Optional) {
				out = append(out, configRef{"Secret", r.Name, "", c.Name, base + ".secretRef.name", ""})
			}
		}
	}
	for _, v := range spec.Volumes {
		base := fmt.Sprintf("%s.volumes[name=%s]", templatePrefix(wl), v.Name)
		if r := v.ConfigMap; r != nil && !ptrTrue(r.Optional) {
			out = append(out, configRef{"ConfigMap", r.Name, "", "", base + ".configMap.name", ""})
			for _, it := range r.Items {
				out = append(out, configRef{"ConfigMap", r.Name, it.Key, "", base + ".configMap.name", ""})
			}
		}
		if r := v.Secret; r != nil && !ptrTrue(r.Optional) {
			out = append(out, configRef{"Secret", r.SecretName, "", "", base + ".secret.secretName", ""})
			for _, it := range r.Items {
				out = append(out, configRef{"Secret", r.SecretName, it.Key, "", base + ".secret.secretName", ""})
			}
		}
	}
	return out
}

func ptrTrue(b *bool) bool { return b != nil && *b }

func (configRefAnalyzer) Analyze(s *Snapshot) []Finding {
	var out []Finding
	for _, wl := range s.workloadRefs() {
		tpl := s.podTemplate(wl)
		if tpl == nil {
			continue
		}
		seen := map[string]bool{}
		for _, r := range templateRefs(wl, &tpl.Spec) {
			var objects map[string][]string
			switch {
			case r.kind == "ConfigMap" && s.ConfigMapsRead:
				objects = s.ConfigMaps
			case r.kind == "Secret" && s.SecretsRead:
				objects = s.Secrets
			default:
				continue
			}
			f, ok := checkRef(s, wl, r, objects)
			if !ok || seen[f.Facts["path"]] {
				continue
			}
			seen[f.Facts["path"]] = true
			out = append(out, f)
		}
	}
	return out
}

func checkRef(s *Snapshot, wl kube.ObjectRef, r configRef, objects map[string][]string) (Finding, bool) {
	keys, exists := objects[r.name]
	var names []string
	for n := range objects {
		names = append(names, n)
	}
	sort.Strings(names)
	f := Finding{ID: FindingMissingConfigRef, Object: wl, Container: r.container, Severity: SeverityWarning,
		Facts: map[string]string{"refKind": r.kind, "name": r.name}}
	if r.keyPath != "" {
		// A key selector (env valueFrom): name and key go together.
		f.Facts["key"], f.Facts["namePath"], f.Facts["keyPath"] = r.key, r.path, r.keyPath
	}
	where := "a volume"
	if r.container != "" {
		where = "container " + r.container
	}
	switch {
	case !exists:
		f.Summary = fmt.Sprintf("%s refers to %s %q, which does not exist", where, r.kind, r.name)
		f.Facts["field"], f.Facts["path"], f.Facts["value"] = "name", r.path, r.name
		f.Facts["candidates"] = strings.Join(nearNames(r.name, names), ",")
	case r.key != "" && !slices.Contains(keys, r.key):
		if r.keyPath == "" {
			// A volume item key: the fix would change the item, which dot does
			// not do; report it without candidates.
			f.Summary = fmt.Sprintf("%s mounts key %q of %s %q, which has no such key", where, r.key, r.kind, r.name)
			f.Facts["field"], f.Facts["value"] = "key", r.key
			break
		}
		f.Summary = fmt.Sprintf("%s reads key %q of %s %q, which has no such key (keys: %s)", where, r.key, r.kind, r.name, strings.Join(keys, ", "))
		f.Facts["field"], f.Facts["path"], f.Facts["value"] = "key", r.keyPath, r.key
		f.Facts["candidates"] = strings.Join(nearNames(r.key, keys), ",")
	default:
		return Finding{}, false
	}
	f.Detail = "A pod cannot start while a non-optional reference points at a missing ConfigMap, Secret or key. Either the reference has a typo, or the object was not created (not in Git, or created by something that failed)."
	f.Evidence = []Evidence{ev("spec", wl, nil, "%s", describeRef(r))}
	// The pods say whether it hurts now.
	for _, p := range s.podsOf(wl) {
		for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			if w := cs.State.Waiting; w != nil && w.Reason == "CreateContainerConfigError" && (r.container == "" || cs.Name == r.container) {
				f.Severity = SeverityCritical
				f.Evidence = append(f.Evidence, ev("status", podRef(p), nil, "container %s waiting: CreateContainerConfigError: %s", cs.Name, w.Message))
				f.Pods = append(f.Pods, p.Name)
			}
		}
		for _, e := range s.eventsFor("Pod", p.Name) {
			if e.Reason == "FailedMount" && strings.Contains(e.Message, r.name) {
				f.Severity = SeverityCritical
				f.Evidence = append(f.Evidence, eventEvidence(podRef(p), e))
			}
		}
	}
	if len(f.Evidence) > 1+maxPodEvidence {
		f.Evidence = f.Evidence[:1+maxPodEvidence]
	}
	return f, true
}

func describeRef(r configRef) string {
	s := r.kind + " " + r.name
	if r.key != "" {
		s += " key " + r.key
	}
	return fmt.Sprintf("%s (at %s)", s, orDefault(r.path, "a volume"))
}

// nearNames returns the names within maxNameDistance edits of want,
// nearest first.
func nearNames(want string, names []string) []string {
	type cand struct {
		n string
		d int
	}
	var cs []cand
	for _, n := range names {
		if n == want {
			continue
		}
		if d := editDistance(want, n); d <= maxNameDistance {
			cs = append(cs, cand{n, d})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.n
	}
	return out
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// probePortAnalyzer checks that every probe's port is one the container
// exposes. A named port that the container does not define always fails;
// a number not among declared ports is suspicious, and wrong when the
// pods fail that probe.
type probePortAnalyzer struct{}

func (probePortAnalyzer) Name() string { return "probe-ports" }

func (probePortAnalyzer) Analyze(s *Snapshot) []Finding {
	var out []Finding
	for _, wl := range s.workloadRefs() {
		tpl := s.podTemplate(wl)
		if tpl == nil {
			continue
		}
		for _, c := range tpl.Spec.Containers {
			for _, pr := range []struct {
				field string
				probe *corev1.Probe
			}{{"readinessProbe", c.ReadinessProbe}, {"livenessProbe", c.LivenessProbe}, {"startupProbe", c.StartupProbe}} {
				if pr.probe == nil {
					continue
				}
				if f, ok := checkProbePort(s, wl, &tpl.Spec, c, pr.field, pr.probe); ok {
					out = append(out, f)
				}
			}
		}
	}
	return out
}

func checkProbePort(s *Snapshot, wl kube.ObjectRef, spec *corev1.PodSpec, c corev1.Container, field string, p *corev1.Probe) (Finding, bool) {
	var port intstr.IntOrString
	var handler string
	switch {
	case p.HTTPGet != nil:
		port, handler = p.HTTPGet.Port, "httpGet"
	case p.TCPSocket != nil:
		port, handler = p.TCPSocket.Port, "tcpSocket"
	default:
		return Finding{}, false
	}
	var tcp []corev1.ContainerPort
	for _, cp := range c.Ports {
		if cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP {
			tcp = append(tcp, cp)
		}
	}
	named := port.Type == intstr.String
	switch {
	case named:
		for _, cp := range c.Ports {
			if cp.Name == port.StrVal {
				return Finding{}, false
			}
		}
	case len(tcp) == 0:
		return Finding{}, false // nothing declared: no way to tell
	default:
		for _, cp := range tcp {
			if cp.ContainerPort == port.IntVal {
				return Finding{}, false
			}
		}
	}
	var declared []string
	for _, cp := range tcp {
		d := strconv.Itoa(int(cp.ContainerPort))
		if cp.Name != "" {
			d += " (" + cp.Name + ")"
		}
		declared = append(declared, d)
	}
	f := Finding{ID: FindingProbePort, Object: wl, Container: c.Name, Severity: SeverityWarning,
		Summary:  fmt.Sprintf("%s of container %s checks port %s, which the container does not expose (ports: %s)", field, c.Name, port.String(), orDefault(strings.Join(declared, ", "), "none")),
		Detail:   "The probe connects to a port the container does not declare. Unless the application also listens there undeclared, the probe fails: a readiness probe keeps the pods out of their Services, a liveness probe restarts them.",
		Evidence: []Evidence{ev("spec", wl, nil, "container %s %s: %s port %s; container ports: %s", c.Name, field, handler, port.String(), orDefault(strings.Join(declared, ", "), "none"))},
		Facts:    map[string]string{"probe": field, "handler": handler, "port": port.String(), "path": fmt.Sprintf("%s.%s.%s.port", containerPath(wl, spec, c.Name), field, handler)}}
	if len(tcp) == 1 {
		f.Facts["containerPort"] = strconv.Itoa(int(tcp[0].ContainerPort))
		if named {
			// A named probe port is best fixed with the port's name.
			if tcp[0].Name != "" {
				f.Facts["containerPort"] = tcp[0].Name
			}
		}
	}
	if named {
		f.Severity = SeverityCritical
		f.Facts["definite"] = "true"
	}
	// Observed failures make a numeric mismatch definite too.
	kind := map[string]string{"readinessProbe": "Readiness", "livenessProbe": "Liveness", "startupProbe": "Startup"}[field]
	for _, pod := range s.podsOf(wl) {
		for _, e := range s.eventsFor("Pod", pod.Name) {
			if e.Reason == "Unhealthy" && containerFromFieldPath(e.InvolvedObject.FieldPath) == c.Name && probeKind(e.Message) == kind {
				f.Facts["observed"] = "true"
				f.Severity = SeverityCritical
				if len(f.Evidence) <= maxPodEvidence {
					f.Evidence = append(f.Evidence, eventEvidence(podRef(pod), e))
				}
			}
		}
		if field == "readinessProbe" {
			for _, cs := range pod.Status.ContainerStatuses {
				if cs.Name == c.Name && cs.State.Running != nil && !cs.Ready {
					f.Facts["observed"] = "true"
					f.Severity = SeverityCritical
					if len(f.Evidence) <= maxPodEvidence {
						f.Evidence = append(f.Evidence, ev("status", podRef(pod), nil, "container %s running, ready=false", c.Name))
					}
				}
			}
		}
	}
	return f, true
}
