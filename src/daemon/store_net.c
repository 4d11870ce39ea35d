/* store_net.c - see store_net.h */
#define _GNU_SOURCE
#include "store_net.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netstate.h"
#include "db.h"
#include "store_int.h"
#include "util.h"

static char pool[20] = "198.18.0.0/24", pool_gw[16] = "";

int
store_net_set_pool(const char *cidr, const char *gateway)
{
	struct net_cidr c, g;

	if (netstate_parse_cidr(cidr, 1, 1, &c) < 0 || c.prefix < 8 || c.prefix > 29)
		return -EINVAL;
	if (gateway && gateway[0] && (netstate_parse_cidr(gateway, 0, 0, &g) < 0 ||
				      !netstate_in(&c, g.addr)))
		return -EINVAL;
	snprintf(pool, sizeof(pool), "%s", cidr);
	snprintf(pool_gw, sizeof(pool_gw), "%s", gateway ? gateway : "");
	return 0;
}

const char *
store_net_pool(void)
{
	return pool;
}

const char *
store_net_gateway(void)
{
	return pool_gw;
}

/* Lists are in creation order: rowid, since created_at has whole seconds
 * (SQLite's own rowid; PostgreSQL's tables that are listed so have a
 * rowid BIGSERIAL column, store_schema.c). */
#define NET_COLS "SELECT id, name, cidr, created_at FROM networks "

static int
count(const char *sql, const char *tenant_id)
{
	return (int)db_scalar(db_prep(sql, "s", tenant_id));
}

int
store_net_create(const char *tenant_id, const char *name, const char *cidr, json_t **out)
{
	char id[STORE_ID_LEN], ts[32], autocidr[32];
	int r;

	if ((r = db_new_id("n-", id)) < 0)
		return r;
	db_now(ts);
	if ((r = db_begin()) < 0)
		return r;
	if (count("SELECT count(*) FROM networks WHERE tenant_id = ?", tenant_id) >=
	    NET_PER_TENANT_MAX) {
		r = -EDQUOT;
		goto fail;
	}
	if (cidr == NULL) {
		struct net_cidr want;
		json_t *nets = store_net_list(tenant_id);
		int n;

		for (n = 0; n < 256; n++) {
			size_t i;
			json_t *o;
			int clash = 0;

			snprintf(autocidr, sizeof(autocidr), "10.%d.0.0/24", n);
			netstate_parse_cidr(autocidr, 1, 1, &want);
			json_array_foreach(nets, i, o) {
				struct net_cidr have;

				if (netstate_parse_cidr(json_string_value(json_object_get(o, "cidr")),
							1, 1, &have) == 0 &&
				    (netstate_in(&have, want.addr) || netstate_in(&want, have.addr)))
					clash = 1;
			}
			if (!clash)
				break;
		}
		json_decref(nets);
		if (n == 256) {
			r = -ENOSPC;
			goto fail;
		}
		cidr = autocidr;
	} else {
		/* A given subnet must not overlap the tenant's others. */
		struct net_cidr want;
		json_t *nets = store_net_list(tenant_id);
		size_t i;
		json_t *o;

		netstate_parse_cidr(cidr, 1, 1, &want);
		json_array_foreach(nets, i, o) {
			struct net_cidr have;

			if (netstate_parse_cidr(json_string_value(json_object_get(o, "cidr")), 1, 1,
						&have) == 0 &&
			    (netstate_in(&have, want.addr) || netstate_in(&want, have.addr)))
				r = -EADDRINUSE;
		}
		json_decref(nets);
		if (r < 0)
			goto fail;
	}
	/* Its VNI (one per network, unique in this control plane). */
	r = db_run(db_prep("INSERT INTO networks (id, tenant_id, name, cidr, created_at, vni) "
			   "VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(vni), 0) + 1 FROM networks))",
			   "sssss", id, tenant_id, name, cidr, ts));
	if (r < 0)
		goto fail;
	if ((r = db_commit()) < 0)
		return r;
	return store_net_get(tenant_id, id, out);
fail:
	db_rollback();
	return r;
}

json_t *
store_net_list(const char *tenant_id)
{
	return db_all(db_prep(NET_COLS "WHERE tenant_id = ? ORDER BY rowid", "s",
			      tenant_id));
}

int
store_net_get(const char *tenant_id, const char *id_or_name, json_t **out)
{
	return db_one(db_prep(NET_COLS "WHERE tenant_id = ? AND (id = ? OR name = ?)", "sss",
			      tenant_id, id_or_name, id_or_name),
		      out);
}

int
store_net_delete(const char *tenant_id, const char *id)
{
	json_t *n;
	int r;

	if ((r = store_net_get(tenant_id, id, &n)) < 0)
		return r;
	json_decref(n);
	if (db_scalar(db_prep("SELECT count(*) FROM vm_nics WHERE network_id = ?", "s", id)) > 0)
		return -ENOTEMPTY;
	return db_run(db_prep("DELETE FROM networks WHERE id = ? AND tenant_id = ?", "ss", id,
			      tenant_id));
}

int
store_nic_add(const char *vm_id, int idx, const char *network_id)
{
	json_t *net = NULL;
	struct net_cidr c;
	char ip[16], cidr[24];
	int r;
	uint32_t a, last;

	if ((r = db_one(db_prep("SELECT cidr FROM networks WHERE id = ?", "s", network_id),
			&net)) < 0)
		return r;
	r = netstate_parse_cidr(json_string_value(json_object_get(net, "cidr")), 1, 1, &c);
	json_decref(net);
	if (r < 0)
		return -EIO;
	last = c.addr | (0xffffffffu >> c.prefix);
	if ((r = db_begin()) < 0)
		return r;
	/* .1 is the firewall, .2 the DHCP server; hosts start at .10. */
	for (a = c.addr + 10; a < last; a++) {
		netstate_ip(a, ip, sizeof(ip));
		snprintf(cidr, sizeof(cidr), "%s/%u", ip, c.prefix);
		if (db_scalar(db_prep("SELECT count(*) FROM vm_nics WHERE network_id = ? AND "
				      "address = ?",
				      "ss", network_id, cidr)) == 0)
			break;
	}
	if (a >= last) {
		db_rollback();
		return -ENOSPC;
	}
	r = db_run(db_prep("INSERT INTO vm_nics (vm_id, idx, network_id, address) VALUES (?, ?, "
			   "?, ?)",
			   "siss", vm_id, (int64_t)idx, network_id, cidr));
	if (r < 0) {
		db_rollback();
		return r;
	}
	return db_commit();
}

json_t *
store_vm_nics(const char *vm_id)
{
	return db_all(db_prep("SELECT n.idx AS idx, n.network_id AS network_id, w.name AS network, "
			      "w.cidr AS cidr, n.address AS address, n.mac AS mac FROM vm_nics n "
			      "JOIN networks w ON w.id = n.network_id WHERE n.vm_id = ? ORDER BY n.idx",
			      "s", vm_id));
}

#define ADDR_COLS "SELECT id, address, is_default, vm_id, created_at FROM addresses "

int
store_addr_alloc(const char *tenant_id, int is_default, json_t **out)
{
	char id[STORE_ID_LEN], ts[32], ip[16];
	struct net_cidr c, g = {0, 0};
	uint32_t a, last;
	int r;

	netstate_parse_cidr(pool, 1, 1, &c);
	if (pool_gw[0])
		netstate_parse_cidr(pool_gw, 0, 0, &g);
	last = c.addr | (0xffffffffu >> c.prefix);
	if ((r = db_new_id("a-", id)) < 0)
		return r;
	db_now(ts);
	if ((r = db_begin()) < 0)
		return r;
	if (!is_default &&
	    count("SELECT count(*) FROM addresses WHERE tenant_id = ?", tenant_id) >=
		    ADDRESSES_PER_TENANT_MAX) {
		db_rollback();
		return -EDQUOT;
	}
	/* The first addresses are kept for the operator (gateway, routers). */
	for (a = c.addr + 10; a < last; a++) {
		if (a == g.addr)
			continue;
		netstate_ip(a, ip, sizeof(ip));
		if (db_scalar(db_prep("SELECT count(*) FROM addresses WHERE address = ?", "s",
				      ip)) == 0)
			break;
	}
	if (a >= last) {
		db_rollback();
		return -ENOSPC;
	}
	r = db_run(db_prep("INSERT INTO addresses (id, tenant_id, address, is_default, created_at) "
			   "VALUES (?, ?, ?, ?, ?)",
			   "sssis", id, tenant_id, ip, (int64_t)is_default, ts));
	if (r < 0) {
		db_rollback();
		return r;
	}
	if ((r = db_commit()) < 0)
		return r;
	return out ? store_addr_get(tenant_id, id, out) : 0;
}

json_t *
store_addr_list(const char *tenant_id)
{
	return db_all(db_prep(ADDR_COLS "WHERE tenant_id = ? ORDER BY is_default DESC, rowid",
			      "s", tenant_id));
}

int
store_addr_get(const char *tenant_id, const char *id, json_t **out)
{
	return db_one(db_prep(ADDR_COLS "WHERE tenant_id = ? AND (id = ? OR address = ?)", "sss",
			      tenant_id, id, id),
		      out);
}

int
store_addr_set_vm(const char *tenant_id, const char *id, const char *vm_id)
{
	char real[STORE_ID_LEN];
	json_t *a;
	int r;

	/* id may be the address itself: from here on, the row's id. */
	if ((r = store_addr_get(tenant_id, id, &a)) < 0)
		return r;
	snprintf(real, sizeof(real), "%s", json_string_value(json_object_get(a, "id")));
	id = real;
	if (json_integer_value(json_object_get(a, "is_default"))) {
		json_decref(a);
		return -EPERM;
	}
	json_decref(a);
	if (vm_id != NULL) {
		if (db_scalar(db_prep("SELECT count(*) FROM vms WHERE id = ? AND tenant_id = ?", "ss",
				      vm_id, tenant_id)) != 1)
			return -ENOENT;
		if (db_scalar(db_prep("SELECT count(*) FROM addresses WHERE vm_id = ? AND id != ?",
				      "ss", vm_id, id)) > 0)
			return -EEXIST;
	}
	return db_run(db_prep("UPDATE addresses SET vm_id = ? WHERE id = ? AND tenant_id = ?",
			      "sss", vm_id, id, tenant_id));
}

int
store_addr_delete(const char *tenant_id, const char *id)
{
	char real[STORE_ID_LEN];
	json_t *a;
	int r;

	if ((r = store_addr_get(tenant_id, id, &a)) < 0)
		return r;
	snprintf(real, sizeof(real), "%s", json_string_value(json_object_get(a, "id")));
	id = real;
	r = json_integer_value(json_object_get(a, "is_default")) ? -EPERM : 0;
	json_decref(a);
	if (r < 0)
		return r;
	return db_run(db_prep("DELETE FROM addresses WHERE id = ? AND tenant_id = ?", "ss", id,
			      tenant_id));
}

#define FWD_COLS                                                                         \
	"SELECT f.id AS id, f.address_id AS address_id, a.address AS address, "          \
	"f.protocol AS protocol, f.port AS port, f.vm_id AS vm_id, f.to_port AS to_port, "  \
	"f.created_at AS created_at FROM forwards f JOIN addresses a ON a.id = f.address_id "

int
store_fwd_add(const char *tenant_id, const char *address_id, const char *protocol, int port,
	      const char *vm_id, int to_port, json_t **out)
{
	char id[STORE_ID_LEN], ts[32];
	json_t *a;
	int r;

	if ((r = store_addr_get(tenant_id, address_id, &a)) < 0)
		return r;
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(a, "id")));
	json_decref(a);
	if (db_scalar(db_prep("SELECT count(*) FROM vms WHERE id = ? AND tenant_id = ?", "ss",
			      vm_id, tenant_id)) != 1)
		return -ENOENT;
	if (count("SELECT count(*) FROM forwards WHERE tenant_id = ?", tenant_id) >=
	    FORWARDS_PER_TENANT_MAX)
		return -EDQUOT;
	{
		char fid[STORE_ID_LEN];

		if ((r = db_new_id("f-", fid)) < 0)
			return r;
		db_now(ts);
		r = db_run(db_prep("INSERT INTO forwards (id, tenant_id, address_id, protocol, port, "
				   "vm_id, to_port, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				   "ssssisis", fid, tenant_id, id, protocol, (int64_t)port, vm_id,
				   (int64_t)to_port, ts));
		if (r < 0)
			return r;
		return db_one(db_prep(FWD_COLS "WHERE f.id = ?", "s", fid), out);
	}
}

json_t *
store_fwd_list(const char *tenant_id)
{
	return db_all(db_prep(FWD_COLS "WHERE f.tenant_id = ? ORDER BY f.rowid", "s",
			      tenant_id));
}

int
store_fwd_delete(const char *tenant_id, const char *id)
{
	if (db_scalar(db_prep("SELECT count(*) FROM forwards WHERE id = ? AND tenant_id = ?", "ss",
			      id, tenant_id)) != 1)
		return -ENOENT;
	return db_run(db_prep("DELETE FROM forwards WHERE id = ? AND tenant_id = ?", "ss", id,
			      tenant_id));
}

#define RULE_COLS                                                                        \
	"SELECT id, direction, action, protocol, port_min, port_max, remote, target_vm, "   \
	"target_network, priority, origin, created_at FROM fw_rules "

int
store_rule_add(const char *tenant_id, const struct rule_row *rr, json_t **out)
{
	char id[STORE_ID_LEN], ts[32];
	int r;

	if (rr->target_vm[0] &&
	    db_scalar(db_prep("SELECT count(*) FROM vms WHERE id = ? AND tenant_id = ?", "ss",
			      rr->target_vm, tenant_id)) != 1)
		return -ENOENT;
	if (rr->target_network[0] &&
	    db_scalar(db_prep("SELECT count(*) FROM networks WHERE id = ? AND tenant_id = ?", "ss",
			      rr->target_network, tenant_id)) != 1)
		return -ENOENT;
	if ((r = db_new_id("r-", id)) < 0)
		return r;
	db_now(ts);
	if ((r = db_begin()) < 0)
		return r;
	if (count("SELECT count(*) FROM fw_rules WHERE tenant_id = ?", tenant_id) >=
	    RULES_PER_TENANT_MAX) {
		db_rollback();
		return -EDQUOT;
	}
	{
		/* No ports (a protocol without them): NULL. */
		int64_t pmin = rr->port_min, pmax = rr->port_max;
		const int64_t *pp = rr->port_min ? &pmin : NULL, *pq = rr->port_min ? &pmax : NULL;

		r = db_run(db_prep(
			"INSERT INTO fw_rules (id, tenant_id, direction, action, protocol, port_min, "
			"port_max, remote, target_vm, target_network, priority, origin, created_at) "
			"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			"sssssnnsssiss", id, tenant_id, rr->direction, rr->action, rr->protocol, pp, pq,
			rr->remote, rr->target_vm[0] ? rr->target_vm : NULL,
			rr->target_network[0] ? rr->target_network : NULL, (int64_t)rr->priority,
			rr->origin, ts));
	}
	if (r < 0) {
		db_rollback();
		return r;
	}
	if ((r = db_commit()) < 0)
		return r;
	return db_one(db_prep(RULE_COLS "WHERE id = ?", "s", id), out);
}

json_t *
store_rule_list(const char *tenant_id)
{
	return db_all(db_prep(RULE_COLS "WHERE tenant_id = ? ORDER BY priority, rowid", "s",
			      tenant_id));
}

int
store_rule_delete(const char *tenant_id, const char *id)
{
	if (db_scalar(db_prep("SELECT count(*) FROM fw_rules WHERE id = ? AND tenant_id = ?", "ss",
			      id, tenant_id)) != 1)
		return -ENOENT;
	return db_run(db_prep("DELETE FROM fw_rules WHERE id = ? AND tenant_id = ?", "ss", id,
			      tenant_id));
}

int
store_fw_mode(const char *tenant_id, char *mode, size_t len)
{
	json_t *o;
	int r = db_one(db_prep("SELECT firewall_mode FROM tenants WHERE id = ?", "s", tenant_id),
		       &o);

	if (r < 0)
		return r;
	snprintf(mode, len, "%s", json_string_value(json_object_get(o, "firewall_mode")));
	json_decref(o);
	return 0;
}

int
store_fw_set_mode(const char *tenant_id, const char *mode)
{
	return db_run(db_prep("UPDATE tenants SET firewall_mode = ? WHERE id = ?", "ss", mode,
			      tenant_id));
}
