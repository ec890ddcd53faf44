# Warden: the two commands a newcomer needs are `make demo` and `make test`.
# Every install step lives here so that a fresh clone (and CI) needs nothing by hand.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

OPA_VERSION   := v1.22.3
TOOLS_CACHE   ?= $(HOME)/.cache/mcp-warden
TOOLS_BIN     := $(CURDIR)/.tools/bin
OPA           := $(TOOLS_BIN)/opa
# node-gyp (better-sqlite3 builds from source when no prebuilt binary can be fetched) must use this
# machine's Node headers rather than download them: point it at the distro's headers when present.
NODEDIR       := $(shell [ -f /usr/include/node/node_version.h ] && echo /usr)
NPM_ENV       := $(if $(NODEDIR),npm_config_nodedir=$(NODEDIR))
COVERAGE_MIN  ?= 90

export PATH := $(TOOLS_BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export WARDEN_OPA := $(OPA)

.PHONY: help tools deps build test test-policy test-node test-node-versions test-deps lint-ts lint-policy fmt demo bench \
  clean

help:
	@echo "make demo   install, build and run a scripted session through Warden on the bundled examples"
	@echo "make test   run every test: Rego (fmt, check, conventions, opa test with coverage) and TypeScript (vitest)"
	@echo "make tools  install the pinned opa $(OPA_VERSION) into .tools/bin (cached in $(TOOLS_CACHE))"
	@echo "make bench  run the benchmarks and print a table"

# --- tools -------------------------------------------------------------------------------------
# Prefer an opa already on PATH; otherwise build the pinned version once into a per-version cache
# outside the clone and link it, so a fresh CI clone does not recompile it every run.
tools: $(OPA)

$(OPA):
	@mkdir -p $(TOOLS_BIN)
	@if existing=$$(PATH=$$(echo "$$PATH" | tr ':' '\n' | grep -v '^$(TOOLS_BIN)$$' | paste -sd:) command -v opa); then \
	  echo "tools: using opa on PATH: $$existing"; ln -sf "$$existing" $(OPA); \
	else \
	  cache=$(TOOLS_CACHE)/opa-$(OPA_VERSION); \
	  if [ ! -x $$cache/opa ]; then \
	    command -v go >/dev/null || { echo "tools: need Go (https://go.dev/dl) to build opa $(OPA_VERSION), or put opa on PATH" >&2; exit 1; }; \
	    echo "tools: building opa $(OPA_VERSION) into $$cache (once; about 2 minutes)"; \
	    mkdir -p $$cache.tmp && CGO_ENABLED=0 GOBIN=$$cache.tmp go install github.com/open-policy-agent/opa@$(OPA_VERSION) \
	      && rm -rf $$cache && mv $$cache.tmp $$cache; \
	  fi; \
	  ln -sf $$cache/opa $(OPA); \
	fi
	@$(OPA) version | sed -n 1p

# --- node --------------------------------------------------------------------------------------
deps: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	$(NPM_ENV) npm ci --no-audit --no-fund
	@touch $@

build: deps
	npm run --silent build

# --- tests -------------------------------------------------------------------------------------
test: tools build lint-ts test-policy test-node test-node-versions

# Layout is Prettier's (.prettierrc.json, width 120; `make fmt` rewrites), then the layering of src/
# (scripts/layers.json) and no console output outside the CLI.
PRETTIER_FILES := 'src/**/*.{ts,js,mjs}' 'test/**/*.{ts,mjs}' 'scripts/**/*.mjs' 'bench/**/*.mjs' '*.{ts,mjs}'
lint-ts: deps
	npx prettier --check --log-level warn $(PRETTIER_FILES)
	npx eslint src

# Formatting, then the built CLI: opa check --strict plus our Rego conventions (src/bundles/lint.ts),
# and opa test with line coverage of the policy files alone (src/bundles/testing.ts).
lint-policy: tools build
	$(OPA) fmt --list --fail policy policy-tests
	node dist/cli/main.js policy lint policy policy-tests

test-policy: tools build lint-policy
	node dist/cli/main.js policy test --coverage-min $(COVERAGE_MIN) policy policy-tests

# Test services are provided by the tests themselves; these steps only install what they need
# (PostgreSQL from Debian's packages; Node 22 and 24 binaries from npm, for the conformance suite and
# the end-to-end subset below, with better-sqlite3 built once for each and for the machine's Node,
# cached outside the clone), so a first-time install does not eat into a test's timeout.
test-node: build test-deps
	npx vitest run

# The end-to-end subset (stdio core, HTTP front, approvals, demo) again with Warden itself on
# Node 22 and on Node 24 (scripts/e2e-node.sh); the whole suite above runs on the machine's Node.
test-node-versions: build test-deps
	bash scripts/e2e-node.sh 22
	bash scripts/e2e-node.sh 24

test-deps:
	bash scripts/pg-test-server.sh install
	@# Replica tests run Warden behind Debian's HAProxy (test/helpers/haproxy.ts).
	bash scripts/haproxy-test.sh install
	bash scripts/sqlite-native.sh "$$(command -v node)" >/dev/null
	bash scripts/sqlite-native.sh "$$(bash scripts/node-bin.sh 22)" >/dev/null
	bash scripts/sqlite-native.sh "$$(bash scripts/node-bin.sh 24)" >/dev/null
	@# The official Python MCP client (a real client of both eras), in a virtualenv in the same cache.
	bash scripts/python-mcp.sh >/dev/null
	@# The dashboard's browser test drives Debian's Chromium through playwright-core (no browser download).
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

fmt: tools deps
	$(OPA) fmt --write policy policy-tests
	npx prettier --write --log-level warn $(PRETTIER_FILES)

# --- demo and bench ----------------------------------------------------------------------------
demo: tools build
	node scripts/demo.mjs

bench: tools build
	npm run --silent bench

clean:
	rm -rf dist .tools node_modules/.installed coverage test/.tmp
