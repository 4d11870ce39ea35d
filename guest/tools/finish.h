/*
 * finish.h - the end of every boot (docs/guest.md, steps 5-7): run the
 * user-data if it is a script, start the image's service, print the
 * readiness line "cloudlet: ready <instance-id>".
 *
 * Included by cloudlet-finish.c (the boot script runs it on a cold boot)
 * and by cloudlet-identity.c (a restored clone finishes in the same
 * process: returning to the boot script and running these steps there cost
 * ~45 ms more under emulation). Header-only, as netcfg.h.
 */
#ifndef CLOUDLET_FINISH_H
#define CLOUDLET_FINISH_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FINISH_SEED "/run/cloudlet/seed"

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

/* 5. user-data: run it as root in /root if it starts with "#!". */
static void
finish_user_data(void)
{
	const char *ud = FINISH_SEED "/user-data";
	char first[2] = "";
	int fd = open(ud, O_RDONLY), st = 0;
	pid_t p;

	if (fd >= 0) {
		if (read(fd, first, 2) != 2)
			first[0] = '\0';
		close(fd);
	}
	if (first[0] != '#' || first[1] != '!') {
		printf("cloudlet: user-data ignored (not a script)\n");
		fflush(stdout);
		return;
	}
	chmod(ud, 0700);
	fflush(stdout);
	p = fork();
	if (p == 0) {
		finish_stdio();
		if (chdir("/root") < 0)
			_exit(126);
		setenv("HOME", "/root", 1);
		execl(ud, ud, (char *)NULL);
		_exit(126);
	}
	if (p < 0) {
		printf("cloudlet: user-data exited with status 126\n");
		fflush(stdout);
		return;
	}
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("cloudlet: user-data exited with status %d\n",
		       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		fflush(stdout);
	}
}

/* 6. the image's service (/etc/cloudlet/service), in its own session. */
static void
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
		return;
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
}

/* Steps 5-7 for the VM whose instance id is iid. */
static void
finish_boot(const char *iid)
{
	finish_user_data();
	finish_service();
	printf("cloudlet: ready %s\n", iid);
	fflush(stdout);
}

#endif
