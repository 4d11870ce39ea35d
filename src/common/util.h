/*
 * util.h - small helpers shared by every cloudlet program: files, processes,
 * random identifiers. All functions return 0 or -errno unless stated.
 */
#ifndef CLOUDLET_UTIL_H
#define CLOUDLET_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* snprintf that reports truncation as -ENAMETOOLONG. */
int util_fmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Write data to path atomically (temp file, fsync, rename, fsync dir). */
int util_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Read a whole file of at most max bytes; *out is NUL-terminated, caller frees. */
int util_read_file(const char *path, size_t max, char **out, size_t *outlen);

/* Remove a directory tree (does not follow symlinks). */
int util_rmtree(const char *path);

/* mkdir -p with the given mode for created components. */
int util_mkdirs(const char *path, mode_t mode);

/* n random bytes as 2n lowercase hex characters plus NUL into out. */
int util_random_hex(char *out, size_t n);

/*
 * Run argv (argv[0] an absolute path or looked up in PATH), wait for it.
 * Its stderr (and stdout) are captured into err (truncated to errlen).
 * Returns 0 on exit status 0, -EIO otherwise (err says why).
 */
int util_run(const char *const argv[], char *err, size_t errlen);

/* Monotonic time in milliseconds. */
uint64_t util_now_ms(void);

/* Wall-clock time as RFC 3339 UTC into buf (at least 32 bytes). */
void util_rfc3339(char *buf, size_t len);

/* A process id written in a pid file ("1234" and optional white space):
 * the pid, or 0 when the text is anything else. */
pid_t util_parse_pid(const char *text);

/* Does process pid's command line (/proc/<pid>/cmdline, its arguments
 * joined by spaces) contain needle? 1 or 0 (no such process: 0). What
 * tells a process the agent re-adopts from a recycled pid. */
int util_cmdline_has(pid_t pid, const char *needle);

/* A decimal number in 0..max, the whole text: 0 and *out, or -EINVAL. */
int util_parse_uint(const char *text, unsigned max, unsigned *out);

/* "a.b.c.d:port" (port 1..65535) into *sa: 0 or -EINVAL. */
struct sockaddr_in;
int util_parse_ipv4_port(const char *text, struct sockaddr_in *sa);

/* A TCP connection to addr (IPv4:port) within ms, left blocking: fd or
 * -errno (-EINVAL for a bad address, -ETIMEDOUT). */
int util_tcp_connect(const char *addr, int ms);

#endif
