/*
 * netcfg.c - a tenant network's configuration (netcfg.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "gate.h"
#include "jsonv.h"
#include "netcfg.h"

#define FAIL(...)                                   \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		goto fail;                          \
	} while (0)

int
netcfg_valid_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > NETCFG_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static int
valid_var_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct spoof_entry *x = a, *y = b;

	return x->ip < y->ip ? -1 : x->ip > y->ip;
}

static int
get_bool(const json_t *o, const char *k, uint8_t *out)
{
	json_t *v = json_object_get(o, k);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 0;
}

static int
get_uint(const json_t *o, const char *k, uint32_t min, uint32_t max, uint32_t *out)
{
	json_t *v = json_object_get(o, k);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return -1;
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

int
netcfg_parse(const json_t *j, struct netcfg *c, char *err, size_t errlen)
{
	static const char *const fields[] = {"tenant_id", "network_id", "home_net", "rule_dirs",
					     "custom_rules", "vars", "assigned", "routers",
					     "dhcp_server", "memcap_bytes", "alert_rate",
					     "suppress", "detectors", NULL};
	static const char *const det_fields[] = {"portscan", "synflood", "spoof", "rogue_dhcp",
						 "scan_ports", "sweep_hosts", "window_s",
						 "synflood_per_s", NULL};
	json_t *v, *e;
	const char *key;
	size_t i, len = 0;
	struct ids_var over[RULESET_MAX_VARS];
	int nover = 0;
	char *home = NULL;

	memset(c, 0, sizeof(*c));
	c->memcap = NETCFG_MEMCAP_DEFAULT;
	c->rate = 10;
	c->burst = 20;
	c->spoof.spoof_on = 1;
	ps_config_default(&c->ps);
	memset(over, 0, sizeof(over));
	if (!json_is_object(j))
		FAIL("the configuration must be an object");
	if (jsonv_only_fields(j, fields, err, errlen) < 0)
		goto fail;
	v = json_object_get(j, "tenant_id");
	if (!netcfg_valid_id(json_string_value(v)))
		FAIL("tenant_id: 1 to 64 of A-Z a-z 0-9 . _ -");
	memcpy(c->tenant_id, json_string_value(v), strlen(json_string_value(v)) + 1);
	v = json_object_get(j, "network_id");
	if (!netcfg_valid_id(json_string_value(v)))
		FAIL("network_id: 1 to 64 of A-Z a-z 0-9 . _ -");
	memcpy(c->network_id, json_string_value(v), strlen(json_string_value(v)) + 1);

	v = json_object_get(j, "home_net");
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 64)
		FAIL("home_net: an array of 1 to 64 IPv4 networks");
	home = malloc(json_array_size(v) * 20 + 3);
	if (!home)
		FAIL("out of memory");
	home[len++] = '[';
	json_array_foreach(v, i, e) {
		struct range32 r;
		const char *s = json_string_value(e);

		if (!s || strlen(s) > 18 || addr_parse_cidr(s, &r) < 0)
			FAIL("home_net: '%.40s' is not an IPv4 address or network", s ? s : "?");
		if (i)
			home[len++] = ',';
		memcpy(home + len, s, strlen(s));
		len += strlen(s);
	}
	home[len++] = ']';
	home[len] = '\0';
	c->home_net = home;
	home = NULL;

	v = json_object_get(j, "rule_dirs");
	if (v) {
		if (!json_is_array(v) || json_array_size(v) > NETCFG_DIRS_MAX)
			FAIL("rule_dirs: an array of at most %d directories", NETCFG_DIRS_MAX);
		json_array_foreach(v, i, e) {
			const char *s = json_string_value(e);

			if (!s || s[0] != '/' || strlen(s) > 1024 || strstr(s, "/../"))
				FAIL("rule_dirs: absolute paths without '..'");
			if (!(c->rule_dirs[c->ndirs++] = strdup(s)))
				FAIL("out of memory");
		}
	}
	v = json_object_get(j, "custom_rules");
	if (v) {
		if (!json_is_string(v) || json_string_length(v) > RULESET_CUSTOM_MAX)
			FAIL("custom_rules: a string of at most %u bytes", RULESET_CUSTOM_MAX);
		if (memchr(json_string_value(v), '\0', json_string_length(v)))
			FAIL("custom_rules: NUL byte");
		if (!(c->custom_rules = strdup(json_string_value(v))))
			FAIL("out of memory");
	}
	v = json_object_get(j, "vars");
	if (v) {
		if (!json_is_object(v) || json_object_size(v) > 32)
			FAIL("vars: an object of at most 32 variables");
		json_object_foreach(v, key, e) {
			const char *s = json_string_value(e);

			if (!valid_var_name(key) || strcmp(key, "HOME_NET") == 0)
				FAIL("vars: bad name '%.40s' (HOME_NET comes from home_net)", key);
			if (!s || strlen(s) > ADDR_TEXT_MAX)
				FAIL("vars: %s must be a string", key);
			over[nover].name = strdup(key);
			over[nover].value = strdup(s);
			over[nover].port = strstr(key, "PORT") != NULL;
			nover++;
			if (!over[nover - 1].name || !over[nover - 1].value)
				FAIL("out of memory");
		}
	}
	{
		int n = ruleset_default_vars(c->home_net, c->vars, RULESET_MAX_VARS);

		if (n < 0)
			FAIL("out of memory");
		c->nvars = n;
		for (int k = 0; k < nover; k++) {
			int found = 0;

			for (int m = 0; m < c->nvars; m++)
				if (strcmp(c->vars[m].name, over[k].name) == 0 &&
				    c->vars[m].port == over[k].port) {
					free(c->vars[m].value);
					c->vars[m].value = over[k].value;
					over[k].value = NULL;
					found = 1;
				}
			if (!found) {
				if (c->nvars >= RULESET_MAX_VARS)
					FAIL("vars: too many");
				c->vars[c->nvars].name = over[k].name;
				c->vars[c->nvars].value = over[k].value;
				c->vars[c->nvars].port = over[k].port;
				over[k].name = over[k].value = NULL;
				c->nvars++;
			}
		}
	}
	v = json_object_get(j, "assigned");
	if (v) {
		static const char *const af[] = {"mac", "ip", "vm", NULL};

		if (!json_is_array(v) || json_array_size(v) > SPOOF_MAX_ASSIGNED)
			FAIL("assigned: an array of at most %d entries", SPOOF_MAX_ASSIGNED);
		c->spoof.a = calloc(json_array_size(v) + 1, sizeof(*c->spoof.a));
		if (!c->spoof.a)
			FAIL("out of memory");
		json_array_foreach(v, i, e) {
			struct spoof_entry *a = &c->spoof.a[c->spoof.na];
			const char *mac = json_string_value(json_object_get(e, "mac"));
			const char *ip = json_string_value(json_object_get(e, "ip"));
			const char *vm = json_string_value(json_object_get(e, "vm"));

			if (!json_is_object(e) || jsonv_only_fields(e, af, err, errlen) < 0)
				goto fail;
			if (!mac || addr_parse_mac(mac, a->mac) < 0 || !ip || addr_parse_ip4(ip, &a->ip) < 0)
				FAIL("assigned: each entry needs mac and ip");
			if (json_object_get(e, "vm") && (!vm || !netcfg_valid_id(vm)))
				FAIL("assigned: bad vm id");
			if (vm)
				memcpy(a->vm, vm, strlen(vm) + 1);
			c->spoof.na++;
		}
		qsort(c->spoof.a, (size_t)c->spoof.na, sizeof(*c->spoof.a), cmp_entry);
	}
	v = json_object_get(j, "routers");
	if (v) {
		if (!json_is_array(v) || json_array_size(v) > SPOOF_MAX_ROUTERS)
			FAIL("routers: an array of at most %d MACs", SPOOF_MAX_ROUTERS);
		json_array_foreach(v, i, e) {
			const char *s = json_string_value(e);

			if (!s || addr_parse_mac(s, c->spoof.routers[c->spoof.nrouters]) < 0)
				FAIL("routers: bad MAC");
			c->spoof.nrouters++;
		}
	}
	v = json_object_get(j, "dhcp_server");
	if (v) {
		static const char *const df[] = {"mac", "ip", NULL};
		const char *mac = json_string_value(json_object_get(v, "mac"));
		const char *ip = json_string_value(json_object_get(v, "ip"));

		if (!json_is_object(v) || jsonv_only_fields(v, df, err, errlen) < 0)
			goto fail;
		if (!mac || addr_parse_mac(mac, c->spoof.dhcp_mac) < 0 || !ip ||
		    addr_parse_ip4(ip, &c->spoof.dhcp_ip) < 0)
			FAIL("dhcp_server: needs mac and ip");
		c->spoof.dhcp_set = 1;
		c->spoof.dhcp_on = 1;
	}
	v = json_object_get(j, "memcap_bytes");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < (1 << 20) ||
		    (unsigned long long)json_integer_value(v) > NETCFG_MEMCAP_MAX)
			FAIL("memcap_bytes: 1 MiB to 4 GiB");
		c->memcap = (size_t)json_integer_value(v);
	}
	v = json_object_get(j, "alert_rate");
	if (v) {
		static const char *const rf[] = {"per_second", "burst", NULL};
		uint32_t ps = 10, b = 20;

		if (!json_is_object(v) || jsonv_only_fields(v, rf, err, errlen) < 0)
			goto fail;
		if (get_uint(v, "per_second", 0, 100000, &ps) < 0 ||
		    get_uint(v, "burst", 1, 1000000, &b) < 0)
			FAIL("alert_rate: per_second 0..100000 (0: no limit), burst 1..1000000");
		c->rate = ps;
		c->burst = b;
	}
	v = json_object_get(j, "suppress");
	if (v) {
		struct gate *g = calloc(1, sizeof(*g));
		int r;

		if (!g)
			FAIL("out of memory");
		r = gate_set_suppress(g, v, err, errlen);
		free(g);
		if (r < 0)
			goto fail;
		c->suppress = json_incref(v);
	}
	v = json_object_get(j, "detectors");
	if (v) {
		uint8_t rogue = c->spoof.dhcp_on;

		if (!json_is_object(v) || jsonv_only_fields(v, det_fields, err, errlen) < 0)
			goto fail;
		if (get_bool(v, "portscan", &c->ps.portscan) < 0 ||
		    get_bool(v, "synflood", &c->ps.synflood) < 0 ||
		    get_bool(v, "spoof", &c->spoof.spoof_on) < 0 || get_bool(v, "rogue_dhcp", &rogue) < 0)
			FAIL("detectors: the switches are booleans");
		if (get_uint(v, "scan_ports", 2, PS_MAX_TRACK, &c->ps.scan_ports) < 0 ||
		    get_uint(v, "sweep_hosts", 2, PS_MAX_TRACK, &c->ps.sweep_hosts) < 0 ||
		    get_uint(v, "window_s", 1, 3600, &c->ps.window_s) < 0 ||
		    get_uint(v, "synflood_per_s", 10, 10000000, &c->ps.synflood_per_s) < 0)
			FAIL("detectors: scan_ports and sweep_hosts 2..%d, window_s 1..3600, "
			     "synflood_per_s 10..10000000", PS_MAX_TRACK);
		c->spoof.dhcp_on = rogue;
	}
	ruleset_vars_free(over, nover);
	return 0;
fail:
	free(home);
	ruleset_vars_free(over, nover);
	netcfg_free(c);
	return -EINVAL;
}

void
netcfg_free(struct netcfg *c)
{
	free(c->home_net);
	for (int i = 0; i < c->ndirs; i++)
		free(c->rule_dirs[i]);
	free(c->custom_rules);
	ruleset_vars_free(c->vars, c->nvars);
	spoof_free(&c->spoof);
	json_decref(c->suppress);
	memset(c, 0, sizeof(*c));
}

int
netcfg_same_rules(const struct netcfg *a, const struct netcfg *b)
{
	/* the tenant's own rules are a set of their own (sensor.h) */
	if (a->ndirs != b->ndirs || a->nvars != b->nvars)
		return 0;
	for (int i = 0; i < a->ndirs; i++)
		if (strcmp(a->rule_dirs[i], b->rule_dirs[i]) != 0)
			return 0;
	/* $HOME_NET is left open in a rule set (addr.h): its value may differ */
	for (int i = 0; i < a->nvars; i++)
		if (strcmp(a->vars[i].name, b->vars[i].name) != 0 || a->vars[i].port != b->vars[i].port ||
		    (strcmp(a->vars[i].value, b->vars[i].value) != 0 &&
		     !(a->vars[i].port == 0 && strcmp(a->vars[i].name, "HOME_NET") == 0)))
			return 0;
	return 1;
}
