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
# php-cli and python3-django run the PHP recipes and the Django view of
# docs/backends.md (TestBackendRecipes).
APT_PKGS := redis-server nginx caddy haproxy chromium varnish:varnishd php-cli:php python3-django:django-admin

.PHONY: all deps test test-go test-js fuzz bench chaos build lint

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
	@# test-js rebuilt the embedded client; the committed copy must be that build.
	@if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet -- static/assets/rotor.js; then \
		echo "static/assets/rotor.js is stale: commit what js-client's npm run build wrote"; exit 1; fi
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

# bench runs the workloads W1-W4 of docs/benchmarks.md and rewrites its results
# section. With ../shared/bench (the peer harness) beside the checkout it installs
# the missing peers with its anchors-setup.sh and measures Rotor, Centrifugo and
# Nchan with that harness's generator, back to back in rounds, and reports ratios
# of medians; without it, Rotor alone with `rotor bench`, saying why the peers were
# skipped. Server on core 0, generator on core 1; W2 also on Redis when
# redis-server is present. BENCH_SCALE=0.5 shortens every run, BENCH_ROUNDS=1 runs
# one round, BENCH_PEERS=0 skips the peers, BENCH_REDIS=0 skips Redis.
bench:
	GO=$(GO) ./cmd/rotor/loadgen/scripts/bench.sh

# chaos runs the full chaos suite of docs/scaling.md (Chaos): 3 nodes, real
# Redis, 300 resuming subscribers, node and Redis faults; a few minutes. It
# rewrites the generated figures there. The short run is part of `make test`.
# CHAOS_EXPECT_FAIL=none makes the known failure classes fail it too.
chaos:
	CHAOS=full CHAOS_OUT=docs/scaling.md $(GO) test -count=1 -timeout 20m -run '^TestChaos$$' -v ./cmd/rotor/e2e

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/rotor ./cmd/rotor

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck $(PKGS); \
	elif [ -x "$$($(GO) env GOPATH)/bin/staticcheck" ]; then "$$($(GO) env GOPATH)/bin/staticcheck" $(PKGS); \
	else $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS); fi
