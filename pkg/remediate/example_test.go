package remediate_test

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dot-ai/dot/pkg/remediate"
)

// Diagnose objects offline and see what dot would change. Against a
// cluster, Config.Diagnose reads the snapshot and Remediation.Run delivers.
func Example() {
	limits := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "api", Image: "api:3", Resources: corev1.ResourceRequirements{Limits: limits}}},
		}}},
		Status: appsv1.DeploymentStatus{Replicas: 1, AvailableReplicas: 1},
	}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "api-5d9f", Namespace: "shop",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "api", Controller: new(true)}}}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "api-5d9f-x7k2p", Namespace: "shop",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "api-5d9f", Controller: new(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "api:3", Resources: corev1.ResourceRequirements{Limits: limits}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "api", RestartCount: 6,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}},
		}}},
	}
	snap, err := remediate.SnapshotOf("shop", deploy, rs, pod)
	if err != nil {
		panic(err)
	}
	d := remediate.NewDiagnosis("namespace shop", snap, remediate.Analyze(snap))
	for _, f := range d.Findings {
		fmt.Printf("[%s] %s: %s\n", f.Severity, f.ID, f.Summary)
	}
	for _, fix := range remediate.Propose(d) {
		fmt.Printf("fix (risk %s, confidence %.1f): %s\n", fix.Risk, fix.Confidence, fix.Title)
		for _, c := range fix.ChangeSet.Changes[0].Fields {
			fmt.Printf("  %s: %v -> %v\n", c.Path, c.Expect, c.Value)
		}
	}
	// Output:
	// [Critical] OOMKilled: container api is OOMKilled (exit code 137)
	// fix (risk low, confidence 0.9): raise memory limit of deployment/api container api from 256Mi to 356Mi (shop)
	//   spec.template.spec.containers[name=api].resources.limits.memory: 256Mi -> 356Mi
}
