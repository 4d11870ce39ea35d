/*
 * db.h - the database layer under cloudletd's store: one interface, one
 * implementation per SQL dialect (db_sqlite.c, db_pg.c).
 *
 * The store's files (store.c, store_host.c, store_net.c, store_volume.c)
 * use only this header and write SQL that every dialect runs: `?`
 * placeholders (`?N` repeats parameter N), `INSERT ... ON CONFLICT DO
 * NOTHING`, no PRAGMA, no dialect-only functions. Where a dialect needs its
 * own SQL the store asks db_dialect().
 *
 * Connections are per thread, opened on first use; db_thread_done() closes
 * the calling thread's.
 *
 * Writers serialize: db_begin() starts a writing transaction that waits
 * for every other writer (of this process and of any other process on the
 * same database) and sees everything they committed; a write statement run
 * outside a transaction (db_run) takes the same turn for itself. That is
 * what keeps quotas and placement exact: a check and the insert it allows
 * happen in one such transaction.
 *
 * Statements: db_prep() binds parameters from fmt letters
 *   s  const char * (text, NULL binds NULL)
 *   i  int64_t
 *   n  const int64_t * (NULL binds NULL)
 *   d  double
 *   b  const unsigned char * (32 bytes)
 * and returns a statement (NULL on error, logged) that exactly one of
 * db_run, db_one, db_all, db_scalar consumes, or that the caller steps with
 * db_step and gives back with db_done. The sql pointer must stay valid for
 * the thread's life (a string literal): it keys the per-thread cache of
 * prepared statements.
 */
#ifndef CLOUDLET_DB_H
#define CLOUDLET_DB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct db_stmt db_stmt;

enum db_dialect { DB_SQLITE, DB_POSTGRES };

/* Open the database for this process: a PostgreSQL URI
 * (postgresql://... or postgres://..., db_pg.c) or else a file path
 * (SQLite). */
int db_open(const char *target);
int db_is_url(const char *target);
enum db_dialect db_dialect(void);
void db_thread_done(void);

/*
 * Bring the schema up to date: steps[i] takes it from version i to i + 1,
 * each step in its own writing transaction. -EPROTO if the database is
 * newer than n.
 */
int db_migrate(const char *const *steps, size_t n);
int db_schema_version(void);

int db_begin(void); /* a writing transaction (see above) */
int db_commit(void);
int db_rollback(void);	      /* also after a failed statement */
int db_exec(const char *sql); /* SQL without parameters or results */

db_stmt *db_prep(const char *sql, const char *fmt, ...);
int db_run(db_stmt *st);	       /* no rows: 0, -EEXIST (constraint), -EIO */
int db_one(db_stmt *st, json_t **out); /* one row: 0, -ENOENT, -EIO */
json_t *db_all(db_stmt *st);	       /* every row, as objects keyed by column */
int64_t db_scalar(db_stmt *st);	       /* first column of the first row, -1 if none */
int64_t db_changes(void);	       /* rows changed by the last db_run */

/* Stepping by hand: 1 a row, 0 done, -EIO error. Columns count from 0;
 * text is valid until the next step or db_done (NULL for SQL NULL). */
int db_step(db_stmt *st);
const char *db_col_text(db_stmt *st, int col);
int64_t db_col_int(db_stmt *st, int col);
/* A blob column: its length in *len, valid as the text is. */
const void *db_col_blob(db_stmt *st, int col, size_t *len);
void db_done(db_stmt *st);

/*
 * Disaster recovery (docs/dr.md): is this database a read-only hot standby
 * of another site's (PostgreSQL streaming replication)? 1 yes, 0 no
 * (SQLite never is). db_promote() makes it the writable primary, waiting
 * up to 60 s: 0 or -EIO. While a standby, db_migrate() only checks that
 * the schema is the one this cloudletd knows.
 */
int db_standby(void);
int db_promote(void);
/* Without asking the server: was it opened as a standby and not promoted
 * by this process since? (Where a failed write would only be noise.) */
int db_read_only(void);

/* Helpers of the store. */
void db_now(char *buf);			      /* RFC 3339, 32 bytes */
int db_new_id(const char *prefix, char *out); /* prefix + 16 hex digits, 24 bytes */

#endif
