// Package gitops is dot's one delivery layer. The three pipelines (recommend,
// remediate, operations) describe what they want as a ChangeSet; this package
// decides how it reaches the cluster:
//
//  1. find the owner of each object (an Argo CD Application, a Flux
//     Kustomization or HelmRelease),
//  2. resolve the owner's source (repository, branch, path),
//  3. locate the file that defines the object and edit it minimally
//     (subpackage manifest),
//  4. commit and push without force, re-applying the edit on a new tip when a
//     push is rejected,
//  5. trigger the controller and wait until the pushed revision is applied and
//     healthy,
//  6. or, when nothing owns the object or GitOps is off, apply it server-side.
//
// Library code here never prints; progress is reported through callbacks and
// outcomes are returned as data (Plan, Result, SyncReport).
package gitops
