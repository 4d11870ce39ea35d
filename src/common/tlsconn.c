/* tlsconn.c - see tlsconn.h */
#define _GNU_SOURCE
#include "tlsconn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TLS 1.3 only: no older version, no renegotiation to think about. */
#define PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3"

/* The handshake's check of the peer: exactly the pinned certificate. */
static int
verify_peer(gnutls_session_t s)
{
	struct tlsconn_pin *pin = gnutls_session_get_ptr(s);
	const gnutls_datum_t *certs;
	unsigned n = 0;

	if (pin == NULL)
		return GNUTLS_E_CERTIFICATE_ERROR;
	pin->got[0] = '\0';
	certs = gnutls_certificate_get_peers(s, &n);
	if (certs == NULL || n == 0)
		return GNUTLS_E_CERTIFICATE_ERROR;
	if (tlsid_fpr_der(certs[0].data, certs[0].size, pin->got) < 0) {
		pin->got[0] = '\0';
		return GNUTLS_E_CERTIFICATE_ERROR;
	}
	return tlsid_fpr_equal(pin->got, pin->want) ? 0 : GNUTLS_E_CERTIFICATE_ERROR;
}

int
tlsconn_cred(const char *dir, gnutls_certificate_credentials_t *cred, char *err, size_t errlen)
{
	char cert[600], key[600];

	*cred = NULL;
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	if (gnutls_certificate_allocate_credentials(cred) < 0 ||
	    gnutls_certificate_set_x509_key_file(*cred, cert, key, GNUTLS_X509_FMT_PEM) < 0) {
		if (*cred != NULL)
			gnutls_certificate_free_credentials(*cred);
		*cred = NULL;
		snprintf(err, errlen, "cannot load the TLS identity in %s", dir);
		return -EINVAL;
	}
	gnutls_certificate_set_verify_function(*cred, verify_peer);
	return 0;
}

int
tlsconn_handshake(gnutls_session_t *s, int fd, int server,
		  gnutls_certificate_credentials_t cred, struct tlsconn_pin *pin, int timeout_ms)
{
	int r;

	pin->got[0] = '\0';
	*s = NULL;
	if ((r = gnutls_init(s, server ? GNUTLS_SERVER : GNUTLS_CLIENT)) < 0 ||
	    (r = gnutls_priority_set_direct(*s, PRIORITY, NULL)) < 0 ||
	    (r = gnutls_credentials_set(*s, GNUTLS_CRD_CERTIFICATE, cred)) < 0)
		goto fail;
	gnutls_session_set_ptr(*s, pin);
	if (server)
		gnutls_certificate_server_set_request(*s, GNUTLS_CERT_REQUIRE);
	gnutls_transport_set_int(*s, fd);
	gnutls_handshake_set_timeout(*s, (unsigned)timeout_ms);
	do
		r = gnutls_handshake(*s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r == 0)
		return 0;
	/* Tell the peer why (bad certificate, ...) rather than just closing. */
	gnutls_alert_send_appropriate(*s, r);
fail:
	if (*s != NULL)
		gnutls_deinit(*s);
	*s = NULL;
	return r < 0 ? r : GNUTLS_E_INTERNAL_ERROR;
}

void
tlsconn_why(int rc, const struct tlsconn_pin *pin, char *buf, size_t len)
{
	if (pin->got[0] != '\0' && !tlsid_fpr_equal(pin->got, pin->want))
		snprintf(buf, len, "its certificate %.16s... is not the pinned %.16s...", pin->got,
			 pin->want);
	else
		snprintf(buf, len, "%s", gnutls_strerror(rc));
}

static int
send_all(gnutls_session_t s, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = gnutls_record_send(s, buf, len);

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n < 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
tlsconn_send(gnutls_session_t s, const json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	int r;

	if (text == NULL)
		return -ENOMEM;
	r = send_all(s, text, strlen(text));
	if (r == 0)
		r = send_all(s, "\n", 1);
	free(text);
	return r;
}

int
tlsconn_next(gnutls_session_t s, struct msg_parser *p, json_t **out, char *err, size_t errlen)
{
	char buf[16384];

	for (;;) {
		int r = msg_parser_next(p, out, err, errlen);
		size_t room;
		ssize_t n;

		if (r != -EAGAIN)
			return r;
		/* -EAGAIN means there is room: read no more than it, so
		 * nothing is ever left over (as msg_read does). */
		room = msg_parser_room(p);
		n = gnutls_record_recv(s, buf, room < sizeof(buf) ? room : sizeof(buf));
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n == GNUTLS_E_TIMEDOUT)
			return -ETIMEDOUT;
		if (n == GNUTLS_E_FATAL_ALERT_RECEIVED)
			return -EPROTO;
		if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION)
			return -ECONNRESET;
		if (n < 0)
			return -EIO;
		msg_parser_feed(p, buf, (size_t)n);
	}
}
