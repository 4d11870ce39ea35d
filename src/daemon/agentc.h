/*
 * agentc.h - cloudletd's client of the host agent's control socket
 * (docs/agent-protocol.md). One connection per call: calls come from several
 * threads and some (vm.wait) block for minutes.
 *
 * A call that got no answer says why in its code, so callers can tell a
 * request the agent never saw from one it may have run:
 *
 *   "unreachable"  no connection (socket missing, connection refused: the
 *                  agent is not running or restarting), or the request could
 *                  not be written: the agent did not run it;
 *   "dropped"      the request was sent and the connection ended before the
 *                  answer (the agent was killed or restarted mid-call): it
 *                  may have run it;
 *   "busy"         (from the agent) too many connections: not run;
 *   "tls"          (a host reached over TLS) the handshake failed: the
 *                  agent did not present the pinned certificate (nothing
 *                  was sent), or refused cloudletd's (it ran nothing). Not
 *                  retried. A handshake that found no peer (it went away,
 *                  or stayed silent) is "unreachable".
 *
 * A host with an address (store_host.h) is reached over mutual TLS 1.3
 * (tlsconn.h): cloudletd presents its identity (agentc_init_tls) and
 * accepts the agent only with the fingerprint the host's record pins.
 * Every request carries "v": AGENTC_PROTOCOL (docs/agent-protocol.md).
 */
#ifndef CLOUDLET_AGENTC_H
#define CLOUDLET_AGENTC_H

#include <jansson.h>
#include <stddef.h>

/* How long agentc_call_retry() waits for an agent that is restarting. */
#define AGENTC_RETRY_MS 30000
/* A TCP connection to an agent, and its TLS handshake, at most this long. */
#define AGENTC_CONNECT_MS 5000
#define AGENTC_HANDSHAKE_MS 5000
/* The agent protocol this control plane speaks (an agent's host.info
 * range must include it). */
#define AGENTC_PROTOCOL 1

void agentc_init(const char *socket_path);
/* cloudletd's TLS identity (tlsid.h) in dir, for hosts over TLS: 0 or
 * -errno with err. */
int agentc_init_tls(const char *dir, char *err, size_t errlen);
/* Can this control plane speak to an agent whose host.info is info? 1,
 * or 0 with why. */
int agentc_protocol_ok(const json_t *info, char *why, size_t len);

/*
 * Every call names its host (store_host.h): the socket comes from the
 * host's record ("local" without a record: the --agent-socket path).
 */

/*
 * Run op with args (consumed). 0 and *result (new reference, may be NULL
 * if not wanted); on an agent error -EREMOTEIO with its code in code (at
 * least 32 bytes) and message in err; -errno with code "unreachable" or
 * "dropped" (above) if there was no answer.
 */
int agentc_call(const char *host_id, const char *op, json_t *args, json_t **result,
		char *code, char *err, size_t errlen);
/* The same, waiting at most timeout_ms for the answer (heartbeats):
 * no answer in time is "dropped". */
int agentc_call_timeout(const char *host_id, const char *op, json_t *args, json_t **result,
			char *code, char *err, size_t errlen, int timeout_ms);

/*
 * agentc_call, tried again with backoff (50 ms doubling to 1 s) while the
 * agent is unreachable or busy, for up to budget_ms in all. A "dropped"
 * call is tried again only if idempotent is set (reads, whole-state
 * updates, deletes); otherwise it returns with code "dropped" and the
 * caller finds out from the agent's state (vm.show) what happened.
 * args is consumed.
 */
int agentc_call_retry(const char *host_id, const char *op, json_t *args, json_t **result,
		      char *code, char *err, size_t errlen, unsigned budget_ms, int idempotent);

/* The code says the agent gave no answer (unreachable, dropped, busy). */
int agentc_no_answer(const char *code);

#endif
