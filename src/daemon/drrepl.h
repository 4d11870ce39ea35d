/*
 * drrepl.h - the control plane's half of disk replication to the standby
 * site (docs/dr.md "Disks"): at the primary, a stream per VM makes one
 * consistency point after the other (replica.open at a host of the
 * standby site, vm.replica.point at the VM's host, replica.commit), with
 * each VM's lag and its alert. What a new primary does with the replicas
 * is drrecover.h's.
 *
 * The primary's cloudletd calls the standby site's agents itself: their
 * hosts are in the (shared) database with their site (store_host.h), and
 * the standby's cloudletd, whose database is read-only, has nothing to
 * record. Nothing here writes to the primary's hosts from the standby.
 */
#ifndef CLOUDLET_DRREPL_H
#define CLOUDLET_DRREPL_H

#include <jansson.h>

struct drrepl_conf {
	unsigned interval_ms;  /* between points of one VM (0: 1000) */
	unsigned lag_alert_ms; /* an event when a VM's lag passes it (0: 5000) */
};

/* Start the streams' manager (once; at a primary of a pair). It runs
 * streams only while this site may write (site_writable). */
void drrepl_start(const struct drrepl_conf *conf);

/*
 * GET /v1/site's "replication": per VM {vm, host, replica_host, points,
 * last_taken_at_ms, lag_ms, last_bytes, last_ms, state, error} and the
 * site's worst lag. NULL when no stream ever ran here.
 */
json_t *drrepl_view(void);

#endif
