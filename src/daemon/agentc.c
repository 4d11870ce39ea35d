/* agentc.c - see agentc.h */
#define _GNU_SOURCE
#include "agentc.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "store_host.h"
#include "tlsconn.h"
#include "util.h"

static char sock_path[512] = "/run/cloudlet/agent.sock";
/* cloudletd's identity for agents over TLS (NULL: none loaded). */
static gnutls_certificate_credentials_t tls_cred;

/* How to reach a host's agent. */
static int
host_endpoint(const char *host_id, struct host_endpoint *ep)
{
	if (store_host_endpoint(host_id, ep) == 0)
		return 0;
	if (strcmp(host_id, HOST_LOCAL) == 0) {
		memset(ep, 0, sizeof(*ep));
		snprintf(ep->socket, sizeof(ep->socket), "%s", sock_path);
		return 0;
	}
	return -ENOENT;
}

void
agentc_init(const char *socket_path)
{
	snprintf(sock_path, sizeof(sock_path), "%s", socket_path);
}

int
agentc_init_tls(const char *dir, char *err, size_t errlen)
{
	return tlsconn_cred(dir, &tls_cred, err, errlen);
}

/*
 * One exchange over the unix socket; *sent says whether the whole request
 * was written (after that, a broken connection may follow a request the
 * agent ran).
 */
static int
exchange(const char *path, const json_t *req, json_t **reply, int *sent, int timeout_ms)
{
	struct msg_reader rd;
	int fd, r;

	*reply = NULL;
	*sent = 0;
	fd = msg_connect_unix(path);
	if (fd < 0)
		return fd;
	r = msg_write(fd, req);
	if (r == 0) {
		*sent = 1;
		if ((r = msg_reader_init(&rd, fd, MSG_MAX_RESPONSE)) == 0) {
			r = msg_read(&rd, reply, timeout_ms);
			msg_reader_free(&rd);
		}
	}
	close(fd);
	return r;
}

/* ms, or the call's timeout if that is shorter (heartbeats: 2 s). */
static int
bounded(int ms, int timeout_ms)
{
	return timeout_ms >= 0 && timeout_ms < ms ? timeout_ms : ms;
}

/* A handshake that failed for want of a peer (gone, silent), not for its
 * certificate: as unreachable as a refused connection. */
static int
no_peer(int rc, const struct tlsconn_pin *pin)
{
	return pin->got[0] == '\0' &&
	       (rc == GNUTLS_E_TIMEDOUT || rc == GNUTLS_E_PULL_ERROR || rc == GNUTLS_E_PUSH_ERROR ||
		rc == GNUTLS_E_PREMATURE_TERMINATION);
}

/*
 * The same over mutual TLS to the agent's address: nothing is sent unless
 * the agent presents the pinned certificate, and the agent runs nothing
 * unless it accepts cloudletd's (either: -EPROTO, why in tls_why). The
 * connection and the handshake take at most AGENTC_CONNECT_MS and
 * AGENTC_HANDSHAKE_MS, or timeout_ms if shorter.
 */
static int
exchange_tls(const struct host_endpoint *ep, const json_t *req, json_t **reply, int *sent,
	     int timeout_ms, char *tls_why, size_t whylen)
{
	struct tlsconn_pin pin;
	struct msg_parser p;
	gnutls_session_t s;
	char err[160];
	int fd, r;

	*reply = NULL;
	*sent = 0;
	if (tls_cred == NULL || tlsid_fpr_parse(ep->fingerprint, pin.want) < 0) {
		snprintf(tls_why, whylen, "no identity or no pinned fingerprint");
		return -EPROTO;
	}
	if ((fd = util_tcp_connect(ep->address, bounded(AGENTC_CONNECT_MS, timeout_ms))) < 0)
		return fd;
	r = tlsconn_handshake(&s, fd, 0, tls_cred, &pin,
			      bounded(AGENTC_HANDSHAKE_MS, timeout_ms));
	if (r < 0) {
		tlsconn_why(r, &pin, tls_why, whylen);
		close(fd);
		return no_peer(r, &pin) ? -ECONNRESET : -EPROTO;
	}
	r = tlsconn_send(s, req);
	if (r == 0) {
		*sent = 1;
		gnutls_record_set_timeout(s, timeout_ms < 0 ? 0 : (unsigned)timeout_ms);
		if ((r = msg_parser_init(&p, MSG_MAX_RESPONSE)) == 0) {
			r = tlsconn_next(s, &p, reply, err, sizeof(err));
			msg_parser_free(&p);
		}
		if (r == -EPROTO)
			snprintf(tls_why, whylen, "it refused cloudletd's certificate (%s)",
				 gnutls_alert_get_name(gnutls_alert_get(s)) ?: "alert");
		else
			gnutls_bye(s, GNUTLS_SHUT_WR);
	}
	gnutls_deinit(s);
	close(fd);
	return r;
}

int
agentc_call_timeout(const char *host_id, const char *op, json_t *args, json_t **result,
		    char *code, char *err, size_t errlen, int timeout_ms)
{
	json_t *req = json_pack("{s:i, s:s, s:o}", "v", AGENTC_PROTOCOL, "op", op, "args",
				args ? args : json_object());
	json_t *reply = NULL;
	struct host_endpoint ep = {0};
	char where[520], why[200] = "";
	int sent = 0, r;

	snprintf(code, 32, "internal");
	err[0] = '\0';
	if (result != NULL)
		*result = NULL;
	if (req == NULL) {
		snprintf(err, errlen, "cannot build the request %s", op);
		return -ENOMEM;
	}
	r = host_endpoint(host_id, &ep);
	if (r < 0)
		snprintf(where, sizeof(where), "no such host");
	else if (ep.address[0] != '\0') {
		snprintf(where, sizeof(where), "%s", ep.address);
		r = exchange_tls(&ep, req, &reply, &sent, timeout_ms, why, sizeof(why));
	} else {
		snprintf(where, sizeof(where), "%s", ep.socket);
		r = exchange(ep.socket, req, &reply, &sent, timeout_ms);
	}
	json_decref(req);
	/* A refused handshake, either way: the agent ran nothing. */
	if (r == -EPROTO && ep.address[0] != '\0') {
		snprintf(code, 32, "tls");
		snprintf(err, errlen, "the host agent of %s at %s was refused: %s; nothing was run",
			 host_id, where, why);
		return r;
	}
	if (r < 0) {
		if (!sent) {
			snprintf(code, 32, "unreachable");
			snprintf(err, errlen, "the host agent of %s is unreachable (%s): %s",
				 host_id, where, strerror(-r));
		} else {
			snprintf(code, 32, "dropped");
			snprintf(err, errlen,
				 "the host agent of %s ended the connection during %s (%s)", host_id,
				 op, strerror(-r));
		}
		return r;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_t *e = json_object_get(reply, "error");

		snprintf(code, 32, "%s", json_string_value(json_object_get(e, "code")) ?: "?");
		snprintf(err, errlen, "%s",
			 json_string_value(json_object_get(e, "message")) ?: "agent error");
		json_decref(reply);
		return -EREMOTEIO;
	}
	if (result != NULL)
		*result = json_incref(json_object_get(reply, "result"));
	json_decref(reply);
	return 0;
}

int
agentc_call(const char *host_id, const char *op, json_t *args, json_t **result, char *code,
	    char *err, size_t errlen)
{
	return agentc_call_timeout(host_id, op, args, result, code, err, errlen, -1);
}

int
agentc_no_answer(const char *code)
{
	return strcmp(code, "unreachable") == 0 || strcmp(code, "dropped") == 0 ||
	       strcmp(code, "busy") == 0;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int
agentc_call_retry(const char *host_id, const char *op, json_t *args, json_t **result,
		  char *code, char *err, size_t errlen, unsigned budget_ms, int idempotent)
{
	uint64_t start = util_now_ms();
	unsigned delay = 50, tries = 0;
	int r;

	if (args == NULL)
		args = json_object();
	for (;;) {
		uint64_t spent;

		tries++;
		r = agentc_call(host_id, op, json_incref(args), result, code, err, errlen);
		if (r == 0 || !agentc_no_answer(code))
			break;
		if (strcmp(code, "dropped") == 0 && !idempotent)
			break;
		spent = util_now_ms() - start;
		if (spent + delay > budget_ms)
			break;
		if (tries == 1)
			log_info("agent %s: %s: %s; trying again for up to %u s", host_id, op, err,
				 budget_ms / 1000);
		sleep_ms(delay);
		delay = delay * 2 > 1000 ? 1000 : delay * 2;
	}
	if (tries > 1)
		log_info("agent %s: %s %s after %u tries in %llu ms", host_id, op,
			 r == 0 ? "answered" : "still failing", tries,
			 (unsigned long long)(util_now_ms() - start));
	json_decref(args);
	return r;
}

int
agentc_protocol_ok(const json_t *info, char *why, size_t len)
{
	const json_t *pr = json_object_get(info, "protocol");
	json_int_t lo = json_integer_value(json_object_get(pr, "min"));
	json_int_t hi = json_integer_value(json_object_get(pr, "max"));

	if (json_is_integer(json_object_get(pr, "min")) && lo <= AGENTC_PROTOCOL &&
	    AGENTC_PROTOCOL <= hi)
		return 1;
	snprintf(why, len,
		 "protocol: the agent speaks versions %lld-%lld, this control plane speaks %d",
		 (long long)lo, (long long)hi, AGENTC_PROTOCOL);
	return 0;
}
