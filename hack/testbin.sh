#!/usr/bin/env bash
# Builds the binaries and copies the manifests the local test bed needs
# (test/e2e/cluster): etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok, Flux kustomize-controller, a small Argo CD
# multi-call binary and kustomize (for Argo CD's repo-server), plus the Flux and Argo CD CRDs and kwok's stage files.
#
# Each component is its own Go module under test/e2e/tools/<component> so
# their conflicting dependency graphs never meet. Only Go and git are needed;
# everything else comes from the Go module proxy.
#
# Usage:
#   hack/testbin.sh              build what is missing (idempotent)
#   hack/testbin.sh --print-dir  print the output directory and exit
#
# Output directory: $DOT_TESTBIN if set, else
#   ${XDG_CACHE_HOME:-$HOME/.cache}/dot/testbin/<version>
# where <version> is a hash of test/e2e/tools/*/go.mod and *.go, so changing a
# pinned version gives a fresh directory. Keep the resolution in sync with
# test/e2e/cluster.TestBinDir.
set -euo pipefail
export GOWORK=off # each tools module stands alone, whatever go.work sits above

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/test/e2e/tools"

# version hashes the build inputs. The list is sorted so the result does not
# depend on the order the shell expands globs in.
version() {
	local sum=sha256sum
	command -v sha256sum >/dev/null || sum="shasum -a 256"
	(cd "$tools" && printf '%s\n' ./*/go.mod ./*/*.go | LC_ALL=C sort | xargs cat --) |
		$sum | cut -c1-12
}

testbin_dir() {
	if [[ -n "${DOT_TESTBIN:-}" ]]; then
		printf '%s\n' "$DOT_TESTBIN"
		return
	fi
	printf '%s/dot/testbin/%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}" "$(version)"
}

dir="$(testbin_dir)"

case "${1:-}" in
--print-dir)
	printf '%s\n' "$dir"
	exit 0
	;;
"") ;;
*)
	echo "usage: $0 [--print-dir]" >&2
	exit 2
	;;
esac

command -v go >/dev/null || { echo "testbin: go is not on PATH" >&2; exit 1; }
mkdir -p "$dir/logs"

# The apiserver reports this version; kubectl and client libraries refuse a
# server that says v0.0.0-master.
kube_version=v1.33.13
kube_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kube_ldflags+=" -X $pkg.gitVersion=$kube_version"
	kube_ldflags+=" -X $pkg.gitMajor=1 -X $pkg.gitMinor=33"
	kube_ldflags+=" -X $pkg.gitTreeState=clean"
	kube_ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# build <binary> <module dir> <package> [extra ldflags]
# Builds into a temporary name and renames, so an interrupted build never
# leaves a binary that a later run would take as present.
build() {
	local bin="$1" mod="$2" pkg="$3" extra="${4:-}"
	if [[ -x "$dir/$bin" ]]; then
		echo "testbin: $bin present" >&2
		return
	fi
	printf 'testbin: building %s ... ' "$bin" >&2
	local start=$SECONDS log="$dir/logs/build-$bin.log"
	if ! (cd "$tools/$mod" && CGO_ENABLED=0 nice -n 10 go build -trimpath -buildvcs=false \
		-ldflags="-s -w$extra" -o "$dir/.$bin.tmp" "$pkg") >"$log" 2>&1; then
		echo "FAILED after $((SECONDS - start))s (log: $log)" >&2
		tail -n 30 "$log" >&2
		rm -f "$dir/.$bin.tmp"
		exit 1
	fi
	mv "$dir/.$bin.tmp" "$dir/$bin"
	echo "done in $((SECONDS - start))s ($(du -m "$dir/$bin" | cut -f1) MB)" >&2
}

# module_dir <module dir> <module path> prints where a module required by that
# tools module lives in the module cache, downloading it if needed.
module_dir() {
	(cd "$tools/$1" && go mod download "$2" && go list -m -f '{{.Dir}}' "$2")
}

# standalone_module_dir <module@version> is module_dir for a module no tools
# module requires (source-controller, helm-controller: only their CRDs are used).
standalone_module_dir() {
	local tmp
	tmp="$(mktemp -d)"
	(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "$1") |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
	rmdir "$tmp"
}

# Manifests are copied once; the marker file records that the set is complete
# (delete it to copy them again).
if [[ ! -f "$dir/manifests.done" ]]; then
	printf 'testbin: copying CRDs and kwok stages ... ' >&2
	start=$SECONDS
	rm -rf "$dir/crds" "$dir/kwok-stages"
	mkdir -p "$dir/crds/flux" "$dir/crds/argocd" "$dir/kwok-stages"

	kc="$(module_dir kustomize-controller github.com/fluxcd/kustomize-controller)"
	cp "$kc"/config/crd/bases/*.yaml "$dir/crds/flux/"
	# source-controller cannot be built here (see docs/testbed.md), but its
	# module zip downloads and carries the CRDs the artifact publisher serves.
	sc="$(standalone_module_dir github.com/fluxcd/source-controller@v1.9.5)"
	cp "$sc"/config/crd/bases/*.yaml "$dir/crds/flux/"
	if hc="$(standalone_module_dir github.com/fluxcd/helm-controller@v1.6.4 2>/dev/null)" && [[ -n "$hc" ]]; then
		cp "$hc"/config/crd/bases/*.yaml "$dir/crds/flux/"
	fi

	ac="$(module_dir argocd github.com/argoproj/argo-cd/v2)"
	cp "$ac"/manifests/crds/*-crd.yaml "$dir/crds/argocd/"

	kw="$(module_dir kwok sigs.k8s.io/kwok)/kustomize/stage"
	cp "$kw"/node/fast/node-initialize.yaml "$kw"/node/heartbeat/node-heartbeat.yaml \
		"$kw"/pod/fast/pod-ready.yaml "$kw"/pod/fast/pod-complete.yaml \
		"$kw"/pod/fast/pod-delete.yaml "$dir/kwok-stages/"
	# Module cache files are read-only; keep the copies writable so the
	# directory can be removed with plain rm -rf.
	chmod -R u+w "$dir/crds" "$dir/kwok-stages"
	touch "$dir/manifests.done"
	echo "done in $((SECONDS - start))s" >&2
fi

build etcd etcd go.etcd.io/etcd/server/v3
build kube-apiserver kube k8s.io/kubernetes/cmd/kube-apiserver "$kube_ldflags"
build kube-controller-manager kube k8s.io/kubernetes/cmd/kube-controller-manager "$kube_ldflags"
build kube-scheduler kube k8s.io/kubernetes/cmd/kube-scheduler "$kube_ldflags"
build kwok kwok sigs.k8s.io/kwok/cmd/kwok
build kustomize-controller kustomize-controller github.com/fluxcd/kustomize-controller
# Named argocd because the repo-server's git runs "argocd" from PATH as its
# GIT_ASKPASS helper (with ARGOCD_BINARY_NAME=argocd-git-ask-pass).
build argocd argocd .
# Argo CD's repo-server runs kustomize from PATH for kustomization.yaml sources.
build kustomize kustomize sigs.k8s.io/kustomize/kustomize/v5

echo "testbin: ready in $dir" >&2
