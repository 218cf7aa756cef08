package remediate

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/dot-ai/dot/pkg/kube"
)

// pdbAnalyzer finds PodDisruptionBudgets that block every voluntary
// disruption even when all their pods are healthy (minAvailable equal to
// the replicas, maxUnavailable 0): node drains and cluster upgrades then
// hang on them. It also reports budgets that select no pod, which protect
// nothing (a selector typo, usually).
type pdbAnalyzer struct{}

func (pdbAnalyzer) Name() string { return "disruption-budgets" }

func (pdbAnalyzer) Analyze(s *Snapshot) []Finding {
	var out []Finding
	for i := range s.PDBs {
		pdb := &s.PDBs[i]
		ref := refTo(gvPDB, pdb.Namespace, pdb.Name)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			continue
		}
		matched := 0
		for _, p := range s.livePods() {
			if p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded && sel.Matches(labels.Set(p.Labels)) {
				matched++
			}
		}
		st := pdb.Status
		counts := ev("status", ref, nil, "expected pods %d, healthy %d, desired healthy %d, disruptions allowed %d",
			st.ExpectedPods, st.CurrentHealthy, st.DesiredHealthy, st.DisruptionsAllowed)
		switch {
		case pdb.Spec.Selector == nil || sel.Empty():
			// An empty selector selects every pod of the namespace (policy/v1): deliberate.
		case matched == 0 && st.ExpectedPods == 0:
			f := Finding{ID: FindingPDBNoPods, Object: ref, Severity: SeverityWarning,
				Summary:  fmt.Sprintf("selector %s matches no pod: the budget protects nothing", sel.String()),
				Detail:   "A PodDisruptionBudget that selects no pod lets drains evict the pods it was meant to protect. Usually its selector and the pod labels disagree.",
				Evidence: []Evidence{ev("spec", ref, nil, "selector %s; 0 of %d pods match", sel.String(), len(s.livePods())), counts},
				Facts:    map[string]string{}}
			for _, wl := range s.workloadRefs() {
				tpl := s.podTemplate(wl)
				if tpl == nil {
					continue
				}
				if key, have, ok := nearSelector(pdb.Spec.Selector.MatchLabels, tpl.Labels); ok && len(pdb.Spec.Selector.MatchExpressions) == 0 {
					f.Evidence = append(f.Evidence, ev("spec", wl, nil, "%s pod labels have %s=%s where the selector wants %s=%s",
						objName(wl), key, have, key, pdb.Spec.Selector.MatchLabels[key]))
				}
			}
			out = append(out, f)
		case st.ObservedGeneration >= pdb.Generation && st.ExpectedPods > 0 && st.DisruptionsAllowed == 0 && st.CurrentHealthy >= st.ExpectedPods:
			f := Finding{ID: FindingPDBBlocking, Object: ref, Severity: SeverityWarning,
				Summary:  fmt.Sprintf("allows no disruption with all %d pods healthy: drains and node upgrades will block", st.ExpectedPods),
				Detail:   "The budget demands every selected pod stay up (minAvailable equal to the replicas, or maxUnavailable 0), so no eviction is ever allowed. Drains wait forever and cluster upgrades stall on the node these pods run on.",
				Evidence: []Evidence{ev("spec", ref, nil, "%s; selector %s", pdbPolicy(pdb), sel.String()), counts},
				Facts:    map[string]string{"expectedPods": fmt.Sprint(st.ExpectedPods), "policy": pdbPolicy(pdb)}}
			for _, c := range st.Conditions {
				if c.Type == policyv1.DisruptionAllowedCondition && c.Status == metav1.ConditionFalse {
					f.Evidence = append(f.Evidence, ev("condition", ref, &c.LastTransitionTime, "DisruptionAllowed=False (%s): %s", c.Reason, c.Message))
				}
			}
			out = append(out, f)
		}
	}
	return out
}

func pdbPolicy(pdb *policyv1.PodDisruptionBudget) string {
	switch {
	case pdb.Spec.MinAvailable != nil:
		return "minAvailable " + pdb.Spec.MinAvailable.String()
	case pdb.Spec.MaxUnavailable != nil:
		return "maxUnavailable " + pdb.Spec.MaxUnavailable.String()
	}
	return "no minAvailable or maxUnavailable"
}

// pdbsOf returns the budgets selecting the pods of a workload template.
func (s *Snapshot) pdbsOf(tplLabels map[string]string) []kube.ObjectRef {
	var out []kube.ObjectRef
	for i := range s.PDBs {
		pdb := &s.PDBs[i]
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || pdb.Spec.Selector == nil {
			continue
		}
		near := false
		if len(pdb.Spec.Selector.MatchExpressions) == 0 {
			_, _, near = nearSelector(pdb.Spec.Selector.MatchLabels, tplLabels)
		}
		if sel.Matches(labels.Set(tplLabels)) || near {
			out = append(out, refTo(gvPDB, pdb.Namespace, pdb.Name))
		}
	}
	return out
}
