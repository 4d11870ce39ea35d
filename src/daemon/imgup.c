/* imgup.c - see imgup.h */
#define _GNU_SOURCE
#include "imgup.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define OUT_MAX (256 * 1024) /* what a child may print that we keep */
/* qemu-img's limits: a crafted header must not make it take the host's
 * memory or CPU (OpenStack runs qemu-img info under the same kind). The
 * scanner is ours and reads in bounded chunks: a CPU limit only (an
 * address-space limit also broke it under AddressSanitizer). */
#define CHILD_AS (1024L << 20)
/* check and convert start I/O threads (qemu's thread pool, more of them
 * when the disk is slow); each reserves a stack and, with glibc, a malloc
 * arena of 64 MiB: at 1 GiB a convert under load failed with
 * "qemu_thread_create: Resource temporarily unavailable" (CI). Their
 * address space gets more room and each child at most two arenas. */
#define WORK_AS (2048L << 20)
#define INFO_CPU_S 30
#define WORK_CPU_S 1800 /* convert and scan read the whole image */

static char img_dir[512], sig_dir[512], scan_path[512];

int
imgup_init(const char *dir, const char *sigdir, const char *scan_bin)
{
	if (util_fmt(img_dir, sizeof(img_dir), "%s", dir) < 0 ||
	    util_fmt(sig_dir, sizeof(sig_dir), "%s", sigdir) < 0 ||
	    util_fmt(scan_path, sizeof(scan_path), "%s", scan_bin) < 0)
		return -ENAMETOOLONG;
	return util_mkdirs(img_dir, 0700);
}

const char *
imgup_dir(void)
{
	return img_dir;
}

int
imgup_temp(char *path, size_t pathlen)
{
	char hex[17];
	int fd, r;

	if ((r = util_random_hex(hex, 8)) < 0 ||
	    (r = util_fmt(path, pathlen, "%s/.upload-%s", img_dir, hex)) < 0)
		return r;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

/* Run argv with limits (as_bytes 0: no address-space limit); its stdout
 * (and stderr) into *out (malloc'd, NUL-terminated). Returns the exit
 * status, 128+signal, or -errno. */
static int
run(const char *const argv[], long as_bytes, long cpu_s, char **out)
{
	int pfd[2], st = 0;
	size_t len = 0;
	char *buf = malloc(OUT_MAX + 1);
	const char **env;
	size_t n_env;
	pid_t p;

	*out = NULL;
	if (buf == NULL)
		return -ENOMEM;
	/* Its environment, made before the fork (no allocation after it in
	 * this threaded process): ours, and at most two malloc arenas. */
	for (n_env = 0; environ[n_env] != NULL; n_env++)
		;
	if ((env = calloc(n_env + 2, sizeof(*env))) == NULL) {
		free(buf);
		return -ENOMEM;
	}
	env[0] = "MALLOC_ARENA_MAX=2";
	for (size_t i = 0, k = 1; i < n_env; i++)
		if (strncmp(environ[i], "MALLOC_ARENA_MAX=", 17) != 0)
			env[k++] = environ[i];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		free(buf);
		free(env);
		return -errno;
	}
	p = fork();
	if (p == 0) {
		struct rlimit as = {(rlim_t)as_bytes, (rlim_t)as_bytes}, cpu = {cpu_s, cpu_s};
		int nul = open("/dev/null", O_RDONLY);

		if (nul >= 0)
			dup2(nul, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		if (as_bytes > 0)
			setrlimit(RLIMIT_AS, &as);
		setrlimit(RLIMIT_CPU, &cpu);
		execvpe(argv[0], (char *const *)(uintptr_t)argv, (char *const *)(uintptr_t)env);
		_exit(127);
	}
	free(env);
	close(pfd[1]);
	if (p < 0) {
		close(pfd[0]);
		free(buf);
		return -errno;
	}
	for (;;) {
		char chunk[4096];
		ssize_t n = read(pfd[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len + (size_t)n <= OUT_MAX) {
			memcpy(buf + len, chunk, (size_t)n);
			len += (size_t)n;
		}
	}
	close(pfd[0]);
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	buf[len] = '\0';
	*out = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The line of a child's output that says most (the first, or the one with
 * want in it), for a message: at most 200 bytes, without what qemu-img
 * quotes of our own file names ("Could not open '<spec>': <why>"). */
static void
pick_line(const char *out, const char *want, char *line, size_t len)
{
	const char *p = out ? out : "", *w = want ? strstr(p, want) : NULL, *q, *last = NULL;
	size_t n;

	if (w != NULL) {
		while (w > p && w[-1] != '\n')
			w--;
		p = w;
	}
	n = strcspn(p, "\n");
	for (q = p; (q = memmem(q, (size_t)(p + n - q), "': ", 3)) != NULL; q += 3)
		last = q;
	if (last != NULL) {
		n -= (size_t)(last + 3 - p);
		p = last + 3;
	}
	snprintf(line, len, "%.*s", (int)(n < 200 ? n : 200), p);
}

static void
first_line(const char *out, char *line, size_t len)
{
	pick_line(out, NULL, line, len);
}

#define FAIL(code, ...)                                                                  \
	do {                                                                             \
		*status = (code);                                                        \
		snprintf(err, errlen, __VA_ARGS__);                                      \
		r = -EINVAL;                                                             \
		goto out;                                                                \
	} while (0)

int
imgup_check(const char *path, int64_t room, const char *final, char *format,
	    int64_t *vsize, int *status, char *err, size_t errlen)
{
	char spec[700], conv[600], line[1024], magic[4] = {0};
	char *out = NULL;
	json_t *info = NULL, *v;
	int fd, r = -EINVAL, rc, qcow2;
	const char *raw;

	*status = 500;
	conv[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, magic, 4) != 4) {
		if (fd >= 0)
			close(fd);
		FAIL(400, "the image is empty or shorter than 4 bytes");
	}
	close(fd);
	qcow2 = memcmp(magic, "QFI\xfb", 4) == 0;
	/* The path is ours (no quote or backslash in it); the image's own
	 * backing file is never opened. */
	if (util_fmt(spec, sizeof(spec),
		     qcow2 ? "json:{\"driver\":\"qcow2\",\"backing\":null,"
			     "\"file\":{\"driver\":\"file\",\"filename\":\"%s\"}}"
			   : "json:{\"driver\":\"raw\",\"file\":{\"driver\":\"file\","
			     "\"filename\":\"%s\"}}",
		     path) < 0)
		FAIL(500, "path too long");
	{
		const char *const argv[] = {"qemu-img", "info", "--output=json", spec, NULL};

		rc = run(argv, CHILD_AS, INFO_CPU_S, &out);
	}
	if (rc != 0) {
		first_line(out, line, sizeof(line));
		FAIL(400, "not a valid %s image: %s", qcow2 ? "qcow2" : "raw",
		     rc < 0 ? strerror(-rc) : line);
	}
	info = json_loads(out, 0, NULL);
	if (!json_is_object(info) || !json_is_integer(json_object_get(info, "virtual-size")))
		FAIL(500, "qemu-img info gave no usable answer");
	raw = json_string_value(json_object_get(info, "format"));
	if (raw == NULL || strcmp(raw, qcow2 ? "qcow2" : "raw") != 0)
		FAIL(400, "the image's format is %s: only qcow2 and raw are accepted",
		     raw ? raw : "unknown");
	if (json_object_get(info, "backing-filename") != NULL ||
	    json_object_get(info, "full-backing-filename") != NULL)
		FAIL(400, "the image has a backing file: only self-contained images are "
			  "accepted (qemu-img convert makes one)");
	v = json_object_get(json_object_get(json_object_get(info, "format-specific"), "data"),
			    "data-file");
	if (v != NULL)
		FAIL(400, "the image has an external data file: only self-contained images are "
			  "accepted");
	*vsize = json_integer_value(json_object_get(info, "virtual-size"));
	if (*vsize <= 0)
		FAIL(400, "the image's virtual size is 0");
	if (*vsize > room)
		FAIL(413,
		     "the image's virtual size (%lld bytes) is over the tenant's quota: %lld "
		     "bytes left of max_disk_gib",
		     (long long)*vsize, (long long)room);
	free(out);
	out = NULL;
	if (qcow2) {
		const char *const check[] = {"qemu-img", "check", spec, NULL};

		rc = run(check, WORK_AS, WORK_CPU_S, &out);
		/* 0 clean, 3 leaked clusters only (harmless); 2 corrupt, 1 the
		 * check could not run */
		if (rc != 0 && rc != 3) {
			pick_line(out, "errors were found", line, sizeof(line));
			FAIL(400, "the qcow2 image is corrupt (qemu-img check: %s)", line);
		}
		free(out);
		out = NULL;
		if (util_fmt(conv, sizeof(conv), "%s.raw", path) < 0)
			FAIL(500, "path too long");
		{
			const char *const cv[] = {"qemu-img", "convert", "-O", "raw", spec, conv,
						  NULL};

			rc = run(cv, WORK_AS, WORK_CPU_S, &out);
		}
		if (rc != 0) {
			first_line(out, line, sizeof(line));
			FAIL(400, "the qcow2 image cannot be read whole: %s", line);
		}
		free(out);
		out = NULL;
	}
	{
		/* The raw bytes a guest would see. */
		const char *const scan[] = {scan_path, "--signatures", sig_dir, "--json",
					    qcow2 ? conv : path, NULL};

		rc = run(scan, 0, WORK_CPU_S, &out);
	}
	if (rc == 1) {
		/* its first hit: a line {"file", "engine", "signature", "offset"}
		 * (stderr's log lines may come first) */
		const char *h = strstr(out, "{\"file\"");
		json_t *hit;

		snprintf(line, sizeof(line), "%.*s", h ? (int)strcspn(h, "\n") : 0, h ? h : "");
		hit = json_loads(line, 0, NULL);
		snprintf(spec, sizeof(spec), "%s (%s) at byte %lld",
			 json_string_value(json_object_get(hit, "signature")) ?: "a signature",
			 json_string_value(json_object_get(hit, "engine")) ?: "?",
			 (long long)json_integer_value(json_object_get(hit, "offset")));
		json_decref(hit);
		FAIL(422, "malware found in the image: %s", spec);
	}
	if (rc != 0) {
		first_line(out, line, sizeof(line));
		log_warnx("%s: cloudlet-scan failed (%d): %s", __func__, rc, line);
		FAIL(503, "the image could not be scanned for malware (see the server's log)");
	}
	if (rename(qcow2 ? conv : path, final) < 0) {
		int e = errno;

		FAIL(500, "cannot keep the image: %s", strerror(e));
	}
	snprintf(format, 8, "%s", qcow2 ? "qcow2" : "raw");
	*status = 201;
	err[0] = '\0';
	r = 0;
out:
	if (conv[0] != '\0')
		unlink(conv);
	json_decref(info);
	free(out);
	return r;
}
