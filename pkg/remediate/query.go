package remediate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/kube"
)

// Query is a problem described in words, such as "checkout in shop keeps
// crashing", for Config.Resolve.
type Query struct {
	// Text is the sentence.
	Text string
	// Namespace, when set (dot's -n flag), is the only namespace searched:
	// it wins over a namespace the text names.
	Namespace string
	// DefaultNamespace is searched when neither Namespace nor the text names
	// a namespace and objects cannot be listed across namespaces (the
	// kubeconfig context's namespace).
	DefaultNamespace string
}

// Resolution says which target a query was resolved to, and why.
type Resolution struct {
	// Query is the text as given.
	Query string `json:"query"`
	// Namespace is the target's namespace; "" for a cluster-scoped object.
	Namespace string `json:"namespace,omitempty"`
	// Object is the object to diagnose; nil when the query names a
	// namespace and no object (the whole namespace is diagnosed).
	Object *kube.ObjectRef `json:"object,omitempty"`
	// Reasons explain the choice, one sentence each: where the namespace
	// came from, how the name matched, which kind or symptom words
	// narrowed the candidates down.
	Reasons []string `json:"reasons"`
	// Kinds and Symptoms are the words of the query read as object kinds
	// and as symptoms.
	Kinds    []string `json:"kinds,omitempty"`
	Symptoms []string `json:"symptoms,omitempty"`
	// Candidates are the objects whose names matched (of the kinds the
	// query names, if any matched), best first, at most 10, the chosen one
	// included; Findings are filled in for those a tie-break analyzed.
	Candidates []Candidate `json:"candidates,omitempty"`
}

// Target returns what to diagnose.
func (r *Resolution) Target() Target {
	return Target{Namespace: r.Namespace, Object: r.Object}
}

// String says in one line what the query was resolved to.
func (r *Resolution) String() string {
	if r.Object == nil {
		return "namespace " + r.Namespace
	}
	return refArg(*r.Object)
}

// Candidate is an object whose name matched a word of a query.
type Candidate struct {
	Object kube.ObjectRef `json:"object"`
	// Word is the word of the query that matched the name; Match says how:
	// exact, prefix, suffix, contains or similar (at most two edits).
	Word  string `json:"word"`
	Match string `json:"match"`
	// Findings are the IDs of its findings that match the query's
	// symptoms, when the analyzers were run to break a tie.
	Findings []string `json:"findings,omitempty"`
}

// String names the candidate the way dot remediate takes it:
// "deployment/web -n shop".
func (c Candidate) String() string { return refArg(c.Object) }

func refArg(r kube.ObjectRef) string {
	s := strings.ToLower(r.Kind) + "/" + r.Name
	if r.Namespace != "" {
		s += " -n " + r.Namespace
	}
	return s
}

// Errors of Resolve, carried by a *QueryError.
var (
	// ErrQueryAmbiguous: several objects match the query equally well.
	ErrQueryAmbiguous = errors.New("several objects match equally well")
	// ErrQueryNoMatch: no object matches the query.
	ErrQueryNoMatch = errors.New("no object matches")
)

// QueryError is why a query could not be resolved to one target.
type QueryError struct {
	Query string
	// Err is ErrQueryAmbiguous or ErrQueryNoMatch.
	Err error
	// Scope is what was searched: "namespace shop" or "all namespaces".
	Scope string
	// Words are the words tried as object names.
	Words []string
	// Candidates are the objects that match equally well (ambiguous).
	Candidates []Candidate
	// Detail says more, e.g. a namespace the text names that does not
	// exist.
	Detail string
}

func (e *QueryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "resolve %q: %v", e.Query, e.Err)
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	switch {
	case errors.Is(e.Err, ErrQueryAmbiguous):
		fmt.Fprintf(&b, " in %s; name one of them:", e.Scope)
		for i, c := range e.Candidates {
			if i == maxListed {
				fmt.Fprintf(&b, "\n  ... and %d more", len(e.Candidates)-maxListed)
				break
			}
			fmt.Fprintf(&b, "\n  %s  (%s %q)", c, c.Match, c.Word)
		}
	case e.Detail == "":
		if len(e.Words) == 0 {
			fmt.Fprintf(&b, " in %s: the text names no object (no word left after the kind, symptom and filler words)", e.Scope)
		} else {
			fmt.Fprintf(&b, " in %s: tried the words %s as names of deployments, statefulsets, daemonsets, pods, services, ingresses, jobs, cronjobs, claims, autoscalers and nodes (exact, prefix or suffix at a '-', substring, up to two edits)",
				e.Scope, quoteAll(e.Words))
		}
	}
	return b.String()
}

func (e *QueryError) Unwrap() error { return e.Err }

func quoteAll(ws []string) string {
	q := make([]string, len(ws))
	for i, w := range ws {
		q[i] = fmt.Sprintf("%q", w)
	}
	return strings.Join(q, ", ")
}

// maxListed bounds the candidates listed in a resolution or an error.
const maxListed = 10

// maxTieNamespaces bounds the namespaces whose objects are analyzed to
// break a tie between candidates.
const maxTieNamespaces = 5

// Resolve turns a sentence into one target: the namespace (the query's
// Namespace, else a phrase such as "in namespace X", "X namespace", "ns X",
// "namespace/X", else the name of an existing namespace the text
// mentions, else every namespace), the kinds its words name (deployment,
// pod, service, ingress, job, cronjob, pvc, hpa, node, ...), and the
// objects whose names match its other words: exact, then prefix or suffix
// at a '-', then substring, then at most two edits. Among equally good
// matches, the symptom words (crash, oom, pull, pending, 503, tls, ...)
// prefer the objects the analyzers report matching findings on, and an
// object whose diagnosis covers all the others (a Deployment and the
// Service and Ingress of the same name) is chosen. One object left is the
// target; several give a *QueryError with ErrQueryAmbiguous listing them;
// none, a *QueryError with ErrQueryNoMatch naming the words tried. A query
// that names a namespace and no object resolves to the whole namespace.
//
// Resolve only reads: object metadata lists, and the namespaces' objects
// when a tie needs the analyzers.
func (c *Config) Resolve(ctx context.Context, q Query) (*Resolution, error) {
	p := parseQuery(q.Text)
	res := &Resolution{Query: q.Text, Kinds: p.kindWords, Symptoms: p.symptomLabels()}
	if len(p.tokens) == 0 {
		return nil, &QueryError{Query: q.Text, Err: ErrQueryNoMatch, Detail: "the text is empty"}
	}
	known, err := c.namespaceNames(ctx)
	if err != nil {
		return nil, err
	}
	ns, weak, err := p.namespace(q, known, res)
	if err != nil {
		return nil, err
	}
	scope := "all namespaces"
	if ns != "" {
		scope = "namespace " + ns
	}
	objs, err := c.queryObjects(ctx, ns)
	if ns == "" && apierrors.IsForbidden(err) && q.DefaultNamespace != "" {
		ns, scope = q.DefaultNamespace, "namespace "+q.DefaultNamespace
		res.Reasons = append(res.Reasons, fmt.Sprintf("objects cannot be listed across namespaces: searched the context's namespace %s", ns))
		objs, err = c.queryObjects(ctx, ns)
	}
	if err != nil {
		return nil, err
	}
	words := p.words(weak)
	strong := words[:len(words)-len(weak)]
	cands := matchObjects(objs, strong)
	if len(cands) == 0 && len(weak) > 0 {
		cands = matchObjects(objs, words)
	}
	if len(cands) == 0 {
		if len(strong) == 0 && ns != "" {
			res.Namespace = ns
			res.Reasons = append(res.Reasons, "the text names no object: the whole namespace is diagnosed")
			return res, nil
		}
		return nil, &QueryError{Query: q.Text, Err: ErrQueryNoMatch, Scope: scope, Words: words}
	}
	if len(p.kinds) > 0 {
		var kept []Candidate
		for _, cd := range cands {
			if p.kinds[cd.Object.Kind] {
				kept = append(kept, cd)
			}
		}
		if len(kept) > 0 {
			res.Reasons = append(res.Reasons, fmt.Sprintf("the kind words %s keep %s", quoteAll(p.kindWords), kindList(p.kinds)))
			cands = kept
		} else {
			res.Reasons = append(res.Reasons, fmt.Sprintf("no %s matches: the kind words %s are ignored", kindList(p.kinds), quoteAll(p.kindWords)))
		}
	}
	sortCandidates(cands)
	best := matchLevel(cands[0].Match)
	top := cands
	for i, cd := range cands {
		if matchLevel(cd.Match) < best {
			top = cands[:i]
			break
		}
	}
	chosen, why, err := c.breakTie(ctx, p, top)
	if err != nil {
		return nil, err
	}
	res.Candidates = cands[:min(len(cands), maxListed)]
	for i := range res.Candidates {
		for _, t := range top {
			if t.Object == res.Candidates[i].Object {
				res.Candidates[i].Findings = t.Findings
			}
		}
	}
	if chosen == nil {
		return nil, &QueryError{Query: q.Text, Err: ErrQueryAmbiguous, Scope: scope, Words: words, Candidates: top}
	}
	res.Reasons = append(res.Reasons, describeMatch(*chosen, len(top)))
	res.Reasons = append(res.Reasons, why...)
	obj := chosen.Object
	res.Object, res.Namespace = &obj, obj.Namespace
	if obj.Namespace == "" {
		// A node: its pods' namespace, when the query names one.
		res.Namespace = ns
	}
	return res, nil
}

func describeMatch(c Candidate, tied int) string {
	var s string
	switch c.Match {
	case "exact":
		s = fmt.Sprintf("%q is the name of %s", c.Word, objName(c.Object))
	case "prefix", "suffix":
		s = fmt.Sprintf("%q is a %s of %s at a '-'", c.Word, c.Match, objName(c.Object))
	case "contains":
		s = fmt.Sprintf("%q is part of the name of %s", c.Word, objName(c.Object))
	default:
		s = fmt.Sprintf("%q is close to the name of %s (%s)", c.Word, objName(c.Object), c.Match)
	}
	if c.Object.Namespace != "" {
		s += " in " + c.Object.Namespace
	}
	if tied == 1 {
		s += ", the best match"
	}
	return s
}

// breakTie chooses among equally good candidates: the ones with findings
// matching the symptoms, then the one whose diagnosis covers the others.
// It returns nil when they stay tied.
func (c *Config) breakTie(ctx context.Context, p *parsedQuery, top []Candidate) (*Candidate, []string, error) {
	if len(top) == 1 {
		return &top[0], nil, nil
	}
	var namespaces []string
	for _, cd := range top {
		if cd.Object.Namespace != "" && !slices.Contains(namespaces, cd.Object.Namespace) {
			namespaces = append(namespaces, cd.Object.Namespace)
		}
	}
	if len(namespaces) > maxTieNamespaces {
		return nil, nil, nil
	}
	snaps := map[string]*Snapshot{}
	findings := map[string][]Finding{}
	analyzers := c.Analyzers
	if len(analyzers) == 0 {
		analyzers = DefaultAnalyzers()
	}
	for _, ns := range namespaces {
		s, err := LoadSnapshot(ctx, c.Client, ns)
		if err != nil {
			return nil, nil, err
		}
		snaps[ns] = s
		findings[ns] = Analyze(s, analyzers...)
	}
	var why []string
	if len(p.symptoms) > 0 {
		var flagged []Candidate
		for i := range top {
			top[i].Findings = matchingFindings(top[i].Object, findings[top[i].Object.Namespace], p.symptoms)
			if len(top[i].Findings) > 0 {
				flagged = append(flagged, top[i])
			}
		}
		if len(flagged) > 0 && len(flagged) < len(top) {
			var names []string
			for _, f := range flagged {
				names = append(names, fmt.Sprintf("%s (%s)", objName(f.Object), strings.Join(f.Findings, ", ")))
			}
			why = append(why, fmt.Sprintf("of the %d equally good matches, only %s %s findings matching %s", len(top), strings.Join(names, ", "),
				map[bool]string{true: "has", false: "have"}[len(flagged) == 1], quoteAll(p.symptomLabels())))
			top = flagged
		}
	}
	if len(top) == 1 {
		return &top[0], why, nil
	}
	// An object whose diagnosis covers every other match: a workload and
	// the Service, Ingress, autoscaler of the same name.
	var covering []int
	for i, cd := range top {
		s := snaps[cd.Object.Namespace]
		if s == nil {
			continue
		}
		related := s.related(cd.Object)
		all := true
		for j, o := range top {
			if i != j && !slices.ContainsFunc(related, o.Object.SameObject) {
				all = false
				break
			}
		}
		if all {
			covering = append(covering, i)
		}
	}
	// Mutual coverage (a Service and its workload): the workload, whose
	// diagnosis includes its pods and nodes.
	if len(covering) > 1 {
		covering = slices.DeleteFunc(covering, func(i int) bool { return !workloadKinds[top[i].Object.Kind] })
	}
	if len(covering) != 1 {
		return nil, nil, nil
	}
	chosen := top[covering[0]]
	var others []string
	for _, o := range top {
		if o.Object != chosen.Object {
			others = append(others, objName(o.Object))
		}
	}
	why = append(why, fmt.Sprintf("%s matches as well as %s, and its diagnosis covers them", objName(chosen.Object), strings.Join(others, ", ")))
	return &chosen, why, nil
}

var workloadKinds = map[string]bool{"Deployment": true, "StatefulSet": true, "DaemonSet": true, "Job": true, "CronJob": true}

// matchingFindings returns the IDs of the findings on ref that match one
// of the symptoms.
func matchingFindings(ref kube.ObjectRef, fs []Finding, syms []symptom) []string {
	var out []string
	for _, f := range fs {
		on := f.Object.SameObject(ref) || (ref.Kind == "Pod" && slices.Contains(f.Pods, ref.Name))
		if !on || slices.Contains(out, f.ID) {
			continue
		}
		for _, s := range syms {
			if s.matches(f) {
				out = append(out, f.ID)
				break
			}
		}
	}
	return out
}

// Matching names.

// matchLevel ranks a match: exact > prefix or suffix > contains > similar.
func matchLevel(m string) int {
	switch m {
	case "exact":
		return 4
	case "prefix", "suffix":
		return 3
	case "contains":
		return 2
	case "":
		return 0
	}
	return 1
}

// matchName says how word matches name, "" when it does not.
func matchName(word, name string) string {
	switch {
	case word == name:
		return "exact"
	case strings.HasPrefix(name, word+"-"):
		return "prefix"
	case strings.HasSuffix(name, "-"+word):
		return "suffix"
	case len(word) >= 3 && strings.Contains(name, word):
		return "contains"
	case len(word) < 4:
		return ""
	}
	// Up to two edits (one for short words) from the name or a part of it
	// cut at a '-': "chekout" is close to "checkout-api".
	maxD := 2
	if len(word) <= 5 {
		maxD = 1
	}
	best := maxD + 1
	parts := strings.Split(name, "-")
	for i := range parts {
		for _, cand := range []string{strings.Join(parts[:i+1], "-"), strings.Join(parts[i:], "-")} {
			if d := editDistance(word, cand); d < best && d < len(cand) {
				best = d
			}
		}
	}
	if best > maxD {
		return ""
	}
	return fmt.Sprintf("similar, %d edit%s", best, map[bool]string{true: "", false: "s"}[best == 1])
}

// queryObject is an object whose name can be matched.
type queryObject struct {
	ref kube.ObjectRef
	// owned objects (the pods of a workload, the runs of a CronJob) are
	// represented by their controller unless their exact name is given.
	owned bool
}

// matchObjects returns each object's best match with the words.
func matchObjects(objs []queryObject, words []string) []Candidate {
	var out []Candidate
	for _, o := range objs {
		var best Candidate
		for _, w := range words {
			m := matchName(w, o.ref.Name)
			if matchLevel(m) > matchLevel(best.Match) {
				best = Candidate{Object: o.ref, Word: w, Match: m}
			}
		}
		if best.Match == "" || (o.owned && best.Match != "exact") {
			continue
		}
		out = append(out, best)
	}
	return out
}

// kindOrder ranks the kinds listed, workloads first.
func kindOrder(kind string) int {
	for i, k := range queryKinds {
		if k.Kind == kind {
			return i
		}
	}
	return len(queryKinds)
}

func sortCandidates(cs []Candidate) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if la, lb := matchLevel(a.Match), matchLevel(b.Match); la != lb {
			return la > lb
		}
		if a.Match != b.Match {
			return a.Match < b.Match // fewer edits first
		}
		if ka, kb := kindOrder(a.Object.Kind), kindOrder(b.Object.Kind); ka != kb {
			return ka < kb
		}
		if a.Object.Namespace != b.Object.Namespace {
			return a.Object.Namespace < b.Object.Namespace
		}
		return a.Object.Name < b.Object.Name
	})
}

// Listing.

// queryKinds are the kinds whose names a query is matched against.
var queryKinds = []schema.GroupVersionKind{
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Group: "batch", Version: "v1", Kind: "CronJob"},
	{Group: "batch", Version: "v1", Kind: "Job"},
	{Version: "v1", Kind: "Pod"},
	{Version: "v1", Kind: "Service"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"},
	{Version: "v1", Kind: "PersistentVolumeClaim"},
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"},
	{Version: "v1", Kind: "Node"},
}

// namespaceNames lists the namespaces; nil when they cannot be listed.
func (c *Config) namespaceNames(ctx context.Context) ([]string, error) {
	l := &metav1.PartialObjectMetadataList{}
	l.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "NamespaceList"})
	if err := c.Client.List(ctx, l); err != nil {
		if optionalListError(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	names := make([]string, 0, len(l.Items))
	for _, n := range l.Items {
		names = append(names, n.Name)
	}
	return names, nil
}

func optionalListError(err error) bool {
	return apierrors.IsForbidden(err) || meta.IsNoMatchError(err) || apierrors.IsNotFound(err)
}

// queryObjects lists the names of the objects of ns ("" for every
// namespace) and of the nodes. A forbidden Deployment list is returned as
// is (the caller may retry in one namespace); other kinds that cannot be
// listed are skipped.
func (c *Config) queryObjects(ctx context.Context, ns string) ([]queryObject, error) {
	var out []queryObject
	for _, gvk := range queryKinds {
		l := &metav1.PartialObjectMetadataList{}
		l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		var opts []client.ListOption
		if gvk.Kind != "Node" && ns != "" {
			opts = append(opts, client.InNamespace(ns))
		}
		if err := c.Client.List(ctx, l, opts...); err != nil {
			if gvk.Kind != "Deployment" && optionalListError(err) {
				continue
			}
			where := "all namespaces"
			if ns != "" {
				where = ns
			}
			return nil, fmt.Errorf("list %ss in %s: %w", strings.ToLower(gvk.Kind), where, err)
		}
		for _, it := range l.Items {
			ref := kube.ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: it.Namespace, Name: it.Name}
			owned := false
			if ctrl := metav1.GetControllerOf(&it); ctrl != nil {
				owned = (gvk.Kind == "Pod") || (gvk.Kind == "Job" && ctrl.Kind == "CronJob")
			}
			out = append(out, queryObject{ref: ref, owned: owned})
		}
	}
	return out, nil
}

// Reading the text.

// parsedQuery is what the words of a query were read as.
type parsedQuery struct {
	tokens []string
	// used marks tokens read as kind, symptom, filler or namespace words.
	used []bool
	// kinds are the kinds the kind words allow; kindWords the words.
	kinds     map[string]bool
	kindWords []string
	symptoms  []symptom
	// named are names given as kind/name.
	named []string
	// nsPhrases are namespaces named by a phrase, strongest first.
	nsPhrases []nsPhrase
}

type nsPhrase struct {
	name   string
	phrase string
	// token is the index of the namespace's name; -1 when it is part of
	// another token (namespace/shop).
	token int
	// strong phrases name a namespace for sure ("-n X", "namespace X",
	// "namespace/X"): one that does not exist is an error.
	strong bool
}

// kindWordKinds maps kind words (singular; plurals are accepted) to kinds.
// "pod" also means the workloads that run pods: "pods of orders" is about
// the Deployment orders.
var kindWordKinds = map[string][]string{
	"deployment": {"Deployment"}, "deploy": {"Deployment"},
	"statefulset": {"StatefulSet"}, "sts": {"StatefulSet"},
	"daemonset": {"DaemonSet"}, "ds": {"DaemonSet"},
	"pod":     {"Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"},
	"service": {"Service"}, "svc": {"Service"},
	"ingress": {"Ingress"}, "ing": {"Ingress"},
	"job":     {"Job", "CronJob"},
	"cronjob": {"CronJob"}, "cron": {"CronJob"},
	"pvc": {"PersistentVolumeClaim"}, "claim": {"PersistentVolumeClaim"}, "volume": {"PersistentVolumeClaim"},
	"persistentvolumeclaim": {"PersistentVolumeClaim"},
	"hpa":                   {"HorizontalPodAutoscaler"}, "autoscaler": {"HorizontalPodAutoscaler"},
	"horizontalpodautoscaler": {"HorizontalPodAutoscaler"},
	"node":                    {"Node"},
}

// kindWord returns the singular kind word of t ("pods" → "pod").
func kindWord(t string) (string, bool) {
	if _, ok := kindWordKinds[t]; ok {
		return t, true
	}
	for _, suffix := range []string{"es", "s"} {
		if s, ok := strings.CutSuffix(t, suffix); ok {
			if _, ok := kindWordKinds[s]; ok && s != "ds" {
				return s, true
			}
		}
	}
	return "", false
}

// symptom is a group of symptom words and the findings they describe.
type symptom struct {
	label string
	// prefixes of the words (crash matches crashing, crashes, crashloop).
	prefixes []string
	// ids are the findings described; nil means any Critical or Warning
	// finding (failing, broken, down).
	ids []string
}

func (s symptom) matches(f Finding) bool {
	if s.ids == nil {
		return f.Severity != SeverityInfo
	}
	return slices.Contains(s.ids, f.ID)
}

var symptomGroups = []symptom{
	{"crash", []string{"crash", "restart", "backoff"}, []string{FindingCrashLoop, FindingOOMKilled, FindingProbeFailed}},
	{"oom", []string{"oom", "memory", "out-of-memory"}, []string{FindingOOMKilled, FindingNodePressure}},
	{"image", []string{"pull", "image", "registry", "errimage"}, []string{FindingImagePull}},
	{"pending", []string{"pending", "schedul", "unschedul", "stuck"}, []string{FindingUnschedulable, FindingPVCPending}},
	{"unreachable", []string{"503", "502", "504", "404", "endpoint", "unreachable", "unavailable", "traffic", "backend", "refused", "timeout", "timing"},
		[]string{FindingServiceNoPods, FindingServiceTargetPort, FindingServiceNoReady, FindingSelectorNearlyMatches, FindingIngressBackend, FindingIngressClass,
			FindingNotReady, FindingUnavailable, FindingProbePort, FindingNodeNotReady}},
	{"tls", []string{"certificate", "cert", "tls", "https", "ssl"}, []string{FindingIngressTLS}},
	{"job", []string{"cron", "job"}, []string{FindingJobFailed, FindingCronJobSchedule}},
	{"not ready", []string{"ready", "readiness", "unready", "notready", "liveness", "probe", "health"},
		[]string{FindingProbeFailed, FindingProbePort, FindingNotReady, FindingNodeNotReady, FindingServiceNoReady}},
	{"config", []string{"config", "secret", "env"}, []string{FindingMissingConfigRef, FindingContainerConfig}},
	{"evicted", []string{"evict"}, []string{FindingEvicted, FindingNodePressure}},
	{"scaling", []string{"scal", "autoscal", "hpa"}, []string{FindingHPAMissingRequests, FindingHPAMissingTarget}},
	{"sync", []string{"sync", "outofsync", "gitops", "argo", "flux", "drift"}, []string{FindingGitOpsSyncFailed, FindingGitOpsUnhealthy}},
	{"failing", []string{"fail", "broken", "down", "error", "unhealthy", "degraded", "problem", "wrong", "issue"}, nil},
}

// fillers are words that are never names.
var fillers = toSet(`a an the my our your their its it this that these those is are was were be been being am
	keeps keep kept keeps still again now just very too also all any some every each
	in on of for to from at with by into onto about after before since until while
	and or but not no nor so if then than as
	why what whats how when where who which whose does do did doesn don didn isn aren wasn weren won can cant cannot could should would will
	has have had having get gets got getting seems seem seemed look looks looking
	returns return returning returned gives give giving says say saying shows show showing
	please help fix check me i we you they them he she s t ll ve re d m
	app apps application workload workloads thing things stuff cluster
	ok okay fine going happening happened hi hey anymore there here
	namespace namespaces ns`)

func toSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// tokenize lower-cases the text and splits it into words made of the
// characters of object names (and '/' for kind/name), keeping -n.
func tokenize(text string) []string {
	var out []string
	for _, raw := range strings.Fields(strings.ToLower(text)) {
		if raw == "-n" || raw == "--namespace" {
			out = append(out, "-n")
			continue
		}
		for _, pre := range []string{"--namespace=", "-n="} {
			if v, ok := strings.CutPrefix(raw, pre); ok {
				out = append(out, "-n")
				raw = v
			}
		}
		parts := strings.FieldsFunc(raw, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '/' || r == '_')
		})
		for _, t := range parts {
			if t = strings.Trim(t, ".-/_"); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

func parseQuery(text string) *parsedQuery {
	p := &parsedQuery{tokens: tokenize(text), kinds: map[string]bool{}}
	p.used = make([]bool, len(p.tokens))
	addKind := func(w string) {
		for _, k := range kindWordKinds[w] {
			p.kinds[k] = true
		}
		if !slices.Contains(p.kindWords, w) {
			p.kindWords = append(p.kindWords, w)
		}
	}
	for i, t := range p.tokens {
		if left, right, ok := strings.Cut(t, "/"); ok {
			// kind/name, namespace/name, namespace/x.
			p.used[i] = true
			switch kw, isKind := kindWord(left); {
			case isKind:
				addKind(kw)
				p.named = append(p.named, right)
			case left == "namespace" || left == "namespaces" || left == "ns":
				p.nsPhrases = append(p.nsPhrases, nsPhrase{name: right, phrase: t, token: -1, strong: true})
			default:
				p.nsPhrases = append(p.nsPhrases, nsPhrase{name: left, phrase: t, token: -1, strong: true})
				p.named = append(p.named, right)
			}
			continue
		}
		if kw, ok := kindWord(t); ok {
			addKind(kw)
			p.used[i] = true
		}
		for _, s := range symptomGroups {
			if slices.ContainsFunc(s.prefixes, func(pre string) bool { return strings.HasPrefix(t, pre) }) {
				if !slices.ContainsFunc(p.symptoms, func(x symptom) bool { return x.label == s.label }) {
					p.symptoms = append(p.symptoms, s)
				}
				p.used[i] = true
			}
		}
		if fillers[t] || isNumber(t) || len(t) < 2 {
			p.used[i] = true
		}
	}
	// Namespace phrases: "-n X", "in namespace X", "namespace X", "ns X",
	// "X namespace".
	word := func(i int) bool {
		return i >= 0 && i < len(p.tokens) && !fillers[p.tokens[i]] && p.tokens[i] != "-n" && !strings.Contains(p.tokens[i], "/")
	}
	for i, t := range p.tokens {
		switch t {
		case "-n":
			if word(i + 1) {
				p.nsPhrases = append(p.nsPhrases, nsPhrase{name: p.tokens[i+1], phrase: "-n " + p.tokens[i+1], token: i + 1, strong: true})
			}
		case "namespace", "ns":
			if word(i + 1) {
				p.nsPhrases = append(p.nsPhrases, nsPhrase{name: p.tokens[i+1], phrase: t + " " + p.tokens[i+1], token: i + 1, strong: true})
			}
			if word(i - 1) {
				p.nsPhrases = append(p.nsPhrases, nsPhrase{name: p.tokens[i-1], phrase: p.tokens[i-1] + " " + t, token: i - 1})
			}
		}
	}
	return p
}

func isNumber(t string) bool {
	for _, r := range t {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (p *parsedQuery) symptomLabels() []string {
	var out []string
	for _, s := range p.symptoms {
		out = append(out, s.label)
	}
	return out
}

// namespace decides the namespace to search ("" for every namespace),
// adds the reason to res, and returns the words naming a namespace that
// may still name an object: weak words, tried only when no other word
// matches ("shop is crashing" in namespace shop; not "in shop").
func (p *parsedQuery) namespace(q Query, known []string, res *Resolution) (string, []string, error) {
	exists := func(n string) bool { return known == nil || slices.Contains(known, n) }
	// A phrase naming an existing namespace consumes its words.
	var phrased []string
	var said []string
	for _, ph := range p.nsPhrases {
		if exists(ph.name) {
			if ph.token >= 0 {
				p.used[ph.token] = true
			}
			if !slices.Contains(phrased, ph.name) {
				phrased = append(phrased, ph.name)
				said = append(said, ph.phrase)
			}
		}
	}
	// Namespaces mentioned by name: "in X" says it is the namespace; a
	// bare mention may also be an object's name.
	var inNS, mentioned, weak []string
	for i, t := range p.tokens {
		if known == nil || p.used[i] || !slices.Contains(known, t) {
			continue
		}
		p.used[i] = true
		if i > 0 && p.tokens[i-1] == "in" {
			if !slices.Contains(inNS, t) {
				inNS = append(inNS, t)
			}
			continue
		}
		if !slices.Contains(mentioned, t) {
			mentioned = append(mentioned, t)
			weak = append(weak, t)
		}
	}
	if q.Namespace != "" {
		r := fmt.Sprintf("namespace %s: from -n", q.Namespace)
		for i, n := range append(phrased, inNS...) {
			if n != q.Namespace {
				phrase := "in " + n
				if i < len(said) {
					phrase = said[i]
				}
				r += fmt.Sprintf(", which wins over %q in the text", phrase)
				break
			}
		}
		res.Reasons = append(res.Reasons, r)
		return q.Namespace, weak, nil
	}
	if len(phrased) > 0 {
		res.Reasons = append(res.Reasons, fmt.Sprintf("namespace %s: the text says %q", phrased[0], said[0]))
		return phrased[0], weak, nil
	}
	var missing []string
	for _, ph := range p.nsPhrases {
		if ph.strong && !slices.Contains(missing, ph.name) {
			missing = append(missing, ph.name)
		}
	}
	if len(missing) > 0 && len(inNS) == 0 && len(mentioned) == 0 {
		return "", nil, &QueryError{Query: q.Text, Err: ErrQueryNoMatch, Scope: "the cluster",
			Detail: fmt.Sprintf("namespace %s does not exist", strings.Join(missing, ", "))}
	}
	switch {
	case len(inNS) == 1:
		res.Reasons = append(res.Reasons, fmt.Sprintf("namespace %s: the text says %q and a namespace has that name", inNS[0], "in "+inNS[0]))
		return inNS[0], weak, nil
	case len(inNS) == 0 && len(mentioned) == 1:
		res.Reasons = append(res.Reasons, fmt.Sprintf("namespace %s: the text mentions %q and a namespace has that name", mentioned[0], mentioned[0]))
		return mentioned[0], weak, nil
	case len(inNS)+len(mentioned) > 1:
		res.Reasons = append(res.Reasons, fmt.Sprintf("the text mentions several namespaces (%s): searched all namespaces", strings.Join(append(inNS, mentioned...), ", ")))
		return "", weak, nil
	}
	res.Reasons = append(res.Reasons, "the text names no namespace: searched all namespaces")
	return "", weak, nil
}

// words returns the words to match object names with: names given as
// kind/name, the words left (alone and joined with '-' to their
// neighbours: "checkout api" → checkout-api), then the weak words last.
func (p *parsedQuery) words(weak []string) []string {
	var out []string
	add := func(w string) {
		if w != "" && !slices.Contains(out, w) && !slices.Contains(weak, w) {
			out = append(out, w)
		}
	}
	for _, n := range p.named {
		add(n)
	}
	for i, t := range p.tokens {
		if !p.used[i] {
			add(t)
		}
	}
	// Joined neighbours: any word but fillers and namespace phrases.
	joinable := func(i int) bool {
		t := p.tokens[i]
		return !fillers[t] && t != "-n" && !strings.Contains(t, "/") && !isNumber(t)
	}
	for n := 2; n <= 3; n++ {
		for i := 0; i+n <= len(p.tokens); i++ {
			ok := true
			for j := i; j < i+n; j++ {
				ok = ok && joinable(j)
			}
			if ok {
				add(strings.Join(p.tokens[i:i+n], "-"))
			}
		}
	}
	return append(out, weak...)
}

func kindList(kinds map[string]bool) string {
	var ks []string
	for k := range kinds {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return kindOrder(ks[i]) < kindOrder(ks[j]) })
	for i, k := range ks {
		ks[i] = strings.ToLower(k) + "s"
		if strings.HasSuffix(k, "s") {
			ks[i] = strings.ToLower(k) + "es"
		}
	}
	return strings.Join(ks, ", ")
}
