/*
 * db_int.h - what a dialect implements for db.c (db_sqlite.c, db_pg.c).
 * Not for the store or the rest of the daemon: they use db.h.
 */
#ifndef CLOUDLET_DB_INT_H
#define CLOUDLET_DB_INT_H

#include <stdarg.h>

#include "db.h"

struct db_driver {
	enum db_dialect dialect;
	int (*open)(const char *target);
	void (*thread_done)(void);
	int (*schema_version)(void);
	int (*set_version)(int v); /* inside a writing transaction */
	int (*begin)(void);
	int (*commit)(void);
	int (*rollback)(void);
	int (*exec)(const char *sql);
	db_stmt *(*prep)(const char *sql, const char *fmt, va_list ap);
	int (*run)(db_stmt *st);
	int (*step)(db_stmt *st);
	json_t *(*row)(db_stmt *st); /* the current row as an object */
	const char *(*col_text)(db_stmt *st, int col);
	int64_t (*col_int)(db_stmt *st, int col);
	const void *(*col_blob)(db_stmt *st, int col, size_t *len);
	void (*done)(db_stmt *st);
	int64_t (*changes)(void);
	/* A read-only hot standby (PostgreSQL in recovery): 1, else 0; NULL
	 * for a dialect that has none. promote ends the recovery. */
	int (*standby)(void);
	int (*promote)(void);
	int (*read_only)(void); /* opened as a standby, not promoted since */
};

extern const struct db_driver db_sqlite_driver, db_pg_driver;

#endif
