/*
 * drrepl.h - the control plane's half of disk replication to the standby
 * site (docs/dr.md "Disks"): at the primary, a stream per VM makes one
 * consistency point after the other (replica.open at a host of the
 * standby site, vm.replica.point at the VM's host, replica.commit); after
 * a failover, the new primary starts the VMs of the lost site from their
 * last complete points.
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

/*
 * At a new primary after its failover, before reconciliation runs: every
 * VM recorded on a host of the other site is started on the host of this
 * site that holds its replica (prepared as a cold migration's destination,
 * its last complete point copied in, started if it was running; all side
 * by side) and recorded there; its tenant's networks are sent to this
 * site's hosts. A VM without a replica is marked lost. Returns once every
 * VM is started (or failed): how many were started. Their readiness is
 * then waited for on threads of their own (the view's recovery says when
 * all are ready).
 */
int drrepl_recover(void);

/*
 * At a demoted site (the other took over): every VM on a host of this
 * site is stopped at once (force: the new primary runs its copy, started
 * from its replica), so the two sites never both run a VM once they hear
 * each other. Nothing is written to the database. Hosts that do not
 * answer are tried again every 5 s for 10 minutes.
 */
void drrepl_fence(void);

#endif
