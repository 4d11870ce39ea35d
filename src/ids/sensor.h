/*
 * sensor.h - the inspection pipeline shared by both modes: tenant networks
 * (configuration, rule set, memcap, gate, detectors, counters), the flow
 * table, and what happens to one frame:
 *
 *   decode -> spoof/DHCP checks -> scan/flood trackers -> flow (interface
 *   + 5-tuple) -> TCP state and reassembly -> app layer (HTTP, DNS, TLS
 *   SNI) -> detection per event -> gate -> EVE
 *
 * Single-threaded: the caller (pcap.c or serve.c) feeds frames one at a
 * time and calls sensor_tick() now and then for timeouts and stats.
 */
#ifndef CLOUDLET_IDS_SENSOR_H
#define CLOUDLET_IDS_SENSOR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"
#include "eve.h"
#include "flow.h"
#include "gate.h"
#include "netcfg.h"
#include "portscan.h"
#include "ruleset.h"

struct net_stats {
	uint64_t packets, bytes, kernel_drops, decode_errors, not_decoded;
	uint64_t alerts, suppressed, rate_limited;
	uint64_t flows, flows_refused, stream_gaps, http_tx, dns_queries, tls_sni;
};

struct net {
	struct net *next;
	struct netcfg cfg;
	struct addrset home; /* $HOME_NET of this network */
	uint32_t home_gen;   /* changes with home: flows' cached address classes */
	/* rs: the operator's rule directories, shared by every network that
	 * loads the same (ruleset.h); rsc: the tenant's own rules, or NULL */
	struct ruleset *rs, *rsc;
	struct det_thresh *th;
	struct memcap mem;
	struct gate gate;
	struct ps_state *ps;
	struct net_stats st;
};

struct sensor {
	struct flow_table ft;
	struct net *nets;
	struct eve eve;
	uint64_t now_us, last_tick_us, last_stats_us;
	uint64_t stats_interval_us; /* 0: only at the end */
	const char *(*iface_name)(void *arg, uint32_t ifid);
	void *iface_arg;
};

int sensor_init(struct sensor *s, const char *eve_path, char *err, size_t errlen);
/* Ends every flow, writes the last stats records, frees everything. */
void sensor_finish(struct sensor *s);

/* Add or replace (reload) a tenant network from its configuration. The
 * new rule set is loaded before anything is swapped: on failure the old
 * one stays. *summary: the rule set's summary (new reference). */
int sensor_net_set(struct sensor *s, const json_t *cfg, json_t **summary, char *err,
		   size_t errlen);
int sensor_net_delete(struct sensor *s, const char *network_id);

/* sensor_net_set in steps, for compiling on another thread (build.h):
 * check parses the configuration into cfg (0, -EINVAL, -EPERM); a rule
 * set another network already has for the same inputs is shared (a new
 * reference, or NULL); compile may run on any thread; install takes cfg
 * and rs and swaps them in (the inspecting thread). */
int sensor_net_check(struct sensor *s, const json_t *j, struct netcfg *cfg, char *err,
		     size_t errlen);
struct ruleset *sensor_shared_rules(struct sensor *s, const struct netcfg *cfg);
/* The rule directories' set; the custom rules' set next to base (0 with
 * *out NULL when there are none). Any thread. */
struct ruleset *sensor_compile_rules(const struct netcfg *cfg, char *err, size_t errlen);
int sensor_compile_custom(const struct netcfg *cfg, const struct ruleset *base,
			  struct ruleset **out, char *err, size_t errlen);
int sensor_net_install(struct sensor *s, struct netcfg *cfg, struct ruleset *rs,
		       struct ruleset *rsc, json_t **summary, char *err, size_t errlen);
/* Skipped rules of both sets, the directories' first (at most max). */
json_t *sensor_skip_list(const struct net *n, size_t max);
struct net *sensor_net_find(struct sensor *s, const char *network_id);

/* One captured frame from interface ifid of network n. */
void sensor_packet(struct sensor *s, struct net *n, uint32_t ifid, const uint8_t *frame,
		   size_t caplen, size_t wirelen, uint64_t ts_us);
/* Timeouts; stats records every stats_interval_us. now_us: packet time. */
void sensor_tick(struct sensor *s, uint64_t now_us);
/* A stats record per network, now. */
void sensor_write_stats(struct sensor *s, uint64_t ts_us);
json_t *sensor_net_stats(const struct net *n);

#endif
