/*
 * scancli.c - cloudlet-scan: scan files or block devices for ClamAV and
 * YARA signatures, for operators and tests.
 *
 *   cloudlet-scan [--signatures DIR] [--json] [--stats] [-v] FILE|DEVICE...
 *
 * Each file is read sequentially and fed to a scan stream (scan.h), so a
 * whole disk image is scanned in bounded memory. Exit status: 0 nothing
 * found, 1 something found, 2 an error (it wins over 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "scan.h"
#include "util.h"

#define READ_CHUNK (4u << 20)
#define DEFAULT_SIGDIR "/etc/cloudlet/signatures"

struct found {
	const char *path;
	bool json;
	unsigned long long hits;
};

static void
print_hit(void *arg, const struct scan_hit *hit)
{
	struct found *f = arg;

	f->hits++;
	if (f->json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "file", f->path, "engine",
				      hit->engine, "signature", hit->signature, "offset",
				      (json_int_t)hit->offset);
		char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

		if (s != NULL)
			printf("%s\n", s);
		free(s);
		json_decref(o);
	} else {
		printf("%s: offset %llu: %s %s\n", f->path,
		       (unsigned long long)hit->offset, hit->engine, hit->signature);
	}
}

static int
scan_path(struct scan_engine *eng, const char *path, uint8_t *buf, struct found *f,
	  unsigned long long *bytes)
{
	struct scan_stream *st = NULL;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		log_warn("%s", path);
		return rc;
	}
	rc = scan_stream_open(eng, 0, print_hit, f, &st);
	if (rc < 0)
		goto out;
	for (;;) {
		ssize_t n = read(fd, buf, READ_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			log_warn("%s: read", path);
			goto out;
		}
		if (n == 0)
			break;
		*bytes += (unsigned long long)n;
		rc = scan_stream_feed(st, buf, (size_t)n);
		if (rc < 0)
			goto out;
	}
	rc = scan_stream_close(st);
	st = NULL;
out:
	if (st != NULL)
		scan_stream_close(st);
	close(fd);
	if (rc < 0)
		log_warnx("%s: scan failed: %s", path, strerror(-rc));
	return rc;
}

static void
usage(void)
{
	fprintf(stderr, "usage: cloudlet-scan [--signatures DIR] [--json] [--stats] [-v] "
			"FILE|DEVICE...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"signatures", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"stats", no_argument, NULL, 'S'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sigdir = getenv("CLOUDLET_SIGNATURES");
	struct scan_engine *eng = NULL;
	bool json = false, stats = false;
	int verbose = 0, c, status = 0;
	unsigned long long bytes = 0, hits = 0;
	uint8_t *buf = NULL;
	uint64_t t0;

	while ((c = getopt_long(argc, argv, "s:jSvh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sigdir = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'S':
			stats = true;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	if (sigdir == NULL)
		sigdir = DEFAULT_SIGDIR;
	log_init("cloudlet-scan", verbose);

	t0 = util_now_ms();
	if (scan_engine_open(sigdir, &eng) < 0)
		return 2;
	if (stats)
		fprintf(stderr, "engine loaded in %llu ms, window %zu bytes\n",
			(unsigned long long)(util_now_ms() - t0),
			scan_engine_window(eng));
	buf = malloc(READ_CHUNK);
	if (buf == NULL) {
		log_warnx("out of memory");
		scan_engine_free(eng);
		return 2;
	}
	t0 = util_now_ms();
	for (int i = optind; i < argc; i++) {
		struct found f = {.path = argv[i], .json = json};

		if (scan_path(eng, argv[i], buf, &f, &bytes) < 0)
			status = 2;
		else if (f.hits > 0 && status == 0)
			status = 1;
		hits += f.hits;
	}
	if (stats) {
		uint64_t ms = util_now_ms() - t0;

		fprintf(stderr, "scanned %llu bytes in %llu ms (%.1f MB/s), %llu hits\n",
			bytes, (unsigned long long)ms,
			ms > 0 ? (double)bytes / 1e3 / (double)ms : 0.0, hits);
	}
	fflush(stdout);
	free(buf);
	scan_engine_free(eng);
	return status;
}
