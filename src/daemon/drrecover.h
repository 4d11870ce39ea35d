/*
 * drrecover.h - what a site of a disaster-recovery pair does when the
 * roles change (docs/dr.md "Recovery", "Fencing the VMs"): a new primary
 * starts the lost site's VMs from their replicas; a demoted site stops
 * its own.
 */
#ifndef CLOUDLET_DRRECOVER_H
#define CLOUDLET_DRRECOVER_H

#include <jansson.h>

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
int drrecover_run(void);

/*
 * At a demoted site (the other took over): every VM on a host of this
 * site is stopped at once (force: the new primary runs its copy, started
 * from its replica), so the two sites never both run a VM once they hear
 * each other. Nothing is written to the database. Hosts that do not
 * answer are tried again every 5 s for 10 minutes.
 */
void drrecover_fence(void);

/* The last recovery for GET /v1/site: {state (running, done), vms_started,
 * vms_failed, ms}; null before any (new reference). */
json_t *drrecover_view(void);

#endif
