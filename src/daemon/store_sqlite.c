/* store_sqlite.c - store.h over SQLite. */
#define _GNU_SOURCE
#include "store.h"
#include "store_sqlite_int.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

static char db_path[1024];
static pthread_key_t conn_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
/* This thread's prepared statements (see sq_prep()). */
#define STMT_CACHE 64
static __thread struct {
	const char *sql;
	sqlite3_stmt *st;
} stmt_cache[STMT_CACHE];
static __thread int stmt_cached;

/*
 * Schema migrations: migrations[i] takes the database from version i to
 * i + 1. Never edit a released step; append a new one.
 */
static const char *const migrations[] = {
	"CREATE TABLE tenants ("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);"
	"CREATE TABLE quotas ("
	"  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,"
	"  max_vcpus INTEGER NOT NULL, max_memory_mib INTEGER NOT NULL,"
	"  max_disk_gib INTEGER NOT NULL, max_vms INTEGER NOT NULL);"
	"CREATE TABLE tokens ("
	"  id TEXT PRIMARY KEY, hash BLOB NOT NULL UNIQUE,"
	"  tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,"
	"  role TEXT NOT NULL CHECK (role IN ('operator', 'tenant')),"
	"  created_at TEXT NOT NULL);"
	"CREATE TABLE vms ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL, service TEXT NOT NULL, image TEXT NOT NULL,"
	"  vcpus INTEGER NOT NULL, memory_mib INTEGER NOT NULL, disk_gib INTEGER NOT NULL,"
	"  user_data TEXT, state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',"
	"  ready INTEGER NOT NULL DEFAULT 0, accel TEXT NOT NULL DEFAULT '',"
	"  restart_required INTEGER NOT NULL DEFAULT 0,"
	"  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
	"  UNIQUE (tenant_id, name));"
	"CREATE TABLE operations ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, vm_id TEXT NOT NULL,"
	"  kind TEXT NOT NULL, state TEXT NOT NULL, progress INTEGER NOT NULL DEFAULT 0,"
	"  message TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '', args TEXT,"
	"  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
	"CREATE INDEX operations_vm ON operations (vm_id, state);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, actor TEXT NOT NULL,"
	"  tenant_id TEXT, action TEXT NOT NULL, target TEXT NOT NULL,"
	"  outcome TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX events_tenant ON events (tenant_id, id);",
	/* 2: a tenant's VM list in order without a sort (GET /v1/vms). */
	"CREATE INDEX vms_tenant_order ON vms (tenant_id, created_at, id);",
	/* 3: how the host provisioned the VM (clone from a template, or cold). */
	"ALTER TABLE vms ADD COLUMN provision TEXT NOT NULL DEFAULT '';",
	/* 4: tenant networks, VM NICs, external addresses, port forwards,
	 * firewall rules (docs/networks.md). */
	"ALTER TABLE tenants ADD COLUMN firewall_mode TEXT NOT NULL DEFAULT 'namespace';"
	"CREATE TABLE networks ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, cidr TEXT NOT NULL, created_at TEXT NOT NULL,"
	"  UNIQUE (tenant_id, name), UNIQUE (tenant_id, cidr));"
	"CREATE TABLE vm_nics ("
	"  vm_id TEXT NOT NULL REFERENCES vms(id) ON DELETE CASCADE, idx INTEGER NOT NULL,"
	"  network_id TEXT NOT NULL REFERENCES networks(id), address TEXT NOT NULL,"
	"  PRIMARY KEY (vm_id, idx), UNIQUE (network_id, address));"
	"CREATE TABLE addresses ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  address TEXT NOT NULL UNIQUE, is_default INTEGER NOT NULL DEFAULT 0,"
	"  vm_id TEXT REFERENCES vms(id) ON DELETE SET NULL, created_at TEXT NOT NULL);"
	"CREATE TABLE forwards ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  address_id TEXT NOT NULL REFERENCES addresses(id) ON DELETE CASCADE,"
	"  protocol TEXT NOT NULL, port INTEGER NOT NULL,"
	"  vm_id TEXT NOT NULL REFERENCES vms(id) ON DELETE CASCADE, to_port INTEGER NOT NULL,"
	"  created_at TEXT NOT NULL, UNIQUE (address_id, protocol, port));"
	"CREATE TABLE fw_rules ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  direction TEXT NOT NULL, action TEXT NOT NULL, protocol TEXT NOT NULL,"
	"  port_min INTEGER, port_max INTEGER, remote TEXT NOT NULL,"
	"  target_vm TEXT REFERENCES vms(id) ON DELETE CASCADE,"
	"  target_network TEXT REFERENCES networks(id) ON DELETE CASCADE,"
	"  priority INTEGER NOT NULL, origin TEXT NOT NULL, created_at TEXT NOT NULL);"
	"CREATE INDEX fw_rules_tenant ON fw_rules (tenant_id, priority, created_at);",
	/* 5: volumes in the host's storage pool and the alerts pulled from it
	 * (store_volume.h). */
	"CREATE TABLE volumes ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL, size_gib INTEGER NOT NULL, redundancy TEXT NOT NULL,"
	"  state TEXT NOT NULL, origin TEXT, readonly INTEGER NOT NULL DEFAULT 0,"
	"  vm_id TEXT REFERENCES vms(id) ON DELETE SET NULL, created_at TEXT NOT NULL,"
	"  UNIQUE (tenant_id, name));"
	"CREATE INDEX volumes_vm ON volumes (vm_id);"
	"CREATE TABLE alerts ("
	"  seq INTEGER PRIMARY KEY, tenant_id TEXT, volume_id TEXT, kind TEXT NOT NULL,"
	"  off INTEGER, signature TEXT, engine TEXT, source TEXT, device INTEGER,"
	"  message TEXT NOT NULL DEFAULT '', time TEXT NOT NULL);"
	"CREATE INDEX alerts_tenant ON alerts (tenant_id, seq);",
	/* 6: how long each step of an operation took (JSON, store.h). */
	"ALTER TABLE operations ADD COLUMN timing TEXT;",
	/* 7: several hosts (docs/hosts.md, store_host.h): the hosts, each VM's
	 * host and its state before its host went down, a tenant's home host
	 * and the hosts that have its networks, a VNI per network, the MAC of
	 * each NIC (the home host's DHCP leases for VMs elsewhere). */
	"CREATE TABLE hosts ("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, socket TEXT NOT NULL,"
	"  underlay_address TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT 'down',"
	"  draining INTEGER NOT NULL DEFAULT 0, cpus INTEGER NOT NULL DEFAULT 0,"
	"  memory_mib INTEGER NOT NULL DEFAULT 0, mem_overcommit REAL NOT NULL DEFAULT 1.0,"
	"  accel TEXT NOT NULL DEFAULT '', agent_version TEXT NOT NULL DEFAULT '',"
	"  last_heartbeat TEXT, created_at TEXT NOT NULL);"
	"ALTER TABLE vms ADD COLUMN host_id TEXT NOT NULL DEFAULT 'local';"
	"ALTER TABLE vms ADD COLUMN last_state TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX vms_host ON vms (host_id);"
	"ALTER TABLE tenants ADD COLUMN home_host TEXT;"
	"CREATE TABLE tenant_hosts ("
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  host_id TEXT NOT NULL, PRIMARY KEY (tenant_id, host_id));"
	/* Until now every tenant lived on the one host: local is its home. */
	"UPDATE tenants SET home_host = 'local';"
	"INSERT INTO tenant_hosts (tenant_id, host_id) SELECT id, 'local' FROM tenants;"
	"ALTER TABLE networks ADD COLUMN vni INTEGER;"
	"UPDATE networks SET vni = rowid;"
	"CREATE UNIQUE INDEX networks_vni ON networks (vni);"
	"ALTER TABLE vm_nics ADD COLUMN mac TEXT NOT NULL DEFAULT '';",
	/* 8: hosts reached over mutual TLS (an agent's address and pinned
	 * certificate fingerprint instead of a socket), the protocol range the
	 * agent last reported, why a host is down, and one-time join tokens
	 * (only a hash of the secret; store_host.h). */
	"ALTER TABLE hosts ADD COLUMN address TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE hosts ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE hosts ADD COLUMN protocol TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE hosts ADD COLUMN reason TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE join_tokens ("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL, hash BLOB NOT NULL UNIQUE,"
	"  expires_at INTEGER NOT NULL, created_at TEXT NOT NULL);",
};

static void
conn_free(void *p)
{
	sqlite3_close_v2(p);
}

static void
make_key(void)
{
	pthread_key_create(&conn_key, conn_free);
}

sqlite3 *
sq_db(void)
{
	sqlite3 *c;

	pthread_once(&key_once, make_key);
	c = pthread_getspecific(conn_key);
	if (c != NULL)
		return c;
	if (sqlite3_open_v2(db_path, &c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		log_warnx("store: open %s: %s", db_path, sqlite3_errmsg(c));
		sqlite3_close(c);
		return NULL;
	}
	sqlite3_busy_timeout(c, 10000);
	sqlite3_exec(c, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;", NULL, NULL,
		     NULL);
	pthread_setspecific(conn_key, c);
	return c;
}

void
store_thread_done(void)
{
	sqlite3 *c;

	pthread_once(&key_once, make_key);
	c = pthread_getspecific(conn_key);
	while (stmt_cached > 0)
		sqlite3_finalize(stmt_cache[--stmt_cached].st);
	if (c != NULL) {
		sqlite3_close_v2(c);
		pthread_setspecific(conn_key, NULL);
	}
}

/*
 * cloudletd's writers take turns on this mutex before SQLite's write lock:
 * a thread that found the database locked would otherwise sleep in SQLite's
 * busy handler (1, 2, 5, 10 ... ms), and concurrent creates (the API's
 * inserts, the workers' progress) kept meeting there. A transaction holds it
 * from BEGIN IMMEDIATE to COMMIT or ROLLBACK, a single write statement while
 * it runs. The busy timeout stays for other processes (sqlite3 by hand).
 */
static pthread_mutex_t write_mtx = PTHREAD_MUTEX_INITIALIZER;
static __thread int write_held;

static void
write_lock(void)
{
	struct timespec ts;

	/* As long as SQLite's busy timeout: a writer that never let go (a
	 * transaction left open) then fails there as it did before. */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	if (pthread_mutex_timedlock(&write_mtx, &ts) != 0) {
		log_warnx("store: another writer has held the store for 10 s");
		return;
	}
	write_held = 1;
}

static void
write_unlock(void)
{
	if (!write_held)
		return;
	write_held = 0;
	pthread_mutex_unlock(&write_mtx);
}

int
sq_exec(const char *sql)
{
	sqlite3 *c = sq_db();
	char *err = NULL;
	int begin = strncmp(sql, "BEGIN", 5) == 0 && !write_held;
	int end = strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0;
	int rc;

	if (c == NULL)
		return -EIO;
	if (begin)
		write_lock();
	rc = sqlite3_exec(c, sql, NULL, NULL, &err);
	if (write_held && (end || begin) && sqlite3_get_autocommit(c))
		write_unlock(); /* ended, or BEGIN failed */
	if (rc != SQLITE_OK) {
		log_warnx("store: %s: %s", sql, err ? err : "?");
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

/*
 * Prepared statements are cached per thread, keyed by the address of their
 * SQL text (always a string literal here): preparing was a fifth of the
 * time of a GET /v1/vms. sq_done() resets a cached statement for its next use.
 */

void
sq_done(sqlite3_stmt *st)
{
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < stmt_cached; i++)
		if (stmt_cache[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return;
		}
	sqlite3_finalize(st);
}

/* Prepare with binds: fmt letters s (string or NULL), i (int64), d (double),
 * b (32-byte blob). */
sqlite3_stmt *
sq_prep(const char *sql, const char *fmt, ...)
{
	sqlite3 *c = sq_db();
	sqlite3_stmt *st = NULL;
	va_list ap;
	int i;

	if (c == NULL)
		return NULL;
	for (i = 0; i < stmt_cached; i++)
		if (stmt_cache[i].sql == sql) {
			st = stmt_cache[i].st;
			break;
		}
	if (st == NULL) {
		if (sqlite3_prepare_v3(c, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
		    SQLITE_OK) {
			log_warnx("store: prepare %s: %s", sql, sqlite3_errmsg(c));
			return NULL;
		}
		if (stmt_cached < STMT_CACHE) {
			stmt_cache[stmt_cached].sql = sql;
			stmt_cache[stmt_cached++].st = st;
		}
	}
	va_start(ap, fmt);
	for (i = 0; fmt[i] != '\0'; i++) {
		switch (fmt[i]) {
		case 's':
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
			break;
		case 'i':
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
			break;
		case 'd':
			sqlite3_bind_double(st, i + 1, va_arg(ap, double));
			break;
		case 'b':
			sqlite3_bind_blob(st, i + 1, va_arg(ap, const unsigned char *), 32,
					  SQLITE_TRANSIENT);
			break;
		}
	}
	va_end(ap);
	return st;
}

/* Step a statement that returns no rows; finalizes it. */
int
sq_run(sqlite3_stmt *st)
{
	int rc;

	if (st == NULL)
		return -EIO;
	if (!write_held && !sqlite3_stmt_readonly(st)) {
		write_lock(); /* one write statement, its own transaction */
		rc = sqlite3_step(st);
		sq_done(st);
		write_unlock();
	} else {
		rc = sqlite3_step(st);
		sq_done(st);
	}
	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	log_warnx("store: step: %s", sqlite3_errmsg(sq_db()));
	return -EIO;
}

/* A row as a JSON object keyed by column name. */
static json_t *
row_json(sqlite3_stmt *st)
{
	json_t *o = json_object();
	int i, n = sqlite3_column_count(st);

	for (i = 0; i < n; i++) {
		const char *name = sqlite3_column_name(st, i);

		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			json_object_set_new(o, name, json_integer(sqlite3_column_int64(st, i)));
			break;
		case SQLITE_NULL:
			json_object_set_new(o, name, json_null());
			break;
		default:
			json_object_set_new(o, name,
					    json_string((const char *)sqlite3_column_text(st, i)));
		}
	}
	return o;
}

int
sq_one(sqlite3_stmt *st, json_t **out)
{
	int rc;

	if (st == NULL)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && out != NULL)
		*out = row_json(st);
	sq_done(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : -EIO;
}

json_t *
sq_all(sqlite3_stmt *st)
{
	json_t *arr = json_array();

	if (st == NULL)
		return arr;
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, row_json(st));
	sq_done(st);
	return arr;
}

int64_t
sq_scalar(sqlite3_stmt *st)
{
	int64_t v = -1;

	if (st == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sq_done(st);
	return v;
}

void
sq_now(char *buf)
{
	util_rfc3339(buf, 32);
}

int
store_schema_version(void)
{
	return (int)sq_scalar(sq_prep("PRAGMA user_version", ""));
}

int
store_open(const char *path)
{
	int v, r = 0;
	size_t i;

	if (util_fmt(db_path, sizeof(db_path), "%s", path) < 0)
		return -ENAMETOOLONG;
	/*
	 * Each thread has its own connection, so SQLite's own locking is not
	 * needed (MULTITHREAD), and its memory statistics take a global mutex
	 * on every allocation: under load that lock was the top of the profile.
	 */
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	{
		sqlite3 *c;
		/* Create the file if needed (the per-thread opens do not). */
		if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
		    SQLITE_OK) {
			log_warnx("store: cannot open %s: %s", path, sqlite3_errmsg(c));
			sqlite3_close(c);
			return -EIO;
		}
		sqlite3_close(c);
	}
	if (sq_exec("PRAGMA journal_mode = WAL") < 0)
		return -EIO;
	v = store_schema_version();
	if (v < 0)
		return -EIO;
	if ((size_t)v > ARRAY_LEN(migrations)) {
		log_warnx("store: database schema %d is newer than this cloudletd (%zu)", v,
			  ARRAY_LEN(migrations));
		return -EPROTO;
	}
	for (i = (size_t)v; i < ARRAY_LEN(migrations) && r == 0; i++) {
		char pragma[64];

		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %zu", i + 1);
		if ((r = sq_exec("BEGIN IMMEDIATE")) < 0)
			break;
		if ((r = sq_exec(migrations[i])) == 0 && (r = sq_exec(pragma)) == 0)
			r = sq_exec("COMMIT");
		else
			sq_exec("ROLLBACK");
		if (r == 0)
			log_info("store: migrated %s to schema %zu", path, i + 1);
	}
	return r;
}

/* ---- tenants, tokens, quotas ------------------------------------------ */

int
sq_new_id(const char *prefix, char *out)
{
	char hex[17];
	int r = util_random_hex(hex, 8);

	if (r == 0)
		snprintf(out, STORE_ID_LEN, "%s%s", prefix, hex);
	return r;
}

int
store_tenant_create(const char *name, const struct quota *q, json_t **out)
{
	char id[STORE_ID_LEN], ts[32];
	int r;

	if ((r = sq_new_id("t-", id)) < 0)
		return r;
	sq_now(ts);
	if ((r = sq_exec("BEGIN IMMEDIATE")) < 0)
		return r;
	r = sq_run(sq_prep("INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)", "sss", id,
		     name, ts));
	if (r == 0)
		r = sq_run(sq_prep("INSERT INTO quotas VALUES (?, ?, ?, ?, ?)", "siiii", id,
			     q->max_vcpus, q->max_memory_mib, q->max_disk_gib, q->max_vms));
	if (r < 0) {
		sq_exec("ROLLBACK");
		return r;
	}
	if ((r = sq_exec("COMMIT")) < 0)
		return r;
	return store_tenant_get(id, out);
}

int
store_tenant_get(const char *id, json_t **out)
{
	return sq_one(sq_prep("SELECT id, name, created_at FROM tenants WHERE id = ?", "s", id), out);
}

json_t *
store_tenant_list(void)
{
	return sq_all(sq_prep("SELECT id, name, created_at FROM tenants ORDER BY created_at, id", ""));
}

int
store_tenant_delete(const char *id)
{
	int r;

	if ((r = sq_exec("BEGIN IMMEDIATE")) < 0)
		return r;
	if (sq_scalar(sq_prep("SELECT count(*) FROM tenants WHERE id = ?", "s", id)) != 1)
		r = -ENOENT;
	else if (sq_scalar(sq_prep("SELECT count(*) FROM vms WHERE tenant_id = ?", "s", id)) != 0)
		r = -ENOTEMPTY;
	else
		r = sq_run(sq_prep("DELETE FROM tenants WHERE id = ?", "s", id));
	sq_exec(r == 0 ? "COMMIT" : "ROLLBACK");
	return r;
}

int
store_token_add(const char *tenant_id, const unsigned char hash[32], char *id_out,
		json_t **out)
{
	char ts[32];
	int r;

	if ((r = sq_new_id("tok-", id_out)) < 0)
		return r;
	sq_now(ts);
	r = sq_run(sq_prep("INSERT INTO tokens (id, hash, tenant_id, role, created_at) "
		     "VALUES (?, ?, ?, ?, ?)",
		     "sbsss", id_out, hash, tenant_id, tenant_id ? "tenant" : "operator", ts));
	if (r < 0)
		return r == -EEXIST && tenant_id != NULL &&
				       sq_scalar(sq_prep("SELECT count(*) FROM tenants WHERE id = ?",
						   "s", tenant_id)) == 0
			       ? -ENOENT
			       : r;
	if (out != NULL)
		*out = json_pack("{s:s, s:s?, s:s}", "id", id_out, "tenant_id", tenant_id,
				 "created_at", ts);
	return 0;
}

int
store_token_find(const unsigned char hash[32], int *is_operator, char *tenant_id,
		 unsigned char stored[32])
{
	sqlite3_stmt *st = sq_prep("SELECT role, tenant_id, hash FROM tokens WHERE hash = ?", "b",
				hash);
	int r = -ENOENT;

	if (st == NULL)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *role = (const char *)sqlite3_column_text(st, 0);
		const char *t = (const char *)sqlite3_column_text(st, 1);

		*is_operator = role != NULL && strcmp(role, "operator") == 0;
		snprintf(tenant_id, STORE_ID_LEN, "%s", t ? t : "");
		if (sqlite3_column_bytes(st, 2) == 32) {
			memcpy(stored, sqlite3_column_blob(st, 2), 32);
			r = 0;
		}
	}
	sq_done(st);
	return r;
}

int
store_operator_exists(void)
{
	return sq_scalar(sq_prep("SELECT count(*) FROM tokens WHERE role = 'operator'", "")) > 0;
}

int
store_quota_get(const char *tenant_id, json_t **out)
{
	json_t *used;
	int r;

	r = sq_one(sq_prep("SELECT max_vcpus, max_memory_mib, max_disk_gib, max_vms FROM quotas "
		     "WHERE tenant_id = ?",
		     "s", tenant_id),
		out);
	if (r < 0)
		return r;
	r = sq_one(sq_prep("SELECT coalesce(sum(vcpus), 0) AS vcpus, coalesce(sum(memory_mib), 0) "
		     "AS memory_mib, coalesce(sum(disk_gib), 0) + (SELECT coalesce(sum(size_gib), 0) "
		     "FROM volumes WHERE tenant_id = ?1) AS disk_gib, count(*) AS vms "
		     "FROM vms WHERE tenant_id = ?1",
		     "s", tenant_id),
		&used);
	if (r < 0) {
		json_decref(*out);
		return r;
	}
	json_object_set_new(*out, "used", used);
	return 0;
}

int
store_quota_set(const char *tenant_id, const struct quota *q, json_t **out)
{
	sqlite3_stmt *st = sq_prep("UPDATE quotas SET max_vcpus = ?, max_memory_mib = ?, "
				"max_disk_gib = ?, max_vms = ? WHERE tenant_id = ?",
				"iiiis", q->max_vcpus, q->max_memory_mib, q->max_disk_gib,
				q->max_vms, tenant_id);
	int r = sq_run(st);

	if (r < 0)
		return r;
	if (sqlite3_changes(sq_db()) == 0)
		return -ENOENT;
	return store_quota_get(tenant_id, out);
}

/* ---- VMs and operations ---------------------------------------------- */

/* Inside a transaction: would adding (dv, dm, dd, dn) exceed the quota? */
static int
quota_check(const char *tenant_id, int64_t dv, int64_t dm, int64_t dd, int64_t dn)
{
	sqlite3_stmt *st = sq_prep(
		"SELECT q.max_vcpus, q.max_memory_mib, q.max_disk_gib, q.max_vms,"
		" coalesce(sum(v.vcpus), 0), coalesce(sum(v.memory_mib), 0),"
		" coalesce(sum(v.disk_gib), 0) + (SELECT coalesce(sum(size_gib), 0) FROM volumes"
		" WHERE tenant_id = q.tenant_id), count(v.id)"
		" FROM quotas q LEFT JOIN vms v ON v.tenant_id = q.tenant_id"
		" WHERE q.tenant_id = ? GROUP BY q.tenant_id",
		"s", tenant_id);
	int r = -ENOENT;

	if (st == NULL)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		r = 0;
		if (sqlite3_column_int64(st, 4) + dv > sqlite3_column_int64(st, 0) ||
		    sqlite3_column_int64(st, 5) + dm > sqlite3_column_int64(st, 1) ||
		    sqlite3_column_int64(st, 6) + dd > sqlite3_column_int64(st, 2) ||
		    sqlite3_column_int64(st, 7) + dn > sqlite3_column_int64(st, 3))
			r = -EDQUOT;
	}
	sq_done(st);
	return r;
}

static int
insert_op(const char *op_id, const char *tenant_id, const char *vm_id, const char *kind,
	  const json_t *args)
{
	char ts[32], *a = args ? json_dumps(args, JSON_COMPACT) : NULL;
	int r;

	sq_now(ts);
	r = sq_run(sq_prep("INSERT INTO operations (id, tenant_id, vm_id, kind, state, args, "
		     "created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
		     "sssssss", op_id, tenant_id, vm_id, kind, a, ts, ts));
	free(a);
	return r;
}

#define OP_COLS                                                                        \
	"SELECT id, kind, vm_id, tenant_id, state, progress, message, error, created_at, " \
	"updated_at, timing FROM operations "

/* An operation row: its timing as an object (absent until it has one). */
static int
op_one(sqlite3_stmt *st, json_t **out)
{
	json_t *o = NULL, *t;
	int r = sq_one(st, &o);

	if (r < 0)
		return r;
	t = json_object_get(o, "timing");
	if (json_is_string(t))
		json_object_set_new(o, "timing", json_loads(json_string_value(t), 0, NULL));
	if (!json_is_object(json_object_get(o, "timing")))
		json_object_del(o, "timing");
	if (out != NULL)
		*out = o;
	else
		json_decref(o);
	return 0;
}

int
store_vm_create(const struct vm_row *vm, const char *op_id, json_t **op_out)
{
	char ts[32], host[STORE_ID_LEN] = "";
	int r;

	sq_now(ts);
	if ((r = sq_exec("BEGIN IMMEDIATE")) < 0)
		return r;
	if (sq_scalar(sq_prep("SELECT count(*) FROM vms WHERE tenant_id = ? AND name = ?", "ss",
			vm->tenant_id, vm->name)) != 0)
		r = -EEXIST;
	if (r == 0)
		r = quota_check(vm->tenant_id, vm->vcpus, vm->memory_mib, vm->disk_gib, 1);
	/* Placed in this transaction: the host's use counts this VM at once,
	 * so concurrent creates cannot overfill it. */
	if (r == 0 && vm->host_id[0] != '\0')
		snprintf(host, sizeof(host), "%s", vm->host_id);
	else if (r == 0)
		r = sq_place(vm->vcpus, vm->memory_mib, vm->disk_gib, host, sizeof(host));
	if (r == 0)
		r = sq_run(sq_prep("INSERT INTO vms (id, tenant_id, name, service, image, vcpus, "
			     "memory_mib, disk_gib, user_data, state, created_at, updated_at, "
			     "host_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'creating', ?, ?, ?)",
			     "sssssiiissss", vm->id, vm->tenant_id, vm->name, vm->service,
			     vm->image, vm->vcpus, vm->memory_mib, vm->disk_gib, vm->user_data,
			     ts, ts, host));
	if (r == 0)
		r = sq_run(sq_prep("UPDATE tenants SET home_host = ? WHERE id = ? AND "
				   "home_host IS NULL",
				   "ss", host, vm->tenant_id));
	if (r == 0)
		r = insert_op(op_id, vm->tenant_id, vm->id, "create", NULL);
	if (r < 0) {
		sq_exec("ROLLBACK");
		return r;
	}
	if ((r = sq_exec("COMMIT")) < 0)
		return r;
	return op_one(sq_prep(OP_COLS "WHERE id = ?", "s", op_id), op_out);
}

#define VM_COLS                                                                        \
	"SELECT id, tenant_id, name, service, image, vcpus, memory_mib, disk_gib, state, "  \
	"reason, ready, accel, restart_required, provision, created_at, updated_at, host_id, " \
	"last_state FROM vms "

static void
vm_bools(json_t *vm)
{
	json_object_set_new(vm, "ready", json_boolean(json_integer_value(
						 json_object_get(vm, "ready"))));
	json_object_set_new(vm, "restart_required",
			    json_boolean(json_integer_value(
				    json_object_get(vm, "restart_required"))));
}

int
store_vm_get(const char *tenant_id, const char *id, json_t **out)
{
	int r;

	if (tenant_id == NULL)
		r = sq_one(sq_prep(VM_COLS "WHERE id = ?", "s", id), out);
	else
		r = sq_one(sq_prep(VM_COLS "WHERE id = ? AND tenant_id = ?", "ss", id, tenant_id), out);
	if (r == 0)
		vm_bools(*out);
	if (r == 0 && tenant_id != NULL)
		json_object_del(*out, "host_id"); /* the operator's to know */
	return r;
}

int
store_vm_row(const char *id, struct vm_row *out)
{
	sqlite3_stmt *st = sq_prep("SELECT id, tenant_id, name, service, image, vcpus, "
				"memory_mib, disk_gib, user_data, state, host_id FROM vms "
				"WHERE id = ?",
				"s", id);
	int r = -ENOENT;

	if (st == NULL)
		return -EIO;
	memset(out, 0, sizeof(*out));
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *ud = (const char *)sqlite3_column_text(st, 8);

		snprintf(out->id, sizeof(out->id), "%s", sqlite3_column_text(st, 0));
		snprintf(out->tenant_id, sizeof(out->tenant_id), "%s", sqlite3_column_text(st, 1));
		snprintf(out->name, sizeof(out->name), "%s", sqlite3_column_text(st, 2));
		snprintf(out->service, sizeof(out->service), "%s", sqlite3_column_text(st, 3));
		snprintf(out->image, sizeof(out->image), "%s", sqlite3_column_text(st, 4));
		out->vcpus = sqlite3_column_int64(st, 5);
		out->memory_mib = sqlite3_column_int64(st, 6);
		out->disk_gib = sqlite3_column_int64(st, 7);
		out->user_data = ud ? strdup(ud) : NULL;
		snprintf(out->state, sizeof(out->state), "%s", sqlite3_column_text(st, 9));
		snprintf(out->host_id, sizeof(out->host_id), "%s", sqlite3_column_text(st, 10));
		r = 0;
	}
	sq_done(st);
	return r;
}

json_t *
store_vm_list(const char *tenant_id)
{
	json_t *arr, *vm;
	size_t i;

	if (tenant_id == NULL)
		arr = sq_all(sq_prep(VM_COLS "ORDER BY created_at, id", ""));
	else
		arr = sq_all(sq_prep(VM_COLS "WHERE tenant_id = ? ORDER BY created_at, id", "s",
			       tenant_id));
	json_array_foreach(arr, i, vm) {
		vm_bools(vm);
		if (tenant_id != NULL)
			json_object_del(vm, "host_id");
	}
	return arr;
}

/* The same list as store_vm_list, as JSON text built by SQLite (no jansson
 * objects per row: this is the hot path of GET /v1/vms). Caller frees. */
#define VM_JSON                                                                        \
	"SELECT json_group_array(json_object('id', id, 'tenant_id', tenant_id, 'name', name," \
	" 'service', service, 'image', image, 'vcpus', vcpus, 'memory_mib', memory_mib,"   \
	" 'disk_gib', disk_gib, 'state', state, 'reason', reason,"                          \
	" 'ready', json(CASE WHEN ready THEN 'true' ELSE 'false' END), 'accel', accel,"     \
	" 'restart_required', json(CASE WHEN restart_required THEN 'true' ELSE 'false' END)," \
	" 'provision', provision, 'last_state', last_state,"                                \
	" 'created_at', created_at, 'updated_at', updated_at)) FROM (SELECT * FROM vms "
/* The operator's: with each VM's host. */
#define VM_JSON_OP                                                                     \
	"SELECT json_group_array(json_object('id', id, 'tenant_id', tenant_id, 'name', name," \
	" 'service', service, 'image', image, 'vcpus', vcpus, 'memory_mib', memory_mib,"   \
	" 'disk_gib', disk_gib, 'state', state, 'reason', reason,"                          \
	" 'ready', json(CASE WHEN ready THEN 'true' ELSE 'false' END), 'accel', accel,"     \
	" 'restart_required', json(CASE WHEN restart_required THEN 'true' ELSE 'false' END)," \
	" 'provision', provision, 'last_state', last_state, 'host_id', host_id,"            \
	" 'created_at', created_at, 'updated_at', updated_at)) FROM (SELECT * FROM vms "

char *
store_vm_list_text(const char *tenant_id)
{
	sqlite3_stmt *st;
	char *out = NULL;

	if (tenant_id == NULL)
		st = sq_prep(VM_JSON_OP "ORDER BY created_at, id)", "");
	else
		st = sq_prep(VM_JSON "WHERE tenant_id = ? ORDER BY created_at, id)", "s", tenant_id);
	if (st == NULL)
		return NULL;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		out = strdup((const char *)sqlite3_column_text(st, 0));
	sq_done(st);
	return out;
}

json_t *
store_vm_list_all_ids(void)
{
	return sq_all(sq_prep("SELECT id, state FROM vms", ""));
}

int
store_vm_has_active_op(const char *vm_id)
{
	return sq_scalar(sq_prep("SELECT count(*) FROM operations WHERE vm_id = ? AND state IN "
			   "('pending', 'running')",
			   "s", vm_id)) > 0;
}

int
store_vm_op_begin(const char *tenant_id, const char *vm_id, const char *kind,
		  const char *op_id, const json_t *args, const int64_t *new_spec,
		  json_t **op_out)
{
	char ts[32], owner[STORE_ID_LEN] = "";
	sqlite3_stmt *st;
	int64_t cur[3] = {0, 0, 0};
	int r = 0;

	sq_now(ts);
	if ((r = sq_exec("BEGIN IMMEDIATE")) < 0)
		return r;
	if (tenant_id == NULL)
		st = sq_prep("SELECT tenant_id, vcpus, memory_mib, disk_gib, state FROM vms "
			  "WHERE id = ?",
			  "s", vm_id);
	else
		st = sq_prep("SELECT tenant_id, vcpus, memory_mib, disk_gib, state FROM vms "
			  "WHERE id = ? AND tenant_id = ?",
			  "ss", vm_id, tenant_id);
	r = -ENOENT;
	if (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 4);

		snprintf(owner, sizeof(owner), "%s", sqlite3_column_text(st, 0));
		cur[0] = sqlite3_column_int64(st, 1);
		cur[1] = sqlite3_column_int64(st, 2);
		cur[2] = sqlite3_column_int64(st, 3);
		r = strcmp(state, "deleting") == 0 ? -EBUSY : 0;
	}
	sq_done(st);
	if (r == 0 && store_vm_has_active_op(vm_id))
		r = -EBUSY;
	if (r == 0 && new_spec != NULL) {
		r = quota_check(owner, new_spec[0] - cur[0], new_spec[1] - cur[1],
				new_spec[2] - cur[2], 0);
		if (r == 0)
			r = sq_run(sq_prep("UPDATE vms SET vcpus = ?, memory_mib = ?, disk_gib = ?, "
				     "updated_at = ? WHERE id = ?",
				     "iiiss", new_spec[0], new_spec[1], new_spec[2], ts, vm_id));
	}
	if (r == 0 && strcmp(kind, "delete") == 0)
		r = sq_run(sq_prep("UPDATE vms SET state = 'deleting', updated_at = ? WHERE id = ?",
			     "ss", ts, vm_id));
	if (r == 0)
		r = insert_op(op_id, owner, vm_id, kind, args);
	if (r < 0) {
		sq_exec("ROLLBACK");
		return r;
	}
	if ((r = sq_exec("COMMIT")) < 0)
		return r;
	return op_one(sq_prep(OP_COLS "WHERE id = ?", "s", op_id), op_out);
}

int
store_vm_set_state(const char *id, const char *state, const char *reason, int ready,
		   const char *accel, int restart_required)
{
	char ts[32];

	sq_now(ts);
	return sq_run(sq_prep("UPDATE vms SET state = ?, reason = ?, ready = ?, accel = ?, "
			"restart_required = ?, updated_at = ? WHERE id = ?",
			"ssisiss", state, reason ? reason : "", (int64_t)ready,
			accel ? accel : "", (int64_t)restart_required, ts, id));
}

int
store_vm_set_provision(const char *id, const char *provision)
{
	return sq_run(sq_prep("UPDATE vms SET provision = ? WHERE id = ? AND provision != ?", "sss",
			provision, id, provision));
}

int
store_vm_set_spec(const char *id, int64_t vcpus, int64_t memory_mib, int64_t disk_gib)
{
	return sq_run(sq_prep("UPDATE vms SET vcpus = ?, memory_mib = ?, disk_gib = ? WHERE id = ?",
			"iiis", vcpus, memory_mib, disk_gib, id));
}

int
store_vm_delete(const char *id)
{
	return sq_run(sq_prep("DELETE FROM vms WHERE id = ?", "s", id));
}

int
store_op_get(const char *tenant_id, const char *id, json_t **out)
{
	if (tenant_id == NULL)
		return op_one(sq_prep(OP_COLS "WHERE id = ?", "s", id), out);
	return op_one(sq_prep(OP_COLS "WHERE id = ? AND tenant_id = ?", "ss", id, tenant_id), out);
}

int
store_op_update(const char *id, const char *state, int progress, const char *message,
		const char *error)
{
	char ts[32];

	sq_now(ts);
	return sq_run(sq_prep("UPDATE operations SET state = ?, progress = ?, message = ?, "
			"error = ?, updated_at = ? WHERE id = ?",
			"sissss", state, (int64_t)progress, message ? message : "",
			error ? error : "", ts, id));
}

int
store_op_set_timing(const char *id, const json_t *timing)
{
	char *t = json_dumps(timing, JSON_COMPACT);
	int r;

	if (t == NULL)
		return -ENOMEM;
	r = sq_run(sq_prep("UPDATE operations SET timing = ? WHERE id = ?", "ss", t, id));
	free(t);
	return r;
}

int
store_op_args(const char *id, json_t **args)
{
	sqlite3_stmt *st = sq_prep("SELECT args FROM operations WHERE id = ?", "s", id);
	int r = -ENOENT;

	*args = NULL;
	if (st == NULL)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(st, 0);

		*args = a ? json_loads(a, 0, NULL) : NULL;
		r = 0;
	}
	sq_done(st);
	return r;
}

json_t *
store_op_unfinished(void)
{
	return sq_all(sq_prep("SELECT id, kind, vm_id, tenant_id, state, args FROM operations "
			"WHERE state IN ('pending', 'running') ORDER BY created_at",
			""));
}

void
store_event(const char *actor, const char *tenant_id, const char *action,
	    const char *target, const char *outcome, const char *detail)
{
	char ts[32];

	sq_now(ts);
	if (sq_run(sq_prep("INSERT INTO events (time, actor, tenant_id, action, target, outcome, "
		     "detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
		     "sssssss", ts, actor, tenant_id, action, target, outcome,
		     detail ? detail : "")) < 0)
		log_warnx("store: could not record event %s %s", action, target);
}

json_t *
store_event_list(const char *tenant_id, int limit)
{
	if (tenant_id == NULL)
		return sq_all(sq_prep("SELECT id, time, actor, tenant_id, action, target, outcome, "
				"detail FROM events ORDER BY id DESC LIMIT ?",
				"i", (int64_t)limit));
	return sq_all(sq_prep("SELECT id, time, actor, tenant_id, action, target, outcome, detail "
			"FROM events WHERE tenant_id = ? ORDER BY id DESC LIMIT ?",
			"si", tenant_id, (int64_t)limit));
}
