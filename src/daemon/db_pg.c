/*
 * db_pg.c - db.h over PostgreSQL (libpq), for several cloudletd processes
 * sharing one database.
 *
 * - SQL: the store's `?` placeholders become `$n` (not inside string
 *   literals or quoted names; `?N` becomes `$N`), and every parameter's
 *   type is given from its fmt letter (s text, i/n int8, d float8, b bytea),
 *   so that `? IS NULL` and `SELECT id, ? FROM ...` need no casts. Each
 *   statement is prepared once per connection (PQprepare, named after its
 *   slot in the thread's cache).
 * - Results come as text and are typed from PQftype: integers (int2/4/8,
 *   whole numerics such as sum()) as JSON integers, float4/8 as reals,
 *   NULL as null, the rest as strings.
 * - Writers serialize like SQLite's: db_begin() is BEGIN and then
 *   pg_advisory_xact_lock(DB_PG_WRITE_LOCK), one lock for the whole
 *   database, held until COMMIT or ROLLBACK, and a write statement outside
 *   a transaction runs in such a transaction of its own. A row lock would
 *   not be enough: the quota check sums rows that do not exist yet (a
 *   concurrent create's VM), and placement reads every host's use. The
 *   transaction runs at READ COMMITTED, so each statement after the lock
 *   sees everything the writers before it committed (REPEATABLE READ would
 *   keep a snapshot taken before the lock was granted). Readers take no
 *   lock. A writer waits for the one before it; cloudletd's transactions
 *   are a few statements long.
 * - One connection per thread. A statement that fails because the
 *   connection broke (the server restarted) is sent again once on a new
 *   connection when no transaction was open; inside a transaction the
 *   transaction fails (-EIO) and the caller's rollback reconnects.
 *   XXX: a write whose COMMIT reached the server but whose answer was lost
 *   with the connection is sent again (an insert then fails as -EEXIST, an
 *   event may be recorded twice).
 * - Integrity violations (SQLSTATE class 23: unique, foreign key, check,
 *   not null) are -EEXIST, as SQLite's SQLITE_CONSTRAINT is.
 * - The connection string may hold a password: only the host and the
 *   database name are ever logged.
 */
#define _GNU_SOURCE
#include "db_int.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* The advisory lock every writer takes: "cloudlet" in ASCII. */
#define DB_PG_WRITE_LOCK "7164223657226298740"
#define LOCK_SQL "SELECT pg_advisory_xact_lock(" DB_PG_WRITE_LOCK ")"

/* Type OIDs (PostgreSQL's catalog/pg_type.dat; stable across releases). */
enum {
	OID_BOOL = 16,
	OID_BYTEA = 17,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_TEXT = 25,
	OID_OID = 26,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_NUMERIC = 1700,
};

#define MAX_PARAMS 24
#define STMT_CACHE 128

struct db_stmt {
	const char *sql; /* the store's text (the cache key) */
	char *psql;	 /* with $n placeholders */
	int slot;	 /* in the cache, -1 if not cached */
	unsigned gen;	 /* connection generation it was prepared on */
	int write;	 /* not a SELECT: serialize it outside a transaction */
	int nparams;
	Oid types[MAX_PARAMS];
	const char *vals[MAX_PARAMS];
	int lens[MAX_PARAMS], fmts[MAX_PARAMS];
	char num[MAX_PARAMS][32];
	unsigned char blob[MAX_PARAMS][32];
	PGresult *res;
	int row, executed;
	unsigned char *unesc; /* the last bytea column read */
};

static char *conninfo;
static pthread_key_t conn_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static __thread PGconn *conn_c;
static __thread unsigned conn_gen;
static __thread struct db_stmt *cache[STMT_CACHE];
static __thread int64_t last_changes;
/* Between a BEGIN that worked and its COMMIT or ROLLBACK (libpq's own
 * status is "unknown" once the connection broke: that must not pass for
 * "no transaction", or a statement would be retried outside its own). */
static __thread int tx_open;

static void
conn_free(void *p)
{
	PQfinish(p);
}

static void
make_key(void)
{
	pthread_key_create(&conn_key, conn_free);
}

static void
conn_drop(void)
{
	if (conn_c != NULL) {
		pthread_setspecific(conn_key, NULL);
		PQfinish(conn_c);
		conn_c = NULL;
	}
	tx_open = 0;
}

/*
 * A new connection. A server that is restarting refuses connections for a
 * moment: keep trying for CONNECT_WAIT_MS (as SQLite's busy timeout waits
 * for a lock), so that an operation in flight does not fail for a restart.
 */
#define CONNECT_WAIT_MS 15000

static PGconn *
conn(void)
{
	uint64_t start = util_now_ms();
	unsigned delay = 50000;
	PGconn *c;

	if (conn_c != NULL)
		return conn_c;
	pthread_once(&key_once, make_key);
	for (;;) {
		c = PQconnectdb(conninfo);
		if (PQstatus(c) == CONNECTION_OK)
			break;
		if (util_now_ms() - start > CONNECT_WAIT_MS) {
			log_warnx("store: connect to database %s on %s: %s",
				  PQdb(c) ?: "?", PQhost(c) ?: "?", PQerrorMessage(c));
			PQfinish(c);
			return NULL;
		}
		PQfinish(c);
		usleep(delay);
		delay = delay < 800000 ? delay * 2 : delay;
	}
	/* Messages (NOTICE) go nowhere: "relation already exists" and such. */
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	conn_c = c;
	conn_gen++;
	pthread_setspecific(conn_key, c);
	return c;
}

static int
in_tx(void)
{
	return tx_open;
}

static int
broken(void)
{
	return conn_c == NULL || PQstatus(conn_c) == CONNECTION_BAD;
}

static void
stmt_free(struct db_stmt *st)
{
	if (st == NULL)
		return;
	PQclear(st->res);
	PQfreemem(st->unesc);
	free(st->psql);
	free(st);
}

static void
pg_thread_done(void)
{
	int i;

	for (i = 0; i < STMT_CACHE; i++) {
		stmt_free(cache[i]);
		cache[i] = NULL;
	}
	conn_drop();
}

/* A result: 0, -EEXIST for an integrity violation, -EIO (logged). */
static int
res_check(PGresult *res, const char *what)
{
	const char *state;

	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		return 0;
	default:
		break;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state != NULL && strncmp(state, "23", 2) == 0)
		return -EEXIST;
	log_warnx("store: %.120s: %s", what,
		  res ? PQresultErrorMessage(res) : PQerrorMessage(conn_c));
	return -EIO;
}

/* SQL without parameters; retried once on a new connection outside a
 * transaction when the connection broke. */
static int
simple(const char *sql, int retry)
{
	PGconn *c = conn();
	PGresult *res;
	int r, was_tx = in_tx();

	if (c == NULL)
		return -EIO;
	res = PQexec(c, sql);
	r = res_check(res, sql);
	PQclear(res);
	if (r == -EIO && retry && !was_tx && broken()) {
		log_warnx("store: connection to the database lost; reconnecting");
		conn_drop();
		return simple(sql, 0);
	}
	return r;
}

static int
pg_exec(const char *sql)
{
	return simple(sql, 1);
}

static int
pg_begin(void)
{
	int r = simple("BEGIN; " LOCK_SQL, 1);

	if (r < 0 && conn_c != NULL && PQtransactionStatus(conn_c) != PQTRANS_IDLE)
		simple("ROLLBACK", 0); /* BEGIN went through, the lock did not */
	tx_open = r == 0;
	return r;
}

static int
pg_commit(void)
{
	int r = simple("COMMIT", 0);

	tx_open = 0;
	return r;
}

static int
pg_rollback(void)
{
	int r;

	if (broken()) {
		conn_drop(); /* the transaction died with the connection */
		return 0;
	}
	r = simple("ROLLBACK", 0);
	tx_open = 0;
	return r;
}

/* `?` and `?N` to `$n` outside literals and quoted names. */
static char *
translate(const char *sql, int *nparams)
{
	size_t len = strlen(sql), o = 0;
	char *out = malloc(len * 4 + 1);
	char quote = 0;
	int n = 0, max = 0;
	const char *p;

	if (out == NULL)
		return NULL;
	for (p = sql; *p != '\0'; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
			out[o++] = *p;
			continue;
		}
		if (*p == '\'' || *p == '"') {
			quote = *p;
			out[o++] = *p;
			continue;
		}
		if (*p != '?') {
			out[o++] = *p;
			continue;
		}
		if (p[1] >= '0' && p[1] <= '9') {
			int k = (int)strtol(p + 1, NULL, 10);

			out[o++] = '$';
			while (p[1] >= '0' && p[1] <= '9')
				out[o++] = *++p;
			if (k > max)
				max = k;
		} else {
			o += (size_t)snprintf(out + o, 8, "$%d", ++n);
			if (n > max)
				max = n;
		}
	}
	out[o] = '\0';
	*nparams = max;
	return out;
}

static int
is_select(const char *sql)
{
	while (*sql == ' ' || *sql == '\n' || *sql == '(')
		sql++;
	return strncasecmp(sql, "SELECT", 6) == 0;
}

static struct db_stmt *
stmt_for(const char *sql)
{
	struct db_stmt *st;
	int i, free_slot = -1;

	for (i = 0; i < STMT_CACHE; i++) {
		if (cache[i] != NULL && cache[i]->sql == sql)
			return cache[i];
		if (cache[i] == NULL && free_slot < 0)
			free_slot = i;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	st->sql = sql;
	st->slot = free_slot;
	st->write = !is_select(sql);
	if ((st->psql = translate(sql, &st->nparams)) == NULL) {
		free(st);
		return NULL;
	}
	if (free_slot >= 0)
		cache[free_slot] = st;
	return st;
}

static int
bind(struct db_stmt *st, const char *fmt, va_list ap)
{
	const int64_t *np;
	const char *s;
	int i;

	if ((int)strlen(fmt) > MAX_PARAMS || (int)strlen(fmt) < st->nparams) {
		log_warnx("store: %.80s: %zu parameters for %d placeholders", st->sql,
			  strlen(fmt), st->nparams);
		return -EINVAL;
	}
	for (i = 0; fmt[i] != '\0'; i++) {
		st->lens[i] = 0;
		st->fmts[i] = 0;
		switch (fmt[i]) {
		case 's':
			st->types[i] = OID_TEXT;
			s = va_arg(ap, const char *);
			st->vals[i] = s;
			break;
		case 'i':
			st->types[i] = OID_INT8;
			snprintf(st->num[i], sizeof(st->num[i]), "%" PRId64,
				 va_arg(ap, int64_t));
			st->vals[i] = st->num[i];
			break;
		case 'n':
			st->types[i] = OID_INT8;
			np = va_arg(ap, const int64_t *);
			if (np != NULL)
				snprintf(st->num[i], sizeof(st->num[i]), "%" PRId64, *np);
			st->vals[i] = np ? st->num[i] : NULL;
			break;
		case 'd':
			st->types[i] = OID_FLOAT8;
			snprintf(st->num[i], sizeof(st->num[i]), "%.17g",
				 va_arg(ap, double));
			st->vals[i] = st->num[i];
			break;
		case 'b':
			st->types[i] = OID_BYTEA;
			memcpy(st->blob[i], va_arg(ap, const unsigned char *), 32);
			st->vals[i] = (const char *)st->blob[i];
			st->lens[i] = 32;
			st->fmts[i] = 1; /* binary */
			break;
		default:
			return -EINVAL;
		}
	}
	/* Placeholders past the letters given (never in the store): NULL. */
	st->nparams = i > st->nparams ? i : st->nparams;
	return 0;
}

static db_stmt *
pg_prep(const char *sql, const char *fmt, va_list ap)
{
	struct db_stmt *st = stmt_for(sql);

	if (st == NULL)
		return NULL;
	PQclear(st->res);
	st->res = NULL;
	st->row = -1;
	st->executed = 0;
	if (bind(st, fmt, ap) < 0) {
		if (st->slot < 0)
			stmt_free(st);
		return NULL;
	}
	return st;
}

/* Send the statement: prepared once per connection when it has a slot. */
static PGresult *
send(struct db_stmt *st)
{
	PGconn *c = conn();
	char name[16];
	PGresult *res;

	if (c == NULL)
		return NULL;
	if (st->slot < 0)
		return PQexecParams(c, st->psql, st->nparams, st->types, st->vals,
				    st->lens, st->fmts, 0);
	snprintf(name, sizeof(name), "c%d", st->slot);
	if (st->gen != conn_gen) {
		res = PQprepare(c, name, st->psql, st->nparams, st->types);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			return res;
		PQclear(res);
		st->gen = conn_gen;
	}
	return PQexecPrepared(c, name, st->nparams, st->vals, st->lens, st->fmts, 0);
}

/* Run it once, retried on a new connection if the old one broke outside a
 * transaction; a write outside a transaction in one of its own. */
static int
execute(struct db_stmt *st, int retry)
{
	int own = st->write && !in_tx(), r;

	if (own && (r = pg_begin()) < 0)
		return r;
	st->res = send(st);
	r = res_check(st->res, st->sql);
	if (own) {
		if (r == 0)
			r = pg_commit();
		else
			pg_rollback();
	}
	if (r == -EIO && retry && broken() && !in_tx()) {
		log_warnx("store: connection to the database lost; reconnecting");
		conn_drop();
		PQclear(st->res);
		st->res = NULL;
		return execute(st, 0);
	}
	if (r == 0)
		last_changes = strtoll(PQcmdTuples(st->res), NULL, 10);
	st->executed = 1;
	return r;
}

static void
pg_done(db_stmt *st)
{
	PQclear(st->res);
	st->res = NULL;
	PQfreemem(st->unesc);
	st->unesc = NULL;
	if (st->slot < 0)
		stmt_free(st);
}

static int
pg_run(db_stmt *st)
{
	int r = execute(st, 1);

	pg_done(st);
	return r;
}

static int
pg_step(db_stmt *st)
{
	int r;

	if (!st->executed && (r = execute(st, 1)) < 0)
		return r == -EEXIST ? -EIO : r;
	if (st->res == NULL || st->row + 1 >= PQntuples(st->res))
		return 0;
	st->row++;
	return 1;
}

static json_t *
value_json(PGresult *res, int row, int col)
{
	const char *v = PQgetvalue(res, row, col);

	if (PQgetisnull(res, row, col))
		return json_null();
	switch (PQftype(res, col)) {
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_OID:
		return json_integer(strtoll(v, NULL, 10));
	case OID_NUMERIC:
		if (strpbrk(v, ".eE") == NULL)
			return json_integer(strtoll(v, NULL, 10));
		return json_real(strtod(v, NULL));
	case OID_FLOAT4:
	case OID_FLOAT8:
		return json_real(strtod(v, NULL));
	case OID_BOOL:
		return json_integer(v[0] == 't');
	default:
		return json_string(v);
	}
}

static json_t *
pg_row(db_stmt *st)
{
	json_t *o = json_object();
	int i, n = PQnfields(st->res);

	for (i = 0; i < n; i++)
		json_object_set_new(o, PQfname(st->res, i),
				    value_json(st->res, st->row, i));
	return o;
}

static const char *
pg_col_text(db_stmt *st, int col)
{
	if (PQgetisnull(st->res, st->row, col))
		return NULL;
	return PQgetvalue(st->res, st->row, col);
}

static int64_t
pg_col_int(db_stmt *st, int col)
{
	const char *v = pg_col_text(st, col);

	if (v == NULL)
		return 0;
	if (PQftype(st->res, col) == OID_BOOL)
		return v[0] == 't';
	return strtoll(v, NULL, 10);
}

static const void *
pg_col_blob(db_stmt *st, int col, size_t *len)
{
	const char *v = pg_col_text(st, col);

	*len = 0;
	if (v == NULL)
		return NULL;
	PQfreemem(st->unesc);
	st->unesc = PQunescapeBytea((const unsigned char *)v, len);
	return st->unesc;
}

static int64_t
pg_changes(void)
{
	return last_changes;
}

static int
pg_schema_version(void)
{
	PGconn *c = conn();
	PGresult *res;
	int v = -1;

	if (c == NULL)
		return -1;
	res = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_version");
	if (res_check(res, "schema_version") == 0 && PQntuples(res) == 1)
		v = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

static int
pg_set_version(int v)
{
	char sql[96];

	snprintf(sql, sizeof(sql),
		 "DELETE FROM schema_version; INSERT INTO schema_version "
		 "VALUES (%d)",
		 v);
	return simple(sql, 0);
}

/* -1 when the question could not be asked. */
static int
pg_standby(void)
{
	PGconn *c = conn();
	PGresult *res;
	int v = -1;

	if (c == NULL)
		return -1;
	res = PQexec(c, "SELECT pg_is_in_recovery()");
	if (res_check(res, "pg_is_in_recovery") == 0 && PQntuples(res) == 1)
		v = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return v;
}

/* Opened as a hot standby and not promoted since: no write is tried. */
static int was_standby;

static int
pg_read_only(void)
{
	return was_standby;
}

static int
pg_promote(void)
{
	PGconn *c = conn();
	PGresult *res;
	int r;

	if (c == NULL)
		return -EIO;
	res = PQexec(c, "SELECT pg_promote(true, 60)");
	r = res_check(res, "pg_promote");
	if (r == 0 && (PQntuples(res) != 1 || PQgetvalue(res, 0, 0)[0] != 't'))
		r = -EIO;
	PQclear(res);
	if (r == 0)
		was_standby = 0;
	return r;
}

static int
pg_open(const char *target)
{
	PGconn *c;
	int r;

	free(conninfo);
	if ((conninfo = strdup(target)) == NULL)
		return -ENOMEM;
	if ((c = conn()) == NULL)
		return -EIO;
	log_info("store: PostgreSQL database %s on %s", PQdb(c), PQhost(c));
	if (pg_standby() == 1) {
		log_info("store: the database is a hot standby (read-only)");
		was_standby = 1;
		return 0;
	}
	/* Under the writers' lock: two cloudletds starting at once. */
	if ((r = pg_begin()) < 0)
		return r;
	if ((r = simple(
		 "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
		 0)) < 0) {
		pg_rollback();
		return r;
	}
	return pg_commit();
}

const struct db_driver db_pg_driver = {
    .dialect = DB_POSTGRES,
    .open = pg_open,
    .thread_done = pg_thread_done,
    .schema_version = pg_schema_version,
    .set_version = pg_set_version,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .exec = pg_exec,
    .prep = pg_prep,
    .run = pg_run,
    .step = pg_step,
    .row = pg_row,
    .col_text = pg_col_text,
    .col_int = pg_col_int,
    .col_blob = pg_col_blob,
    .done = pg_done,
    .changes = pg_changes,
    .standby = pg_standby,
    .promote = pg_promote,
    .read_only = pg_read_only,
};
