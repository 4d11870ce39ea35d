/* idseve.c - see idseve.h */
#define _GNU_SOURCE
#include "idseve.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
idseve_init(struct idseve *e, uint64_t first_seq)
{
	memset(e, 0, sizeof(*e));
	e->next_seq = first_seq ? first_seq : 1;
	e->line = malloc(IDSEVE_LINE_MAX);
	e->ring = calloc(IDSEVE_RING_MAX, sizeof(*e->ring));
	return e->line && e->ring ? 0 : -ENOMEM;
}

void
idseve_free(struct idseve *e)
{
	if (e->ring != NULL)
		for (size_t i = 0; i < e->count; i++)
			json_decref(e->ring[(e->head + i) % IDSEVE_RING_MAX].alert);
	free(e->ring);
	free(e->line);
	e->ring = NULL;
	e->line = NULL;
	e->count = e->bytes = 0;
}

/* "<tenant>.<network>" -> "<network>" (the sensor's network name, ids.h). */
static int
network_back(json_t *o, const char *tenant, const char *net)
{
	size_t tl = strlen(tenant);

	if (strncmp(net, tenant, tl) != 0 || net[tl] != '.' || net[tl + 1] == '\0')
		return 0;
	return json_object_set_new(o, "network_id", json_string(net + tl + 1));
}

int
idseve_parse(const char *line, size_t len, json_t **alert)
{
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	const char *type, *tenant, *net;

	if (!json_is_object(o))
		goto bad;
	type = json_string_value(json_object_get(o, "event_type"));
	if (type == NULL)
		goto bad;
	if (strcmp(type, "alert") != 0) {
		json_decref(o);
		return 0;
	}
	tenant = json_string_value(json_object_get(o, "tenant_id"));
	net = json_string_value(json_object_get(o, "network_id"));
	if (tenant == NULL || net == NULL || !json_is_object(json_object_get(o, "alert")) ||
	    network_back(o, tenant, net) < 0)
		goto bad;
	*alert = o;
	return 1;
bad:
	json_decref(o);
	return -EBADMSG;
}

static void
evict_oldest(struct idseve *e)
{
	struct idseve_entry *x = &e->ring[e->head];

	json_decref(x->alert);
	e->bytes -= x->bytes;
	x->alert = NULL;
	e->head = (e->head + 1) % IDSEVE_RING_MAX;
	e->count--;
	e->c.evicted++;
}

static void
push(struct idseve *e, json_t *alert, size_t bytes)
{
	struct idseve_entry *x;

	while (e->count > 0 &&
	       (e->count == IDSEVE_RING_MAX || e->bytes + bytes > IDSEVE_RING_BYTES))
		evict_oldest(e);
	if (json_object_set_new(alert, "seq", json_integer((json_int_t)e->next_seq)) < 0) {
		json_decref(alert);
		return;
	}
	x = &e->ring[(e->head + e->count) % IDSEVE_RING_MAX];
	x->seq = e->next_seq++;
	x->bytes = bytes;
	x->alert = alert;
	e->bytes += bytes;
	e->count++;
	e->c.alerts++;
}

static void
line_done(struct idseve *e)
{
	json_t *alert = NULL;
	int r;

	e->c.lines++;
	if (e->skipping) {
		e->skipping = 0;
		e->c.too_long++;
		e->len = 0;
		return;
	}
	/* An empty line is not a record (a writer's stray newline): skip it. */
	if (e->len == 0)
		return;
	r = idseve_parse(e->line, e->len, &alert);
	if (r > 0)
		push(e, alert, e->len);
	else if (r == 0)
		e->c.other++;
	else
		e->c.malformed++;
	e->len = 0;
}

void
idseve_feed(struct idseve *e, const char *data, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;

		if (!e->skipping) {
			if (e->len + take > IDSEVE_LINE_MAX) {
				e->skipping = 1;
				e->len = 0;
			} else {
				memcpy(e->line + e->len, data, take);
				e->len += take;
			}
		}
		if (nl == NULL)
			return;
		line_done(e);
		data = nl + 1;
		n -= take + 1;
	}
}

void
idseve_reset_line(struct idseve *e)
{
	e->len = 0;
	e->skipping = 0;
}

json_t *
idseve_query(const struct idseve *e, uint64_t since, size_t limit, const char *tenant)
{
	json_t *arr = json_array(), *out;
	uint64_t last = since;
	size_t i;

	if (arr == NULL)
		return NULL;
	for (i = 0; i < e->count && json_array_size(arr) < limit; i++) {
		const struct idseve_entry *x = &e->ring[(e->head + i) % IDSEVE_RING_MAX];
		const char *t;

		if (x->seq <= since)
			continue;
		t = json_string_value(json_object_get(x->alert, "tenant_id"));
		last = x->seq;
		if (tenant != NULL && (t == NULL || strcmp(t, tenant) != 0))
			continue;
		/* A copy: the caller serialises it after dropping its lock. */
		json_array_append_new(arr, json_deep_copy(x->alert));
	}
	out = json_pack("{s:o, s:I, s:I, s:I}", "alerts", arr, "last", (json_int_t)last, "first",
			(json_int_t)(e->count ? e->ring[e->head].seq : 0), "next",
			(json_int_t)e->next_seq);
	return out;
}
