package remediate

import (
	"fmt"
	"strings"
	"time"

	"github.com/dot-ai/dot/pkg/gitops"
	"github.com/dot-ai/dot/pkg/kube"
)

// Severity ranks findings: a Critical finding stops the workload from
// serving; a Warning degrades it or will; Info is context (often the
// consequence of another finding).
type Severity string

// Severities.
const (
	SeverityCritical Severity = "Critical"
	SeverityWarning  Severity = "Warning"
	SeverityInfo     Severity = "Info"
)

func (s Severity) rank() int {
	switch s {
	case SeverityCritical:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

// Finding IDs: what kind of problem a finding is. Rules match on them.
const (
	FindingOOMKilled             = "OOMKilled"
	FindingCrashLoop             = "CrashLoopBackOff"
	FindingImagePull             = "ImagePullError"
	FindingContainerConfig       = "CreateContainerConfigError"
	FindingUnschedulable         = "Unschedulable"
	FindingProbeFailed           = "ProbeFailed"
	FindingProbePort             = "ProbePortNotExposed"
	FindingEvicted               = "Evicted"
	FindingNotReady              = "PodNotReady"
	FindingUnavailable           = "UnavailableReplicas"
	FindingProgressDeadline      = "ProgressDeadlineExceeded"
	FindingReplicaFailure        = "ReplicaFailure"
	FindingServiceNoPods         = "ServiceSelectorMatchesNoPods"
	FindingServiceTargetPort     = "ServiceTargetPortMismatch"
	FindingServiceNoReady        = "ServiceNoReadyEndpoints"
	FindingPVCPending            = "PVCPending"
	FindingHPAMissingRequests    = "HPAMissingRequests"
	FindingHPAMissingTarget      = "HPAMissingTarget"
	FindingGitOpsSyncFailed      = "GitOpsSyncFailed"
	FindingGitOpsUnhealthy       = "GitOpsOwnerUnhealthy"
	FindingMissingConfigRef      = "MissingConfigReference"
	FindingSelectorNearlyMatches = "ServiceSelectorNearMiss"
	FindingIngressClass          = "IngressClassMissing"
	FindingIngressBackend        = "IngressBackendMissing"
	FindingIngressTLS            = "IngressTLSSecretMissing"
	FindingPDBBlocking           = "PDBBlocksDisruption"
	FindingPDBNoPods             = "PDBSelectsNoPods"
	FindingJobFailed             = "JobFailed"
	FindingCronJobSchedule       = "CronJobInvalidSchedule"
	FindingNodeNotReady          = "NodeNotReady"
	FindingNodePressure          = "NodePressure"
)

// Evidence is one observation a finding rests on, in the words of the
// object it was read from.
type Evidence struct {
	// Source is where it was read: status, condition, event, spec, owner.
	Source string `json:"source"`
	// Object is the object it was read from.
	Object kube.ObjectRef `json:"object"`
	// Text is the observation, e.g. "container web last terminated: OOMKilled
	// (exit code 137)".
	Text string `json:"text"`
	// Time is when it was observed by the cluster (event or transition
	// time), when known.
	Time *time.Time `json:"time,omitempty"`
}

// OwnerInfo names the GitOps owner of a finding's object and where its
// manifests live.
type OwnerInfo struct {
	// Owner is e.g. "Kustomization flux-system/web".
	Owner string `json:"owner"`
	// Object is the object the owner applies (the workload of a Pod).
	Object kube.ObjectRef `json:"object"`
	// Source is "repo@ref:path" of the owner's first source.
	Source string `json:"source,omitempty"`
	// Sync and Health are the owner's current state.
	Sync   string `json:"sync,omitempty"`
	Health string `json:"health,omitempty"`
	// File is the file:line that defines the changed field, known once a
	// fix has been planned; for a finding that gets advice only, where the
	// field it is about (else the object) is defined in the source.
	File string `json:"file,omitempty"`
}

// Finding is one diagnosed problem.
type Finding struct {
	// ID is the kind of problem (the Finding* constants).
	ID string `json:"id"`
	// Object is the object the problem is about: the workload for pod
	// problems shared by its pods, else the pod, service, claim, ...
	Object   kube.ObjectRef `json:"object"`
	Severity Severity       `json:"severity"`
	// Container is the container concerned, if any.
	Container string `json:"container,omitempty"`
	// Summary is one line; Detail explains the cause.
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Evidence []Evidence `json:"evidence"`
	// Pods are the affected pods, when the finding aggregates them.
	Pods []string `json:"pods,omitempty"`
	// Owner is the GitOps owner of Object, when there is one.
	Owner *OwnerInfo `json:"owner,omitempty"`
	// Facts are the values the rules need (observed limit, image, port,
	// reference name), keyed by name.
	Facts map[string]string `json:"facts,omitempty"`
}

// Key identifies a finding across analyses (for verification): the same
// problem on the same object and container has the same key.
func (f Finding) Key() string {
	k := f.ID + " " + f.Object.Kind + "/" + f.Object.Namespace + "/" + f.Object.Name
	if f.Container != "" {
		k += " container " + f.Container
	}
	return k
}

func (f Finding) fact(k string) string { return f.Facts[k] }

// Risk is how much a fix could break if it is wrong.
type Risk string

// Risk levels.
const (
	RiskLow    Risk = "low"
	RiskMedium Risk = "medium"
	RiskHigh   Risk = "high"
)

// ParseRisk parses low, medium or high.
func ParseRisk(s string) (Risk, error) {
	switch r := Risk(strings.ToLower(s)); r {
	case RiskLow, RiskMedium, RiskHigh:
		return r, nil
	}
	return "", fmt.Errorf("risk %q: want low, medium or high", s)
}

func (r Risk) rank() int {
	switch r {
	case RiskLow:
		return 0
	case RiskMedium:
		return 1
	}
	return 2
}

// AtMost reports whether r is no riskier than max.
func (r Risk) AtMost(max Risk) bool { return r.rank() <= max.rank() }

// Fix is what a rule proposes for a finding.
type Fix struct {
	// Rule names the rule, e.g. "raise-memory-limit".
	Rule string `json:"rule"`
	// Finding is the Key of the finding it fixes.
	Finding string `json:"finding"`
	// Title is one line; it becomes the commit subject.
	Title string `json:"title"`
	// Explanation says why this change fixes the finding.
	Explanation string  `json:"explanation"`
	Risk        Risk    `json:"risk"`
	Confidence  float64 `json:"confidence"`
	// ChangeSet is the change; nil when the rule is not sure enough to
	// change anything (then Options lists what a human could do).
	ChangeSet *gitops.ChangeSet `json:"changeSet,omitempty"`
	Options   []string          `json:"options,omitempty"`
	// Direct means the change must be applied to the cluster, never
	// through Git (deleting evicted pods: Git does not hold pods).
	Direct bool `json:"direct,omitempty"`
}

// Actionable reports whether the fix changes something.
func (f *Fix) Actionable() bool { return f.ChangeSet != nil && len(f.ChangeSet.Changes) > 0 }
