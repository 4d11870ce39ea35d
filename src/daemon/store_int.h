/*
 * store_int.h - shared by the store's files (store.c: tenants, tokens,
 * VMs, operations; store_host.c; store_net.c; store_volume.c;
 * store_schema.c). Not for the rest of the daemon.
 */
#ifndef CLOUDLET_STORE_INT_H
#define CLOUDLET_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

/* The schema's migrations per dialect (store_schema.c, db_migrate()). */
extern const char *const store_schema_sqlite[];
extern const size_t store_schema_sqlite_len;
extern const char *const store_schema_pg[];
extern const size_t store_schema_pg_len;

/* Placement in a create's transaction (store_host.c). */
struct place_req;
int store_place_tx(const struct place_req *q, char *id, size_t len);

#endif
