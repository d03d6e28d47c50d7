# Rotor's build, test and lint targets. `make test` is what CI runs
# (.ci/run): it installs what the tests need on a fresh Debian machine,
# then runs every Go and JS test. Add lines to the targets below.

GO       ?= go
PKGS     ?= ./...
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# staticcheck 2026.2.2; the installed binary is used when present.
STATICCHECK_VERSION ?= v0.8.2
JS_DIRS  := js-client admin/e2e
# A package whose command has another name is written package:command
# (varnish installs /usr/sbin/varnishd, not on a user's PATH).
APT_PKGS := redis-server nginx caddy haproxy chromium varnish:varnishd

.PHONY: all deps test test-go test-js fuzz bench build lint

all: build

# deps installs missing tools as root. A prepared machine (every command
# present, node_modules in place) skips apt and npm entirely.
deps:
	@missing=""; \
	for e in $(APT_PKGS); do \
		p=$${e%%:*}; c=$${e#*:}; \
		command -v $$c >/dev/null 2>&1 || [ -x /usr/sbin/$$c ] || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi
	@for d in $(JS_DIRS); do \
		if [ -f $$d/package-lock.json ]; then \
			echo "npm ci in $$d"; (cd $$d && npm ci --no-audit --no-fund) || exit 1; \
		fi; \
	done

test: deps
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 $(PKGS)
	$(MAKE) test-js
	$(MAKE) fuzz

test-js:
	@for d in $(JS_DIRS); do \
		if [ -f $$d/package.json ]; then \
			echo "npm test in $$d"; (cd $$d && npm test) || exit 1; \
		fi; \
	done

# fuzz gives each fuzz target a short run; add a line per target (go test
# -fuzz takes one target per invocation). Seeds live in testdata/fuzz.
FUZZTIME ?= 4s
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./.ci/fuzz.sh

# bench runs the workloads W1-W4 of docs/benchmarks.md (and W2/W3 on Redis when
# redis-server is present) with `rotor bench`, server on core 0 and the
# generator on core 1, and rewrites the results in docs/benchmarks.md.
# BENCH_SCALE=0.3 shortens every run; BENCH_REDIS=0 skips Redis.
bench:
	GO=$(GO) ./cmd/rotor/loadgen/scripts/bench.sh

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/rotor ./cmd/rotor

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck $(PKGS); \
	elif [ -x "$$($(GO) env GOPATH)/bin/staticcheck" ]; then "$$($(GO) env GOPATH)/bin/staticcheck" $(PKGS); \
	else $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS); fi
