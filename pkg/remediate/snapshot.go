package remediate

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/kube"
)

// Snapshot is what the analyzers read: the objects of one namespace (and the
// cluster-scoped ones they refer to), read once. Secrets are reduced to
// their names and keys as soon as they are read.
type Snapshot struct {
	Namespace      string
	Pods           []corev1.Pod
	Events         []corev1.Event
	Deployments    []appsv1.Deployment
	ReplicaSets    []appsv1.ReplicaSet
	StatefulSets   []appsv1.StatefulSet
	DaemonSets     []appsv1.DaemonSet
	Services       []corev1.Service
	EndpointSlices []discoveryv1.EndpointSlice
	PVCs           []corev1.PersistentVolumeClaim
	StorageClasses []storagev1.StorageClass
	HPAs           []autoscalingv2.HorizontalPodAutoscaler
	LimitRanges    []corev1.LimitRange
	Ingresses      []networkingv1.Ingress
	IngressClasses []networkingv1.IngressClass
	PDBs           []policyv1.PodDisruptionBudget
	Jobs           []batchv1.Job
	CronJobs       []batchv1.CronJob
	// Nodes are the nodes the namespace's pods run on (cluster-scoped,
	// often forbidden to namespace users).
	Nodes []corev1.Node
	// IngressClassesRead and NodesRead are false when they could not be
	// listed: the analyses that need them are skipped.
	IngressClassesRead, NodesRead bool
	// ConfigMaps and Secrets map names to their keys (data and binaryData).
	ConfigMaps map[string][]string
	Secrets    map[string][]string
	// ConfigMapsRead and SecretsRead are false when they could not be
	// listed: missing references are then not reported.
	ConfigMapsRead, SecretsRead bool
	// Notes say what could not be read (forbidden, not served); the
	// analyses that need it are skipped.
	Notes []string
}

// LoadSnapshot lists the namespace's objects with c.
func LoadSnapshot(ctx context.Context, c client.Reader, namespace string) (*Snapshot, error) {
	s := &Snapshot{Namespace: namespace, ConfigMaps: map[string][]string{}, Secrets: map[string][]string{}}
	in := client.InNamespace(namespace)
	lists := []struct {
		what     string
		list     client.ObjectList
		optional bool
		cluster  bool
	}{
		{"pods", &corev1.PodList{}, false, false},
		{"events", &corev1.EventList{}, true, false},
		{"deployments", &appsv1.DeploymentList{}, false, false},
		{"replicasets", &appsv1.ReplicaSetList{}, false, false},
		{"statefulsets", &appsv1.StatefulSetList{}, true, false},
		{"daemonsets", &appsv1.DaemonSetList{}, true, false},
		{"services", &corev1.ServiceList{}, true, false},
		{"endpointslices", &discoveryv1.EndpointSliceList{}, true, false},
		{"persistentvolumeclaims", &corev1.PersistentVolumeClaimList{}, true, false},
		{"storageclasses", &storagev1.StorageClassList{}, true, true},
		{"horizontalpodautoscalers", &autoscalingv2.HorizontalPodAutoscalerList{}, true, false},
		{"limitranges", &corev1.LimitRangeList{}, true, false},
		{"ingresses", &networkingv1.IngressList{}, true, false},
		{"ingressclasses", &networkingv1.IngressClassList{}, true, true},
		{"poddisruptionbudgets", &policyv1.PodDisruptionBudgetList{}, true, false},
		{"jobs", &batchv1.JobList{}, true, false},
		{"cronjobs", &batchv1.CronJobList{}, true, false},
		{"configmaps", &corev1.ConfigMapList{}, true, false},
		{"secrets", &corev1.SecretList{}, true, false},
	}
	for _, l := range lists {
		var opts []client.ListOption
		if !l.cluster {
			opts = append(opts, in)
		}
		if err := c.List(ctx, l.list, opts...); err != nil {
			if l.optional && (apierrors.IsForbidden(err) || meta.IsNoMatchError(err) || apierrors.IsNotFound(err)) {
				s.Notes = append(s.Notes, fmt.Sprintf("cannot list %s: %v", l.what, err))
				continue
			}
			return nil, fmt.Errorf("list %s in %s: %w", l.what, namespace, err)
		}
		switch v := l.list.(type) {
		case *corev1.PodList:
			s.Pods = v.Items
		case *corev1.EventList:
			s.Events = v.Items
		case *appsv1.DeploymentList:
			s.Deployments = v.Items
		case *appsv1.ReplicaSetList:
			s.ReplicaSets = v.Items
		case *appsv1.StatefulSetList:
			s.StatefulSets = v.Items
		case *appsv1.DaemonSetList:
			s.DaemonSets = v.Items
		case *corev1.ServiceList:
			s.Services = v.Items
		case *discoveryv1.EndpointSliceList:
			s.EndpointSlices = v.Items
		case *corev1.PersistentVolumeClaimList:
			s.PVCs = v.Items
		case *storagev1.StorageClassList:
			s.StorageClasses = v.Items
		case *autoscalingv2.HorizontalPodAutoscalerList:
			s.HPAs = v.Items
		case *corev1.LimitRangeList:
			s.LimitRanges = v.Items
		case *networkingv1.IngressList:
			s.Ingresses = v.Items
		case *networkingv1.IngressClassList:
			s.IngressClasses, s.IngressClassesRead = v.Items, true
		case *policyv1.PodDisruptionBudgetList:
			s.PDBs = v.Items
		case *batchv1.JobList:
			s.Jobs = v.Items
		case *batchv1.CronJobList:
			s.CronJobs = v.Items
		case *corev1.ConfigMapList:
			s.ConfigMapsRead = true
			for _, cm := range v.Items {
				s.ConfigMaps[cm.Name] = configMapKeys(&cm)
			}
		case *corev1.SecretList:
			s.SecretsRead = true
			for i := range v.Items {
				s.Secrets[v.Items[i].Name] = secretKeys(&v.Items[i])
				// Drop the values at once: they are never needed.
				v.Items[i].Data, v.Items[i].StringData = nil, nil
			}
		}
	}
	if err := s.loadNodes(ctx, c); err != nil {
		return nil, err
	}
	s.sort()
	return s, nil
}

// loadNodes reads the nodes the pods run on, one by one: a cluster has
// many more nodes than a namespace uses.
func (s *Snapshot) loadNodes(ctx context.Context, c client.Reader) error {
	s.NodesRead = true
	seen := map[string]bool{}
	for _, p := range s.Pods {
		n := p.Spec.NodeName
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		var node corev1.Node
		err := c.Get(ctx, client.ObjectKey{Name: n}, &node)
		switch {
		case apierrors.IsNotFound(err):
			continue // deleted: its pods are being cleaned up
		case apierrors.IsForbidden(err):
			s.NodesRead = false
			s.Notes = append(s.Notes, fmt.Sprintf("cannot read nodes: %v", err))
			return nil
		case err != nil:
			return fmt.Errorf("get node %s: %w", n, err)
		}
		s.Nodes = append(s.Nodes, node)
	}
	return nil
}

// SnapshotOf builds a snapshot from objects (typed, or unstructured as
// fixture files load them): what the tests and offline analysis use.
func SnapshotOf(namespace string, objs ...runtime.Object) (*Snapshot, error) {
	s := &Snapshot{Namespace: namespace, ConfigMaps: map[string][]string{}, Secrets: map[string][]string{}, ConfigMapsRead: true, SecretsRead: true,
		IngressClassesRead: true, NodesRead: true}
	for _, o := range objs {
		if u, ok := o.(*unstructured.Unstructured); ok {
			typed, err := toTyped(u)
			if err != nil {
				return nil, err
			}
			if typed == nil {
				continue
			}
			o = typed
		}
		switch v := o.(type) {
		case *corev1.Pod:
			s.Pods = append(s.Pods, *v)
		case *corev1.Event:
			s.Events = append(s.Events, *v)
		case *appsv1.Deployment:
			s.Deployments = append(s.Deployments, *v)
		case *appsv1.ReplicaSet:
			s.ReplicaSets = append(s.ReplicaSets, *v)
		case *appsv1.StatefulSet:
			s.StatefulSets = append(s.StatefulSets, *v)
		case *appsv1.DaemonSet:
			s.DaemonSets = append(s.DaemonSets, *v)
		case *corev1.Service:
			s.Services = append(s.Services, *v)
		case *discoveryv1.EndpointSlice:
			s.EndpointSlices = append(s.EndpointSlices, *v)
		case *corev1.PersistentVolumeClaim:
			s.PVCs = append(s.PVCs, *v)
		case *storagev1.StorageClass:
			s.StorageClasses = append(s.StorageClasses, *v)
		case *autoscalingv2.HorizontalPodAutoscaler:
			s.HPAs = append(s.HPAs, *v)
		case *corev1.LimitRange:
			s.LimitRanges = append(s.LimitRanges, *v)
		case *networkingv1.Ingress:
			s.Ingresses = append(s.Ingresses, *v)
		case *networkingv1.IngressClass:
			s.IngressClasses = append(s.IngressClasses, *v)
		case *policyv1.PodDisruptionBudget:
			s.PDBs = append(s.PDBs, *v)
		case *batchv1.Job:
			s.Jobs = append(s.Jobs, *v)
		case *batchv1.CronJob:
			s.CronJobs = append(s.CronJobs, *v)
		case *corev1.Node:
			s.Nodes = append(s.Nodes, *v)
		case *corev1.ConfigMap:
			s.ConfigMaps[v.Name] = configMapKeys(v)
		case *corev1.Secret:
			s.Secrets[v.Name] = secretKeys(v)
		}
	}
	s.sort()
	return s, nil
}

func toTyped(u *unstructured.Unstructured) (runtime.Object, error) {
	obj, err := kube.NewScheme().New(u.GroupVersionKind())
	if err != nil {
		return nil, nil // a kind the analyzers do not read
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return nil, fmt.Errorf("convert %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return obj, nil
}

func configMapKeys(cm *corev1.ConfigMap) []string {
	var keys []string
	for k := range cm.Data {
		keys = append(keys, k)
	}
	for k := range cm.BinaryData {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func secretKeys(s *corev1.Secret) []string {
	var keys []string
	for k := range s.Data {
		keys = append(keys, k)
	}
	for k := range s.StringData {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// sort orders everything by name so analyses are deterministic.
func (s *Snapshot) sort() {
	sort.Slice(s.Pods, func(i, j int) bool { return s.Pods[i].Name < s.Pods[j].Name })
	sort.SliceStable(s.Events, func(i, j int) bool { return eventTime(&s.Events[i]).Time.Before(eventTime(&s.Events[j]).Time) })
	sort.Slice(s.Deployments, func(i, j int) bool { return s.Deployments[i].Name < s.Deployments[j].Name })
	sort.Slice(s.ReplicaSets, func(i, j int) bool { return s.ReplicaSets[i].Name < s.ReplicaSets[j].Name })
	sort.Slice(s.StatefulSets, func(i, j int) bool { return s.StatefulSets[i].Name < s.StatefulSets[j].Name })
	sort.Slice(s.DaemonSets, func(i, j int) bool { return s.DaemonSets[i].Name < s.DaemonSets[j].Name })
	sort.Slice(s.Services, func(i, j int) bool { return s.Services[i].Name < s.Services[j].Name })
	sort.Slice(s.PVCs, func(i, j int) bool { return s.PVCs[i].Name < s.PVCs[j].Name })
	sort.Slice(s.HPAs, func(i, j int) bool { return s.HPAs[i].Name < s.HPAs[j].Name })
	sort.Slice(s.Ingresses, func(i, j int) bool { return s.Ingresses[i].Name < s.Ingresses[j].Name })
	sort.Slice(s.PDBs, func(i, j int) bool { return s.PDBs[i].Name < s.PDBs[j].Name })
	sort.Slice(s.Jobs, func(i, j int) bool { return s.Jobs[i].Name < s.Jobs[j].Name })
	sort.Slice(s.CronJobs, func(i, j int) bool { return s.CronJobs[i].Name < s.CronJobs[j].Name })
	sort.Slice(s.Nodes, func(i, j int) bool { return s.Nodes[i].Name < s.Nodes[j].Name })
}

func eventTime(e *corev1.Event) metav1.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp
	case !e.EventTime.IsZero():
		return metav1.Time{Time: e.EventTime.Time}
	}
	return e.FirstTimestamp
}

// eventsFor returns the events about an object, oldest first.
func (s *Snapshot) eventsFor(kind, name string) []corev1.Event {
	var out []corev1.Event
	for _, e := range s.Events {
		if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// Workload-level references.

var (
	gvPod         = kube.ObjectRef{Version: "v1", Kind: "Pod"}
	gvService     = kube.ObjectRef{Version: "v1", Kind: "Service"}
	gvPVC         = kube.ObjectRef{Version: "v1", Kind: "PersistentVolumeClaim"}
	gvDeployment  = kube.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment"}
	gvReplicaSet  = kube.ObjectRef{Group: "apps", Version: "v1", Kind: "ReplicaSet"}
	gvStatefulSet = kube.ObjectRef{Group: "apps", Version: "v1", Kind: "StatefulSet"}
	gvDaemonSet   = kube.ObjectRef{Group: "apps", Version: "v1", Kind: "DaemonSet"}
	gvHPA         = kube.ObjectRef{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}
	gvIngress     = kube.ObjectRef{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}
	gvPDB         = kube.ObjectRef{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}
	gvJob         = kube.ObjectRef{Group: "batch", Version: "v1", Kind: "Job"}
	gvCronJob     = kube.ObjectRef{Group: "batch", Version: "v1", Kind: "CronJob"}
	gvNode        = kube.ObjectRef{Version: "v1", Kind: "Node"}
)

func refTo(gv kube.ObjectRef, ns, name string) kube.ObjectRef {
	gv.Namespace, gv.Name = ns, name
	return gv
}

// workloadOf walks a pod's controller references to its workload
// (ReplicaSet → Deployment), within the snapshot. It returns the pod itself
// for a bare pod.
func (s *Snapshot) workloadOf(p *corev1.Pod) kube.ObjectRef {
	ctrl := metav1.GetControllerOf(p)
	if ctrl == nil {
		return refTo(gvPod, p.Namespace, p.Name)
	}
	switch ctrl.Kind {
	case "ReplicaSet":
		if rs := s.replicaSet(ctrl.Name); rs != nil {
			if d := metav1.GetControllerOf(rs); d != nil && d.Kind == "Deployment" {
				return refTo(gvDeployment, p.Namespace, d.Name)
			}
		}
		return refTo(gvReplicaSet, p.Namespace, ctrl.Name)
	case "StatefulSet":
		return refTo(gvStatefulSet, p.Namespace, ctrl.Name)
	case "DaemonSet":
		return refTo(gvDaemonSet, p.Namespace, ctrl.Name)
	case "Job":
		// A CronJob's Job is created per run: the CronJob is what Git holds.
		if j := s.job(ctrl.Name); j != nil {
			if c := metav1.GetControllerOf(j); c != nil && c.Kind == "CronJob" {
				return refTo(gvCronJob, p.Namespace, c.Name)
			}
		}
		return refTo(gvJob, p.Namespace, ctrl.Name)
	}
	ref := kube.ObjectRef{Kind: ctrl.Kind, Namespace: p.Namespace, Name: ctrl.Name}
	if gv, err := schema.ParseGroupVersion(ctrl.APIVersion); err == nil {
		ref.Group, ref.Version = gv.Group, gv.Version
	}
	return ref
}

// named returns the item of items called name, or nil.
func named[T any, P interface {
	*T
	GetName() string
}](items []T, name string) *T {
	for i := range items {
		if P(&items[i]).GetName() == name {
			return &items[i]
		}
	}
	return nil
}

func (s *Snapshot) replicaSet(name string) *appsv1.ReplicaSet {
	return named(s.ReplicaSets, name)
}

func (s *Snapshot) job(name string) *batchv1.Job {
	return named(s.Jobs, name)
}

func (s *Snapshot) deployment(name string) *appsv1.Deployment {
	return named(s.Deployments, name)
}

// podTemplate returns the pod template of a workload in the snapshot.
func (s *Snapshot) podTemplate(ref kube.ObjectRef) *corev1.PodTemplateSpec {
	switch ref.Kind {
	case "Deployment":
		if d := s.deployment(ref.Name); d != nil {
			return &d.Spec.Template
		}
	case "ReplicaSet":
		if rs := s.replicaSet(ref.Name); rs != nil {
			return &rs.Spec.Template
		}
	case "StatefulSet":
		if o := named(s.StatefulSets, ref.Name); o != nil {
			return &o.Spec.Template
		}
	case "DaemonSet":
		if o := named(s.DaemonSets, ref.Name); o != nil {
			return &o.Spec.Template
		}
	case "Job":
		if j := s.job(ref.Name); j != nil {
			return &j.Spec.Template
		}
	case "CronJob":
		if o := named(s.CronJobs, ref.Name); o != nil {
			return &o.Spec.JobTemplate.Spec.Template
		}
	}
	return nil
}

// workloadRefs lists the workloads with pod templates, in a stable order.
func (s *Snapshot) workloadRefs() []kube.ObjectRef {
	var out []kube.ObjectRef
	for _, d := range s.Deployments {
		out = append(out, refTo(gvDeployment, d.Namespace, d.Name))
	}
	for _, st := range s.StatefulSets {
		out = append(out, refTo(gvStatefulSet, st.Namespace, st.Name))
	}
	for _, ds := range s.DaemonSets {
		out = append(out, refTo(gvDaemonSet, ds.Namespace, ds.Name))
	}
	return out
}

// livePods are the pods not being deleted.
func (s *Snapshot) livePods() []*corev1.Pod {
	var out []*corev1.Pod
	for i := range s.Pods {
		if s.Pods[i].DeletionTimestamp == nil {
			out = append(out, &s.Pods[i])
		}
	}
	return out
}

// podsOf returns the live pods whose workload is ref.
func (s *Snapshot) podsOf(ref kube.ObjectRef) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range s.livePods() {
		if w := s.workloadOf(p); w.SameObject(ref) {
			out = append(out, p)
		}
	}
	return out
}

// replicaSetsOf returns the ReplicaSets a Deployment controls, newest
// revision first.
func (s *Snapshot) replicaSetsOf(deploy string) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for i := range s.ReplicaSets {
		if c := metav1.GetControllerOf(&s.ReplicaSets[i]); c != nil && c.Kind == "Deployment" && c.Name == deploy {
			out = append(out, &s.ReplicaSets[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return revisionOf(out[i]) > revisionOf(out[j]) })
	return out
}

const revisionAnnotation = "deployment.kubernetes.io/revision"

func revisionOf(rs *appsv1.ReplicaSet) int64 {
	n, _ := strconv.ParseInt(rs.Annotations[revisionAnnotation], 10, 64)
	return n
}
