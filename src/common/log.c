/* log.c - see log.h */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_prog = "cloudlet";
static int log_verbose;
static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;

void
log_init(const char *progname, int verbose)
{
	log_prog = progname;
	log_verbose = verbose;
}

static void
vlog(const char *level, int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	char ts[32];
	struct timespec now;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

	pthread_mutex_lock(&log_mtx);
	fprintf(stderr, "%s.%03ldZ %s %s: ", ts, now.tv_nsec / 1000000, log_prog, level);
	vfprintf(stderr, fmt, ap);
	if (with_errno)
		fprintf(stderr, ": %s", strerror(saved));
	fputc('\n', stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_mtx);
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("info", 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog("debug", 0, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warn", 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warn", 0, fmt, ap);
	va_end(ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("fatal", 0, fmt, ap);
	va_end(ap);
	abort();
}
