package gitsource

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

const (
	// defaultTimeout is spec.timeout's default in the CRD.
	defaultTimeout = 60 * time.Second
	// reasonUnsupported marks spec fields this stand-in does not implement.
	reasonUnsupported = "UnsupportedByTestBed"
	// maxMessage keeps condition messages well below the API's 32768 limit.
	maxMessage = 4096
)

// reconciler does the work of one GitRepository reconciliation.
type reconciler struct {
	client  client.Client
	storage *storage
	baseURL string // artifact URLs are baseURL + "/" + path
	now     func() time.Time
	log     logr.Logger
}

// failure is a failed reconciliation: the condition reason and the error.
type failure struct {
	reason string
	err    error
}

func fail(reason string, err error) *failure { return &failure{reason: reason, err: err} }

// Reconcile implements reconcile.Reconciler. It records the outcome in the
// object's status and requeues after spec.interval; failures are also
// returned so controller-runtime retries them with backoff, as
// source-controller does.
func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := &sourcev1.GitRepository{}
	if err := r.client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted: drop its artifacts. (source-controller uses a
			// finalizer; a test bed can afford to clean up afterwards.)
			return ctrl.Result{}, r.storage.removeAll(req.Namespace, req.Name)
		}
		return ctrl.Result{}, err
	}
	if !obj.DeletionTimestamp.IsZero() || obj.Spec.Suspend {
		return ctrl.Result{}, nil
	}

	orig := obj.DeepCopy()
	f := r.reconcile(ctx, obj)
	now := metav1.NewTime(r.now())
	setCondition := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		apimeta.SetStatusCondition(&obj.Status.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: msg,
			ObservedGeneration: obj.Generation, LastTransitionTime: now,
		})
	}
	art := obj.Status.Artifact
	if art != nil && r.storage.exists(art.Path) {
		setCondition(sourcev1.ArtifactInStorageCondition, metav1.ConditionTrue, meta.SucceededReason,
			fmt.Sprintf("stored artifact for revision '%s'", art.Revision))
	} else {
		apimeta.RemoveStatusCondition(&obj.Status.Conditions, sourcev1.ArtifactInStorageCondition)
	}
	var msg string
	if f == nil {
		apimeta.RemoveStatusCondition(&obj.Status.Conditions, sourcev1.FetchFailedCondition)
		setCondition(meta.ReadyCondition, metav1.ConditionTrue, meta.SucceededReason,
			fmt.Sprintf("stored artifact for revision '%s'", art.Revision))
	} else {
		msg = r.redact(ctx, obj, f.err.Error())
		if len(msg) > maxMessage {
			msg = msg[:maxMessage] + "..."
		}
		setCondition(sourcev1.FetchFailedCondition, metav1.ConditionTrue, f.reason, msg)
		setCondition(meta.ReadyCondition, metav1.ConditionFalse, f.reason, msg)
	}
	if token, ok := meta.ReconcileAnnotationValue(obj.GetAnnotations()); ok {
		obj.Status.SetLastHandledReconcileRequest(token)
	}
	obj.Status.ObservedGeneration = obj.Generation

	if err := r.client.Status().Patch(ctx, obj, client.MergeFrom(orig)); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("patch status of %s: %w", req.NamespacedName, err)
	}
	if f != nil {
		return ctrl.Result{}, errors.New(msg)
	}
	return ctrl.Result{RequeueAfter: obj.GetRequeueAfter()}, nil
}

// reconcile resolves spec.ref, and when the revision is new, fetches the
// commit, stores its archive and points status.artifact at it.
func (r *reconciler) reconcile(ctx context.Context, obj *sourcev1.GitRepository) *failure {
	if err := unsupported(obj); err != nil {
		return fail(reasonUnsupported, err)
	}
	u, err := url.Parse(obj.Spec.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail(sourcev1.URLInvalidReason, fmt.Errorf("invalid url %q: only http and https URLs are supported", redactURL(obj.Spec.URL)))
	}
	timeout := defaultTimeout
	if obj.Spec.Timeout != nil && obj.Spec.Timeout.Duration > 0 {
		timeout = obj.Spec.Timeout.Duration
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	auth, err := r.auth(ctx, obj)
	if err != nil {
		return fail(sourcev1.AuthenticationFailedReason, err)
	}
	repo, remote, err := newRemote(obj.Spec.URL)
	if err != nil {
		return fail(sourcev1.GitOperationFailedReason, err)
	}
	t, err := resolve(ctx, remote, obj.Spec.Reference, auth)
	if err != nil {
		return gitFailure(fmt.Errorf("failed to determine revision: %w", err))
	}

	rel := path.Join(artifactDir(obj.Namespace, obj.Name), t.commit.String()+".tar.gz")
	prev := obj.Status.Artifact
	if prev != nil && prev.Revision == t.revision && prev.Path == rel && prev.URL == r.artifactURL(rel) && r.storage.exists(rel) {
		return nil // up to date
	}
	commit, err := fetchCommit(ctx, repo, remote, t, auth)
	if err != nil {
		return gitFailure(fmt.Errorf("failed to checkout revision %s: %w", t.revision, err))
	}
	tree, err := commit.Tree()
	if err != nil {
		return gitFailure(fmt.Errorf("failed to read tree of %s: %w", t.revision, err))
	}
	digest, size, err := r.storage.store(rel, tree)
	if err != nil {
		return fail(sourcev1.ArchiveOperationFailedReason, fmt.Errorf("failed to store artifact for revision %s: %w", t.revision, err))
	}
	obj.Status.Artifact = &meta.Artifact{
		Path:           rel,
		URL:            r.artifactURL(rel),
		Revision:       t.revision,
		Digest:         digest,
		Size:           &size,
		LastUpdateTime: metav1.NewTime(r.now()),
	}
	keep := []string{rel}
	if prev != nil {
		keep = append(keep, prev.Path) // a consumer may still be downloading it
	}
	if err := r.storage.prune(obj.Namespace, obj.Name, keep...); err != nil {
		r.log.Error(err, "prune old artifacts", "gitrepository", client.ObjectKeyFromObject(obj))
	}
	r.log.V(1).Info("stored artifact", "gitrepository", client.ObjectKeyFromObject(obj), "revision", t.revision, "digest", digest)
	return nil
}

func gitFailure(err error) *failure {
	var ae *authError
	if errors.As(err, &ae) {
		return fail(sourcev1.AuthenticationFailedReason, err)
	}
	return fail(sourcev1.GitOperationFailedReason, err)
}

func (r *reconciler) artifactURL(rel string) string { return r.baseURL + "/" + rel }

// unsupported refuses spec fields whose effect this stand-in does not
// reproduce, so a test relying on them fails loudly instead of passing on a
// different artifact. spec.ignore is the exception: it is not applied.
func unsupported(obj *sourcev1.GitRepository) error {
	s := obj.Spec
	var fields []string
	if p := obj.GetProvider(); p != sourcev1.GitProviderGeneric {
		fields = append(fields, "provider "+p)
	}
	if s.Verification != nil {
		fields = append(fields, "verify")
	}
	if len(s.Include) > 0 {
		fields = append(fields, "include")
	}
	if len(s.SparseCheckout) > 0 {
		fields = append(fields, "sparseCheckout")
	}
	if s.RecurseSubmodules {
		fields = append(fields, "recurseSubmodules")
	}
	if s.ProxySecretRef != nil {
		fields = append(fields, "proxySecretRef")
	}
	if len(fields) > 0 {
		return fmt.Errorf("spec fields not supported by the test-bed GitRepository publisher: %s", strings.Join(fields, ", "))
	}
	return nil
}

// auth reads spec.secretRef: "username"/"password" for basic auth, or
// "bearerToken".
func (r *reconciler) auth(ctx context.Context, obj *sourcev1.GitRepository) (transport.AuthMethod, error) {
	if obj.Spec.SecretRef == nil {
		return nil, nil
	}
	key := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Spec.SecretRef.Name}
	var secret corev1.Secret
	if err := r.client.Get(ctx, key, &secret); err != nil {
		return nil, fmt.Errorf("failed to get secret '%s': %w", key, err)
	}
	user, pass, token := secret.Data["username"], secret.Data["password"], secret.Data["bearerToken"]
	switch {
	case len(user) > 0 && len(token) > 0:
		return nil, fmt.Errorf("invalid '%s' secret data: both basic auth (username) and bearerToken are set", key)
	case len(user) > 0:
		return &githttp.BasicAuth{Username: string(user), Password: string(pass)}, nil
	case len(token) > 0:
		return &githttp.TokenAuth{Token: string(token)}, nil
	case len(pass) > 0:
		return nil, fmt.Errorf("invalid '%s' secret data: password without username", key)
	}
	return nil, nil
}

// redact removes credentials from a message: the user-info of spec.url and
// any secret value the message might echo.
func (r *reconciler) redact(ctx context.Context, obj *sourcev1.GitRepository, msg string) string {
	if obj.Spec.URL != "" {
		msg = strings.ReplaceAll(msg, obj.Spec.URL, redactURL(obj.Spec.URL))
	}
	if obj.Spec.SecretRef == nil {
		return msg
	}
	var secret corev1.Secret
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: obj.Spec.SecretRef.Name}, &secret); err != nil {
		return msg
	}
	for _, k := range []string{"password", "bearerToken"} {
		if v := string(secret.Data[k]); len(v) >= 3 {
			msg = strings.ReplaceAll(msg, v, "***")
		}
	}
	return msg
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable url>"
	}
	return u.Redacted()
}

// requestedAtChanged lets through updates that change the generation (spec)
// or the reconcile.fluxcd.io/requestedAt annotation, and so ignores the
// status updates the reconciler makes itself.
var requestedAtChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		if e.ObjectOld == nil || e.ObjectNew == nil {
			return false
		}
		if e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() {
			return true
		}
		oldToken, _ := meta.ReconcileAnnotationValue(e.ObjectOld.GetAnnotations())
		newToken, _ := meta.ReconcileAnnotationValue(e.ObjectNew.GetAnnotations())
		return oldToken != newToken
	},
}
