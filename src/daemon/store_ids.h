/*
 * store_ids.h - intrusion detection in cloudletd's store (docs/ids.md): a
 * tenant's settings (on or off, its own rules) and the alerts pulled from
 * every host's sensor.
 *
 * An alert is the sensor's EVE record as the agent gave it (ids.alerts):
 * its main fields are columns for filtering, the whole record is kept as
 * text. Each host numbers its alerts; a known (host, seq, time) is
 * ignored, so pulling again is harmless and a host whose numbering started
 * over (its state lost) adds rather than overwrites.
 *
 * Same conventions as store.h: 0 or -errno.
 */
#ifndef CLOUDLET_STORE_IDS_H
#define CLOUDLET_STORE_IDS_H

#include <jansson.h>
#include <stdint.h>

#define IDS_RULES_MAX (64 * 1024) /* the agent's NET_IDS_RULES_MAX */

/* {enabled, custom_rules} of a tenant; -ENOENT if none. */
int store_ids_get(const char *tenant_id, json_t **out);
/* enabled < 0 or rules NULL: unchanged. */
int store_ids_set(const char *tenant_id, int enabled, const char *rules);

/*
 * Suppressions (idssup.h): a tenant's list, oldest first, each {id, sid,
 * gid, track, ip, expires, created_at} (track/ip "" when the whole rule
 * is meant; expires 0: never); with active, only those not expired at
 * now (unix seconds), in the sensor's form {sid, gid, track?, ip?,
 * expires}. add takes a checked suppression: 0 and id (STORE_ID_LEN),
 * -ENOENT for no such tenant, -ENOSPC at IDSSUP_MAX. delete: -ENOENT for
 * an id that is not the tenant's.
 */
json_t *store_ids_sup_list(const char *tenant_id, int active, long long now);
int store_ids_sup_add(const char *tenant_id, const json_t *s, char *id);
int store_ids_sup_delete(const char *tenant_id, const char *id);

int store_ids_alert_add(const char *host_id, int64_t seq, const json_t *eve);
int64_t store_ids_alert_last(const char *host_id); /* 0 if none */

struct ids_filter {
	const char *tenant_id; /* NULL: every tenant (the operator) */
	const char *vm_id;     /* src_vm or dest_vm; NULL: any */
	int64_t sid;           /* 0: any */
	int64_t severity;      /* 0: any; else at most (1 is the most severe) */
	int64_t before;        /* 0: the newest; else ids below it (pages) */
	int64_t limit;
	int with_host;         /* the operator's view: each alert's host_id */
};
/* Newest first: {seq (the control plane's), time, sid, severity, signature,
 * category, src_ip, src_port, dest_ip, dest_port, proto, app_proto, src_vm,
 * dest_vm, network_id, tenant, host_id (with_host only), eve (the record)}. */
json_t *store_ids_alert_list(const struct ids_filter *f);

#endif
