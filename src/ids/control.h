/*
 * control.h - the sensor's control socket (cloudlet-ids serve --control).
 * This comment is the reference for the wire format; docs/ids.md repeats
 * it for the agent's side.
 *
 * A unix stream socket, mode 0600, owned by the sensor's user; only root
 * and that user may connect (SO_PEERCRED). One JSON object per line, at
 * most CONTROL_LINE_MAX bytes (a longer line closes the connection), in
 * both directions, one reply per request, in order:
 *
 *   -> {"op": "<op>", "args": {...}}
 *   <- {"ok": true, "result": ...}
 *   <- {"ok": false, "error": {"code": "invalid|not_found|conflict|internal", "message": "..."}}
 *
 * Operations:
 *   hello            {}                       -> {"version": 1, "networks": [ids], "captures": [...]}
 *   network.set      a network's configuration (netcfg.h)
 *                                             -> {"loaded", "skipped", "skipped_by_reason",
 *                                                 "load_ms", "hyperscan_bytes"}
 *                    Adds the network, or replaces its configuration and rule set
 *                    (a reload: the new rules are compiled on another thread while
 *                    inspection goes on with the old ones, then swapped in; its
 *                    captures and flows stay). The reply comes when that is done;
 *                    later requests on the same connection wait for it.
 *   network.delete   {"network_id"}           -> null (its captures are closed)
 *   capture.add      {"network_id", "iface"}  + exactly one descriptor passed with
 *                    SCM_RIGHTS in the same sendmsg() as the line: an AF_PACKET
 *                    SOCK_RAW socket already bound to the interface (in the tenant's
 *                    namespace). -> {"capture_id": n, "ring": true|false}
 *   capture.remove   {"capture_id"}           -> null
 *   suppress.set     {"network_id", "suppress": [...]} (netcfg.h) -> null
 *   stats            {"network_id"?}          -> {network_id: {counters}}
 *   rules.skipped    {"network_id", "max"?}   -> [{"sid", "where", "reason"}]
 *
 * A descriptor that arrives with any other op, or without a capture.add, is
 * closed. The sensor keeps its networks and captures when the connection
 * closes; when the sensor restarts, the agent sends everything again.
 */
#ifndef CLOUDLET_IDS_CONTROL_H
#define CLOUDLET_IDS_CONTROL_H

#include <jansson.h>

#include "capture.h"
#include "sensor.h"

#define CONTROL_LINE_MAX (2u << 20) /* custom rules are up to 1 MiB, JSON-escaped */
#define CONTROL_CONNS_MAX 8
#define CONTROL_FDS_MAX 8

struct control_conn {
	int fd;
	char *buf;
	size_t len;
	int fds[CONTROL_FDS_MAX];
	int nfds;
	uint32_t gen;  /* tells a reused slot from the connection a build was for */
	int waiting;   /* a network.set is compiling: its reply comes first */
};

struct builder;

struct control {
	int lfd;
	struct control_conn conns[CONTROL_CONNS_MAX];
	struct sensor *s;
	struct capture *caps;
	struct builder *b; /* NULL: network.set compiles in the caller's thread */
	uint32_t next_capture, next_gen;
	uid_t uid;
};

int control_listen(struct control *c, struct sensor *s, const char *path, char *err,
		   size_t errlen);
void control_accept(struct control *c);
/* Read what conn i has; process complete lines. Closes it on EOF/error. */
void control_read(struct control *c, int i);
/* One request of connection i to its reply (new reference), or NULL when
 * the reply comes later (a network.set compiling on the builder); fd: a
 * passed descriptor or -1 (taken by capture.add, else closed). */
json_t *control_dispatch(struct control *c, int i, const json_t *req, int fd);
/* Install the rule sets the builder finished and answer their requests. */
void control_builds_done(struct control *c);
void control_close_all(struct control *c);
const char *control_iface_name(void *arg, uint32_t ifid);

#endif
