# cloudlet - one build for every program. `make` builds, `make test` runs the
# whole suite, `make demo` boots a VM. See README.md.

CC      ?= cc
BUILD   ?= build
GUEST   ?= $(abspath $(BUILD)/guest)
WERROR  ?= -Werror
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wcast-qual -Wno-missing-field-initializers $(WERROR)
AGENT_INC = -Isrc/agent -Isrc/agent/base -Isrc/agent/engine -Isrc/agent/net \
            -Isrc/agent/storage -Isrc/agent/vm -Isrc/agent/appliance
CPPFLAGS = -Isrc/common $(AGENT_INC) -D_FORTIFY_SOURCE=2 \
           -DCLOUDLET_GUEST_DIR='"$(GUEST)"'
ALLFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -pthread
LIBS     = -ljansson -pthread
# The agent alone loads rule sets in-process (net/nftx.h); libcurl is for
# `cloudlet-agent join` (join.c) only; libsodium decodes SSH keys (sshkey.c);
# libyaml reads a #cloud-config (userdata.c).
AGENT_LIBS = -lnftables -lgnutls -lcurl -lsodium -lyaml

COMMON_SRC = src/common/log.c src/common/util.c src/common/msg.c src/common/strv.c \
             src/common/jsonv.c src/common/jointoken.c src/common/idssup.c
# Identities and pinned TLS connections between hosts (GnuTLS): the agent
# and cloudletd only, not the CLI.
TLS_SRC    = src/common/tlsid.c src/common/tlsconn.c
# The agent's subsystems, lowest first: each folder imports only from the
# folders above it in this list (docs/architecture.md).
AGENT_SRC  = $(wildcard src/agent/base/*.c) $(wildcard src/agent/engine/*.c) \
             $(wildcard src/agent/net/*.c) $(wildcard src/agent/storage/*.c) \
             $(wildcard src/agent/vm/*.c) $(wildcard src/agent/appliance/*.c) \
             src/agent/control.c src/agent/ctl.c src/agent/remote.c src/agent/join.c \
             $(TLS_SRC) src/common/sshkey.c src/common/userdata.c
AGENT_MAIN = src/agent/agent.c

COMMON_OBJ = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(COMMON_SRC))
OBJ = $(COMMON_OBJ) $(patsubst src/%.c,$(BUILD)/obj/%.o,$(AGENT_SRC))

.PHONY: all asan setup guest lint test unit store-pg integration integration-asan services fuzz demo demo-hosts bench clean format

all: $(BUILD)/bin/cloudlet-agent

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(ALLFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/bin/cloudlet-agent: $(OBJ) $(AGENT_MAIN)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CPPFLAGS) $(ALLFLAGS) -o $@ $(AGENT_MAIN) $(OBJ) $(LIBS) $(AGENT_LIBS)

# The sanitizer build: same sources, separate tree.
asan:
	$(MAKE) BUILD=$(BUILD)/asan GUEST=$(GUEST) \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
	    LIBS="-ljansson -pthread -fsanitize=address,undefined"

# Installs what is missing (Debian packages, the VM user). Idempotent.
setup:
	scripts/setup.sh

guest:
	guest/build.sh $(BUILD)/guest

# Unit tests (cmocka): pure modules, no VMs.
UNIT_TESTS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
$(BUILD)/tests/%: tests/unit/%.c $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLFLAGS) -o $@ $< $(OBJ) $(LIBS) $(AGENT_LIBS) -lcmocka

unit: $(UNIT_TESTS)
	@for t in $(UNIT_TESTS); do echo "== $$t"; $$t || exit 1; done

# The store's unit tests again, on a PostgreSQL 15 started for them (root).
store-pg: $(filter $(BUILD)/tests/test_store_%,$(UNIT_TESTS))
	tests/unit/pg_store_tests.sh

integration: all guest
	tests/integration/run.sh

# The agent built with ASan/UBSan against the tests that stress its input
# handling, its supervision and its network code (namespaces, rule sets,
# DHCP, restart, the IDS sensor it runs, migration); any sanitizer report
# fails the run.
integration-asan: asan guest
	AGENT_BIN=$(abspath $(BUILD)/asan/bin/cloudlet-agent) \
	    ASAN_OPTIONS=abort_on_error=1:detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1 \
	    TESTS="t_bad_input.sh t_restart_crash.sh t_net_isolation.sh t_ids_agent.sh t_migrate_agent.sh" LOGS_SUFFIX=-asan tests/integration/run.sh
	@! grep -l -E 'AddressSanitizer|runtime error:' $(BUILD)/test-logs-asan/*.log

# Every service image boots and answers its protocol (bare QEMU, loopback).
services: guest
	guest/services-smoke.sh $(BUILD)/guest

# The libFuzzer harnesses, briefly (bench/fuzz runs them for long).
fuzz:
	tests/fuzz/build.sh run 15

# Source checks: the agent's imports run one way, no banned functions.
lint:
	tests/lint/layers.sh
	tests/lint/banned.sh

test: setup
	$(MAKE) lint
	$(MAKE) all guest
	$(MAKE) unit
	$(MAKE) store-pg
	$(MAKE) storage-unit
	$(MAKE) ids-unit
	$(MAKE) integration
	$(MAKE) integration-asan
	$(MAKE) services
	$(MAKE) fuzz

demo: setup
	$(MAKE) all guest
	scripts/demo.sh

# Several simulated hosts behind cloudletd on PostgreSQL (docs/hosts.md).
demo-hosts: setup
	$(MAKE) all guest
	scripts/demo-hosts.sh

bench: all guest
	bench/boot

format:
	clang-format -i src/*/*.c src/*/*.h tests/unit/*.c

clean:
	rm -rf $(BUILD)/obj $(BUILD)/bin $(BUILD)/tests $(BUILD)/asan

# The customer CLI and the control-plane daemon have their own fragments.
-include src/cli/cli.mk
-include src/daemon/daemon.mk
-include src/storage/storage.mk
-include src/ids/ids.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
