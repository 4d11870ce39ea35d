/* cmd_vpn.c - see cmd_vpn.h */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <qrencode.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "cmd_vpn.h"
#include "table.h"
#include "util.h"
#include "wgkey.h"

#define ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))
#define PLACEHOLDER "PrivateKey = (your private key; the platform never has it)"
#define PSK_PLACEHOLDER "PresharedKey = (your preshared key; given once, when made)"

static const char *
str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* "a,b,c" as a JSON array of strings. */
static json_t *
split(const char *s)
{
	json_t *a = json_array();

	while (s && *s) {
		size_t n = strcspn(s, ",");

		json_array_append_new(a, json_stringn(s, n));
		s += n;
		if (*s == ',')
			s++;
	}
	return a;
}

static void
show_channel(const json_t *c)
{
	const json_t *gw = json_object_get(c, "gateway");
	char *vms = json_dumps(json_object_get(c, "vms"), JSON_COMPACT);
	char *rc = json_dumps(json_object_get(c, "remote_cidrs"), JSON_COMPACT);

	printf("id:           %s\nname:         %s\nkind:         %s\n", str(c, "id"),
	       str(c, "name"), str(c, "kind"));
	if (json_is_string(json_object_get(c, "network")))
		printf("network:      %s\n", str(c, "network"));
	if (json_array_size(json_object_get(c, "vms")))
		printf("vms:          %s\n", vms);
	if (json_array_size(json_object_get(c, "remote_cidrs")))
		printf("remote_cidrs: %s\n", rc);
	printf("peers:        %lld\n", (long long)json_integer_value(json_object_get(c, "peers")));
	if (gw != NULL)
		printf("gateway:      %s:%lld (public key %s, tunnel pool %s)\n", str(gw, "address"),
		       (long long)json_integer_value(json_object_get(gw, "listen_port")),
		       str(gw, "public_key"), str(gw, "pool"));
	printf("created_at:   %s\n", str(c, "created_at"));
	free(vms);
	free(rc);
}

int
cmd_vpn_create(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--kind", ARG_STR},	  {"--network", ARG_STR},
			      {"--vms", ARG_STR},	  {"--remote-key", ARG_STR},
			      {"--remote-cidrs", ARG_STR}, {"--remote-endpoint", ARG_STR},
			      {"--dns", ARG_STR}};
	const char *name;
	json_t *body, *out = NULL, *vms = json_array();
	int r, n = 0;

	/* --vm VM, repeated (vm-vm: --vm A --vm B), taken out before the
	 * other options are parsed. */
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--vm") == 0 && i + 1 < argc) {
			json_array_append_new(vms, json_string(argv[++i]));
			continue;
		}
		argv[n++] = argv[i];
	}
	argc = n;
	if (args_parse(argc, argv, o, ARRAY_N(o), &name, 1) < 0 || !o[0].seen ||
	    (o[2].seen && json_array_size(vms) > 0)) {
		json_decref(vms);
		return CLI_USAGE;
	}
	body = json_pack("{s:s, s:s}", "name", name, "kind", o[0].str);
	if (o[1].seen)
		json_object_set_new(body, "network", json_string(o[1].str));
	if (o[2].seen)
		json_object_set_new(body, "vms", split(o[2].str));
	if (json_array_size(vms) > 0)
		json_object_set(body, "vms", vms);
	json_decref(vms);
	if (o[3].seen || o[4].seen || o[5].seen) {
		json_t *rem = json_object();

		if (o[3].seen)
			json_object_set_new(rem, "public_key", json_string(o[3].str));
		if (o[4].seen)
			json_object_set_new(rem, "cidrs", split(o[4].str));
		if (o[5].seen)
			json_object_set_new(rem, "endpoint", json_string(o[5].str));
		json_object_set_new(body, "remote", rem);
	}
	if (o[6].seen)
		json_object_set_new(body, "dns", json_string(o[6].str));
	r = api_json(&c->api, "POST", "/v1/vpn", body, &out);
	json_decref(body);
	if (r < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(out, stdout);
	else
		show_channel(out);
	json_decref(out);
	return CLI_OK;
}

static void
channel_row(struct table *t, const json_t *ch)
{
	char *vms = json_dumps(json_object_get(ch, "vms"), JSON_COMPACT);

	table_add(t, str(ch, "name"));
	table_add(t, str(ch, "id"));
	table_add(t, str(ch, "kind"));
	if (strcmp(str(ch, "kind") ?: "", "vm-client") == 0 ||
	    strcmp(str(ch, "kind") ?: "", "vm-vm") == 0)
		table_addf(t, "vms %s", vms ? vms : "");
	else
		table_addf(t, "network %s", str(ch, "network") ?: "-");
	table_addf(t, "%lld", (long long)json_integer_value(json_object_get(ch, "peers")));
	free(vms);
}

int
cmd_vpn_list(struct cli *c, int argc, char **argv)
{
	static const char *const heads[] = {"NAME", "ID", "KIND", "REACHES", "PEERS", NULL};

	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	return cli_list(c, "/v1/vpn", heads, channel_row);
}

int
cmd_vpn_show(struct cli *c, int argc, char **argv)
{
	char path[API_PATH_MAX];
	const char *ref;

	if (args_parse(argc, argv, NULL, 0, &ref, 1) < 0)
		return CLI_USAGE;
	if (cli_path(c, path, sizeof(path), "/v1/vpn/", ref, NULL) < 0)
		return CLI_FAIL;
	return cli_get_show(c, path, show_channel);
}

int
cmd_vpn_delete(struct cli *c, int argc, char **argv)
{
	const char *ref;

	if (args_parse(argc, argv, NULL, 0, &ref, 1) < 0)
		return CLI_USAGE;
	return cli_delete(c, "/v1/vpn/", ref, "deleted VPN channel");
}

/* /v1/vpn/CH/peers[/PEER[suffix]] */
static int
peer_path(struct cli *c, char *out, size_t len, const char *ch, const char *peer,
	  const char *suffix)
{
	char pre[API_PATH_MAX];

	if (peer == NULL)
		return cli_path(c, out, len, "/v1/vpn/", ch, "/peers");
	if (cli_path(c, pre, sizeof(pre), "/v1/vpn/", ch, "/peers/") < 0)
		return -1;
	return cli_path(c, out, len, pre, peer, suffix);
}

/* conf with a placeholder line replaced by "<field> = <value>"
 * (malloc'd; conf is freed). */
static char *
fill(char *conf, const char *placeholder, const char *field, const char *value)
{
	const char *at = conf ? strstr(conf, placeholder) : NULL;
	char *out = NULL;

	if (at == NULL || value == NULL)
		return conf;
	if (asprintf(&out, "%.*s%s = %s%s", (int)(at - conf), conf, field, value,
		     at + strlen(placeholder)) < 0)
		out = NULL;
	sodium_memzero(conf, strlen(conf));
	free(conf);
	return out;
}

/* The downloaded config with the keys this computer holds filled in. */
static char *
fill_key(const char *conf, const char *priv, const char *psk)
{
	return fill(fill(strdup(conf), PLACEHOLDER, "PrivateKey", priv), PSK_PLACEHOLDER,
		    "PresharedKey", psk);
}

/* A key from a file (wg genkey / wg genpsk), checked; 0 or -1. */
static int
read_key(const char *path, char out[WGKEY_B64])
{
	char *key = NULL;
	size_t klen = 0;
	int r = -1;

	if (util_read_file(path, 256, &key, &klen) < 0) {
		fprintf(stderr, "error: %s: cannot read it\n", path);
		return -1;
	}
	while (klen > 0 && (key[klen - 1] == '\n' || key[klen - 1] == ' '))
		key[--klen] = '\0';
	if (!wgkey_valid(key))
		fprintf(stderr, "error: %s: not a WireGuard key\n", path);
	else {
		memcpy(out, key, WGKEY_B64);
		r = 0;
	}
	sodium_memzero(key, klen);
	free(key);
	return r;
}

/* Write text to path, mode 0600 from its creation on. */
static int
write_private(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	size_t n = strlen(text);
	ssize_t w;

	if (fd < 0 || fchmod(fd, 0600) < 0) {
		fprintf(stderr, "error: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	w = write(fd, text, n);
	if (close(fd) < 0 || w != (ssize_t)n) {
		fprintf(stderr, "error: %s: cannot write it\n", path);
		return -1;
	}
	return 0;
}

/* The text as a QR code for a phone (libqrencode), two rows per line
 * with half blocks; light modules are drawn, for dark terminals. */
static int
print_qr(const char *text)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	int w, quiet = 2;

	if (q == NULL) {
		fprintf(stderr, "error: cannot make a QR code of the configuration\n");
		return -1;
	}
	w = q->width;
	for (int y = -quiet; y < w + quiet; y += 2) {
		for (int x = -quiet; x < w + quiet; x++) {
			int top = y >= 0 && y < w && x >= 0 && x < w && (q->data[y * w + x] & 1);
			int bot = y + 1 >= 0 && y + 1 < w && x >= 0 && x < w &&
				  (q->data[(y + 1) * w + x] & 1);

			fputs(!top && !bot ? "\xe2\x96\x88" : !top ? "\xe2\x96\x80"
						   : !bot   ? "\xe2\x96\x84"
							    : " ",
			      stdout);
		}
		putchar('\n');
	}
	QRcode_free(q);
	return 0;
}

/* The config to its places: a file (0600), a QR code, or stdout. */
static int
emit(const char *conf, const char *out, int qr)
{
	if (out != NULL && write_private(out, conf) < 0)
		return CLI_FAIL;
	if (out != NULL)
		fprintf(stderr, "wrote %s (mode 600)\n", out);
	if (qr && print_qr(conf) < 0)
		return CLI_FAIL;
	if (out == NULL && !qr)
		fputs(conf, stdout);
	return CLI_OK;
}

static void
show_peer(const json_t *p)
{
	long long ex = json_integer_value(json_object_get(p, "expires_at"));
	long long hs = json_integer_value(json_object_get(p, "last_handshake"));

	printf("id:             %s\nname:           %s\npublic_key:     %s\naddress:        %s\n",
	       str(p, "id"), str(p, "name"), str(p, "public_key"), str(p, "address"));
	if (ex)
		printf("expires_at:     %lld\n", ex);
	else
		printf("expires_at:     never\n");
	printf("last_handshake: %lld\nrx_bytes:       %lld\ntx_bytes:       %lld\n", hs,
	       (long long)json_integer_value(json_object_get(p, "rx_bytes")),
	       (long long)json_integer_value(json_object_get(p, "tx_bytes")));
}

int
cmd_vpn_peer_add(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--public-key", ARG_STR}, {"--server-key", ARG_FLAG},
			      {"--expires", ARG_UINT},	 {"--out", ARG_STR},
			      {"--qr", ARG_FLAG},	 {"--psk", ARG_FLAG}};
	const char *pos[2];
	char path[API_PATH_MAX], cpath[API_PATH_MAX], priv[WGKEY_B64] = "", pub[WGKEY_B64];
	char psk[WGKEY_B64] = "";
	char fname[200], *conf = NULL;
	const char *out_file;
	json_t *body, *peer = NULL, *cj = NULL;
	int r, rc = CLI_FAIL;

	if (args_parse(argc, argv, o, ARRAY_N(o), pos, 2) < 0 || (o[0].seen && o[1].seen))
		return CLI_USAGE;
	if (peer_path(c, path, sizeof(path), pos[0], NULL, NULL) < 0)
		return CLI_FAIL;
	body = json_pack("{s:s}", "name", pos[1]);
	if (o[2].seen)
		json_object_set_new(body, "expires", json_integer(o[2].num));
	/* A preshared key made here too (with --server-key: by the API). */
	if (o[5].seen && o[1].seen)
		json_object_set_new(body, "preshared_key", json_true());
	else if (o[5].seen) {
		if (wgkey_psk(psk) < 0) {
			json_decref(body);
			return CLI_FAIL;
		}
		json_object_set_new(body, "preshared_key", json_string(psk));
	}
	if (o[0].seen)
		json_object_set_new(body, "public_key", json_string(o[0].str));
	else if (!o[1].seen) {
		/* The pair is made here; only its public half leaves. */
		if (wgkey_generate(priv, pub) < 0) {
			fprintf(stderr, "error: cannot make a key pair\n");
			json_decref(body);
			return CLI_FAIL;
		}
		json_object_set_new(body, "public_key", json_string(pub));
	}
	r = api_json(&c->api, "POST", path, body, &peer);
	json_decref(body);
	if (r < 0)
		goto out;
	if (c->json) {
		/* Never the secrets on stdout: they go into the file. */
		json_t *view = json_deep_copy(peer);

		json_object_del(view, "config");
		table_print_json(view, stdout);
		json_decref(view);
	} else
		show_peer(peer);
	snprintf(fname, sizeof(fname), "%s.conf", pos[1]);
	out_file = o[3].seen ? o[3].str : fname;
	if (o[1].seen) {
		/* The API's pair: its config (with the key) comes this once. */
		conf = strdup(str(peer, "config"));
	} else if (priv[0] || psk[0] || o[3].seen || o[4].seen) {
		if (peer_path(c, cpath, sizeof(cpath), pos[0], str(peer, "id"), "/config") < 0 ||
		    api_json(&c->api, "GET", cpath, NULL, &cj) < 0)
			goto out;
		conf = fill_key(str(cj, "config"), priv[0] ? priv : NULL, psk[0] ? psk : NULL);
	} else {
		rc = CLI_OK; /* the customer's own key: nothing to write */
		goto out;
	}
	if (conf == NULL)
		goto out;
	rc = emit(conf, out_file, o[4].seen);
out:
	if (conf != NULL) {
		sodium_memzero(conf, strlen(conf));
		free(conf);
	}
	sodium_memzero(priv, sizeof(priv));
	sodium_memzero(psk, sizeof(psk));
	json_decref(cj);
	json_decref(peer);
	return rc;
}

static void
peer_row(struct table *t, const json_t *p)
{
	long long hs = json_integer_value(json_object_get(p, "last_handshake"));
	long long ex = json_integer_value(json_object_get(p, "expires_at"));

	table_add(t, str(p, "name"));
	table_add(t, str(p, "id"));
	table_add(t, str(p, "address"));
	if (hs > 0)
		table_addf(t, "%llds ago", (long long)time(NULL) - hs);
	else
		table_add(t, "never");
	table_addf(t, "%lld", (long long)json_integer_value(json_object_get(p, "rx_bytes")));
	table_addf(t, "%lld", (long long)json_integer_value(json_object_get(p, "tx_bytes")));
	if (ex > 0)
		table_addf(t, "%lld", ex);
	else
		table_add(t, "never");
}

int
cmd_vpn_peer_list(struct cli *c, int argc, char **argv)
{
	static const char *const heads[] = {"NAME", "ID", "ADDRESS", "LAST_HANDSHAKE",
					    "RX",   "TX", "EXPIRES", NULL};
	char path[API_PATH_MAX];
	const char *ch;

	if (args_parse(argc, argv, NULL, 0, &ch, 1) < 0)
		return CLI_USAGE;
	if (peer_path(c, path, sizeof(path), ch, NULL, NULL) < 0)
		return CLI_FAIL;
	return cli_list(c, path, heads, peer_row);
}

/* "revoked peer PEER" (--json: the answer), like every other delete. */
int
cmd_vpn_peer_revoke(struct cli *c, int argc, char **argv)
{
	char pre[API_PATH_MAX];
	const char *pos[2];

	if (args_parse(argc, argv, NULL, 0, pos, 2) < 0)
		return CLI_USAGE;
	if (cli_path(c, pre, sizeof(pre), "/v1/vpn/", pos[0], "/peers/") < 0)
		return CLI_FAIL;
	return cli_delete(c, pre, pos[1], "revoked peer");
}

int
cmd_vpn_peer_config(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--key", ARG_STR}, {"--out", ARG_STR}, {"--qr", ARG_FLAG},
			      {"--psk", ARG_STR}};
	char path[API_PATH_MAX], key[WGKEY_B64] = "", psk[WGKEY_B64] = "", *conf = NULL;
	const char *pos[2];
	json_t *cj = NULL;
	int rc = CLI_FAIL;

	if (args_parse(argc, argv, o, ARRAY_N(o), pos, 2) < 0)
		return CLI_USAGE;
	if (peer_path(c, path, sizeof(path), pos[0], pos[1], "/config") < 0 ||
	    api_json(&c->api, "GET", path, NULL, &cj) < 0)
		return CLI_FAIL;
	/* The keys the customer holds (files from wg genkey, wg genpsk),
	 * filled in here: they never go to the platform. */
	if ((o[0].seen && read_key(o[0].str, key) < 0) || (o[3].seen && read_key(o[3].str, psk) < 0))
		goto out;
	if ((conf = fill_key(str(cj, "config"), key[0] ? key : NULL, psk[0] ? psk : NULL)) == NULL)
		goto out;
	rc = emit(conf, o[1].seen ? o[1].str : NULL, o[2].seen);
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(psk, sizeof(psk));
	if (conf != NULL) {
		sodium_memzero(conf, strlen(conf));
		free(conf);
	}
	json_decref(cj);
	return rc;
}
