/*
 * main.c - `cloudlet`: global flags, configuration, and the table of
 * subcommands, each with its usage line. See docs/cli.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cmd_host.h"
#include "cmd_site.h"
#include "cmd_ids.h"
#include "cmd_image.h"
#include "cmd_idssup.h"
#include "cmd_key.h"
#include "cmd_token.h"
#include "cmd_vpn.h"
#include "cmd_net.h"
#include "cmd_volume.h"
#include "config.h"
#include "util.h"

static cli_fn cmd_help;

static const struct cli_cmd cmds[] = {
    {"tenant create", "NAME", cmd_tenant_create},
    {"tenant list", "", cmd_tenant_list},
    {"tenant show", "ID", cmd_tenant_show},
    {"tenant delete", "ID", cmd_tenant_delete},
    {"tenant token", "ID", cmd_tenant_token},
    {"quota show", "TENANT-ID", cmd_quota_show},
    {"quota set", "TENANT-ID --vcpus N --memory MIB --disk GIB --vms N", cmd_quota_set},
    {"service list", "", cmd_service_list},
    {"image list", "", cmd_image_list},
    {"image upload", "NAME FILE (qcow2 or raw)", cmd_image_upload},
    {"image delete", "IMAGE", cmd_image_delete},
    {"vm create",
     "NAME --service SERVICE [--vcpus N] [--memory MIB] [--disk GIB] [--image IMAGE] "
     "[--user-data FILE] [--network NAME]... [--key NAME[,NAME]...] [--group NAME "
     "[--anti-affinity]] [--no-wait]",
     cmd_vm_create},
    {"vm list", "", cmd_vm_list},
    {"vm show", "VM", cmd_vm_show},
    {"vm start", "VM [--no-wait]", cmd_vm_start},
    {"vm stop", "VM [--force] [--no-wait]", cmd_vm_stop},
    {"vm reboot", "VM [--no-wait]", cmd_vm_reboot},
    {"vm delete", "VM [--no-wait]", cmd_vm_delete},
    {"vm resize", "VM [--vcpus N] [--memory MIB] [--disk GIB] [--no-wait]",
     cmd_vm_resize},
    {"vm console", "VM [--bytes N] [--attach]", cmd_vm_console},
    {"vm migrate", "VM [--host HOST] [--cold] [--downtime MS] [--bandwidth MIB/S] [--no-wait] | VM --cancel", cmd_vm_migrate},
    {"net list", "", cmd_net_list},
    {"net create", "NAME [--cidr CIDR]", cmd_net_create},
    {"net show", "NETWORK", cmd_net_show},
    {"net delete", "NETWORK", cmd_net_delete},
    {"firewall show", "", cmd_fw_show},
    {"firewall mode", "namespace|vm", cmd_fw_mode},
    {"firewall rule list", "", cmd_rule_list},
    {"firewall rule add",
     "[--egress] [--deny] --proto tcp|udp|icmp|any [--port N | --ports A-B] "
     "[--source CIDR | --destination CIDR] [--vm VM | --network NETWORK] [--priority N]",
     cmd_rule_add},
    {"firewall rule delete", "ID", cmd_rule_delete},
    {"address list", "", cmd_addr_list},
    {"address create", "[--vm VM]", cmd_addr_create},
    {"address attach", "ADDRESS VM", cmd_addr_attach},
    {"address detach", "ADDRESS", cmd_addr_detach},
    {"address delete", "ADDRESS", cmd_addr_delete},
    {"forward list", "", cmd_fwd_list},
    {"forward add", "ADDRESS --proto tcp|udp --port N --vm VM [--to-port N]",
     cmd_fwd_add},
    {"forward delete", "ID", cmd_fwd_delete},
    {"volume create", "NAME --size GIB [--stripe]", cmd_volume_create},
    {"volume list", "", cmd_volume_list},
    {"volume show", "VOLUME", cmd_volume_show},
    {"volume grow", "VOLUME --size GIB", cmd_volume_grow},
    {"volume snapshot", "VOLUME NAME", cmd_volume_snapshot},
    {"volume clone", "VOLUME NAME", cmd_volume_clone},
    {"volume attach", "VOLUME VM", cmd_volume_attach},
    {"volume detach", "VOLUME", cmd_volume_detach},
    {"volume scan", "VOLUME", cmd_volume_scan},
    {"volume delete", "VOLUME", cmd_volume_delete},
    {"alert list", "[--volume VOLUME] [--limit N]", cmd_alert_list},
    {"token list", "[--tenant ID]", cmd_token_list},
    {"token create", "NAME [--ttl SECONDS] [--tenant ID]", cmd_token_create},
    {"token revoke", "ID", cmd_token_revoke},
    {"key add", "NAME FILE.pub|-", cmd_key_add},
    {"key list", "", cmd_key_list},
    {"key show", "KEY", cmd_key_show},
    {"key delete", "KEY", cmd_key_delete},
    {"vpn create", "NAME --kind network-client|vm-client|network-network|vm-vm "
		   "[--network NET] [--vms VM,... | --vm VM --vm VM...] [--remote-key KEY --remote-cidrs CIDR,... "
		   "[--remote-endpoint IP:PORT]] [--dns IP]",
     cmd_vpn_create},
    {"vpn list", "", cmd_vpn_list},
    {"vpn show", "CHANNEL", cmd_vpn_show},
    {"vpn delete", "CHANNEL", cmd_vpn_delete},
    {"vpn peer add", "CHANNEL NAME [--public-key KEY | --server-key] [--psk] "
		     "[--expires UNIX_SECONDS] [--out FILE] [--qr]",
     cmd_vpn_peer_add},
    {"vpn peer list", "CHANNEL", cmd_vpn_peer_list},
    {"vpn peer revoke", "CHANNEL PEER", cmd_vpn_peer_revoke},
    {"vpn peer config", "CHANNEL PEER [--key PRIVATE_KEY_FILE] [--psk PSK_FILE] [--out FILE] [--qr]",
     cmd_vpn_peer_config},
    {"ids show", "", cmd_ids_show},
    {"ids enable", "", cmd_ids_enable},
    {"ids disable", "", cmd_ids_disable},
    {"ids rules set", "FILE|-", cmd_ids_rules_set},
    {"ids rules clear", "", cmd_ids_rules_clear},
    {"ids status", "", cmd_ids_status},
    {"ids alerts", "[--vm VM] [--sid N] [--severity N] [--limit N]", cmd_ids_alerts},
    {"ids skipped", "", cmd_ids_skipped},
    {"ids suppress list", "[--tenant ID]", cmd_ids_sup_list},
    {"ids suppress add", "SID [--gid N] [--by-src IP[/N] | --by-dst IP[/N]] [--ttl SECONDS] [--tenant ID]",
     cmd_ids_sup_add},
    {"ids suppress delete", "ID [--tenant ID]", cmd_ids_sup_delete},
    {"host list", "", cmd_host_list},
    {"host evacuate", "HOST [--no-wait]", cmd_host_evacuate},
    {"host show", "HOST", cmd_host_show},
    {"host add", "NAME --socket PATH | --address IP:PORT --fingerprint FPR [--underlay IP] [--site NAME]",
     cmd_host_add},
    {"host token create", "NAME [--ttl 1h]", cmd_host_token_create},
    {"host token list", "", cmd_host_token_list},
    {"host token delete", "ID", cmd_host_token_delete},
    {"site show", "", cmd_site_show},
    {"site failover", "", cmd_site_failover},
    {"host drain", "HOST", cmd_host_drain},
    {"host undrain", "HOST", cmd_host_undrain},
    {"host remove", "HOST", cmd_host_remove},
    {"op show", "ID", cmd_op_show},
    {"op wait", "ID", cmd_op_wait},
    {"events", "[--limit N]", cmd_events},
    {"help", "[COMMAND]", cmd_help},
};

#define GLOBAL_USAGE "usage: cloudlet [--json] [--url URL] [--token TOKEN] COMMAND [ARGS]"

static void
usage_line(FILE *f, const struct cli_cmd *cmd)
{
	fprintf(f, "  cloudlet %s%s%s\n", cmd->name, *cmd->usage ? " " : "", cmd->usage);
}

/* Does name start with the whole word w? */
static int
word_prefix(const char *name, const char *w)
{
	size_t l = strlen(w);

	return l > 0 && strncmp(name, w, l) == 0 && (name[l] == ' ' || name[l] == '\0');
}

/*
 * Every command whose name starts with the words given (all when none);
 * returns how many. f NULL only counts.
 */
static int
print_usage(FILE *f, int argc, char **argv)
{
	size_t i, shown = 0;

	for (i = 0; i < ARRAY_LEN(cmds); i++) {
		const char *n = cmds[i].name;
		size_t l0 = argc > 0 ? strlen(argv[0]) : 0;

		if (argc > 0 &&
		    (strncmp(n, argv[0], l0) != 0 || (n[l0] != ' ' && n[l0] != '\0')))
			continue;
		/* The second word may be one of several ("firewall rule"). */
		if (argc > 1 && (n[l0] == '\0' || !word_prefix(n + l0 + 1, argv[1])))
			continue;
		if (f != NULL && shown == 0)
			fprintf(f, "%s\n", argc > 0 ? "usage:" : GLOBAL_USAGE);
		if (f != NULL)
			usage_line(f, &cmds[i]);
		shown++;
	}
	return (int)shown;
}

static int
cmd_help(struct cli *c, int argc, char **argv)
{
	(void)c;
	if (argc > 2 || (argc > 0 && print_usage(stdout, argc, argv) == 0)) {
		fprintf(stderr, "error: no command '%s'\n", argv[0]);
		return CLI_USAGE;
	}
	if (argc > 0)
		return CLI_OK;
	print_usage(stdout, 0, NULL);
	printf(
	    "\nConfiguration: CLOUDLET_URL (default %s), CLOUDLET_TOKEN and CLOUDLET_PIN\n"
	    "(an HTTPS API's key pin, `cloudletd pin`), or url=, token= and pin= lines in\n"
	    "$CLOUDLET_CONFIG (default ~/.config/cloudlet/config);\n"
	    "flags win over the environment, the environment over the file.\n"
	    "A VM is named by its id or its name. Exit status: 0 done, 1 failed, 2 "
	    "usage.\n",
	    CONFIG_DEFAULT_URL);
	return CLI_OK;
}

/* The command argv names: its index, and how many words its name has. */
static const struct cli_cmd *
find_cmd(int argc, char **argv, int *words)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(cmds); i++) {
		const char *n = cmds[i].name;
		int w = 0;

		/* Word by word: "firewall rule add" takes three. */
		while (w < argc) {
			size_t l = strcspn(n, " ");

			if (strlen(argv[w]) != l || strncmp(argv[w], n, l) != 0)
				break;
			w++;
			if (n[l] == '\0') {
				*words = w;
				return &cmds[i];
			}
			n += l + 1;
		}
	}
	return NULL;
}

/* --url URL or --url=URL at argv[*a]: the value, or NULL if not this flag. */
static const char *
flag_value(int argc, char **argv, int *a, const char *flag, int *missing)
{
	size_t l = strlen(flag);

	if (strncmp(argv[*a], flag, l) != 0)
		return NULL;
	if (argv[*a][l] == '=')
		return argv[(*a)++] + l + 1;
	if (argv[*a][l] != '\0')
		return NULL;
	if (*a + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	*a += 2;
	return argv[*a - 1];
}

/* File, then environment: what the flags may still override. */
static int
load_config(struct config *cfg)
{
	const char *path = getenv("CLOUDLET_CONFIG"), *home = getenv("HOME"), *env;
	char buf[4096], err[300];
	struct stat st;
	int explicit = path != NULL && *path != '\0';

	if (!explicit) {
		path = NULL;
		if (home != NULL && *home != '\0' &&
		    util_fmt(buf, sizeof(buf), "%s/.config/cloudlet/config", home) == 0)
			path = buf;
	}
	if (path != NULL) {
		if (config_load(path, explicit, cfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "error: config %s\n", err);
			return -1;
		}
		/* Like ssh with its keys: a token others can read is worth a word. */
		if (cfg->token[0] != '\0' && stat(path, &st) == 0 &&
		    (st.st_mode & 077) != 0)
			fprintf(stderr,
				"warning: %s holds a token and others may read it "
				"(chmod 600 %s)\n",
				path, path);
	}
	if ((env = getenv("CLOUDLET_URL")) != NULL && *env != '\0' &&
	    config_set(cfg, "url", env, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: CLOUDLET_URL: %s\n", err);
		return -1;
	}
	if ((env = getenv("CLOUDLET_TOKEN")) != NULL && *env != '\0' &&
	    config_set(cfg, "token", env, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: CLOUDLET_TOKEN: %s\n", err);
		return -1;
	}
	if ((env = getenv("CLOUDLET_PIN")) != NULL && *env != '\0' &&
	    config_set(cfg, "pin", env, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: CLOUDLET_PIN: %s\n", err);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *url = NULL, *token = NULL;
	const struct cli_cmd *cmd;
	struct config cfg = {{0}};
	struct cli c = {0};
	char err[300];
	int a = 1, words = 0, r;

	while (a < argc && argv[a][0] == '-') {
		const char *v;
		int missing = 0;

		if (strcmp(argv[a], "--json") == 0) {
			c.json = 1;
			a++;
		} else if ((v = flag_value(argc, argv, &a, "--url", &missing)) != NULL)
			url = v;
		else if ((v = flag_value(argc, argv, &a, "--token", &missing)) != NULL)
			token = v;
		else if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0)
			return cmd_help(&c, 0, NULL);
		else {
			fprintf(stderr,
				missing ? "error: %s needs a value\n"
					: "error: unknown option '%s'\n",
				argv[a]);
			fprintf(stderr, "%s (cloudlet help)\n", GLOBAL_USAGE);
			return CLI_USAGE;
		}
	}
	cmd = find_cmd(argc - a, argv + a, &words);
	if (cmd == NULL) {
		if (a < argc) {
			int group = print_usage(NULL, 1, argv + a) > 0;

			/* "firewall rule": a group within a group. */
			if (a + 2 == argc && print_usage(NULL, 2, argv + a) > 0) {
				fprintf(stderr, "error: '%s %s' needs a subcommand\n",
					argv[a], argv[a + 1]);
				print_usage(stderr, 2, argv + a);
				return CLI_USAGE;
			}
			if (group && a + 1 == argc)
				fprintf(stderr, "error: '%s' needs a subcommand\n",
					argv[a]);
			else
				fprintf(stderr, "error: no command '%s%s%s'\n", argv[a],
					a + 1 < argc ? " " : "",
					a + 1 < argc ? argv[a + 1] : "");
			if (group) {
				print_usage(stderr, 1, argv + a);
				return CLI_USAGE;
			}
		}
		print_usage(stderr, 0, NULL);
		return CLI_USAGE;
	}
	if (cmd->fn == cmd_help)
		return cmd_help(&c, argc - a - words, argv + a + words);

	if (load_config(&cfg) < 0)
		return CLI_FAIL;
	if ((url != NULL && config_set(&cfg, "url", url, err, sizeof(err)) < 0) ||
	    (token != NULL && config_set(&cfg, "token", token, err, sizeof(err)) < 0)) {
		fprintf(stderr, "error: %s\n", err);
		return CLI_USAGE;
	}
	if (cfg.url[0] == '\0')
		snprintf(cfg.url, sizeof(cfg.url), "%s", CONFIG_DEFAULT_URL);
	if (api_init(&c.api, cfg.url, cfg.token) < 0) {
		fprintf(stderr, "error: cannot set up the HTTP client\n");
		return CLI_FAIL;
	}
	explicit_bzero(cfg.token, sizeof(cfg.token));
	if (util_fmt(c.api.pin, sizeof(c.api.pin), "%s", cfg.pin) < 0) {
		fprintf(stderr, "error: the pin is too long (sha256//<base64>)\n");
		return CLI_USAGE;
	}

	r = cmd->fn(&c, argc - a - words, argv + a + words);
	if (r == CLI_USAGE)
		fprintf(stderr, "usage: cloudlet %s%s%s\n", cmd->name,
			*cmd->usage ? " " : "", cmd->usage);
	if (fflush(stdout) != 0 && r == CLI_OK) {
		fprintf(stderr, "error: writing the output: %s\n", strerror(errno));
		r = CLI_FAIL;
	}
	api_free(&c.api);
	return r;
}
