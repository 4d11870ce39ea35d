/*
 * control.h - the agent's control socket.
 *
 * A unix stream socket; each line a JSON request, each answered by one JSON
 * line (docs/agent-protocol.md is the reference):
 *   -> {"op": "vm.create", "args": {...}}
 *   <- {"ok": true, "result": ...}
 *   <- {"ok": false, "error": {"code": "invalid", "message": "..."}}
 * One thread per connection; a connection that sends a line longer than
 * AGENT_REQUEST_MAX (512 KiB) or anything that is not a JSON object gets an error and is closed.
 */
#ifndef CLOUDLET_CONTROL_H
#define CLOUDLET_CONTROL_H

#include <jansson.h>
#include <sys/types.h>

#define CONTROL_CLIENTS_MAX 64
/* The protocol versions this agent speaks (docs/agent-protocol.md): a
 * request's optional "v" must be one of them; host.info tells. */
#define CONTROL_PROTOCOL_MIN 1
#define CONTROL_PROTOCOL_MAX 1
#define AGENT_REQUEST_MAX (512 * 1024) /* a request line, its newline included */

/* Create the listening socket (mode 0660, group gid if not -1). */
int control_listen(const char *path, gid_t gid);
/* Accept connections forever. */
void control_serve(int lfd);

/* Answer one request (exposed for tests and fuzzing): new reference. */
json_t *control_dispatch(const json_t *req);

/* The answer to a line the reader refused (r from msg_read or
 * msg_parser_next, why its reason): new reference. After -EBADMSG the
 * connection goes on; after anything else it is closed. */
json_t *control_refusal(int r, const char *why);

#endif
