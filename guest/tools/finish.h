/*
 * finish.h - the end of every boot (docs/guest.md, steps 5-7): run the
 * user-data if it is a script, start the image's service, wait until the
 * service accepts connections on the image's ports (/etc/cloudlet/ports),
 * print the readiness line "cloudlet: ready <instance-id>" - or, when the
 * service never listens, "cloudlet: service-failed: <why>" instead.
 *
 * Included by cloudlet-finish.c (the boot script runs it on a cold boot)
 * and by cloudlet-identity.c (a restored clone finishes in the same
 * process: returning to the boot script and running these steps there cost
 * ~45 ms more under emulation). Header-only, as netcfg.h.
 */
#ifndef CLOUDLET_FINISH_H
#define CLOUDLET_FINISH_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FINISH_SEED "/run/cloudlet/seed"
#define FINISH_PORTS "/etc/cloudlet/ports"
#define FINISH_TIMEOUT_FILE "/etc/cloudlet/ready-timeout"
#define FINISH_TIMEOUT_S 60
#define FINISH_POLL_NS 2000000L /* 2 ms between two rounds of probes */
#define FINISH_MAX_PORTS 32

/* stdin /dev/null, stdout and stderr the console (as the boot script has). */
static void
finish_stdio(void)
{
	int in = open("/dev/null", O_RDONLY);

	if (in >= 0 && in != 0) {
		dup2(in, 0);
		close(in);
	}
}

#include <dirent.h>

#include "cloudcfg.h"

#define FINISH_DONE "/var/lib/cloudlet/instance-id"
#define FINISH_PER_BOOT "/var/lib/cloud/scripts/per-boot"

/* Is the user-data a script (it starts with "#!")? */
static int
finish_user_data_is_script(void)
{
	char first[2] = "";
	int fd = open(FINISH_SEED "/user-data", O_RDONLY);

	if (fd >= 0) {
		if (read(fd, first, 2) != 2)
			first[0] = '\0';
		close(fd);
	}
	return first[0] == '#' && first[1] == '!';
}

/* Is this the instance's first boot (its per-instance steps not done)?
 * The root disk remembers the last instance id that finished them: a
 * clone (a new id) runs them, a reboot of the same VM does not. */
static int
finish_first_boot(const char *iid)
{
	char done[128] = "";
	FILE *f = fopen(FINISH_DONE, "r");

	if (f != NULL) {
		if (fgets(done, sizeof(done), f) == NULL)
			done[0] = '\0';
		fclose(f);
	}
	done[strcspn(done, "\r\n")] = '\0';
	return strcmp(done, iid) != 0;
}

static void
finish_mark_done(const char *iid)
{
	FILE *f;

	cloudcfg_mkdirs(FINISH_DONE); /* busybox images have no /var/lib */
	if ((f = fopen(FINISH_DONE ".tmp", "w")) == NULL) {
		printf("cloudlet: warning: user-data: cannot record the instance: %s\n",
		       strerror(errno));
		return;
	}
	fprintf(f, "%s\n", iid);
	if (fflush(f) == 0)
		fsync(fileno(f));
	fclose(f);
	rename(FINISH_DONE ".tmp", FINISH_DONE);
}

/* Run an executable as root (cwd /root, HOME=/root), output to the console;
 * a non-zero exit is said as "cloudlet: WHAT exited with status N". */
static void
finish_run(const char *path, const char *what)
{
	int st = 0;
	pid_t p;

	fflush(stdout);
	p = fork();
	if (p == 0) {
		finish_stdio();
		if (chdir("/root") < 0)
			_exit(126);
		setenv("HOME", "/root", 1);
		execl(path, path, (char *)NULL);
		_exit(126);
	}
	if (p < 0) {
		printf("cloudlet: %s exited with status 126\n", what);
		fflush(stdout);
		return;
	}
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("cloudlet: %s exited with status %d\n", what,
		       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		fflush(stdout);
	}
}

/* cloud-init's scripts-per-boot: every executable file of FINISH_PER_BOOT,
 * in name order, at every boot (a user-data script may install some). */
static int
finish_per_boot(int run)
{
	struct dirent **ents = NULL;
	int n = scandir(FINISH_PER_BOOT, &ents, NULL, alphasort), i, found = 0;
	char path[512];
	struct stat st;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), FINISH_PER_BOOT "/%s", ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    (st.st_mode & 0100)) {
			found = 1;
			if (run)
				finish_run(path, "per-boot script");
		}
		free(ents[i]);
	}
	free(ents);
	return found;
}

/* 5. user-data (docs/guest.md): per-boot scripts at every boot; on the
 * instance's first boot the cloud-config's runcmd (written by
 * cloudcfg_apply) and a "#!" user-data script, as root in /root. */
static void
finish_user_data(const char *iid, int first, int runcmd)
{
	const char *ud = FINISH_SEED "/user-data";
	char head[16] = "";
	int fd = open(ud, O_RDONLY);
	ssize_t n = 0;

	if (fd >= 0) {
		n = read(fd, head, sizeof(head) - 1);
		close(fd);
	}
	head[n > 0 ? n : 0] = '\0';
	finish_per_boot(1);
	if (first && runcmd)
		finish_run(CLOUDCFG_RUNCMD, "runcmd");
	if (head[0] == '#' && head[1] == '!') {
		if (first) {
			chmod(ud, 0700);
			finish_run(ud, "user-data");
		}
	} else if (head[0] != '\0' && strncmp(head, "#cloud-config", 13) != 0) {
		printf("cloudlet: user-data ignored (neither #cloud-config nor a script)\n");
		fflush(stdout);
	}
	if (first)
		finish_mark_done(iid);
}

/* 6. the image's service (/etc/cloudlet/service), in its own session.
 * Returns its pid (0: no service, -1: fork failed). */
static pid_t
finish_service(void)
{
	char svc[1024] = "", pid[32];
	FILE *f = fopen("/etc/cloudlet/service", "r");
	pid_t p;

	if (f != NULL) {
		if (fgets(svc, sizeof(svc), f) == NULL)
			svc[0] = '\0';
		fclose(f);
	}
	svc[strcspn(svc, "\r\n")] = '\0';
	if (svc[0] == '\0')
		return 0;
	fflush(stdout);
	p = fork();
	if (p == 0) {
		finish_stdio();
		setsid();
		execl("/bin/sh", "sh", "-c", svc, (char *)NULL);
		_exit(127);
	}
	if (p > 0) {
		int fd =
		    open("/run/cloudlet/service.pid", O_WRONLY | O_CREAT | O_TRUNC, 0644);

		snprintf(pid, sizeof(pid), "%d\n", (int)p);
		if (fd >= 0) {
			if (write(fd, pid, strlen(pid)) < 0) {
				/* the service runs anyway */
			}
			close(fd);
		}
	}
	return p;
}

/* 5a. SSH (docs/guest.md): /etc/cloudlet/ssh puts the seed's public keys
 * into root's authorized_keys and starts dropbear, which makes this VM's
 * host keys at its first connection (a clone: after its RNG was reseeded).
 * No keys in the seed: no SSH server. It leaves FINISH_SSH_ON when dropbear
 * was started: port 22 is then waited for with the service's ports. */
#define FINISH_SSH "/etc/cloudlet/ssh"
#define FINISH_SSH_ON "/run/cloudlet/ssh"

static void
finish_ssh(void)
{
	pid_t p;
	int st;

	if (access(FINISH_SSH, X_OK) < 0)
		return;
	fflush(stdout);
	p = fork();
	if (p == 0) {
		finish_stdio();
		execl(FINISH_SSH, FINISH_SSH, (char *)NULL);
		_exit(127);
	}
	if (p > 0)
		while (waitpid(p, &st, 0) < 0 && errno == EINTR)
			;
}

/* ---- 7. the service's ports ------------------------------------------ */

struct finish_port {
	unsigned port;
	int udp; /* else tcp */
	int up;
	char name[16]; /* "6379/tcp" as declared */
};

/* With SSH started (FINISH_SSH_ON), 22/tcp is one of the ports waited for:
 * a client that connects right after the readiness line gets sshd. */
static int
finish_ssh_port(struct finish_port *ports, int n, int max)
{
	if (n >= max || access(FINISH_SSH_ON, F_OK) < 0)
		return n;
	for (int i = 0; i < n; i++)
		if (ports[i].port == 22 && !ports[i].udp)
			return n;
	memset(&ports[n], 0, sizeof(ports[n]));
	ports[n].port = 22;
	snprintf(ports[n].name, sizeof(ports[n].name), "22/tcp");
	return n + 1;
}

/* /etc/cloudlet/ports (written by guest/build.sh from the image's ports=):
 * one "PORT/tcp" or "PORT/udp" per line. Returns how many were read. */
static int
finish_read_ports(struct finish_port *ports, int max)
{
	char line[64];
	int n = 0;
	FILE *f = fopen(FINISH_PORTS, "r");

	if (f == NULL)
		return finish_ssh_port(ports, 0, max);
	while (n < max && fgets(line, sizeof(line), f) != NULL) {
		char proto[8] = "";
		unsigned port = 0;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (sscanf(line, "%u/%7s", &port, proto) != 2 || port == 0 || port > 65535 ||
		    (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)) {
			printf("cloudlet: warning: %s: ignoring '%s'\n", FINISH_PORTS, line);
			continue;
		}
		memset(&ports[n], 0, sizeof(ports[n]));
		ports[n].port = port;
		ports[n].udp = strcmp(proto, "udp") == 0;
		snprintf(ports[n].name, sizeof(ports[n].name), "%u/%s", port, proto);
		n++;
	}
	fclose(f);
	return finish_ssh_port(ports, n, max);
}

/* Seconds to wait for the ports: /etc/cloudlet/ready-timeout (1-3600,
 * e.g. written by user-data for a service that starts slowly), else 60. */
static long
finish_timeout_s(void)
{
	char buf[32] = "";
	long t = FINISH_TIMEOUT_S;
	FILE *f = fopen(FINISH_TIMEOUT_FILE, "r");

	if (f != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL) {
			char *end;
			long v = strtol(buf, &end, 10);

			if (end != buf && v >= 1 && v <= 3600)
				t = v;
		}
		fclose(f);
	}
	return t;
}

/* connect() to addr:port, waiting at most 200 ms for the handshake.
 * 1 when the connection was accepted. */
static int
finish_connect(struct in_addr addr, unsigned port)
{
	struct sockaddr_in sa;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), ok = 0;

	if (s < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr = addr;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		ok = 1;
	} else if (errno == EINPROGRESS) {
		struct pollfd pfd = {s, POLLOUT, 0};
		int err = 0;
		socklen_t el = sizeof(err);

		if (poll(&pfd, 1, 200) == 1 &&
		    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
			ok = 1;
	}
	close(s);
	return ok;
}

/*
 * The addresses a TCP port is probed on: the guest's own IPv4 addresses
 * on its interfaces that are up, loopback excluded. A remote client's
 * connection arrives at one of those, and the socket lookup for a
 * connection from this guest to its own address matches listeners exactly
 * as for a remote one (a service bound to 0.0.0.0, to [::] dual-stack or
 * to that address only accepts it; one bound to 127.0.0.1 only does not).
 * Without any such address (a VM without NICs): 127.0.0.1. Read again
 * every 64 rounds (a DHCP lease may come late); getifaddrs at every round
 * cost the service being waited for CPU on a 1-vCPU guest.
 */
struct finish_addrs {
	struct in_addr a[16];
	int n;
};

static void
finish_read_addrs(struct finish_addrs *fa)
{
	struct ifaddrs *ifa = NULL, *i;

	fa->n = 0;
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i != NULL && fa->n < 16; i = i->ifa_next) {
			if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
			    !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
				continue;
			fa->a[fa->n++] = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		}
		freeifaddrs(ifa);
	}
	if (fa->n == 0) {
		fa->a[0].s_addr = htonl(INADDR_LOOPBACK);
		fa->n = 1;
	}
}

/* Is a TCP port accepting connections? One accepting address is enough:
 * a tenant may bind a service to one of the VM's networks only. */
static int
finish_tcp_up(const struct finish_addrs *fa, unsigned port)
{
	int k;

	for (k = 0; k < fa->n; k++)
		if (finish_connect(fa->a[k], port))
			return 1;
	return 0;
}

/* A UDP port has nothing to accept: it counts as up when a socket is bound
 * to it (any address), as /proc/net/udp and /proc/net/udp6 show. */
static int
finish_udp_up(unsigned port)
{
	static const char *const files[] = {"/proc/net/udp", "/proc/net/udp6"};
	char line[512];
	size_t k;

	for (k = 0; k < 2; k++) {
		FILE *f = fopen(files[k], "r");
		int found = 0;

		if (f == NULL)
			continue;
		while (!found && fgets(line, sizeof(line), f) != NULL) {
			char *colon = strchr(line, ':'), *p;

			/* "  sl  local_address ...": "N: ADDR:PORT REM:PORT ..." */
			if (colon == NULL || (p = strchr(colon + 1, ':')) == NULL)
				continue;
			found = strtoul(p + 1, NULL, 16) == port;
		}
		fclose(f);
		if (found)
			return 1;
	}
	return 0;
}

static long
finish_ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Wait until every declared port is up (polled every 2 ms), at most the
 * timeout. The service's own process ending with an error ends the wait
 * early (one that exits 0 may have gone to the background: keep waiting).
 * 0 when all are up, -1 after printing "cloudlet: service-failed: ...".
 */
static int finish_wait_ports_for(pid_t svc, long timeout_ms, int quiet);

static int
finish_wait_ports(pid_t svc)
{
	return finish_wait_ports_for(svc, finish_timeout_s() * 1000, 0);
}

/* The same with a timeout of its own; quiet: print nothing (the template's
 * prestart decides itself what a service that does not come up means). */
static int
finish_wait_ports_for(pid_t svc, long timeout_ms, int quiet)
{
	struct finish_port ports[FINISH_MAX_PORTS];
	struct finish_addrs addrs;
	const struct timespec nap = {0, FINISH_POLL_NS};
	struct timespec t0;
	long rounds = 0;
	int n = finish_read_ports(ports, FINISH_MAX_PORTS), left = n, i, st;
	char list[FINISH_MAX_PORTS * 17] = "";
	size_t off = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	finish_read_addrs(&addrs);
	while (left > 0) {
		if (rounds++ > 0 && rounds % 64 == 0)
			finish_read_addrs(&addrs);
		for (i = 0; i < n; i++) {
			if (ports[i].up)
				continue;
			ports[i].up = ports[i].udp ? finish_udp_up(ports[i].port)
						   : finish_tcp_up(&addrs, ports[i].port);
			if (ports[i].up)
				left--;
		}
		if (left == 0)
			break;
		if (svc > 0 && waitpid(svc, &st, WNOHANG) == svc) {
			svc = 0;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				if (quiet)
					return -1;
				for (i = 0; i < n; i++)
					if (!ports[i].up)
						off += (size_t)snprintf(list + off, sizeof(list) - off,
									"%s%s", off ? " " : "",
									ports[i].name);
				if (WIFEXITED(st))
					printf("cloudlet: service-failed: the service exited with "
					       "status %d before port%s %s listened\n",
					       WEXITSTATUS(st), left > 1 ? "s" : "", list);
				else
					printf("cloudlet: service-failed: the service was killed "
					       "by signal %d before port%s %s listened\n",
					       WTERMSIG(st), left > 1 ? "s" : "", list);
				fflush(stdout);
				return -1;
			}
		}
		if (finish_ms_since(&t0) >= timeout_ms) {
			if (quiet)
				return -1;
			for (i = 0; i < n; i++)
				if (!ports[i].up)
					off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
								off ? " " : "", ports[i].name);
			printf("cloudlet: service-failed: port%s %s not listening after %ld s\n",
			       left > 1 ? "s" : "", list, timeout_ms / 1000);
			fflush(stdout);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
	if (n > 0 && !quiet) {
		for (i = 0; i < n; i++)
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
						off ? " " : "", ports[i].name);
		printf("cloudlet: service-up: %s after %ld ms (%ld probe rounds)\n", list,
		       finish_ms_since(&t0), rounds);
		fflush(stdout);
	}
	return 0;
}

/* ---- a service started in the template --------------------------------- */

#define FINISH_PRESTART "/etc/cloudlet/prestart" /* the image allows it */
#define FINISH_REFRESH "/etc/cloudlet/refresh"   /* run in a clone instead of a restart */
#define FINISH_PRESTART_S 30

/* The prestarted service's pid (its session), 0 when none. */
static pid_t finish_prestarted;

/*
 * In a template, before it is saved (docs/guest.md): start the image's
 * service now, so every clone restored from it has it listening already
 * instead of starting it from cold under emulation. Only images that allow
 * it (prestart=yes: no per-instance secret or random state is made when the
 * service starts, since every clone would share it). A service that does
 * not come up here is stopped: clones then start it themselves.
 */
static void __attribute__((unused)) /* cloudlet-finish (cold boots) has none */
finish_prestart(void)
{
	struct stat st;
	pid_t svc;

	if (stat(FINISH_PRESTART, &st) < 0)
		return;
	svc = finish_service();
	if (svc <= 0)
		return;
	if (finish_wait_ports_for(svc, FINISH_PRESTART_S * 1000L, 1) == 0) {
		finish_prestarted = svc;
		return;
	}
	kill(-svc, SIGKILL);
	while (waitpid(svc, NULL, 0) < 0 && errno == EINTR)
		;
	unlink("/run/cloudlet/service.pid");
	printf("cloudlet: prestart: the service did not listen in the template; clones "
	       "start it themselves\n");
	fflush(stdout);
}

/* A clone's refresh of a prestarted service (its new hostname, e.g. a page
 * naming it): /etc/cloudlet/refresh, run to its end. */
static void
finish_refresh(void)
{
	char cmd[1024] = "";
	FILE *f = fopen(FINISH_REFRESH, "r");
	pid_t p;
	int st;

	if (f != NULL) {
		if (fgets(cmd, sizeof(cmd), f) == NULL)
			cmd[0] = '\0';
		fclose(f);
	}
	cmd[strcspn(cmd, "\r\n")] = '\0';
	if (cmd[0] == '\0')
		return;
	fflush(stdout);
	p = fork();
	if (p == 0) {
		finish_stdio();
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (p > 0)
		while (waitpid(p, &st, 0) < 0 && errno == EINTR)
			;
}

/* Steps 5-7 for the VM whose instance id is iid: the readiness line only
 * when the service accepts connections on all its ports. 0, or -1 when
 * the service failed (its line printed instead of the readiness line). */
static int
finish_boot(const char *iid)
{
	pid_t svc;
	int first = finish_first_boot(iid);
	/* the cloud-config: hostname and keys now (the ssh step reads them),
	 * files at the instance's first boot, runcmd later in step 5 */
	int cfg = cloudcfg_apply(first);
	int work = (first && (cfg || finish_user_data_is_script())) || finish_per_boot(0);

	finish_ssh();
	if (finish_prestarted > 0 && !work) {
		/* A clone of a template with the service running: refresh
		 * it, then the same check as always (it answers at once). */
		finish_refresh();
		svc = finish_prestarted;
	} else {
		if (finish_prestarted > 0) {
			/* User-data may change the service's configuration:
			 * it runs first, then the service starts anew. */
			kill(-finish_prestarted, SIGKILL);
			while (waitpid(finish_prestarted, NULL, 0) < 0 && errno == EINTR)
				;
			finish_prestarted = 0;
		}
		finish_user_data(iid, first, cfg & 1);
		svc = finish_service();
	}
	if (finish_wait_ports(svc) < 0)
		return -1;
	printf("cloudlet: ready %s\n", iid);
	fflush(stdout);
	return 0;
}

#endif
