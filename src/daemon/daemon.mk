# cloudletd: the control plane (included by the top-level Makefile).
DAEMON_SRC = src/daemon/store_sqlite.c src/daemon/auth.c src/daemon/catalog.c \
             src/daemon/agentc.c src/daemon/request.c src/daemon/ops.c \
             src/daemon/http.c src/daemon/api.c src/daemon/store_net_sqlite.c \
             src/daemon/netplan.c src/daemon/api_net.c src/agent/net/netstate.c \
             src/daemon/store_volume_sqlite.c src/daemon/api_volume.c \
             src/daemon/images.c src/daemon/store_host_sqlite.c \
             src/daemon/api_host.c
DAEMON_OBJ = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(DAEMON_SRC))
DAEMON_LIBS = -lmicrohttpd -lsqlite3 -lsodium

$(DAEMON_OBJ): CPPFLAGS += -Isrc/daemon -DCLOUDLET_CATALOG='"$(abspath catalog/services.json)"'

$(BUILD)/bin/cloudletd: src/daemon/cloudletd.c $(DAEMON_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CPPFLAGS) -Isrc/daemon -DCLOUDLET_CATALOG='"$(abspath catalog/services.json)"' \
	    $(ALLFLAGS) -o $@ $< $(DAEMON_OBJ) $(COMMON_OBJ) $(LIBS) $(DAEMON_LIBS)

all: $(BUILD)/bin/cloudletd
