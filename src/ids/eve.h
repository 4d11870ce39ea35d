/*
 * eve.h - EVE JSON output: one JSON object per line, appended to a file a
 * SIEM can tail, with Suricata's field names (docs/ids.md lists them).
 */
#ifndef CLOUDLET_IDS_EVE_H
#define CLOUDLET_IDS_EVE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct eve {
	int fd;
	uint64_t records, errors;
};

/* Open (create, append) path; "-" is standard output. 0 or -errno. */
int eve_open(struct eve *e, const char *path);
void eve_close(struct eve *e);
/* Write rec (not consumed) as one line. */
int eve_write(struct eve *e, const json_t *rec);

/* "2026-12-07T02:09:31.123456+0000" */
void eve_timestamp(uint64_t ts_us, char *buf, size_t len);

/* One alert, as the sensor hands it to eve_alert_record. */
struct eve_alert {
	uint64_t ts_us, flow_id;
	const char *iface, *tenant_id, *network_id;
	uint32_t src, dst;
	uint16_t sp, dp;
	uint8_t ipproto, has_ports;
	const char *app_proto; /* NULL: none */
	const char *action;    /* "allowed" */
	uint32_t gid, sid, rev;
	const char *signature, *category;
	int severity;
	const char *src_vm, *dest_vm;
	uint64_t rate_limited_before; /* alerts of this rule held back since the last one */
	json_t *extra;                /* borrowed, added under "cloudlet" */
};

/* A new EVE alert object. */
json_t *eve_alert_record(const struct eve_alert *a);

#endif
