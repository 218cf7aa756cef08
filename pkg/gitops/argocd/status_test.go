package argocd

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

const (
	sha   = "3f786850e387550fdab836ed7e6dc881de23001b"
	sha2  = "a54d88e06612d820bc3be72877c74f257b561b19"
	dry   = "89e6c98d92887913cadf06b2adb97f26cde4849b"
	chart = "1.4.2"
)

func mustTime(s string) *metav1.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	mt := metav1.NewTime(t)
	return &mt
}

// hydratorApp is shaped like an Application using the source hydrator, with
// fields dot's subset does not declare.
const hydratorApp = `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  project: default
  destination: {server: https://kubernetes.default.svc, namespace: prod}
  sourceHydrator:
    drySource: {repoURL: https://git.example.com/acme/deploy.git, targetRevision: main, path: apps/web}
    syncSource: {targetBranch: environments/prod, path: apps/web}
  ignoreDifferences: [{group: apps, kind: Deployment, jsonPointers: [/spec/replicas]}]
status:
  sync: {status: Synced, revision: ` + sha2 + `}
  health: {status: Healthy, lastTransitionTime: "2026-11-21T10:00:20Z"}
  sourceHydrator:
    currentOperation:
      startedAt: "2026-11-21T10:00:03Z"
      finishedAt: "2026-11-21T10:00:06Z"
      phase: Hydrated
      message: ""
      drySHA: ` + dry + `
      hydratedSHA: ` + sha2 + `
      sourceHydrator:
        drySource: {repoURL: https://git.example.com/acme/deploy.git, targetRevision: main, path: apps/web}
    lastSuccessfulOperation: {drySHA: ` + dry + `, hydratedSHA: ` + sha2 + `}
`

func TestReadApplication(t *testing.T) {
	js, err := utilyaml.ToJSON([]byte(hydratorApp))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatal(err)
	}
	app, hs, err := ReadApplication(u)
	if err != nil {
		t.Fatal(err)
	}
	if app.Spec.SourceHydrator == nil || app.Spec.SourceHydrator.SyncSource.TargetBranch != "environments/prod" || app.Status.Sync.Revision != sha2 {
		t.Errorf("app = %+v", app)
	}
	if hs == nil || hs.CurrentOperation == nil || hs.CurrentOperation.Phase != HydratePhaseHydrated ||
		hs.CurrentOperation.DrySHA != dry || hs.CurrentOperation.HydratedSHA != sha2 || hs.CurrentOperation.FinishedAt == nil ||
		hs.LastSuccessfulOperation == nil || hs.LastSuccessfulOperation.DrySHA != dry {
		t.Errorf("hydrator status = %+v", hs)
	}

	unstructured.RemoveNestedField(u.Object, "status", "sourceHydrator")
	if _, hs, err := ReadApplication(u); err != nil || hs != nil {
		t.Errorf("without hydrator status: %+v, %v", hs, err)
	}
	u.Object["status"] = "not an object"
	if _, _, err := ReadApplication(u); err == nil || !strings.Contains(err.Error(), "read Application argocd/web") {
		t.Errorf("malformed status: err = %v", err)
	}
}

func TestIsCommitSHA(t *testing.T) {
	for s, want := range map[string]bool{
		sha:                     true,
		strings.ToUpper(sha):    true,
		sha + sha[:24]:          true, // SHA-256 length
		sha[:7]:                 false,
		chart:                   false,
		"HEAD":                  false,
		"":                      false,
		"g" + sha[1:]:           false,
		"main@sha1:" + sha[:30]: false,
	} {
		if got := IsCommitSHA(s); got != want {
			t.Errorf("IsCommitSHA(%q) = %v", s, got)
		}
	}
}

func TestAutoSyncEnabled(t *testing.T) {
	no, yes := false, true
	tests := []struct {
		policy *SyncPolicy
		want   bool
	}{
		{nil, false},
		{&SyncPolicy{SyncOptions: []string{"CreateNamespace=true"}}, false},
		{&SyncPolicy{Automated: &SyncPolicyAutomated{}}, true},
		{&SyncPolicy{Automated: &SyncPolicyAutomated{Enabled: &yes}}, true},
		{&SyncPolicy{Automated: &SyncPolicyAutomated{Prune: true, Enabled: &no}}, false},
	}
	for i, tt := range tests {
		a := &Application{Spec: ApplicationSpec{SyncPolicy: tt.policy}}
		if got := a.AutoSyncEnabled(); got != tt.want {
			t.Errorf("case %d: AutoSyncEnabled = %v", i, got)
		}
	}
}

func TestSyncRevisionsAndComparedSources(t *testing.T) {
	chartSrc := ApplicationSource{RepoURL: "https://charts.example.com", Chart: "shop", TargetRevision: chart}
	gitSrc := ApplicationSource{RepoURL: "https://git.example.com/acme/config.git", TargetRevision: "main", Ref: "values"}
	oldGit := ApplicationSource{RepoURL: "https://git.example.com/acme/old.git", TargetRevision: "main"}

	single := &Application{Spec: ApplicationSpec{Source: &gitSrc}, Status: ApplicationStatus{Sync: SyncStatus{Revision: sha}}}
	if got := single.SyncRevisions(); len(got) != 1 || got[0] != sha {
		t.Errorf("single SyncRevisions = %v", got)
	}
	if got := single.ComparedSources(); len(got) != 1 || got[0].RepoURL != gitSrc.RepoURL {
		t.Errorf("single ComparedSources = %v", got)
	}
	if got := (&Application{Spec: ApplicationSpec{Source: &gitSrc}}).SyncRevisions(); got != nil {
		t.Errorf("never compared: SyncRevisions = %v", got)
	}

	multi := &Application{
		Spec: ApplicationSpec{Sources: []ApplicationSource{chartSrc, gitSrc}},
		Status: ApplicationStatus{Sync: SyncStatus{Revisions: []string{chart, sha},
			ComparedTo: ComparedTo{Sources: []ApplicationSource{chartSrc, gitSrc}}}},
	}
	if got := multi.SyncRevisions(); len(got) != 2 || got[1] != sha {
		t.Errorf("multi SyncRevisions = %v", got)
	}
	srcs := multi.ComparedSources()
	if len(srcs) != 2 || srcs[0].IsGit() || !srcs[1].IsGit() {
		t.Errorf("multi ComparedSources = %+v", srcs)
	}
	// The spec gained a source since the comparison: comparedTo still lines
	// up with the revisions, the spec does not.
	multi.Spec.Sources = append([]ApplicationSource{oldGit}, multi.Spec.Sources...)
	if got := multi.ComparedSources(); len(got) != 2 || got[0].Chart != "shop" {
		t.Errorf("ComparedSources after a spec change = %+v", got)
	}
	if (ApplicationSource{RepoURL: "oci://registry.example.com/charts", Path: "."}).IsGit() {
		t.Error("an OCI source counted as Git")
	}
}

func TestOperationPendingAndHealthTrusted(t *testing.T) {
	tests := []struct {
		name             string
		app              Application
		pending, trusted bool
	}{
		{name: "never operated", trusted: true},
		{
			name:    "requested, not picked up",
			app:     Application{Operation: &Operation{Sync: &SyncOperation{Revision: sha}}},
			pending: true, trusted: true,
		},
		{
			name:    "running",
			app:     Application{Status: ApplicationStatus{OperationState: &OperationState{Phase: OperationRunning, StartedAt: *mustTime("2026-11-21T10:00:05Z")}}},
			pending: true, trusted: true,
		},
		{
			name: "finished, compared after",
			app: Application{Status: ApplicationStatus{ReconciledAt: mustTime("2026-11-21T10:00:08Z"),
				OperationState: &OperationState{Phase: OperationSucceeded, FinishedAt: mustTime("2026-11-21T10:00:07Z")}}},
			trusted: true,
		},
		{
			name: "finished, compared at the same second",
			app: Application{Status: ApplicationStatus{ReconciledAt: mustTime("2026-11-21T10:00:07Z"),
				OperationState: &OperationState{Phase: OperationSucceeded, FinishedAt: mustTime("2026-11-21T10:00:07Z")}}},
			trusted: true,
		},
		{
			name: "finished, compared before",
			app: Application{Status: ApplicationStatus{ReconciledAt: mustTime("2026-11-21T10:00:06Z"),
				OperationState: &OperationState{Phase: OperationSucceeded, FinishedAt: mustTime("2026-11-21T10:00:07Z")}}},
		},
		{
			name: "finished, never compared",
			app:  Application{Status: ApplicationStatus{OperationState: &OperationState{Phase: OperationFailed, FinishedAt: mustTime("2026-11-21T10:00:07Z")}}},
		},
	}
	for _, tt := range tests {
		if got := tt.app.OperationPending(); got != tt.pending {
			t.Errorf("%s: OperationPending = %v", tt.name, got)
		}
		if got := tt.app.HealthTrusted(); got != tt.trusted {
			t.Errorf("%s: HealthTrusted = %v", tt.name, got)
		}
	}
}

func TestOperationRevisions(t *testing.T) {
	var none *OperationState
	if none.Revisions() != nil {
		t.Error("nil state has revisions")
	}
	requested := &OperationState{Operation: Operation{Sync: &SyncOperation{Revisions: []string{chart, sha}}}}
	if got := requested.Revisions(); len(got) != 2 || got[1] != sha {
		t.Errorf("requested = %v", got)
	}
	// The result wins: a branch was asked for, a SHA was synced.
	done := &OperationState{Operation: Operation{Sync: &SyncOperation{Revision: "main"}}, SyncResult: &SyncOperationResult{Revision: sha}}
	if got := done.Revisions(); len(got) != 1 || got[0] != sha {
		t.Errorf("done = %v", got)
	}
}

func TestFailureConditions(t *testing.T) {
	for typ, want := range map[string]bool{
		ConditionComparisonError: true, ConditionInvalidSpecError: true, ConditionSyncError: true,
		"SharedResourceWarning": false, "OrphanedResourceWarning": false, "ExcludedResourceWarning": false,
	} {
		if IsFailureCondition(typ) != want {
			t.Errorf("IsFailureCondition(%s) = %v", typ, !want)
		}
	}
	for msg, want := range map[string]bool{
		`rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.96.12.7:8081: connect: connection refused"`: true,
		"Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = DeadlineExceeded desc = context deadline exceeded":       true,
		"Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown desc = `kustomize build` failed exit status 1":   false,
		"application destination server 'https://x' and namespace 'prod' do not match any of the allowed destinations in project 'team-a'":                      false,
	} {
		if TransientConditionMessage(msg) != want {
			t.Errorf("TransientConditionMessage(%q) = %v", msg, !want)
		}
	}
}

func TestResourceProblems(t *testing.T) {
	app := &Application{Status: ApplicationStatus{
		Resources: []ResourceStatus{
			{Version: "v1", Kind: "Service", Namespace: "prod", Name: "web", Status: SyncStatusSynced, Health: &HealthStatus{Status: HealthHealthy}},
			{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "prod", Name: "web", Status: SyncStatusSynced, Health: &HealthStatus{Status: HealthDegraded, Message: `Deployment "web" exceeded its progress deadline`}},
			{Version: "v1", Kind: "ConfigMap", Namespace: "prod", Name: "web-config", Status: SyncStatusOutOfSync},
			{Version: "v1", Kind: "ConfigMap", Namespace: "prod", Name: "stale", Status: SyncStatusOutOfSync, RequiresPruning: true},
			{Group: "batch", Version: "v1", Kind: "Job", Namespace: "prod", Name: "migrate", Status: SyncStatusSynced, Health: &HealthStatus{Status: HealthMissing}},
		},
		OperationState: &OperationState{Phase: OperationFailed, SyncResult: &SyncOperationResult{Resources: []ResourceResult{
			{Group: "batch", Version: "v1", Kind: "Job", Namespace: "prod", Name: "migrate", Status: "Synced", HookPhase: OperationFailed, Message: "Job has reached the specified backoff limit"},
			{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "prod", Name: "web", Status: "Synced", Message: "deployment.apps/web configured"},
		}}},
	}}
	got := app.ResourceProblems()
	var lines []string
	for _, p := range got {
		lines = append(lines, p.String())
	}
	want := []string{
		"Job prod/migrate: SyncFailed: Job has reached the specified backoff limit",
		`Deployment prod/web: Degraded: Deployment "web" exceeded its progress deadline`,
		"ConfigMap prod/web-config: OutOfSync",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("ResourceProblems =\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestSyncOperationPatch(t *testing.T) {
	git := ApplicationSource{RepoURL: "https://git.example.com/acme/deploy.git", TargetRevision: "main", Path: "apps/web"}
	chartSrc := ApplicationSource{RepoURL: "https://charts.example.com", Chart: "shop", TargetRevision: chart}
	tests := []struct {
		name string
		app  Application
		req  SyncOperationRequest
		want string
	}{
		{
			name: "single source pinned",
			app:  Application{Spec: ApplicationSpec{Source: &git}},
			req:  SyncOperationRequest{Revisions: []string{sha}, Username: "dot", Reason: "dot: apply " + sha, ResourceVersion: "4711"},
			want: `{"metadata":{"resourceVersion":"4711"},"operation":{"info":[{"name":"Reason","value":"dot: apply ` + sha + `"}],"initiatedBy":{"username":"dot"},"sync":{"revision":"` + sha + `"}}}`,
		},
		{
			name: "single source at its target revision, sync options kept",
			app:  Application{Spec: ApplicationSpec{Source: &git, SyncPolicy: &SyncPolicy{SyncOptions: []string{"CreateNamespace=true"}}}},
			req:  SyncOperationRequest{Username: "dot"},
			want: `{"operation":{"initiatedBy":{"username":"dot"},"sync":{"revision":"main","syncOptions":["CreateNamespace=true"]}}}`,
		},
		{
			name: "multi-source: one revision per source",
			app:  Application{Spec: ApplicationSpec{Sources: []ApplicationSource{chartSrc, git}}},
			req:  SyncOperationRequest{Revisions: []string{"", sha}, Username: "dot"},
			want: `{"operation":{"initiatedBy":{"username":"dot"},"sync":{"revisions":["1.4.2","` + sha + `"]}}}`,
		},
		{
			name: "source hydrator: no revision",
			app: Application{Spec: ApplicationSpec{SourceHydrator: &SourceHydrator{
				DrySource: DrySource{RepoURL: git.RepoURL, TargetRevision: "main", Path: "apps/web"}, SyncSource: SyncSource{TargetBranch: "environments/prod"}}}},
			req:  SyncOperationRequest{Revisions: []string{sha}, Username: "dot"},
			want: `{"operation":{"initiatedBy":{"username":"dot"},"sync":{}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SyncOperationPatch(&tt.app, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("patch =\n%s\nwant\n%s", got, tt.want)
			}
			// The patch is an Operation as the CRD defines it.
			var body struct {
				Operation Operation `json:"operation"`
			}
			if err := json.Unmarshal(got, &body); err != nil || body.Operation.InitiatedBy.Username != "dot" || body.Operation.Sync == nil {
				t.Errorf("patch does not decode as an operation: %+v, %v", body, err)
			}
		})
	}
	if _, err := SyncOperationPatch(&Application{}, SyncOperationRequest{}); err == nil {
		t.Error("no error for an Application without source")
	}
}
