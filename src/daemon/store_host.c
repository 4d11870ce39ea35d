/* store_host.c - see store_host.h */
#define _GNU_SOURCE
#include "store_host.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "store_int.h"
#include "util.h"

static enum place_policy policy = PLACE_SPREAD;
static unsigned vcpu_ratio = 16;
static __thread char place_why[256];

void
store_host_set_policy(enum place_policy p, unsigned vcpu_overcommit)
{
	policy = p;
	if (vcpu_overcommit > 0)
		vcpu_ratio = vcpu_overcommit;
}

/*
 * A host with its capacity and use. The memory budget (host_fix()) is the
 * agent's: its memory minus 512 MiB kept for the host, times its
 * overcommit ratio.
 */
#define HOST_COLS                                                                          \
	"SELECT h.id AS id, h.name AS name, h.socket AS socket, h.address AS address,"      \
	" h.fingerprint AS fingerprint, h.protocol AS protocol, h.reason AS reason,"       \
	" h.underlay_address AS underlay_address, h.state AS state, h.draining AS draining," \
	" h.cpus AS cpus, h.memory_mib AS memory_mib,"                                      \
	" h.mem_overcommit AS mem_overcommit,"                                              \
	" h.accel AS accel, h.agent_version AS agent_version,"                              \
	" h.disk_gib AS disk_gib, h.disk_free_gib AS disk_free_gib, h.templates AS templates," \
	" h.last_heartbeat AS last_heartbeat, h.created_at AS created_at, h.site AS site,"   \
	" (SELECT count(*) FROM vms v WHERE v.host_id = h.id OR v.migrating_to = h.id) AS vms,"                      \
	" (SELECT coalesce(sum(vcpus), 0) FROM vms v WHERE v.host_id = h.id OR v.migrating_to = h.id) AS used_vcpus," \
	" (SELECT coalesce(sum(memory_mib), 0) FROM vms v WHERE v.host_id = h.id OR v.migrating_to = h.id)"          \
	"   AS used_memory_mib,"                                                            \
	" (SELECT coalesce(sum(disk_gib), 0) FROM vms v WHERE v.host_id = h.id OR v.migrating_to = h.id)"            \
	"   AS used_disk_gib FROM hosts h "

static void
host_fix(json_t *h)
{
	int64_t mem = json_integer_value(json_object_get(h, "memory_mib"));
	json_t *oc = json_object_get(h, "mem_overcommit");
	double ratio = json_is_number(oc) ? json_number_value(oc) : 1.0;

	/* Computed here rather than in SQL: the dialects round a REAL cast to
	 * an integer differently (SQLite truncates). */
	json_object_set_new(h, "memory_budget_mib",
			    json_integer((json_int_t)((double)(mem > 512 ? mem - 512 : 0) * ratio)));
	json_object_del(h, "mem_overcommit");
	/* Stored as JSON text (the agent's fits): shown as a list. */
	json_object_set_new(h, "templates",
			    json_loads(json_string_value(json_object_get(h, "templates")) ?: "[]",
				       0, NULL) ?: json_array());
	json_object_set_new(h, "draining",
			    json_boolean(json_integer_value(json_object_get(h, "draining"))));
	json_object_set_new(h, "vcpu_capacity",
			    json_integer(json_integer_value(json_object_get(h, "cpus")) *
					 (json_int_t)vcpu_ratio));
}

int
store_host_ensure_local(const char *socket, const char *underlay)
{
	char ts[32];

	db_now(ts);
	return db_run(db_prep("INSERT INTO hosts (id, name, socket, underlay_address, created_at) "
			      "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
			      "socket = excluded.socket, underlay_address = excluded.underlay_address",
			      "sssss", HOST_LOCAL, HOST_LOCAL, socket, underlay, ts));
}

static int
host_insert(const char *name, const char *socket, const char *address, const char *fpr,
	    const char *underlay, const char *site, char *id)
{
	char ts[32];
	int r;

	if ((r = db_new_id("h-", id)) < 0)
		return r;
	db_now(ts);
	if (db_scalar(db_prep("SELECT count(*) FROM hosts WHERE name = ? OR id = ?", "ss", name,
			      name)) != 0)
		return -EEXIST;
	return db_run(db_prep("INSERT INTO hosts (id, name, socket, address, fingerprint, "
			      "underlay_address, site, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			      "ssssssss", id, name, socket, address, fpr, underlay ? underlay : "",
			      site ? site : "", ts));
}

int
store_host_add(const char *name, const char *socket, const char *underlay, const char *site,
	       json_t **out)
{
	char id[STORE_ID_LEN];
	int r = host_insert(name, socket, "", "", underlay, site, id);

	if (r < 0)
		return r;
	return out ? store_host_get(id, out) : 0;
}

int
store_host_add_tls(const char *name, const char *address, const char *fingerprint,
		   const char *underlay, const char *site, json_t **out)
{
	char id[STORE_ID_LEN];
	int r = host_insert(name, "", address, fingerprint, underlay, site, id);

	if (r < 0)
		return r;
	return out ? store_host_get(id, out) : 0;
}

int
store_host_get(const char *id_or_name, json_t **out)
{
	int r = db_one(db_prep(HOST_COLS "WHERE h.id = ? OR h.name = ?", "ss", id_or_name,
			       id_or_name),
		       out);

	if (r == 0)
		host_fix(*out);
	return r;
}

static int host_text(const char *sql, const char *id, char *buf, size_t len);

/* This control plane's site (store_host_set_site); "" when alone. */
static char own_site[64];

void
store_host_set_site(const char *site)
{
	snprintf(own_site, sizeof(own_site), "%s", site ? site : "");
}

const char *
store_host_site(void)
{
	return own_site;
}

static json_t *
host_list_where(const char *where, const char *site)
{
	char sql[4096];
	json_t *a, *h;
	size_t i;

	snprintf(sql, sizeof(sql), HOST_COLS "%s ORDER BY h.name", where);
	a = db_all(site ? db_prep(sql, "s", site) : db_prep(sql, ""));
	json_array_foreach(a, i, h) host_fix(h);
	return a;
}

json_t *
store_host_list(void)
{
	return own_site[0] ? host_list_where("WHERE h.site = ?", own_site) : host_list_where("", NULL);
}

json_t *
store_host_list_all(void)
{
	return host_list_where("", NULL);
}

json_t *
store_host_list_peer_site(void)
{
	return host_list_where("WHERE h.site != '' AND h.site != ?", own_site);
}

int
store_host_of_site(const char *id)
{
	char site[64];

	if (host_text("SELECT site FROM hosts WHERE id = ?", id, site, sizeof(site)) < 0)
		return 0;
	return strcmp(site, own_site) == 0;
}

int
store_host_resolve(const char *id_or_name, char *id, size_t len)
{
	json_t *h = NULL;
	int r = db_one(db_prep("SELECT id FROM hosts WHERE id = ? OR name = ?", "ss", id_or_name,
			       id_or_name),
		       &h);

	if (r == 0)
		snprintf(id, len, "%s", json_string_value(json_object_get(h, "id")));
	json_decref(h);
	return r;
}

int
store_host_set_draining(const char *id, int draining)
{
	return db_run(db_prep("UPDATE hosts SET draining = ? WHERE id = ?", "is",
			      (int64_t)(draining != 0), id));
}

int
store_host_remove(const char *id)
{
	int r;

	if ((r = db_begin()) < 0)
		return r;
	if (db_scalar(db_prep("SELECT count(*) FROM hosts WHERE id = ?", "s", id)) != 1)
		r = -ENOENT;
	else if (db_scalar(db_prep("SELECT count(*) FROM vms WHERE host_id = ?", "s", id)) != 0)
		r = -ENOTEMPTY;
	else {
		r = db_run(db_prep("DELETE FROM hosts WHERE id = ?", "s", id));
		if (r == 0)
			r = db_run(db_prep("DELETE FROM tenant_hosts WHERE host_id = ?", "s", id));
		if (r == 0)
			r = db_run(db_prep("UPDATE tenants SET home_host = NULL WHERE home_host = ?",
					   "s", id));
	}
	if (r == 0)
		db_commit();
	else
		db_rollback();
	return r;
}

static int
host_text(const char *sql, const char *id, char *buf, size_t len)
{
	db_stmt *st = db_prep(sql, "s", id);
	int r = -ENOENT;

	if (st == NULL)
		return -EIO;
	buf[0] = '\0';
	if (db_step(st) == 1) {
		const char *t = db_col_text(st, 0);

		snprintf(buf, len, "%s", t ? t : "");
		r = 0;
	}
	db_done(st);
	return r;
}

int
store_host_endpoint(const char *id, struct host_endpoint *ep)
{
	db_stmt *st = db_prep("SELECT socket, address, fingerprint FROM hosts WHERE id = ?", "s",
			      id);
	char *f[3] = {ep->socket, ep->address, ep->fingerprint};
	size_t len[3] = {sizeof(ep->socket), sizeof(ep->address), sizeof(ep->fingerprint)};
	int r = -ENOENT;

	if (st == NULL)
		return -EIO;
	if (db_step(st) == 1) {
		for (int i = 0; i < 3; i++) {
			const char *t = db_col_text(st, i);

			snprintf(f[i], len[i], "%s", t ? t : "");
		}
		r = 0;
	}
	db_done(st);
	return r;
}

int
store_host_set_reason(const char *id, const char *reason)
{
	return db_run(db_prep("UPDATE hosts SET reason = ? WHERE id = ? AND reason != ?", "sss",
			      reason, id, reason));
}

int
store_join_token_add(const char *name, const unsigned char hash[32], int64_t expires_at,
		     char *id, size_t idlen)
{
	char tid[STORE_ID_LEN], ts[32];
	int r;

	if ((r = db_new_id("jt-", tid)) < 0)
		return r;
	db_now(ts);
	r = db_run(db_prep("INSERT INTO join_tokens (id, name, hash, expires_at, created_at) "
			   "VALUES (?, ?, ?, ?, ?)",
			   "ssbis", tid, name, hash, expires_at, ts));
	if (r == 0)
		snprintf(id, idlen, "%s", tid);
	return r;
}

json_t *
store_join_token_list(void)
{
	return db_all(db_prep("SELECT id, name, expires_at, created_at FROM join_tokens "
			      "ORDER BY name, created_at",
			      ""));
}

int
store_join_token_delete(const char *id)
{
	if (db_scalar(db_prep("SELECT count(*) FROM join_tokens WHERE id = ?", "s", id)) != 1)
		return -ENOENT;
	return db_run(db_prep("DELETE FROM join_tokens WHERE id = ?", "s", id));
}

/* Inside store_host_join's transaction: take the token (deleted whatever
 * follows, so it is used once). */
static int
take_token(const unsigned char hash[32], int64_t now, const char *name, char *tok_id)
{
	json_t *t = NULL;
	int r = db_one(db_prep("SELECT id, name, expires_at FROM join_tokens WHERE hash = ?", "b",
			       hash),
		       &t);

	if (r < 0)
		return r == -ENOENT ? -EACCES : r;
	snprintf(tok_id, STORE_ID_LEN, "%s", json_string_value(json_object_get(t, "id")));
	r = db_run(db_prep("DELETE FROM join_tokens WHERE id = ?", "s", tok_id));
	if (r == 0 && json_integer_value(json_object_get(t, "expires_at")) <= now)
		r = -ETIME;
	else if (r == 0 && strcmp(json_string_value(json_object_get(t, "name")), name) != 0)
		r = -EPERM;
	json_decref(t);
	return r;
}

int
store_host_join(const unsigned char hash[32], int64_t now, const struct host_join *j,
		json_t **out, char *tok_id)
{
	char id[STORE_ID_LEN];
	int r, keep;

	tok_id[0] = '\0';
	if ((r = db_begin()) < 0)
		return r;
	r = take_token(hash, now, j->name, tok_id);
	if (r == 0)
		r = host_insert(j->name, "", j->address, j->fingerprint, j->underlay, "", id);
	/* A refused token stays used up (expired, wrong name): commit its
	 * deletion, not a host. */
	keep = r == 0 || r == -ETIME || r == -EPERM;
	if (keep)
		db_commit();
	else
		db_rollback();
	if (r == 0 && out != NULL)
		r = store_host_get(id, out);
	return r;
}

int
store_host_socket(const char *id, char *path, size_t len)
{
	return host_text("SELECT socket FROM hosts WHERE id = ?", id, path, len);
}

int
store_host_underlay(const char *id, char *addr, size_t len)
{
	return host_text("SELECT underlay_address FROM hosts WHERE id = ?", id, addr, len);
}

int
store_host_is_down(const char *id)
{
	char st[16];
	int r = host_text("SELECT state FROM hosts WHERE id = ?", id, st, sizeof(st));

	return r < 0 ? r : strcmp(st, "down") == 0;
}

/* The agent's template fits as JSON text: strings only, bounded. */
static char *
fits_text(const json_t *fits)
{
	json_t *clean = json_array(), *f;
	size_t i;
	char *text;

	json_array_foreach(fits, i, f) {
		if (i >= 256)
			break;
		if (json_is_string(f) && json_string_length(f) < 200)
			json_array_append(clean, f);
	}
	text = json_dumps(clean, JSON_COMPACT);
	json_decref(clean);
	return text;
}

int
store_host_heartbeat_ok(const char *id, const json_t *info)
{
	char ts[32], st[16] = "";
	json_t *oc = json_object_get(info, "mem_overcommit");
	double ratio = json_is_number(oc) ? json_number_value(oc) : 1.0;
	const char *ver = json_string_value(json_object_get(info, "version"));
	json_t *pr = json_object_get(info, "protocol");
	char proto[48], *tpl = fits_text(json_object_get(info, "templates"));
	int r;

	snprintf(proto, sizeof(proto), "%lld-%lld",
		 (long long)json_integer_value(json_object_get(pr, "min")),
		 (long long)json_integer_value(json_object_get(pr, "max")));
	db_now(ts);
	host_text("SELECT state FROM hosts WHERE id = ?", id, st, sizeof(st));
	r = db_run(db_prep("UPDATE hosts SET state = 'up', cpus = ?, memory_mib = ?, "
			   "mem_overcommit = ?, accel = ?, agent_version = ?, last_heartbeat = ?, "
			   "disk_gib = ?, disk_free_gib = ?, protocol = ?, reason = '', templates = ? "
			   "WHERE id = ?",
			   "iidsssiisss", (int64_t)json_integer_value(json_object_get(info, "cpus")),
			   (int64_t)json_integer_value(json_object_get(info, "memory_mib")), ratio,
			   json_string_value(json_object_get(info, "accel")) ?: "", ver ? ver : "",
			   ts, (int64_t)json_integer_value(json_object_get(info, "disk_gib")),
			   (int64_t)json_integer_value(json_object_get(info, "disk_free_gib")), proto,
			   tpl ? tpl : "[]", id));
	free(tpl);
	if (r < 0)
		return r;
	return strcmp(st, "down") == 0;
}

int
store_host_mark_down(const char *id)
{
	char st[16] = "";
	int r;

	if ((r = db_begin()) < 0)
		return r;
	host_text("SELECT state FROM hosts WHERE id = ?", id, st, sizeof(st));
	r = db_run(db_prep("UPDATE hosts SET state = 'down' WHERE id = ?", "s", id));
	/* Its VMs: unknown, the last known state beside (never deleted). */
	if (r == 0)
		r = db_run(db_prep("UPDATE vms SET last_state = state, state = 'unknown' "
				   "WHERE host_id = ? AND state NOT IN ('unknown', 'creating', "
				   "'deleting')",
				   "s", id));
	if (r == 0)
		db_commit();
	else
		db_rollback();
	if (r < 0)
		return r;
	return strcmp(st, "up") == 0;
}

/* Does the host hold a VM of the tenant's group that rules this VM out? */
static int
group_conflict(const struct place_req *q, const char *host_id)
{
	if (q->tenant_id == NULL || q->group == NULL || q->group[0] == '\0')
		return 0;
	return db_scalar(db_prep("SELECT count(*) FROM vms WHERE tenant_id = ? AND group_name = ? "
				 "AND host_id = ? AND (anti_affinity = 1 OR ? = 1)",
				 "sssi", q->tenant_id, q->group, host_id,
				 (int64_t)(q->anti_affinity != 0))) > 0;
}

/* The first filter that rules host h out (its reason in why), or 0. */
static int
host_filter(const struct place_req *q, json_t *h, int lenient, char *why, size_t whylen)
{
	const char *name = json_string_value(json_object_get(h, "name"));
	int64_t cpus = json_integer_value(json_object_get(h, "cpus"));
	int64_t budget = json_integer_value(json_object_get(h, "memory_budget_mib"));
	int64_t uv = json_integer_value(json_object_get(h, "used_vcpus"));
	int64_t um = json_integer_value(json_object_get(h, "used_memory_mib"));
	int64_t disk = json_integer_value(json_object_get(h, "disk_gib"));
	int64_t ud = json_integer_value(json_object_get(h, "used_disk_gib"));

	if (json_is_true(json_object_get(h, "draining")))
		return snprintf(why, whylen, "host %s is draining", name), 1;
	if (strcmp(json_string_value(json_object_get(h, "state")), "up") != 0 && !lenient)
		return snprintf(why, whylen, "host %s is down", name), 1;
	if (cpus > 0 && (q->vcpus > cpus || uv + q->vcpus > cpus * (int64_t)vcpu_ratio))
		return snprintf(why, whylen,
				"host %s has not enough vCPUs (%lld of %lld used, %lld asked)", name,
				(long long)uv, (long long)(cpus * (int64_t)vcpu_ratio),
				(long long)q->vcpus), 1;
	if (cpus > 0 && um + q->memory_mib > budget)
		return snprintf(why, whylen,
				"host %s has not enough memory (%lld of %lld MiB used, %lld asked)",
				name, (long long)um, (long long)budget, (long long)q->memory_mib), 1;
	/* An agent before it reported its disk (0): not filtered. */
	if (disk > 0 && ud + q->disk_gib > disk)
		return snprintf(why, whylen,
				"host %s has not enough disk (%lld of %lld GiB given to VMs, %lld asked)",
				name, (long long)ud, (long long)disk, (long long)q->disk_gib), 1;
	if (group_conflict(q, json_string_value(json_object_get(h, "id"))))
		return snprintf(why, whylen,
				"anti-affinity: host %s already has a VM of group %s", name,
				q->group), 1;
	return 0;
}

/* Does h have a ready template for the VM's fit? */
static int
has_template(const struct place_req *q, const json_t *h)
{
	char fit[200];
	json_t *f;
	size_t i;

	if (q->image == NULL || util_fmt(fit, sizeof(fit), "%s/%lld/%lld/%lld", q->image,
					 (long long)q->vcpus, (long long)q->memory_mib,
					 (long long)q->disk_gib) < 0)
		return 0;
	json_array_foreach(json_object_get(h, "templates"), i, f)
		if (json_is_string(f) && strcmp(json_string_value(f), fit) == 0)
			return 1;
	return 0;
}

int
store_host_place(const struct place_req *q, char *id, size_t len, char *why, size_t whylen)
{
	json_t *hosts = store_host_list(), *h;
	double best = 0;
	size_t i, n = json_array_size(hosts);
	int found = 0;

	snprintf(why, whylen, "no host is registered (cloudlet host add)");
	json_array_foreach(hosts, i, h) {
		const char *hid = json_string_value(json_object_get(h, "id"));
		int64_t budget = json_integer_value(json_object_get(h, "memory_budget_mib"));
		int64_t um = json_integer_value(json_object_get(h, "used_memory_mib"));
		/* The implicit host alone: its agent judges, as with one host
		 * before (operations wait for an agent that restarts). */
		int lenient = n == 1 && strcmp(hid, HOST_LOCAL) == 0;
		double share;

		if (q->exclude != NULL && strcmp(hid, q->exclude) == 0)
			continue;
		if (host_filter(q, h, lenient, why, whylen))
			continue;
		share = budget > 0 ? (double)um / (double)budget : 0;
		if (has_template(q, h))
			share += policy == PLACE_SPREAD ? -PLACE_TEMPLATE_BONUS : PLACE_TEMPLATE_BONUS;
		if (!found || (policy == PLACE_SPREAD ? share < best : share > best)) {
			best = share;
			snprintf(id, len, "%s", hid);
			found = 1;
		}
	}
	json_decref(hosts);
	return found ? 0 : -ENOSPC;
}

const char *
store_host_place_why(void)
{
	return place_why;
}

int
store_vm_migrating(const char *vm_id, const char *to)
{
	return db_run(db_prep("UPDATE vms SET migrating_to = ? WHERE id = ?", "ss", to ? to : "",
			      vm_id));
}

int
store_vm_migrating_to(const char *vm_id, char *host, size_t len)
{
	return host_text("SELECT migrating_to FROM vms WHERE id = ?", vm_id, host, len);
}

int
store_vm_moved(const char *vm_id, const char *host_id)
{
	/* Its attached volumes moved with it (the destination's pool has them,
	 * the source's copies are gone): their alerts and scans are there. */
	if (db_run(db_prep("UPDATE volumes SET host_id = ? WHERE vm_id = ?", "ss", host_id,
			   vm_id)) < 0)
		return -EIO;
	return db_run(db_prep("UPDATE vms SET host_id = ?, migrating_to = '' WHERE id = ?", "ss",
			      host_id, vm_id));
}

/* For store_vm_create (store.c): keep the reason for the API. */
int
store_place_tx(const struct place_req *q, char *id, size_t len)
{
	place_why[0] = '\0';
	return store_host_place(q, id, len, place_why, sizeof(place_why));
}

int
store_vm_host(const char *vm_id, char *host, size_t len)
{
	return host_text("SELECT host_id FROM vms WHERE id = ?", vm_id, host, len);
}

json_t *
store_vm_list_host(const char *host_id)
{
	return db_all(db_prep("SELECT id, tenant_id, state, ready, vcpus, memory_mib, disk_gib "
			      "FROM vms WHERE host_id = ? ORDER BY created_at, id",
			      "s", host_id));
}

static json_t *
column0(db_stmt *st)
{
	json_t *a = json_array();

	if (st == NULL)
		return a;
	while (db_step(st) == 1)
		json_array_append_new(a, json_string((const char *)db_col_text(st, 0)));
	db_done(st);
	return a;
}

json_t *
store_tenant_vm_hosts(const char *tenant_id)
{
	/* A host a VM is moving to has the tenant already. */
	return column0(db_prep("SELECT host_id FROM vms WHERE tenant_id = ?1 UNION "
			       "SELECT migrating_to FROM vms WHERE tenant_id = ?1 AND "
			       "migrating_to != '' ORDER BY 1",
			       "s", tenant_id));
}

int
store_tenant_home(const char *tenant_id, char *host, size_t len)
{
	return host_text("SELECT coalesce(home_host, '') FROM tenants WHERE id = ?", tenant_id,
			 host, len);
}

json_t *
store_tenant_applied_hosts(const char *tenant_id)
{
	return column0(db_prep("SELECT host_id FROM tenant_hosts WHERE tenant_id = ? "
			       "ORDER BY host_id",
			       "s", tenant_id));
}

int
store_tenant_applied_set(const char *tenant_id, const char *host_id, int applied)
{
	if (applied)
		return db_run(db_prep("INSERT INTO tenant_hosts (tenant_id, host_id) "
				      "SELECT id, ? FROM tenants WHERE id = ? ON CONFLICT DO NOTHING",
				      "ss", host_id, tenant_id));
	return db_run(db_prep("DELETE FROM tenant_hosts WHERE tenant_id = ? AND host_id = ?", "ss",
			      tenant_id, host_id));
}

json_t *
store_net_vnis(const char *tenant_id)
{
	db_stmt *st = db_prep("SELECT id, vni FROM networks WHERE tenant_id = ?", "s",
				   tenant_id);
	json_t *o = json_object();

	if (st == NULL)
		return o;
	while (db_step(st) == 1)
		json_object_set_new(o, (const char *)db_col_text(st, 0),
				    json_integer(db_col_int(st, 1)));
	db_done(st);
	return o;
}

int
store_nic_set_mac(const char *vm_id, int idx, const char *mac)
{
	return db_run(db_prep("UPDATE vm_nics SET mac = ? WHERE vm_id = ? AND idx = ? AND mac != ?",
			      "ssis", mac, vm_id, (int64_t)idx, mac));
}

int
store_vm_macs_missing(const char *vm_id)
{
	return (int)db_scalar(db_prep("SELECT count(*) FROM vm_nics WHERE vm_id = ? AND mac = ''",
				      "s", vm_id));
}

json_t *
store_tenant_remote_ports(const char *tenant_id, const char *host_id)
{
	json_t *a = db_all(db_prep("SELECT n.mac AS mac, n.address AS address FROM vm_nics n "
				   "JOIN vms v ON v.id = n.vm_id WHERE v.tenant_id = ? AND "
				   "v.host_id != ? AND n.mac != '' ORDER BY n.vm_id, n.idx",
				   "ss", tenant_id, host_id)),
	       *p;
	size_t i;

	/* The address without its prefix length. */
	json_array_foreach(a, i, p) {
		const char *addr = json_string_value(json_object_get(p, "address"));
		const char *slash = addr ? strchr(addr, '/') : NULL;

		if (slash != NULL)
			json_object_set_new(p, "address",
					    json_stringn(addr, (size_t)(slash - addr)));
	}
	return a;
}
