/*
 * log.h - logging for every cloudlet program.
 *
 * log_warn() appends strerror(errno); log_warnx() does not (the OpenBSD
 * convention). Messages go to stderr with the program name; fatal() is only
 * for broken invariants, never for bad input from a client.
 */
#ifndef CLOUDLET_LOG_H
#define CLOUDLET_LOG_H

#include <stdarg.h>

void log_init(const char *progname, int verbose);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
