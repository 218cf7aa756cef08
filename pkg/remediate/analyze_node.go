package remediate

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// nodeAnalyzer reports the nodes that the namespace's pods run on when
// they are NotReady (the pods stop being served and are evicted after
// their toleration) or under memory, disk or PID pressure (the kubelet
// evicts pods and refuses new ones). Nodes without pods of the namespace
// are none of its business.
type nodeAnalyzer struct{}

func (nodeAnalyzer) Name() string { return "nodes" }

// pressureConditions are the node conditions that mean trouble when True.
var pressureConditions = []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure}

func (nodeAnalyzer) Analyze(s *Snapshot) []Finding {
	if !s.NodesRead {
		return nil
	}
	podsOn := map[string][]string{}
	for _, p := range s.livePods() {
		if p.Spec.NodeName != "" && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			podsOn[p.Spec.NodeName] = append(podsOn[p.Spec.NodeName], p.Name)
		}
	}
	var out []Finding
	for i := range s.Nodes {
		n := &s.Nodes[i]
		pods := podsOn[n.Name]
		if len(pods) == 0 {
			continue
		}
		ref := refTo(gvNode, "", n.Name)
		var workloads []string
		for _, pn := range pods {
			for j := range s.Pods {
				if s.Pods[j].Name == pn {
					if w := objName(s.workloadOf(&s.Pods[j])); !slices.Contains(workloads, w) {
						workloads = append(workloads, w)
					}
				}
			}
		}
		affects := fmt.Sprintf("%d pod(s) of %s run there (%s)", len(pods), s.Namespace, strings.Join(workloads, ", "))
		var pressure []string
		var pressureEv []Evidence
		for _, c := range n.Status.Conditions {
			switch {
			case c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue:
				f := Finding{ID: FindingNodeNotReady, Object: ref, Severity: SeverityCritical, Pods: pods,
					Summary:  fmt.Sprintf("node %s is NotReady (%s): %s", n.Name, orUnknown(c.Reason), affects),
					Detail:   "The node's kubelet does not report healthy (stopped, crashed, network partition). Its pods are removed from Service endpoints, and evicted after their not-ready toleration (300s by default); pods with local storage or without a controller are lost.",
					Evidence: []Evidence{ev("condition", ref, &c.LastTransitionTime, "Ready=%s (%s): %s", c.Status, c.Reason, c.Message), ev("status", ref, nil, "%s", affects)},
					Facts:    map[string]string{"node": n.Name, "condition": string(c.Type)}}
				f.Evidence = append(f.Evidence, taintEvidence(n)...)
				out = append(out, f)
			case slices.Contains(pressureConditions, c.Type) && c.Status == corev1.ConditionTrue:
				pressure = append(pressure, string(c.Type))
				pressureEv = append(pressureEv, ev("condition", ref, &c.LastTransitionTime, "%s=True (%s): %s", c.Type, c.Reason, c.Message))
			}
		}
		if len(pressure) > 0 {
			out = append(out, Finding{ID: FindingNodePressure, Object: ref, Severity: SeverityWarning, Pods: pods,
				Summary:  fmt.Sprintf("node %s has %s: %s", n.Name, strings.Join(pressure, ", "), affects),
				Detail:   "Under pressure the kubelet evicts pods (lowest priority and most over their requests first) and the scheduler places no new pods there. Requests that match real usage protect a workload from being picked first.",
				Evidence: append(append(pressureEv, ev("status", ref, nil, "%s", affects)), taintEvidence(n)...),
				Facts:    map[string]string{"node": n.Name, "condition": strings.Join(pressure, ",")}})
		}
	}
	return out
}

func taintEvidence(n *corev1.Node) []Evidence {
	var ts []string
	for _, t := range n.Spec.Taints {
		if strings.HasPrefix(t.Key, "node.kubernetes.io/") {
			ts = append(ts, t.Key+":"+string(t.Effect))
		}
	}
	if len(ts) == 0 {
		return nil
	}
	return []Evidence{ev("spec", refTo(gvNode, "", n.Name), nil, "taints %s", strings.Join(ts, ", "))}
}

// blameNodes points an unavailable workload's finding at the NotReady
// nodes its pods are bound to: they are the cause (reported as
// NodeNotReady), and no pod finding would say so — a pod on a node whose
// kubelet is gone keeps its last status, or none.
func (s *Snapshot) blameNodes(f *Finding) {
	if !s.NodesRead {
		return
	}
	var names []string
	for _, p := range s.podsOf(f.Object) {
		n := s.node(p.Spec.NodeName)
		if n == nil || slices.Contains(names, n.Name) {
			continue
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
				names = append(names, n.Name)
				f.Evidence = append(f.Evidence, ev("condition", refTo(gvNode, "", n.Name), &c.LastTransitionTime,
					"pod %s is bound to node %s: Ready=%s (%s)", p.Name, n.Name, c.Status, orUnknown(c.Reason)))
			}
		}
	}
	if len(names) == 0 {
		return
	}
	f.Summary += fmt.Sprintf(": its pods are on NotReady node %s", strings.Join(names, ", "))
	f.Detail = "The pods are bound to nodes that are NotReady (see NodeNotReady): they do not run, or are not served, until the node recovers or they are evicted and scheduled elsewhere. Fix or drain the node; nothing in the workload is wrong."
	if f.Facts == nil {
		f.Facts = map[string]string{}
	}
	f.Facts["notReadyNodes"] = strings.Join(names, ",")
}

func (s *Snapshot) node(name string) *corev1.Node {
	return named(s.Nodes, name)
}

// nodesOf returns the nodes the given pods run on.
func (s *Snapshot) nodesOf(pods []string) []string {
	var out []string
	for i := range s.Pods {
		if slices.Contains(pods, s.Pods[i].Name) && s.Pods[i].Spec.NodeName != "" && !slices.Contains(out, s.Pods[i].Spec.NodeName) {
			out = append(out, s.Pods[i].Spec.NodeName)
		}
	}
	return out
}
