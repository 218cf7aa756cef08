#!/usr/bin/env bash
# Runs dot's e2e suite (test/e2e, build tag e2e) against a kind cluster with
# the real Flux and Argo CD installed from their release manifests, for
# machines with a Docker engine. `make e2e-kind` calls it.
#
#   1. kind create cluster --config kind-config.yaml (cluster dot-e2e),
#      unless a cluster of that name exists (then it is reused and kept)
#   2. install Flux and Argo CD (pinned release manifests, server-side apply),
#      set Argo CD's resource tracking method explicitly, wait for both
#   3. write the cluster's kubeconfig to a file and run
#      go test -tags e2e ./test/e2e/ with DOT_TEST_KUBECONFIG pointing at it
#   4. delete the cluster it created (KEEP_CLUSTER=1 keeps it)
#
# The suite starts its git server in the test process; the cluster reaches
# it through DOT_TEST_GIT_LISTEN (0.0.0.0:$GIT_PORT on this machine) at
# DOT_TEST_GIT_CLUSTER_URL, the gateway of kind's Docker network, which is
# this machine's address on that bridge.
#
# Environment:
#   KEEP_CLUSTER=1   do not delete a cluster this script created
#   GIT_PORT         host port for the git server (default 8999)
#   GIT_HOST         address the cluster reaches this machine by (default:
#                    the kind network's IPv4 gateway; Docker Desktop:
#                    host.docker.internal)
#   E2E_PKGS         packages to test (default ./test/e2e/: the suite; the
#                    test/e2e/cluster tests exercise the local test bed and
#                    need `make testbin`, not kind)
#   E2E_RUN          passed to go test -run
#   FLUX_VERSION, ARGOCD_VERSION, ARGOCD_TRACKING   override the pins below
#
# Not run on the machine it was written on (no Docker engine there): see
# docs/demo.md.
set -euo pipefail

FLUX_VERSION="${FLUX_VERSION:-v2.9.4}"
ARGOCD_VERSION="${ARGOCD_VERSION:-v2.14.21}"
# Argo CD v2 defaults to label tracking, v3 to annotation; the suite's tests
# switch it themselves, this is the starting point (the local test bed's).
ARGOCD_TRACKING="${ARGOCD_TRACKING:-annotation}"
GIT_PORT="${GIT_PORT:-8999}"
E2E_PKGS="${E2E_PKGS:-./test/e2e/}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
config="$root/kind-config.yaml"
name="$(sed -n 's/^name:[[:space:]]*//p' "$config" | head -n 1)"
name="${name:-dot-e2e}"

die() {
	echo "e2e-kind: $*" >&2
	exit 1
}
log() { echo "e2e-kind: $*" >&2; }

# Refuse early and clearly when a tool is missing.
missing=()
for tool in docker kind kubectl go git; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
	die "needs ${missing[*]} on PATH (kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation). Without Docker, use the local environment instead: make e2e"
fi
docker info >/dev/null 2>&1 ||
	die "docker is installed but its engine does not answer (docker info failed): start Docker, or use the local environment instead: make e2e"

work="$(mktemp -d "${TMPDIR:-/tmp}/dot-e2e-kind.XXXXXX")"
kubeconfig="$work/kubeconfig"
created=0
cleanup() {
	local rc=$?
	if ((created)) && [[ "${KEEP_CLUSTER:-}" != 1 ]]; then
		log "deleting kind cluster $name"
		kind delete cluster --name "$name" >/dev/null 2>&1 || log "could not delete kind cluster $name"
		rm -rf "$work"
	else
		log "cluster $name kept; kubeconfig: $kubeconfig"
	fi
	exit "$rc"
}
trap cleanup EXIT

if kind get clusters 2>/dev/null | grep -qx "$name"; then
	log "reusing existing kind cluster $name (it is not deleted afterwards)"
else
	log "creating kind cluster $name from $config"
	created=1 # also when creation fails half-way: delete what was made
	kind create cluster --config "$config" --wait 5m
fi
kind get kubeconfig --name "$name" >"$kubeconfig"
chmod 600 "$kubeconfig"
kc=(kubectl --kubeconfig "$kubeconfig")

log "installing Flux $FLUX_VERSION"
"${kc[@]}" apply --server-side --force-conflicts \
	-f "https://github.com/fluxcd/flux2/releases/download/$FLUX_VERSION/install.yaml" >/dev/null

log "installing Argo CD $ARGOCD_VERSION"
"${kc[@]}" create namespace argocd --dry-run=client -o yaml | "${kc[@]}" apply -f - >/dev/null
# Server-side: the ApplicationSet CRD is too large for client-side apply's
# last-applied annotation.
"${kc[@]}" apply --server-side --force-conflicts -n argocd \
	-f "https://raw.githubusercontent.com/argoproj/argo-cd/$ARGOCD_VERSION/manifests/install.yaml" >/dev/null
"${kc[@]}" -n argocd patch configmap argocd-cm --type merge \
	-p "{\"data\":{\"application.resourceTrackingMethod\":\"$ARGOCD_TRACKING\"}}" >/dev/null

log "waiting for the controllers"
"${kc[@]}" -n flux-system wait --for=condition=Available deployment --all --timeout=5m >/dev/null
"${kc[@]}" -n argocd wait --for=condition=Available deployment --all --timeout=5m >/dev/null
"${kc[@]}" -n argocd rollout status statefulset/argocd-application-controller --timeout=5m >/dev/null
# argocd-server creates the default AppProject at start; the suite's
# Applications use it.
for _ in $(seq 1 60); do
	"${kc[@]}" -n argocd get appproject default >/dev/null 2>&1 && break
	sleep 2
done
"${kc[@]}" -n argocd get appproject default >/dev/null || die "Argo CD's default AppProject did not appear"

# kind nodes (and the pods on them) reach this machine at the gateway of the
# kind Docker network (Linux). Docker Desktop does not route that address to
# the host: set GIT_HOST=host.docker.internal there.
gateway="${GIT_HOST:-}"
if [[ -z "$gateway" ]]; then
	gateway="$(docker network inspect kind -f '{{range .IPAM.Config}}{{.Gateway}} {{end}}' |
		tr ' ' '\n' | grep -E '^[0-9]+(\.[0-9]+){3}$' | head -n 1)" ||
		die "could not find the IPv4 gateway of docker network kind; set GIT_HOST"
fi

log "running the e2e suite ($E2E_PKGS) against $name; git server on 0.0.0.0:$GIT_PORT, seen by the cluster as http://$gateway:$GIT_PORT"
cd "$root"
run_args=()
if [[ -n "${E2E_RUN:-}" ]]; then
	run_args=(-run "$E2E_RUN")
fi
# shellcheck disable=SC2086 # E2E_PKGS is a list of packages
DOT_TEST_KUBECONFIG="$kubeconfig" \
	DOT_TEST_GIT_LISTEN="0.0.0.0:$GIT_PORT" \
	DOT_TEST_GIT_CLUSTER_URL="http://$gateway:$GIT_PORT" \
	go test -tags e2e -count=1 -timeout 40m ${run_args[@]+"${run_args[@]}"} $E2E_PKGS
