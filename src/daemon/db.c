/*
 * db.c - db.h: picks the dialect from the target db_open() is given and
 * passes each call to it; the helpers common to every dialect (one row,
 * every row, a scalar, migrations) are written once here over its steps.
 */
#define _GNU_SOURCE
#include "db.h"
#include "db_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"

static const struct db_driver *drv = &db_sqlite_driver;

/* A PostgreSQL connection URI, or else a path to an SQLite file. */
int
db_is_url(const char *target)
{
	return strncmp(target, "postgresql://", 13) == 0 ||
	       strncmp(target, "postgres://", 11) == 0;
}

int
db_open(const char *target)
{
	drv = db_is_url(target) ? &db_pg_driver : &db_sqlite_driver;
	return drv->open(target);
}

enum db_dialect
db_dialect(void)
{
	return drv->dialect;
}

void
db_thread_done(void)
{
	drv->thread_done();
}

int
db_schema_version(void)
{
	return drv->schema_version();
}

/*
 * Each step in its own writing transaction, the version read again inside
 * it: two processes starting on one database at once migrate it once.
 */
int
db_standby(void)
{
	return drv->standby ? drv->standby() : 0;
}

int
db_read_only(void)
{
	return drv->read_only ? drv->read_only() : 0;
}

int
db_promote(void)
{
	return drv->promote ? drv->promote() : -EOPNOTSUPP;
}

int
db_migrate(const char *const *steps, size_t n)
{
	int v, r;

	/* A standby cannot write: the primary migrates, replication brings
	 * the schema here. */
	if (db_standby() == 1) {
		v = drv->schema_version();
		if (v == (int)n)
			return 0;
		log_warnx("store: the standby database has schema %d, this cloudletd %zu: "
			  "upgrade the primary's cloudletd first",
			  v, n);
		return -EPROTO;
	}
	for (;;) {
		if ((r = drv->begin()) < 0)
			return r;
		v = drv->schema_version();
		if (v < 0 || (size_t)v >= n) {
			drv->rollback();
			break;
		}
		if ((r = drv->exec(steps[v])) == 0 && (r = drv->set_version(v + 1)) == 0)
			r = drv->commit();
		else
			drv->rollback();
		if (r < 0)
			return r;
		log_info("store: migrated to schema %d", v + 1);
	}
	if (v < 0)
		return -EIO;
	if ((size_t)v > n) {
		log_warnx("store: database schema %d is newer than this cloudletd (%zu)",
			  v, n);
		return -EPROTO;
	}
	return 0;
}

int
db_begin(void)
{
	return drv->begin();
}

int
db_commit(void)
{
	return drv->commit();
}

int
db_rollback(void)
{
	return drv->rollback();
}

int
db_exec(const char *sql)
{
	return drv->exec(sql);
}

db_stmt *
db_prep(const char *sql, const char *fmt, ...)
{
	db_stmt *st;
	va_list ap;

	va_start(ap, fmt);
	st = drv->prep(sql, fmt, ap);
	va_end(ap);
	return st;
}

int
db_run(db_stmt *st)
{
	return st == NULL ? -EIO : drv->run(st);
}

int
db_one(db_stmt *st, json_t **out)
{
	int rc;

	if (st == NULL)
		return -EIO;
	rc = drv->step(st);
	if (rc == 1 && out != NULL)
		*out = drv->row(st);
	drv->done(st);
	if (rc == 1)
		return 0;
	return rc == 0 ? -ENOENT : -EIO;
}

json_t *
db_all(db_stmt *st)
{
	json_t *arr = json_array();

	if (st == NULL)
		return arr;
	while (drv->step(st) == 1)
		json_array_append_new(arr, drv->row(st));
	drv->done(st);
	return arr;
}

int64_t
db_scalar(db_stmt *st)
{
	int64_t v = -1;

	if (st == NULL)
		return -1;
	if (drv->step(st) == 1)
		v = drv->col_int(st, 0);
	drv->done(st);
	return v;
}

int64_t
db_changes(void)
{
	return drv->changes();
}

int
db_step(db_stmt *st)
{
	return st == NULL ? -EIO : drv->step(st);
}

const char *
db_col_text(db_stmt *st, int col)
{
	return drv->col_text(st, col);
}

int64_t
db_col_int(db_stmt *st, int col)
{
	return drv->col_int(st, col);
}

const void *
db_col_blob(db_stmt *st, int col, size_t *len)
{
	return drv->col_blob(st, col, len);
}

void
db_done(db_stmt *st)
{
	if (st != NULL)
		drv->done(st);
}

void
db_now(char *buf)
{
	util_rfc3339(buf, 32);
}

int
db_new_id(const char *prefix, char *out)
{
	char hex[17];
	int r = util_random_hex(hex, 8);

	if (r == 0)
		r = util_fmt(out, 24, "%s%s", prefix, hex);
	return r;
}
