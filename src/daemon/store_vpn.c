/* store_vpn.c - see store_vpn.h */
#define _GNU_SOURCE
#include "store_vpn.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "netstate.h"
#include "store.h"
#include "util.h"
#include "wgkey.h"

static char key_dir[1024] = "/var/lib/cloudlet/daemon/vpn";

void
store_vpn_set_dir(const char *state_dir)
{
	snprintf(key_dir, sizeof(key_dir), "%s/vpn", state_dir);
}

static int
key_path(const char *tenant_id, char *out, size_t len)
{
	return util_fmt(out, len, "%s/%s.key", key_dir, tenant_id);
}

int
store_vpn_gateway_get(const char *tenant_id, json_t **out)
{
	return db_one(db_prep("SELECT listen_port, pool, public_key, created_at FROM vpn_gateways "
			      "WHERE tenant_id = ?",
			      "s", tenant_id),
		      out);
}

/* A key file's text (read by util_read_file): the base64 key into out if
 * it is one; the text wiped and freed either way. */
static int
key_take(char *text, size_t len, char out[45])
{
	int r;

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	r = len == 44 && wgkey_valid(text) ? 0 : -EINVAL;
	if (r == 0)
		memcpy(out, text, 45);
	sodium_memzero(text, len);
	free(text);
	return r;
}

int
store_vpn_gateway_key(const char *tenant_id, char out[45])
{
	char path[1200], *text = NULL;
	size_t len = 0;
	int r;

	if (key_path(tenant_id, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	if ((r = util_read_file(path, 128, &text, &len)) < 0)
		return r;
	return key_take(text, len, out);
}

/* The first 100.96.N.0/24 that overlaps none of avoid. */
static int
pick_pool(const json_t *avoid, char *out, size_t len)
{
	for (unsigned n = 0; n < 256; n++) {
		struct net_cidr p = {(100u << 24) | (96u << 16) | (n << 8), 24}, c;
		const json_t *a;
		size_t i;
		int clash = 0;

		json_array_foreach(avoid, i, a) {
			const char *s = json_string_value(a);

			if (s != NULL && netstate_parse_cidr(s, 1, 0, &c) == 0 &&
			    (netstate_in(&p, c.addr) || netstate_in(&c, p.addr)))
				clash = 1;
		}
		if (!clash) {
			snprintf(out, len, "100.96.%u.0/24", n);
			return 0;
		}
	}
	return -ENOSPC;
}

static int gateway_make(const char *tenant_id, const json_t *avoid, json_t **out);

/* One at a time in this process: two first channels of a tenant at once
 * must not write two key files for one row. (Two cloudletd on one store
 * share no key file at all: docs/networks.md, XXX.) */
static pthread_mutex_t gw_mtx = PTHREAD_MUTEX_INITIALIZER;

int
store_vpn_gateway_ensure(const char *tenant_id, const json_t *avoid, json_t **out)
{
	int r;

	pthread_mutex_lock(&gw_mtx);
	r = gateway_make(tenant_id, avoid, out);
	pthread_mutex_unlock(&gw_mtx);
	return r;
}

static int
gateway_make(const char *tenant_id, const json_t *avoid, json_t **out)
{
	char priv[WGKEY_B64], pub[WGKEY_B64], path[1200], pool[24], ts[32];
	int r;

	if (store_vpn_gateway_get(tenant_id, out) == 0) {
		/* A key file lost (a restore without it): the row is useless. */
		if (store_vpn_gateway_key(tenant_id, priv) == 0) {
			sodium_memzero(priv, sizeof(priv));
			return 0;
		}
		json_decref(*out);
		*out = NULL;
		db_run(db_prep("DELETE FROM vpn_gateways WHERE tenant_id = ?", "s", tenant_id));
	}
	if ((r = pick_pool(avoid, pool, sizeof(pool))) < 0)
		return r;
	if (key_path(tenant_id, path, sizeof(path)) < 0 || util_mkdirs(key_dir, 0700) < 0)
		return -EIO;
	if ((r = wgkey_generate(priv, pub)) < 0)
		return r;
	/* The key first: a row never points at a key that is not there. */
	priv[44] = '\n';
	r = util_write_atomic(path, priv, 45, 0600);
	sodium_memzero(priv, sizeof(priv));
	if (r < 0)
		return r;
	db_now(ts);
	r = db_run(db_prep("INSERT INTO vpn_gateways (tenant_id, listen_port, pool, public_key, "
			   "created_at) VALUES (?, ?, ?, ?, ?)",
			   "sisss", tenant_id, (int64_t)VPN_LISTEN_PORT, pool, pub, ts));
	if (r < 0)
		return r;
	return store_vpn_gateway_get(tenant_id, out);
}

void
store_vpn_gateway_forget(const char *tenant_id)
{
	char path[1200];

	if (key_path(tenant_id, path, sizeof(path)) == 0)
		unlink(path);
	if (util_fmt(path, sizeof(path), "%s/%s", key_dir, tenant_id) == 0)
		util_rmtree(path);
}

static int
psk_path(const char *tenant_id, const char *peer_id, char *out, size_t len)
{
	return util_fmt(out, len, "%s/%s/%s.psk", key_dir, tenant_id, peer_id);
}

int
store_vpn_psk_put(const char *tenant_id, const char *peer_id, const char *psk)
{
	char path[1200], dir[1200], text[WGKEY_B64 + 1];
	int r;

	if (psk_path(tenant_id, peer_id, path, sizeof(path)) < 0 ||
	    util_fmt(dir, sizeof(dir), "%s/%s", key_dir, tenant_id) < 0)
		return -ENAMETOOLONG;
	if (util_mkdirs(dir, 0700) < 0)
		return -EIO;
	snprintf(text, sizeof(text), "%s\n", psk);
	r = util_write_atomic(path, text, strlen(text), 0600);
	sodium_memzero(text, sizeof(text));
	return r;
}

int
store_vpn_psk_get(const char *tenant_id, const char *peer_id, char out[45])
{
	char path[1200], *text = NULL;
	size_t len = 0;
	int r;

	if (psk_path(tenant_id, peer_id, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	if ((r = util_read_file(path, 128, &text, &len)) < 0)
		return r == -ENOENT ? -ENOENT : r;
	while (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	r = len == 44 && wgkey_valid(text) ? 0 : -EINVAL;
	if (r == 0)
		memcpy(out, text, 45);
	sodium_memzero(text, len);
	free(text);
	return r;
}

void
store_vpn_psk_forget(const char *tenant_id, const char *peer_id)
{
	char path[1200];

	if (psk_path(tenant_id, peer_id, path, sizeof(path)) == 0)
		unlink(path);
}

static int
clash(const struct net_cidr *a, const char *text)
{
	struct net_cidr b;

	return text != NULL && netstate_parse_cidr(text, 1, 0, &b) == 0 &&
	       (netstate_in(a, b.addr) || netstate_in(&b, a->addr));
}

int
store_vpn_net_clash(const char *tenant_id, const char *cidr)
{
	json_t *gw = NULL, *chans, *c, *r;
	struct net_cidr a;
	size_t i, k;
	int hit = 0;

	if (cidr == NULL || netstate_parse_cidr(cidr, 1, 0, &a) < 0)
		return 0;
	if (store_vpn_gateway_get(tenant_id, &gw) == 0)
		hit = clash(&a, json_string_value(json_object_get(gw, "pool")));
	json_decref(gw);
	chans = store_vpn_channel_list(tenant_id);
	json_array_foreach(chans, i, c) json_array_foreach(json_object_get(c, "remote_cidrs"), k, r)
		hit |= clash(&a, json_string_value(r));
	json_decref(chans);
	return hit ? -EADDRINUSE : 0;
}

int64_t
store_vpn_net_users(const char *tenant_id, const char *network_id)
{
	return db_scalar(db_prep("SELECT count(*) FROM vpn_channels WHERE tenant_id = ? AND "
				 "network_id = ?",
				 "ss", tenant_id, network_id));
}

#define CH_COLS                                                                          \
	"SELECT c.id, c.name, c.kind, n.name AS network, c.network_id, c.vms, "          \
	"c.remote_cidrs, c.dns, c.created_at, "                                          \
	"(SELECT count(*) FROM vpn_peers p WHERE p.channel_id = c.id) AS peers "        \
	"FROM vpn_channels c LEFT JOIN networks n ON n.id = c.network_id "

/* vms and remote_cidrs are JSON text in the row: arrays in the view. */
static void
fix_channel(json_t *c)
{
	static const char *const k[] = {"vms", "remote_cidrs"};

	for (int i = 0; i < 2; i++) {
		json_t *a = json_loads(json_string_value(json_object_get(c, k[i])) ?: "[]", 0, NULL);

		json_object_set_new(c, k[i], a ? a : json_array());
	}
}

int
store_vpn_channel_add(const struct vpn_channel_row *c, json_t **out)
{
	char id[32], ts[32];
	int r;

	if ((r = db_new_id("vpn-", id)) < 0)
		return r;
	db_now(ts);
	r = db_run(db_prep("INSERT INTO vpn_channels (id, tenant_id, name, kind, network_id, vms, "
			   "remote_cidrs, dns, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			   "sssssssss", id, c->tenant_id, c->name, c->kind, c->network_id,
			   c->vms ? c->vms : "[]", c->remote_cidrs ? c->remote_cidrs : "[]",
			   c->dns ? c->dns : "", ts));
	if (r < 0)
		return r;
	return store_vpn_channel_get(c->tenant_id, id, out);
}

int
store_vpn_channel_get(const char *tenant_id, const char *id_or_name, json_t **out)
{
	int r = db_one(db_prep(CH_COLS "WHERE c.tenant_id = ?1 AND (c.id = ?2 OR c.name = ?2)",
			       "ss", tenant_id, id_or_name),
		       out);

	if (r == 0)
		fix_channel(*out);
	return r;
}

json_t *
store_vpn_channel_list(const char *tenant_id)
{
	json_t *l = db_all(db_prep(CH_COLS "WHERE c.tenant_id = ? ORDER BY c.name", "s",
				   tenant_id)),
	       *c;
	size_t i;

	json_array_foreach(l, i, c) fix_channel(c);
	return l;
}

int
store_vpn_channel_delete(const char *tenant_id, const char *id)
{
	int r;

	if ((r = db_begin()) < 0)
		return r;
	if ((r = db_run(db_prep("DELETE FROM vpn_peers WHERE tenant_id = ? AND channel_id = ?",
				"ss", tenant_id, id))) < 0 ||
	    (r = db_run(db_prep("DELETE FROM vpn_channels WHERE tenant_id = ? AND id = ?", "ss",
				tenant_id, id))) < 0) {
		db_rollback();
		return r;
	}
	if (db_changes() == 0) {
		db_rollback();
		return -ENOENT;
	}
	return db_commit();
}

#define PEER_COLS                                                                        \
	"SELECT id, channel_id, name, public_key, address, endpoint, expires_at, "       \
	"created_at FROM vpn_peers "

int
store_vpn_peer_add(const struct vpn_peer_row *p, json_t **out)
{
	char id[32], ts[32];
	int64_t ex = p->expires_at;
	int r;

	if ((r = db_new_id("vp-", id)) < 0)
		return r;
	db_now(ts);
	r = db_run(db_prep("INSERT INTO vpn_peers (id, tenant_id, channel_id, name, public_key, "
			   "address, endpoint, expires_at, created_at) "
			   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			   "sssssssns", id, p->tenant_id, p->channel_id, p->name, p->public_key,
			   p->address, p->endpoint ? p->endpoint : "", ex > 0 ? &ex : NULL, ts));
	if (r < 0)
		return r;
	return store_vpn_peer_get(p->tenant_id, p->channel_id, id, out);
}

int
store_vpn_peer_get(const char *tenant_id, const char *channel_id, const char *id_or_name,
		   json_t **out)
{
	return db_one(db_prep(PEER_COLS "WHERE tenant_id = ?1 AND channel_id = ?2 AND "
					"(id = ?3 OR name = ?3)",
			      "sss", tenant_id, channel_id, id_or_name),
		      out);
}

json_t *
store_vpn_peer_list(const char *tenant_id, const char *channel_id)
{
	if (channel_id == NULL)
		return db_all(db_prep(PEER_COLS "WHERE tenant_id = ? ORDER BY address", "s",
				      tenant_id));
	return db_all(db_prep(PEER_COLS "WHERE tenant_id = ? AND channel_id = ? ORDER BY name",
			      "ss", tenant_id, channel_id));
}

int
store_vpn_peer_delete(const char *tenant_id, const char *channel_id, const char *id)
{
	int r = db_run(db_prep("DELETE FROM vpn_peers WHERE tenant_id = ?1 AND channel_id = ?2 "
			       "AND (id = ?3 OR name = ?3)",
			       "sss", tenant_id, channel_id, id));

	return r < 0 ? r : db_changes() == 0 ? -ENOENT : 0;
}

int64_t
store_vpn_peer_count(const char *tenant_id)
{
	return db_scalar(db_prep("SELECT count(*) FROM vpn_peers WHERE tenant_id = ?", "s",
				 tenant_id));
}

/* ---- VM to VM (docs/networks.md, "VM to VM") ---------------------------- */

int
store_vpn_vmvm_slot(const char *tenant_id, int make)
{
	char ts[32];
	int64_t s;

	for (int tries = 0; tries < 8; tries++) {
		int r;

		if ((s = db_scalar(db_prep("SELECT slot FROM vpn_vmvm WHERE tenant_id = ?", "s",
					   tenant_id))) > 0)
			return (int)s;
		if (!make)
			return -ENOENT;
		/* The first free slot; a racing cloudletd's insert makes ours
		 * fail on the unique slot, and we look again. */
		s = db_scalar(db_prep("SELECT COALESCE(MIN(a.slot + 1), 1) FROM "
				      "(SELECT 0 AS slot UNION ALL SELECT slot FROM vpn_vmvm) a "
				      "WHERE NOT EXISTS (SELECT 1 FROM vpn_vmvm b "
				      "WHERE b.slot = a.slot + 1)",
				      ""));
		if (s < 1 || s > VPN_VMVM_SLOTS)
			return -ENOSPC;
		db_now(ts);
		r = db_run(db_prep("INSERT INTO vpn_vmvm (tenant_id, slot, created_at) "
				   "VALUES (?, ?, ?)",
				   "sis", tenant_id, s, ts));
		if (r < 0 && r != -EEXIST)
			return r;
	}
	return -EBUSY;
}

void
store_vpn_vmvm_forget(const char *tenant_id)
{
	db_run(db_prep("DELETE FROM vpn_vmvm WHERE tenant_id = ?", "s", tenant_id));
}

static int
host_key_path(const char *tenant_id, const char *host_id, char *out, size_t len)
{
	return util_fmt(out, len, "%s/%s/vmvm-%s.key", key_dir, tenant_id, host_id);
}

static pthread_mutex_t hk_mtx = PTHREAD_MUTEX_INITIALIZER;

int
store_vpn_host_key(const char *tenant_id, const char *host_id, char out[45])
{
	char path[1200], dir[1200], pub[WGKEY_B64], *text = NULL;
	size_t len = 0;
	int r;

	if (host_key_path(tenant_id, host_id, path, sizeof(path)) < 0 ||
	    util_fmt(dir, sizeof(dir), "%s/%s", key_dir, tenant_id) < 0)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&hk_mtx);
	if ((r = util_read_file(path, 128, &text, &len)) == -ENOENT) {
		/* Made on first use, like the gateway's: only this file has it. */
		if (util_mkdirs(dir, 0700) < 0 || (r = wgkey_generate(out, pub)) < 0) {
			pthread_mutex_unlock(&hk_mtx);
			return r < 0 ? r : -EIO;
		}
		out[44] = '\n';
		r = util_write_atomic(path, out, 45, 0600);
		out[44] = '\0';
		if (r < 0)
			sodium_memzero(out, 45);
		pthread_mutex_unlock(&hk_mtx);
		return r;
	}
	pthread_mutex_unlock(&hk_mtx);
	if (r < 0)
		return r;
	return key_take(text, len, out);
}
