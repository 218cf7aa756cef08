package manifest

import (
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/dot-ai/dot/pkg/kube"
)

// SourceKind says how the controller renders the source path.
type SourceKind string

const (
	// KindAuto renders with kustomize when the path holds a kustomization
	// file (kustomization.yaml, kustomization.yml or Kustomization), and as
	// a plain directory otherwise; with GenerateKustomization set (Flux) a
	// path without a kustomization file is rendered as kustomize would a
	// generated one.
	KindAuto SourceKind = ""
	// KindDirectory is a plain directory of manifests (Argo CD directory
	// source).
	KindDirectory SourceKind = "Directory"
	// KindKustomize is a kustomization (Argo CD kustomize source, Flux
	// Kustomization).
	KindKustomize SourceKind = "Kustomize"
)

// Source describes where an owner's manifests live inside a checked-out
// repository and how its controller renders them.
type Source struct {
	// Root is the repository checkout. Every read and write stays inside it.
	Root string
	// Path is the directory inside the repository the owner points at
	// (Argo CD spec.source.path, Flux spec.path); "" or "." is the root.
	Path string
	// Kind selects the renderer; KindAuto detects it.
	Kind SourceKind
	// Recurse includes sub-directories of a plain directory (Argo CD
	// spec.source.directory.recurse).
	Recurse bool
	// Include and Exclude filter the files of a plain directory by glob on
	// the path relative to Path, with {a,b} alternatives (Argo CD
	// directory.include / directory.exclude).
	Include, Exclude string
	// GenerateKustomization models Flux: a path without a kustomization file
	// is rendered as if it held one listing every .yaml/.yml file below it
	// (sub-directories holding a kustomization file are listed as
	// directories and not descended into).
	GenerateKustomization bool
	// DefaultNamespace is the namespace the controller gives namespaced
	// objects that have none (Argo CD spec.destination.namespace). For Flux
	// set Overrides.Namespace from spec.targetNamespace instead: it also
	// replaces namespaces set in the files.
	DefaultNamespace string
	// Overrides are the owner's own rendering options, layered on top of
	// the repository by the controller.
	Overrides *Overrides
	// Namespaced tells whether a kind is namespaced; nil uses a built-in
	// list of cluster-scoped kinds. Pass a REST mapper's answer for CRDs.
	Namespaced func(gk schema.GroupKind) bool
}

// Overrides are rendering options held by the owner object rather than by
// the repository: Flux Kustomization spec.targetNamespace, spec.namePrefix,
// spec.nameSuffix, spec.patches, spec.images, spec.components and
// spec.postBuild; Argo CD spec.source.kustomize.namespace, namePrefix,
// nameSuffix, images, replicas, patches, components, commonLabels and
// commonAnnotations. Fields they set are reported with Layer LayerOwnerSpec
// and edits to them fail with ErrOwnerOverride.
type Overrides struct {
	// Owner names the owner for messages, e.g. "Kustomization flux-system/apps".
	Owner string
	// Namespace is Flux targetNamespace / Argo CD kustomize.namespace.
	Namespace  string
	NamePrefix string
	NameSuffix string
	Images     []Image
	Replicas   []Replica
	Patches    []Patch
	// Components are paths relative to Source.Path.
	Components        []string
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
	// Substitute is Flux spec.postBuild.substitute.
	Substitute map[string]string
	// SubstituteFrom names the ConfigMaps/Secrets of
	// spec.postBuild.substituteFrom; their values are unknown to dot, so a
	// variable not in Substitute is attributed to them.
	SubstituteFrom []string
}

// Image is a kustomize images: entry.
type Image struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// Replica is a kustomize replicas: entry.
type Replica struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// Patch is a kustomize patch with an optional target selector.
type Patch struct {
	Patch  string    `json:"patch"`
	Target *Selector `json:"target,omitempty"`
}

// Selector selects patch targets.
type Selector struct {
	Group              string `json:"group,omitempty"`
	Version            string `json:"version,omitempty"`
	Kind               string `json:"kind,omitempty"`
	Name               string `json:"name,omitempty"`
	Namespace          string `json:"namespace,omitempty"`
	LabelSelector      string `json:"labelSelector,omitempty"`
	AnnotationSelector string `json:"annotationSelector,omitempty"`
}

// Layer names what sets a value: the defining document or one of the
// transformations layered over it.
type Layer string

// Layers, from the bottom up.
const (
	LayerBase            Layer = "base"           // the document defining the object
	LayerGenerator       Layer = "generator"      // configMapGenerator / secretGenerator entry
	LayerPatchSMP        Layer = "patch-smp"      // strategic-merge patch
	LayerPatchJSON6902   Layer = "patch-json6902" // JSON 6902 patch operation
	LayerNamespace       Layer = "namespace"      // kustomization namespace:
	LayerNamePrefix      Layer = "name-prefix"    // namePrefix:
	LayerNameSuffix      Layer = "name-suffix"    // nameSuffix:
	LayerLabels          Layer = "labels"         // commonLabels: / labels:
	LayerAnnotations     Layer = "annotations"    // commonAnnotations:
	LayerReplicas        Layer = "replicas"       // replicas: entry
	LayerImages          Layer = "images"         // images: entry
	LayerReplacements    Layer = "replacements"   // replacements: (located, not edited)
	LayerDefaultNS       Layer = "default-namespace"
	LayerOwnerSpec       Layer = "owner-spec"    // set by the owner object
	LayerNew             Layer = "new"           // nothing sets it yet; where it will be added
	LayerNewPatch        Layer = "new-patch"     // a new patch the edit will create
	LayerUnknown         Layer = "unknown"       // rendered value unexplained
	LayerKustomizeConfig Layer = "kustomization" // a kustomization file itself
)

// Location says where a value (or an object) is defined.
type Location struct {
	// File is repo-relative, with forward slashes. Empty for owner-spec.
	File string `json:"file,omitempty"`
	// Line is 1-based; 0 when the value does not exist yet.
	Line int `json:"line,omitempty"`
	// DocumentIndex is the 0-based index of the YAML document in File.
	DocumentIndex int `json:"documentIndex"`
	// YAMLPath is the path inside that document, e.g. spec.replicas or
	// images[name=nginx].newTag.
	YAMLPath string `json:"yamlPath,omitempty"`
	// Layer is what kind of definition this is.
	Layer Layer `json:"layer"`
	// Reason explains the choice in one sentence.
	Reason string `json:"reason,omitempty"`
}

// FieldEdit is one change to one field of an object.
type FieldEdit struct {
	// Path is the field, e.g. MustParseFieldPath("spec.replicas").
	Path FieldPath
	// Value is the new value: a scalar, a map (merged key by key) or a list
	// (keyed lists such as containers or env are merged item by item,
	// other lists are replaced). nil is refused: use Delete.
	Value any
	// Delete removes the field instead of setting it.
	Delete bool
	// Expect, when not nil, is the value the caller believes the field has
	// now (compare-and-swap). When the rendered value differs, the edit
	// fails with ErrConflict.
	Expect any
	// ExpectAbsent makes the edit fail with ErrConflict when the field is set.
	ExpectAbsent bool
}

// FieldLocation is where one field's final value comes from.
type FieldLocation struct {
	Field FieldPath `json:"field"`
	// Set reports whether the field has a value in the rendered object.
	Set bool `json:"set"`
	// Value is the rendered value.
	Value any `json:"value,omitempty"`
	// Location is the effective definition: the highest-precedence layer
	// setting the field, or for an unset field where it would be added.
	Location Location `json:"location"`
	// Shadowed lists lower-precedence definitions the effective one overrides.
	Shadowed []Location `json:"shadowed,omitempty"`
}

// Located is the answer of Locate.
type Located struct {
	// Object is the rendered identity of the object.
	Object kube.ObjectRef `json:"object"`
	// Definition is the document that defines the object.
	Definition Location `json:"definition"`
	// Transformations lists the kustomize transformers applied to the
	// object, as reported by kustomize's build metadata.
	Transformations []string `json:"transformations,omitempty"`
	// Fields holds one entry per requested field.
	Fields []FieldLocation `json:"fields,omitempty"`
	// Notes carries remarks about the rendering (remote bases skipped...).
	Notes []string `json:"notes,omitempty"`
}

// FileChange is one file an edit changes.
type FileChange struct {
	// Path is repo-relative with forward slashes.
	Path string
	// Before is nil for a created file; After is nil for a deleted one.
	Before, After []byte
}

// Created reports whether the change creates the file.
func (c FileChange) Created() bool { return c.Before == nil && c.After != nil }

// Deleted reports whether the change deletes the file.
func (c FileChange) Deleted() bool { return c.After == nil }
