// Package gitsource is a stand-in for Flux source-controller in the local test
// bed, limited to GitRepository objects (source.toolkit.fluxcd.io/v1).
//
// source-controller cannot be built from the module proxy available here (its
// github.com/fluxcd/pkg/artifact dependency is refused), and kustomize-controller
// needs something that turns a GitRepository into a downloadable artifact. A
// Publisher does that, in-process, against any kube-apiserver with the Flux
// CRDs installed. On kind, the e2e suite uses the real source-controller.
//
// What it reproduces, i.e. the contract kustomize-controller and dot observe:
//
//   - GitRepositories in all namespaces are reconciled on creation, on spec
//     changes, when the reconcile.fluxcd.io/requestedAt annotation changes
//     (immediately), and every spec.interval. spec.suspend stops all of it.
//   - spec.ref is resolved against spec.url with go-git, with the same
//     precedence as source-controller: commit, name, semver, tag, branch
//     (branch "master" when spec.ref is empty). spec.secretRef supplies HTTP
//     basic auth ("username"/"password") or a "bearerToken"; spec.timeout
//     bounds the git operations (60s by default).
//   - status.artifact.revision uses source-controller's format:
//     "main@sha1:<sha>" for a branch, "v1.0.0@sha1:<sha>" for a tag or semver
//     match, "<name without refs/x/>@sha1:<sha>" for a ref name,
//     "sha1:<sha>" for a bare commit, "<branch>@sha1:<sha>" for a commit with
//     a branch. An annotated tag resolves to the commit it points to.
//   - The tree at the resolved commit is packed as tar.gz — regular files and
//     directories only, sorted, fixed modes and times, no .git — so a commit
//     always yields the same bytes. It is stored at
//     gitrepository/<namespace>/<name>/<sha>.tar.gz under the storage
//     directory, served over HTTP (Options.Addr, loopback by default), and
//     recorded in status.artifact: path, url, revision,
//     digest "sha256:<hex of the served bytes>", size, lastUpdateTime. The
//     previous artifact is kept while consumers may still fetch it; older ones
//     are deleted, and all of them when the object is deleted.
//   - Conditions: on success Ready and ArtifactInStorage are True with reason
//     Succeeded and the message "stored artifact for revision '<revision>'".
//     On failure Ready is False and FetchFailed True, with reason
//     AuthenticationFailed (missing secret, rejected credentials),
//     GitOperationFailed, URLInvalid or ArchiveOperationFailed and the error
//     text, from which credentials are removed; the last good artifact stays.
//     Failures are retried with controller-runtime's backoff.
//   - status.observedGeneration is set on every reconciliation, and
//     status.lastHandledReconcileAt is copied from the requestedAt annotation.
//
// What it does not do: OCIRepository, Bucket, HelmRepository, HelmChart and
// ExternalArtifact; ssh URLs; commit signature verification (spec.verify),
// spec.include, spec.sparseCheckout, spec.recurseSubmodules,
// spec.proxySecretRef and cloud providers — objects using them get
// Ready=False with reason UnsupportedByTestBed rather than a silently
// different artifact; spec.ignore and .sourceignore files are not applied
// (every regular file is packed), and source-controller's default exclusions
// (CI configs, images, archives) are not either; spec.ref.commit must be a
// full sha; semver ranges use github.com/blang/semver syntax (">=1.0.0 <2.0.0",
// "1.x"), not the Masterminds syntax Flux accepts ("~1.0", "^1"); no
// finalizers, events, metrics, artifact metadata or Reconciling/Stalled
// conditions; no leader election.
package gitsource
