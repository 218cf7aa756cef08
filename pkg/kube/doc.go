// Package kube builds Kubernetes clients for dot from kubeconfig flags: a
// controller-runtime client whose scheme knows core types, Flux's and dot's
// minimal Argo CD types, a REST mapper, and object references.
package kube
