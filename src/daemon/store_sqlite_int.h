/*
 * store_sqlite_int.h - the SQLite helpers shared by the store's files
 * (store_sqlite.c: tenants, tokens, VMs, operations; store_net_sqlite.c:
 * networks, addresses, firewall rules). Not for the rest of the daemon.
 */
#ifndef CLOUDLET_STORE_SQLITE_INT_H
#define CLOUDLET_STORE_SQLITE_INT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

sqlite3 *sq_db(void);
int sq_exec(const char *sql);
/* Prepare (cached per thread, keyed by the SQL literal's address) and bind:
 * fmt letters s (string or NULL), i (int64), d (double), b (32-byte blob). */
sqlite3_stmt *sq_prep(const char *sql, const char *fmt, ...);
void sq_done(sqlite3_stmt *st);
int sq_run(sqlite3_stmt *st);                 /* no rows: 0, -EEXIST, -EIO */
int sq_one(sqlite3_stmt *st, json_t **out);   /* one row: 0, -ENOENT, -EIO */
json_t *sq_all(sqlite3_stmt *st);             /* every row */
int64_t sq_scalar(sqlite3_stmt *st);          /* first column, -1 if none */
void sq_now(char *buf);                       /* RFC 3339, 32 bytes */
int sq_new_id(const char *prefix, char *out); /* prefix + 16 hex digits */
/* Placement in a create's transaction (store_host_sqlite.c). */
int sq_place(int64_t vcpus, int64_t memory_mib, int64_t disk_gib, char *id, size_t len);

#endif
