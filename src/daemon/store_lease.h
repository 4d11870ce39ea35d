/*
 * store_lease.h - which cloudletd runs which operation, when several
 * cloudletd processes share one database (PostgreSQL; docs/hosts.md).
 *
 * Every cloudletd process has a random instance id. An operation row has
 * an owner (an instance id) and a lease (lease_until, wall-clock
 * milliseconds). The process that accepts a request owns the operation
 * from its insert on (same transaction); a process runs an operation only
 * after a claiming UPDATE succeeded (store_op_claim: its own, one without
 * an owner, or one whose lease has expired). The owner renews the lease of
 * everything it owns every STORE_LEASE_RENEW_MS; when a cloudletd dies its
 * leases run out after STORE_LEASE_MS and another one takes its unfinished
 * operations over (store_op_take_expired) and resumes them as a restart
 * would. Progress written by a process that lost an operation is dropped
 * (store_op_update only changes rows this instance owns).
 *
 * Leases compare wall clocks of the machines that run cloudletd: they are
 * assumed within a few seconds of each other (NTP), well under the lease.
 *
 * XXX: a cloudletd that cannot reach the database for longer than the
 * lease (while its operation waits for a guest) may find its operation
 * taken over; both then talk to the agent about the same VM, which refuses
 * the second call on a VM that has one running (conflict), and only the new
 * owner's outcome is recorded.
 */
#ifndef CLOUDLET_STORE_LEASE_H
#define CLOUDLET_STORE_LEASE_H

#include <jansson.h>
#include <stdint.h>

#define STORE_LEASE_MS 15000
#define STORE_LEASE_RENEW_MS 3000

/* This process's instance id ("ci-" + 16 hex digits, made on first use). */
const char *store_lease_instance(void);
/* Wall-clock milliseconds (leases are compared across processes). */
int64_t store_lease_now_ms(void);

/* Take an operation to run it: 1 it is this instance's now, 0 another
 * live instance owns it (or it ended), -errno. */
int store_op_claim(const char *op_id);
/* Extend the lease of every unfinished operation this instance owns. */
int store_op_renew(void);
/*
 * Claim the unfinished operations whose owner's lease expired (or that
 * have no owner), put them back to pending ("resumed") and return them
 * ([{id, kind, vm_id, state}], the state they were in). at_start on SQLite:
 * every unfinished operation (one process per database file: whoever owned
 * them is gone).
 */
json_t *store_op_take_expired(int at_start);

#endif
