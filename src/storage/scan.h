/*
 * scan.h - malware and attack-signature detection on raw storage data.
 *
 * Two engines run over the same bytes: libclamav (ClamAV databases: .ndb,
 * .hdb, .hsb, .ldb, .cdb, .cvd, ... anything cl_load() accepts) and libyara
 * (YARA rules: .yar, .yara), both loaded from one signature directory.
 * Data is scanned as raw bytes (disk blocks): no archive unpacking, no
 * file-format parsing, no heuristics. docs/scan.md explains the choices.
 *
 * Ownership and lifetimes:
 * - scan_engine_open() returns an engine the caller frees with
 *   scan_engine_free() after every scan and stream on it has ended.
 * - An engine is immutable once open: scan_buffer() and streams may run on
 *   it from any number of threads at once.
 * - A scan_hit and the strings it points to live only for the duration of
 *   the callback; copy what you keep. Callbacks run on the scanning thread.
 * - A stream belongs to one thread at a time; scan_stream_close() frees it
 *   (also on error) and accepts NULL.
 *
 * All functions return 0 or -errno. Errors are logged (log.h) with the cause.
 */
#ifndef CLOUDLET_SCAN_H
#define CLOUDLET_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* Hard limits. Inputs beyond them are refused with -E2BIG / -EINVAL. */
#define SCAN_MAX_BUFFER (64u << 20)   /* bytes per scan_buffer() call */
#define SCAN_MAX_HITS 256	      /* hits reported per scan_buffer() call */
#define SCAN_MAX_WINDOW (64u << 10)   /* cap of scan_engine_window() */
#define SCAN_MAX_SIGFILES 1024	      /* signature files in one directory */
#define SCAN_MAX_SIGFILE (512u << 20) /* size of one signature file */

/* A stream scans in chunks of this size (public so tests can aim at its seams). */
#define SCAN_STREAM_CHUNK (1u << 20)

struct scan_engine;
struct scan_stream;

struct scan_hit {
	const char *engine;    /* "clamav" or "yara" */
	const char *signature; /* ClamAV signature name or YARA rule name */
	uint64_t offset;       /* absolute offset of the match start */
};

typedef void (*scan_hit_fn)(void *arg, const struct scan_hit *hit);

/*
 * Load every signature file in sigdir (no recursion, hidden files skipped).
 * Fails with a logged reason naming the file when the directory is missing,
 * unreadable, holds no signature file, or any file fails to load/compile.
 * Not thread-safe against itself only on the first call of the process
 * (library initialisation is done once, under pthread_once).
 */
int scan_engine_open(const char *sigdir, struct scan_engine **out);
void scan_engine_free(struct scan_engine *eng);

/*
 * Overlap in bytes that a caller scanning adjacent chunks must keep: a
 * match no longer than this that crosses a chunk boundary lies entirely in
 * the next chunk when that chunk starts this many bytes before the boundary.
 * Derived from the longest signature string, rounded up to 4 KiB, at most
 * SCAN_MAX_WINDOW.
 */
size_t scan_engine_window(const struct scan_engine *eng);

/*
 * Scan buf[0, len) whose first byte sits at absolute offset base_offset.
 * cb is called once per hit (at most SCAN_MAX_HITS; more are dropped with a
 * warning). YARA offsets are exact; ClamAV offsets are the start of the
 * smallest window that still matches (exact for plain body signatures, the
 * buffer start for whole-buffer hash signatures). len == 0 is a no-op.
 * Returns -E2BIG if len > SCAN_MAX_BUFFER, -EIO if an engine fails.
 */
int scan_buffer(struct scan_engine *eng, const void *buf, size_t len,
		uint64_t base_offset, scan_hit_fn cb, void *arg);

/*
 * A byte stream starting at absolute offset base_offset, fed in pieces of
 * any size. Data is scanned in chunks as it arrives, each chunk overlapping
 * the previous by scan_engine_window() bytes; a match is reported once,
 * by the chunk in which it is first complete. close() scans what is left.
 */
int scan_stream_open(struct scan_engine *eng, uint64_t base_offset, scan_hit_fn cb,
		     void *arg, struct scan_stream **out);
int scan_stream_feed(struct scan_stream *st, const void *buf, size_t len);
int scan_stream_close(struct scan_stream *st);

#endif
