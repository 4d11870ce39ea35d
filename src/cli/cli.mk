# src/cli/cli.mk - the `cloudlet` CLI (included by the top-level Makefile).
# The CLI is a client of api/openapi.yaml over libcurl; it shares only
# src/common with the agent.

CLI_SRC  = src/cli/args.c src/cli/config.c src/cli/table.c src/cli/api.c \
           src/cli/cli.c src/cli/op.c src/cli/cmd_tenant.c src/cli/cmd_catalog.c \
           src/cli/cmd_vm.c src/cli/cmd_op.c src/cli/cmd_console.c
CLI_SRC += src/cli/net_parse.c src/cli/cmd_net.c src/cli/cmd_firewall.c src/cli/cmd_address.c
CLI_SRC += src/cli/cmd_volume.c src/cli/cmd_alert.c src/cli/cmd_host.c src/cli/cmd_ids.c src/cli/cmd_key.c src/cli/cmd_token.c src/cli/cmd_site.c src/cli/cmd_idssup.c
CLI_SRC += src/cli/cmd_vpn.c src/common/wgkey.c
CLI_SRC += src/cli/cmd_image.c
CLI_MAIN = src/cli/main.c
CLI_OBJ  = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CLI_SRC) $(COMMON_SRC))
CLI_LIBS = -lcurl -lsodium -lqrencode

all: $(BUILD)/bin/cloudlet

$(BUILD)/bin/cloudlet: $(CLI_OBJ) $(CLI_MAIN)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Isrc/cli $(ALLFLAGS) -o $@ $(CLI_MAIN) $(CLI_OBJ) $(LIBS) $(CLI_LIBS)

# Unit tests of the CLI's pure parts link the CLI's objects, not the agent's
# (this rule's stem is shorter than the generic one's, so make prefers it).
$(BUILD)/tests/test_cli_%: tests/unit/test_cli_%.c $(CLI_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -Isrc/cli $(CPPFLAGS) $(ALLFLAGS) -o $@ $< $(CLI_OBJ) $(LIBS) $(CLI_LIBS) -lcmocka
