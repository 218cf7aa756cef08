// Package remediate diagnoses failing workloads and proposes minimal fixes.
//
// The pipeline has three steps, each usable on its own:
//
//   - Diagnose reads a namespace once into a Snapshot (pods, events,
//     workloads, jobs and cron jobs, services, ingresses, disruption
//     budgets, storage, autoscalers, the nodes the pods run on, the names
//     and keys of ConfigMaps and Secrets — never Secret values) and runs
//     deterministic,
//     read-only analyzers over it. Each Finding says what is wrong, on which
//     object, with the evidence it was concluded from (container states,
//     conditions, events, spec fields), and, when Argo CD or Flux delivers the
//     object, its owner and source.
//   - Config.Resolve turns a problem in words ("checkout in shop keeps
//     crashing") into a Target, deterministically: namespace, kind and
//     symptom words, names matched against the objects that exist; it
//     lists the candidates instead of guessing when several match equally.
//   - Propose runs the fix rules: each rule maps one kind of finding to a
//     minimal gitops.ChangeSet with a risk level, a confidence and an
//     explanation, or, when no rule is sure, to an explanation and options
//     without any change. Set fields carry the observed value as
//     compare-and-swap Expect, so a concurrent edit becomes a conflict.
//   - An optional Advisor (LLMAdvisor, on a pkg/llm provider) is asked about
//     findings no rule covers; its answer is a typed patch, masked on the
//     way out, checked against the live object on the way back, with a
//     capped confidence.
//   - Remediation.Run selects the fixes allowed by the mode (manual approval,
//     or automatic within a risk and confidence bound), validates each
//     change with a server-side dry run, delivers it through the gitops
//     Deliverer (Git when an owner exists, server-side apply otherwise), then
//     re-runs the analyzers on the same objects until the findings are gone
//     or the verification time runs out. Findings that get advice only are
//     located in their owner's source (the file:line of the field they are
//     about, else of the object), read from a shallow clone.
//
// Nothing here prints: results are data (Diagnosis, Fix, Report) that the
// CLI renders. No network access other than the Kubernetes API and Git is
// needed.
package remediate
