/*
 * sitemsg.h - what the site link says (docs/dr.md "The site link"): the
 * roles, a site's name, and the peer's hello or answer, checked. Pure: no
 * state, no I/O (tests/fuzz/fuzz_sitemsg.c feeds it whatever a peer could
 * send after the pinned handshake).
 */
#ifndef CLOUDLET_SITEMSG_H
#define CLOUDLET_SITEMSG_H

#include <jansson.h>

enum site_role { SITE_ALONE, SITE_PRIMARY, SITE_STANDBY, SITE_PROMOTING, SITE_DEMOTED };

#define SITE_ROLES 5
#define SITEMSG_MAX 4096 /* a hello or an answer, its line */

const char *site_role_name(enum site_role r);
/* A role's name: 0 and *out, or -EINVAL. */
int site_role_parse(const char *s, enum site_role *out);
/* A site's name: 1-32 of a-z 0-9 -, not starting with -. */
int site_name_ok(const char *name);

/*
 * The peer's hello or answer {op, site, role, epoch}: its role (a known
 * one; *role points into m) and epoch (an integer >= 0). 0 or -EBADMSG.
 */
int sitemsg_parse_peer(const json_t *m, const char **role, long long *epoch);

#endif
