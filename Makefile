# Ledger build, test and run entry points. See README.md.
#
#   make test     install missing system packages, build, run the whole test suite
#   make run      build release binaries and start server + ledgerd + relay under ./.run/
#   make build    debug build
#   make release  release build
#   make bench    release benchmarks (figures go into README.md)
#   make fuzz     build and run the JSON parser fuzz target (libFuzzer)
#   make install  release build, then install programs, units, sysusers/tmpfiles and the
#                 example config under $(DESTDIR)$(PREFIX) and $(DESTDIR)/etc (docs/OPERATIONS.md)
#   make uninstall  remove what install put there (never ledger.conf, data or accounts)

SWIFT        ?= swift
PREFIX       ?= /usr/local
DESTDIR      ?=
# -dev packages the build links against (Package.swift `providers:` name the same).
BUILD_PKGS   := zlib1g-dev libssl-dev libsqlite3-dev libmicrohttpd-dev libpq-dev libcurl4-openssl-dev
# Extra programs the tests drive for real.
TEST_PKGS    := postgresql socat netcat-openbsd python3 systemd
FUZZ_SECONDS ?= 180

.PHONY: all deps test-deps build release test run bench bench-core bench-server bench-daemon bench-relay fuzz clean install uninstall

# Install layout (docs/OPERATIONS.md). Units go under $(PREFIX)/lib/systemd/system, a
# directory systemd searches for both /usr/local and /usr; /etc/systemd/system is left to
# the administrator's overrides. Configuration always lives in /etc/ledger, the path the
# programs read by default. ExecStart= lines are rewritten to $(BINDIR).
BINDIR       ?= $(PREFIX)/bin
UNITDIR      ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR  ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR  ?= $(PREFIX)/lib/tmpfiles.d
DATADIR      ?= $(PREFIX)/share/ledger
CONFDIR      ?= /etc/ledger
# Where the binaries to install are. Empty: `make install` first runs the release build and
# takes .build/release. Set (e.g. SWIFT_BUILD_DIR=.build/debug) to install what is already
# built there, without building.
SWIFT_BUILD_DIR ?=
INSTALL_PROGRAMS := ledgerd ledger-relay ledger-server ledgerctl
INSTALL_UNITS    := ledgerd.socket ledgerd.service ledger-relay.service ledger-server.service
ifeq ($(strip $(SWIFT_BUILD_DIR)),)
INSTALL_FROM     := .build/release
INSTALL_NEEDS    := release
else
INSTALL_FROM     := $(SWIFT_BUILD_DIR)
INSTALL_NEEDS    :=
endif

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

bench: bench-core bench-daemon bench-server

# Parse, validate and canonicalize 1,000,000 generated 400-byte events through `ledgerctl canon`.
bench-core: release
	@./contrib/dev/bench-core

# N simulated hosts send signed, compressed relay batches to a release ledger-server: SQLite,
# then a throwaway PostgreSQL with one server and with two servers on one database.
bench-server: release
	@./contrib/dev/bench-server
	@./contrib/dev/bench-server-postgres

# End-to-end relay throughput, bytes on the wire per event and a 1,000,000-event backlog drain.
bench-relay: release
	@./contrib/dev/bench-relay

fuzz: deps
	@./contrib/dev/fuzz-json $(FUZZ_SECONDS)

clean:
	rm -rf .build .run

install: $(INSTALL_NEEDS)
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(CONFDIR)
	for program in $(INSTALL_PROGRAMS); do \
		install -m 0755 $(INSTALL_FROM)/$$program $(DESTDIR)$(BINDIR)/$$program || exit 1; \
	done
	for unit in $(INSTALL_UNITS); do \
		sed 's|/usr/local/bin/|$(BINDIR)/|g' systemd/$$unit > $(DESTDIR)$(UNITDIR)/$$unit.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$unit.tmp && \
		mv -f $(DESTDIR)$(UNITDIR)/$$unit.tmp $(DESTDIR)$(UNITDIR)/$$unit || exit 1; \
	done
	install -m 0644 systemd/ledger.sysusers $(DESTDIR)$(SYSUSERSDIR)/ledger.conf
	install -m 0644 systemd/ledger.tmpfiles $(DESTDIR)$(TMPFILESDIR)/ledger.conf
	install -m 0755 contrib/verify/ledger_verify.py $(DESTDIR)$(DATADIR)/ledger_verify.py
	install -m 0644 contrib/python/ledger_client.py $(DESTDIR)$(DATADIR)/ledger_client.py
	@# The example is always refreshed; a real ledger.conf is never touched.
	install -m 0644 contrib/ledger.conf.example $(DESTDIR)$(CONFDIR)/ledger.conf.example
	@if [ -z "$(DESTDIR)" ]; then \
		echo "installed. Next: systemd-sysusers; systemd-tmpfiles --create; systemctl daemon-reload;"; \
		echo "  cp $(CONFDIR)/ledger.conf.example $(CONFDIR)/ledger.conf (edit it); see docs/OPERATIONS.md"; \
	fi

uninstall:
	for program in $(INSTALL_PROGRAMS); do rm -f $(DESTDIR)$(BINDIR)/$$program; done
	for unit in $(INSTALL_UNITS); do rm -f $(DESTDIR)$(UNITDIR)/$$unit; done
	rm -f $(DESTDIR)$(SYSUSERSDIR)/ledger.conf $(DESTDIR)$(TMPFILESDIR)/ledger.conf \
		$(DESTDIR)$(DATADIR)/ledger_verify.py $(DESTDIR)$(DATADIR)/ledger_client.py \
		$(DESTDIR)$(CONFDIR)/ledger.conf.example
	-rmdir $(DESTDIR)$(DATADIR) 2>/dev/null
	@# Left in place: $(CONFDIR)/ledger.conf, server.conf, host.key, /var/lib/ledger*, the accounts.

# ledgerd over its socket: 8 writers at full speed, then at a fixed lower rate for latency.
bench-daemon: release
	@./contrib/dev/bench-daemon
