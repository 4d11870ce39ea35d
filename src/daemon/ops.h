/*
 * ops.h - long operations on VMs, run by a small pool of worker threads,
 * and the reconciliation of cloudletd's records with the host agent.
 *
 * An operation is a row (store.h) created by the API in the same transaction
 * as the change it stands for; ops_submit() queues it. A worker runs it
 * against the agent and records progress, the outcome and an audit event.
 *
 * Reconciliation (ops_reconcile at start, then every few seconds):
 * - an operation left pending or running by a previous cloudletd ends
 *   failed, "interrupted"; a VM it was creating is removed from the host;
 * - a VM on the host named "vm-*" (cloudletd's namespace) without a record
 *   is deleted: no VM runs without a record;
 * - a record whose VM the host no longer has is removed, with an event:
 *   no record points at nothing;
 * - otherwise the record's state and spec follow the host's.
 */
#ifndef CLOUDLET_OPS_H
#define CLOUDLET_OPS_H

int ops_start(unsigned workers);
void ops_submit(const char *op_id);
int ops_reconcile(int at_start);

#endif
