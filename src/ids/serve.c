/*
 * serve.c - the serve loop, privilege drop and seccomp (serve.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build.h"
#include "control.h"
#include "log.h"
#include "serve.h"

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * What the sensor still does after set-up, and so the only system calls it
 * keeps. Anything else kills it (SCMP_ACT_KILL_PROCESS): the agent sees it
 * end and restarts it.
 */
static int
confine(void)
{
	static const struct {
		const char *name;
		const char *why;
	} allow[] = {
		{"read", "rule files on a reload; /proc/self/status"},
		{"write", "EVE records, control replies, log lines"},
		{"writev", "stdio"},
		{"close", "connections, descriptors, files"},
		{"poll", "the main loop"},
		{"ppoll", "poll on newer libcs"},
		{"accept4", "control connections"},
		{"recvmsg", "control lines with SCM_RIGHTS; captures without a ring"},
		{"recvfrom", "plain recv"},
		{"sendto", "control replies"},
		{"sendmsg", "control replies"},
		{"getsockopt", "SO_PEERCRED, SO_TYPE, PACKET_STATISTICS"},
		{"setsockopt", "PACKET_VERSION and PACKET_RX_RING on a new capture"},
		{"getsockname", "checking a handed-over socket"},
		{"mmap", "memory, capture rings, Hyperscan and PCRE2 JIT"},
		{"munmap", "memory, capture rings"},
		{"mremap", "realloc of large blocks"},
		{"mprotect", "PCRE2 JIT makes its code executable"},
		{"madvise", "malloc returning memory"},
		{"brk", "malloc"},
		{"openat", "rule directories and files on a reload"},
		{"newfstatat", "stat of rule files"},
		{"fstat", "stdio, rule files"},
		{"lseek", "stdio"},
		{"getdents64", "listing a rule directory"},
		{"fcntl", "blocking mode of a control connection"},
		{"clock_gettime", "time (usually the vDSO)"},
		{"gettimeofday", "time"},
		{"time", "time"},
		{"getuid", "peer checks"},
		{"getpid", "logging"},
		{"rt_sigreturn", "SIGTERM handler"},
		{"rt_sigprocmask", "libc"},
		{"exit", "threads of libc"},
		{"exit_group", "the end"},
		{"unlink", "removing the control socket at the end"},
		{"unlinkat", "the same on newer libcs"},
		{"futex", "libc locks"},
		{"getrandom", "malloc and hash seeds in libc"},
		{"sched_getaffinity", "Hyperscan's platform check"},
		{"rseq", "a thread's start (the builder is started before, this is a safety net)"},
		{"set_robust_list", "the same"},
		{"sysinfo", "glibc's qsort sizes its buffer by the physical memory"},
		{"pread64", "libc reading rule files and /proc"},
		{"readlink", "libc path handling"},
		{"access", "libc checks on a reload"},
		{"prlimit64", "libc asking for its stack limit"},
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(allow) / sizeof(allow[0]) && r == 0; i++) {
		int nr = seccomp_syscall_resolve_name(allow[i].name);

		if (nr != __NR_SCMP_ERROR)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	/* every thread: the rule builder's too (it was started before) */
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	/* ioctl: only the terminal check stdio makes (isatty) */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, TCGETS));
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

static int
drop_to(const char *user, const char *control, const char *eve)
{
	struct passwd *pw = getpwnam(user);

	if (!pw)
		return -ENOENT;
	if (chown(control, pw->pw_uid, pw->pw_gid) < 0)
		return -errno;
	if (strcmp(eve, "-") != 0 && chown(eve, pw->pw_uid, pw->pw_gid) < 0)
		return -errno;
	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return -errno;
	return 0;
}

struct loopctx {
	struct sensor *s;
	struct control *c;
};

static void
on_frame(void *arg, struct capture *cap, const uint8_t *frame, size_t caplen, size_t wirelen,
	 uint64_t ts_us)
{
	struct loopctx *l = arg;
	struct net *n = sensor_net_find(l->s, cap->network_id);

	if (n)
		sensor_packet(l->s, n, cap->id, frame, caplen, wirelen, ts_us);
}

int
serve_main(const struct serve_opts *o)
{
	struct sensor s;
	struct control c;
	struct loopctx l = {&s, &c};
	struct sigaction sa;
	char err[512];
	uint64_t last_drops = 0;

	umask(077);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (sensor_init(&s, o->eve, err, sizeof(err)) < 0)
		fatalx("%s", err);
	s.stats_interval_us = (uint64_t)o->stats_interval_s * 1000000;
	if (control_listen(&c, &s, o->control, err, sizeof(err)) < 0)
		fatalx("%s", err);
	/* before seccomp: the worker thread is made with clone */
	c.b = builder_start();
	if (!c.b)
		fatalx("cannot start the rule builder thread");
	s.iface_name = control_iface_name;
	s.iface_arg = &c;
	if (o->user) {
		int r = drop_to(o->user, o->control, o->eve);

		if (r < 0)
			fatalx("cannot become %s: %s", o->user, strerror(-r));
		c.uid = getuid();
	}
	if (o->seccomp && confine() < 0)
		fatalx("cannot install the seccomp filter");
	log_info("serving: control %s, EVE %s, uid %d%s", o->control, o->eve, (int)getuid(),
		 o->seccomp ? ", seccomp on" : "");
	while (!stopping) {
		struct pollfd pf[2 + CONTROL_CONNS_MAX + 64];
		struct capture *cp[64];
		int n = 0, nc = 0, r;

		pf[n].fd = c.lfd;
		pf[n++].events = POLLIN;
		for (int i = 0; i < CONTROL_CONNS_MAX; i++) {
			/* a connection waiting for a build is not read meanwhile */
			pf[n].fd = c.conns[i].waiting ? -1 : c.conns[i].fd;
			pf[n++].events = POLLIN;
		}
		pf[n].fd = builder_fd(c.b);
		pf[n++].events = POLLIN;
		for (struct capture *p = c.caps; p && nc < 64; p = p->next) {
			cp[nc++] = p;
			pf[n].fd = p->fd;
			pf[n++].events = POLLIN;
		}
		r = poll(pf, (nfds_t)n, 100);
		if (r < 0 && errno != EINTR)
			fatalx("poll failed");
		if (r > 0 && (pf[0].revents & POLLIN))
			control_accept(&c);
		for (int i = 0; r > 0 && i < CONTROL_CONNS_MAX; i++)
			if (c.conns[i].fd >= 0 && !c.conns[i].waiting &&
			    (pf[1 + i].revents & (POLLIN | POLLHUP | POLLERR)))
				control_read(&c, i);
		if (r > 0 && (pf[1 + CONTROL_CONNS_MAX].revents & POLLIN))
			control_builds_done(&c);
		/* Every capture, ready or not: ring blocks may retire between polls. */
		for (int i = 0; i < nc; i++) {
			int still = 0;

			for (struct capture *p = c.caps; p; p = p->next)
				still |= p == cp[i];
			if (still)
				capture_read(cp[i], on_frame, &l, CAPTURE_BLOCKS);
		}
		sensor_tick(&s, now_us());
		if (s.now_us >= last_drops + 1000000) {
			for (struct capture *p = c.caps; p; p = p->next) {
				struct net *nt = sensor_net_find(&s, p->network_id);
				uint64_t d = capture_drops(p);

				if (nt)
					nt->st.kernel_drops += d;
			}
			last_drops = s.now_us;
		}
	}
	log_info("stopping");
	builder_stop(c.b);
	c.b = NULL;
	control_close_all(&c);
	sensor_finish(&s);
	unlink(o->control);
	return 0;
}
