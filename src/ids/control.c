/*
 * control.c - the control socket (control.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "build.h"
#include "control.h"
#include "jsonv.h"
#include "log.h"
#include "msg.h"

static json_t *
ok(json_t *result)
{
	return json_pack("{s:b,s:o}", "ok", 1, "result", result ? result : json_null());
}

static json_t *
fail(const char *code, const char *msg)
{
	return json_pack("{s:b,s:{s:s,s:s}}", "ok", 0, "error", "code", code, "message", msg);
}

int
control_listen(struct control *c, struct sensor *s, const char *path, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < CONTROL_CONNS_MAX; i++)
		c->conns[i].fd = -1;
	c->s = s;
	c->uid = getuid();
	c->next_capture = 1;
	c->lfd = msg_listen_unix(path, 8);
	if (c->lfd < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(-c->lfd));
		return c->lfd;
	}
	chmod(path, 0600);
	return 0;
}

void
control_accept(struct control *c)
{
	int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct ucred cr;
	socklen_t cl = sizeof(cr);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
	    (cr.uid != 0 && cr.uid != c->uid)) {
		log_warnx("control: refused a connection from uid %d", (int)cr.uid);
		close(fd);
		return;
	}
	for (int i = 0; i < CONTROL_CONNS_MAX; i++)
		if (c->conns[i].fd < 0) {
			c->conns[i].fd = fd;
			c->conns[i].len = 0;
			c->conns[i].nfds = 0;
			c->conns[i].waiting = 0;
			c->conns[i].gen = ++c->next_gen;
			return;
		}
	log_warnx("control: too many connections");
	close(fd);
}

static void
conn_close(struct control_conn *k)
{
	for (int i = 0; i < k->nfds; i++)
		close(k->fds[i]);
	k->nfds = 0;
	free(k->buf);
	k->buf = NULL;
	k->len = 0;
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

static void
reply(struct control_conn *k, json_t *r)
{
	int fl = fcntl(k->fd, F_GETFL);

	/* replies are small: written whole, blocking */
	if (fl >= 0)
		fcntl(k->fd, F_SETFL, fl & ~O_NONBLOCK);
	msg_write(k->fd, r);
	if (fl >= 0)
		fcntl(k->fd, F_SETFL, fl);
	json_decref(r);
}

/* Answer the complete lines buffered on connection i, in order, until one
 * has to wait for a build. */
static void
process(struct control *c, int i)
{
	struct control_conn *k = &c->conns[i];
	char *nl;

	while (k->fd >= 0 && !k->waiting && (nl = memchr(k->buf, '\n', k->len)) != NULL) {
		size_t ll = (size_t)(nl - k->buf);
		json_error_t e;
		json_t *req = json_loadb(k->buf, ll, JSON_REJECT_DUPLICATES, &e);
		int fd = -1;

		if (k->nfds > 0) {
			fd = k->fds[0];
			memmove(k->fds, k->fds + 1, (size_t)(k->nfds - 1) * sizeof(int));
			k->nfds--;
		}
		if (!json_is_object(req)) {
			if (fd >= 0)
				close(fd);
			reply(k, fail("invalid", req ? "not an object" : e.text));
		} else {
			json_t *r = control_dispatch(c, i, req, fd);

			if (r)
				reply(k, r);
			else
				k->waiting = 1;
		}
		json_decref(req);
		memmove(k->buf, nl + 1, k->len - ll - 1);
		k->len -= ll + 1;
	}
}

void
control_read(struct control *c, int i)
{
	struct control_conn *k = &c->conns[i];
	char cbuf[CMSG_SPACE(sizeof(int) * CONTROL_FDS_MAX)];

	if (!k->buf && !(k->buf = malloc(CONTROL_LINE_MAX + 1))) {
		conn_close(k);
		return;
	}
	for (;;) {
		struct iovec iov = {k->buf + k->len, CONTROL_LINE_MAX - k->len};
		struct msghdr m = {NULL, 0, &iov, 1, cbuf, sizeof(cbuf), 0};
		ssize_t r;

		if (iov.iov_len == 0) {
			if (k->waiting)
				return; /* full of requests behind a build: read later */
			reply(k, fail("invalid", "request too large"));
			conn_close(k);
			return;
		}
		r = recvmsg(k->fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			conn_close(k);
			return;
		}
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
			if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t n = 0; n < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); n++) {
				int fd;

				memcpy(&fd, CMSG_DATA(h) + n * sizeof(int), sizeof(int));
				if (k->nfds < CONTROL_FDS_MAX)
					k->fds[k->nfds++] = fd;
				else
					close(fd);
			}
		}
		k->len += (size_t)r;
		process(c, i);
		if (k->fd < 0)
			return;
	}
}

void
control_builds_done(struct control *c)
{
	struct netcfg cfg;
	struct ruleset *rs, *rsc;
	uint64_t tag;
	char err[512];

	while (c->b && builder_take(c->b, &cfg, &rs, &rsc, &tag, err, sizeof(err)) == 1) {
		int i = (int)(tag & 0xff);
		uint32_t gen = (uint32_t)(tag >> 8);
		struct control_conn *k = i < CONTROL_CONNS_MAX ? &c->conns[i] : NULL;
		json_t *r, *summary = NULL;
		char id[NETCFG_ID_MAX + 1];

		memcpy(id, cfg.network_id, sizeof(id));
		if (!rs) {
			netcfg_free(&cfg);
			r = fail("invalid", err);
		} else {
			err[0] = '\0';
			if (sensor_net_install(c->s, &cfg, rs, rsc, &summary, err, sizeof(err)) < 0)
				r = fail("conflict", err);
			else {
				r = ok(summary);
				log_info("network %s: rules swapped in", id);
			}
		}
		if (k && k->fd >= 0 && k->gen == gen && k->waiting) {
			reply(k, r);
			k->waiting = 0;
			process(c, i);
		} else {
			json_decref(r); /* the connection is gone; the network is set */
		}
	}
}

const char *
control_iface_name(void *arg, uint32_t ifid)
{
	struct control *c = arg;

	for (struct capture *p = c->caps; p; p = p->next)
		if (p->id == ifid)
			return p->iface;
	return "";
}

static void
remove_capture(struct control *c, struct capture **pp)
{
	struct capture *p = *pp;

	(void)c;
	*pp = p->next;
	capture_close(p);
	free(p);
}

static json_t *
op_capture_add(struct control *c, const json_t *args, int fd)
{
	static const char *const fields[] = {"network_id", "iface", NULL};
	const char *nid = json_string_value(json_object_get(args, "network_id"));
	const char *ifn = json_string_value(json_object_get(args, "iface"));
	char err[256];
	struct capture *p;

	if (jsonv_only_fields(args, fields, err, sizeof(err)) < 0) {
		if (fd >= 0)
			close(fd);
		return fail("invalid", err);
	}
	if (fd < 0)
		return fail("invalid", "capture.add needs a descriptor (SCM_RIGHTS)");
	if (!nid || !sensor_net_find(c->s, nid)) {
		close(fd);
		return fail("not_found", "no such network (network.set first)");
	}
	if (!ifn || !*ifn || strlen(ifn) >= sizeof(p->iface)) {
		close(fd);
		return fail("invalid", "iface: an interface name");
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return fail("internal", "out of memory");
	}
	if (capture_open(p, fd, err, sizeof(err)) < 0) {
		close(fd);
		free(p);
		return fail("invalid", err);
	}
	p->id = c->next_capture++;
	memcpy(p->iface, ifn, strlen(ifn) + 1);
	memcpy(p->network_id, nid, strlen(nid) + 1);
	p->next = c->caps;
	c->caps = p;
	log_info("capture %u: %s for network %s (%s)", p->id, p->iface, nid,
		 p->ring ? "TPACKET_V3 ring" : "recvmsg");
	return ok(json_pack("{s:I,s:b}", "capture_id", (json_int_t)p->id, "ring", p->ring != NULL));
}

json_t *
control_dispatch(struct control *c, int i, const json_t *req, int fd)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	json_t *args = json_object_get(req, "args");
	static const char *const top[] = {"op", "args", NULL};
	char err[512] = "";

	if (jsonv_only_fields(req, top, err, sizeof(err)) < 0 || !op ||
	    (args && !json_is_object(args))) {
		if (fd >= 0)
			close(fd);
		return fail("invalid", *err ? err : "a request is {\"op\": ..., \"args\": {...}}");
	}
	if (strcmp(op, "capture.add") == 0)
		return op_capture_add(c, args, fd);
	if (fd >= 0)
		close(fd);
	if (strcmp(op, "hello") == 0) {
		json_t *nets = json_array(), *caps = json_array();

		for (struct net *n = c->s->nets; n; n = n->next)
			json_array_append_new(nets, json_string(n->cfg.network_id));
		for (struct capture *p = c->caps; p; p = p->next)
			json_array_append_new(caps, json_pack("{s:I,s:s,s:s}", "capture_id",
							      (json_int_t)p->id, "iface", p->iface,
							      "network_id", p->network_id));
		return ok(json_pack("{s:i,s:o,s:o}", "version", 1, "networks", nets, "captures", caps));
	}
	if (strcmp(op, "network.set") == 0) {
		json_t *summary;
		int r;

		if (!args)
			return fail("invalid", "network.set needs args");
		if (!c->b) {
			r = sensor_net_set(c->s, args, &summary, err, sizeof(err));
			if (r < 0)
				return fail(r == -EPERM ? "conflict" : "invalid", err);
			return ok(summary);
		}
		{
			struct netcfg cfg;
			struct ruleset *rs;

			r = sensor_net_check(c->s, args, &cfg, err, sizeof(err));
			if (r < 0)
				return fail(r == -EPERM ? "conflict" : "invalid", err);
			/* the directories' rules of another network are shared; the
			 * tenant's own (and a new directory set) compile on the builder */
			rs = sensor_shared_rules(c->s, &cfg);
			if (builder_submit(c->b, &cfg, rs, (uint64_t)c->conns[i].gen << 8 | (uint64_t)i) < 0)
				return fail("internal", "out of memory");
			return NULL;
		}
	}
	if (strcmp(op, "network.delete") == 0) {
		const char *nid = json_string_value(json_object_get(args, "network_id"));
		struct capture **pp = &c->caps;

		if (!nid || !sensor_net_find(c->s, nid))
			return fail("not_found", "no such network");
		while (*pp) {
			if (strcmp((*pp)->network_id, nid) == 0)
				remove_capture(c, pp);
			else
				pp = &(*pp)->next;
		}
		sensor_net_delete(c->s, nid);
		return ok(NULL);
	}
	if (strcmp(op, "capture.remove") == 0) {
		json_t *id = json_object_get(args, "capture_id");

		for (struct capture **pp = &c->caps; *pp; pp = &(*pp)->next)
			if (json_is_integer(id) && (*pp)->id == json_integer_value(id)) {
				remove_capture(c, pp);
				return ok(NULL);
			}
		return fail("not_found", "no such capture");
	}
	if (strcmp(op, "suppress.set") == 0) {
		const char *nid = json_string_value(json_object_get(args, "network_id"));
		struct net *n = nid ? sensor_net_find(c->s, nid) : NULL;
		struct gate g = {0};

		if (!n)
			return fail("not_found", "no such network");
		if (gate_set_suppress(&g, json_object_get(args, "suppress"), err, sizeof(err)) < 0)
			return fail("invalid", err);
		memcpy(n->gate.sup, g.sup, (size_t)g.nsup * sizeof(g.sup[0]));
		n->gate.nsup = g.nsup;
		return ok(NULL);
	}
	if (strcmp(op, "stats") == 0) {
		const char *nid = json_string_value(json_object_get(args, "network_id"));
		json_t *o = json_object();

		for (struct capture *p = c->caps; p; p = p->next) {
			struct net *n = sensor_net_find(c->s, p->network_id);
			uint64_t d = capture_drops(p);

			if (n)
				n->st.kernel_drops += d;
		}
		for (struct net *n = c->s->nets; n; n = n->next)
			if (!nid || strcmp(nid, n->cfg.network_id) == 0)
				json_object_set_new(o, n->cfg.network_id, sensor_net_stats(n));
		return ok(o);
	}
	if (strcmp(op, "rules.skipped") == 0) {
		const char *nid = json_string_value(json_object_get(args, "network_id"));
		struct net *n = nid ? sensor_net_find(c->s, nid) : NULL;
		json_t *max = json_object_get(args, "max");

		if (!n || !n->rs)
			return fail("not_found", "no such network");
		return ok(sensor_skip_list(n, json_is_integer(max) && json_integer_value(max) > 0
							   ? (size_t)json_integer_value(max)
							   : 1000));
	}
	return fail("invalid", "unknown op");
}

void
control_close_all(struct control *c)
{
	for (int i = 0; i < CONTROL_CONNS_MAX; i++)
		if (c->conns[i].fd >= 0)
			conn_close(&c->conns[i]);
	while (c->caps)
		remove_capture(c, &c->caps);
	if (c->lfd >= 0)
		close(c->lfd);
	c->lfd = -1;
}
