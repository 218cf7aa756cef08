// Package flux holds what dot needs to read and nudge Flux objects: parsing
// the revisions Flux writes into status (main@sha1:<sha> and the legacy
// main/<sha>), summarising Ready/Stalled conditions, and requesting a
// reconciliation through the reconcile.fluxcd.io/requestedAt annotation.
//
// It uses Flux's own API types (kustomize-controller, helm-controller,
// source-controller) and never imports a Flux controller.
package flux
