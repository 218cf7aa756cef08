// Package manifest finds where, in a checked-out Git repository, an object
// and each of its fields are defined, and changes exactly that place.
//
// A Source describes what an owner (Argo CD Application, Flux
// Kustomization) renders: a path inside a checkout, rendered as a plain
// directory or with kustomize, plus the owner's own rendering options
// (Overrides: target namespace, images, patches, post-build substitution).
// Locate answers "where does Deployment prod/web come from, and which layer
// sets spec.replicas". Plan computes a minimal, verified edit; Apply also
// writes it. PlanCreate/PlanRemove add or remove a document.
//
// # Rendering
//
// Plain directories are read as Argo CD reads them: .yaml, .yml and .json
// files, recursively when asked, multi-document files and List kinds, with
// namespace defaulting for namespaced kinds. Kustomize sources are
// rendered in memory with sigs.k8s.io/kustomize/api/krusty over a
// read-only view of the checkout (nothing is written while planning):
//
//   - build metadata (originAnnotations, transformerAnnotations) is switched
//     on for the top kustomization, so kustomize reports the file each
//     object came from, generated objects' generator, and the transformers
//     applied;
//   - every resource document is served with a marker annotation naming its
//     file and document index, so objects map back to documents exactly,
//     whatever prefixes, suffixes or namespaces the overlays add; markers
//     and build metadata are stripped from the rendered objects;
//   - the owner's overrides are merged into the top kustomization the way
//     Flux's generator and Argo CD's "kustomize edit" calls do; a Flux path
//     without a kustomization file gets the one Flux generates;
//   - remote bases and Helm chart generators are left out (dot renders
//     offline); an object found nowhere else is reported as ErrOutsideRepo
//     naming them;
//   - Flux post-build substitution is applied after the build.
//
// # Attribution
//
// For a field, dot lists every layer that mentions it, from the highest
// precedence down, following kustomize's own order: owner overrides
// (post-build variables, images, replicas, patches, namespace...), then for
// each kustomization from the source's down to the one listing the defining
// file: its replacements, images, replicas, JSON 6902 patches, annotations,
// labels, name prefix/suffix, namespace, patches and strategic-merge
// patches, then its components; the defining document comes last. The
// effective layer is the highest one whose own value is the rendered value
// (a layer whose value cannot be read is probed: dot sets a marker value in
// memory, re-renders and looks for it). Lower layers are reported as
// shadowed.
//
// # Where edits go
//
// An edit goes to the effective layer: an overlay's replicas: entry beats
// the base, an images: entry beats the container image, a patch beats the
// document it patches. Layers that live in the owner object return
// ErrOwnerOverride with the owner layer's Location, so the caller can
// change the owner instead. When the effective layer is in a file shared
// with other deployments (a base also included by another overlay), or when
// nothing sets the field and the defining document is shared, the edit goes
// to a strategic-merge patch in the overlay the source points at: an
// existing patch of the object if there is one, else a new
// <kind>-<name>-patch.yaml listed in its patches:. WithSharedEdits allows
// editing shared files instead. When the chosen place does not take the
// value (another layer rewrites it), the overlay patch is tried next.
//
// # Editing bytes
//
// Files are never decoded into structs and re-encoded. The yaml.v3 node
// tree only locates things; edits are byte splices: a scalar is replaced
// in place (its quoting style and any trailing comment are kept), new keys
// and list items are inserted after their last sibling with the file's
// indentation and sequence style, deletions remove exactly the lines of the
// entry. Values YAML would re-type ("yes", "on", "1.20", "0755", "null",
// timestamps) are quoted; JSON files get JSON syntax; inline patches in a
// literal block (patch: |) are edited inside the block. Lists are matched
// by key: containers, initContainers, env, volumes, imagePullSecrets by
// name, ports by containerPort (or port), volumeMounts by mountPath.
//
// # Verification
//
// Every edit is re-rendered before it is accepted: the target object must
// equal the object before the edit with exactly the edited field changed,
// and no other object may change (WithCollateral accepts and reports other
// changes, e.g. an images: entry shared by two Deployments). Otherwise the
// edit fails with ErrVerify and nothing is written. EditResult lists only
// files whose bytes change; Write re-checks that they did not change on
// disk since the plan and replaces them atomically.
//
// # Safety
//
// Reads are confined to the checkout (symlinks leading out of it fail);
// writes never go through a symlink, outside the checkout or into .git
// (ErrUnsafePath). Secrets with data or stringData in plain text are
// refused (ErrPlainSecret) with what to do instead (SOPS, SealedSecret,
// ExternalSecret); SOPS-encrypted documents are never edited (ErrEncrypted).
//
// # Errors
//
// Failures wrap one of the sentinels (ErrNotFound, ErrAmbiguous,
// ErrOutsideRepo, ErrConflict, ErrPlainSecret, ErrEncrypted,
// ErrOwnerOverride, ErrShared, ErrUnsafePath, ErrVerify, ErrUnsupported,
// ErrExists) in an *Error carrying the file, line, what was searched and,
// for conflicts, the expected and actual values.
//
// # Limits
//
// Not edited (located and reported instead): replacements, vars, external
// transformer plugins, generators (configMapGenerator, secretGenerator),
// YAML anchors and merge keys, inline patches written as quoted strings.
// kustomize itself prints deprecation warnings for patchesStrategicMerge,
// patchesJson6902 and vars to the process's stderr; dot rewrites bases,
// imageTags and commonLabels in memory to their equivalent modern forms so
// those do not warn. A plain-directory Locate only parses files containing
// the object's name.
package manifest
