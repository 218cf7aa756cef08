// Package remediate diagnoses a failing workload with deterministic analyzers
// (pods, workloads, services, storage, GitOps owners), explains the root cause
// with evidence, and proposes a minimal fix as a ChangeSet with a risk level
// and a confidence. After delivery it re-runs the analyzers to verify the fix.
// An LLM provider is optional. Not implemented yet (issue 8).
package remediate
