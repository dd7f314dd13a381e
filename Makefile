# ebs: encrypted EBS-style volumes and a local KMS.
GO      ?= go
PKGS    := ./...
APT_PKGS := fuse3 fio e2fsprogs sqlite3 jq util-linux passwd ca-certificates

.PHONY: all build deps test test-short lint fmt bench bench-go bench-fio bench-quick bench-bin demo fuzz clean

all: build

build:
	$(GO) build -o bin/ebs ./cmd/ebs

# deps installs what the build, the tests and the demo need on a fresh
# Debian 12 machine (run as root), then downloads the Go modules.
deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
		if [ -n "$$missing" ]; then \
			echo "apt-get install$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		fi; \
	else echo "deps: not root or no apt-get: install $(APT_PKGS) yourself"; fi
	$(GO) mod download

# test runs every test: unit tests with the race detector, fuzz seed
# corpora, and the end-to-end tests that drive the real binary (as root they
# also create a second unix user for the policy test).
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

test-short:
	$(GO) test -count=1 -short $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@if command -v golangci-lint >/dev/null; then golangci-lint run; else echo "golangci-lint not installed: skipped"; fi

fmt:
	gofmt -w $$(git ls-files '*.go')

# fuzz runs each fuzz target for FUZZTIME (the seeds also run in `make test`).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run XXX -fuzz FuzzOpen -fuzztime $(FUZZTIME) ./kmsclient/blob/
	$(GO) test -run XXX -fuzz FuzzParse -fuzztime $(FUZZTIME) ./kmsclient/policy/
	$(GO) test -run XXX -fuzz FuzzSigV4 -fuzztime $(FUZZTIME) ./api/

# bench runs the Go benchmarks, then fio against every target (see bench/).
bench: bench-go bench-fio

# bench-go runs every Go benchmark of the project (XTS beside `openssl speed`,
# the audit trail, the block map, the volume data path, copies, snapshots),
# 1 s each; the snapshot ones by count, as each op needs untimed setup (up to
# 256 MiB written). bench/gosummary writes bench/results/go-bench.txt (raw)
# and go-bench.md (tables). A few minutes on 2 cores.
BENCH_PKGS := $(sort $(dir $(shell grep -rl --include='*_test.go' '^func Benchmark' .)))
bench-go:
	@mkdir -p bench/results
	{ $(GO) test -run '^$$' -bench . -benchtime 1s $(filter-out ./snapshot/,$(BENCH_PKGS)) || echo FAIL: go test; \
	  $(GO) test -run '^$$' -bench SnapshotCreate -benchtime 20x ./snapshot/ || echo FAIL: go test; \
	  $(GO) test -run '^$$' -bench SnapshotDelete -benchtime 5x ./snapshot/ || echo FAIL: go test; } 2>&1 | \
		$(GO) run ./bench/gosummary -out bench/results

# demo is the main job: a daemon in a temporary data dir, walked through
# keys, envelope encryption, rotation and the audit trail.
demo: build
	bash scripts/demo.sh

clean:
	rm -rf bin

bench-bin: build
	$(GO) build -o bin/memfuse ./bench/memfuse
	$(GO) build -o bin/filefuse ./bench/filefuse

# bench-fio runs fio against every target side by side (10 s a job);
# bench-quick does the same at 2 s a job for iteration.
bench-fio: bench-bin
	$(GO) run ./bench/runner
	$(GO) run ./bench/chart

bench-quick: bench-bin
	$(GO) run ./bench/runner --quick
	$(GO) run ./bench/chart
