/*
 * tlsconn.h - one pinned mutual TLS 1.3 connection (GnuTLS) carrying the
 * agent protocol's newline JSON (msg.h), for both of its ends: the agent's
 * listener (src/agent/remote.c) and cloudletd's client of agents
 * (src/daemon/agentc.c). docs/hosts.md says what is pinned where.
 *
 * No certificate authority: each side loads its own identity (tlsid.h)
 * and accepts the peer only if the SHA-256 of the peer's certificate is
 * exactly the fingerprint it pinned. The check runs inside the handshake,
 * so a wrong or missing certificate fails it before any byte of a request
 * or an answer is sent. TLS 1.3 only.
 */
#ifndef CLOUDLET_TLSCONN_H
#define CLOUDLET_TLSCONN_H

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <stddef.h>

#include "msg.h"
#include "tlsid.h"

/* What a session pins, and what the peer presented (for the error). */
struct tlsconn_pin {
	char want[TLSID_FPR_LEN + 1];
	char got[TLSID_FPR_LEN + 1]; /* "" if the peer sent no certificate */
};

/*
 * Load dir's identity (cert.pem, key.pem) into *cred with the pinning
 * check installed. 0, or -errno with err. The caller frees *cred with
 * gnutls_certificate_free_credentials.
 */
int tlsconn_cred(const char *dir, gnutls_certificate_credentials_t *cred, char *err,
		 size_t errlen);

/*
 * The handshake on a connected fd (not closed here): as the server
 * (server != 0: a client certificate is required) or the client. pin
 * (kept by the caller until *s is freed) says what the peer must present.
 * 0 and *s, or a negative GnuTLS code (*s freed and NULL); pin->got then
 * tells a wrong certificate from other failures.
 */
int tlsconn_handshake(gnutls_session_t *s, int fd, int server,
		      gnutls_certificate_credentials_t cred, struct tlsconn_pin *pin,
		      int timeout_ms);

/* A failed handshake in words ("the peer's certificate ... is not the
 * pinned one", or GnuTLS's reason). */
void tlsconn_why(int gnutls_rc, const struct tlsconn_pin *pin, char *buf, size_t len);

/* Send one message and its newline: 0 or -EIO. */
int tlsconn_send(gnutls_session_t s, const json_t *msg);

/*
 * The next message from the session into p (msg_parser_init'ed by the
 * caller), reading as needed: 0 and *out, -EMSGSIZE or -EBADMSG (as
 * msg_parser_next, err says why), -ECONNRESET at the end of the stream,
 * -ETIMEDOUT (gnutls_record_set_timeout), -EPROTO a fatal alert (in TLS
 * 1.3 a server refuses the client's certificate after the client's
 * handshake has ended: this is how the client learns it), -EIO.
 */
int tlsconn_next(gnutls_session_t s, struct msg_parser *p, json_t **out, char *err,
		 size_t errlen);

#endif
