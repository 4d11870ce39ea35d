/*
 * netns.h - network namespaces, and running the system's network tools
 * inside them.
 *
 * Links, addresses and routes are set with iproute2 (`ip -n NS ...`, its JSON
 * output parsed with jansson) and rule sets with `nft -f` entered into the
 * namespace with setns(2) in the child: both are the kernel's reference
 * userspace, and running them keeps the agent free of raw netlink code.
 * Every argument comes from validated state (netstate.h), never from a
 * request's text.
 */
#ifndef CLOUDLET_NETNS_H
#define CLOUDLET_NETNS_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#define NETNS_OUT_MAX (4 * 1024 * 1024)

/*
 * Run argv (inside namespace ns unless NULL). *out (may be NULL) gets stdout,
 * malloc'd and NUL-terminated. Returns 0, or -EIO with stderr's first line in
 * err when the program failed, or -errno.
 */
int netns_run(const char *ns, const char *const argv[], char **out, char *err, size_t errlen);

/* Does /run/netns/<ns> exist? */
int netns_exists(const char *ns);

/* Create it if missing, bring lo up, turn IPv6 off in it (nothing here
 * speaks IPv6, so no link-local traffic may bypass the IPv4 rules). */
int netns_ensure(const char *ns, char *err, size_t errlen);

/* Remove it (its interfaces go with it; nftx.h forgets its context);
 * missing is success. */
int netns_delete(const char *ns, char *err, size_t errlen);

/* Write value to /proc/sys/<path> as seen from inside ns. */
int netns_sysctl(const char *ns, const char *path, const char *value, char *err,
		 size_t errlen);

/* `ip -j [-n ns] <what> show [dev]` parsed: a JSON array (new reference). */
int netns_ip_json(const char *ns, const char *what, const char *dev, json_t **out, char *err,
		  size_t errlen);

/* Does interface name exist in ns? (1, 0, or -errno) */
int netns_has_link(const char *ns, const char *ifname);

/*
 * Run fn(arg) on the calling thread inside ns (setns: a namespace is per
 * thread), then bring the thread back to its own namespace; a thread that
 * cannot come back aborts the agent rather than go on in a tenant's.
 * Sockets fn opens stay in ns. fn's result, or -errno if ns cannot be
 * entered.
 */
int netns_call(const char *ns, int (*fn)(void *), void *arg);

/*
 * A socket (socket(2)'s domain and type; close-on-exec) that belongs to ns
 * ("" or NULL: the agent's own): a socket stays in the namespace it was
 * made in, so bind/connect/listen on it later reach that network. The
 * calling thread enters ns for the socket() call only. fd or -errno.
 */
int netns_socket(const char *ns, int domain, int type);

/* Start argv inside ns as a new session, stdout/stderr to logpath. Returns
 * the pid or -errno. */
pid_t netns_spawn(const char *ns, const char *const argv[], const char *logpath);

#endif
