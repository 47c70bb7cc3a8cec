# Ledger build, test and run entry points. See README.md.
#
#   make test     install missing system packages, build, run the whole test suite
#   make run      build release binaries and start server + ledgerd + relay under ./.run/
#   make build    debug build
#   make release  release build
#   make bench    release benchmarks (figures go into README.md)
#   make fuzz     build and run the JSON parser fuzz target (libFuzzer)

SWIFT        ?= swift
PREFIX       ?= /usr/local
DESTDIR      ?=
# -dev packages the build links against (Package.swift `providers:` name the same).
BUILD_PKGS   := zlib1g-dev libssl-dev libsqlite3-dev libmicrohttpd-dev libpq-dev libcurl4-openssl-dev
# Extra programs the tests drive for real.
TEST_PKGS    := postgresql socat netcat-openbsd python3 systemd
FUZZ_SECONDS ?= 180

.PHONY: all deps test-deps build release test run bench bench-core bench-server bench-relay fuzz clean

all: build

# Installs what is missing with apt-get when root; otherwise names the packages and stops.
deps:
	@./contrib/dev/ensure-packages $(BUILD_PKGS)

test-deps:
	@./contrib/dev/ensure-packages $(BUILD_PKGS) $(TEST_PKGS)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

run: deps release
	@./contrib/dev/run-stack

bench: bench-core

# Parse, validate and canonicalize 1,000,000 generated 400-byte events through `ledgerctl canon`.
bench-core: release
	@./contrib/dev/bench-core

# N simulated hosts send signed, compressed relay batches to a release ledger-server (SQLite).
bench-server: release
	@./contrib/dev/bench-server

# End-to-end relay throughput, bytes on the wire per event and a 1,000,000-event backlog drain.
bench-relay: release
	@./contrib/dev/bench-relay

fuzz: deps
	@./contrib/dev/fuzz-json $(FUZZ_SECONDS)

clean:
	rm -rf .build .run
