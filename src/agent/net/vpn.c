/* vpn.c - see vpn.h */
#define _GNU_SOURCE
#include "vpn.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"
#include "links.h"
#include "log.h"
#include "netns.h"
#include "util.h"

#define UAPI_DIR "/var/run/wireguard"
#define UAPI_MAX (1024 * 1024) /* 256 peers' "get" is ~100 KiB */
#define VPN_MTU 1420           /* 1500 minus WireGuard's IPv4 overhead (80) */
/* `ip -n NS` (or, for "" = the agent's own namespace, a harmless -4 -4). */
#define NSF(ns) ((ns)[0] ? "-n" : "-4")
#define NSV(ns) ((ns)[0] ? (ns) : "-4")

struct uapi_peer {
	char key[65]; /* hex */
	long long handshake;
	unsigned long long rx, tx;
	char endpoint[64];
};

struct uapi_state {
	int key_same;   /* the interface holds the desired private key */
	unsigned port;
	size_t n;
	struct uapi_peer *peers;
};

int
vpn_ifname(const char *prefix, const char *tenant_hash, char *out, size_t len)
{
	int n = snprintf(out, len, "%sw%s", prefix, tenant_hash);

	return n < 0 || (size_t)n >= len || n > 15 ? -ENAMETOOLONG : 0;
}

static void
paths(const char *dir, const char *ifname, char *pidf, char *logf, char *sock, size_t len)
{
	snprintf(pidf, len, "%s/wg.pid", dir);
	snprintf(logf, len, "%s/wg.log", dir);
	snprintf(sock, len, UAPI_DIR "/%s.sock", ifname);
}

int
vpn_alive(const char *ifname, pid_t pid)
{
	struct helper h = {"wireguard-go", ifname, NULL, NULL};

	return helper_alive(&h, pid);
}

pid_t
vpn_adopt(const char *dir, const char *ifname)
{
	char pidf[700], logf[700], sock[700];
	struct helper h = {"wireguard-go", ifname, pidf, logf};

	paths(dir, ifname, pidf, logf, sock, sizeof(pidf));
	return helper_adopt(&h);
}

static void
hex(const uint8_t *k, char out[65])
{
	static const char d[] = "0123456789abcdef";

	for (int i = 0; i < NET_VPN_KEY_LEN; i++) {
		out[2 * i] = d[k[i] >> 4];
		out[2 * i + 1] = d[k[i] & 15];
	}
	out[64] = '\0';
}

static int
uapi_connect(const char *ifname)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {5, 0};
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), UAPI_DIR "/%s.sock", ifname);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read the answer up to its closing blank line; *out is NUL-terminated
 * and may hold the private key (the caller wipes it). */
static int
read_answer(int fd, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *nb;

			if (cap >= UAPI_MAX || (nb = malloc(cap * 2)) == NULL)
				goto fail;
			memcpy(nb, buf, n);
			explicit_bzero(buf, n);
			free(buf);
			buf = nb;
			cap *= 2;
		}
		r = recv(fd, buf + n, cap - n - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		n += (size_t)r;
		buf[n] = '\0';
		if ((n == 1 && buf[0] == '\n') || (n >= 2 && strcmp(buf + n - 2, "\n\n") == 0))
			break;
	}
	*out = buf;
	*len = n;
	return 0;
fail:
	explicit_bzero(buf, n);
	free(buf);
	return -EIO;
}

/* The errno= line of a set's answer: 0 or -(that errno). */
static int
answer_errno(const char *a)
{
	const char *e = strstr(a, "errno=");
	unsigned v;
	char num[16];
	size_t k = 0;

	if (e == NULL)
		return -EPROTO;
	for (e += 6; *e >= '0' && *e <= '9' && k + 1 < sizeof(num); e++)
		num[k++] = *e;
	num[k] = '\0';
	if (util_parse_uint(num, 100000, &v) < 0)
		return -EPROTO;
	return v == 0 ? 0 : -(int)v;
}

static void
state_line(struct uapi_state *s, const char *want_key, const char *k, const char *v)
{
	struct uapi_peer *p = s->n ? &s->peers[s->n - 1] : NULL;

	if (strcmp(k, "private_key") == 0)
		s->key_same = strlen(v) == 64 && strlen(want_key) == 64 &&
			      sodium_memcmp(v, want_key, 64) == 0;
	else if (strcmp(k, "listen_port") == 0)
		util_parse_uint(v, 65535, &s->port);
	else if (strcmp(k, "public_key") == 0 && strlen(v) == 64) {
		struct uapi_peer *np = reallocarray(s->peers, s->n + 1, sizeof(*np));

		if (np == NULL)
			return;
		s->peers = np;
		p = &np[s->n++];
		memset(p, 0, sizeof(*p));
		memcpy(p->key, v, 65);
	} else if (p != NULL && strcmp(k, "last_handshake_time_sec") == 0)
		p->handshake = strtoll(v, NULL, 10);
	else if (p != NULL && strcmp(k, "rx_bytes") == 0)
		p->rx = strtoull(v, NULL, 10);
	else if (p != NULL && strcmp(k, "tx_bytes") == 0)
		p->tx = strtoull(v, NULL, 10);
	else if (p != NULL && strcmp(k, "endpoint") == 0)
		snprintf(p->endpoint, sizeof(p->endpoint), "%s", v);
}

/* UAPI get=1, parsed; want_key (hex, may be NULL) is compared, never kept. */
static int
uapi_get(const char *ifname, const char *want_key, struct uapi_state *s)
{
	char *ans = NULL, *save = NULL, *line;
	size_t len = 0;
	int fd, r;

	memset(s, 0, sizeof(*s));
	if ((fd = uapi_connect(ifname)) < 0)
		return fd;
	r = write_all(fd, "get=1\n\n", 7);
	if (r == 0)
		r = read_answer(fd, &ans, &len);
	close(fd);
	if (r < 0)
		return r;
	r = answer_errno(ans);
	for (line = strtok_r(ans, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (eq == NULL)
			continue;
		*eq = '\0';
		state_line(s, want_key ? want_key : "", line, eq + 1);
	}
	explicit_bzero(ans, len);
	free(ans);
	if (r < 0) {
		free(s->peers);
		memset(s, 0, sizeof(*s));
	}
	return r;
}

static int
peer_wanted(const struct net_vpn *v, long long now, const char *key)
{
	char h[65];

	for (unsigned i = 0; i < v->n_peers; i++) {
		hex(v->peers[i].public_key, h);
		if (strcmp(h, key) == 0)
			return !netstate_vpn_expired(&v->peers[i], now);
	}
	return 0;
}

/* Does the gateway know where the peer is already? Then a configured
 * endpoint is not sent again: the peer may have roamed. */
static int
endpoint_known(const struct uapi_state *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->peers[i].key, key) == 0)
			return s->peers[i].endpoint[0] != '\0' &&
			       strcmp(s->peers[i].endpoint, "(none)") != 0;
	return 0;
}

/* The peers' part of a set: removals, then every wanted peer's allowed
 * IPs replaced (an unchanged peer keeps its session and endpoint). */
static char *
peers_text(const struct net_vpn *v, const struct uapi_state *s, long long now)
{
	static const uint8_t zero[NET_VPN_KEY_LEN];
	char *buf = NULL, h[65], ip[16], ip_psk[65];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		if (!peer_wanted(v, now, s->peers[i].key))
			fprintf(f, "public_key=%s\nremove=true\n", s->peers[i].key);
	for (unsigned i = 0; i < v->n_peers; i++) {
		const struct net_vpn_peer *p = &v->peers[i];

		if (netstate_vpn_expired(p, now))
			continue;
		hex(p->public_key, h);
		fprintf(f, "public_key=%s\nreplace_allowed_ips=true\n", h);
		for (unsigned k = 0; k < p->n_allowed; k++) {
			netstate_ip(p->allowed[k].addr, ip, sizeof(ip));
			fprintf(f, "allowed_ip=%s/%u\n", ip, p->allowed[k].prefix);
		}
		for (unsigned k = 0; k < p->n_routes; k++) {
			netstate_ip(p->routes[k].addr, ip, sizeof(ip));
			fprintf(f, "allowed_ip=%s/%u\n", ip, p->routes[k].prefix);
		}
		/* Always said: all zeros takes a removed one away. */
		hex(p->has_psk ? p->psk : zero, ip_psk);
		fprintf(f, "preshared_key=%s\n", ip_psk);
		explicit_bzero(ip_psk, sizeof(ip_psk));
		if (p->endpoint && !endpoint_known(s, h)) {
			netstate_ip(p->endpoint, ip, sizeof(ip));
			fprintf(f, "endpoint=%s:%u\n", ip, p->endpoint_port);
		}
	}
	fputc('\n', f);
	if (fclose(f) != 0) {
		free(buf); /* XXX not wiped: open_memstream's buffer is gone */
		return NULL;
	}
	return buf;
}

static int
uapi_sync(const char *ifname, const struct net_vpn *v, long long now, char *err, size_t errlen)
{
	char want[65], head[200], *peers = NULL, *ans = NULL;
	struct uapi_state s;
	size_t alen;
	int fd = -1, r;

	hex(v->private_key, want);
	if ((r = uapi_get(ifname, want, &s)) < 0) {
		snprintf(err, errlen, "vpn: cannot read the gateway's state: %s", strerror(-r));
		goto out;
	}
	/* The key line is built on the stack and wiped: it is never in a
	 * log, an argv or a heap buffer of ours. */
	snprintf(head, sizeof(head), "set=1\n");
	if (!s.key_same)
		snprintf(head + 6, sizeof(head) - 6, "private_key=%s\n", want);
	if (s.port != v->listen_port)
		snprintf(head + strlen(head), sizeof(head) - strlen(head), "listen_port=%u\n",
			 v->listen_port);
	if ((peers = peers_text(v, &s, now)) == NULL) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((fd = uapi_connect(ifname)) < 0 || (r = write_all(fd, head, strlen(head))) < 0 ||
	    (r = write_all(fd, peers, strlen(peers))) < 0 ||
	    (r = read_answer(fd, &ans, &alen)) < 0 || (r = answer_errno(ans)) < 0)
		snprintf(err, errlen, "vpn: configuring the gateway failed: %s",
			 strerror(fd < 0 ? -fd : -r));
	if (fd < 0)
		r = fd;
out:
	explicit_bzero(want, sizeof(want));
	explicit_bzero(head, sizeof(head));
	if (fd >= 0)
		close(fd);
	free(ans);
	if (peers != NULL) /* it may hold preshared keys */
		explicit_bzero(peers, strlen(peers));
	free(peers);
	free(s.peers);
	return r;
}

/* Wait (bounded) until our new child answers on its socket. Not
 * vpn_alive: until it has exec'd, its command line is still the agent's. */
static int
wait_socket(const char *ifname, pid_t pid)
{
	for (int i = 0; i < 200; i++) {
		int fd = uapi_connect(ifname);

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -ECHILD;
		poll(NULL, 0, 25);
	}
	return -ETIMEDOUT;
}

static int
start(const char *ns, const char *dir, const char *ifname, pid_t *pid, char *err, size_t errlen)
{
	char pidf[700], logf[700], sock[700], text[32];
	const char *argv[] = {"wireguard-go", "-f", ifname, NULL};
	pid_t p;
	int r;

	paths(dir, ifname, pidf, logf, sock, sizeof(pidf));
	if (mkdir(UAPI_DIR, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "vpn: cannot create " UAPI_DIR ": %s", strerror(errno));
		return -errno;
	}
	unlink(sock); /* a dead daemon's; a live one was adopted */
	if ((p = netns_spawn(ns[0] ? ns : NULL, argv, logf)) < 0) {
		snprintf(err, errlen, "vpn: cannot start wireguard-go: %s", strerror((int)-p));
		return (int)p;
	}
	snprintf(text, sizeof(text), "%d\n", (int)p);
	util_write_atomic(pidf, text, strlen(text), 0644);
	*pid = p;
	if ((r = wait_socket(ifname, p)) < 0) {
		snprintf(err, errlen, "vpn: wireguard-go for %s did not come up (%s; see %s)",
			 ifname, strerror(-r), logf);
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
		*pid = 0;
		unlink(sock);
		unlink(pidf);
		return r;
	}
	log_info("vpn: wireguard-go for %s started in %s (pid %d)", ifname, ns, (int)p);
	return 0;
}

static int
route_wanted(const struct net_vpn *v, long long now, const char *text)
{
	char ip[16], c[24];

	for (unsigned i = 0; i < v->n_peers; i++) {
		if (netstate_vpn_expired(&v->peers[i], now))
			continue;
		for (unsigned k = 0; k < v->peers[i].n_routes; k++) {
			const struct net_cidr *r = &v->peers[i].routes[k];

			netstate_ip(r->addr, ip, sizeof(ip));
			snprintf(c, sizeof(c), "%s/%u", ip, r->prefix);
			if (strcmp(c, text) == 0 || (r->prefix == 32 && strcmp(ip, text) == 0))
				return 1;
		}
	}
	return 0;
}

/* Site to site: the networks behind peers are routed into the tunnel
 * (wireguard-go, unlike wg-quick, adds no routes); ours are "proto
 * static" on the interface, and those no longer wanted are removed. */
static int
sync_routes(const char *ns, const char *ifname, const struct net_vpn *v, long long now,
	    char *err, size_t errlen)
{
	const char *show[] = {"ip", NSF(ns), NSV(ns), "-o", "route", "show", "dev", ifname, "proto",
			      "static", NULL};
	char out[8192], *save = NULL, *line, ip[16], c[24];
	int r;

	if (util_run(show, out, sizeof(out)) < 0) {
		snprintf(err, errlen, "vpn: cannot list the tunnel's routes: %s", out);
		return -EIO;
	}
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, " ")] = '\0';
		if (line[0] != '\0' && !route_wanted(v, now, line) &&
		    (r = links_ip(err, errlen, "ip", NSF(ns), NSV(ns), "route", "del", line, "dev", ifname,
				  "proto", "static", NULL)) < 0)
			return r;
	}
	for (unsigned i = 0; i < v->n_peers; i++) {
		if (netstate_vpn_expired(&v->peers[i], now))
			continue;
		for (unsigned k = 0; k < v->peers[i].n_routes; k++) {
			netstate_ip(v->peers[i].routes[k].addr, ip, sizeof(ip));
			snprintf(c, sizeof(c), "%s/%u", ip, v->peers[i].routes[k].prefix);
			if ((r = links_ip(err, errlen, "ip", NSF(ns), NSV(ns), "route", "replace", c, "dev",
					  ifname, "proto", "static", NULL)) < 0)
				return r;
		}
	}
	return 0;
}

int
vpn_ensure(const char *ns, const char *dir, const char *ifname, const struct net_vpn *v,
	   long long now, pid_t *pid, char *err, size_t errlen)
{
	char addr[24], ip[16], mtu[12];
	int r;

	snprintf(mtu, sizeof(mtu), "%u", v->mtu ? v->mtu : VPN_MTU);
	if ((*pid <= 0 || !vpn_alive(ifname, *pid)) &&
	    (r = start(ns, dir, ifname, pid, err, errlen)) < 0)
		return r;
	netstate_ip(v->address.addr, ip, sizeof(ip));
	snprintf(addr, sizeof(addr), "%s/%u", ip, v->address.prefix);
	if ((r = links_ip(err, errlen, "ip", NSF(ns), NSV(ns), "addr", "replace", addr, "dev", ifname,
			  NULL)) < 0 ||
	    (r = links_ip(err, errlen, "ip", NSF(ns), NSV(ns), "link", "set", "dev", ifname, "mtu",
			  mtu, "up", NULL)) < 0)
		return r;
	if ((r = uapi_sync(ifname, v, now, err, errlen)) < 0)
		return r;
	return sync_routes(ns, ifname, v, now, err, errlen);
}

void
vpn_stop(const char *dir, const char *ifname, pid_t *pid)
{
	char pidf[700], logf[700], sock[700];

	paths(dir, ifname, pidf, logf, sock, sizeof(pidf));
	if (*pid > 0 && vpn_alive(ifname, *pid)) {
		kill(*pid, SIGTERM);
		for (int i = 0; i < 80 && vpn_alive(ifname, *pid); i++)
			poll(NULL, 0, 25);
		if (vpn_alive(ifname, *pid)) {
			kill(*pid, SIGKILL);
			waitpid(*pid, NULL, 0);
		}
	}
	*pid = 0;
	unlink(sock);
	unlink(pidf);
}

static json_t *
cidrs(const struct net_cidr *c, unsigned n)
{
	json_t *a = json_array();
	char ip[16];

	for (unsigned i = 0; i < n; i++) {
		netstate_ip(c[i].addr, ip, sizeof(ip));
		json_array_append_new(a, json_sprintf("%s/%u", ip, c[i].prefix));
	}
	return a;
}

static json_t *
peer_view(const struct net_vpn_peer *p, const struct uapi_state *s, long long now)
{
	char b64[45], h[65];
	json_t *o;

	netstate_key_encode(p->public_key, b64);
	hex(p->public_key, h);
	o = json_pack("{s:s, s:o, s:o, s:b, s:I, s:I, s:I, s:n}", "public_key", b64,
		      "allowed_ips", cidrs(p->allowed, p->n_allowed), "reach",
		      cidrs(p->reach, p->n_reach), "expired", netstate_vpn_expired(p, now),
		      "last_handshake", (json_int_t)0, "rx_bytes", (json_int_t)0, "tx_bytes",
		      (json_int_t)0, "endpoint");
	json_object_set_new(o, "expires", p->expires ? json_integer(p->expires) : json_null());
	json_object_set_new(o, "preshared_key", json_boolean(p->has_psk)); /* whether, never which */
	if (p->n_routes)
		json_object_set_new(o, "routes", cidrs(p->routes, p->n_routes));
	for (size_t i = 0; s != NULL && i < s->n; i++) {
		if (strcmp(s->peers[i].key, h) != 0)
			continue;
		json_object_set_new(o, "last_handshake", json_integer(s->peers[i].handshake));
		json_object_set_new(o, "rx_bytes", json_integer((json_int_t)s->peers[i].rx));
		json_object_set_new(o, "tx_bytes", json_integer((json_int_t)s->peers[i].tx));
		if (s->peers[i].endpoint[0] && strcmp(s->peers[i].endpoint, "(none)") != 0)
			json_object_set_new(o, "endpoint", json_string(s->peers[i].endpoint));
	}
	return o;
}

json_t *
vpn_view(const struct net_vpn *v, const char *ifname, pid_t pid, long long now)
{
	uint8_t pub[NET_VPN_KEY_LEN];
	char b64[45], ip[16];
	struct uapi_state s;
	int have = pid > 0 && uapi_get(ifname, NULL, &s) == 0;
	json_t *o, *peers = json_array();

	crypto_scalarmult_curve25519_base(pub, v->private_key);
	netstate_key_encode(pub, b64);
	netstate_ip(v->address.addr, ip, sizeof(ip));
	for (unsigned i = 0; i < v->n_peers; i++)
		json_array_append_new(peers, peer_view(&v->peers[i], have ? &s : NULL, now));
	o = json_pack("{s:s, s:i, s:b, s:i, s:s, s:o, s:o}", "interface", ifname, "pid",
		      (int)pid, "running", have, "listen_port", v->listen_port, "public_key", b64,
		      "address", json_sprintf("%s/%u", ip, v->address.prefix), "peers", peers);
	if (have)
		free(s.peers);
	return o;
}
