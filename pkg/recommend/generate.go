package recommend

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Label keys dot sets on everything it generates.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"
	LabelManagedBy = "app.kubernetes.io/managed-by"
)

// Generate renders the manifests of a spec, in apply order: ServiceAccount,
// ConfigMap, Service, the workload, HorizontalPodAutoscaler,
// PodDisruptionBudget, Ingress or HTTPRoute, NetworkPolicy. The objects are
// hardened: resource requests and limits, probes on the port, a non-root
// restricted security context, no service account token, pinned image.
func Generate(s *Spec) ([]*unstructured.Unstructured, error) {
	if err := checkPinned(s.Image, s.AllowLatest); err != nil {
		return nil, err
	}
	g := &gen{s: s}
	var objs []any
	if s.Solution != "cloudnative-pg" { // the operator makes its own
		objs = append(objs, g.serviceAccount())
	}
	if len(s.Env) > 0 {
		objs = append(objs, g.configMap())
	}
	if s.Port > 0 && s.Archetype != Cron && s.Archetype != Worker && s.Solution != "cloudnative-pg" {
		objs = append(objs, g.service())
	}
	switch {
	case s.Solution == "cloudnative-pg":
		objs = append(objs, g.cnpgCluster())
	case s.Archetype == Database:
		objs = append(objs, g.statefulSet())
	case s.Archetype == Cron:
		objs = append(objs, g.cronJob())
	default:
		objs = append(objs, g.deployment())
	}
	if s.Autoscale && s.Archetype == Web {
		objs = append(objs, g.hpa())
	}
	if (s.Replicas > 1 || s.Autoscale) && s.Archetype != Cron {
		objs = append(objs, g.pdb())
	}
	switch s.Exposure {
	case "ingress":
		objs = append(objs, g.ingress())
	case "httproute":
		objs = append(objs, g.httpRoute())
	}
	if s.NetworkPolicy && s.Port > 0 && s.Solution != "cloudnative-pg" {
		objs = append(objs, g.networkPolicy())
	}
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		u, err := toUnstructured(o)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

type gen struct{ s *Spec }

func (g *gen) component() string {
	switch g.s.Archetype {
	case Web:
		return "server"
	case Database:
		return "database"
	case Cache:
		return "cache"
	}
	return string(g.s.Archetype)
}

func (g *gen) labels() map[string]string {
	// No app.kubernetes.io/version: a later image change (dot op image, a
	// kustomize images: entry) would leave it stale.
	return map[string]string{LabelName: g.s.Name, LabelComponent: g.component(), LabelManagedBy: "dot"}
}

// selector is stable across versions: only the name.
func (g *gen) selector() map[string]string { return map[string]string{LabelName: g.s.Name} }

func (g *gen) meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: g.s.Namespace, Labels: g.labels()}
}

func (g *gen) typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func (g *gen) serviceAccount() *corev1.ServiceAccount {
	return &corev1.ServiceAccount{TypeMeta: g.typeMeta("v1", "ServiceAccount"), ObjectMeta: g.meta(g.s.Name),
		AutomountServiceAccountToken: ptr.To(false)}
}

func (g *gen) configName() string { return g.s.Name + "-config" }

func (g *gen) configMap() *corev1.ConfigMap {
	data := map[string]string{}
	for _, e := range g.s.Env {
		data[e.Name] = e.Value
	}
	return &corev1.ConfigMap{TypeMeta: g.typeMeta("v1", "ConfigMap"), ObjectMeta: g.meta(g.configName()), Data: data}
}

func (g *gen) servicePort() int32 {
	if g.s.Archetype == Web {
		return 80
	}
	return g.s.Port
}

func (g *gen) service() *corev1.Service {
	svc := &corev1.Service{TypeMeta: g.typeMeta("v1", "Service"), ObjectMeta: g.meta(g.s.Name), Spec: corev1.ServiceSpec{
		Selector: g.selector(),
		Ports:    []corev1.ServicePort{{Name: g.portName(), Port: g.servicePort(), TargetPort: intstr.FromString(g.portName()), Protocol: corev1.ProtocolTCP}},
	}}
	if g.s.Archetype == Database {
		svc.Spec.ClusterIP = corev1.ClusterIPNone // stable per-pod DNS for the StatefulSet
	}
	return svc
}

func (g *gen) portName() string {
	switch g.s.Archetype {
	case Web:
		return "http"
	case Database, Cache:
		return dnsName(g.s.Engine)[:min(len(dnsName(g.s.Engine)), 15)]
	}
	return "main"
}

func (g *gen) resources() corev1.ResourceRequirements {
	cpu := resource.MustParse(g.s.CPU)
	limit := cpu.DeepCopy()
	limit.SetMilli(cpu.MilliValue() * 4)
	mem := resource.MustParse(g.s.Memory)
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: limit, corev1.ResourceMemory: mem},
	}
}

func (g *gen) container() corev1.Container {
	c := corev1.Container{
		Name: g.s.Name, Image: g.s.Image, ImagePullPolicy: corev1.PullIfNotPresent,
		Resources: g.resources(),
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
	if len(g.s.Env) > 0 {
		c.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: g.configName()}}}}
	}
	if g.s.Port > 0 && g.s.Archetype != Cron {
		c.Ports = []corev1.ContainerPort{{Name: g.portName(), ContainerPort: g.s.Port, Protocol: corev1.ProtocolTCP}}
		handler := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(g.portName())}}
		if g.s.HealthPath != "" {
			handler = corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: g.s.HealthPath, Port: intstr.FromString(g.portName())}}
		}
		c.ReadinessProbe = &corev1.Probe{ProbeHandler: handler, PeriodSeconds: 10, FailureThreshold: 3}
		c.LivenessProbe = &corev1.Probe{ProbeHandler: handler, InitialDelaySeconds: 10, PeriodSeconds: 20, FailureThreshold: 3}
	}
	return c
}

// uid is the user the engines' official images run as; other images are
// only required not to run as root.
func (g *gen) podSecurity() *corev1.PodSecurityContext {
	psc := &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	switch g.s.Engine {
	case "postgres", "mysql", "mariadb", "mongodb", "redis", "valkey":
		psc.RunAsUser, psc.RunAsGroup, psc.FSGroup = ptr.To(int64(999)), ptr.To(int64(999)), ptr.To(int64(999))
	case "memcached":
		psc.RunAsUser = ptr.To(int64(11211))
	}
	return psc
}

func (g *gen) podTemplate() corev1.PodTemplateSpec {
	l := g.labels()
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: l},
		Spec: corev1.PodSpec{
			ServiceAccountName:           g.s.Name,
			AutomountServiceAccountToken: ptr.To(false),
			SecurityContext:              g.podSecurity(),
			Containers:                   []corev1.Container{g.container()},
		},
	}
}

func (g *gen) deployment() *appsv1.Deployment {
	d := &appsv1.Deployment{TypeMeta: g.typeMeta("apps/v1", "Deployment"), ObjectMeta: g.meta(g.s.Name), Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: g.selector()},
		Template: g.podTemplate(),
	}}
	if !g.s.Autoscale {
		// With an HPA the replicas field stays unset, so that Git and the
		// autoscaler do not fight over it.
		d.Spec.Replicas = ptr.To(max(g.s.Replicas, 1))
	}
	if g.s.Archetype == Cache {
		d.Spec.Replicas = ptr.To(max(g.s.Replicas, 1))
	}
	return d
}

func (g *gen) statefulSet() *appsv1.StatefulSet {
	tpl := g.podTemplate()
	dataPath := map[string]string{"postgres": "/var/lib/postgresql/data", "mysql": "/var/lib/mysql", "mariadb": "/var/lib/mysql", "mongodb": "/data/db"}[g.s.Engine]
	if dataPath == "" {
		dataPath = "/data"
	}
	c := &tpl.Spec.Containers[0]
	c.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: dataPath}}
	if g.s.Engine == "postgres" {
		// The official image refuses a mount point as its data directory.
		c.Env = append(c.Env, corev1.EnvVar{Name: "PGDATA", Value: dataPath + "/pgdata"})
	}
	pvc := corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: g.selector()},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(g.s.Storage)}},
		},
	}
	if g.s.StorageClass != "" {
		pvc.Spec.StorageClassName = ptr.To(g.s.StorageClass)
	}
	return &appsv1.StatefulSet{TypeMeta: g.typeMeta("apps/v1", "StatefulSet"), ObjectMeta: g.meta(g.s.Name), Spec: appsv1.StatefulSetSpec{
		Replicas: ptr.To(int32(1)), ServiceName: g.s.Name,
		Selector:             &metav1.LabelSelector{MatchLabels: g.selector()},
		Template:             tpl,
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{pvc},
	}}
}

func (g *gen) cronJob() *batchv1.CronJob {
	tpl := g.podTemplate()
	tpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	return &batchv1.CronJob{TypeMeta: g.typeMeta("batch/v1", "CronJob"), ObjectMeta: g.meta(g.s.Name), Spec: batchv1.CronJobSpec{
		Schedule: g.s.Schedule, ConcurrencyPolicy: batchv1.ForbidConcurrent,
		SuccessfulJobsHistoryLimit: ptr.To(int32(3)), FailedJobsHistoryLimit: ptr.To(int32(3)),
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{BackoffLimit: ptr.To(int32(2)), Template: tpl}},
	}}
}

func (g *gen) hpa() *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{TypeMeta: g.typeMeta("autoscaling/v2", "HorizontalPodAutoscaler"), ObjectMeta: g.meta(g.s.Name),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: g.s.Name},
			MinReplicas:    ptr.To(max(g.s.Replicas, 1)), MaxReplicas: g.s.MaxReplicas,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(int32(75))}}}},
		}}
}

func (g *gen) pdb() *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{TypeMeta: g.typeMeta("policy/v1", "PodDisruptionBudget"), ObjectMeta: g.meta(g.s.Name),
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1)), Selector: &metav1.LabelSelector{MatchLabels: g.selector()}}}
}

func (g *gen) ingress() *networkingv1.Ingress {
	ing := &networkingv1.Ingress{TypeMeta: g.typeMeta("networking.k8s.io/v1", "Ingress"), ObjectMeta: g.meta(g.s.Name), Spec: networkingv1.IngressSpec{
		IngressClassName: ptr.To(g.s.IngressClass),
		Rules: []networkingv1.IngressRule{{Host: g.s.Host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: g.s.Name, Port: networkingv1.ServiceBackendPort{Name: g.portName()}}}}},
		}}}},
	}}
	if g.s.TLSIssuer != "" {
		ing.Annotations = map[string]string{"cert-manager.io/cluster-issuer": g.s.TLSIssuer}
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{g.s.Host}, SecretName: g.s.Name + "-tls"}}
	}
	return ing
}

// httpRoute is built as a map: dot does not vendor the Gateway API types.
func (g *gen) httpRoute() map[string]any {
	gwNS, gwName, ok := strings.Cut(g.s.Gateway, "/")
	if !ok {
		gwNS, gwName = g.s.Namespace, g.s.Gateway
	}
	parent := map[string]any{"name": gwName}
	if gwNS != "" && gwNS != g.s.Namespace {
		parent["namespace"] = gwNS
	}
	return map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": metaMap(g.meta(g.s.Name)),
		"spec": map[string]any{
			"parentRefs": []any{parent},
			"hostnames":  []any{g.s.Host},
			"rules": []any{map[string]any{
				"matches":     []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/"}}},
				"backendRefs": []any{map[string]any{"name": g.s.Name, "port": int64(g.servicePort())}},
			}},
		},
	}
}

// cnpgCluster is a CloudNativePG Cluster (operator-managed postgres).
func (g *gen) cnpgCluster() map[string]any {
	storage := map[string]any{"size": g.s.Storage}
	if g.s.StorageClass != "" {
		storage["storageClass"] = g.s.StorageClass
	}
	return map[string]any{
		"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
		"metadata": metaMap(g.meta(g.s.Name)),
		"spec": map[string]any{
			"instances": int64(max(g.s.Replicas, 1)),
			"storage":   storage,
			"resources": map[string]any{
				"requests": map[string]any{"cpu": g.s.CPU, "memory": g.s.Memory},
				"limits":   map[string]any{"memory": g.s.Memory},
			},
		},
	}
}

func metaMap(m metav1.ObjectMeta) map[string]any {
	labels := map[string]any{}
	for k, v := range m.Labels {
		labels[k] = v
	}
	out := map[string]any{"name": m.Name, "labels": labels}
	if m.Namespace != "" {
		out["namespace"] = m.Namespace
	}
	return out
}

func (g *gen) networkPolicy() *networkingv1.NetworkPolicy {
	port := intstr.FromInt32(g.s.Port)
	rule := networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: &port}}}
	if g.s.Archetype == Database || g.s.Archetype == Cache || !g.s.Public {
		// Not public: only pods of the same namespace may connect.
		rule.From = []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}
	}
	return &networkingv1.NetworkPolicy{TypeMeta: g.typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: g.meta(g.s.Name), Spec: networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: g.selector()},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		Ingress:     []networkingv1.NetworkPolicyIngressRule{rule},
	}}
}

// toUnstructured converts a typed object (or a map) and drops what the
// typed structs add but a person would not write: creationTimestamp: null,
// status, empty strategy/resources.
func toUnstructured(o any) (*unstructured.Unstructured, error) {
	if m, ok := o.(map[string]any); ok {
		return &unstructured.Unstructured{Object: m}, nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, fmt.Errorf("convert %T: %w", o, err)
	}
	delete(m, "status")
	clean(m)
	return &unstructured.Unstructured{Object: m}, nil
}

var droppedWhenEmpty = map[string]bool{"strategy": true, "status": true, "resources": true, "updateStrategy": true, "metadata": true}

func clean(v any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			val := x[k]
			if val == nil || k == "creationTimestamp" {
				delete(x, k)
				continue
			}
			clean(val)
			if m, ok := val.(map[string]any); ok && len(m) == 0 && droppedWhenEmpty[k] {
				delete(x, k)
			}
		}
	case []any:
		for _, e := range x {
			clean(e)
		}
	}
}
