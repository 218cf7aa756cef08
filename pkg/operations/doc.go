// Package operations implements dot's day-2 verbs. Each verb is an action
// with exported option fields and a ChangeSet method that reads the live
// object, checks the request makes sense (a workload kind that scales, an HPA
// that owns replicas, a container that exists) and returns the intended
// change as a gitops.ChangeSet. Delivery — through Git when Argo CD or Flux
// owns the object, by server-side apply otherwise — is the gitops package's
// job; freeze/unfreeze act on the owner object itself.
package operations
