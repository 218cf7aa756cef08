package remediate

import (
	"fmt"
	"sort"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dot-ai/dot/pkg/kube"
)

// jobAnalyzer reports failed Jobs with the reason their last failed pod
// gives (exit code, OOMKilled, deadline), and CronJobs whose schedule is
// invalid or never fires. A CronJob's failed runs are reported once, on the
// CronJob, from its newest failed Job: the CronJob is what Git holds.
type jobAnalyzer struct{}

func (jobAnalyzer) Name() string { return "jobs" }

// cronJobEventReasons are the CronJob controller's events about a schedule
// or time zone it cannot use.
var cronJobEventReasons = map[string]bool{"UnparseableSchedule": true, "InvalidSchedule": true, "UnknownTimeZone": true, "InvalidTimeZone": true}

func (jobAnalyzer) Analyze(s *Snapshot) []Finding {
	var out []Finding
	newest := map[string]*batchv1.Job{} // per CronJob, its newest failed Job
	var order []string
	for i := range s.Jobs {
		j := &s.Jobs[i]
		if jobFailed(j) == nil {
			continue
		}
		key := "Job/" + j.Name
		if c := metav1.GetControllerOf(j); c != nil && c.Kind == "CronJob" {
			key = "CronJob/" + c.Name
		}
		if cur, ok := newest[key]; !ok || cur.CreationTimestamp.Before(&j.CreationTimestamp) {
			if !ok {
				order = append(order, key)
			}
			newest[key] = j
		}
	}
	for _, key := range order {
		j := newest[key]
		cron := strings.HasPrefix(key, "CronJob/")
		if cron && s.laterRunSucceeded(j) {
			continue // history: the CronJob has run fine since
		}
		out = append(out, jobFinding(s, j, cron))
	}
	for i := range s.CronJobs {
		if f, ok := scheduleFinding(s, &s.CronJobs[i]); ok {
			out = append(out, f)
		}
	}
	return out
}

// laterRunSucceeded reports whether a Job of the same CronJob created
// after j completed.
func (s *Snapshot) laterRunSucceeded(j *batchv1.Job) bool {
	owner := metav1.GetControllerOf(j)
	for i := range s.Jobs {
		o := &s.Jobs[i]
		c := metav1.GetControllerOf(o)
		if c == nil || c.Kind != "CronJob" || c.Name != owner.Name || !j.CreationTimestamp.Before(&o.CreationTimestamp) {
			continue
		}
		for _, cond := range o.Status.Conditions {
			if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
				return true
			}
		}
	}
	return false
}

func jobFailed(j *batchv1.Job) *batchv1.JobCondition {
	for i, c := range j.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

func jobFinding(s *Snapshot, j *batchv1.Job, ofCronJob bool) Finding {
	jref := refTo(gvJob, j.Namespace, j.Name)
	obj := jref
	if ofCronJob {
		obj = refTo(gvCronJob, j.Namespace, metav1.GetControllerOf(j).Name)
	}
	c := jobFailed(j)
	f := Finding{ID: FindingJobFailed, Object: obj, Severity: SeverityCritical,
		Summary:  fmt.Sprintf("job %s failed (%s)", j.Name, c.Reason),
		Evidence: []Evidence{ev("condition", jref, &c.LastTransitionTime, "Failed=True (%s): %s", c.Reason, c.Message)},
		Facts:    map[string]string{"job": j.Name, "reason": c.Reason}}
	switch c.Reason {
	case "BackoffLimitExceeded":
		f.Detail = fmt.Sprintf("Its pods failed %d time(s), past spec.backoffLimit %d; the failed pod's last termination says why.", j.Status.Failed, ptrInt32(j.Spec.BackoffLimit))
	case "DeadlineExceeded":
		f.Detail = fmt.Sprintf("The job ran longer than spec.activeDeadlineSeconds (%ds) and its pods were stopped.", ptrInt64(j.Spec.ActiveDeadlineSeconds))
	default:
		f.Detail = "The job controller gave up on it; the condition and the failed pod say why."
	}
	// The newest failed pod of the job tells why it failed.
	var failed []*corev1.Pod
	for i := range s.Pods {
		p := &s.Pods[i]
		if ctrl := metav1.GetControllerOf(p); ctrl != nil && ctrl.Kind == "Job" && ctrl.Name == j.Name && p.Status.Phase == corev1.PodFailed {
			failed = append(failed, p)
		}
	}
	sort.SliceStable(failed, func(a, b int) bool { return failed[b].CreationTimestamp.Before(&failed[a].CreationTimestamp) })
	if len(failed) > 0 {
		p := failed[0]
		f.Pods = []string{p.Name}
		why := ""
		if p.Status.Reason != "" {
			why = fmt.Sprintf("pod %s failed: %s %s", p.Name, p.Status.Reason, p.Status.Message)
			f.Facts["podReason"] = p.Status.Reason
		}
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && (t.ExitCode != 0 || t.Reason == "OOMKilled") {
				why = fmt.Sprintf("container %s terminated: %s (exit code %d)", cs.Name, orUnknown(t.Reason), t.ExitCode)
				if m := strings.TrimSpace(t.Message); m != "" {
					why += ": " + firstLine(m)
				}
				f.Container = cs.Name
				f.Facts["podReason"], f.Facts["exitCode"] = t.Reason, fmt.Sprint(t.ExitCode)
				break
			}
		}
		if why != "" {
			f.Evidence = append(f.Evidence, ev("status", podRef(p), nil, "%s", strings.TrimSpace(why)))
			f.Summary = fmt.Sprintf("job %s failed (%s): %s", j.Name, c.Reason, strings.TrimSpace(why))
		}
	}
	for _, e := range s.eventsFor("Job", j.Name) {
		if e.Type == corev1.EventTypeWarning && len(f.Evidence) <= maxPodEvidence {
			f.Evidence = append(f.Evidence, eventEvidence(jref, e))
		}
	}
	return f
}

func ptrInt64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func scheduleFinding(s *Snapshot, cj *batchv1.CronJob) (Finding, bool) {
	ref := refTo(gvCronJob, cj.Namespace, cj.Name)
	f := Finding{ID: FindingCronJobSchedule, Object: ref, Severity: SeverityCritical,
		Facts: map[string]string{"schedule": cj.Spec.Schedule}}
	var events []Evidence
	for _, e := range s.eventsFor("CronJob", cj.Name) {
		if cronJobEventReasons[e.Reason] {
			events = append(events, eventEvidence(ref, e))
		}
	}
	sched, err := parseCron(cj.Spec.Schedule)
	switch {
	case err != nil:
		f.Summary = fmt.Sprintf("schedule %q is invalid: %v", cj.Spec.Schedule, err)
		f.Detail = "The CronJob controller cannot parse the schedule, so the job never runs. Use five fields (minute hour day-of-month month day-of-week) or a macro such as @daily; set the time zone in spec.timeZone, not in the schedule."
	case !sched.fires():
		f.Summary = fmt.Sprintf("schedule %q never fires: no month has that day", cj.Spec.Schedule)
		f.Detail = "The day-of-month field names only days that the months of the schedule do not have (such as 30 February), so the job never runs."
	case len(events) > 0:
		f.Summary = "the CronJob controller rejects its schedule or time zone"
		f.Detail = "The controller reports the schedule or spec.timeZone unusable (an unknown time zone name, usually), so the job never runs."
	default:
		return Finding{}, false
	}
	f.Evidence = append([]Evidence{ev("spec", ref, nil, "schedule %q%s", cj.Spec.Schedule, timeZoneText(cj))}, events...)
	return f, true
}

func timeZoneText(cj *batchv1.CronJob) string {
	if cj.Spec.TimeZone == nil {
		return ""
	}
	return ", timeZone " + *cj.Spec.TimeZone
}

// cronSchedule is a parsed five-field schedule: the allowed values of each
// field, and whether day-of-month and day-of-week were restricted.
type cronSchedule struct {
	minute, hour, dom, month, dow uint64
	domAny, dowAny                bool
}

var cronMacros = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

var cronFields = []struct {
	name     string
	min, max int
	names    []string // names for min, min+1, ...
}{
	{"minute", 0, 59, nil},
	{"hour", 0, 23, nil},
	{"day of month", 1, 31, nil},
	{"month", 1, 12, []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{"day of week", 0, 6, []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// parseCron parses a schedule the way the CronJob controller's standard
// parser reads it: five fields with *, ?, ranges, steps, lists and month
// and weekday names, or a macro. Time zones belong in spec.timeZone (the
// API server rejects TZ= in the schedule), so they are an error here.
func parseCron(spec string) (*cronSchedule, error) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, fmt.Errorf("a time zone in the schedule (use spec.timeZone)")
	}
	if strings.HasPrefix(spec, "@") {
		m, ok := cronMacros[spec]
		if !ok {
			if strings.HasPrefix(spec, "@every ") {
				return &cronSchedule{domAny: true, dowAny: true, dom: ^uint64(0), month: ^uint64(0)}, nil
			}
			return nil, fmt.Errorf("unknown macro %s", spec)
		}
		spec = m
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, fmt.Errorf("%d fields, want 5 (minute hour day-of-month month day-of-week)", len(fields))
	}
	var bits [5]uint64
	for i, fd := range cronFields {
		b, err := parseCronField(fields[i], fd.min, fd.max, fd.names)
		if err != nil {
			return nil, fmt.Errorf("%s field %q: %w", fd.name, fields[i], err)
		}
		bits[i] = b
	}
	return &cronSchedule{minute: bits[0], hour: bits[1], dom: bits[2], month: bits[3], dow: bits[4],
		domAny: fields[2] == "*" || fields[2] == "?", dowAny: fields[4] == "*" || fields[4] == "?"}, nil
}

func parseCronField(field string, lo, hi int, names []string) (uint64, error) {
	var bits uint64
	for _, part := range strings.Split(field, ",") {
		rng, step := part, 1
		if r, st, ok := strings.Cut(part, "/"); ok {
			n, err := cronNumber(st, nil, 0)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("bad step %q", st)
			}
			rng, step = r, n
		}
		from, to := lo, hi
		switch {
		case rng == "*" || rng == "?":
		default:
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if from, err = cronNumber(a, names, lo); err != nil {
				return 0, err
			}
			to = from
			if isRange {
				if to, err = cronNumber(b, names, lo); err != nil {
					return 0, err
				}
			} else if step > 1 {
				to = hi // "5/15" means 5 to the end, every 15
			}
		}
		if from < lo || to > hi || from > to {
			return 0, fmt.Errorf("%d-%d is outside %d-%d", from, to, lo, hi)
		}
		for v := from; v <= to; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, nil
}

func cronNumber(s string, names []string, lo int) (int, error) {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return lo + i, nil
		}
	}
	n := 0
	if s == "" {
		return 0, fmt.Errorf("empty value")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%q is not a number", s)
		}
		n = n*10 + int(r-'0')
		if n > 1000 {
			return 0, fmt.Errorf("%q is out of range", s)
		}
	}
	return n, nil
}

// daysIn is the most days each month can have (February: 29).
var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// fires reports whether the schedule ever matches a day: when both day
// fields are restricted either one matching is enough, so only a
// restricted day of month with an unrestricted day of week can make it
// never fire.
func (c *cronSchedule) fires() bool {
	if c.domAny || !c.dowAny {
		return true
	}
	for m := 1; m <= 12; m++ {
		if c.month&(1<<uint(m)) == 0 {
			continue
		}
		for d := 1; d <= daysIn[m]; d++ {
			if c.dom&(1<<uint(d)) != 0 {
				return true
			}
		}
	}
	return false
}

// jobsOf returns the Jobs of a CronJob.
func (s *Snapshot) jobsOf(cronJob string) []kube.ObjectRef {
	var out []kube.ObjectRef
	for i := range s.Jobs {
		if c := metav1.GetControllerOf(&s.Jobs[i]); c != nil && c.Kind == "CronJob" && c.Name == cronJob {
			out = append(out, refTo(gvJob, s.Jobs[i].Namespace, s.Jobs[i].Name))
		}
	}
	return out
}
