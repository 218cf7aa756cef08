package flux

import (
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Readiness summarises the Ready and Stalled conditions of a Flux object.
type Readiness struct {
	// Status is the Ready condition's status; Unknown when there is none.
	Status metav1.ConditionStatus `json:"status"`
	// Reason and Message are the Ready condition's.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Stale is true when the Ready condition was written for an older
	// generation than the object's: it does not describe the current spec.
	Stale bool `json:"stale,omitempty"`
	// Stalled is true when the Stalled condition is True: the controller has
	// given up until the spec or the source changes.
	Stalled        bool   `json:"stalled,omitempty"`
	StalledMessage string `json:"stalledMessage,omitempty"`
}

// ReadinessOf reads the Ready and Stalled conditions of an object at
// generation.
func ReadinessOf(generation int64, conds []metav1.Condition) Readiness {
	r := Readiness{Status: metav1.ConditionUnknown}
	if c := FindCondition(conds, meta.ReadyCondition); c != nil {
		r.Status, r.Reason, r.Message = c.Status, c.Reason, c.Message
		r.Stale = c.ObservedGeneration != 0 && c.ObservedGeneration < generation
	}
	if c := FindCondition(conds, meta.StalledCondition); c != nil && c.Status == metav1.ConditionTrue {
		r.Stalled = true
		r.StalledMessage = c.Message
		if r.StalledMessage == "" {
			r.StalledMessage = c.Reason
		}
	}
	return r
}

// IsReady reports whether Ready is True for the current generation.
func (r Readiness) IsReady() bool { return r.Status == metav1.ConditionTrue && !r.Stale }

// Terminal reports whether the controller reports a failure it will not get
// past by waiting: Stalled, or Ready=False for the current generation with a
// reason other than the transient ones (see TransientReason).
func (r Readiness) Terminal() bool {
	if r.Stalled {
		return true
	}
	return r.Status == metav1.ConditionFalse && !r.Stale && !TransientReason(r.Reason)
}

// String renders "Ready=False (HealthCheckFailed): <message>".
func (r Readiness) String() string {
	s := "Ready=" + string(r.Status)
	if r.Reason != "" {
		s += " (" + r.Reason + ")"
	}
	if r.Message != "" {
		s += ": " + r.Message
	}
	if r.Stale {
		s += " [for an older generation]"
	}
	if r.Stalled {
		s += fmt.Sprintf("; Stalled: %s", r.StalledMessage)
	}
	return s
}

// TransientReason reports whether a Ready=False reason means "not yet" rather
// than "failed": the reconciliation is in progress, waits for a dependency,
// or waits for a source artifact that is being produced.
func TransientReason(reason string) bool {
	switch reason {
	case "", meta.ProgressingReason, meta.ProgressingWithRetryReason, meta.DependencyNotReadyReason,
		meta.ArtifactFailedReason:
		return true
	}
	return false
}

// FindCondition returns the condition of type t, or nil.
func FindCondition(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}
