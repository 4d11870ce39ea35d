/*
 * eve.c - EVE JSON records (eve.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "eve.h"

int
eve_open(struct eve *e, const char *path)
{
	memset(e, 0, sizeof(*e));
	if (strcmp(path, "-") == 0) {
		e->fd = dup(1);
		return e->fd < 0 ? -errno : 0;
	}
	e->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	return e->fd < 0 ? -errno : 0;
}

void
eve_close(struct eve *e)
{
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}

int
eve_write(struct eve *e, const json_t *rec)
{
	char *s = json_dumps(rec, JSON_COMPACT);
	size_t n, off = 0;

	if (!s) {
		e->errors++;
		return -ENOMEM;
	}
	n = strlen(s);
	s[n] = '\n'; /* replaces the NUL: written by length */
	while (off < n + 1) {
		ssize_t w = write(e->fd, s + off, n + 1 - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e->errors++;
			free(s);
			return -EIO;
		}
		off += (size_t)w;
	}
	free(s);
	e->records++;
	return 0;
}

void
eve_timestamp(uint64_t ts_us, char *buf, size_t len)
{
	time_t t = (time_t)(ts_us / 1000000);
	struct tm tm;
	char base[32];

	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06u+0000", base, (unsigned)(ts_us % 1000000));
}

static const char *
proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case 6: return "TCP";
	case 17: return "UDP";
	case 1: return "ICMP";
	}
	snprintf(buf, len, "%u", p);
	return buf;
}

json_t *
eve_alert_record(const struct eve_alert *a)
{
	char ts[48], s[16], d[16], pb[8];
	json_t *o = json_object(), *al = json_object();

	eve_timestamp(a->ts_us, ts, sizeof(ts));
	addr_fmt_ip4(a->src, s, sizeof(s));
	addr_fmt_ip4(a->dst, d, sizeof(d));
	json_object_set_new(o, "timestamp", json_string(ts));
	if (a->flow_id)
		json_object_set_new(o, "flow_id", json_integer((json_int_t)a->flow_id));
	json_object_set_new(o, "in_iface", json_string(a->iface ? a->iface : ""));
	json_object_set_new(o, "event_type", json_string("alert"));
	json_object_set_new(o, "src_ip", json_string(s));
	if (a->has_ports)
		json_object_set_new(o, "src_port", json_integer(a->sp));
	json_object_set_new(o, "dest_ip", json_string(d));
	if (a->has_ports)
		json_object_set_new(o, "dest_port", json_integer(a->dp));
	json_object_set_new(o, "proto", json_string(proto_name(a->ipproto, pb, sizeof(pb))));
	if (a->app_proto)
		json_object_set_new(o, "app_proto", json_string(a->app_proto));
	json_object_set_new(o, "tenant_id", json_string(a->tenant_id ? a->tenant_id : ""));
	json_object_set_new(o, "network_id", json_string(a->network_id ? a->network_id : ""));
	if (a->src_vm)
		json_object_set_new(o, "src_vm", json_string(a->src_vm));
	if (a->dest_vm)
		json_object_set_new(o, "dest_vm", json_string(a->dest_vm));
	json_object_set_new(al, "action", json_string(a->action ? a->action : "allowed"));
	json_object_set_new(al, "gid", json_integer(a->gid));
	json_object_set_new(al, "signature_id", json_integer(a->sid));
	json_object_set_new(al, "rev", json_integer(a->rev));
	json_object_set_new(al, "signature", json_string(a->signature ? a->signature : ""));
	json_object_set_new(al, "category", json_string(a->category ? a->category : ""));
	json_object_set_new(al, "severity", json_integer(a->severity));
	if (a->rate_limited_before)
		json_object_set_new(al, "rate_limited_before",
				    json_integer((json_int_t)a->rate_limited_before));
	json_object_set_new(o, "alert", al);
	if (a->extra)
		json_object_set(o, "cloudlet", a->extra);
	return o;
}
