/*
 * nftx.h - nftables inside a tenant's namespace, in the agent's own process
 * (libnftables), instead of an `nft` process per change.
 *
 * The calling thread enters the namespace with setns(2) (which moves only
 * that thread), runs the commands through a libnftables context made there
 * (its netlink socket belongs to that namespace for good, so contexts are
 * kept per namespace and reused), optionally lists the whole rule set, and
 * returns to the namespace it came from. Calls are
 * serialised by one mutex: libnftables keeps some process-wide state, and
 * every call is short (a rule set of 1,000 rules loads in milliseconds).
 *
 * The text comes from nft.h (generated from validated state), never from a
 * request.
 */
#ifndef CLOUDLET_NFTX_H
#define CLOUDLET_NFTX_H

#include <stddef.h>

/*
 * Run cmds (nft's language; NULL: nothing) in namespace ns (NULL: the
 * agent's own), then, when listing is not NULL, put `list ruleset`'s text
 * there (malloc'd; the caller frees it). All or nothing per cmds: nft sends
 * them as one transaction. 0, or -EIO with nft's first error line in err,
 * or -errno.
 */
int nftx_run(const char *ns, const char *cmds, char **listing, char *err, size_t errlen);

/* Drop the kept context of namespace ns (it is being deleted). */
void nftx_forget(const char *ns);

#endif
