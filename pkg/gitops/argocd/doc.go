// Package argocd holds dot's minimal typed copy of Argo CD's Application and
// AppProject (group argoproj.io, version v1alpha1) and helpers that read Argo
// CD state: resource tracking, sync and health.
//
// Why a copy: the argo-cd module cannot be imported next to the Flux APIs the
// module proxy serves (argo-cd v2.14 pulls k8s.io/kubernetes v1.31, which
// imports k8s.io/api packages removed in v0.32; argo-cd v3 needs a
// gitops-engine version the proxy refuses), and importing v2 alone pulls about
// 1,200 packages into the binary. Kargo keeps a similar subset for the same
// reasons.
//
// Only the fields dot reads or writes are declared; they are JSON-compatible
// with the CRD. Fields dot does not know are not kept by these structs, so dot
// never writes an Application with Update: it changes Applications with merge
// or JSON patches built from the fields it means to change, and unknown fields
// survive.
//
// +kubebuilder:object:generate=true
// +groupName=argoproj.io
package argocd
