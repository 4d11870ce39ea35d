/*
 * netcfg.h - a tenant network's sensor configuration, from JSON (the
 * control message network.set, or --tenant-config in pcap mode). Pure:
 * no files are read here. Unknown fields are refused. docs/ids.md has the
 * format:
 *
 *   {"tenant_id": "t1", "network_id": "n1", "home_net": ["10.0.0.0/24"],
 *    "rule_dirs": ["/etc/cloudlet/ids/rules"], "custom_rules": "alert ...",
 *    "vars": {"HTTP_PORTS": "[80,8080]"},
 *    "assigned": [{"mac": "52:54:00:00:00:05", "ip": "10.0.0.5", "vm": "web1"}],
 *    "routers": ["52:54:00:00:00:01"],
 *    "dhcp_server": {"mac": "52:54:00:00:00:02", "ip": "10.0.0.2"},
 *    "memcap_bytes": 67108864, "alert_rate": {"per_second": 10, "burst": 20},
 *    "suppress": [{"sid": 2000001, "track": "by_src", "ip": "10.0.0.9", "expires": 0}],
 *    "detectors": {"portscan": true, "synflood": true, "spoof": true, "rogue_dhcp": true,
 *                  "scan_ports": 20, "sweep_hosts": 20, "window_s": 60, "synflood_per_s": 500}}
 */
#ifndef CLOUDLET_IDS_NETCFG_H
#define CLOUDLET_IDS_NETCFG_H

#include <jansson.h>
#include <stddef.h>

#include "portscan.h"
#include "ruleset.h"
#include "spoof.h"

#define NETCFG_ID_MAX 64
#define NETCFG_DIRS_MAX 8
#define NETCFG_MEMCAP_DEFAULT (64u << 20)
#define NETCFG_MEMCAP_MAX (4ull << 30)

struct netcfg {
	char tenant_id[NETCFG_ID_MAX + 1], network_id[NETCFG_ID_MAX + 1];
	char *home_net; /* "[a,b]" */
	char *rule_dirs[NETCFG_DIRS_MAX];
	int ndirs;
	char *custom_rules;
	struct ids_var vars[RULESET_MAX_VARS];
	int nvars; /* defaults plus overrides */
	struct spoof_cfg spoof;
	size_t memcap;
	double rate, burst;
	json_t *suppress; /* new reference or NULL */
	struct ps_config ps;
};

int netcfg_parse(const json_t *j, struct netcfg *c, char *err, size_t errlen);
void netcfg_free(struct netcfg *c);
/* Same operator rule inputs (dirs, variables but $HOME_NET): the rule set
 * of the directories can be shared (custom rules are a set of their own). */
int netcfg_same_rules(const struct netcfg *a, const struct netcfg *b);
/* A tenant or network id: 1..64 of [A-Za-z0-9._-]. */
int netcfg_valid_id(const char *s);

#endif
