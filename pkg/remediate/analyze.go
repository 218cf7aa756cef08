package remediate

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dot-ai/dot/pkg/kube"
)

// Analyzer reads a snapshot and reports findings. Analyzers are
// deterministic and read-only.
type Analyzer interface {
	// Name is a short name, e.g. "pods".
	Name() string
	// Analyze returns the findings in the snapshot.
	Analyze(s *Snapshot) []Finding
}

// DefaultAnalyzers are the built-in analyzers, in the order findings are
// reported.
func DefaultAnalyzers() []Analyzer {
	return []Analyzer{podAnalyzer{}, configRefAnalyzer{}, probePortAnalyzer{}, workloadAnalyzer{}, serviceAnalyzer{}, pvcAnalyzer{}, hpaAnalyzer{},
		ingressAnalyzer{}, pdbAnalyzer{}, jobAnalyzer{}, nodeAnalyzer{}}
}

// Analyze runs the analyzers over s and returns their findings, most
// severe first, deduplicated by Key.
func Analyze(s *Snapshot, analyzers ...Analyzer) []Finding {
	if len(analyzers) == 0 {
		analyzers = DefaultAnalyzers()
	}
	var all []Finding
	seen := map[string]int{}
	for _, a := range analyzers {
		for _, f := range a.Analyze(s) {
			if i, ok := seen[f.Key()]; ok {
				all[i].Evidence = append(all[i].Evidence, f.Evidence...)
				continue
			}
			seen[f.Key()] = len(all)
			all = append(all, f)
		}
	}
	all = absorbSymptoms(all)
	sortFindings(all)
	return all
}

// absorbs lists, per cause, the symptoms it explains: a symptom finding on
// the same object and container is folded into the cause's evidence.
var absorbs = map[string][]string{
	FindingMissingConfigRef: {FindingContainerConfig},
	FindingProbePort:        {FindingNotReady, FindingProbeFailed},
}

func absorbSymptoms(fs []Finding) []Finding {
	drop := map[int]bool{}
	for i := range fs {
		symptoms := absorbs[fs[i].ID]
		if len(symptoms) == 0 || (fs[i].ID == FindingProbePort && fs[i].Facts["observed"] != "true") {
			continue
		}
		for j := range fs {
			if i == j || drop[j] || !slices.Contains(symptoms, fs[j].ID) || !fs[j].Object.SameObject(fs[i].Object) ||
				(fs[j].Container != "" && fs[i].Container != "" && fs[j].Container != fs[i].Container) {
				continue
			}
			if fs[i].ID == FindingProbePort && fs[j].ID == FindingProbeFailed && probeField(fs[j].Facts["probe"]) != fs[i].Facts["probe"] {
				continue
			}
			drop[j] = true
			for _, e := range fs[j].Evidence {
				if !slices.ContainsFunc(fs[i].Evidence, func(x Evidence) bool { return x.Text == e.Text && x.Object == e.Object }) {
					fs[i].Evidence = append(fs[i].Evidence, e)
				}
			}
			for _, p := range fs[j].Pods {
				if !slices.Contains(fs[i].Pods, p) {
					fs[i].Pods = append(fs[i].Pods, p)
				}
			}
			if fs[j].Severity.rank() < fs[i].Severity.rank() {
				fs[i].Severity = fs[j].Severity
			}
		}
	}
	out := fs[:0:0]
	for i, f := range fs {
		if !drop[i] {
			out = append(out, f)
		}
	}
	return out
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if a, b := fs[i].Severity.rank(), fs[j].Severity.rank(); a != b {
			return a < b
		}
		return false
	})
}

// maxPodEvidence bounds the evidence kept per aggregated finding: the
// first pods say it all.
const maxPodEvidence = 3

// collector aggregates per-pod findings into one finding per workload,
// problem and container.
type collector struct {
	order []string
	by    map[string]*Finding
}

func (c *collector) add(f Finding, pod string) {
	if c.by == nil {
		c.by = map[string]*Finding{}
	}
	k := f.Key()
	cur, ok := c.by[k]
	if !ok {
		f.Pods = nil
		cur = &f
		c.by[k] = cur
		c.order = append(c.order, k)
	} else if len(cur.Pods) < maxPodEvidence {
		cur.Evidence = append(cur.Evidence, f.Evidence...)
	}
	if pod != "" {
		cur.Pods = append(cur.Pods, pod)
	}
	for k, v := range f.Facts {
		if cur.Facts == nil {
			cur.Facts = map[string]string{}
		}
		if _, ok := cur.Facts[k]; !ok {
			cur.Facts[k] = v
		}
	}
	if f.Severity.rank() < cur.Severity.rank() {
		cur.Severity = f.Severity
	}
}

func (c *collector) findings() []Finding {
	out := make([]Finding, 0, len(c.order))
	for _, k := range c.order {
		f := *c.by[k]
		if len(f.Pods) > 1 {
			f.Summary = fmt.Sprintf("%s (%d pods)", f.Summary, len(f.Pods))
		}
		out = append(out, f)
	}
	return out
}

func ev(source string, obj kube.ObjectRef, t *metav1.Time, format string, args ...any) Evidence {
	e := Evidence{Source: source, Object: obj, Text: fmt.Sprintf(format, args...)}
	if t != nil && !t.IsZero() {
		tt := t.UTC()
		e.Time = &tt
	}
	return e
}

func eventEvidence(obj kube.ObjectRef, e corev1.Event) Evidence {
	t := eventTime(&e)
	text := fmt.Sprintf("%s %s: %s", e.Type, e.Reason, strings.TrimSpace(e.Message))
	if e.Count > 1 {
		text += fmt.Sprintf(" (x%d)", e.Count)
	}
	return ev("event", obj, &t, "%s", text)
}

func podRef(p *corev1.Pod) kube.ObjectRef { return refTo(gvPod, p.Namespace, p.Name) }

func containerSpec(spec *corev1.PodSpec, name string) *corev1.Container {
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	for i := range spec.InitContainers {
		if spec.InitContainers[i].Name == name {
			return &spec.InitContainers[i]
		}
	}
	return nil
}

func isInitContainer(spec *corev1.PodSpec, name string) bool {
	for _, c := range spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// probeField maps a probe kind of an event ("Readiness") to its container
// field ("readinessProbe").
func probeField(kind string) string {
	if kind == "" {
		return ""
	}
	return strings.ToLower(kind[:1]) + kind[1:] + "Probe"
}
