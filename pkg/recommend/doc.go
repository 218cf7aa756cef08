// Package recommend turns an intent ("web app from ghcr.io/acme/shop:1.4 on
// port 8080, 3 replicas") or an image into validated Kubernetes manifests
// fitted to the target cluster: it parses the intent into a typed Intent,
// scans the cluster's capabilities, ranks solutions, asks the questions that
// matter, generates manifests from Go templates and hands them to the gitops
// package as a ChangeSet of creates. Not implemented yet (issue 9).
package recommend
