/*
 * stream.h - TCP reassembly for one direction of a flow.
 *
 * In-order data is handed to the caller at once; a segment beyond the next
 * expected sequence number waits in a short list until the hole is filled
 * (first data wins where segments overlap: what was delivered is never
 * replaced). Limits: STREAM_OOO_SEGS segments and STREAM_OOO_BYTES bytes
 * waiting, STREAM_DEPTH bytes per direction inspected; beyond them the
 * stream skips ahead and reports a gap. Memory is charged to the tenant's
 * memcap before it is taken; a refused charge is a gap too.
 *
 * The inspection window: the last bytes already inspected (as many as the
 * rule set's longest payload match can span, at most STREAM_OVERLAP)
 * followed by the new data, so a pattern that straddles two segments (or
 * two deliveries) is seen whole; the matcher is told where the new data
 * starts so a match wholly inside the old part is not reported twice.
 */
#ifndef CLOUDLET_IDS_STREAM_H
#define CLOUDLET_IDS_STREAM_H

#include <stddef.h>
#include <stdint.h>

#define STREAM_OVERLAP 2048
#define STREAM_DEPTH (1u << 20)
#define STREAM_OOO_SEGS 64
#define STREAM_OOO_BYTES (256u << 10)

struct memcap {
	size_t used, cap; /* cap 0: unlimited */
	uint64_t refused;
};

int memcap_take(struct memcap *m, size_t n);
void memcap_give(struct memcap *m, size_t n);

struct stream_seg;

struct stream {
	uint8_t init, gap_pending;
	uint32_t next_seq;
	uint64_t offset;   /* bytes delivered so far (the stream offset of the next byte) */
	struct stream_seg *ooo;
	size_t ooo_bytes;
	unsigned nooo;
	uint8_t *win;      /* inspection window */
	size_t winlen, wincap;
	uint64_t gaps;
};

/* deliver(arg, data, len): in-order data; deliver(arg, NULL, n): n bytes lost. */
typedef void (*stream_deliver_fn)(void *arg, const uint8_t *data, size_t len);

/* The first expected sequence number (after a SYN: its seq + 1). */
void stream_start(struct stream *s, uint32_t seq);
int stream_add(struct stream *s, struct memcap *m, uint32_t seq, const uint8_t *data, size_t len,
	       stream_deliver_fn fn, void *arg);
void stream_free(struct stream *s, struct memcap *m);

/* Append new data to the window: *buf, *len the window, *base its stream
 * offset, *min_end where the new data starts. -ENOMEM when the memcap
 * refuses (then only the new data is the window). */
int stream_window(struct stream *s, struct memcap *m, const uint8_t *data, size_t n,
		  const uint8_t **buf, size_t *len, uint64_t *base, size_t *min_end);
/* After inspection: keep the last keep (at most STREAM_OVERLAP) bytes. */
void stream_window_trim(struct stream *s, struct memcap *m, size_t keep);

#endif
