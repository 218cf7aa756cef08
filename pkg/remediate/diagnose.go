package remediate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
)

// Config is what diagnosis needs: a reader of the workload cluster and,
// for GitOps owners, the gitops read side.
type Config struct {
	// Client reads the workload cluster.
	Client client.Reader
	// Cluster finds GitOps owners and their status; nil skips the GitOps
	// analysis.
	Cluster *gitops.Cluster
	// Analyzers replace DefaultAnalyzers when set.
	Analyzers []Analyzer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Target is what to diagnose: one object, or a whole namespace.
type Target struct {
	Namespace string
	// Object is the object asked about (a Pod, workload, Service, claim,
	// autoscaler); nil means every object of Namespace.
	Object *kube.ObjectRef
}

func (t Target) String() string {
	if t.Object == nil {
		return "namespace " + t.Namespace
	}
	return fmt.Sprintf("%s/%s (%s)", strings.ToLower(t.Object.Kind), t.Object.Name, t.Object.Namespace)
}

// Diagnosis is the result of Diagnose.
type Diagnosis struct {
	Target   string    `json:"target"`
	Findings []Finding `json:"findings"`
	// Notes say what could not be read or analyzed.
	Notes []string `json:"notes,omitempty"`

	snapshot *Snapshot
	target   Target
}

// Stable returns the target to verify against after a fix: a Pod or a
// ReplicaSet is replaced when its workload rolls out, so the verification
// diagnoses the workload that owns it instead.
func (d *Diagnosis) Stable() Target {
	t := d.target
	if t.Object == nil || (t.Object.Kind != "Pod" && t.Object.Kind != "ReplicaSet") {
		return t
	}
	for _, r := range d.snapshot.related(*t.Object)[1:] {
		switch r.Kind {
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
			if !r.SameObject(*t.Object) {
				return Target{Namespace: t.Namespace, Object: &r}
			}
		}
	}
	return t
}

// NewDiagnosis wraps findings made from a snapshot (by Analyze) for
// Propose, when the snapshot did not come from Config.Diagnose.
func NewDiagnosis(target string, s *Snapshot, findings []Finding) *Diagnosis {
	return &Diagnosis{Target: target, Findings: findings, snapshot: s, target: Target{Namespace: s.Namespace}}
}

// Snapshot returns the objects the diagnosis was made from.
func (d *Diagnosis) Snapshot() *Snapshot { return d.snapshot }

// Diagnose reads the target's namespace, runs the analyzers, keeps the
// findings about the target and the objects related to it (its pods,
// ReplicaSets, Services, autoscalers, claims), and adds the GitOps owner of
// each object and the owner's own failures.
func (c *Config) Diagnose(ctx context.Context, t Target) (*Diagnosis, error) {
	if t.Object != nil && t.Namespace == "" {
		t.Namespace = t.Object.Namespace
	}
	s, err := LoadSnapshot(ctx, c.Client, t.Namespace)
	if err != nil {
		return nil, err
	}
	d := &Diagnosis{Target: t.String(), snapshot: s, target: t, Notes: s.Notes}
	if t.Object != nil {
		if err := c.checkExists(ctx, *t.Object); err != nil {
			return nil, err
		}
	}
	analyzers := c.Analyzers
	if len(analyzers) == 0 {
		analyzers = DefaultAnalyzers()
	}
	d.Findings = Analyze(s, analyzers...)
	if t.Object != nil {
		related := s.related(*t.Object)
		d.Findings = slices.DeleteFunc(d.Findings, func(f Finding) bool {
			return !slices.ContainsFunc(related, f.Object.SameObject)
		})
	}
	if c.Cluster != nil {
		if err := c.addOwners(ctx, d); err != nil {
			return nil, err
		}
	}
	sortFindings(d.Findings)
	if d.Findings == nil {
		d.Findings = []Finding{}
	}
	return d, nil
}

func (c *Config) checkExists(ctx context.Context, ref kube.ObjectRef) error {
	u := &metav1.PartialObjectMetadata{}
	u.SetGroupVersionKind(ref.GroupVersionKind())
	if ref.Version == "" {
		return nil
	}
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, u); err != nil {
		return fmt.Errorf("get %s: %w", ref, err)
	}
	return nil
}

// related lists the objects whose findings concern ref.
func (s *Snapshot) related(ref kube.ObjectRef) []kube.ObjectRef {
	out := []kube.ObjectRef{ref}
	var workloads []kube.ObjectRef
	switch ref.Kind {
	case "Pod":
		for _, p := range s.Pods {
			if p.Name == ref.Name {
				workloads = append(workloads, s.workloadOf(&p))
			}
		}
	case "ReplicaSet":
		if rs := s.replicaSet(ref.Name); rs != nil {
			if c := metav1.GetControllerOf(rs); c != nil && c.Kind == "Deployment" {
				workloads = append(workloads, refTo(gvDeployment, rs.Namespace, c.Name))
			} else {
				workloads = append(workloads, ref)
			}
		}
	case "Deployment", "StatefulSet", "DaemonSet", "CronJob":
		workloads = append(workloads, ref)
	case "Job":
		// A CronJob's run: the CronJob carries its findings.
		if j := s.job(ref.Name); j != nil {
			if c := metav1.GetControllerOf(j); c != nil && c.Kind == "CronJob" {
				workloads = append(workloads, refTo(gvCronJob, j.Namespace, c.Name))
				break
			}
		}
		workloads = append(workloads, ref)
	case "Ingress":
		for i := range s.Ingresses {
			if s.Ingresses[i].Name != ref.Name {
				continue
			}
			for _, b := range ingressBackends(&s.Ingresses[i]) {
				out = append(out, refTo(gvService, ref.Namespace, b.svc.Name))
				workloads = append(workloads, s.serviceWorkloads(b.svc.Name)...)
			}
		}
	case "PodDisruptionBudget":
		for _, w := range s.workloadRefs() {
			if tpl := s.podTemplate(w); tpl != nil && slices.ContainsFunc(s.pdbsOf(tpl.Labels), func(r kube.ObjectRef) bool { return r.Name == ref.Name }) {
				workloads = append(workloads, w)
			}
		}
	case "Service":
		out = append(out, s.ingressesOf([]kube.ObjectRef{ref})...)
		for _, svc := range s.Services {
			if svc.Name != ref.Name || len(svc.Spec.Selector) == 0 {
				continue
			}
			sel := labels.SelectorFromSet(svc.Spec.Selector)
			for _, p := range s.livePods() {
				if sel.Matches(labels.Set(p.Labels)) {
					w := s.workloadOf(p)
					if !slices.ContainsFunc(out, w.SameObject) {
						out = append(out, w)
					}
				}
			}
		}
	case "HorizontalPodAutoscaler":
		for _, h := range s.HPAs {
			if h.Name == ref.Name {
				w := refTo(gvDeployment, h.Namespace, h.Spec.ScaleTargetRef.Name)
				w.Kind = h.Spec.ScaleTargetRef.Kind
				if w.Kind == "StatefulSet" {
					w = refTo(gvStatefulSet, h.Namespace, h.Spec.ScaleTargetRef.Name)
				}
				out = append(out, w)
			}
		}
	}
	for _, w := range workloads {
		out = append(out, w)
		if w.Kind == "Deployment" {
			for _, rs := range s.replicaSetsOf(w.Name) {
				out = append(out, refTo(gvReplicaSet, rs.Namespace, rs.Name))
			}
		}
		var pods []string
		for _, p := range s.podsOf(w) {
			out = append(out, podRef(p))
			pods = append(pods, p.Name)
		}
		for _, n := range s.nodesOf(pods) {
			out = append(out, refTo(gvNode, "", n))
		}
		tpl := s.podTemplate(w)
		if tpl == nil {
			continue
		}
		for _, svc := range s.Services {
			if len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(tpl.Labels)) {
				out = append(out, refTo(gvService, svc.Namespace, svc.Name))
			}
		}
		for _, v := range tpl.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				out = append(out, refTo(gvPVC, s.Namespace, v.PersistentVolumeClaim.ClaimName))
			}
		}
		for _, h := range s.HPAs {
			if h.Spec.ScaleTargetRef.Kind == w.Kind && h.Spec.ScaleTargetRef.Name == w.Name {
				out = append(out, refTo(gvHPA, h.Namespace, h.Name))
			}
		}
		out = append(out, s.pdbsOf(tpl.Labels)...)
		out = append(out, s.ingressesOf(out)...)
		if w.Kind == "CronJob" {
			out = append(out, s.jobsOf(w.Name)...)
		}
		if w.Kind == "StatefulSet" {
			for _, pvc := range s.PVCs {
				for _, st := range s.StatefulSets {
					if st.Name != w.Name {
						continue
					}
					for _, ct := range st.Spec.VolumeClaimTemplates {
						if strings.HasPrefix(pvc.Name, ct.Name+"-"+st.Name+"-") {
							out = append(out, refTo(gvPVC, pvc.Namespace, pvc.Name))
						}
					}
				}
			}
		}
	}
	// Services nearly matching the workload are related too: their fix is
	// to select it.
	for _, svc := range s.Services {
		for _, w := range workloads {
			tpl := s.podTemplate(w)
			if tpl == nil || len(svc.Spec.Selector) == 0 {
				continue
			}
			if _, _, ok := nearSelector(svc.Spec.Selector, tpl.Labels); ok {
				out = append(out, refTo(gvService, svc.Namespace, svc.Name))
			}
		}
	}
	return out
}

// serviceWorkloads returns the workloads of the pods a Service selects.
func (s *Snapshot) serviceWorkloads(name string) []kube.ObjectRef {
	svc := s.service(name)
	if svc == nil || len(svc.Spec.Selector) == 0 {
		return nil
	}
	var out []kube.ObjectRef
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	for _, p := range s.livePods() {
		if sel.Matches(labels.Set(p.Labels)) {
			if w := s.workloadOf(p); !slices.ContainsFunc(out, w.SameObject) {
				out = append(out, w)
			}
		}
	}
	return out
}

// addOwners attaches the GitOps owner of each finding's object and reports
// owners that fail to sync. Owners are looked up once per object.
func (c *Config) addOwners(ctx context.Context, d *Diagnosis) error {
	type traced struct {
		info *OwnerInfo
		tr   *gitops.Trace
	}
	cache := map[kube.ObjectRef]*traced{}
	lookup := func(ref kube.ObjectRef) (*traced, error) {
		key := ref
		key.Version = ""
		if t, ok := cache[key]; ok {
			return t, nil
		}
		t := &traced{}
		cache[key] = t
		if ref.Version == "" {
			return t, nil
		}
		tr, err := c.Cluster.Trace(ctx, ref)
		switch {
		case errors.Is(err, gitops.ErrNotManaged):
			return t, nil
		case err != nil:
			d.Notes = append(d.Notes, fmt.Sprintf("owner of %s: %v", ref, err))
			return t, nil
		}
		t.tr = tr
		t.info = &OwnerInfo{Owner: tr.Owner.String(), Object: tr.Owner.Object, Sync: tr.Status.Sync, Health: tr.Status.Health}
		if len(tr.Sources) > 0 {
			t.info.Source = tr.Sources[0].String()
		}
		return t, nil
	}
	refs := []kube.ObjectRef{}
	if d.target.Object != nil {
		refs = append(refs, *d.target.Object)
	}
	for _, f := range d.Findings {
		refs = append(refs, f.Object)
	}
	owners := map[string]*gitops.Trace{}
	var ownerOrder []string
	for _, ref := range refs {
		t, err := lookup(ref)
		if err != nil {
			return err
		}
		if t.tr != nil {
			if _, ok := owners[t.info.Owner]; !ok {
				owners[t.info.Owner] = t.tr
				ownerOrder = append(ownerOrder, t.info.Owner)
			}
		}
	}
	for i := range d.Findings {
		if t := cache[unversioned(d.Findings[i].Object)]; t != nil && t.info != nil {
			info := *t.info
			d.Findings[i].Owner = &info
		}
	}
	for _, name := range ownerOrder {
		if f, ok := ownerFinding(owners[name]); ok {
			d.Findings = append(d.Findings, f)
		}
	}
	return nil
}

func unversioned(r kube.ObjectRef) kube.ObjectRef {
	r.Version = ""
	return r
}

// ownerFinding reports an owner that cannot render or apply its source
// (the real root cause: no fix through Git lands until it is repaired), or,
// as context, an owner that reports the workload unhealthy.
func ownerFinding(tr *gitops.Trace) (Finding, bool) {
	o, st := tr.Owner, tr.Status
	ref := o.Ref()
	info := &OwnerInfo{Owner: o.String(), Object: o.Object, Sync: st.Sync, Health: st.Health}
	if len(tr.Sources) > 0 {
		info.Source = tr.Sources[0].String()
	}
	f := Finding{Object: ref, Owner: info}
	var failures, others []string
	for _, m := range st.Messages {
		switch {
		case strings.HasPrefix(m, "ComparisonError"), strings.HasPrefix(m, "SyncError"), strings.HasPrefix(m, "InvalidSpecError"),
			strings.HasPrefix(m, "last operation Failed"), strings.HasPrefix(m, "last operation Error"):
			failures = append(failures, m)
		default:
			others = append(others, m)
		}
	}
	flux := o.Kind != gitops.OwnerArgoCDApplication
	if flux && strings.HasPrefix(st.Sync, "Ready=False") && !strings.Contains(st.Sync, "(HealthCheckFailed)") &&
		!strings.Contains(st.Sync, "(Progressing") && !strings.Contains(st.Sync, "(DependencyNotReady)") {
		failures = append(failures, st.Sync)
	}
	switch {
	case st.Suspended:
		f.ID, f.Severity = FindingGitOpsSyncFailed, SeverityWarning
		f.Summary = fmt.Sprintf("%s is suspended: changes in Git are not applied", o)
		f.Detail = "Reconciliation is switched off (Flux spec.suspend, or an Application frozen by dot). A fix delivered through Git lands in the repository but not in the cluster until it is resumed (dot op unfreeze)."
		f.Evidence = []Evidence{ev("owner", ref, nil, "suspended; sync %s, health %s", orDash(st.Sync), orDash(st.Health))}
	case len(failures) > 0:
		f.ID, f.Severity = FindingGitOpsSyncFailed, SeverityCritical
		f.Summary = fmt.Sprintf("%s fails to sync: %s", o, firstLine(failures[0]))
		f.Detail = "The GitOps controller cannot render or apply the source, so the cluster does not follow Git. This is often the real root cause: fix the manifests in " + orDash(info.Source) + " first; no other fix through Git takes effect before."
		for _, m := range failures {
			f.Evidence = append(f.Evidence, ev("owner", ref, nil, "%s", m))
		}
	case st.Health != "" && st.Health != gitops.HealthHealthy && st.Health != gitops.HealthUnknown:
		f.ID, f.Severity = FindingGitOpsUnhealthy, SeverityInfo
		f.Summary = fmt.Sprintf("%s reports %s: a consequence of the findings above", o, st.Health)
		f.Detail = "The owner applies the manifests but the objects are not healthy; the other findings say why."
		f.Evidence = []Evidence{ev("owner", ref, nil, "sync %s, health %s", orDash(st.Sync), st.Health)}
		for _, m := range others {
			f.Evidence = append(f.Evidence, ev("owner", ref, nil, "%s", m))
		}
	default:
		return Finding{}, false
	}
	return f, true
}

func orDash(s string) string { return orDefault(s, "-") }

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	if len(l) > 200 {
		l = l[:197] + "..."
	}
	return l
}
