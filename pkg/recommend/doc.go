// Package recommend turns an intent ("web app from ghcr.io/acme/shop:1.4 on
// port 8080, 3 replicas, public at shop.example.com") into validated
// Kubernetes manifests fitted to the target cluster, and into a ChangeSet of
// creates the gitops package delivers.
//
// The steps, each usable on its own:
//
//   - ParseIntent reads the common shapes of an intent deterministically
//     into a typed Intent (no model; an LLM, if ever added, fills the same
//     struct, never free-form YAML).
//   - Scanner.Scan reads the cluster's Capabilities: ingress classes,
//     Gateway API, storage classes, operators (cert-manager, CloudNativePG),
//     Argo CD and Flux, the namespace's Pod Security level, LimitRanges and
//     quotas.
//   - Recommend ranks Solutions (each with a one-line why) and lists the
//     Questions with defaults from the scan; Recommendation.Resolve applies
//     Answers and returns a Spec, or a *MissingAnswersError.
//   - Generate renders hardened manifests from Go code; Files lays them out
//     raw or as kustomize base + overlay.
//   - Validate dry-runs every object on the API server (server-side apply,
//     dryRun=All) and returns its messages in a *ValidationError.
//   - ChangeSet, CoveringOwner and OwnerObjects prepare delivery: files at a
//     repository path, plus an Argo CD Application or Flux GitRepository and
//     Kustomization when nothing deploys that path yet.
package recommend
