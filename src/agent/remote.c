/* remote.c - see remote.h */
#define _GNU_SOURCE
#include "remote.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "msg.h"
#include "tlsid.h"
#include "util.h"

#define REMOTE_CLIENTS_MAX 16
#define HANDSHAKE_MS 10000
/* TLS 1.3 only: no older version, no renegotiation to think about. */
#define PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3"

static gnutls_certificate_credentials_t cred;
static char pinned[TLSID_FPR_LEN + 1];
static int lfd = -1;
static atomic_int nclients;

/* The handshake's check of the client: exactly the pinned certificate. */
static int
verify_peer(gnutls_session_t s)
{
	const gnutls_datum_t *certs;
	unsigned n = 0;
	char fpr[TLSID_FPR_LEN + 1];

	certs = gnutls_certificate_get_peers(s, &n);
	if (certs == NULL || n == 0)
		return GNUTLS_E_CERTIFICATE_ERROR;
	if (tlsid_fpr_der(certs[0].data, certs[0].size, fpr) < 0 || !tlsid_fpr_equal(fpr, pinned))
		return GNUTLS_E_CERTIFICATE_ERROR;
	return 0;
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

static int
send_msg(gnutls_session_t s, json_t *msg)
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

/* One connection: the same requests and answers as the unix socket. */
static void
serve(gnutls_session_t s)
{
	struct msg_parser p;
	char buf[16384], err[200];

	if (msg_parser_init(&p, AGENT_REQUEST_MAX) < 0)
		return;
	for (;;) {
		json_t *req = NULL, *reply;
		int r = msg_parser_next(&p, &req, err, sizeof(err)), r2;

		if (r == -EAGAIN) {
			/* -EAGAIN means there is room: read no more than it,
			 * so nothing is ever left over (as msg_read does). */
			size_t room = msg_parser_room(&p);
			ssize_t n = gnutls_record_recv(s, buf, room < sizeof(buf) ? room : sizeof(buf));

			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n <= 0)
				break;
			msg_parser_feed(&p, buf, (size_t)n);
			continue;
		}
		if (r < 0) {
			reply = control_refusal(r, err);
			r2 = send_msg(s, reply);
			json_decref(reply);
			if (r == -EBADMSG && r2 == 0)
				continue;
			break;
		}
		reply = control_dispatch(req);
		json_decref(req);
		r = send_msg(s, reply);
		json_decref(reply);
		if (r < 0)
			break;
	}
	msg_parser_free(&p);
}

static void *
client(void *arg)
{
	int fd = (int)(intptr_t)arg, r;
	gnutls_session_t s = NULL;

	if (gnutls_init(&s, GNUTLS_SERVER) < 0 ||
	    gnutls_priority_set_direct(s, PRIORITY, NULL) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) < 0)
		goto out;
	gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, HANDSHAKE_MS);
	do
		r = gnutls_handshake(s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0) {
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		char ip[INET_ADDRSTRLEN] = "?";

		if (getpeername(fd, (struct sockaddr *)&sa, &sl) == 0)
			inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
		log_warnx("remote: %s refused: %s", ip, gnutls_strerror(r));
		goto out;
	}
	serve(s);
	gnutls_bye(s, GNUTLS_SHUT_WR);
out:
	if (s != NULL)
		gnutls_deinit(s);
	close(fd);
	atomic_fetch_sub(&nclients, 1);
	return NULL;
}

static void *
acceptor(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_t t;
		pthread_attr_t attr;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EINTR)
				log_warn("remote: accept");
			continue;
		}
		if (atomic_fetch_add(&nclients, 1) >= REMOTE_CLIENTS_MAX) {
			close(fd);
			atomic_fetch_sub(&nclients, 1);
			continue;
		}
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, client, (void *)(intptr_t)fd) != 0) {
			close(fd);
			atomic_fetch_sub(&nclients, 1);
		}
		pthread_attr_destroy(&attr);
	}
	return NULL;
}

/* "a.b.c.d:port" into sa. */
static int
parse_addr(const char *addr, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(addr, ':');
	unsigned port;

	if (colon == NULL || (size_t)(colon - addr) >= sizeof(host) ||
	    util_parse_uint(colon + 1, 65535, &port) < 0 || port == 0)
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

int
remote_start(const char *addr, const char *tls_dir, char *err, size_t errlen)
{
	char path[600], cert[600], key[600], fpr[TLSID_FPR_LEN + 1], *text = NULL;
	struct sockaddr_in sa;
	pthread_t t;
	size_t len;
	int one = 1, r;

	if (parse_addr(addr, &sa) < 0) {
		snprintf(err, errlen, "--listen: IPv4:port, not '%s'", addr);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/peer.fpr", tls_dir);
	if (util_read_file(path, 256, &text, &len) < 0 || tlsid_fpr_parse(text, pinned) < 0) {
		free(text);
		snprintf(err, errlen, "no control plane is pinned in %s (cloudlet-agent join, or "
			 "cloudlet-agent pin)", path);
		return -ENOENT;
	}
	free(text);
	if ((r = tlsid_ensure(tls_dir, "cloudlet-agent", fpr, err, errlen)) < 0)
		return r;
	snprintf(cert, sizeof(cert), "%s/cert.pem", tls_dir);
	snprintf(key, sizeof(key), "%s/key.pem", tls_dir);
	if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_certificate_set_x509_key_file(cred, cert, key, GNUTLS_X509_FMT_PEM) < 0) {
		snprintf(err, errlen, "cannot load the agent's identity from %s", tls_dir);
		return -EINVAL;
	}
	gnutls_certificate_set_verify_function(cred, verify_peer);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", addr, strerror(errno));
		return r;
	}
	if ((r = pthread_create(&t, NULL, acceptor, NULL)) != 0) {
		snprintf(err, errlen, "cannot start the listener");
		return -r;
	}
	pthread_detach(t);
	log_info("listening on %s (TLS 1.3; this agent %.16s..., control plane %.16s...)", addr,
		 fpr, pinned);
	return 0;
}
