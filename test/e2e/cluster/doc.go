// Package cluster starts and stops dot's local test environment: a real
// Kubernetes control plane with fake nodes, a git server, and the Flux and
// Argo CD controllers, all as processes on the loopback interface. It is
// used by the e2e suite (test/e2e) and by `make demo` (test/e2e/cmd/dotenv).
//
// The binaries come from hack/testbin.sh (`make testbin`), which builds them
// from Go modules, so no container runtime is needed:
//
//   - etcd and kube-apiserver (TLS with a CA generated per environment,
//     static bearer tokens, RBAC), kube-controller-manager, kube-scheduler;
//   - kwok, which makes the Node objects created here look like working
//     kubelets, so pods get scheduled, become Running/Ready, and
//     Deployments become Available;
//   - a git smart-HTTP server (package internal/gitserver), optionally with
//     basic auth;
//   - Flux: its CRDs, kustomize-controller, and the GitRepository artifact
//     publisher of package gitsource standing in for source-controller,
//     which cannot be built from the module proxy;
//   - Argo CD v2.14: its CRDs, settings, the default AppProject, redis,
//     repo-server and application-controller (not the API server or UI).
//
// Every port is chosen free at start, so several environments can run side
// by side. Each process gets its own process group and its output goes to
// Dir/logs/<component>.log; Stop ends exactly those process groups. On a
// kind cluster, the real Flux and Argo CD are used instead (see
// docs/testbed.md).
package cluster
