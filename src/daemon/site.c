/*
 * site.c - site.h: the role and epoch on disk, the link's listener and
 * hello loop, the lease, failover.
 */
#define _GNU_SOURCE
#include "site.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "msg.h"
#include "tlsconn.h"
#include "util.h"

#define LINK_MS 500	/* one hello each way this often */
#define MARGIN_MS 1000	/* clocks of two machines run at slightly different rates */
#define HELLO_MAX SITEMSG_MAX

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char name[64], listen[64], peer[64], peer_fpr[TLSID_FPR_LEN + 1], path[1100];
	enum site_role role;
	long long epoch;
	int paired;		  /* a primary with a standby: the lease applies */
	unsigned lease_ms;
	long long lease_until;	  /* primary: monotonic ms */
	long long last_grant;	  /* standby: when it last answered a primary */
	long long last_contact;	  /* any hello or answer from the peer */
	char peer_role[16];
	long long peer_epoch;
	char link_err[320];	  /* the last hello's failure, "" once one works */
	char in_err[320];	  /* the last incoming connection's failure */
	void (*on_primary)(void);
} S;
static gnutls_certificate_credentials_t cred;


static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* With mu held. */
static int
save(void)
{
	json_t *j = json_pack("{s:s, s:s, s:I, s:b}", "name", S.name, "role",
			      site_role_name(S.role), "epoch", (json_int_t)S.epoch, "paired", S.paired);
	char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	int r = text ? util_write_atomic(S.path, text, strlen(text), 0600) : -ENOMEM;

	if (r < 0)
		log_warnx("site: cannot write %s: %s", S.path, strerror(-r));
	free(text);
	json_decref(j);
	return r;
}

static int
load(const struct site_conf *c, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len;
	json_t *j;
	int r;

	if ((r = util_read_file(S.path, 4096, &text, &len)) == -ENOENT) {
		if (site_role_parse(c->role ? c->role : "primary", &S.role) < 0 ||
		    (S.role != SITE_PRIMARY && S.role != SITE_STANDBY)) {
			snprintf(err, errlen, "--site-role: primary or standby");
			return -EINVAL;
		}
		S.epoch = 1;
		S.paired = 1;
		log_info("site: new %s site %s", site_role_name(S.role), S.name);
		return save();
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read %s: %s", S.path, strerror(-r));
		return r;
	}
	j = json_loadb(text, len, 0, NULL);
	free(text);
	if (j == NULL || site_role_parse(json_string_value(json_object_get(j, "role")), &S.role) < 0 ||
	    S.role == SITE_ALONE || !json_is_integer(json_object_get(j, "epoch"))) {
		snprintf(err, errlen, "%s is not a site state (role, epoch)", S.path);
		json_decref(j);
		return -EINVAL;
	}
	S.epoch = json_integer_value(json_object_get(j, "epoch"));
	S.paired = json_is_true(json_object_get(j, "paired"));
	json_decref(j);
	log_info("site %s: %s, epoch %lld", S.name, site_role_name(S.role), S.epoch);
	return 0;
}

static void *
cb_thread(void *arg)
{
	((void (*)(void))arg)();
	return NULL;
}

/* on_primary on a thread of its own: it may wait for agents, and the
 * hello loop must not (the lease). */
static void
run_on_primary(void (*cb)(void))
{
	pthread_t t;

	if (cb != NULL && (pthread_create(&t, NULL, cb_thread, (void *)cb) != 0 ||
			   pthread_detach(t) != 0))
		log_warnx("site: cannot start the workers' thread");
}

/* What runs when this site is demoted (site_on_demoted), on a thread of
 * its own: it stops this site's VMs, which must not run beside the copies
 * the new primary started. */
static void (*on_demoted)(void);

void
site_on_demoted(void (*cb)(void))
{
	on_demoted = cb;
}

static void *
demoted_thread(void *arg)
{
	(void)arg;
	on_demoted();
	return NULL;
}

static void
run_on_demoted(void)
{
	pthread_t t;

	if (on_demoted != NULL && pthread_create(&t, NULL, demoted_thread, NULL) == 0)
		pthread_detach(t);
}

/* With mu held: this site hears that the peer is role r at epoch e. */
static void
heard(const char *r, long long e)
{
	S.last_contact = now_ms();
	S.in_err[0] = '\0';
	snprintf(S.peer_role, sizeof(S.peer_role), "%s", r);
	S.peer_epoch = e;
	if (S.role == SITE_PRIMARY && e > S.epoch &&
	    (strcmp(r, "primary") == 0 || strcmp(r, "promoting") == 0)) {
		log_warnx("site: %s took over at epoch %lld (ours %lld): this site is demoted and "
			  "accepts no writes",
			  r, e, S.epoch);
		S.role = SITE_DEMOTED;
		S.lease_until = 0;
		save();
		run_on_demoted();
	}
	/* A standby follows its primary's epoch. */
	if (S.role == SITE_STANDBY && strcmp(r, "primary") == 0 && e > S.epoch) {
		S.epoch = e;
		save();
	}
}

static json_t *
hello(void)
{
	return json_pack("{s:s, s:s, s:s, s:I}", "op", "site.hello", "site", S.name, "role",
			 site_role_name(S.role), "epoch", (json_int_t)S.epoch);
}


/* One connection to the listener: a hello in, the answer out. */
static void
serve_one(int fd)
{
	struct tlsconn_pin pin;
	struct msg_parser p;
	gnutls_session_t s;
	json_t *m = NULL, *ans = NULL;
	const char *role;
	long long epoch;
	char err[256];
	int r;

	snprintf(pin.want, sizeof(pin.want), "%s", S.peer_fpr);
	if ((r = tlsconn_handshake(&s, fd, 1, cred, &pin, 2000)) < 0) {
		tlsconn_why(r, &pin, err, sizeof(err));
		pthread_mutex_lock(&mu);
		snprintf(S.in_err, sizeof(S.in_err), "%s", err);
		pthread_mutex_unlock(&mu);
		return;
	}
	if (msg_parser_init(&p, HELLO_MAX) == 0) {
		gnutls_record_set_timeout(s, 2000);
		if (tlsconn_next(s, &p, &m, err, sizeof(err)) == 0 &&
		    sitemsg_parse_peer(m, &role, &epoch) == 0) {
			pthread_mutex_lock(&mu);
			heard(role, epoch);
			/* Answering a primary as its standby is the grant. */
			if (S.role == SITE_STANDBY && strcmp(role, "primary") == 0 &&
			    epoch >= S.epoch)
				S.last_grant = now_ms();
			ans = hello();
			pthread_mutex_unlock(&mu);
			if (ans != NULL)
				tlsconn_send(s, ans);
		}
		msg_parser_free(&p);
	}
	json_decref(m);
	json_decref(ans);
	gnutls_bye(s, GNUTLS_SHUT_WR);
	gnutls_deinit(s);
}

static void *
listener(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EINTR)
				usleep(100000);
			continue;
		}
		serve_one(fd);
		close(fd);
	}
	return NULL;
}

/* One hello to the peer and its answer. */
static void
say_hello(void)
{
	struct tlsconn_pin pin;
	struct msg_parser p;
	gnutls_session_t s;
	json_t *m, *ans = NULL;
	const char *role;
	long long epoch, sent = now_ms();
	char err[256] = "";
	int fd, r;

	snprintf(pin.want, sizeof(pin.want), "%s", S.peer_fpr);
	if ((fd = util_tcp_connect(S.peer, 1000)) < 0) {
		snprintf(err, sizeof(err), "cannot reach %s: %s", S.peer, strerror(-fd));
		goto out;
	}
	if ((r = tlsconn_handshake(&s, fd, 0, cred, &pin, 1000)) < 0) {
		tlsconn_why(r, &pin, err, sizeof(err));
		close(fd);
		goto out;
	}
	pthread_mutex_lock(&mu);
	m = hello();
	pthread_mutex_unlock(&mu);
	if (m == NULL || tlsconn_send(s, m) < 0 || msg_parser_init(&p, HELLO_MAX) < 0) {
		snprintf(err, sizeof(err), "the link broke");
	} else {
		gnutls_record_set_timeout(s, 1000);
		if ((r = tlsconn_next(s, &p, &ans, err, sizeof(err))) < 0 && err[0] == '\0')
			snprintf(err, sizeof(err), "no answer (%s)", strerror(-r));
		msg_parser_free(&p);
	}
	json_decref(m);
	gnutls_deinit(s);
	close(fd);
	if (ans != NULL && sitemsg_parse_peer(ans, &role, &epoch) == 0) {
		void (*cb)(void) = NULL;

		pthread_mutex_lock(&mu);
		heard(role, epoch);
		S.link_err[0] = '\0';
		if (S.role == SITE_PRIMARY && strcmp(role, "standby") == 0 && epoch <= S.epoch) {
			if (S.lease_until == 0 || !S.paired)
				log_info("site: the standby answers; lease held");
			S.lease_until = sent + S.lease_ms;
			if (!S.paired) {
				S.paired = 1;
				save();
			}
			cb = S.on_primary;
			S.on_primary = NULL;
		}
		pthread_mutex_unlock(&mu);
		json_decref(ans);
		run_on_primary(cb);
		return;
	}
	json_decref(ans);
	if (err[0] == '\0')
		snprintf(err, sizeof(err), "the peer's answer is not a site hello");
out:
	pthread_mutex_lock(&mu);
	snprintf(S.link_err, sizeof(S.link_err), "%s", err);
	pthread_mutex_unlock(&mu);
}

static void *
hello_loop(void *arg)
{
	(void)arg;
	for (;;) {
		long long t = now_ms();

		say_hello();
		t = LINK_MS - (now_ms() - t);
		if (t > 0)
			usleep((useconds_t)t * 1000);
	}
	return NULL;
}

int
site_start(const struct site_conf *c, void (*on_primary)(void), char *err, size_t errlen)
{
	struct sockaddr_in sa;
	pthread_t t;
	int lfd, one = 1, r;

	if (c->peer == NULL) {
		S.role = SITE_ALONE;
		return 0;
	}
	if (c->name == NULL || c->listen == NULL || c->peer_fpr == NULL) {
		snprintf(err, errlen, "a site needs --site-name, --site-listen, --site-peer and "
				      "--site-peer-fingerprint");
		return -EINVAL;
	}
	if (!site_name_ok(c->name) || strlen(c->listen) >= sizeof(S.listen) ||
	    strlen(c->peer) >= sizeof(S.peer) || tlsid_fpr_parse(c->peer_fpr, S.peer_fpr) < 0 ||
	    util_parse_ipv4_port(c->listen, &sa) < 0 || util_parse_ipv4_port(c->peer, &sa) < 0) {
		snprintf(err, errlen, "--site-*: a name of 1-32 a-z 0-9 - (not starting with -), "
				      "IPv4:port addresses and a "
				      "64-hex-digit fingerprint");
		return -EINVAL;
	}
	snprintf(S.name, sizeof(S.name), "%s", c->name);
	snprintf(S.listen, sizeof(S.listen), "%s", c->listen);
	snprintf(S.peer, sizeof(S.peer), "%s", c->peer);
	S.lease_ms = c->lease_ms ? c->lease_ms : 3000;
	S.on_primary = on_primary;
	if (util_fmt(S.path, sizeof(S.path), "%s/site.json", c->state_dir) < 0)
		return -ENAMETOOLONG;
	if ((r = load(c, err, errlen)) < 0)
		return r;
	if ((r = tlsconn_cred(c->tls_dir, &cred, err, errlen)) < 0)
		return r;
	util_parse_ipv4_port(S.listen, &sa);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", S.listen, strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return -EADDRINUSE;
	}
	if (pthread_create(&t, NULL, listener, (void *)(intptr_t)lfd) != 0 ||
	    pthread_detach(t) != 0 || pthread_create(&t, NULL, hello_loop, NULL) != 0 ||
	    pthread_detach(t) != 0) {
		snprintf(err, errlen, "cannot start the site link");
		return -EAGAIN;
	}
	log_info("site %s: link on %s, peer %s (pinned %.16s...), lease %u ms", S.name, S.listen,
		 S.peer, S.peer_fpr, S.lease_ms);
	/* A primary without a standby (after a failover) needs no lease: it
	 * writes at once. */
	if (S.role == SITE_PRIMARY && !S.paired) {
		void (*cb)(void) = S.on_primary;

		S.on_primary = NULL;
		run_on_primary(cb);
	}
	/* Demoted before this start: its VMs are stopped again (a host may
	 * have started them meanwhile, or the stop had not ended). */
	if (S.role == SITE_DEMOTED)
		run_on_demoted();
	return 0;
}

enum site_role
site_role(void)
{
	enum site_role r;

	pthread_mutex_lock(&mu);
	r = S.role;
	pthread_mutex_unlock(&mu);
	return r;
}

int
site_writable(char *why, size_t len)
{
	int ok = 0;

	pthread_mutex_lock(&mu);
	switch (S.role) {
	case SITE_ALONE: ok = 1; break;
	case SITE_PRIMARY:
		ok = !S.paired || now_ms() < S.lease_until;
		if (!ok)
			snprintf(why, len, "site %s is the primary but its standby has not confirmed "
					   "it for %u ms (fenced against split brain): %s",
				 S.name, S.lease_ms, S.link_err[0] ? S.link_err : "no answer yet");
		break;
	case SITE_STANDBY:
		snprintf(why, len, "site %s is the standby: read-only until a failover", S.name);
		break;
	case SITE_PROMOTING:
		snprintf(why, len, "site %s is taking over (failover in progress)", S.name);
		break;
	case SITE_DEMOTED:
		snprintf(why, len, "site %s was demoted (the other site took over at epoch %lld): "
				   "read-only",
			 S.name, S.peer_epoch);
		break;
	}
	pthread_mutex_unlock(&mu);
	return ok;
}

json_t *
site_view(void)
{
	long long now = now_ms();
	json_t *v;
	char why[400] = "";
	int w = site_writable(why, sizeof(why));

	pthread_mutex_lock(&mu);
	if (S.role == SITE_ALONE) {
		pthread_mutex_unlock(&mu);
		return json_pack("{s:s, s:b}", "role", "alone", "writable", 1);
	}
	v = json_pack("{s:s, s:s, s:I, s:b, s:b, s:s, s:{s:s, s:s, s:s, s:I, s:I, s:s, s:s}, "
		      "s:{s:I, s:I}}",
		      "name", S.name, "role", site_role_name(S.role), "epoch", (json_int_t)S.epoch,
		      "paired", S.paired, "writable", w, "why", why, "peer", "address", S.peer,
		      "fingerprint", S.peer_fpr, "role", S.peer_role, "epoch",
		      (json_int_t)S.peer_epoch, "last_contact_ms_ago",
		      (json_int_t)(S.last_contact ? now - S.last_contact : -1), "error", S.link_err,
		      "incoming_error", S.in_err,
		      "lease", "ms", (json_int_t)S.lease_ms, "remaining_ms",
		      (json_int_t)(S.role == SITE_PRIMARY && S.lease_until > now
					   ? S.lease_until - now
					   : 0));
	pthread_mutex_unlock(&mu);
	return v;
}

int
site_failover(char *err, size_t errlen)
{
	long long until;
	void (*cb)(void);
	int r;

	pthread_mutex_lock(&mu);
	if (S.role == SITE_PRIMARY || S.role == SITE_ALONE) {
		pthread_mutex_unlock(&mu);
		snprintf(err, errlen, "this site is already the primary");
		return -EALREADY;
	}
	if (S.role == SITE_DEMOTED) {
		pthread_mutex_unlock(&mu);
		snprintf(err, errlen, "this site was demoted: it must become a standby of the "
				      "primary again first (docs/dr.md)");
		return -EPERM;
	}
	if (S.role == SITE_STANDBY) {
		/* From here it answers no primary as its standby. */
		S.role = SITE_PROMOTING;
		S.epoch = (S.peer_epoch > S.epoch ? S.peer_epoch : S.epoch) + 1;
		if (save() < 0) {
			S.role = SITE_STANDBY;
			pthread_mutex_unlock(&mu);
			snprintf(err, errlen, "cannot record the new epoch");
			return -EIO;
		}
		log_warnx("site %s: failover, epoch %lld", S.name, S.epoch);
	}
	until = S.last_grant + S.lease_ms + MARGIN_MS;
	pthread_mutex_unlock(&mu);
	/* The old primary's lease, counted from before the last grant, is over
	 * by then, whether or not it can hear us. */
	while (now_ms() < until)
		usleep(50000);
	if ((r = db_promote()) < 0 && db_standby() != 0) {
		snprintf(err, errlen, "the database did not promote (see the log); the site stays "
				      "promoting, run the failover again");
		return -EIO;
	}
	pthread_mutex_lock(&mu);
	S.role = SITE_PRIMARY;
	S.paired = 0; /* until a standby answers again */
	S.lease_until = 0;
	save();
	cb = S.on_primary;
	S.on_primary = NULL;
	pthread_mutex_unlock(&mu);
	log_warnx("site %s: primary at epoch %lld", S.name, S.epoch);
	run_on_primary(cb);
	return 0;
}
