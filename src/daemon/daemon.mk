# cloudletd: the control plane (included by the top-level Makefile).
DAEMON_SRC = src/daemon/db.c src/daemon/db_sqlite.c src/daemon/db_pg.c src/daemon/store.c \
             src/daemon/store_schema.c src/daemon/store_lease.c src/daemon/auth.c src/daemon/catalog.c \
             src/daemon/agentc.c src/daemon/request.c src/daemon/ops.c \
             src/daemon/http.c src/daemon/api.c src/daemon/store_net.c \
             src/daemon/netplan.c src/daemon/api_net.c src/agent/net/netstate.c \
             src/daemon/store_volume.c src/daemon/api_volume.c \
             src/daemon/images.c src/daemon/store_host.c \
             src/daemon/api_host.c src/daemon/store_ids.c \
             src/daemon/api_ids.c src/daemon/api_migrate.c \
             src/daemon/opmigrate.c src/daemon/store_keys.c \
             src/daemon/api_keys.c src/daemon/api_tokens.c src/daemon/pull.c \
             src/daemon/store_images.c src/daemon/imgup.c src/daemon/api_images.c \
             src/daemon/site.c src/daemon/sitemsg.c src/daemon/api_site.c src/daemon/store_site.c \
             src/daemon/drrepl.c src/daemon/drrecover.c src/daemon/store_vpn.c src/daemon/vpnplan.c src/daemon/vmvmplan.c \
             src/daemon/api_vpn.c \
             src/common/wgkey.c src/common/sshkey.c src/common/userdata.c $(TLS_SRC)
DAEMON_OBJ = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(DAEMON_SRC))
DAEMON_LIBS = -lmicrohttpd -lsqlite3 -lpq -lsodium -lgnutls -lyaml

$(DAEMON_OBJ): CPPFLAGS += -Isrc/daemon -DCLOUDLET_CATALOG='"$(abspath catalog/services.json)"'
# libpq's header is in its own folder (Debian: /usr/include/postgresql).
$(BUILD)/obj/daemon/db_pg.o: CPPFLAGS += $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)

$(BUILD)/bin/cloudletd: src/daemon/cloudletd.c $(DAEMON_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CPPFLAGS) -Isrc/daemon -DCLOUDLET_CATALOG='"$(abspath catalog/services.json)"' \
	    $(ALLFLAGS) -o $@ $< $(DAEMON_OBJ) $(COMMON_OBJ) $(LIBS) $(DAEMON_LIBS)

all: $(BUILD)/bin/cloudletd

# Unit tests of the store (test_store_*.c): the store's and the database
# layer's objects only, on a database in a temporary directory (this rule's
# stem is shorter than the generic one's, so make prefers it).
STORE_TEST_OBJ = $(BUILD)/obj/daemon/db.o $(BUILD)/obj/daemon/db_sqlite.o \
                 $(BUILD)/obj/daemon/db_pg.o $(BUILD)/obj/daemon/store.o \
                 $(BUILD)/obj/daemon/store_schema.o $(BUILD)/obj/daemon/store_host.o \
                 $(BUILD)/obj/daemon/store_lease.o \
                 $(BUILD)/obj/daemon/store_net.o $(BUILD)/obj/daemon/store_volume.o \
                 $(BUILD)/obj/agent/net/netstate.o
$(BUILD)/tests/test_store_%: tests/unit/test_store_%.c $(STORE_TEST_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Isrc/daemon $(ALLFLAGS) -o $@ $< $(STORE_TEST_OBJ) $(COMMON_OBJ) \
	    $(LIBS) -lsqlite3 -lpq -lcmocka
