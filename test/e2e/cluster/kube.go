package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const (
	// serviceCIDR is the apiserver's --service-cluster-ip-range; serviceIP is
	// the first address, the "kubernetes" Service's ClusterIP.
	serviceCIDR = "10.96.0.0/16"
	serviceIP   = "10.96.0.1"

	// KwokNodeAnnotation marks the nodes kwok manages; kwok runs with
	// --manage-nodes-with-annotation-selector on it.
	KwokNodeAnnotation = "kwok.x-k8s.io/node"

	startTimeout = 2 * time.Minute
)

// startControlPlane runs etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok, and registers the fake nodes.
func (e *Env) startControlPlane(ctx context.Context) error {
	ports, err := freePorts(6)
	if err != nil {
		return err
	}
	etcdPort, peerPort, apiPort, kcmPort, schedPort, kwokPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]

	// etcd: single member, no fsync (the data is thrown away anyway).
	step := time.Now()
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	env, err := e.baseEnv("etcd")
	if err != nil {
		return err
	}
	etcd, err := e.spawn("etcd", e.bin("etcd"), []string{
		"--name=dot",
		"--data-dir=" + filepath.Join(e.Dir, "etcd"),
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=dot=" + peerURL,
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	}, env)
	if err != nil {
		return err
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if err := etcd.waitReady(ctx, startTimeout, func(ctx context.Context) error {
		body, err := get(ctx, plain, clientURL+"/health", "")
		if err == nil && !strings.Contains(body, `"health":"true"`) {
			err = fmt.Errorf("health: %s", body)
		}
		return err
	}); err != nil {
		return err
	}
	e.opts.Logf("cluster: etcd ready (%s)", since(step))

	// kube-apiserver: TLS with our CA, static tokens, RBAC.
	step = time.Now()
	e.APIServerURL = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	if env, err = e.baseEnv("kube-apiserver"); err != nil {
		return err
	}
	api, err := e.spawn("kube-apiserver", e.bin("kube-apiserver"), []string{
		"--etcd-servers=" + clientURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--tls-cert-file=" + e.pki.serverCert,
		"--tls-private-key-file=" + e.pki.serverKey,
		"--client-ca-file=" + e.pki.caCert,
		"--token-auth-file=" + e.pki.tokenFile,
		// Published in kube-system/extension-apiserver-authentication; the
		// controller-manager and scheduler log errors every few seconds
		// without it. No client certificates are issued from the CA.
		"--requestheader-client-ca-file=" + e.pki.caCert,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + e.pki.saPub,
		"--service-account-signing-key-file=" + e.pki.saKey,
		"--service-cluster-ip-range=" + serviceCIDR,
		// A loopback address cannot be an Endpoints address; nothing in the
		// environment needs the "kubernetes" Service's endpoints.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--profiling=false",
		"--cert-dir=" + filepath.Join(e.Dir, "pki", "apiserver"),
	}, env)
	if err != nil {
		return err
	}
	tlsClient, err := e.apiHTTPClient()
	if err != nil {
		return err
	}
	adminToken := e.pki.tokens["admin"]
	if err := api.waitReady(ctx, startTimeout, func(ctx context.Context) error {
		_, err := get(ctx, tlsClient, e.APIServerURL+"/readyz", adminToken)
		return err
	}); err != nil {
		return err
	}
	e.opts.Logf("cluster: kube-apiserver ready at %s (%s)", e.APIServerURL, since(step))

	kc := func(user string) string { return filepath.Join(e.Dir, "kubeconfigs", user+".kubeconfig") }
	for _, u := range users {
		ns := ""
		if u == "argocd-application-controller" {
			ns = ArgoCDNamespace
		}
		if err := e.pki.writeKubeconfig(kc(u), e.APIServerURL, u, ns); err != nil {
			return err
		}
	}
	e.Kubeconfig = filepath.Join(e.Dir, "kubeconfig")
	if err := e.pki.writeKubeconfig(e.Kubeconfig, e.APIServerURL, "admin", ""); err != nil {
		return err
	}
	if e.RESTConfig, err = newRESTConfig(e.Kubeconfig); err != nil {
		return err
	}
	if e.client, err = kubernetes.NewForConfig(e.RESTConfig); err != nil {
		return fmt.Errorf("create kube client: %w", err)
	}

	// The rest start together and are waited on afterwards.
	step = time.Now()
	insecure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		// The controller-manager's and scheduler's self-signed serving
		// certificates, probed on loopback.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health probe
	}}
	if env, err = e.baseEnv("kube-controller-manager"); err != nil {
		return err
	}
	kcm, err := e.spawn("kube-controller-manager", e.bin("kube-controller-manager"), []string{
		"--kubeconfig=" + kc("kube-controller-manager"),
		"--authentication-kubeconfig=" + kc("kube-controller-manager"),
		"--authorization-kubeconfig=" + kc("kube-controller-manager"),
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(kcmPort),
		"--cert-dir=" + filepath.Join(e.Dir, "pki", "kube-controller-manager"),
		"--leader-elect=false",
		"--service-account-private-key-file=" + e.pki.saKey,
		"--root-ca-file=" + e.pki.caCert,
		"--cluster-name=dot-testbed",
		"--kube-api-qps=100",
		"--kube-api-burst=200",
	}, env)
	if err != nil {
		return err
	}
	if env, err = e.baseEnv("kube-scheduler"); err != nil {
		return err
	}
	sched, err := e.spawn("kube-scheduler", e.bin("kube-scheduler"), []string{
		"--kubeconfig=" + kc("kube-scheduler"),
		"--authentication-kubeconfig=" + kc("kube-scheduler"),
		"--authorization-kubeconfig=" + kc("kube-scheduler"),
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(schedPort),
		"--cert-dir=" + filepath.Join(e.Dir, "pki", "kube-scheduler"),
		"--leader-elect=false",
	}, env)
	if err != nil {
		return err
	}
	// kwok reads ~/.kwok/kwok.yaml when it exists; its HOME is inside Dir.
	if env, err = e.baseEnv("kwok"); err != nil {
		return err
	}
	kwokArgs := []string{
		"--kubeconfig=" + kc("kwok"),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + KwokNodeAnnotation + "=fake",
		"--server-address=127.0.0.1:" + strconv.Itoa(kwokPort),
		"--cidr=10.244.0.1/16",
		"--node-ip=127.0.0.1",
	}
	stages, err := filepath.Glob(filepath.Join(e.TestBin, "kwok-stages", "*.yaml"))
	if err != nil || len(stages) == 0 {
		return fmt.Errorf("start kwok: no stage files in %s: run `make testbin`", filepath.Join(e.TestBin, "kwok-stages"))
	}
	extra, err := writeFailureStages(filepath.Join(e.Dir, "kwok-stages"))
	if err != nil {
		return err
	}
	for _, s := range append(stages, extra...) {
		kwokArgs = append(kwokArgs, "--config="+s)
	}
	kwok, err := e.spawn("kwok", e.bin("kwok"), kwokArgs, env)
	if err != nil {
		return err
	}
	if err := e.createNodes(ctx); err != nil {
		return err
	}

	healthz := func(url string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := get(ctx, insecure, url, "")
			return err
		}
	}
	if err := kcm.waitReady(ctx, startTimeout, healthz(fmt.Sprintf("https://127.0.0.1:%d/healthz", kcmPort))); err != nil {
		return err
	}
	if err := sched.waitReady(ctx, startTimeout, healthz(fmt.Sprintf("https://127.0.0.1:%d/healthz", schedPort))); err != nil {
		return err
	}
	if err := kwok.waitReady(ctx, startTimeout, e.nodesReady); err != nil {
		return err
	}
	e.opts.Logf("cluster: kube-controller-manager, kube-scheduler, kwok and %d node(s) ready (%s)", len(e.NodeNames), since(step))
	return nil
}

func (e *Env) bin(name string) string { return filepath.Join(e.TestBin, name) }

// apiHTTPClient trusts the environment's CA.
func (e *Env) apiHTTPClient() (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(e.pki.caPEM) {
		return nil, fmt.Errorf("load CA certificate %s", e.pki.caCert)
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}, nil
}

// createNodes registers the fake nodes kwok manages. kwok's node-initialize
// stage fills in conditions and addresses; capacity is set here.
func (e *Env) createNodes(ctx context.Context) error {
	for i := range e.opts.Nodes {
		name := fmt.Sprintf("kwok-node-%d", i)
		res := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("32"),
			corev1.ResourceMemory: resource.MustParse("256Gi"),
			corev1.ResourcePods:   resource.MustParse("110"),
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{KwokNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
				Labels: map[string]string{
					"kubernetes.io/hostname": name,
					"kubernetes.io/os":       "linux",
					"kubernetes.io/arch":     "amd64",
					"type":                   "kwok",
				},
			},
			Status: corev1.NodeStatus{Capacity: res, Allocatable: res},
		}
		if _, err := e.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create node %s: %w", name, err)
		}
		e.NodeNames = append(e.NodeNames, name)
	}
	return nil
}

// nodesReady reports whether every kwok node has condition Ready=True.
func (e *Env) nodesReady(ctx context.Context) error {
	for _, name := range e.NodeNames {
		n, err := e.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		ready := false
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if !ready {
			return fmt.Errorf("node %s is not Ready", name)
		}
	}
	return nil
}

// get does a GET and returns the body; a status other than 200 is an error.
func get(ctx context.Context, c *http.Client, url, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}
