package argocd

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Application is the subset of Argo CD's Application that dot reads and writes.
// +kubebuilder:object:root=true
type Application struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec      ApplicationSpec   `json:"spec"`
	Status    ApplicationStatus `json:"status,omitempty"`
	Operation *Operation        `json:"operation,omitempty"`
}

// ApplicationList is a list of Applications.
// +kubebuilder:object:root=true
type ApplicationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Application `json:"items"`
}

// ApplicationSpec is where an Application's manifests come from and go to.
type ApplicationSpec struct {
	Source          *ApplicationSource     `json:"source,omitempty"`
	Sources         []ApplicationSource    `json:"sources,omitempty"`
	Destination     ApplicationDestination `json:"destination"`
	Project         string                 `json:"project"`
	SyncPolicy      *SyncPolicy            `json:"syncPolicy,omitempty"`
	SourceHydrator  *SourceHydrator        `json:"sourceHydrator,omitempty"`
	RevisionHistory *int64                 `json:"revisionHistoryLimit,omitempty"`
}

// HasMultipleSources reports whether the Application uses spec.sources.
func (s *ApplicationSpec) HasMultipleSources() bool { return len(s.Sources) > 0 }

// GetSources returns the Application's sources in order: spec.sources when
// set, otherwise spec.source alone.
func (s *ApplicationSpec) GetSources() []ApplicationSource {
	if len(s.Sources) > 0 {
		return s.Sources
	}
	if s.Source != nil {
		return []ApplicationSource{*s.Source}
	}
	return nil
}

// ApplicationSource is one repository (Git or Helm) an Application renders.
type ApplicationSource struct {
	RepoURL        string                      `json:"repoURL"`
	Path           string                      `json:"path,omitempty"`
	TargetRevision string                      `json:"targetRevision,omitempty"`
	Chart          string                      `json:"chart,omitempty"`
	Ref            string                      `json:"ref,omitempty"`
	Name           string                      `json:"name,omitempty"`
	Helm           *ApplicationSourceHelm      `json:"helm,omitempty"`
	Kustomize      *ApplicationSourceKustomize `json:"kustomize,omitempty"`
	Directory      *ApplicationSourceDirectory `json:"directory,omitempty"`
	Plugin         *apiextensionsv1.JSON       `json:"plugin,omitempty"`
}

// ApplicationSourceHelm holds Helm options of a source.
type ApplicationSourceHelm struct {
	ValueFiles   []string              `json:"valueFiles,omitempty"`
	Values       string                `json:"values,omitempty"`
	ValuesObject *apiextensionsv1.JSON `json:"valuesObject,omitempty"`
	ReleaseName  string                `json:"releaseName,omitempty"`
	Parameters   []HelmParameter       `json:"parameters,omitempty"`
	Namespace    string                `json:"namespace,omitempty"`
}

// HelmParameter is a Helm --set parameter.
type HelmParameter struct {
	Name        string `json:"name,omitempty"`
	Value       string `json:"value,omitempty"`
	ForceString bool   `json:"forceString,omitempty"`
}

// ApplicationSourceKustomize holds kustomize options of a source. They act as
// a layer above the repository: an image set here beats the repository's.
type ApplicationSourceKustomize struct {
	NamePrefix             string                 `json:"namePrefix,omitempty"`
	NameSuffix             string                 `json:"nameSuffix,omitempty"`
	Images                 []string               `json:"images,omitempty"`
	CommonLabels           map[string]string      `json:"commonLabels,omitempty"`
	CommonAnnotations      map[string]string      `json:"commonAnnotations,omitempty"`
	Namespace              string                 `json:"namespace,omitempty"`
	Replicas               []KustomizeReplica     `json:"replicas,omitempty"`
	Patches                []apiextensionsv1.JSON `json:"patches,omitempty"`
	Components             []string               `json:"components,omitempty"`
	ForceCommonLabels      bool                   `json:"forceCommonLabels,omitempty"`
	ForceCommonAnnotations bool                   `json:"forceCommonAnnotations,omitempty"`
}

// KustomizeReplica overrides the replicas of a named workload.
type KustomizeReplica struct {
	Name  string               `json:"name"`
	Count apiextensionsv1.JSON `json:"count"`
}

// ApplicationSourceDirectory holds options of a plain directory source.
type ApplicationSourceDirectory struct {
	Recurse bool                  `json:"recurse,omitempty"`
	Include string                `json:"include,omitempty"`
	Exclude string                `json:"exclude,omitempty"`
	Jsonnet *apiextensionsv1.JSON `json:"jsonnet,omitempty"`
}

// ApplicationDestination is the cluster and namespace an Application deploys to.
type ApplicationDestination struct {
	Server    string `json:"server,omitempty"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// SourceHydrator configures Argo CD's source hydrator: dot edits the dry
// source, never the hydrated branch.
type SourceHydrator struct {
	DrySource  DrySource  `json:"drySource"`
	SyncSource SyncSource `json:"syncSource"`
	HydrateTo  *HydrateTo `json:"hydrateTo,omitempty"`
}

// DrySource is the source of unrendered manifests.
type DrySource struct {
	RepoURL        string `json:"repoURL"`
	TargetRevision string `json:"targetRevision"`
	Path           string `json:"path"`
}

// SyncSource is where hydrated manifests are synced from.
type SyncSource struct {
	TargetBranch string `json:"targetBranch"`
	Path         string `json:"path"`
}

// HydrateTo is the branch hydrated manifests are pushed to.
type HydrateTo struct {
	TargetBranch string `json:"targetBranch"`
}

// SyncPolicy controls when and how a sync is performed.
type SyncPolicy struct {
	Automated   *SyncPolicyAutomated  `json:"automated,omitempty"`
	SyncOptions []string              `json:"syncOptions,omitempty"`
	Retry       *apiextensionsv1.JSON `json:"retry,omitempty"`
}

// SyncPolicyAutomated enables automated sync.
type SyncPolicyAutomated struct {
	Prune      bool  `json:"prune,omitempty"`
	SelfHeal   bool  `json:"selfHeal,omitempty"`
	AllowEmpty bool  `json:"allowEmpty,omitempty"`
	Enabled    *bool `json:"enabled,omitempty"`
}

// Operation is a requested operation; dot only starts syncs.
type Operation struct {
	Sync        *SyncOperation     `json:"sync,omitempty"`
	InitiatedBy OperationInitiator `json:"initiatedBy,omitempty"`
	Info        []Info             `json:"info,omitempty"`
}

// SyncOperation asks the controller to sync to a revision.
type SyncOperation struct {
	Revision    string   `json:"revision,omitempty"`
	Revisions   []string `json:"revisions,omitempty"`
	Prune       bool     `json:"prune,omitempty"`
	SyncOptions []string `json:"syncOptions,omitempty"`
}

// OperationInitiator says who started an operation.
type OperationInitiator struct {
	Username  string `json:"username,omitempty"`
	Automated bool   `json:"automated,omitempty"`
}

// Info is a name/value pair attached to an operation.
type Info struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ApplicationStatus is what the controller observed and did.
type ApplicationStatus struct {
	Resources           []ResourceStatus       `json:"resources,omitempty"`
	Sync                SyncStatus             `json:"sync,omitempty"`
	Health              HealthStatus           `json:"health,omitempty"`
	Conditions          []ApplicationCondition `json:"conditions,omitempty"`
	ReconciledAt        *metav1.Time           `json:"reconciledAt,omitempty"`
	OperationState      *OperationState        `json:"operationState,omitempty"`
	ObservedAt          *metav1.Time           `json:"observedAt,omitempty"`
	SourceType          string                 `json:"sourceType,omitempty"`
	SourceTypes         []string               `json:"sourceTypes,omitempty"`
	ControllerNamespace string                 `json:"controllerNamespace,omitempty"`
}

// ResourceStatus is one managed resource as the controller sees it.
type ResourceStatus struct {
	Group           string        `json:"group,omitempty"`
	Version         string        `json:"version,omitempty"`
	Kind            string        `json:"kind,omitempty"`
	Namespace       string        `json:"namespace,omitempty"`
	Name            string        `json:"name,omitempty"`
	Status          string        `json:"status,omitempty"`
	Health          *HealthStatus `json:"health,omitempty"`
	Hook            bool          `json:"hook,omitempty"`
	RequiresPruning bool          `json:"requiresPruning,omitempty"`
}

// SyncStatus compares the live state with the desired state.
type SyncStatus struct {
	Status     string     `json:"status"`
	ComparedTo ComparedTo `json:"comparedTo,omitempty"`
	Revision   string     `json:"revision,omitempty"`
	Revisions  []string   `json:"revisions,omitempty"`
}

// ComparedTo is what the sync status was compared against.
type ComparedTo struct {
	Source      *ApplicationSource     `json:"source,omitempty"`
	Sources     []ApplicationSource    `json:"sources,omitempty"`
	Destination ApplicationDestination `json:"destination"`
}

// HealthStatus is a health status and its message.
type HealthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// ApplicationCondition is a condition of an Application, e.g. ComparisonError.
type ApplicationCondition struct {
	Type               string       `json:"type"`
	Message            string       `json:"message"`
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
}

// OperationState is the state of the current or last operation.
type OperationState struct {
	Operation  Operation            `json:"operation"`
	Phase      string               `json:"phase"`
	Message    string               `json:"message,omitempty"`
	SyncResult *SyncOperationResult `json:"syncResult,omitempty"`
	StartedAt  metav1.Time          `json:"startedAt"`
	FinishedAt *metav1.Time         `json:"finishedAt,omitempty"`
	RetryCount int64                `json:"retryCount,omitempty"`
}

// SyncOperationResult is the result of a sync.
type SyncOperationResult struct {
	Resources []ResourceResult `json:"resources,omitempty"`
	Revision  string           `json:"revision"`
	Revisions []string         `json:"revisions,omitempty"`
}

// ResourceResult is what a sync did to one resource.
type ResourceResult struct {
	Group     string `json:"group"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Status    string `json:"status,omitempty"`
	Message   string `json:"message,omitempty"`
	HookPhase string `json:"hookPhase,omitempty"`
	SyncPhase string `json:"syncPhase,omitempty"`
}

// AppProject is the subset of Argo CD's AppProject dot needs to create a
// project in test environments and to read its limits.
// +kubebuilder:object:root=true
type AppProject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AppProjectSpec `json:"spec"`
}

// AppProjectList is a list of AppProjects.
// +kubebuilder:object:root=true
type AppProjectList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AppProject `json:"items"`
}

// AppProjectSpec lists what a project may deploy, and where.
type AppProjectSpec struct {
	SourceRepos                []string                 `json:"sourceRepos,omitempty"`
	Destinations               []ApplicationDestination `json:"destinations,omitempty"`
	Description                string                   `json:"description,omitempty"`
	ClusterResourceWhitelist   []metav1.GroupKind       `json:"clusterResourceWhitelist,omitempty"`
	NamespaceResourceBlacklist []metav1.GroupKind       `json:"namespaceResourceBlacklist,omitempty"`
	SourceNamespaces           []string                 `json:"sourceNamespaces,omitempty"`
}

// Well-known values.
const (
	SyncStatusSynced    = "Synced"
	SyncStatusOutOfSync = "OutOfSync"
	SyncStatusUnknown   = "Unknown"

	HealthHealthy     = "Healthy"
	HealthProgressing = "Progressing"
	HealthDegraded    = "Degraded"
	HealthSuspended   = "Suspended"
	HealthMissing     = "Missing"
	HealthUnknown     = "Unknown"

	OperationRunning     = "Running"
	OperationTerminating = "Terminating"
	OperationFailed      = "Failed"
	OperationError       = "Error"
	OperationSucceeded   = "Succeeded"

	// AnnotationRefresh asks the controller to refresh an Application.
	AnnotationRefresh = "argocd.argoproj.io/refresh"
	// AnnotationTrackingID is the annotation of annotation-based tracking.
	AnnotationTrackingID = "argocd.argoproj.io/tracking-id"
	// DefaultInstanceLabel is the label of label-based tracking.
	DefaultInstanceLabel = "app.kubernetes.io/instance"
)
