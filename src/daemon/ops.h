/*
 * ops.h - long operations on VMs, run by a small pool of worker threads,
 * and the reconciliation of cloudletd's records with the host agent.
 *
 * An operation is a row (store.h) created by the API in the same transaction
 * as the change it stands for; ops_submit() queues it. A worker runs it
 * against the agent and records progress, the outcome, an audit event and
 * how long each of its steps took (its "timing", docs/control-plane.md).
 *
 * An agent that cannot be reached (restarting, crashed) is waited for, up
 * to AGENTC_RETRY_MS. A call that may have run although its connection
 * dropped is never repeated blindly: the agent's state (vm.show) says what
 * happened. Each kind of operation can be run again from the start, so an
 * operation that a previous cloudletd left pending or running is resumed
 * at start, not failed.
 *
 * Reconciliation (ops_reconcile at start, then every 2 s), for VMs without
 * an operation in progress:
 * - a VM on the host named "vm-*" (cloudletd's namespace) without a record
 *   is deleted: no VM runs without a record;
 * - a record whose VM the host no longer has (asked again with vm.show)
 *   is removed, whatever its state: no record points at nothing;
 * - a record left "deleting" has its delete finished;
 * - otherwise the record's state and spec follow the host's.
 *
 * With several hosts (docs/hosts.md) an operation's agent calls go to its
 * VM's host, reconciliation runs per host (an unreachable host's records
 * are never deleted), and heartbeats (host.info every HOST_HEARTBEAT_MS)
 * mark a host down after HOST_DOWN_MS without an answer, its VMs
 * "unknown" with their last state beside; when it answers again it is
 * reconciled at once.
 */
#ifndef CLOUDLET_OPS_H
#define CLOUDLET_OPS_H

#include <jansson.h>
#include <stdint.h>

/*
 * Start the workers: at least `workers`, more (up to OPS_WORKERS_MAX) while
 * every one is busy, so a new operation never waits for another one's
 * guest to boot.
 */
#define OPS_WORKERS_MAX 32
#define HOST_HEARTBEAT_MS 2000
#define HOST_DOWN_MS 6000
int ops_start(unsigned workers);
/* Queue an operation; request_us is when its HTTP request arrived
 * (CLOCK_MONOTONIC, microseconds), 0 if unknown. */
void ops_submit(const char *op_id, uint64_t request_us);
int ops_reconcile(int at_start);
/* CLOCK_MONOTONIC in microseconds (the clock of the operations' timing). */
uint64_t ops_now_us(void);
/* A VM's spec for its agent (vm.create's arguments), made from its record
 * as a create makes it (new reference; NULL without a record). */
json_t *ops_vm_spec(const char *vm_id);

#endif
