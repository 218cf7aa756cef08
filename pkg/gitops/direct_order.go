package gitops

import (
	"sort"

	"github.com/dot-ai/dot/pkg/kube"
)

// applyRanks orders kinds so that what an object needs exists before it:
// definitions and namespaces, identities and permissions, configuration,
// storage, workloads, then what routes traffic to them. Keyed by
// "<group>/<kind>"; kinds not listed come last.
var applyRanks = map[string]int{
	"apiextensions.k8s.io/CustomResourceDefinition": 0,
	"/Namespace":                            1,
	"/ResourceQuota":                        2,
	"/LimitRange":                           2,
	"/ServiceAccount":                       3,
	"rbac.authorization.k8s.io/ClusterRole": 3,
	"rbac.authorization.k8s.io/ClusterRoleBinding": 3,
	"rbac.authorization.k8s.io/Role":               3,
	"rbac.authorization.k8s.io/RoleBinding":        3,
	"scheduling.k8s.io/PriorityClass":              3,
	"/ConfigMap":                                   4,
	"/Secret":                                      4,
	"storage.k8s.io/StorageClass":                  5,
	"/PersistentVolume":                            5,
	"/PersistentVolumeClaim":                       5,
	"apps/Deployment":                              6,
	"apps/StatefulSet":                             6,
	"apps/DaemonSet":                               6,
	"apps/ReplicaSet":                              6,
	"batch/Job":                                    6,
	"batch/CronJob":                                6,
	"/Pod":                                         6,
	"/ReplicationController":                       6,
	"/Service":                                     7,
	"/Endpoints":                                   7,
	"discovery.k8s.io/EndpointSlice":               7,
	"networking.k8s.io/IngressClass":               8,
	"networking.k8s.io/Ingress":                    8,
	"gateway.networking.k8s.io/Gateway":            8,
	"gateway.networking.k8s.io/HTTPRoute":          8,
	"gateway.networking.k8s.io/GRPCRoute":          8,
	"gateway.networking.k8s.io/TCPRoute":           8,
	"gateway.networking.k8s.io/TLSRoute":           8,
	"gateway.networking.k8s.io/UDPRoute":           8,
}

const otherRank = 9

// applyRank returns the position of an object's kind in apply order.
func applyRank(ref kube.ObjectRef) int {
	if r, ok := applyRanks[ref.Group+"/"+ref.Kind]; ok {
		return r
	}
	return otherRank
}

// orderChanges returns the indexes of changes in the order they are
// applied: creates and sets by kind rank, then deletes in reverse rank
// (workloads go before the ConfigMaps and namespaces they use). Within a
// rank the given order is kept.
func orderChanges(changes []Change) []int {
	var apply, del []int
	for i, c := range changes {
		if c.Action == ActionDelete {
			del = append(del, i)
		} else {
			apply = append(apply, i)
		}
	}
	sort.SliceStable(apply, func(a, b int) bool {
		return applyRank(changes[apply[a]].Object) < applyRank(changes[apply[b]].Object)
	})
	sort.SliceStable(del, func(a, b int) bool {
		return applyRank(changes[del[a]].Object) > applyRank(changes[del[b]].Object)
	})
	return append(apply, del...)
}
