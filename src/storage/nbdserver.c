/* nbdserver.c - see nbdserver.h */
#define _GNU_SOURCE
#include "nbdserver.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "nbd.h"
#include "util.h"
#include "volume.h"

#define HANDSHAKE_TIMEOUT_MS 30000

struct export {
	char vm[VOLUME_NAME_MAX + 1];
	char tenant[VOLUME_NAME_MAX + 1];
	char vols[NBDSERVER_MAX_VOLUMES][VOLUME_NAME_MAX + 1];
	int nvols;
	pid_t pid;
	int lfd;
	char sock[PATH_MAX];
	int conns[NBDSERVER_MAX_CONNS]; /* fds, -1 free */
	int nconn;
	int deleted;
};

static pthread_mutex_t xlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t xcond = PTHREAD_COND_INITIALIZER; /* binds, connection ends */
static struct export *exports[NBDSERVER_MAX_EXPORTS];
static struct pool *pool;
static char export_dir[PATH_MAX];
static int wake[2] = {-1, -1};
static pthread_t acceptor;
static atomic_int stopping;

/*
 * A request handed from a connection's reader to its workers. WRITE
 * payloads are taken from the parser (nbd_swap_buf), not copied.
 */
struct req {
	struct nbd_request q;
	uint8_t *buf; /* WRITE payload, owned */
	size_t cap;
	struct req *next;
};

struct conn {
	struct export *x;
	int fd;
	int slot;
	char name[VOLUME_NAME_MAX + 1]; /* the last export looked up */
	struct volume *v;
	/* Transmission: one reader (conn_main) and NWORKERS workers. */
	pthread_mutex_t qlock;
	pthread_cond_t work; /* a request was queued, or the reader ended */
	pthread_cond_t room; /* a request was done */
	struct req *head, *tail, *spare;
	int outstanding; /* queued or being served */
	int nspare;
	size_t bytes;    /* data bytes (write payload, read buffers) outstanding */
	int closing;
	pthread_mutex_t wlock; /* one reply at a time on the socket */
	atomic_int send_failed;
	pthread_t workers[NBDSERVER_WORKERS];
	int nworkers;
};

static json_t *
view(const struct export *x)
{
	json_t *vols = json_array();
	int i;

	for (i = 0; i < x->nvols; i++)
		json_array_append_new(vols, json_string(x->vols[i]));
	return json_pack("{s:s, s:s, s:o, s:o, s:s, s:i}", "vm", x->vm, "tenant", x->tenant,
			 "volumes", vols, "pid", x->pid ? json_integer(x->pid) : json_null(),
			 "socket", x->sock, "connections", x->nconn);
}

/* Persist the export table (xlock held). */
static void
save(void)
{
	json_t *a = json_array();
	char path[PATH_MAX], *s;
	int i, r;

	for (i = 0; i < NBDSERVER_MAX_EXPORTS; i++)
		if (exports[i] && !exports[i]->deleted)
			json_array_append_new(a, view(exports[i]));
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (s == NULL || util_fmt(path, sizeof(path), "%s/exports.json", pool->dir) < 0) {
		free(s);
		return;
	}
	r = util_write_atomic(path, s, strlen(s), 0600);
	if (r < 0)
		log_warnx("%s: %s: %s", __func__, path, strerror(-r));
	free(s);
}

static struct export *
find(const char *vm)
{
	int i;

	for (i = 0; i < NBDSERVER_MAX_EXPORTS; i++)
		if (exports[i] && !exports[i]->deleted && strcmp(exports[i]->vm, vm) == 0)
			return exports[i];
	return NULL;
}

static void
poke(void)
{
	char c = 1;

	if (write(wake[1], &c, 1) < 0 && errno != EAGAIN)
		log_warn("%s", __func__);
}

/* ---- one connection ---------------------------------------------------- */

static int
lookup(void *arg, const char *name, struct nbd_export *e)
{
	struct conn *c = arg;
	struct volume *v;
	int i, r = -ENOENT;

	for (i = 0; i < c->x->nvols; i++)
		if (strcmp(c->x->vols[i], name) == 0)
			break;
	if (i == c->x->nvols)
		return -ENOENT;
	pthread_mutex_lock(&pool->lock);
	v = volume_find(pool, name);
	/* Re-checked here: the export's list was validated when it was made. */
	if (v && strcmp(v->tenant, c->x->tenant) == 0) {
		e->size = v->size;
		e->readonly = v->readonly;
		snprintf(c->name, sizeof(c->name), "%s", name);
		r = 0;
	}
	pthread_mutex_unlock(&pool->lock);
	return r;
}

static void
list(void *arg, void (*add)(void *ctx, const char *name), void *ctx)
{
	struct conn *c = arg;
	int i;

	for (i = 0; i < c->x->nvols; i++)
		add(ctx, c->x->vols[i]);
}

static int
send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
send_reply(int fd, uint64_t handle, int err, const void *data, size_t len)
{
	uint8_t h[16];
	struct iovec iov[2];
	size_t total, done = 0;

	nbd_reply(h, handle, nbd_errno(err));
	iov[0].iov_base = h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)(uintptr_t)data;
	iov[1].iov_len = err ? 0 : len;
	total = iov[0].iov_len + iov[1].iov_len;
	while (done < total) {
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
		ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);
		size_t k;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		done += (size_t)n;
		for (k = 0; k < 2; k++) {
			size_t step = (size_t)n < iov[k].iov_len ? (size_t)n : iov[k].iov_len;

			iov[k].iov_base = (uint8_t *)iov[k].iov_base + step;
			iov[k].iov_len -= step;
			n -= (ssize_t)step;
		}
	}
	return 0;
}

/* Is the peer allowed? Waits for a bind when none is there yet. */
static int
peer_allowed(struct conn *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct timespec deadline;
	int ok;

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return 0;
	if (cred.uid == 0 || cred.uid == geteuid())
		return 1;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += NBDSERVER_BIND_WAIT_MS / 1000;
	pthread_mutex_lock(&xlock);
	while (c->x->pid == 0 && !c->x->deleted &&
	       pthread_cond_timedwait(&xcond, &xlock, &deadline) == 0)
		;
	ok = c->x->pid != 0 && c->x->pid == cred.pid && !c->x->deleted;
	pthread_mutex_unlock(&xlock);
	if (!ok)
		log_warnx("export %s: refused peer pid %d uid %u (bound pid %d)", c->x->vm,
			  (int)cred.pid, (unsigned)cred.uid, (int)c->x->pid);
	return ok;
}

/* Send a reply from any thread of the connection. */
static int
conn_reply(struct conn *c, uint64_t handle, int err, const void *data, size_t len)
{
	int r;

	pthread_mutex_lock(&c->wlock);
	r = atomic_load(&c->send_failed) ? -EIO : send_reply(c->fd, handle, err, data, len);
	if (r < 0)
		atomic_store(&c->send_failed, 1);
	pthread_mutex_unlock(&c->wlock);
	return r;
}

static int
serve_request(struct conn *c, const struct req *rq, uint8_t **rbuf, size_t *rcap)
{
	const struct nbd_request *q = &rq->q;
	struct volume *v = c->v;
	int fua = !!(q->flags & NBD_CMD_FLAG_FUA), r = 0;

	switch (q->type) {
	case NBD_CMD_READ:
		if (q->length > *rcap) {
			uint8_t *b = realloc(*rbuf, q->length);

			if (b == NULL)
				return conn_reply(c, q->handle, -ENOMEM, NULL, 0);
			*rbuf = b;
			*rcap = q->length;
		}
		r = volume_read(pool, v, q->offset, q->length, *rbuf);
		return conn_reply(c, q->handle, r, *rbuf, q->length);
	case NBD_CMD_WRITE:
		r = volume_write(pool, v, q->offset, q->length, rq->buf, fua);
		break;
	case NBD_CMD_FLUSH:
		/* Covers every write already answered: they are on the devices. */
		r = volume_flush(pool);
		break;
	case NBD_CMD_TRIM:
		r = volume_zero(pool, v, q->offset, q->length, 0, fua);
		break;
	case NBD_CMD_WRITE_ZEROES:
		r = volume_zero(pool, v, q->offset, q->length,
				!!(q->flags & NBD_CMD_FLAG_NO_HOLE), fua);
		break;
	default: /* CACHE: nothing to do */
		break;
	}
	if (r < 0)
		log_warnx("volume %s: command %u at %llu+%u: %s", v->name, q->type,
			  (unsigned long long)q->offset, q->length, strerror(-r));
	return conn_reply(c, q->handle, r, NULL, 0);
}

/* Payload bytes a request holds in memory (write data or read buffer). */
static size_t
data_len(const struct nbd_request *q)
{
	return q->type == NBD_CMD_WRITE || q->type == NBD_CMD_READ ? q->length : 0;
}

/* Keep a done request for reuse, with its buffer unless that is large. */
static void
recycle(struct conn *c, struct req *rq)
{
	if (rq->cap > NBDSERVER_KEEP_BUF) {
		free(rq->buf);
		rq->buf = NULL;
		rq->cap = 0;
	}
	if (c->nspare >= NBDSERVER_QUEUE) {
		free(rq->buf);
		free(rq);
		return;
	}
	rq->next = c->spare;
	c->spare = rq;
	c->nspare++;
}

static void *
worker_main(void *arg)
{
	struct conn *c = arg;
	uint8_t *rbuf = NULL;
	size_t rcap = 0, len;
	struct req *rq;

	pthread_mutex_lock(&c->qlock);
	for (;;) {
		while (c->head == NULL && !c->closing)
			pthread_cond_wait(&c->work, &c->qlock);
		rq = c->head;
		if (rq == NULL)
			break; /* closing and nothing left */
		c->head = rq->next;
		if (c->head == NULL)
			c->tail = NULL;
		pthread_mutex_unlock(&c->qlock);
		serve_request(c, rq, &rbuf, &rcap);
		if (rcap > NBDSERVER_KEEP_BUF) {
			free(rbuf);
			rbuf = NULL;
			rcap = 0;
		}
		len = data_len(&rq->q);
		pthread_mutex_lock(&c->qlock);
		c->outstanding--;
		c->bytes -= len;
		recycle(c, rq);
		pthread_cond_signal(&c->room);
	}
	pthread_mutex_unlock(&c->qlock);
	free(rbuf);
	return NULL;
}

/* Start the workers once the handshake is done: 0 or -errno. */
static int
workers_start(struct conn *c)
{
	int i, r;

	for (i = 0; i < NBDSERVER_WORKERS; i++) {
		r = pthread_create(&c->workers[i], NULL, worker_main, c);
		if (r != 0)
			break;
		c->nworkers++;
	}
	return c->nworkers > 0 ? 0 : -r;
}

/* Let the workers finish what is queued (replies still go out), then end. */
static void
workers_stop(struct conn *c)
{
	struct req *rq;
	int i;

	pthread_mutex_lock(&c->qlock);
	c->closing = 1;
	pthread_cond_broadcast(&c->work);
	pthread_mutex_unlock(&c->qlock);
	for (i = 0; i < c->nworkers; i++)
		pthread_join(c->workers[i], NULL);
	c->nworkers = 0;
	while ((rq = c->spare) != NULL) {
		c->spare = rq->next;
		free(rq->buf);
		free(rq);
	}
}

/*
 * Queue a request for the workers; for a WRITE, its payload leaves the
 * parser. Then wait (before reading more from the client) while the
 * connection has its maximum of requests or bytes outstanding.
 */
static int
enqueue(struct conn *c, struct nbd_parser *p, const struct nbd_event *ev)
{
	struct req *rq;

	pthread_mutex_lock(&c->qlock);
	rq = c->spare;
	if (rq != NULL) {
		c->spare = rq->next;
		c->nspare--;
	} else if ((rq = calloc(1, sizeof(*rq))) == NULL) {
		pthread_mutex_unlock(&c->qlock);
		return conn_reply(c, ev->req.handle, -ENOMEM, NULL, 0);
	}
	rq->q = ev->req;
	rq->next = NULL;
	if (ev->req.type == NBD_CMD_WRITE)
		nbd_swap_buf(p, &rq->buf, &rq->cap);
	c->bytes += data_len(&ev->req);
	if (c->tail)
		c->tail->next = rq;
	else
		c->head = rq;
	c->tail = rq;
	c->outstanding++;
	pthread_cond_signal(&c->work);
	while (c->outstanding >= NBDSERVER_QUEUE || c->bytes >= NBDSERVER_QUEUE_BYTES)
		pthread_cond_wait(&c->room, &c->qlock);
	pthread_mutex_unlock(&c->qlock);
	return 0;
}

static void
serve(struct conn *c)
{
	struct nbd_exports cb = {.lookup = lookup, .list = list, .arg = c};
	struct nbd_parser p;
	struct nbd_event ev;
	uint8_t greet[18];

	nbd_init(&p, &cb);
	nbd_greeting(greet);
	if (send_all(c->fd, greet, sizeof(greet)) < 0)
		goto out;
	for (;;) {
		uint8_t *dst;
		size_t want;
		ssize_t n;

		nbd_want(&p, &dst, &want);
		if (want == 0)
			break;
		if (c->v == NULL) {
			struct pollfd pf = {.fd = c->fd, .events = POLLIN};

			if (poll(&pf, 1, HANDSHAKE_TIMEOUT_MS) <= 0) {
				log_warnx("export %s: handshake timed out", c->x->vm);
				break;
			}
		}
		n = recv(c->fd, dst, want, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		nbd_advance(&p, (size_t)n, &ev);
		if (p.outlen) {
			/* Handshake replies: no worker runs yet. */
			if (send_all(c->fd, p.out, p.outlen) < 0)
				break;
			p.outlen = 0;
		}
		if (ev.type == NBD_EV_CLOSE) {
			log_debug("export %s: %s", c->x->vm, ev.why);
			break;
		}
		if (ev.type == NBD_EV_READY) {
			c->v = volume_get(pool, c->name);
			if (c->v == NULL || workers_start(c) < 0)
				break;
		} else if (ev.type == NBD_EV_ERROR) {
			if (conn_reply(c, ev.req.handle, -(int)ev.error, NULL, 0) < 0)
				break;
		} else if (ev.type == NBD_EV_REQUEST && ev.req.type == NBD_CMD_WRITE &&
			   ev.req.length <= NBDSERVER_INLINE_WRITE) {
			/* Small writes: handing them to a worker costs more than
			 * they do (measured: 4 KiB first writes 25 % slower). */
			struct req rq = {.q = ev.req, .buf = (uint8_t *)(uintptr_t)ev.data};

			if (serve_request(c, &rq, NULL, NULL) < 0)
				break;
		} else if (ev.type == NBD_EV_REQUEST) {
			if (enqueue(c, &p, &ev) < 0 || atomic_load(&c->send_failed))
				break;
		}
	}
out:
	workers_stop(c);
	nbd_free(&p);
	volume_put(pool, c->v);
	c->v = NULL;
}

static void
conn_free(struct conn *c)
{
	pthread_mutex_destroy(&c->qlock);
	pthread_mutex_destroy(&c->wlock);
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->room);
	free(c);
}

static void *
conn_main(void *arg)
{
	struct conn *c = arg;

	if (peer_allowed(c))
		serve(c);
	pthread_mutex_lock(&xlock);
	c->x->conns[c->slot] = -1;
	c->x->nconn--;
	close(c->fd);
	pthread_cond_broadcast(&xcond);
	pthread_mutex_unlock(&xlock);
	conn_free(c);
	return NULL;
}

static void
accept_one(struct export *x)
{
	int fd = accept4(x->lfd, NULL, NULL, SOCK_CLOEXEC), i;
	struct conn *c;
	pthread_attr_t attr;
	pthread_t t;

	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	pthread_mutex_lock(&xlock);
	for (i = 0; i < NBDSERVER_MAX_CONNS; i++)
		if (x->conns[i] < 0)
			break;
	if (c == NULL || i == NBDSERVER_MAX_CONNS || x->deleted) {
		pthread_mutex_unlock(&xlock);
		log_warnx("export %s: connection refused (limit of %d)", x->vm,
			  NBDSERVER_MAX_CONNS);
		close(fd);
		free(c);
		return;
	}
	c->x = x;
	c->fd = fd;
	c->slot = i;
	pthread_mutex_init(&c->qlock, NULL);
	pthread_mutex_init(&c->wlock, NULL);
	pthread_cond_init(&c->work, NULL);
	pthread_cond_init(&c->room, NULL);
	x->conns[i] = fd;
	x->nconn++;
	pthread_mutex_unlock(&xlock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, conn_main, c) != 0) {
		pthread_mutex_lock(&xlock);
		x->conns[i] = -1;
		x->nconn--;
		pthread_mutex_unlock(&xlock);
		close(fd);
		conn_free(c);
	}
	pthread_attr_destroy(&attr);
}

static void *
accept_main(void *arg)
{
	struct pollfd pf[NBDSERVER_MAX_EXPORTS + 1];
	struct export *px[NBDSERVER_MAX_EXPORTS + 1];

	(void)arg;
	while (!atomic_load(&stopping)) {
		int n = 1, i, r;

		pf[0].fd = wake[0];
		pf[0].events = POLLIN;
		pthread_mutex_lock(&xlock);
		for (i = 0; i < NBDSERVER_MAX_EXPORTS; i++) {
			struct export *x = exports[i];

			if (x && !x->deleted && x->lfd >= 0) {
				pf[n].fd = x->lfd;
				pf[n].events = POLLIN;
				px[n++] = x;
			}
		}
		pthread_mutex_unlock(&xlock);
		r = poll(pf, (nfds_t)n, -1);
		if (r < 0)
			continue;
		if (pf[0].revents) {
			char buf[64];

			while (read(wake[0], buf, sizeof(buf)) > 0)
				;
			continue; /* the table changed: px may be stale */
		}
		for (i = 1; i < n; i++)
			if (pf[i].revents & POLLIN)
				accept_one(px[i]);
	}
	return NULL;
}

/* ---- the export table -------------------------------------------------- */

/* Validate and mark volumes exported; xlock held. */
static int
claim_volumes(struct export *x, const json_t *volumes, char *err, size_t errlen)
{
	size_t i, j;
	json_t *n;
	int r = 0;

	if (!json_is_array(volumes) || json_array_size(volumes) < 1 ||
	    json_array_size(volumes) > NBDSERVER_MAX_VOLUMES) {
		snprintf(err, errlen, "volumes must be an array of 1 to %d names",
			 NBDSERVER_MAX_VOLUMES);
		return -EINVAL;
	}
	pthread_mutex_lock(&pool->lock);
	json_array_foreach(volumes, i, n) {
		const char *name = json_string_value(n);
		struct volume *v;

		if (name == NULL || volume_name_ok(name) < 0) {
			snprintf(err, errlen, "volumes[%zu] is not a valid volume name", i);
			r = -EINVAL;
			goto out;
		}
		for (j = 0; j < i; j++)
			if (strcmp(x->vols[j], name) == 0) {
				snprintf(err, errlen, "volume '%s' is named twice", name);
				r = -EINVAL;
				goto out;
			}
		v = volume_find(pool, name);
		if (v == NULL) {
			snprintf(err, errlen, "no volume '%s'", name);
			r = -ENOENT;
			goto out;
		}
		if (strcmp(v->tenant, x->tenant) != 0) {
			snprintf(err, errlen, "volume '%s' does not belong to tenant '%s'", name,
				 x->tenant);
			r = -EINVAL;
			goto out;
		}
		snprintf(x->vols[i], sizeof(x->vols[i]), "%s", name);
	}
	x->nvols = (int)json_array_size(volumes);
	for (i = 0; i < (size_t)x->nvols; i++)
		volume_find(pool, x->vols[i])->exported++;
out:
	pthread_mutex_unlock(&pool->lock);
	return r;
}

static int
add_export(const char *vm, const char *tenant, const json_t *volumes, pid_t pid,
	   json_t **out, char *err, size_t errlen)
{
	struct export *x = NULL;
	int i, slot = -1, r;

	if (volume_name_ok(vm) < 0 || volume_name_ok(tenant) < 0) {
		snprintf(err, errlen, "vm and tenant must be valid names");
		return -EINVAL;
	}
	if (pid < 0) {
		snprintf(err, errlen, "pid must be positive");
		return -EINVAL;
	}
	if (find(vm)) {
		snprintf(err, errlen, "an export for vm '%s' exists", vm);
		return -EEXIST;
	}
	for (i = 0; i < NBDSERVER_MAX_EXPORTS; i++)
		if (exports[i] == NULL) {
			slot = i;
			break;
		}
	if (slot < 0) {
		snprintf(err, errlen, "%d exports exist already", NBDSERVER_MAX_EXPORTS);
		return -ENOSPC;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -ENOMEM;
	snprintf(x->vm, sizeof(x->vm), "%s", vm);
	snprintf(x->tenant, sizeof(x->tenant), "%s", tenant);
	x->pid = pid;
	x->lfd = -1;
	for (i = 0; i < NBDSERVER_MAX_CONNS; i++)
		x->conns[i] = -1;
	r = claim_volumes(x, volumes, err, errlen);
	if (r < 0) {
		free(x);
		return r;
	}
	r = util_fmt(x->sock, sizeof(x->sock), "%s/%s.sock", export_dir, vm);
	if (r == 0) {
		x->lfd = msg_listen_unix(x->sock, 16);
		r = x->lfd < 0 ? x->lfd : 0;
	}
	/* Anyone may connect; the server decides by SO_PEERCRED (peer_allowed). */
	if (r == 0 && chmod(x->sock, 0666) < 0)
		r = -errno;
	if (r < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", x->sock, strerror(-r));
		pthread_mutex_lock(&pool->lock);
		for (i = 0; i < x->nvols; i++)
			volume_find(pool, x->vols[i])->exported--;
		pthread_mutex_unlock(&pool->lock);
		if (x->lfd >= 0)
			close(x->lfd);
		free(x);
		return -EIO;
	}
	fcntl(x->lfd, F_SETFL, O_NONBLOCK);
	exports[slot] = x;
	if (out)
		*out = view(x);
	return 0;
}

int
nbdserver_export_create(const char *vm, const char *tenant, const json_t *volumes, pid_t pid,
			json_t **out, char *err, size_t errlen)
{
	int r;

	pthread_mutex_lock(&xlock);
	r = add_export(vm, tenant, volumes, pid, out, err, errlen);
	if (r == 0) {
		save();
		poke();
	}
	pthread_mutex_unlock(&xlock);
	return r;
}

int
nbdserver_export_bind(const char *vm, pid_t pid, json_t **out, char *err, size_t errlen)
{
	struct export *x;
	int r = 0;

	if (pid <= 0) {
		snprintf(err, errlen, "pid must be a positive integer");
		return -EINVAL;
	}
	pthread_mutex_lock(&xlock);
	x = find(vm);
	if (x == NULL) {
		snprintf(err, errlen, "no export for vm '%s'", vm);
		r = -ENOENT;
	} else {
		x->pid = pid;
		save();
		pthread_cond_broadcast(&xcond);
		*out = view(x);
	}
	pthread_mutex_unlock(&xlock);
	return r;
}

int
nbdserver_export_delete(const char *vm, char *err, size_t errlen)
{
	struct export *x;
	struct timespec deadline;
	int i;

	pthread_mutex_lock(&xlock);
	x = find(vm);
	if (x == NULL) {
		pthread_mutex_unlock(&xlock);
		snprintf(err, errlen, "no export for vm '%s'", vm);
		return -ENOENT;
	}
	x->deleted = 1;
	close(x->lfd);
	x->lfd = -1;
	unlink(x->sock);
	for (i = 0; i < NBDSERVER_MAX_CONNS; i++)
		if (x->conns[i] >= 0)
			shutdown(x->conns[i], SHUT_RDWR);
	pthread_cond_broadcast(&xcond);
	poke();
	save();
	/* Wait for its connections to end, so its volumes are free to delete. */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	while (x->nconn > 0 && pthread_cond_timedwait(&xcond, &xlock, &deadline) == 0)
		;
	pthread_mutex_lock(&pool->lock);
	for (i = 0; i < x->nvols; i++) {
		struct volume *v = volume_find(pool, x->vols[i]);

		if (v)
			v->exported--;
	}
	pthread_mutex_unlock(&pool->lock);
	if (x->nconn == 0) {
		for (i = 0; i < NBDSERVER_MAX_EXPORTS; i++)
			if (exports[i] == x)
				exports[i] = NULL;
		free(x);
	} /* else XXX: a connection stuck in the kernel keeps x (leaked, marked deleted) */
	pthread_mutex_unlock(&xlock);
	return 0;
}

json_t *
nbdserver_export_list(void)
{
	json_t *a = json_array();
	int i;

	pthread_mutex_lock(&xlock);
	for (i = 0; i < NBDSERVER_MAX_EXPORTS; i++)
		if (exports[i] && !exports[i]->deleted)
			json_array_append_new(a, view(exports[i]));
	pthread_mutex_unlock(&xlock);
	return a;
}

json_t *
nbdserver_exports_of(const char *volume)
{
	json_t *a = json_array();
	int i, j;

	pthread_mutex_lock(&xlock);
	for (i = 0; i < NBDSERVER_MAX_EXPORTS; i++) {
		struct export *x = exports[i];

		if (x == NULL || x->deleted)
			continue;
		for (j = 0; j < x->nvols; j++)
			if (strcmp(x->vols[j], volume) == 0)
				json_array_append_new(a, json_string(x->vm));
	}
	pthread_mutex_unlock(&xlock);
	return a;
}

int
nbdserver_start(struct pool *p, const char *dir)
{
	char path[PATH_MAX], *text = NULL, err[200];
	json_t *a;
	size_t len, i;
	int r;

	pool = p;
	if (strlen(dir) >= sizeof(export_dir))
		return -ENAMETOOLONG;
	memcpy(export_dir, dir, strlen(dir) + 1);
	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	r = util_fmt(path, sizeof(path), "%s/exports.json", p->dir);
	if (r < 0)
		return r;
	if (util_read_file(path, 16u << 20, &text, &len) == 0) {
		json_t *x;

		a = json_loads(text, 0, NULL);
		free(text);
		pthread_mutex_lock(&xlock);
		json_array_foreach(a, i, x) {
			const char *vm = json_string_value(json_object_get(x, "vm"));
			const char *tenant = json_string_value(json_object_get(x, "tenant"));
			json_int_t pid = json_integer_value(json_object_get(x, "pid"));

			if (vm == NULL || tenant == NULL ||
			    add_export(vm, tenant, json_object_get(x, "volumes"), (pid_t)pid, NULL,
				       err, sizeof(err)) < 0)
				log_warnx("export %s not restored: %s", vm ? vm : "?", err);
		}
		pthread_mutex_unlock(&xlock);
		json_decref(a);
	}
	r = pthread_create(&acceptor, NULL, accept_main, NULL);
	return r ? -r : 0;
}

void
nbdserver_stop(void)
{
	atomic_store(&stopping, 1);
	if (wake[1] >= 0) {
		poke();
		pthread_join(acceptor, NULL);
	}
}
