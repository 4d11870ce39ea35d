/*
 * site.h - this control plane's place in a disaster-recovery pair
 * (docs/dr.md): alone, the primary, or the standby of another site.
 *
 * A pair is two cloudletds, each with its own PostgreSQL, hosts and
 * external network; the standby's database is a hot standby of the
 * primary's (PostgreSQL's streaming replication, not ours). The two
 * cloudletds talk over a pinned mutual-TLS link (tlsconn.h; each pins the
 * other's certificate fingerprint, as hosts do): every LINK_MS each sends
 * the other its role and epoch and reads the other's.
 *
 * Split brain is excluded by a lease: the primary accepts writes only
 * while, less than lease_ms ago (counted from when it sent the hello), the
 * standby answered as a standby of an epoch not above its own. A failover
 * at the standby first stops answering as a standby (role "promoting",
 * epoch + 1, on disk), then waits lease_ms and a margin after the last
 * answer it gave, so the primary's lease has run out whatever the link
 * did, and only then promotes its database. A primary that hears of a
 * higher epoch is "demoted" for good (on disk): it refuses writes until
 * the operator makes it a standby again.
 *
 * The role and epoch live in <state-dir>/site.json (not in the database:
 * the database is the same at both sites).
 */
#ifndef CLOUDLET_SITE_H
#define CLOUDLET_SITE_H

#include <jansson.h>
#include <stddef.h>

#include "sitemsg.h"

struct site_conf {
	const char *name;	 /* this site's name */
	const char *role;	 /* "primary" or "standby": when site.json is new */
	const char *listen;	 /* IPv4:port of the site link */
	const char *peer;	 /* the other site's link, IPv4:port */
	const char *peer_fpr;	 /* its certificate's fingerprint */
	const char *tls_dir;	 /* this cloudletd's identity (tlsid.h) */
	const char *state_dir;	 /* where site.json is */
	unsigned lease_ms;	 /* 0: 3000 */
};

/*
 * Load or make site.json from conf and start the link (listener and
 * hello loop). Without a peer the site is alone: always writable, no
 * link. on_primary runs once, on a thread of the link, the first time
 * this site is a writable primary: a primary when its standby first
 * answers, a standby when its failover is done; never for a demoted site
 * or one that is alone (cloudletd starts its workers itself). 0 or -errno
 * with err.
 */
int site_start(const struct site_conf *conf, void (*on_primary)(void), char *err,
	       size_t errlen);

/*
 * What to run, on a thread of its own, when this site is demoted (it hears
 * the other site took over at a higher epoch), and at a start of a site
 * demoted before: cloudletd stops the VMs of its site's hosts
 * (drrecover_fence). Set before site_start.
 */
void site_on_demoted(void (*cb)(void));

enum site_role site_role(void);

/* May this control plane write now (alone, or a primary holding its
 * lease)? If not, why in words (for the 503). */
int site_writable(char *why, size_t len);

/* The view for GET /v1/site: name, role, epoch, peer, lease, link. */
json_t *site_view(void);

/*
 * Failover at the standby (operator): promoting, wait out the lease,
 * promote the database, primary. 0, -EALREADY (already primary), -EPERM
 * (not a standby), -EIO (the database would not promote; err says).
 */
int site_failover(char *err, size_t errlen);

#endif
