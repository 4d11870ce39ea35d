/*
 * storaged.c - cloudlet-storaged: the storage server. Owns a pool of
 * devices, exports per-tenant volumes over NBD on unix sockets, answers
 * the control protocol (docs/storage-protocol.md). docs/storage.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert.h"
#include "control.h"
#include "log.h"
#include "meta.h"
#include "nbdserver.h"
#include "pool.h"
#include "repair.h"
#include "scanner.h"
#include "util.h"
#include "volume.h"

static const char usage[] =
	"usage: cloudlet-storaged serve --pool-dir DIR --device PATH --device PATH [...]\n"
	"           --control SOCK --export-dir DIR [--user USER] [--signatures DIR]\n"
	"           [--scan-inline on|off] [--scan-interval SECONDS] [-v]\n"
	"A new pool is formatted on the --device paths (at least two) the first time;\n"
	"later starts take the devices from the pool directory.\n";

struct opts {
	const char *pool_dir, *control, *export_dir, *user, *sigdir;
	const char *devices[POOL_MAX_DEVICES];
	int ndev, scan_inline, verbose;
	unsigned scan_interval;
};

static int
parse(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->scan_inline = 1;
	if (argc < 2 || strcmp(argv[1], "serve") != 0)
		return -EINVAL;
	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-v") == 0) {
			o->verbose = 1;
			continue;
		}
		if (v == NULL)
			return -EINVAL;
		i++;
		if (strcmp(a, "--pool-dir") == 0)
			o->pool_dir = v;
		else if (strcmp(a, "--control") == 0)
			o->control = v;
		else if (strcmp(a, "--export-dir") == 0)
			o->export_dir = v;
		else if (strcmp(a, "--user") == 0)
			o->user = v;
		else if (strcmp(a, "--signatures") == 0)
			o->sigdir = v;
		else if (strcmp(a, "--scan-inline") == 0 &&
			 (strcmp(v, "on") == 0 || strcmp(v, "off") == 0))
			o->scan_inline = strcmp(v, "on") == 0;
		else if (strcmp(a, "--scan-interval") == 0)
			o->scan_interval = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--device") == 0 && o->ndev < POOL_MAX_DEVICES)
			o->devices[o->ndev++] = v;
		else
			return -EINVAL;
	}
	if (!o->pool_dir || !o->control || !o->export_dir)
		return -EINVAL;
	return 0;
}

/* The pool's files and directories belong to the server's user. */
static int
own(const char *dir, const char *name, const struct passwd *pw)
{
	char path[PATH_MAX];

	if (util_fmt(path, sizeof(path), "%s%s%s", dir, name ? "/" : "", name ? name : "") < 0)
		return -ENAMETOOLONG;
	if (chown(path, pw->pw_uid, pw->pw_gid) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int
drop_privileges(const struct opts *o, const struct passwd *pw)
{
	static const char *const files[] = {"meta.ckpt", "journal", "alerts.jsonl",
					    "exports.json", NULL};
	int i;

	if (own(o->pool_dir, NULL, pw) < 0 || own(o->export_dir, NULL, pw) < 0 ||
	    own(o->control, NULL, pw) < 0)
		return -errno;
	for (i = 0; files[i]; i++)
		if (own(o->pool_dir, files[i], pw) < 0)
			return -errno;
	/* Devices, sockets and files are open: nothing else needs root. */
	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return -errno;
	return 0;
}

int
main(int argc, char **argv)
{
	struct pool *p = NULL;
	struct opts o;
	struct passwd *pw = NULL;
	struct pool_check_stats st;
	sigset_t set;
	int r, clean = 0, lfd, sig;

	log_init("cloudlet-storaged", 0);
	if (parse(argc, argv, &o) < 0) {
		fputs(usage, stderr);
		return 2;
	}
	log_init("cloudlet-storaged", o.verbose);
	if (o.user) {
		pw = getpwnam(o.user);
		if (pw == NULL)
			fatalx("no user %s", o.user);
	}
	umask(077);
	if (util_mkdirs(o.pool_dir, 0700) < 0 || util_mkdirs(o.export_dir, 0711) < 0)
		fatalx("cannot create %s or %s", o.pool_dir, o.export_dir);
	/* QEMU (another user) must reach the sockets, not list them. */
	chmod(o.export_dir, 0711);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	p = calloc(1, sizeof(*p));
	if (p == NULL || pool_init(p, o.pool_dir) < 0)
		fatalx("out of memory");
	repair_init(p);
	r = alert_open(o.pool_dir);
	if (r < 0)
		fatalx("alerts in %s: %s", o.pool_dir, strerror(-r));
	r = meta_open(p, o.devices, o.ndev, &clean);
	if (r < 0)
		fatalx("cannot open the pool in %s: %s", o.pool_dir, strerror(-r));
	if (!clean) {
		uint64_t t0 = util_now_ms();

		log_info("the last run did not shut down cleanly: verifying every extent");
		r = repair_recover(p, &st);
		log_info("recovery: %llu extents, %llu blocks resynchronised, %llu lost, %llu ms",
			 (unsigned long long)st.extents, (unsigned long long)st.repaired,
			 (unsigned long long)st.unrecoverable,
			 (unsigned long long)(util_now_ms() - t0));
	}
	pthread_mutex_lock(&p->lock);
	if (meta_sync(p) == 0)
		pool_release_freed(p);
	pthread_mutex_unlock(&p->lock);

	if (o.sigdir) {
		r = scanner_start(p, o.sigdir, o.scan_inline, o.scan_interval);
		if (r < 0)
			fatalx("scanning: cannot load signatures from %s: %s", o.sigdir,
			       strerror(-r));
	}
	lfd = control_listen(p, o.control);
	if (lfd < 0)
		fatalx("control socket %s: %s", o.control, strerror(-lfd));
	r = nbdserver_start(p, o.export_dir);
	if (r < 0)
		fatalx("exports: %s", strerror(-r));
	if (pw && (r = drop_privileges(&o, pw)) < 0)
		fatalx("cannot become %s: %s", o.user, strerror(-r));
	if (repair_start(p) < 0 || control_start(lfd) < 0)
		fatalx("cannot start threads");
	log_info("serving: %d devices, control %s, exports in %s%s", p->ndev, o.control,
		 o.export_dir, o.sigdir ? ", scanning on" : "");

	while (sigwait(&set, &sig) != 0 || sig == SIGHUP)
		;
	log_info("signal %d: shutting down", sig);
	close(lfd);
	nbdserver_stop();
	scanner_stop();
	repair_stop();
	volume_flush(p);
	pthread_mutex_lock(&p->lock);
	meta_close(p);
	pthread_mutex_unlock(&p->lock);
	alert_close();
	/* Connection threads may still hold the pool: exit without freeing it. */
	return 0;
}
