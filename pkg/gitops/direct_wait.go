package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// healthOf computes kstatus for obj in dot's health words.
func healthOf(obj *unstructured.Unstructured) (string, string) {
	res, err := computeStatus(obj)
	if err != nil {
		return HealthUnknown, err.Error()
	}
	return kstatusHealth(res.Status), res.Message
}

// computeStatus is kstatus' Compute; a missing object is NotFound.
func computeStatus(obj *unstructured.Unstructured) (*status.Result, error) {
	if obj == nil {
		return &status.Result{Status: status.NotFoundStatus, Message: "not found"}, nil
	}
	return status.Compute(obj)
}

// kstatusHealth maps kstatus to dot's health words.
func kstatusHealth(s status.Status) string {
	switch s {
	case status.CurrentStatus:
		return HealthHealthy
	case status.InProgressStatus:
		return HealthProgressing
	case status.FailedStatus:
		return HealthDegraded
	}
	return HealthUnknown
}

// waitDirect polls the applied objects until kstatus says Current (deleted
// ones: gone). A Failed object ends the wait with a *WaitError (Timeout
// false); the deadline (opts.WaitTimeout or ctx's) with one whose Timeout is
// true. results are updated in place: health, message, duration from
// starts[i].
func (c *Cluster) waitDirect(ctx context.Context, results []DirectResult, starts []time.Time, opts DirectOptions) error {
	if opts.WaitTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.WaitTimeout)
		defer cancel()
	}
	begin := time.Now()
	pending := make([]int, 0, len(results))
	for i := range results {
		pending = append(pending, i)
	}
	last := map[int]string{}
	for {
		var still []int
		for _, i := range pending {
			r := &results[i]
			u, err := c.getLive(ctx, r.Object)
			if err != nil {
				// Transient errors (and the client's rate limiter refusing
				// to wait past the deadline) keep the wait going; the
				// deadline reports them. Permissions will not come back.
				if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
					return fmt.Errorf("wait for %s: %w", r.Object, err)
				}
				r.Message = err.Error()
				still = append(still, i)
				continue
			}
			if r.Action == ActionDelete {
				if u == nil {
					r.Duration = time.Since(starts[i])
					continue
				}
				r.Message = "waiting for deletion"
				if fz := u.GetFinalizers(); len(fz) > 0 {
					r.Message += " (finalizers " + strings.Join(fz, ", ") + ")"
				}
				still = append(still, i)
				continue
			}
			st := status.UnknownStatus
			switch res, err := computeStatus(u); {
			case err != nil:
				r.Health, r.Message = HealthUnknown, err.Error()
			default:
				st = res.Status
				r.Health, r.Message = kstatusHealth(st), res.Message
			}
			if msg := r.Health + ": " + r.Message; last[i] != msg {
				last[i] = msg
				opts.emit("wait", "%s %s", r.Object, msg)
			}
			switch st {
			case status.CurrentStatus:
				r.Duration = time.Since(starts[i])
				continue
			case status.FailedStatus:
				r.Duration = time.Since(starts[i])
				return &WaitError{Owner: r.Object.String(), Revision: revisionOf(u), Waited: time.Since(begin),
					Last: []string{fmt.Sprintf("%s %s: %s", r.Object, st, r.Message)}}
			}
			still = append(still, i)
		}
		pending = still
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return waitTimeout(ctx, results, pending, begin)
		case <-time.After(opts.interval()):
		}
	}
}

func waitTimeout(ctx context.Context, results []DirectResult, pending []int, begin time.Time) error {
	first := results[pending[0]]
	var lastSeen []string
	for _, i := range pending {
		r := results[i]
		lastSeen = append(lastSeen, fmt.Sprintf("%s %s: %s", r.Object, r.Health, r.Message))
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("wait for %s: %w", first.Object, ctx.Err())
	}
	owner := first.Object.String()
	if len(pending) > 1 {
		owner += fmt.Sprintf(" and %d more", len(pending)-1)
	}
	rev := "the change"
	if first.Action == ActionDelete {
		rev = "the deletion"
	}
	return &WaitError{Owner: owner, Revision: rev, Timeout: true, Waited: time.Since(begin), Last: lastSeen}
}

// revisionOf names what is waited for on obj: its generation.
func revisionOf(obj *unstructured.Unstructured) string {
	if obj == nil {
		return "the change"
	}
	return fmt.Sprintf("generation %d", obj.GetGeneration())
}

// waitDependency waits until the namespaces and CRDs applied before op are
// Current (a CRD: Established), so op's namespace or kind is served.
func (c *Cluster) waitDependency(ctx context.Context, op *directOp, done []DirectResult, opts DirectOptions) error {
	var idx []int
	var starts []time.Time
	var deps []DirectResult
	for _, r := range done {
		if r.Action != ActionDelete && (r.Object.Kind == "Namespace" && r.Object.Group == "" ||
			r.Object.Kind == "CustomResourceDefinition" && r.Object.Group == "apiextensions.k8s.io") {
			idx = append(idx, len(deps))
			deps = append(deps, r)
			starts = append(starts, time.Now())
		}
	}
	if len(idx) == 0 {
		return nil
	}
	opts.emit("wait", "%s: %s; waiting until it is served", op.ref, op.deferred)
	wo := opts
	if wo.PollInterval == 0 || wo.PollInterval > 200*time.Millisecond {
		wo.PollInterval = 200 * time.Millisecond
	}
	if err := c.waitDirect(ctx, deps, starts, wo); err != nil {
		return fmt.Errorf("%s: waiting for what it needs (%s): %w", op.ref, op.deferred, err)
	}
	return nil
}
