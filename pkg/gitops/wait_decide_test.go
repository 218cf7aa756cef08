package gitops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/dot-ai/dot/pkg/gitops/argocd"
	"github.com/dot-ai/dot/pkg/gitops/flux"
	"github.com/dot-ai/dot/pkg/kube"
)

// Commits of the fixtures (see testdata/wait/README.md).
const (
	shaOurs   = "3f786850e387550fdab836ed7e6dc881de23001b"
	shaBefore = "89e6c98d92887913cadf06b2adb97f26cde4849b"
	shaAfter  = "a54d88e06612d820bc3be72877c74f257b561b19"
	shaOther  = "c1dfd96eea8cc2b62785275bca38ac261256e278"
	// fixtureToken is the reconcile request the Flux fixtures handled.
	fixtureToken = "2026-11-21T10:00:00.5Z"
)

var waitStart = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "wait", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func loadUnstructured(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	js, err := utilyaml.ToJSON(readFixture(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return u
}

func loadApp(t *testing.T, name string) (*argocd.Application, *argocd.SourceHydratorStatus) {
	t.Helper()
	app, hs, err := argocd.ReadApplication(loadUnstructured(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return app, hs
}

var fixtureCodecs = serializer.NewCodecFactory(kube.NewScheme())

func loadTyped[T runtime.Object](t *testing.T, name string, into T) T {
	t.Helper()
	if _, _, err := fixtureCodecs.UniversalDeserializer().Decode(readFixture(t, name), nil, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return into
}

// matchOurs matches the awaited commit exactly; descendants lists commits
// that descend from it (IsAncestor's answer).
func matchOurs(descendants ...string) matchFunc {
	return func(observed string) revMatch {
		got, ok := flux.CommitOf(observed)
		if !ok {
			return revMatch{}
		}
		if flux.SameCommit(shaOurs, got) {
			return revMatch{ok: true}
		}
		for _, d := range descendants {
			if flux.SameCommit(d, got) {
				return revMatch{ok: true, descendant: true}
			}
		}
		return revMatch{}
	}
}

func ts(s string) *metav1.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	mt := metav1.NewTime(t)
	return &mt
}

func containsSub(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestDecideArgo(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		mutate  func(*argocd.Application)
		input   func(*argoInput)
		// prior are healths observed before this observation.
		prior        []string
		match        matchFunc
		want         verdict
		wantProgress string
		wantMessage  string
		check        func(t *testing.T, d decision)
	}{
		{
			name:         "synced and healthy at our commit",
			fixture:      "argo/healthy.yaml",
			want:         verdictDone,
			wantProgress: "synced at 3f78685, healthy",
			check: func(t *testing.T, d decision) {
				r := d.report
				if r.AppliedRevision != shaOurs || !r.Synced || r.SyncStatus != "Synced" || r.Health != HealthHealthy || len(r.Resources) != 0 {
					t.Errorf("report = %+v", r)
				}
			},
		},
		{
			name:         "still at the commit before",
			fixture:      "argo/old-revision.yaml",
			want:         verdictPending,
			wantProgress: "waiting for 3f78685: Application at 89e6c98 (Synced)",
			wantMessage:  "application-controller has not reconciled the Application since 2026-11-21T09:57:31Z, when the wait began or before",
			check: func(t *testing.T, d decision) {
				if d.report.Synced || d.report.AppliedRevision != shaBefore || d.startSync || d.refresh {
					t.Errorf("decision = %+v", d)
				}
			},
		},
		{
			name:         "a later push is applied: a descendant counts",
			fixture:      "argo/healthy.yaml",
			mutate:       func(a *argocd.Application) { a.Status.Sync.Revision = shaAfter },
			match:        matchOurs(shaAfter),
			want:         verdictDone,
			wantProgress: "synced at a54d88e, healthy",
		},
		{
			name:         "a later push without ancestry information is not ours",
			fixture:      "argo/healthy.yaml",
			mutate:       func(a *argocd.Application) { a.Status.Sync.Revision = shaAfter },
			want:         verdictPending,
			wantProgress: "waiting for 3f78685",
			check: func(t *testing.T, d decision) {
				if containsSub(d.report.Messages, "application-controller") {
					t.Errorf("controller blamed although it reconciled after the wait began: %q", d.report.Messages)
				}
			},
		},
		{
			name:         "health assessed before the sync finished is not trusted",
			fixture:      "argo/health-stale.yaml",
			want:         verdictPending,
			wantProgress: "waiting for health to be assessed after the sync finished",
			check: func(t *testing.T, d decision) {
				if !d.refresh {
					t.Error("no new refresh requested")
				}
			},
		},
		{
			name:    "untrusted health with a refresh still pending asks for no other",
			fixture: "argo/health-stale.yaml",
			input:   func(in *argoInput) { in.refreshPending = true },
			want:    verdictPending,
			check: func(t *testing.T, d decision) {
				if d.refresh {
					t.Error("refresh requested while one is pending")
				}
			},
		},
		{
			name:    "reconciledAt equal to finishedAt is trusted",
			fixture: "argo/health-stale.yaml",
			mutate: func(a *argocd.Application) {
				a.Status.ReconciledAt = a.Status.OperationState.FinishedAt.DeepCopy()
			},
			want: verdictDone,
		},
		{
			name:         "sync operation running",
			fixture:      "argo/sync-running.yaml",
			want:         verdictPending,
			wantProgress: "OutOfSync; sync operation Running",
			wantMessage:  "waiting for healthy state of apps/Deployment/web",
		},
		{
			name:         "synced but the operation is still running",
			fixture:      "argo/sync-running.yaml",
			mutate:       func(a *argocd.Application) { a.Status.Sync.Status = argocd.SyncStatusSynced; a.Operation = nil },
			want:         verdictPending,
			wantProgress: "synced at 3f78685, sync operation Running: waiting for healthy state of apps/Deployment/web",
		},
		{
			name:         "sync of our commit failed",
			fixture:      "argo/sync-failed.yaml",
			want:         verdictFailed,
			wantProgress: "sync operation Failed at 3f78685: one or more objects failed to apply",
			check: func(t *testing.T, d decision) {
				r := d.report
				if r.Health != HealthDegraded || len(r.Resources) != 1 || r.Resources[0].Status != "SyncFailed" ||
					!strings.Contains(r.Resources[0].Message, "spec.template.spec.containers[0].image: Required value") {
					t.Errorf("report = %+v", r)
				}
				if !containsSub(r.Messages, "Deployment prod/web: SyncFailed: Deployment.apps \"web\" is invalid") {
					t.Errorf("messages lack the failing resource: %q", r.Messages)
				}
			},
		},
		{
			name:    "a failed operation for an older revision does not fail our wait",
			fixture: "argo/sync-failed.yaml",
			mutate: func(a *argocd.Application) {
				a.Status.OperationState.SyncResult.Revision = shaBefore
				a.Status.OperationState.Operation.Sync.Revision = shaBefore
			},
			want: verdictPending,
		},
		{
			name:    "a failed operation for an older revision, then Synced at ours after it",
			fixture: "argo/healthy.yaml",
			mutate: func(a *argocd.Application) {
				a.Status.OperationState.Phase = argocd.OperationFailed
				a.Status.OperationState.SyncResult.Revision = shaBefore
				a.Status.OperationState.Operation.Sync.Revision = shaBefore
			},
			want: verdictDone,
		},
		{
			name:    "a failed operation while our own sync is queued is not judged",
			fixture: "argo/sync-failed.yaml",
			mutate: func(a *argocd.Application) {
				a.Operation = &argocd.Operation{Sync: &argocd.SyncOperation{Revision: shaOurs}, InitiatedBy: argocd.OperationInitiator{Username: "dot"}}
			},
			want:         verdictPending,
			wantProgress: "OutOfSync; sync operation Failed",
		},
		{
			name:         "transition to Degraded at our commit fails fast",
			fixture:      "argo/degraded.yaml",
			prior:        []string{HealthHealthy, HealthProgressing},
			want:         verdictFailed,
			wantProgress: `health Degraded: Deployment "web" exceeded its progress deadline`,
			check: func(t *testing.T, d decision) {
				r := d.report
				if len(r.Resources) != 1 || r.Resources[0].Object.Kind != "Deployment" || r.Resources[0].Status != HealthDegraded {
					t.Errorf("resources = %+v", r.Resources)
				}
			},
		},
		{
			name:         "Degraded before the wait and still Degraded keeps waiting",
			fixture:      "argo/degraded.yaml",
			prior:        []string{HealthDegraded},
			want:         verdictPending,
			wantProgress: "still Degraded as before the wait",
			wantMessage:  `Deployment prod/web: Degraded: Deployment "web" exceeded its progress deadline`,
		},
		{
			name:         "Progressing after the sync keeps waiting",
			fixture:      "argo/degraded.yaml",
			mutate:       func(a *argocd.Application) { a.Status.Health = argocd.HealthStatus{Status: argocd.HealthProgressing} },
			want:         verdictPending,
			wantProgress: "synced at 3f78685, health Progressing",
		},
		{
			name:         "Suspended as before the wait is done",
			fixture:      "argo/healthy.yaml",
			mutate:       func(a *argocd.Application) { a.Status.Health.Status = argocd.HealthSuspended },
			prior:        []string{argocd.HealthSuspended},
			want:         verdictDone,
			wantProgress: "Suspended as before the wait",
		},
		{
			name:         "ComparisonError raised after the wait started fails",
			fixture:      "argo/comparison-error.yaml",
			want:         verdictFailed,
			wantProgress: "ComparisonError: Failed to load target state",
			wantMessage:  "mapping values are not allowed in this context",
		},
		{
			name:    "ComparisonError from before the wait, not yet compared again",
			fixture: "argo/comparison-error.yaml",
			mutate: func(a *argocd.Application) {
				a.Status.Conditions[0].LastTransitionTime = ts("2026-11-21T09:50:00Z")
				a.Status.ReconciledAt = ts("2026-11-21T09:57:00Z")
			},
			want:        verdictPending,
			wantMessage: "ComparisonError: Failed to load target state",
		},
		{
			name:    "an old InvalidSpecError still there after comparing our commit fails",
			fixture: "argo/old-revision.yaml",
			mutate: func(a *argocd.Application) {
				a.Status.Sync.Revision = shaOurs
				a.Status.ReconciledAt = ts("2026-11-21T10:00:03Z")
				a.Status.Conditions = []argocd.ApplicationCondition{{
					Type: argocd.ConditionInvalidSpecError, Message: "application destination server 'https://kubernetes.default.svc' and namespace 'prod' do not match any of the allowed destinations in project 'team-a'",
					LastTransitionTime: ts("2026-11-20T12:00:00Z"),
				}}
			},
			want:         verdictFailed,
			wantProgress: "InvalidSpecError: application destination",
		},
		{
			name:        "ComparisonError because the repo-server restarts is transient",
			fixture:     "argo/comparison-unavailable.yaml",
			want:        verdictPending,
			wantMessage: "connection refused",
		},
		{
			name:    "warning conditions do not fail",
			fixture: "argo/healthy.yaml",
			mutate: func(a *argocd.Application) {
				a.Status.Conditions = []argocd.ApplicationCondition{{Type: "SharedResourceWarning", Message: "ConfigMap/web-config is part of applications argocd/web and argocd/web-canary", LastTransitionTime: ts("2026-11-21T10:00:05Z")}}
			},
			want:        verdictDone,
			wantMessage: "SharedResourceWarning: ConfigMap/web-config",
		},
		{
			name:         "multi-source: the Git source at our commit, the chart at its version",
			fixture:      "argo/multisource.yaml",
			want:         verdictDone,
			wantProgress: "synced at 3f78685, healthy",
			check: func(t *testing.T, d decision) {
				if d.report.AppliedRevision != shaOurs {
					t.Errorf("applied revision = %q", d.report.AppliedRevision)
				}
			},
		},
		{
			name:         "multi-source: before the refresh",
			fixture:      "argo/multisource.yaml",
			mutate:       func(a *argocd.Application) { a.Status.Sync.Revisions[1] = shaBefore },
			want:         verdictPending,
			wantProgress: "waiting for 3f78685: Application at 89e6c98",
		},
		{
			name:         "multi-source: another source of the same repository and branch lags behind",
			fixture:      "argo/multisource-two-repos.yaml",
			want:         verdictPending,
			wantProgress: "waiting for 3f78685: Application at 3f78685,89e6c98",
		},
		{
			name:         "multi-source: explicit source index",
			fixture:      "argo/multisource-two-repos.yaml",
			input:        func(in *argoInput) { in.sourceIndexes = []int{1} },
			want:         verdictDone,
			wantProgress: "synced at 3f78685",
		},
		{
			name:    "multi-source: all sources of our repository moved, the other repository is ignored",
			fixture: "argo/multisource-two-repos.yaml",
			mutate: func(a *argocd.Application) {
				a.Status.Sync.Revisions[2] = shaOurs
			},
			want: verdictDone,
		},
		{
			name:        "multi-source: explicit index out of range",
			fixture:     "argo/multisource.yaml",
			input:       func(in *argoInput) { in.sourceIndexes = []int{2} },
			want:        verdictPending,
			wantMessage: "source index 2 has no revision in status.sync (2 revisions)",
		},
		{
			name:         "source hydrator: dry commit hydrated and synced",
			fixture:      "argo/hydrator.yaml",
			want:         verdictDone,
			wantProgress: "synced at 3f78685, healthy",
		},
		{
			name:    "source hydrator: hydrated but the Application still at the previous hydrated commit",
			fixture: "argo/hydrator.yaml",
			mutate: func(a *argocd.Application) {
				a.Status.Sync.Revision = shaOther
			},
			want:         verdictPending,
			wantProgress: "3f78685 hydrated, waiting for the Application to compare the hydrated commit",
		},
		{
			name:    "manual sync: OutOfSync at our commit, dot asked to sync",
			fixture: "argo/manual-outofsync.yaml",
			input:   func(in *argoInput) { in.sync = true },
			want:    verdictPending,
			check: func(t *testing.T, d decision) {
				if !d.startSync {
					t.Error("no sync started")
				}
				if containsSub(d.report.Messages, "automated sync is off") {
					t.Errorf("manual-sync hint shown although dot syncs: %q", d.report.Messages)
				}
			},
		},
		{
			name:         "manual sync: not asked to sync, say why it never finishes",
			fixture:      "argo/manual-outofsync.yaml",
			want:         verdictPending,
			wantProgress: "3f78685 compared, OutOfSync",
			wantMessage:  "automated sync is off",
			check: func(t *testing.T, d decision) {
				if d.startSync {
					t.Error("sync started without being asked")
				}
				if d.report.AppliedRevision != shaBefore {
					t.Errorf("applied revision = %q, want the last synced one", d.report.AppliedRevision)
				}
			},
		},
		{
			name:    "manual sync: a sync dot started is not started again",
			fixture: "argo/manual-outofsync.yaml",
			input:   func(in *argoInput) { in.sync, in.syncStarted = true, true },
			want:    verdictPending,
			check: func(t *testing.T, d decision) {
				if d.startSync {
					t.Error("sync started twice")
				}
			},
		},
		{
			name:    "manual sync: never while another operation runs",
			fixture: "argo/manual-outofsync.yaml",
			mutate: func(a *argocd.Application) {
				a.Status.OperationState.Phase = argocd.OperationRunning
				a.Status.OperationState.FinishedAt = nil
			},
			input: func(in *argoInput) { in.sync = true },
			want:  verdictPending,
			check: func(t *testing.T, d decision) {
				if d.startSync {
					t.Error("sync started while an operation runs")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, hs := loadApp(t, tt.fixture)
			if tt.mutate != nil {
				tt.mutate(app)
			}
			in := argoInput{app: app, hydrator: hs, start: waitStart, want: shaOurs}
			if tt.input != nil {
				tt.input(&in)
			}
			var st decideState
			for _, h := range tt.prior {
				st.observe(h)
			}
			match := tt.match
			if match == nil {
				match = matchOurs()
			}
			d := decideArgo(in, &st, match)
			if d.verdict != tt.want {
				t.Fatalf("verdict = %v (%s), want %v; messages %q", d.verdict, d.progress, tt.want, d.report.Messages)
			}
			if !strings.Contains(d.progress, tt.wantProgress) {
				t.Errorf("progress = %q, want it to contain %q", d.progress, tt.wantProgress)
			}
			if tt.wantMessage != "" && !containsSub(d.report.Messages, tt.wantMessage) {
				t.Errorf("messages = %q, want one containing %q", d.report.Messages, tt.wantMessage)
			}
			if tt.check != nil {
				tt.check(t, d)
			}
		})
	}
}

func TestDecideArgoHydrationFailed(t *testing.T) {
	app, hs := loadApp(t, "argo/hydrator.yaml")
	hs.CurrentOperation.Phase = argocd.HydratePhaseFailed
	hs.CurrentOperation.Message = "failed to hydrate: kustomize build apps/web: missing resource deployment.yaml"
	hs.CurrentOperation.HydratedSHA = ""
	hs.LastSuccessfulOperation.DrySHA = shaBefore
	app.Status.Sync.Revision = shaOther
	d := decideArgo(argoInput{app: app, hydrator: hs, start: waitStart, want: shaOurs}, &decideState{}, matchOurs())
	if d.verdict != verdictFailed || !strings.Contains(d.progress, "hydration failed: failed to hydrate") {
		t.Fatalf("decision = %v %q", d.verdict, d.progress)
	}
}

// fluxFixtures loads a Flux decision input from fixture names.
type fluxCase struct {
	name        string
	ks, hr      string
	mutateKS    func(*kustomizev1.Kustomization)
	mutateHR    func(*helmv2.HelmRelease)
	source      string // GitRepository fixture; "" for none
	mutateSrc   func(*fluxSource)
	chart       string // HelmChart fixture
	mutateChart func(*sourcev1.HelmChart)
	parentKS    string // parent Kustomization fixture
	parentApp   string // parent Application fixture
	token       string
	objects     []string // Deployment fixtures, "-" for a missing object
	fetched     bool
	match       matchFunc

	want         verdict
	wantProgress string
	wantMessage  string
	check        func(t *testing.T, d decision)
}

func (tt fluxCase) input(t *testing.T) fluxInput {
	t.Helper()
	in := fluxInput{token: tt.token, want: shaOurs}
	if tt.ks != "" {
		in.ks = loadTyped(t, tt.ks, &kustomizev1.Kustomization{})
		if tt.mutateKS != nil {
			tt.mutateKS(in.ks)
		}
	}
	if tt.hr != "" {
		in.hr = loadTyped(t, tt.hr, &helmv2.HelmRelease{})
		if tt.mutateHR != nil {
			tt.mutateHR(in.hr)
		}
	}
	gitRepoRef := flux.ObjectRef{GroupVersionKind: sourcev1.GroupVersion.WithKind("GitRepository"), Namespace: "flux-system", Name: "flux-system"}
	if tt.source != "" {
		in.source = fluxSourceOf(gitRepoRef, loadUnstructured(t, tt.source))
		if tt.mutateSrc != nil {
			tt.mutateSrc(in.source)
		}
	}
	if tt.chart != "" {
		in.chart = loadTyped(t, tt.chart, &sourcev1.HelmChart{})
		if tt.mutateChart != nil {
			tt.mutateChart(in.chart)
		}
	}
	if tt.parentKS != "" {
		pks := loadTyped(t, tt.parentKS, &kustomizev1.Kustomization{})
		in.parent = &fluxParent{name: "Kustomization flux-system/apps", ks: pks, source: fluxSourceOf(gitRepoRef, loadUnstructured(t, "flux/gitrepository.yaml"))}
	}
	if tt.parentApp != "" {
		app, _ := loadApp(t, tt.parentApp)
		in.parent = &fluxParent{name: "Application argocd/web", app: app}
	}
	in.wantObjects = len(tt.objects)
	if tt.fetched {
		in.objectsFetched = true
		for _, o := range tt.objects {
			ref := kube.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "prod", Name: "web"}
			if o == "-" {
				in.objects = append(in.objects, observedObject{ref: ref})
				continue
			}
			in.objects = append(in.objects, observedObject{ref: ref, obj: loadUnstructured(t, o)})
		}
	}
	return in
}

func runFluxCases(t *testing.T, tests []fluxCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			match := tt.match
			if match == nil {
				match = matchOurs()
			}
			d := decideFlux(tt.input(t), &decideState{}, match)
			if d.verdict != tt.want {
				t.Fatalf("verdict = %v (%s %s), want %v; messages %q", d.verdict, d.progress, d.reason, tt.want, d.report.Messages)
			}
			if !strings.Contains(d.progress, tt.wantProgress) {
				t.Errorf("progress = %q, want it to contain %q", d.progress, tt.wantProgress)
			}
			if tt.wantMessage != "" && !containsSub(append(d.report.Messages, d.reason), tt.wantMessage) {
				t.Errorf("messages = %q, reason %q; want one containing %q", d.report.Messages, d.reason, tt.wantMessage)
			}
			if tt.check != nil {
				tt.check(t, d)
			}
		})
	}
}

func TestDecideKustomization(t *testing.T) {
	runFluxCases(t, []fluxCase{
		{
			name: "applied our commit after handling our request", ks: "flux/ks-ready.yaml", source: "flux/gitrepository.yaml", token: fixtureToken,
			want: verdictDone, wantProgress: "applied main@sha1:3f78685, ready",
			check: func(t *testing.T, d decision) {
				r := d.report
				if r.AppliedRevision != "main@sha1:"+shaOurs || !r.Synced || r.SyncStatus != "True" || r.Health != HealthHealthy {
					t.Errorf("report = %+v", r)
				}
				if !containsSub(r.Messages, "Ready=True (ReconciliationSucceeded): Applied revision: main@sha1:"+shaOurs) {
					t.Errorf("messages = %q", r.Messages)
				}
			},
		},
		{
			name: "legacy <branch>/<sha> revision", ks: "flux/ks-legacy.yaml", token: fixtureToken,
			want: verdictDone, wantProgress: "applied main@sha1:3f78685, ready",
		},
		{
			name: "without a token (not triggered) the request is not checked", ks: "flux/ks-ready.yaml",
			want: verdictDone,
		},
		{
			name: "our request not handled yet", ks: "flux/ks-ready.yaml", token: "2026-11-21T10:00:30Z",
			want: verdictPending, wantProgress: "waiting for kustomize-controller to handle the reconcile request",
			wantMessage: "the Flux kustomize-controller has not handled the reconcile request made at 2026-11-21T10:00:30Z (the last it handled was made at " +
				fixtureToken + "); if this lasts, check that it is running",
		},
		{
			name: "still at the commit before", ks: "flux/ks-behind.yaml", source: "flux/gitrepository.yaml",
			want: verdictPending, wantProgress: "waiting for 3f78685: applied main@sha1:89e6c98, source at main@sha1:3f78685",
			// The source has our commit and kustomize-controller has not
			// even attempted it: the controller is named.
			wantMessage: "the Flux kustomize-controller has not attempted main@sha1:3f78685, which GitRepository flux-system/flux-system has; if this lasts, check that it is running",
			check: func(t *testing.T, d decision) {
				if d.report.Synced || !d.pollOthers {
					t.Errorf("decision = %+v", d)
				}
			},
		},
		{
			name: "source not at our commit yet: the controller is not blamed", ks: "flux/ks-behind.yaml", source: "flux/gitrepository.yaml",
			mutateSrc: func(s *fluxSource) { s.revision = "main@sha1:" + shaBefore },
			want:      verdictPending, wantProgress: "waiting for 3f78685: applied main@sha1:89e6c98, source at main@sha1:89e6c98",
			check: func(t *testing.T, d decision) {
				if containsSub(d.report.Messages, "kustomize-controller") {
					t.Errorf("controller blamed although the source is behind: %q", d.report.Messages)
				}
			},
		},
		{
			name: "a dependency holds the Kustomization back: the controller is not blamed", ks: "flux/ks-behind.yaml", source: "flux/gitrepository.yaml",
			mutateKS: func(ks *kustomizev1.Kustomization) {
				ks.Status.Conditions[0].Status = metav1.ConditionFalse
				ks.Status.Conditions[0].Reason = "DependencyNotReady"
				ks.Status.Conditions[0].Message = "dependency 'flux-system/infra' is not ready"
			},
			want: verdictPending, wantMessage: "dependency 'flux-system/infra' is not ready",
			check: func(t *testing.T, d decision) {
				if containsSub(d.report.Messages, "kustomize-controller") {
					t.Errorf("controller blamed although a dependency holds it back: %q", d.report.Messages)
				}
			},
		},
		{
			name: "our commit attempted, not applied yet: the controller is not blamed", ks: "flux/ks-behind.yaml", source: "flux/gitrepository.yaml",
			mutateKS: func(ks *kustomizev1.Kustomization) {
				ks.Status.LastAttemptedRevision = "main@sha1:" + shaOurs
				ks.Status.Conditions[0].Status = metav1.ConditionUnknown
				ks.Status.Conditions[0].Reason = "Progressing"
				ks.Status.Conditions[0].Message = "Reconciliation in progress"
			},
			want: verdictPending, wantProgress: "waiting for 3f78685",
			check: func(t *testing.T, d decision) {
				if containsSub(d.report.Messages, "kustomize-controller") {
					t.Errorf("controller blamed although it attempted our commit: %q", d.report.Messages)
				}
			},
		},
		{
			name: "no request handled ever", ks: "flux/ks-ready.yaml", token: "2026-11-21T10:00:30Z",
			mutateKS: func(ks *kustomizev1.Kustomization) { ks.Status.LastHandledReconcileAt = "" },
			want:     verdictPending, wantMessage: "has not handled the reconcile request made at 2026-11-21T10:00:30Z (it has handled none)",
		},
		{
			name: "request handled: no word about the controller", ks: "flux/ks-ready.yaml", token: fixtureToken,
			want: verdictDone,
			check: func(t *testing.T, d decision) {
				if containsSub(d.report.Messages, "kustomize-controller") {
					t.Errorf("controller named although it handled the request: %q", d.report.Messages)
				}
			},
		},
		{
			name: "a descendant of our commit is applied", ks: "flux/ks-ready.yaml", token: fixtureToken,
			mutateKS: func(ks *kustomizev1.Kustomization) {
				ks.Status.LastAppliedRevision = "main@sha1:" + shaAfter
				ks.Status.LastAttemptedRevision = "main@sha1:" + shaAfter
			},
			match: matchOurs(shaAfter),
			want:  verdictDone, wantProgress: "applied main@sha1:a54d88e",
		},
		{
			name: "health check failed at our commit", ks: "flux/ks-health-failed.yaml", token: fixtureToken,
			want: verdictFailed, wantProgress: "Kustomization flux-system/apps failed at 3f78685: health check failed after 2m0.04s: timeout waiting for: [Deployment/prod/web status: 'InProgress']",
			check: func(t *testing.T, d decision) {
				if d.report.Health != HealthDegraded || d.report.Synced || d.report.AppliedRevision != "main@sha1:"+shaBefore {
					t.Errorf("report = %+v", d.report)
				}
			},
		},
		{
			name: "a failure of the commit before is what we may be fixing", ks: "flux/ks-health-failed.yaml", token: fixtureToken,
			mutateKS: func(ks *kustomizev1.Kustomization) { ks.Status.LastAttemptedRevision = "main@sha1:" + shaBefore },
			want:     verdictPending, wantProgress: "waiting for 3f78685",
		},
		{
			name: "build failed at our commit", ks: "flux/ks-health-failed.yaml",
			mutateKS: func(ks *kustomizev1.Kustomization) {
				ks.Status.Conditions[0].Reason = "BuildFailed"
				ks.Status.Conditions[0].Message = "kustomize build failed: accumulating resources: accumulation err='accumulating resources from 'deployment.yaml': MalformedYAMLError: yaml: line 12: mapping values are not allowed in this context'"
			},
			want: verdictFailed, wantProgress: "kustomize build failed",
		},
		{
			name: "dependency not ready is not a failure", ks: "flux/ks-health-failed.yaml",
			mutateKS: func(ks *kustomizev1.Kustomization) {
				ks.Status.Conditions[0].Reason = "DependencyNotReady"
				ks.Status.Conditions[0].Message = "dependency 'flux-system/infra' is not ready"
			},
			want: verdictPending, wantMessage: "dependency 'flux-system/infra' is not ready",
		},
		{
			name: "new generation not observed yet", ks: "flux/ks-progressing.yaml",
			want: verdictPending, wantProgress: "waiting for kustomize-controller to observe generation 3",
			check: func(t *testing.T, d decision) {
				if d.report.Health != HealthProgressing {
					t.Errorf("health = %s", d.report.Health)
				}
			},
		},
		{
			name: "applied but Ready not yet True", ks: "flux/ks-ready.yaml", token: fixtureToken,
			mutateKS: func(ks *kustomizev1.Kustomization) {
				ks.Status.Conditions[0].Status = metav1.ConditionUnknown
				ks.Status.Conditions[0].Reason = "Progressing"
				ks.Status.Conditions[0].Message = "Health check in progress"
			},
			want: verdictPending, wantProgress: "applied 3f78685, Health check in progress",
		},
		{
			name: "suspended", ks: "flux/ks-suspended.yaml",
			want: verdictSuspended, wantMessage: "Kustomization flux-system/apps has spec.suspend: true and will not apply new revisions; resume it (flux resume kustomization apps -n flux-system)",
		},
		{
			name: "source suspended", ks: "flux/ks-behind.yaml", source: "flux/gitrepository.yaml",
			mutateSrc: func(s *fluxSource) { s.suspended = true },
			want:      verdictSuspended, wantMessage: "flux resume source git flux-system -n flux-system",
		},
		{
			name: "source failing to fetch is reported", ks: "flux/ks-behind.yaml", source: "flux/gitrepository.yaml",
			mutateSrc: func(s *fluxSource) {
				s.ready = flux.Readiness{Status: metav1.ConditionFalse, Reason: "GitOperationFailed", Message: "failed to checkout and determine revision: unable to clone 'ssh://git@git.example.com/acme/deploy': knownhosts: key mismatch"}
			},
			want: verdictPending, wantMessage: "GitRepository flux-system/flux-system: Ready=False (GitOperationFailed): failed to checkout",
		},
		{
			name: "edited objects not fetched yet", ks: "flux/ks-ready.yaml", token: fixtureToken, objects: []string{"flux/deployment-current.yaml"},
			want: verdictPending,
			check: func(t *testing.T, d decision) {
				if !d.needObjects {
					t.Error("objects not asked for")
				}
			},
		},
		{
			name: "edited object Current", ks: "flux/ks-ready.yaml", token: fixtureToken, objects: []string{"flux/deployment-current.yaml"}, fetched: true,
			want: verdictDone, wantProgress: "ready",
		},
		{
			name: "edited object rolling out", ks: "flux/ks-ready.yaml", token: fixtureToken, objects: []string{"flux/deployment-rolling.yaml"}, fetched: true,
			want: verdictPending, wantProgress: "waiting for prod/deployment.apps/web InProgress: Updated: 1/3",
			check: func(t *testing.T, d decision) {
				r := d.report
				if len(r.Resources) != 1 || r.Resources[0].Status != "InProgress" || r.Health != HealthProgressing || !d.pollOthers {
					t.Errorf("decision = %+v", d)
				}
			},
		},
		{
			name: "edited object Failed", ks: "flux/ks-ready.yaml", token: fixtureToken, objects: []string{"flux/deployment-failed.yaml"}, fetched: true,
			want: verdictFailed, wantProgress: `prod/deployment.apps/web: Progress deadline exceeded (Progressing=False (ProgressDeadlineExceeded): ReplicaSet "web-5d8c7b9f4" has timed out progressing.)`,
		},
		{
			name: "edited object not created yet", ks: "flux/ks-ready.yaml", token: fixtureToken, objects: []string{"-"}, fetched: true,
			want: verdictPending, wantProgress: "waiting for prod/deployment.apps/web not found",
		},
	})
}

func TestDecideHelmRelease(t *testing.T) {
	runFluxCases(t, []fluxCase{
		{
			name: "parent Kustomization applied our commit, release upgraded", hr: "flux/hr-ready.yaml", parentKS: "flux/ks-ready.yaml", token: fixtureToken,
			want: verdictDone, wantProgress: "released 1.2.0, ready",
			check: func(t *testing.T, d decision) {
				if d.report.AppliedRevision != "main@sha1:"+shaOurs || !d.report.Synced {
					t.Errorf("report = %+v", d.report)
				}
			},
		},
		{
			name: "parent Kustomization not there yet", hr: "flux/hr-ready.yaml", parentKS: "flux/ks-behind.yaml",
			want: verdictPending, wantProgress: "waiting for 3f78685: Kustomization flux-system/apps at main@sha1:89e6c98",
		},
		{
			name: "new values not yet observed by helm-controller", hr: "flux/hr-ready.yaml", parentKS: "flux/ks-ready.yaml",
			mutateHR: func(hr *helmv2.HelmRelease) { hr.Generation = 5 },
			want:     verdictPending, wantProgress: "waiting for helm-controller to observe generation 5",
		},
		{
			name: "upgrade failed at our commit", hr: "flux/hr-upgrade-failed.yaml", parentKS: "flux/ks-ready.yaml", token: fixtureToken,
			want: verdictFailed, wantProgress: "HelmRelease prod/web failed at 3f78685: Failed to upgrade after 1 attempt(s)",
			wantMessage: "Helm upgrade failed for release prod/web with chart web@1.2.0: resource Deployment/prod/web not ready",
		},
		{
			name: "an old failure before helm-controller attempted the new values", hr: "flux/hr-upgrade-failed.yaml", parentKS: "flux/ks-ready.yaml",
			mutateHR: func(hr *helmv2.HelmRelease) {
				hr.Generation = 5
				for i := range hr.Status.Conditions {
					hr.Status.Conditions[i].ObservedGeneration = 4
				}
			},
			want: verdictPending,
		},
		{
			name: "chart built from our commit and released", hr: "flux/hr-ready.yaml", chart: "flux/helmchart-git.yaml", source: "flux/gitrepository.yaml",
			want: verdictDone,
			check: func(t *testing.T, d decision) {
				if d.report.AppliedRevision != "main@sha1:"+shaOurs {
					t.Errorf("applied revision = %q", d.report.AppliedRevision)
				}
			},
		},
		{
			name: "chart built but not released yet", hr: "flux/hr-ready.yaml", chart: "flux/helmchart-git.yaml", source: "flux/gitrepository.yaml",
			mutateChart: func(hc *sourcev1.HelmChart) { hc.Status.Artifact.Revision = "1.2.1" },
			want:        verdictPending, wantProgress: "waiting for helm-controller to release chart 1.2.1",
		},
		{
			name: "chart from the same repository and branch as the parent lags behind", hr: "flux/hr-ready.yaml", parentKS: "flux/ks-ready.yaml",
			chart: "flux/helmchart-git.yaml", source: "flux/gitrepository.yaml",
			mutateChart: func(hc *sourcev1.HelmChart) {
				hc.Status.ObservedSourceArtifactRevision = "main@sha1:" + shaBefore
			},
			want: verdictPending, wantProgress: "waiting for 3f78685: HelmChart flux-system/prod-web at main@sha1:89e6c98",
		},
		{
			name: "chart version carries the commit (reconcileStrategy Revision)", hr: "flux/hr-ready.yaml",
			mutateHR: func(hr *helmv2.HelmRelease) { hr.Status.LastAttemptedRevision = "1.2.0+" + shaOurs[:12] },
			want:     verdictDone,
		},
		{
			name: "chart from a Helm repository and no known parent", hr: "flux/hr-ready.yaml",
			want: verdictUnobservable, wantMessage: "nothing shows which Git revision it runs",
		},
		{
			name: "parent Argo CD Application synced our commit", hr: "flux/hr-ready.yaml", parentApp: "argo/healthy.yaml",
			want: verdictDone,
		},
		{
			name: "parent Argo CD Application compared but not synced", hr: "flux/hr-ready.yaml", parentApp: "argo/manual-outofsync.yaml",
			want: verdictPending, wantMessage: "Application argocd/web has not synced it yet",
		},
		{
			name: "suspended", hr: "flux/hr-ready.yaml", parentKS: "flux/ks-ready.yaml",
			mutateHR: func(hr *helmv2.HelmRelease) { hr.Spec.Suspend = true },
			want:     verdictSuspended, wantMessage: "flux resume helmrelease web -n prod",
		},
		{
			name: "parent suspended and nothing else carries the commit", hr: "flux/hr-ready.yaml", parentKS: "flux/ks-suspended.yaml",
			want: verdictSuspended, wantMessage: "flux resume kustomization apps -n flux-system",
		},
	})
}
