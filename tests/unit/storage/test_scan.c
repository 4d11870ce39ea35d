/*
 * test_scan.c - scan.c against the real libclamav and libyara with the
 * project's signature set (signatures/, or $CLOUDLET_SIGNATURES).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scan.h"
#include "util.h"

#define EICAR "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
#define EICAR_LEN 68
#define SHELL "() { :; }; echo CLOUDLET-TEST-SHELLSHOCK"
#define MARKER "CLOUDLET-TEST-WEBSHELL"
#define MAX_HITS 1024

struct hit {
	char engine[8];
	char sig[64];
	uint64_t offset;
};

struct hits {
	unsigned n;
	struct hit h[MAX_HITS];
};

static struct scan_engine *eng;

static const char *
sigdir(void)
{
	const char *d = getenv("CLOUDLET_SIGNATURES");

	return d != NULL ? d : "signatures";
}

static void
collect(void *arg, const struct scan_hit *hit)
{
	struct hits *hs = arg;

	if (hs->n == MAX_HITS)
		return;
	snprintf(hs->h[hs->n].engine, sizeof(hs->h[0].engine), "%s", hit->engine);
	snprintf(hs->h[hs->n].sig, sizeof(hs->h[0].sig), "%s", hit->signature);
	hs->h[hs->n].offset = hit->offset;
	hs->n++;
}

/* How many hits of this engine whose signature starts with prefix, at offset. */
static unsigned
count(const struct hits *hs, const char *engine, const char *prefix, uint64_t offset)
{
	unsigned n = 0;

	for (unsigned i = 0; i < hs->n; i++)
		if (!strcmp(hs->h[i].engine, engine) &&
		    !strncmp(hs->h[i].sig, prefix, strlen(prefix)) &&
		    hs->h[i].offset == offset)
			n++;
	return n;
}

/* Deterministic noise (xorshift) that cannot contain printable signatures. */
static void
noise(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)(x >> 24);
	}
}

static int
setup(void **state)
{
	(void)state;
	return scan_engine_open(sigdir(), &eng) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	scan_engine_free(eng);
	return 0;
}

static void
expect_eicar_once(const struct hits *hs, uint64_t offset)
{
	assert_int_equal(count(hs, "clamav", "Cloudlet.Test.EICAR", offset), 1);
	assert_int_equal(count(hs, "yara", "Cloudlet_Test_EICAR", offset), 1);
}

static void
test_window(void **state)
{
	size_t w = scan_engine_window(eng);

	(void)state;
	assert_true(w >= EICAR_LEN);
	assert_true(w <= SCAN_MAX_WINDOW);
	assert_int_equal(w % 4096, 0);
}

/* EICAR at the start, in the middle, at the end; each alone, then all at once. */
static void
test_buffer_offsets(void **state)
{
	const size_t len = 1u << 20;
	const uint64_t base = 7u << 30;
	/* The middle one straddles the 256 KiB locating chunk seam. */
	const size_t pos[] = {0, (256u << 10) - 30, len / 2 + 13, len - EICAR_LEN};
	uint8_t *buf = malloc(len);
	struct hits *hs = calloc(1, sizeof(*hs));

	(void)state;
	assert_non_null(buf);
	assert_non_null(hs);
	for (size_t i = 0; i < ARRAY_LEN(pos); i++) {
		noise(buf, len, i);
		memcpy(buf + pos[i], EICAR, EICAR_LEN);
		hs->n = 0;
		assert_int_equal(scan_buffer(eng, buf, len, base, collect, hs), 0);
		assert_int_equal(hs->n, 2);
		expect_eicar_once(hs, base + pos[i]);
	}
	noise(buf, len, 99);
	for (size_t i = 0; i < ARRAY_LEN(pos); i++)
		memcpy(buf + pos[i], EICAR, EICAR_LEN);
	hs->n = 0;
	assert_int_equal(scan_buffer(eng, buf, len, base, collect, hs), 0);
	assert_int_equal(hs->n, 2 * ARRAY_LEN(pos));
	for (size_t i = 0; i < ARRAY_LEN(pos); i++)
		expect_eicar_once(hs, base + pos[i]);
	free(hs);
	free(buf);
}

/*
 * EICAR across the stream's chunk seam, fed as two pieces split at every
 * position inside the string (0 and 68: wholly on one side).
 */
static void
test_stream_split(void **state)
{
	const size_t len = SCAN_STREAM_CHUNK + 8192;
	const uint64_t base = 4096;
	uint8_t *buf = malloc(len);
	struct hits *hs = calloc(1, sizeof(*hs));

	(void)state;
	assert_non_null(buf);
	assert_non_null(hs);
	for (size_t split = 0; split <= EICAR_LEN; split++) {
		size_t at = SCAN_STREAM_CHUNK - split;
		struct scan_stream *st;

		noise(buf, len, split);
		memcpy(buf + at, EICAR, EICAR_LEN);
		hs->n = 0;
		assert_int_equal(scan_stream_open(eng, base, collect, hs, &st), 0);
		assert_int_equal(scan_stream_feed(st, buf, SCAN_STREAM_CHUNK), 0);
		assert_int_equal(scan_stream_feed(st, buf + SCAN_STREAM_CHUNK,
						  len - SCAN_STREAM_CHUNK),
				 0);
		assert_int_equal(scan_stream_close(st), 0);
		if (hs->n != 2)
			fail_msg("split %zu: %u hits", split, hs->n);
		expect_eicar_once(hs, base + at);
	}
	free(hs);
	free(buf);
}

/* One byte per feed, two strings: one inside a chunk, one across a seam. */
static void
test_stream_bytewise(void **state)
{
	const size_t len = 2 * SCAN_STREAM_CHUNK + 100;
	const size_t a = 1000, b = 2 * SCAN_STREAM_CHUNK - 77;
	uint8_t *buf = malloc(len);
	struct hits *hs = calloc(1, sizeof(*hs));
	struct scan_stream *st;

	(void)state;
	assert_non_null(buf);
	assert_non_null(hs);
	noise(buf, len, 42);
	memcpy(buf + a, EICAR, EICAR_LEN);
	memcpy(buf + b, EICAR, EICAR_LEN);
	assert_int_equal(scan_stream_open(eng, 0, collect, hs, &st), 0);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(scan_stream_feed(st, buf + i, 1), 0);
	assert_int_equal(scan_stream_close(st), 0);
	assert_int_equal(hs->n, 4);
	expect_eicar_once(hs, a);
	expect_eicar_once(hs, b);
	free(hs);
	free(buf);
}

static void
test_clean(void **state)
{
	const size_t len = 8u << 20;
	uint8_t *buf = malloc(len);
	struct hits *hs = calloc(1, sizeof(*hs));
	struct scan_stream *st;

	(void)state;
	assert_non_null(buf);
	assert_non_null(hs);
	noise(buf, len, 7);
	assert_int_equal(scan_buffer(eng, buf, len, 0, collect, hs), 0);
	assert_int_equal(scan_stream_open(eng, 0, collect, hs, &st), 0);
	for (size_t off = 0; off < len; off += 100000)
		assert_int_equal(
		    scan_stream_feed(st, buf + off,
				     len - off < 100000 ? len - off : 100000),
		    0);
	assert_int_equal(scan_stream_close(st), 0);
	memset(buf, 0, len);
	assert_int_equal(scan_buffer(eng, buf, len, 0, collect, hs), 0);
	assert_int_equal(hs->n, 0);
	free(hs);
	free(buf);
}

/* The webshell marker alone: only the YARA rule matches, at its exact offset. */
static void
test_yara_offset(void **state)
{
	uint8_t buf[16384];
	struct hits hs = {0};

	(void)state;
	noise(buf, sizeof(buf), 3);
	memcpy(buf + 777, MARKER, strlen(MARKER));
	assert_int_equal(scan_buffer(eng, buf, sizeof(buf), 1u << 20, collect, &hs), 0);
	assert_int_equal(hs.n, 1);
	assert_int_equal(count(&hs, "yara", "Cloudlet_Test_Webshell", (1u << 20) + 777),
			 1);
}

/* A ClamAV signature with a {-32} gap: the offset is where "<?php" starts. */
static void
test_clamav_gap(void **state)
{
	static const char php[] = "<?php /* x */ CLOUDLET-TEST-WEBSHELL";
	uint8_t buf[8192];
	struct hits hs = {0};

	(void)state;
	noise(buf, sizeof(buf), 5);
	memcpy(buf + 3000, php, strlen(php));
	memcpy(buf + 5000, SHELL, strlen(SHELL));
	assert_int_equal(scan_buffer(eng, buf, sizeof(buf), 0, collect, &hs), 0);
	assert_int_equal(count(&hs, "clamav", "Cloudlet.Test.Webshell", 3000), 1);
	assert_int_equal(count(&hs, "yara", "Cloudlet_Test_Webshell", 3014), 1);
	assert_int_equal(count(&hs, "clamav", "Cloudlet.Test.ShellInjection", 5000), 1);
	assert_int_equal(hs.n, 3);
}

/* A whole-buffer hash signature (.hdb) is placed at the buffer's start. */
static void
test_hash(void **state)
{
	char path[512];
	char *data = NULL;
	size_t len = 0;
	struct hits hs = {0};

	(void)state;
	assert_int_equal(
	    util_fmt(path, sizeof(path), "%s/samples/hash-sample.txt", sigdir()), 0);
	assert_int_equal(util_read_file(path, 4096, &data, &len), 0);
	assert_int_equal(scan_buffer(eng, data, len, 512, collect, &hs), 0);
	assert_int_equal(hs.n, 1);
	assert_int_equal(count(&hs, "clamav", "Cloudlet.Test.HashSample", 512), 1);
	free(data);
}

static void
test_limits(void **state)
{
	static uint8_t buf[300 * 48];
	struct hits *hs = calloc(1, sizeof(*hs));
	struct scan_stream *st;

	(void)state;
	assert_non_null(hs);
	/* Refused before a byte is read. */
	assert_int_equal(
	    scan_buffer(eng, buf, (size_t)SCAN_MAX_BUFFER + 1, 0, collect, hs), -E2BIG);
	assert_int_equal(scan_buffer(eng, buf, 10, UINT64_MAX - 5, collect, hs),
			 -EOVERFLOW);
	assert_int_equal(scan_buffer(NULL, buf, 10, 0, collect, hs), -EINVAL);
	assert_int_equal(scan_buffer(eng, buf, 10, 0, NULL, hs), -EINVAL);
	assert_int_equal(scan_buffer(eng, NULL, 0, 0, collect, hs), 0);
	assert_int_equal(scan_stream_close(NULL), 0);
	assert_int_equal(scan_stream_open(eng, 0, collect, hs, &st), 0);
	assert_int_equal(scan_stream_feed(st, NULL, 1), -EINVAL);
	assert_int_equal(scan_stream_close(st), 0);
	/* 300 matches, at most SCAN_MAX_HITS reported. */
	memset(buf, ' ', sizeof(buf));
	for (size_t i = 0; i < 300; i++)
		memcpy(buf + i * 48, SHELL, strlen(SHELL));
	hs->n = 0;
	assert_int_equal(scan_buffer(eng, buf, sizeof(buf), 0, collect, hs), 0);
	assert_int_equal(hs->n, SCAN_MAX_HITS);
	for (unsigned i = 0; i < hs->n; i++)
		assert_int_equal(hs->h[i].offset, (uint64_t)i * 48);
	free(hs);
}

/* Capture what scan_engine_open logs (stderr) for a directory. */
static int
open_logged(const char *dir, char *log, size_t loglen)
{
	char tmpl[] = "/tmp/test_scan_log.XXXXXX";
	int fd = mkstemp(tmpl), saved = dup(STDERR_FILENO), rc;
	struct scan_engine *e = NULL;
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	rc = scan_engine_open(dir, &e);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, log, loglen - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(tmpl);
	scan_engine_free(e);
	return rc;
}

static void
test_bad_dirs(void **state)
{
	char dir[] = "/tmp/test_scan_sigs.XXXXXX";
	char path[256], log[8192];
	static const char good[] = "rule ok { strings: $a = \"abc\" condition: $a }\n";

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* Missing and empty directories. */
	assert_int_equal(open_logged("/nonexistent/cloudlet-sigs", log, sizeof(log)),
			 -ENOENT);
	assert_int_equal(open_logged(dir, log, sizeof(log)), -ENOENT);
	assert_non_null(strstr(log, "no signature files"));
	/* Only files that are not signatures count as empty. */
	util_fmt(path, sizeof(path), "%s/README.md", dir);
	assert_int_equal(util_write_atomic(path, "hi\n", 3, 0644), 0);
	assert_int_equal(open_logged(dir, log, sizeof(log)), -ENOENT);
	/* A good rule file loads; a broken one next to it is named. */
	util_fmt(path, sizeof(path), "%s/good.yar", dir);
	assert_int_equal(util_write_atomic(path, good, strlen(good), 0644), 0);
	assert_int_equal(open_logged(dir, log, sizeof(log)), 0);
	util_fmt(path, sizeof(path), "%s/broken.yar", dir);
	assert_int_equal(
	    util_write_atomic(path, "rule broken { condition: $nope }\n", 33, 0644), 0);
	assert_int_equal(open_logged(dir, log, sizeof(log)), -EINVAL);
	assert_non_null(strstr(log, "broken.yar"));
	unlink(path);
	/* A broken ClamAV database is named too. */
	util_fmt(path, sizeof(path), "%s/broken.ndb", dir);
	assert_int_equal(util_write_atomic(path, "Bad:0:*:zz{\n", 12, 0644), 0);
	assert_int_not_equal(open_logged(dir, log, sizeof(log)), 0);
	assert_non_null(strstr(log, "broken.ndb"));
	assert_int_equal(util_rmtree(dir), 0);
}

/* Four threads share one engine; each gets the single-threaded answer. */
struct job {
	const uint8_t *buf;
	size_t len;
	struct hits *hs;
	int rc;
};

static void *
worker(void *arg)
{
	struct job *j = arg;
	struct scan_stream *st;

	for (int round = 0; round < 3 && j->rc == 0; round++) {
		j->hs->n = 0;
		j->rc = scan_buffer(eng, j->buf, j->len, 0, collect, j->hs);
	}
	/* And a stream over the same bytes, appended to the same list. */
	if (j->rc == 0)
		j->rc = scan_stream_open(eng, 0, collect, j->hs, &st);
	if (j->rc == 0) {
		j->rc = scan_stream_feed(st, j->buf, j->len);
		int rc = scan_stream_close(st);
		j->rc = j->rc != 0 ? j->rc : rc;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	const size_t len = 4u << 20;
	uint8_t *buf = malloc(len);
	struct hits *ref = calloc(1, sizeof(*ref));
	struct job jobs[4];
	pthread_t th[4];
	struct scan_stream *st;

	(void)state;
	assert_non_null(buf);
	assert_non_null(ref);
	noise(buf, len, 11);
	for (size_t off = 12345; off + 100 < len; off += 700001) {
		memcpy(buf + off, EICAR, EICAR_LEN);
		memcpy(buf + off + 300, SHELL, strlen(SHELL));
		memcpy(buf + off + 500, MARKER, strlen(MARKER));
	}
	assert_int_equal(scan_buffer(eng, buf, len, 0, collect, ref), 0);
	assert_int_equal(scan_stream_open(eng, 0, collect, ref, &st), 0);
	assert_int_equal(scan_stream_feed(st, buf, len), 0);
	assert_int_equal(scan_stream_close(st), 0);
	assert_int_equal(ref->n, 2 * 6 * 4); /* buffer + stream, 6 places, 4 hits each */
	for (int i = 0; i < 4; i++) {
		jobs[i] =
		    (struct job){.buf = buf, .len = len, .hs = calloc(1, sizeof(*ref))};
		assert_non_null(jobs[i].hs);
		assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(jobs[i].rc, 0);
		assert_int_equal(jobs[i].hs->n, ref->n);
		assert_memory_equal(jobs[i].hs->h, ref->h, ref->n * sizeof(ref->h[0]));
		free(jobs[i].hs);
	}
	free(ref);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_window),	 cmocka_unit_test(test_buffer_offsets),
	    cmocka_unit_test(test_stream_split), cmocka_unit_test(test_stream_bytewise),
	    cmocka_unit_test(test_clean),	 cmocka_unit_test(test_yara_offset),
	    cmocka_unit_test(test_clamav_gap),	 cmocka_unit_test(test_hash),
	    cmocka_unit_test(test_limits),	 cmocka_unit_test(test_bad_dirs),
	    cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
