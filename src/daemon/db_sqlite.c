/*
 * db_sqlite.c - db.h over SQLite: a file in the state directory, WAL,
 * foreign keys, the schema version in PRAGMA user_version.
 */
#define _GNU_SOURCE
#include "db_int.h"

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
/* This thread's prepared statements (see sqlite_prep()). */
#define STMT_CACHE 64
static __thread struct {
	const char *sql;
	sqlite3_stmt *st;
} stmt_cache[STMT_CACHE];
static __thread int stmt_cached;

#define ST(s) ((sqlite3_stmt *)(void *)(s))

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

static sqlite3 *
conn(void)
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

static void
sqlite_thread_done(void)
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

static int
sqlite_exec(const char *sql)
{
	sqlite3 *c = conn();
	char *err = NULL;

	if (c == NULL)
		return -EIO;
	if (sqlite3_exec(c, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("store: %s: %s", sql, err ? err : "?");
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

/* BEGIN IMMEDIATE takes SQLite's write lock at once: the transaction's
 * reads already see every other writer's commits. */
static int
sqlite_begin(void)
{
	sqlite3 *c = conn();
	int r;

	if (c == NULL)
		return -EIO;
	if (!write_held)
		write_lock();
	r = sqlite_exec("BEGIN IMMEDIATE");
	if (r < 0 && sqlite3_get_autocommit(c))
		write_unlock();
	return r;
}

static int
sqlite_end(const char *sql)
{
	sqlite3 *c = conn();
	int r = sqlite_exec(sql);

	if (c != NULL && sqlite3_get_autocommit(c))
		write_unlock();
	return r;
}

static int
sqlite_commit(void)
{
	return sqlite_end("COMMIT");
}

static int
sqlite_rollback(void)
{
	return sqlite_end("ROLLBACK");
}

/*
 * Prepared statements are cached per thread, keyed by the address of their
 * SQL text (always a string literal here): preparing was a fifth of the
 * time of a GET /v1/vms. sqlite_done() resets a cached statement for its
 * next use.
 */
static void
sqlite_done(db_stmt *s)
{
	sqlite3_stmt *st = ST(s);
	int i;

	for (i = 0; i < stmt_cached; i++)
		if (stmt_cache[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return;
		}
	sqlite3_finalize(st);
}

static void
bind(sqlite3_stmt *st, const char *fmt, va_list ap)
{
	const int64_t *n;
	int i;

	for (i = 0; fmt[i] != '\0'; i++) {
		switch (fmt[i]) {
		case 's':
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
			break;
		case 'i':
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
			break;
		case 'n':
			n = va_arg(ap, const int64_t *);
			if (n != NULL)
				sqlite3_bind_int64(st, i + 1, *n);
			else
				sqlite3_bind_null(st, i + 1);
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
}

static db_stmt *
sqlite_prep(const char *sql, const char *fmt, va_list ap)
{
	sqlite3 *c = conn();
	sqlite3_stmt *st = NULL;
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
	bind(st, fmt, ap);
	return (db_stmt *)(void *)st;
}

/* Step a statement that returns no rows; gives it back. */
static int
sqlite_run(db_stmt *s)
{
	sqlite3_stmt *st = ST(s);
	int rc;

	if (!write_held && !sqlite3_stmt_readonly(st)) {
		write_lock(); /* one write statement, its own transaction */
		rc = sqlite3_step(st);
		sqlite_done(s);
		write_unlock();
	} else {
		rc = sqlite3_step(st);
		sqlite_done(s);
	}
	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	log_warnx("store: step: %s", sqlite3_errmsg(conn()));
	return -EIO;
}

static int
sqlite_step(db_stmt *s)
{
	int rc = sqlite3_step(ST(s));

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	log_warnx("store: step: %s", sqlite3_errmsg(conn()));
	return -EIO;
}

/* A row as a JSON object keyed by column name. */
static json_t *
sqlite_row(db_stmt *s)
{
	sqlite3_stmt *st = ST(s);
	json_t *o = json_object();
	int i, n = sqlite3_column_count(st);

	for (i = 0; i < n; i++) {
		const char *name = sqlite3_column_name(st, i);

		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			json_object_set_new(o, name, json_integer(sqlite3_column_int64(st, i)));
			break;
		case SQLITE_FLOAT:
			json_object_set_new(o, name, json_real(sqlite3_column_double(st, i)));
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

static const char *
sqlite_col_text(db_stmt *s, int col)
{
	return (const char *)sqlite3_column_text(ST(s), col);
}

static int64_t
sqlite_col_int(db_stmt *s, int col)
{
	return sqlite3_column_int64(ST(s), col);
}

static const void *
sqlite_col_blob(db_stmt *s, int col, size_t *len)
{
	const void *b = sqlite3_column_blob(ST(s), col);

	*len = (size_t)sqlite3_column_bytes(ST(s), col);
	return b;
}

static int64_t
sqlite_changes(void)
{
	sqlite3 *c = conn();

	return c ? sqlite3_changes64(c) : 0;
}

static int
sqlite_schema_version(void)
{
	sqlite3 *c = conn();
	sqlite3_stmt *st;
	int v = -1;

	if (c == NULL || sqlite3_prepare_v2(c, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
sqlite_set_version(int v)
{
	char pragma[64];

	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v);
	return sqlite_exec(pragma);
}

static int
sqlite_open(const char *path)
{
	sqlite3 *c;

	if (util_fmt(db_path, sizeof(db_path), "%s", path) < 0)
		return -ENAMETOOLONG;
	/*
	 * Each thread has its own connection, so SQLite's own locking is not
	 * needed (MULTITHREAD), and its memory statistics take a global mutex
	 * on every allocation: under load that lock was the top of the profile.
	 */
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	/* Create the file if needed (the per-thread opens do not). */
	if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		log_warnx("store: cannot open %s: %s", path, sqlite3_errmsg(c));
		sqlite3_close(c);
		return -EIO;
	}
	sqlite3_close(c);
	return sqlite_exec("PRAGMA journal_mode = WAL");
}

const struct db_driver db_sqlite_driver = {
	.dialect = DB_SQLITE,
	.open = sqlite_open,
	.thread_done = sqlite_thread_done,
	.schema_version = sqlite_schema_version,
	.set_version = sqlite_set_version,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.exec = sqlite_exec,
	.prep = sqlite_prep,
	.run = sqlite_run,
	.step = sqlite_step,
	.row = sqlite_row,
	.col_text = sqlite_col_text,
	.col_int = sqlite_col_int,
	.col_blob = sqlite_col_blob,
	.done = sqlite_done,
	.changes = sqlite_changes,
};
