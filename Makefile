# dot — build, test and demo targets. `make help` lists them.
GO        ?= go
PKG       := github.com/dot-ai/dot
BIN       ?= $(CURDIR)/bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
TREESTATE ?= $(shell test -z "$$(git status --porcelain 2>/dev/null)" && echo clean || echo dirty)
BUILDDATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -s -w \
	-X $(PKG)/pkg/version.gitVersion=$(VERSION) \
	-X $(PKG)/pkg/version.gitCommit=$(COMMIT) \
	-X $(PKG)/pkg/version.gitTreeState=$(TREESTATE) \
	-X $(PKG)/pkg/version.buildDate=$(BUILDDATE)
STATICCHECK_VERSION ?= v0.7.0
CONTROLLER_GEN_VERSION ?= v0.20.1
# Packages of the main module (the test-binary build modules under
# test/e2e/tools are separate modules and are not listed here).
PKGS := ./...

.PHONY: help build install test unit race fuzz e2e testbin lint fmt vet staticcheck generate demo demo-down clean

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/dot and bin/kubectl-dot
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/dot ./cmd/dot
	ln -sf dot $(BIN)/kubectl-dot

install: ## go install dot (and put kubectl-dot next to it)
	$(GO) install -trimpath -ldflags "$(LDFLAGS)" ./cmd/dot
	ln -sf dot "$$($(GO) env GOPATH)/bin/kubectl-dot"

test: testbin lint unit race fuzz e2e ## the project's test command: lint, unit, race, bounded fuzzing and e2e tests

unit: ## unit tests (envtest-based ones use the test binaries)
	DOT_TESTBIN="$$(hack/testbin.sh --print-dir)" $(GO) test -count=1 -timeout 20m $(PKGS)

race: ## the concurrency-heavy packages under the race detector
	$(GO) test -race -count=1 ./pkg/gitops/repo/... ./internal/gitserver/...

FUZZTIME ?= 10s
# Fuzz targets as package:target; each runs for FUZZTIME (their seed corpora
# also run as plain tests in `unit`).
FUZZ_TARGETS := ./pkg/gitops/manifest:FuzzEditSet ./pkg/gitops/manifest:FuzzEditDelete ./pkg/gitops/manifest:FuzzLocate \
	./pkg/gitops/manifest:FuzzEditInsert ./pkg/gitops/flux:FuzzParseRevision ./pkg/gitops:FuzzNormalizeRepoURL \
	./pkg/recommend:FuzzParseIntent

fuzz: ## run every fuzz target for FUZZTIME (default 10s)
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ($${t%%:*}) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

e2e: testbin ## end-to-end tests against the local environment (real apiserver, Flux, Argo CD, git)
	$(GO) test -tags e2e -count=1 -timeout 40m ./test/e2e/...

testbin: ## build the local environment's binaries (etcd, kube-*, kwok, Flux, Argo CD) into the cache
	hack/testbin.sh

.PHONY: bench
bench: testbin ## benchmarks against their baselines (hack/bench.sh, ~15 min, 9 of them waiting on default polls); writes docs/benchmarks.md
	hack/bench.sh

# Short form of the reliability suite (docs/reliability.md): git faults and
# concurrent writers, hostile inputs, then API-server restart and stopped
# controller on the local environment (RELIABILITY_E2E=0 skips those).
# DOT_RELIABILITY_RUNS=N runs N updates per git fault (default 12). Full
# go test -v output goes to $(RELIABILITY_LOG); the summary lines are shown.
RELIABILITY_E2E ?= 1
RELIABILITY_LOG ?= $(CURDIR)/bin/reliability.log
RELIABILITY_SHOW := '^(\s*--- |ok |FAIL|panic)|RELIABILITY'
.PHONY: reliability
reliability: ## reliability suite, short form (git faults, concurrent writers, hostile inputs, restarts; ~4 min)
	@mkdir -p $(dir $(RELIABILITY_LOG)); : > $(RELIABILITY_LOG)
	@echo "reliability: git faults and concurrent writers (pkg/gitops/repo)"
	@$(GO) test -count=1 -timeout 10m -v -run '^(TestReliabilityFaults|TestUpdateConcurrentGoroutines|TestUpdateConcurrentProcesses|TestUpdateGivesUpWithClearErrorAndRemoteUntouched)$$' \
		./pkg/gitops/repo/ >> $(RELIABILITY_LOG) 2>&1; rc=$$?; grep -E $(RELIABILITY_SHOW) $(RELIABILITY_LOG); exit $$rc
	@echo "reliability: hostile inputs (pkg/gitops/manifest, pkg/gitops)"
	@$(GO) test -count=1 -timeout 10m -v -run '^TestHostileInputs$$' ./pkg/gitops/manifest/ ./pkg/gitops/ > $(RELIABILITY_LOG).2 2>&1; rc=$$?; \
		cat $(RELIABILITY_LOG).2 >> $(RELIABILITY_LOG); grep -E $(RELIABILITY_SHOW) $(RELIABILITY_LOG).2; rm -f $(RELIABILITY_LOG).2; exit $$rc
	@if [ "$(RELIABILITY_E2E)" != 0 ]; then \
		echo "reliability: API server restart and stopped controller (test/e2e, local environment)"; \
		$(MAKE) --no-print-directory testbin || exit 1; \
		DOT_TESTBIN="$$(hack/testbin.sh --print-dir)" $(GO) test -tags e2e -count=1 -timeout 20m -v -run '^TestReliability' ./test/e2e/ \
			> $(RELIABILITY_LOG).3 2>&1; rc=$$?; cat $(RELIABILITY_LOG).3 >> $(RELIABILITY_LOG); \
		grep -E $(RELIABILITY_SHOW) $(RELIABILITY_LOG).3; rm -f $(RELIABILITY_LOG).3; exit $$rc; \
	fi

lint: fmt vet staticcheck ## gofmt check, go vet, staticcheck

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^test/e2e/tools/')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags e2e ./test/e2e/...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

generate: ## regenerate deepcopy code of the Argo CD types
	GOFLAGS=-mod=mod $(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION) object paths=./pkg/gitops/argocd/...

# make demo: build the test binaries if missing, then run test/e2e/cmd/demo
# (docs/demo.md). KEEP=1 leaves the environment running until Ctrl-C or
# `make demo-down`, which stops the process named in DEMO_PID.
DEMO_PID ?= $(BIN)/demo.pid
demo: ## run dot's main job on the embedded local cluster (KEEP=1: leave it running; see docs/demo.md)
	@hack/testbin.sh
	@$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/dot-demo ./test/e2e/cmd/demo
	@$(BIN)/dot-demo --pid-file "$(DEMO_PID)" $(if $(filter 1 yes true,$(KEEP)),--keep)

demo-down: ## stop a demo started with `make demo KEEP=1` and wait until it has torn everything down
	@pid=$$(cat "$(DEMO_PID)" 2>/dev/null) || { echo "demo-down: no demo running ($(DEMO_PID) does not exist)"; exit 0; }; \
	if ! ps -p "$$pid" -o args= 2>/dev/null | grep -q dot-demo; then \
		echo "demo-down: process $$pid is not a running demo; removing the stale $(DEMO_PID)"; rm -f "$(DEMO_PID)"; exit 0; \
	fi; \
	echo "demo-down: stopping the demo (pid $$pid)"; kill -TERM "$$pid"; \
	for i in $$(seq 1 600); do \
		kill -0 "$$pid" 2>/dev/null || { echo "demo-down: stopped"; exit 0; }; sleep 0.1; \
	done; \
	echo "demo-down: pid $$pid still running after 60s" >&2; exit 1

.PHONY: e2e-kind
e2e-kind: ## the e2e suite on a kind cluster with the real Flux and Argo CD (needs Docker and kind; hack/e2e-kind.sh)
	hack/e2e-kind.sh

clean:
	rm -rf $(BIN)
