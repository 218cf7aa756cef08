package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"

	"github.com/dot-ai/dot/test/e2e/cluster/gitsource"
)

const fieldManager = "dot-testbed"

var (
	crdGVR        = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	appProjectGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "appprojects"}
)

// startGitOps installs the CRDs of the selected controllers and starts them.
// Processes of both controllers are started before any is waited on.
func (e *Env) startGitOps(ctx context.Context) error {
	dyn, err := dynamic.NewForConfig(e.RESTConfig)
	if err != nil {
		return fmt.Errorf("create dynamic client: %w", err)
	}
	step := time.Now()
	var crdDirs []string
	if e.opts.Flux {
		crdDirs = append(crdDirs, filepath.Join(e.TestBin, "crds", "flux"))
	}
	if e.opts.ArgoCD {
		crdDirs = append(crdDirs, filepath.Join(e.TestBin, "crds", "argocd"))
	}
	names, err := applyCRDs(ctx, dyn, crdDirs)
	if err != nil {
		return err
	}
	if err := waitCRDsEstablished(ctx, dyn, names); err != nil {
		return err
	}
	e.opts.Logf("cluster: %d CRDs established (%s)", len(names), since(step))

	step = time.Now()
	var waits []func() error
	if e.opts.Flux {
		w, err := e.startFlux(ctx)
		if err != nil {
			return err
		}
		waits = append(waits, w)
	}
	if e.opts.ArgoCD {
		w, err := e.startArgoCD(ctx, dyn)
		if err != nil {
			return err
		}
		waits = append(waits, w)
	}
	for _, w := range waits {
		if err := w(); err != nil {
			return err
		}
	}
	e.opts.Logf("cluster: gitops controllers ready (%s)", since(step))
	return nil
}

// startFlux starts kustomize-controller and the artifact publisher and
// returns a function waiting for both.
func (e *Env) startFlux(ctx context.Context) (wait func() error, err error) {
	if err := e.ensureNamespace(ctx, FluxNamespace); err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	healthAddr := "127.0.0.1:" + strconv.Itoa(ports[1])
	env, err := e.baseEnv("kustomize-controller",
		"KUBECONFIG="+e.kubeconfigOf("kustomize-controller"),
		"RUNTIME_NAMESPACE="+FluxNamespace,
	)
	if err != nil {
		return nil, err
	}
	kc, err := e.spawn("kustomize-controller", e.bin("kustomize-controller"), []string{
		"--watch-all-namespaces=true",
		"--metrics-addr=127.0.0.1:" + strconv.Itoa(ports[0]),
		"--health-addr=" + healthAddr,
		"--events-addr=",
		"--enable-leader-election=false",
		"--log-level=info",
		"--requeue-dependency=5s",
	}, env)
	if err != nil {
		return nil, err
	}

	cfg, err := newRESTConfig(e.kubeconfigOf("gitsource"))
	if err != nil {
		return nil, err
	}
	logFile := e.logWriter("gitsource")
	pub, err := gitsource.New(cfg, gitsource.Options{
		StorageDir: filepath.Join(e.Dir, "artifacts"),
		Logger:     logr.FromSlogHandler(slog.NewTextHandler(logFile, nil)),
	})
	if err != nil {
		return nil, err
	}
	e.Artifacts = pub
	bgCtx, cancel := context.WithCancel(context.Background())
	e.stopBG = cancel
	e.bgDone = make(chan error, 1)
	go func() { e.bgDone <- pub.Start(bgCtx) }()

	return func() error {
		step := time.Now()
		plain := &http.Client{Timeout: 5 * time.Second}
		if err := kc.waitReady(ctx, startTimeout, func(ctx context.Context) error {
			_, err := get(ctx, plain, "http://"+healthAddr+"/readyz", "")
			return err
		}); err != nil {
			return err
		}
		select {
		case <-pub.Ready():
		case err := <-e.bgDone:
			e.bgDone <- err // Stop reads it again
			return &ComponentError{Component: "gitsource", LogPath: e.LogPath("gitsource"),
				LogTail: tailFile(e.LogPath("gitsource"), 30), Err: fmt.Errorf("stopped before it was ready: %v", err)}
		case <-time.After(startTimeout):
			return &ComponentError{Component: "gitsource", LogPath: e.LogPath("gitsource"),
				LogTail: tailFile(e.LogPath("gitsource"), 30), Err: errors.New("not ready after " + startTimeout.String())}
		}
		e.opts.Logf("cluster: flux kustomize-controller and artifact publisher (%s) ready (%s)", pub.URL(), since(step))
		return nil
	}, nil
}

// startArgoCD writes Argo CD's configuration, starts redis, repo-server and
// application-controller, and returns a function waiting for them.
func (e *Env) startArgoCD(ctx context.Context, dyn dynamic.Interface) (wait func() error, err error) {
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	redisPort, repoPort, repoMetrics, ctrlMetrics := ports[0], ports[1], ports[2], ports[3]
	redisAddr := "127.0.0.1:" + strconv.Itoa(redisPort)
	repoAddr := "127.0.0.1:" + strconv.Itoa(repoPort)
	if err := e.writeArgoCDConfig(ctx, dyn, redisAddr, repoAddr); err != nil {
		return nil, err
	}

	redisDir := filepath.Join(e.Dir, "redis")
	if err := os.MkdirAll(redisDir, 0o755); err != nil {
		return nil, fmt.Errorf("start redis: %w", err)
	}
	env, err := e.baseEnv("redis")
	if err != nil {
		return nil, err
	}
	redis, err := e.spawn("redis", "redis-server", []string{
		"--port", strconv.Itoa(redisPort), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", redisDir,
	}, env)
	if err != nil {
		return nil, err
	}

	argoDir := filepath.Join(e.Dir, "argocd")
	for _, d := range []string{"plugins", "gnupg", "tls", "ssh"} {
		if err := os.MkdirAll(filepath.Join(argoDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("start argocd: %w", err)
		}
	}
	if env, err = e.baseEnv("argocd-repo-server",
		"ARGOCD_BINARY_NAME=argocd-repo-server",
		"ARGOCD_GPG_ENABLED=false",
		// Paths that default to /tmp or /app: keep them inside Dir so
		// several environments never share a socket.
		"ARGOCD_ASK_PASS_SOCK="+filepath.Join(argoDir, "askpass.sock"),
		"ARGOCD_PLUGINSOCKFILEPATH="+filepath.Join(argoDir, "plugins"),
		"ARGOCD_GNUPGHOME="+filepath.Join(argoDir, "gnupg"),
		"ARGOCD_TLS_DATA_PATH="+filepath.Join(argoDir, "tls"),
		"ARGOCD_SSH_DATA_PATH="+filepath.Join(argoDir, "ssh"),
	); err != nil {
		return nil, err
	}
	repo, err := e.spawn("argocd-repo-server", e.bin("argocd"), []string{
		"--address=127.0.0.1",
		"--port=" + strconv.Itoa(repoPort),
		"--metrics-address=127.0.0.1",
		"--metrics-port=" + strconv.Itoa(repoMetrics),
		"--disable-tls",
		"--redis=" + redisAddr,
		"--loglevel=info",
	}, env)
	if err != nil {
		return nil, err
	}

	if env, err = e.baseEnv("argocd-application-controller",
		"ARGOCD_BINARY_NAME=argocd-application-controller",
		// The in-cluster destination (https://kubernetes.default.svc) is
		// served from KUBECONFIG instead of the pod's service account.
		"ARGOCD_FAKE_IN_CLUSTER=true",
		"KUBECONFIG="+e.kubeconfigOf("argocd-application-controller"),
	); err != nil {
		return nil, err
	}
	ctrl, err := e.spawn("argocd-application-controller", e.bin("argocd"), []string{
		"--repo-server=" + repoAddr,
		"--repo-server-plaintext",
		"--redis=" + redisAddr,
		"--metrics-port=" + strconv.Itoa(ctrlMetrics),
		"--app-resync=180",
		"--self-heal-timeout-seconds=2",
		"--loglevel=info",
	}, env)
	if err != nil {
		return nil, err
	}

	return func() error {
		step := time.Now()
		if err := redis.waitReady(ctx, startTimeout, func(ctx context.Context) error { return redisPing(ctx, redisAddr) }); err != nil {
			return err
		}
		plain := &http.Client{Timeout: 5 * time.Second}
		if err := repo.waitReady(ctx, startTimeout, func(ctx context.Context) error {
			if _, err := get(ctx, plain, fmt.Sprintf("http://127.0.0.1:%d/healthz", repoMetrics), ""); err != nil {
				return err
			}
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", repoAddr)
			if err == nil {
				c.Close()
			}
			return err
		}); err != nil {
			return err
		}
		if err := ctrl.waitReady(ctx, startTimeout, func(ctx context.Context) error {
			_, err := get(ctx, plain, fmt.Sprintf("http://127.0.0.1:%d/healthz", ctrlMetrics), "")
			return err
		}); err != nil {
			return err
		}
		e.opts.Logf("cluster: argocd redis, repo-server and application-controller ready, tracking method %s (%s)", e.opts.ArgoCDTrackingMethod, since(step))
		return nil
	}, nil
}

// writeArgoCDConfig creates what an Argo CD installation's manifests and
// argocd-server would: the namespace, the settings ConfigMaps and Secret
// (labelled, or the controller does not see them), the default AppProject,
// and repository credentials for the git server when it uses basic auth.
func (e *Env) writeArgoCDConfig(ctx context.Context, dyn dynamic.Interface, redisAddr, repoAddr string) error {
	if err := e.ensureNamespace(ctx, ArgoCDNamespace); err != nil {
		return err
	}
	partOf := map[string]string{"app.kubernetes.io/part-of": "argocd"}
	secretKey, err := randomHex(32)
	if err != nil {
		return err
	}
	objs := []any{
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "argocd-cm", Namespace: ArgoCDNamespace, Labels: partOf},
			Data: map[string]string{
				"application.resourceTrackingMethod": e.opts.ArgoCDTrackingMethod,
				// Tests refresh explicitly; the periodic refresh is a backstop.
				"timeout.reconciliation": "180s",
			},
		},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "argocd-rbac-cm", Namespace: ArgoCDNamespace, Labels: partOf},
		},
		&corev1.ConfigMap{
			// Read by nothing here (the components get flags), kept so the
			// namespace looks like an installation to tools that inspect it.
			ObjectMeta: metav1.ObjectMeta{Name: "argocd-cmd-params-cm", Namespace: ArgoCDNamespace, Labels: partOf},
			Data: map[string]string{
				"redis.server":                     redisAddr,
				"repo.server":                      repoAddr,
				"reposerver.disable.tls":           "true",
				"controller.repo.server.plaintext": "true",
			},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "argocd-secret", Namespace: ArgoCDNamespace, Labels: partOf},
			StringData: map[string]string{"server.secretkey": secretKey},
		},
	}
	if e.opts.GitUsername != "" {
		// A credential template: applies to every repository under the
		// git server's URL.
		objs = append(objs, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name: "git-server-creds", Namespace: ArgoCDNamespace,
				Labels: map[string]string{"argocd.argoproj.io/secret-type": "repo-creds"},
			},
			StringData: map[string]string{
				"type": "git", "url": e.Git.URL(),
				"username": e.opts.GitUsername, "password": e.opts.GitPassword,
			},
		})
	}
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.ConfigMap:
			_, err = e.client.CoreV1().ConfigMaps(ArgoCDNamespace).Create(ctx, o, metav1.CreateOptions{FieldManager: fieldManager})
			if err != nil {
				err = fmt.Errorf("create configmap %s: %w", o.Name, err)
			}
		case *corev1.Secret:
			_, err = e.client.CoreV1().Secrets(ArgoCDNamespace).Create(ctx, o, metav1.CreateOptions{FieldManager: fieldManager})
			if err != nil {
				err = fmt.Errorf("create secret %s: %w", o.Name, err)
			}
		}
		if err != nil {
			return err
		}
	}
	proj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "AppProject",
		"metadata":   map[string]any{"name": "default", "namespace": ArgoCDNamespace},
		"spec": map[string]any{
			"sourceRepos":              []any{"*"},
			"destinations":             []any{map[string]any{"server": "*", "namespace": "*"}},
			"clusterResourceWhitelist": []any{map[string]any{"group": "*", "kind": "*"}},
		},
	}}
	if _, err := dyn.Resource(appProjectGVR).Namespace(ArgoCDNamespace).Create(ctx, proj, metav1.CreateOptions{FieldManager: fieldManager}); err != nil {
		return fmt.Errorf("create appproject default: %w", err)
	}
	return nil
}

// SetArgoCDTrackingMethod switches Argo CD's resource tracking method by
// patching argocd-cm. The application-controller watches its settings and
// picks the change up within a moment, without a restart; resources synced
// afterwards carry the new method's marker (label app.kubernetes.io/instance,
// annotation argocd.argoproj.io/tracking-id, or both).
func (e *Env) SetArgoCDTrackingMethod(ctx context.Context, method string) error {
	if err := validTrackingMethod(method); err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"data":{"application.resourceTrackingMethod":%q}}`, method)
	if _, err := e.client.CoreV1().ConfigMaps(ArgoCDNamespace).Patch(ctx, "argocd-cm", types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: fieldManager}); err != nil {
		return fmt.Errorf("set argocd tracking method %s: %w", method, err)
	}
	e.opts.ArgoCDTrackingMethod = method
	return nil
}

// GitSecret returns a Secret holding the git server's basic-auth
// credentials in the keys Flux's GitRepository.spec.secretRef expects
// (username, password). It is not created; the caller creates it in the
// namespace of its GitRepository.
func (e *Env) GitSecret(namespace, name string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		StringData: map[string]string{"username": e.opts.GitUsername, "password": e.opts.GitPassword},
	}
}

func (e *Env) kubeconfigOf(user string) string {
	return filepath.Join(e.Dir, "kubeconfigs", user+".kubeconfig")
}

func (e *Env) ensureNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := e.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{FieldManager: fieldManager}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// applyCRDs server-side applies every CustomResourceDefinition in the YAML
// files of dirs and returns their names.
func applyCRDs(ctx context.Context, dyn dynamic.Interface, dirs []string) ([]string, error) {
	var files []string
	for _, d := range dirs {
		fs, err := filepath.Glob(filepath.Join(d, "*.yaml"))
		if err != nil {
			return nil, fmt.Errorf("apply CRDs in %s: %w", d, err)
		}
		if len(fs) == 0 {
			return nil, fmt.Errorf("apply CRDs: no YAML files in %s: run `make testbin`", d)
		}
		files = append(files, fs...)
	}
	sort.Strings(files)
	var names []string
	for _, f := range files {
		objs, err := readObjects(f)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if o.GetKind() != "CustomResourceDefinition" {
				continue
			}
			// Server-side apply: the ApplicationSet CRD is too large for
			// the last-applied annotation of client-side apply.
			if _, err := dyn.Resource(crdGVR).Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
				return nil, fmt.Errorf("apply CRD %s from %s: %w", o.GetName(), f, err)
			}
			names = append(names, o.GetName())
		}
	}
	return names, nil
}

// readObjects decodes every YAML document of a file.
func readObjects(path string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bufio.NewReader(bytes.NewReader(b)), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("decode %s: %w", path, err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

func waitCRDsEstablished(ctx context.Context, dyn dynamic.Interface, names []string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for _, n := range names {
		for {
			crd, err := dyn.Resource(crdGVR).Get(ctx, n, metav1.GetOptions{})
			if err == nil && hasCondition(crd, "Established") {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("wait for CRD %s to be established: %w", n, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// hasCondition reports whether obj has status condition typ with status True.
func hasCondition(obj *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}

// redisPing speaks just enough RESP to check redis answers.
func redisPing(ctx context.Context, addr string) error {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("redis answered %q to PING", strings.TrimSpace(line))
	}
	return nil
}
