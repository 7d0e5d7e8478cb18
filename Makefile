# Argus: the two commands a newcomer runs are `make serve` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Debian packages the build and the tests need. `deps` installs whichever are missing.
APT_PACKAGES := pkg-config libopenblas-dev libjpeg-dev libpng-dev libsqlite3-dev libsecp256k1-dev curl postgresql
SWIFT_TEST_FLAGS ?=

.PHONY: help deps models build release test serve bench fuzz fuzz-api

help:
	@echo "make serve   install what is missing, build release, start the server on 127.0.0.1:8080"
	@echo "make test    install what is missing, build, run the test suite"
	@echo "make fuzz    libFuzzer: 1,000,000 executions of each harness (JPEG, PNG, dlib model loaders)"
	@echo "make fuzz-api  fuzz the live API from its OpenAPI document (schemathesis; part of make test)"
	@echo "make bench   run the Swift benchmarks (Benchmarks/) and the anchor scripts side by side"

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# dlib's pretrained models, verified against models/manifest.json; cached outside the repo.
models:
	python3 scripts/fetch-models

build: deps
	swift build

release: deps
	swift build -c release

# Timing assertions (TimingTests) run after the rest, alone: with every suite at once on two cores,
# a wall clock measures the neighbours. The store matrix: every suite runs with a throw-away
# PostgreSQL beside it (the store suites then run on SQLite and on PostgreSQL), and the service
# suite runs a second time on PostgreSQL; scripts/node-tests runs several nodes on one.
test: deps models
	swift build --build-tests $(SWIFT_TEST_FLAGS)
	scripts/with-postgres swift test --skip-build --skip TimingTests $(SWIFT_TEST_FLAGS)
	scripts/with-postgres --service swift test --skip-build --filter ArgusServiceTests --skip TimingTests $(SWIFT_TEST_FLAGS)
	swift test --skip-build --filter TimingTests $(SWIFT_TEST_FLAGS)
	scripts/with-postgres --service swift test --skip-build --filter TimingTests $(SWIFT_TEST_FLAGS)
	scripts/unprivileged-tests $$(swift build --show-bin-path $(SWIFT_TEST_FLAGS))
	scripts/fuzz-api .build/debug/argus
	scripts/peer-signatures .build/debug/argus
	scripts/peer-customer-tokens .build/debug/argus
	scripts/peer-webhooks .build/debug/argus
	scripts/browser-tests .build/debug/argus
	scripts/fault-tests .build/debug/argus
	scripts/node-tests .build/debug/argus
	scripts/fuzz 45

# libFuzzer harnesses (Fuzz/): a million executions each; `make test` runs them 45 s each.
fuzz: deps models
	scripts/fuzz 1000000x

# schemathesis against a live `argus serve`, from /openapi.json (installed with pip when missing).
fuzz-api: build models
	scripts/fuzz-api .build/debug/argus

# Starts the ABIS API on 127.0.0.1:8080 with ./data; the very first start prints a test-mode secret key.
serve: release models
	.build/release/argus serve --data-dir ./data --host 127.0.0.1 --port 8080 --models ./models

bench: release
	cd Benchmarks && swift package --allow-writing-to-package-directory benchmark --no-progress
	python3 Benchmarks/anchors/search.py
