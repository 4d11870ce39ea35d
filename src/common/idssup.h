/*
 * idssup.h - a tenant's intrusion detection suppression (docs/ids.md,
 * "Suppressions"), as the control plane stores it and the agent passes it
 * to the sensor (whose gate.c applies it):
 *
 *   {"sid": 2000001, "gid": 1, "track": "by_src"|"by_dst", "ip": "10.0.0.9"
 *    or "10.0.0.0/24", "expires": 1790000000}
 *
 * sid 1..2^32-1; gid optional (default 1); track and ip together or
 * neither (then every alert of the rule is suppressed); expires a unix time
 * in seconds, 0 or absent for never. Nothing else. Pure: fuzzed through
 * the network state (tests/fuzz/fuzz_netstate.c) and the API.
 */
#ifndef CLOUDLET_IDSSUP_H
#define CLOUDLET_IDSSUP_H

#include <jansson.h>
#include <stddef.h>

#define IDSSUP_MAX 256 /* per tenant */

/* One suppression: 0, or -EINVAL with err. */
int idssup_check(const json_t *s, char *err, size_t errlen);

/* An array of at most IDSSUP_MAX of them: 0, or -EINVAL with err. */
int idssup_check_list(const json_t *list, char *err, size_t errlen);

#endif
