/*
 * ids.h - intrusion detection on every tenant network (docs/ids.md): the
 * agent runs the sensor cloudlet-ids, hands it each network's
 * configuration and capture socket, and keeps its recent alerts.
 *
 * The sensor (`cloudlet-ids serve --control <state>/ids/ids.sock --eve
 * <state>/ids/eve.json --user cloudlet-ids`) runs in its own session
 * (engine/helper.h): it outlives an agent restart and is adopted again by
 * its pid file and command line. It opens its socket and EVE file as root
 * and then drops to its user: it holds no privilege while it reads input.
 *
 * One worker thread, woken when a tenant's networks or VM ports change
 * (ids_tenant_changed) and once a second:
 *   - starts or adopts the sensor; restarts it when it ends;
 *   - for every network of a tenant whose state has IDS on (the default;
 *     "ids": {"enabled": false} turns it off), sends network.set (the
 *     network's CIDR as home_net, the operator's rule directory, the
 *     tenant's custom rules, every VM port as assigned, the firewall's
 *     inside MAC as router, the tenant namespace's DHCP server), then opens
 *     an AF_PACKET socket inside the tenant's namespace, bound to the
 *     network's bridge (setns on this thread, as nftx.c does), and passes
 *     it with capture.add; network.delete for a network that went, or
 *     whose tenant turned IDS off or was deleted;
 *   - after the sensor (re)started, sends everything again: it keeps
 *     nothing on disk. Otherwise a network's configuration is sent only
 *     when it differs from the one the sensor accepted last (a firewall
 *     rule change does not reload its IDS rules); ids.reload sends every
 *     one again (the operator changed the rule directory).
 * A second thread (idstail.h) tails the EVE file into a bounded ring
 * (idseve.h); the file offset and the next sequence number are kept in
 * eve.pos, so an agent restart neither repeats nor loses alerts written
 * meanwhile.
 *
 * Sensor network ids are "<tenant>.<network>", so two tenants' networks
 * with the same id never meet in the sensor; alerts give the network id
 * back as it is. XXX: a tenant key and a network id both of 32 characters
 * (65 with the dot) get "<tenant>.<hash of the network id>" instead.
 * XXX: member hosts of a spanning network (docs/hosts.md) run no IDS for
 * it yet; its home host does.
 *
 * Locking: one mutex over the worker's wake-up set, the sensor's pid and
 * the networks it holds (idstail.h has the ring's). It is a leaf, never
 * held across a call to the sensor, into net or anything else, so
 * ids_tenant_changed may be called with net's lock held.
 *
 * Privilege: the agent keeps root for this only to enter tenant
 * namespaces (setns) and open AF_PACKET sockets there (CAP_NET_RAW); the
 * sensor gets the bound socket and needs none.
 *
 * Files, under <state-dir>/ids/ (0711, root's): ids.sock, eve.json,
 * eve.pos, ids.pid, ids.log (the sensor's output), rules/ (the default rule
 * directory, made empty if missing: the detectors run without rules).
 */
#ifndef CLOUDLET_IDS_H
#define CLOUDLET_IDS_H

#include <jansson.h>

#include "operr.h"

struct ids_config {
	int off;               /* --ids off */
	const char *bin;       /* cloudlet-ids */
	const char *user;      /* the sensor's user (cloudlet-ids) */
	const char *rules;     /* rule directory, NULL: <state>/ids/rules */
	const char *state_dir;
	unsigned memcap_mib;   /* per tenant network */
};

/* Start (or adopt) the sensor and the worker. Without the binary or the
 * user, or with off set, IDS stays off (logged once) and the agent works
 * as before. 0 or -errno for a configuration that cannot work. */
int ids_init(const struct ids_config *cfg);

/* The tenant's networks, IDS setting or VM ports changed: bring the
 * sensor in line soon. Never blocks (only takes note). */
void ids_tenant_changed(const char *tenant);

/* ids.status, ids.alerts and ids.reload (docs/agent-protocol.md). */
int ids_status(json_t *args, json_t **out, struct op_error *e);
int ids_alerts(json_t *args, json_t **out, struct op_error *e);
/* {tenant, max?}: the rules the sensor skipped for the tenant's networks,
 * [{network, sid, where, reason}] (at most max per network, default 1000). */
int ids_skipped(json_t *args, json_t **out, struct op_error *e);
int ids_reload(json_t *args, json_t **out, struct op_error *e);

#endif
