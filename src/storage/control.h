/*
 * control.h - the storage server's control socket: JSON lines, the same
 * envelope as the agent's (docs/storage-protocol.md is the reference).
 * One thread per connection, at most 64 connections.
 */
#ifndef CLOUDLET_STORAGE_CONTROL_H
#define CLOUDLET_STORAGE_CONTROL_H

#include <jansson.h>
#include <stddef.h>

#include "pool.h"

/* Listen on path (mode 0600): fd or -errno. */
int control_listen(struct pool *p, const char *path);

/* Accept connections on a thread of its own. */
int control_start(int lfd);

/* One request (borrowed) to its reply (new reference). */
json_t *control_dispatch(json_t *req);

/* Set when scanning is configured (scanner.c). */
extern int (*control_scan_fn)(struct pool *p, const char *volume, int quarantine,
			      json_t **report, char *err, size_t errlen);
extern json_t *(*control_scan_info)(void);

#endif
