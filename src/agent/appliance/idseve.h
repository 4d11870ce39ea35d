/*
 * idseve.h - the IDS sensor's alerts as the agent keeps them: a reader of
 * its EVE JSON output (one record per line, docs/ids.md) and a bounded
 * ring of the recent alerts, each with a sequence number of this host.
 *
 * Pure (no I/O, no threads, no locks): bytes go in as they were read, in
 * any pieces; alerts come out into the ring. Fuzzed by
 * tests/fuzz/fuzz_idseve.c. The caller (ids.c) reads the file and locks.
 *
 * Limits: a line longer than IDSEVE_LINE_MAX is skipped (counted in
 * too_long) whatever its content; a line that is not a JSON object, or an
 * alert without tenant_id, network_id and an alert object, is skipped
 * (malformed); records of other types (stats, ...) are counted in other.
 * The ring holds at most IDSEVE_RING_MAX alerts and IDSEVE_RING_BYTES of
 * their lines: the oldest go first.
 */
#ifndef CLOUDLET_IDSEVE_H
#define CLOUDLET_IDSEVE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define IDSEVE_LINE_MAX (64 * 1024)
#define IDSEVE_RING_MAX 4096
#define IDSEVE_RING_BYTES (8u << 20)

struct idseve_counters {
	uint64_t lines, alerts, other, malformed, too_long, evicted;
};

struct idseve_entry {
	uint64_t seq;
	size_t bytes;
	json_t *alert; /* owned: the EVE record plus "seq" */
};

struct idseve {
	/* the reader */
	char *line;   /* IDSEVE_LINE_MAX bytes */
	size_t len;   /* bytes of the current line so far */
	int skipping; /* the current line is too long: dropped up to its newline */
	/* the ring */
	struct idseve_entry *ring; /* IDSEVE_RING_MAX entries */
	size_t head, count, bytes;
	uint64_t next_seq; /* the seq the next alert gets (>= 1) */
	struct idseve_counters c;
};

/* 0 or -ENOMEM. first_seq: the number of the first alert (1, or one more
 * than the last one a previous agent handed out). idseve_free releases
 * everything (also after a failed init). */
int idseve_init(struct idseve *e, uint64_t first_seq);
void idseve_free(struct idseve *e);

/*
 * One line of EVE (without its newline): 1 with *alert (new reference) for
 * an alert, 0 for another record type, -EBADMSG for a malformed line. An
 * alert's network_id "<tenant_id>.<network>" (the sensor's name, ids.h)
 * comes out as "<network>".
 */
int idseve_parse(const char *line, size_t len, json_t **alert);

/* Feed n bytes read from the file: complete lines are parsed and their
 * alerts pushed into the ring; the rest waits for more. */
void idseve_feed(struct idseve *e, const char *data, size_t n);

/* Forget a partial line (the file was replaced or truncated). */
void idseve_reset_line(struct idseve *e);

/*
 * Up to limit alerts with seq > since (of tenant only, unless NULL), oldest
 * first: {"alerts": [...], "last": <highest seq returned, or since>,
 * "first": <oldest seq held, 0 if none>, "next": <seq of the next alert>}.
 * New reference, NULL when out of memory.
 */
json_t *idseve_query(const struct idseve *e, uint64_t since, size_t limit, const char *tenant);

#endif
