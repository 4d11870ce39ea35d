/*
 * serve.h - cloudlet-ids serve: the long-running sensor. One thread, one
 * poll() over the control socket, its connections and every capture; a
 * tick each 100 ms for timeouts and stats.
 *
 * Privilege: it needs none. The agent starts it as its own user (or it is
 * started as root with --user and drops to that user after opening its
 * control socket and EVE file); it never opens a capture socket itself.
 * After set-up it confines itself with a seccomp allow-list (serve.c
 * comments each system call) unless --no-seccomp.
 */
#ifndef CLOUDLET_IDS_SERVE_H
#define CLOUDLET_IDS_SERVE_H

struct serve_opts {
	const char *control, *eve, *user;
	unsigned stats_interval_s;
	int seccomp;
};

int serve_main(const struct serve_opts *o);

#endif
