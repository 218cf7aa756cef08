package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/test/e2e/cluster"
)

// The sample app's images. Nothing is pulled (kwok pods run nothing); the
// names only have to look like what a team deploys.
const (
	imageRepo    = "ghcr.io/stefanprodan/podinfo"
	baseTag      = "6.6.0" // in base/deployment.yaml, overridden by the prod overlay
	prodTag      = "6.7.0" // the prod overlay's images: entry
	newTag       = "6.7.1" // what `dot op image` sets
	prodReplicas = 2       // the prod overlay's replicas: entry
)

// appFiles is the sample app's repository: a shared base and two overlays,
// laid out as teams keep them. Flux and Argo CD deploy overlays/prod, so
// dot must edit the overlay, never the base the dev overlay shares.
func appFiles() map[string]string {
	return map[string]string{
		"README.md": "# web\n\nThe demo app of `make demo`. Flux or Argo CD deploys overlays/prod.\n",
		"base/kustomization.yaml": `resources:
  - deployment.yaml
  - service.yaml
`,
		"base/deployment.yaml": `# The web front end. Owned by team-web.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 1 # each overlay sets its own
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ` + imageRepo + `:` + baseTag + `
          ports:
            - {name: http, containerPort: 9898}
          env:
            - name: PODINFO_UI_MESSAGE
              value: hello from dot's demo
          resources:
            requests: {cpu: 50m, memory: 64Mi}
`,
		"base/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - {name: http, port: 80, targetPort: http}
`,
		"overlays/dev/kustomization.yaml": `resources:
  - ../../base
`,
		"overlays/prod/kustomization.yaml": `# Production. Deployed by the GitOps controller.
resources:
  - ../../base
replicas:
  - name: web
    count: ` + strconv.Itoa(prodReplicas) + ` # prod baseline
images:
  - name: ` + imageRepo + `
    newTag: "` + prodTag + `" # bumped by the release process
`,
	}
}

// app is the sample app as deployed by one controller.
type app struct {
	label string // "Flux" or "Argo CD", for headers
	kind  string // flux or argocd
	ns    string // where the workload runs (and, for Flux, its objects)
	repo  string // repository name on the git server
	owner string // Kustomization name (in ns) or Application name (in argocd)

	seeded string // the first commit
}

func demoApps() []*app {
	return []*app{
		{label: "Flux", kind: "flux", ns: "demo-flux", repo: "demo-flux", owner: "web"},
		{label: "Argo CD", kind: "argocd", ns: "demo-argocd", repo: "demo-argocd", owner: "demo-argocd"},
	}
}

var applicationGVK = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Application"}

// deploy creates the namespaces and repositories, seeds them and creates
// the controllers' objects: a GitRepository (with a basic-auth secret) and a
// Kustomization with wait: true for Flux, an Application with automated
// sync for Argo CD.
func (d *demo) deploy(ctx context.Context) error {
	files := appFiles()
	for _, a := range d.apps {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: a.ns}}
		if err := d.client.Create(ctx, ns); err != nil {
			return fmt.Errorf("create namespace %s: %w", a.ns, err)
		}
		if err := d.env.Git.CreateRepo(a.repo); err != nil {
			return fmt.Errorf("create repo %s: %w", a.repo, err)
		}
		sha, err := d.env.Git.Seed(ctx, a.repo, files, "web: initial import")
		if err != nil {
			return fmt.Errorf("seed repo %s: %w", a.repo, err)
		}
		a.seeded = sha
		var objs []client.Object
		switch a.kind {
		case "flux":
			objs = fluxObjects(a, d.env.Git.RepoURL(a.repo), d.gitUser, d.gitPassword)
		case "argocd":
			objs = []client.Object{argoApplication(a, d.env.Git.RepoURL(a.repo))}
		}
		for _, o := range objs {
			if err := d.client.Create(ctx, o); err != nil {
				return fmt.Errorf("create %s %s: %w", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), err)
			}
		}
		fmt.Fprintf(d.out, "repo %s at %s, deployed by %s\n", d.env.Git.RepoURL(a.repo), short(sha), a.ownerString())
	}
	names := slices.Sorted(maps.Keys(files))
	fmt.Fprintf(d.out, "files: %s\n", strings.Join(names, ", "))
	fmt.Fprintf(d.out, "overlays/prod/kustomization.yaml:\n%s", indent(files["overlays/prod/kustomization.yaml"]))
	return nil
}

func (a *app) ownerString() string {
	if a.kind == "flux" {
		return fmt.Sprintf("Flux Kustomization %s/%s (path overlays/prod, wait: true)", a.ns, a.owner)
	}
	return fmt.Sprintf("Argo CD Application %s/%s (path overlays/prod, automated sync)", cluster.ArgoCDNamespace, a.owner)
}

func fluxObjects(a *app, url, user, password string) []client.Object {
	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "git-auth", Namespace: a.ns},
		StringData: map[string]string{"username": user, "password": password},
	}
	gr := &sourcev1.GitRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind},
		ObjectMeta: metav1.ObjectMeta{Name: a.owner, Namespace: a.ns},
		Spec: sourcev1.GitRepositorySpec{
			URL:       url,
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
			Interval:  metav1.Duration{Duration: 10 * time.Minute},
			SecretRef: &meta.LocalObjectReference{Name: secret.Name},
		},
	}
	ks := &kustomizev1.Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: metav1.ObjectMeta{Name: a.owner, Namespace: a.ns},
		Spec: kustomizev1.KustomizationSpec{
			Interval: metav1.Duration{Duration: 10 * time.Minute},
			Path:     "./overlays/prod",
			Prune:    true,
			Wait:     true,
			// The health check of a broken revision (the remediate steps)
			// holds the Kustomization until it times out, before the fix's
			// revision is applied: keep that short, as the e2e tests do.
			Timeout:         &metav1.Duration{Duration: 20 * time.Second},
			TargetNamespace: a.ns,
			SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: gr.Name},
		},
	}
	return []client.Object{secret, gr, ks}
}

func argoApplication(a *app, url string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(applicationGVK)
	u.SetName(a.owner)
	u.SetNamespace(cluster.ArgoCDNamespace)
	u.Object["spec"] = map[string]any{
		"project":     "default",
		"source":      map[string]any{"repoURL": url, "path": "overlays/prod", "targetRevision": "main"},
		"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": a.ns},
		"syncPolicy":  map[string]any{"automated": map[string]any{"prune": true, "selfHeal": true}},
	}
	return u
}

// waitDeployed waits until each controller applied the seeded commit and
// reports the app healthy, and the Deployment is Available.
func (d *demo) waitDeployed(ctx context.Context) error {
	for _, a := range d.apps {
		start := time.Now()
		var err error
		switch a.kind {
		case "flux":
			err = d.waitFlux(ctx, a, a.seeded)
		case "argocd":
			err = d.waitArgo(ctx, a, a.seeded)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(d.out, "%s applied %s and reports it healthy (waited %s)\n", a.ownerString(), short(a.seeded), since(start))
		if err := d.checkDeployment(ctx, a, "2 replicas available", replicasAre(prodReplicas)); err != nil {
			return err
		}
	}
	return nil
}

// waitTimeout bounds each wait of the demo's own (dot's commands have
// their own --timeout).
const waitTimeout = 2 * time.Minute

// poll calls cond every 200ms until it reports done, ctx ends, or
// waitTimeout passes; the error then carries cond's last state and the log
// files worth reading.
func (d *demo) poll(ctx context.Context, what string, cond func(ctx context.Context) (bool, string, error), logs ...string) error {
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	var state string
	var err error
	for {
		var done bool
		done, state, err = cond(ctx)
		if done && err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s: %w", what, ctx.Err()) // interrupted
			}
			var paths []string
			for _, l := range logs {
				paths = append(paths, d.env.LogPath(l))
			}
			msg := fmt.Sprintf("%s: not done after %s; last state: %s", what, waitTimeout, state)
			if err != nil {
				msg += "; last error: " + err.Error()
			}
			if len(paths) > 0 {
				msg += "; see " + strings.Join(paths, ", ")
			}
			return fmt.Errorf("%s: %w", msg, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (d *demo) waitFlux(ctx context.Context, a *app, sha string) error {
	want := "main@sha1:" + sha
	return d.poll(ctx, fmt.Sprintf("Kustomization %s/%s applies %s", a.ns, a.owner, want), func(ctx context.Context) (bool, string, error) {
		var k kustomizev1.Kustomization
		if err := d.client.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: a.owner}, &k); err != nil {
			return false, "", err
		}
		ready := apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition)
		state := fmt.Sprintf("lastAppliedRevision=%q observedGeneration=%d/%d", k.Status.LastAppliedRevision, k.Status.ObservedGeneration, k.Generation)
		if ready != nil {
			state += fmt.Sprintf(" Ready=%s (%s: %s)", ready.Status, ready.Reason, ready.Message)
		}
		done := ready != nil && ready.Status == metav1.ConditionTrue &&
			k.Status.ObservedGeneration == k.Generation && k.Status.LastAppliedRevision == want
		return done, state, nil
	}, "kustomize-controller", "gitsource")
}

func (d *demo) waitArgo(ctx context.Context, a *app, sha string) error {
	return d.poll(ctx, fmt.Sprintf("Application %s synced and healthy at %s", a.owner, short(sha)), func(ctx context.Context) (bool, string, error) {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(applicationGVK)
		if err := d.client.Get(ctx, client.ObjectKey{Namespace: cluster.ArgoCDNamespace, Name: a.owner}, u); err != nil {
			return false, "", err
		}
		str := func(path ...string) string {
			s, _, _ := unstructured.NestedString(u.Object, append([]string{"status"}, path...)...)
			return s
		}
		sync, rev, health := str("sync", "status"), str("sync", "revision"), str("health", "status")
		phase, opRev := str("operationState", "phase"), str("operationState", "syncResult", "revision")
		state := fmt.Sprintf("sync=%s revision=%s health=%s operation=%s@%s", sync, rev, health, phase, opRev)
		done := sync == "Synced" && rev == sha && phase == "Succeeded" && opRev == sha && health == "Healthy"
		return done, state, nil
	}, "argocd-application-controller", "argocd-repo-server")
}

// checkDeployment waits until a's Deployment satisfies cond and prints what
// it found: dot already waited for the controller to report the change
// healthy, this shows the live object agrees.
func (d *demo) checkDeployment(ctx context.Context, a *app, what string, cond deploymentCond) error {
	return d.checkWorkload(ctx, a.ns, "web", what, cond)
}

// checkWorkload is checkDeployment for the Deployment ns/name.
func (d *demo) checkWorkload(ctx context.Context, ns, name, what string, cond deploymentCond) error {
	var last string
	err := d.poll(ctx, fmt.Sprintf("deployment %s/%s: %s", ns, name, what), func(ctx context.Context) (bool, string, error) {
		var dep appsv1.Deployment
		if err := d.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &dep); err != nil {
			return false, "", err
		}
		last = describe(&dep)
		return cond(&dep), last, nil
	}, "kube-controller-manager", "kwok")
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "check: deployment %s/%s %s\n", ns, name, last)
	return nil
}

func describe(dep *appsv1.Deployment) string {
	replicas := int32(1)
	if dep.Spec.Replicas != nil {
		replicas = *dep.Spec.Replicas
	}
	image := ""
	if cs := dep.Spec.Template.Spec.Containers; len(cs) > 0 {
		image = cs[0].Image
	}
	return fmt.Sprintf("replicas %d (%d available), image %s", replicas, dep.Status.AvailableReplicas, image)
}

// available reports whether the Deployment's current generation rolled out
// completely.
func available(dep *appsv1.Deployment) bool {
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	return dep.Status.ObservedGeneration == dep.Generation &&
		dep.Status.UpdatedReplicas == want && dep.Status.AvailableReplicas == want && dep.Status.Replicas == want
}

// deploymentCond is a state of the sample app's Deployment a step waits for.
type deploymentCond func(*appsv1.Deployment) bool

func replicasAre(n int32) deploymentCond {
	return func(dep *appsv1.Deployment) bool {
		return dep.Spec.Replicas != nil && *dep.Spec.Replicas == n && available(dep)
	}
}

func imageIs(image string) deploymentCond {
	return func(dep *appsv1.Deployment) bool {
		cs := dep.Spec.Template.Spec.Containers
		return len(cs) > 0 && cs[0].Image == image && available(dep)
	}
}

// anyPod returns the name of a running pod of the app, for `dot gitops trace pod`.
func (d *demo) anyPod(ctx context.Context, a *app) (string, error) {
	var pods corev1.PodList
	if err := d.client.List(ctx, &pods, client.InNamespace(a.ns), client.MatchingLabels{"app": "web"}); err != nil {
		return "", fmt.Errorf("list pods in %s: %w", a.ns, err)
	}
	var names []string
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no running pod of web in %s", a.ns)
	}
	slices.Sort(names)
	return names[0], nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString("    " + l)
		}
	}
	return b.String()
}
