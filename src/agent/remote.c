/* remote.c - see remote.h */
#define _GNU_SOURCE
#include "remote.h"

#include <arpa/inet.h>
#include <errno.h>
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
#include "tlsconn.h"
#include "tlsid.h"
#include "util.h"

#define REMOTE_CLIENTS_MAX 16
#define HANDSHAKE_MS 10000

static gnutls_certificate_credentials_t cred;
static struct tlsconn_pin pinned; /* want: the control plane; read only */
static int lfd = -1;
static atomic_int nclients;

/* One connection: the same requests and answers as the unix socket. */
static void
serve(gnutls_session_t s)
{
	struct msg_parser p;
	char err[200];

	if (msg_parser_init(&p, AGENT_REQUEST_MAX) < 0)
		return;
	for (;;) {
		json_t *req = NULL, *reply;
		int r = tlsconn_next(s, &p, &req, err, sizeof(err)), r2;

		if (r == -ECONNRESET || r == -EIO || r == -ETIMEDOUT || r == -EPROTO)
			break;
		if (r < 0) {
			reply = control_refusal(r, err);
			r2 = tlsconn_send(s, reply);
			json_decref(reply);
			if (r == -EBADMSG && r2 == 0)
				continue;
			break;
		}
		reply = control_dispatch(req);
		json_decref(req);
		r = tlsconn_send(s, reply);
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
	struct tlsconn_pin pin = pinned; /* this session's: got is written */
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char ip[INET_ADDRSTRLEN] = "?", why[200];

	/* Before the handshake: a refused peer may be gone after it. */
	if (getpeername(fd, (struct sockaddr *)&sa, &sl) == 0)
		inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
	r = tlsconn_handshake(&s, fd, 1, cred, &pin, HANDSHAKE_MS);
	if (r < 0) {
		tlsconn_why(r, &pin, why, sizeof(why));
		log_warnx("remote: %s refused: %s", ip, why);
		goto out;
	}
	serve(s);
	gnutls_bye(s, GNUTLS_SHUT_WR);
	gnutls_deinit(s);
out:
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

int
remote_start(const char *addr, const char *tls_dir, char *err, size_t errlen)
{
	char fpr[TLSID_FPR_LEN + 1];
	struct sockaddr_in sa;
	pthread_t t;
	int one = 1, r;

	if (util_parse_ipv4_port(addr, &sa) < 0) {
		snprintf(err, errlen, "--listen: IPv4:port, not '%s'", addr);
		return -EINVAL;
	}
	if (tlsid_pinned(tls_dir, pinned.want) < 0) {
		snprintf(err, errlen, "no control plane is pinned in %s/peer.fpr (cloudlet-agent "
			 "join, or cloudlet-agent pin)", tls_dir);
		return -ENOENT;
	}
	if ((r = tlsid_ensure(tls_dir, "cloudlet-agent", fpr, err, errlen)) < 0)
		return r;
	if ((r = tlsconn_cred(tls_dir, &cred, err, errlen)) < 0)
		return r;
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
		 fpr, pinned.want);
	return 0;
}
