// Package e2e holds dot's end-to-end suites (build tag e2e). They run against
// the local environment started by package cluster (a real kube-apiserver,
// kwok nodes, Flux's kustomize-controller, Argo CD and a git server over HTTP
// on loopback), or against a kind cluster named by DOT_TEST_KUBECONFIG.
package e2e
