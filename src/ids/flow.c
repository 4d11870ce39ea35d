/*
 * flow.c - the flow table (flow.h).
 */
#include <stdlib.h>
#include <string.h>

#include "flow.h"

static uint64_t
mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

static size_t
bucket(const struct flow_table *t, uint32_t ifid, uint8_t proto, uint32_t a, uint16_t pa,
       uint32_t b, uint16_t pb)
{
	/* symmetric in the two ends */
	uint64_t x = ((uint64_t)a << 16 | pa) ^ ((uint64_t)b << 16 | pb);
	uint64_t y = ((uint64_t)a << 16 | pa) + ((uint64_t)b << 16 | pb);

	return (size_t)(mix(x ^ mix(y) ^ ((uint64_t)ifid << 40) ^ ((uint64_t)proto << 56) ^ t->seed) %
			FLOW_BUCKETS);
}

int
flow_table_init(struct flow_table *t, void (*end)(void *, struct flow *), void *arg)
{
	memset(t, 0, sizeof(*t));
	t->b = calloc(FLOW_BUCKETS, sizeof(*t->b));
	if (!t->b)
		return -1;
	t->end = end;
	t->arg = arg;
	t->next_id = 1;
	t->seed = (uint64_t)(uintptr_t)t->b;
	return 0;
}

static void
lru_unlink(struct flow_table *t, struct flow *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		t->head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		t->tail = f->prev;
	f->prev = f->next = NULL;
}

static void
lru_append(struct flow_table *t, struct flow *f)
{
	f->prev = t->tail;
	f->next = NULL;
	if (t->tail)
		t->tail->next = f;
	else
		t->head = f;
	t->tail = f;
}

static void
remove_flow(struct flow_table *t, struct flow *f)
{
	size_t h = bucket(t, f->ifid, f->proto, f->cli, f->cport, f->srv, f->sport);
	struct flow **pp;

	for (pp = &t->b[h]; *pp; pp = &(*pp)->hnext)
		if (*pp == f) {
			*pp = f->hnext;
			break;
		}
	lru_unlink(t, f);
	t->count--;
	if (t->end)
		t->end(t->arg, f);
	stream_free(&f->st[0], f->mem);
	stream_free(&f->st[1], f->mem);
	memcap_give(f->mem, sizeof(*f));
	free(f->fbits);
	free(f->tls);
	free(f);
}

void
flow_end(struct flow_table *t, struct flow *f)
{
	remove_flow(t, f);
}

void
flow_table_free(struct flow_table *t)
{
	while (t->head)
		remove_flow(t, t->head);
	free(t->b);
	t->b = NULL;
}

struct flow *
flow_get(struct flow_table *t, uint32_t ifid, uint8_t proto, uint32_t src, uint16_t sp,
	 uint32_t dst, uint16_t dp, int syn_ack, struct memcap *mem, void *owner, uint64_t now_us,
	 int *to_server)
{
	size_t h = bucket(t, ifid, proto, src, sp, dst, dp);
	struct flow *f;

	for (f = t->b[h]; f; f = f->hnext) {
		if (f->ifid != ifid || f->proto != proto)
			continue;
		if (f->cli == src && f->cport == sp && f->srv == dst && f->sport == dp) {
			*to_server = 1;
			return f;
		}
		if (f->cli == dst && f->cport == dp && f->srv == src && f->sport == sp) {
			*to_server = 0;
			return f;
		}
	}
	if (!mem || memcap_take(mem, sizeof(*f)) < 0)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f) {
		memcap_give(mem, sizeof(*f));
		return NULL;
	}
	f->ifid = ifid;
	f->proto = proto;
	if (syn_ack) {
		f->cli = dst, f->cport = dp, f->srv = src, f->sport = sp;
		*to_server = 0;
	} else {
		f->cli = src, f->cport = sp, f->srv = dst, f->sport = dp;
		*to_server = 1;
	}
	f->id = t->next_id++;
	f->first_us = f->last_us = now_us;
	f->mem = mem;
	f->owner = owner;
	f->hnext = t->b[h];
	t->b[h] = f;
	lru_append(t, f);
	t->count++;
	return f;
}

void
flow_touch(struct flow_table *t, struct flow *f, uint64_t now_us)
{
	if (now_us > f->last_us)
		f->last_us = now_us;
	if (t->tail != f) {
		lru_unlink(t, f);
		lru_append(t, f);
	}
}

static uint64_t
timeout_s(const struct flow *f)
{
	if (f->proto == 6) {
		if (f->state == TCP_CLOSED || f->state == TCP_CLOSING)
			return FLOW_TIMEOUT_CLOSED;
		return f->established ? FLOW_TIMEOUT_EST : FLOW_TIMEOUT_NEW;
	}
	return f->proto == 17 ? FLOW_TIMEOUT_UDP : FLOW_TIMEOUT_OTHER;
}

size_t
flow_expire(struct flow_table *t, uint64_t now_us, size_t max)
{
	size_t n = 0;

	while (t->head && n < max) {
		struct flow *f = t->head;

		if (f->last_us + timeout_s(f) * 1000000 > now_us)
			break;
		remove_flow(t, f);
		n++;
	}
	return n;
}

void
flow_drop_owner(struct flow_table *t, void *owner)
{
	struct flow *f = t->head, *next;

	for (; f; f = next) {
		next = f->next;
		if (f->owner == owner)
			remove_flow(t, f);
	}
}
