package recommend

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/kube"
)

// FieldManager is the field manager of dot's server-side dry runs.
const FieldManager = "dot"

// Failure is one object the API server rejected.
type Failure struct {
	Object kube.ObjectRef `json:"object"`
	// Message is the API server's own message.
	Message string `json:"message"`
}

// ValidationError lists every object the API server rejected.
type ValidationError struct {
	Failures []Failure
}

func (e *ValidationError) Error() string {
	var s []string
	for _, f := range e.Failures {
		s = append(s, fmt.Sprintf("%s: %s", f.Object, f.Message))
	}
	return "the API server rejects the manifests: " + strings.Join(s, "; ")
}

// ValidateOptions tune Validate.
type ValidateOptions struct {
	// FallbackNamespace replaces the objects' namespace when it does not
	// exist yet (the owner creates it on first sync); empty keeps it.
	FallbackNamespace string
}

// Validate sends every object to the API server as a server-side apply
// with dryRun=All: schema, defaulting, admission (Pod Security, quotas,
// webhooks) run, nothing is stored. Every rejection is collected into a
// *ValidationError; transport errors are returned as they are.
func Validate(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, opts ValidateOptions) error {
	var failures []Failure
	for _, o := range objs {
		obj := o.DeepCopy()
		if opts.FallbackNamespace != "" && obj.GetNamespace() != "" {
			obj.SetNamespace(opts.FallbackNamespace)
		}
		err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(FieldManager), client.ForceOwnership, client.DryRunAll)
		if err == nil {
			continue
		}
		ref := kube.RefOf(o)
		var status apierrors.APIStatus
		switch {
		case meta.IsNoMatchError(err):
			failures = append(failures, Failure{Object: ref, Message: fmt.Sprintf("the cluster does not serve %s", o.GetObjectKind().GroupVersionKind())})
		case errors.As(err, &status) && !isTransient(err):
			failures = append(failures, Failure{Object: ref, Message: status.Status().Message})
		default:
			return fmt.Errorf("dry-run %s: %w", ref, err)
		}
	}
	if len(failures) > 0 {
		return &ValidationError{Failures: failures}
	}
	return nil
}

func isTransient(err error) bool {
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) || apierrors.IsUnauthorized(err)
}
