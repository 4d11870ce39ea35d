/*
 * stream.c - one direction of TCP reassembly (stream.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

struct stream_seg {
	struct stream_seg *next;
	uint32_t seq, len;
	uint8_t data[];
};

int
memcap_take(struct memcap *m, size_t n)
{
	if (m->cap && m->used + n > m->cap) {
		m->refused++;
		return -ENOMEM;
	}
	m->used += n;
	return 0;
}

void
memcap_give(struct memcap *m, size_t n)
{
	m->used = n > m->used ? 0 : m->used - n;
}

static int32_t
sdiff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

void
stream_start(struct stream *s, uint32_t seq)
{
	s->init = 1;
	s->next_seq = seq;
}

static void
emit(struct stream *s, const uint8_t *d, size_t n, stream_deliver_fn fn, void *arg)
{
	if (s->offset < STREAM_DEPTH) {
		size_t room = STREAM_DEPTH - (size_t)s->offset;

		fn(arg, d, n < room ? n : room);
	}
	s->offset += n;
	s->next_seq += (uint32_t)n;
}

/* Deliver waiting segments that now fit. */
static void
drain(struct stream *s, struct memcap *m, stream_deliver_fn fn, void *arg)
{
	while (s->ooo && sdiff(s->ooo->seq, s->next_seq) <= 0) {
		struct stream_seg *g = s->ooo;
		uint32_t skip = (uint32_t)-sdiff(g->seq, s->next_seq);

		s->ooo = g->next;
		s->nooo--;
		s->ooo_bytes -= g->len;
		if (skip < g->len)
			emit(s, g->data + skip, g->len - skip, fn, arg);
		memcap_give(m, sizeof(*g) + g->len);
		free(g);
	}
}

/* Jump over a hole to the first waiting segment. */
static void
skip_gap(struct stream *s, struct memcap *m, stream_deliver_fn fn, void *arg)
{
	uint32_t lost;

	if (!s->ooo)
		return;
	lost = (uint32_t)sdiff(s->ooo->seq, s->next_seq);
	s->gaps++;
	fn(arg, NULL, lost);
	s->next_seq = s->ooo->seq;
	s->offset += lost;
	drain(s, m, fn, arg);
}

int
stream_add(struct stream *s, struct memcap *m, uint32_t seq, const uint8_t *data, size_t len,
	   stream_deliver_fn fn, void *arg)
{
	int32_t rel;
	struct stream_seg *g, **pp;

	if (len == 0)
		return 0;
	if (!s->init)
		stream_start(s, seq);
	rel = sdiff(seq, s->next_seq);
	if (rel < 0) {
		if ((size_t)-(int64_t)rel >= len)
			return 0; /* all of it was delivered already */
		data += -rel;
		len -= (size_t)-rel;
		rel = 0;
	}
	if (rel == 0) {
		emit(s, data, len, fn, arg);
		drain(s, m, fn, arg);
		return 0;
	}
	if (rel > (int32_t)(1u << 30))
		return 0; /* not this stream's sequence space */
	if (s->nooo >= STREAM_OOO_SEGS || s->ooo_bytes + len > STREAM_OOO_BYTES ||
	    memcap_take(m, sizeof(*g) + len) < 0) {
		/* No room to wait: the hole is lost. */
		if (s->ooo) {
			skip_gap(s, m, fn, arg);
			return stream_add(s, m, seq, data, len, fn, arg);
		}
		s->gaps++;
		fn(arg, NULL, (uint32_t)rel);
		s->offset += (uint32_t)rel;
		s->next_seq = seq;
		emit(s, data, len, fn, arg);
		return 0;
	}
	g = malloc(sizeof(*g) + len);
	if (!g) {
		memcap_give(m, sizeof(*g) + len);
		return -ENOMEM;
	}
	g->seq = seq;
	g->len = (uint32_t)len;
	memcpy(g->data, data, len);
	for (pp = &s->ooo; *pp && sdiff((*pp)->seq, seq) <= 0; pp = &(*pp)->next)
		;
	g->next = *pp;
	*pp = g;
	s->nooo++;
	s->ooo_bytes += len;
	return 0;
}

void
stream_free(struct stream *s, struct memcap *m)
{
	while (s->ooo) {
		struct stream_seg *g = s->ooo;

		s->ooo = g->next;
		memcap_give(m, sizeof(*g) + g->len);
		free(g);
	}
	memcap_give(m, s->wincap);
	free(s->win);
	memset(s, 0, sizeof(*s));
}

int
stream_window(struct stream *s, struct memcap *m, const uint8_t *data, size_t n,
	      const uint8_t **buf, size_t *len, uint64_t *base, size_t *min_end)
{
	uint64_t end = s->offset; /* offset after data (emit advanced it) */

	if (s->winlen + n > s->wincap) {
		size_t cap = s->winlen + n;
		uint8_t *w;

		if (memcap_take(m, cap - s->wincap) < 0 || !(w = realloc(s->win, cap))) {
			*buf = data;
			*len = n;
			*base = end - n;
			*min_end = 0;
			s->winlen = 0;
			return -ENOMEM;
		}
		s->win = w;
		s->wincap = cap;
	}
	memcpy(s->win + s->winlen, data, n);
	*min_end = s->winlen;
	s->winlen += n;
	*buf = s->win;
	*len = s->winlen;
	*base = end >= s->winlen ? end - s->winlen : 0;
	return 0;
}

void
stream_window_trim(struct stream *s, struct memcap *m, size_t keep)
{
	if (keep > STREAM_OVERLAP)
		keep = STREAM_OVERLAP;
	if (s->winlen > keep) {
		memmove(s->win, s->win + s->winlen - keep, keep);
		s->winlen = keep;
	}
	if (s->wincap > 4 * STREAM_OVERLAP) {
		uint8_t *w = realloc(s->win, STREAM_OVERLAP);

		if (w) {
			memcap_give(m, s->wincap - STREAM_OVERLAP);
			s->win = w;
			s->wincap = STREAM_OVERLAP;
		}
	}
}
