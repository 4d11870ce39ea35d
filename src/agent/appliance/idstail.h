/*
 * idstail.h - the IDS sensor's EVE file followed into the alert ring
 * (idseve.h) by a thread of its own, and the ring's answers (ids.alerts).
 *
 * The file is read from where the last agent stopped: eve.pos keeps the
 * file's inode, the offset of the last complete line and the next
 * sequence number, so an agent restart neither repeats nor loses alerts
 * written meanwhile, and sequence numbers only grow on this host. A
 * replaced (rotated) file is followed by its path; a new or truncated one
 * is read from its start. At most 1 MiB is read per round; the ring stays
 * within idseve.h's bounds whatever the sensor writes.
 *
 * One mutex over the ring, a leaf: held only while bytes are fed or a
 * query is copied out.
 */
#ifndef CLOUDLET_IDSTAIL_H
#define CLOUDLET_IDSTAIL_H

#include <jansson.h>

#include "operr.h"

/* Start following eve (the paths must outlive the thread). 0 or -errno. */
int idstail_start(const char *eve, const char *pos);

/* ids.alerts: {since|after, limit, tenant} -> idseve_query's answer. */
int idstail_alerts(json_t *args, json_t **out, struct op_error *e);

/* The reader's counters, the ring's size and next sequence (new reference). */
json_t *idstail_counters(void);

#endif
