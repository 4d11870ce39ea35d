/* idstail.c - see idstail.h */
#define _GNU_SOURCE
#include "idstail.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idseve.h"
#include "jsonv.h"
#include "util.h"

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static struct idseve eve; /* under mtx */
static int eve_ready;
static const char *eve_path, *pos_path;

struct eve_pos {
	uint64_t offset, ino, next_seq;
};

static void
pos_load(struct eve_pos *p)
{
	char *text = NULL;
	size_t len;
	json_t *j;

	memset(p, 0, sizeof(*p));
	if (util_read_file(pos_path, 4096, &text, &len) < 0)
		return;
	j = json_loadb(text, len, 0, NULL);
	free(text);
	p->offset = (uint64_t)json_integer_value(json_object_get(j, "offset"));
	p->ino = (uint64_t)json_integer_value(json_object_get(j, "ino"));
	p->next_seq = (uint64_t)json_integer_value(json_object_get(j, "next_seq"));
	json_decref(j);
}

static void
pos_save(const struct eve_pos *p)
{
	json_t *j = json_pack("{s:I, s:I, s:I}", "offset", (json_int_t)p->offset, "ino",
			      (json_int_t)p->ino, "next_seq", (json_int_t)p->next_seq);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (text != NULL)
		util_write_atomic(pos_path, text, strlen(text), 0600);
	free(text);
	json_decref(j);
}

/* Read what is new in the file (at most 1 MiB a round): 1 if anything. */
static int
tail_once(int fd, struct eve_pos *p, char *buf, size_t buflen)
{
	struct stat st;
	int got = 0;

	if (fstat(fd, &st) < 0)
		return 0;
	if ((uint64_t)st.st_ino != p->ino || (uint64_t)st.st_size < p->offset) {
		/* A new file, or the old one truncated: from its start. */
		p->ino = (uint64_t)st.st_ino;
		p->offset = 0;
		pthread_mutex_lock(&mtx);
		idseve_reset_line(&eve);
		pthread_mutex_unlock(&mtx);
	}
	for (int round = 0; round < 16; round++) {
		ssize_t n = pread(fd, buf, buflen, (off_t)p->offset);

		if (n <= 0)
			break;
		pthread_mutex_lock(&mtx);
		idseve_feed(&eve, buf, (size_t)n);
		p->next_seq = eve.next_seq;
		pthread_mutex_unlock(&mtx);
		p->offset += (uint64_t)n;
		got = 1;
	}
	return got;
}

static void *
tail(void *arg)
{
	struct eve_pos p;
	char *buf = malloc(64 * 1024);
	int fd = -1;

	(void)arg;
	pos_load(&p);
	for (;;) {
		struct stat cur, now;

		/* The file was replaced (rotated): follow the path. */
		if (fd >= 0 && (stat(eve_path, &now) < 0 || fstat(fd, &cur) < 0 ||
				now.st_ino != cur.st_ino)) {
			close(fd);
			fd = -1;
		}
		if (fd < 0)
			fd = open(eve_path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && buf != NULL && tail_once(fd, &p, buf, 64 * 1024)) {
			struct eve_pos save = p;

			/* A partial line is read again after a restart. */
			pthread_mutex_lock(&mtx);
			if (!eve.skipping)
				save.offset -= eve.len;
			pthread_mutex_unlock(&mtx);
			pos_save(&save);
			continue;
		}
		usleep(200000);
	}
	return NULL;
}

static int
arg_u64(const json_t *args, const char *key, uint64_t dflt, uint64_t max, uint64_t *out,
	struct op_error *e)
{
	const json_t *v = json_object_get(args, key);

	*out = dflt;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return op_fail(e, "invalid", -EINVAL, "%s must be an integer from 0 to %llu", key,
			       (unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int
idstail_alerts(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"since", "after", "limit", "tenant", NULL};
	const json_t *tv = json_object_get(args, "tenant");
	uint64_t since, after, limit;
	char why[200];
	int r;

	if (jsonv_only_fields(args, allowed, why, sizeof(why)) < 0)
		return op_fail(e, "invalid", -EINVAL, "%s", why);
	if (tv != NULL && !json_is_string(tv))
		return op_fail(e, "invalid", -EINVAL, "tenant must be a string");
	if ((r = arg_u64(args, "since", 0, INT64_MAX, &since, e)) < 0 ||
	    (r = arg_u64(args, "after", since, INT64_MAX, &after, e)) < 0 ||
	    (r = arg_u64(args, "limit", 1000, 1000, &limit, e)) < 0)
		return r;
	pthread_mutex_lock(&mtx);
	*out = eve_ready ? idseve_query(&eve, after, limit ? limit : 1000, json_string_value(tv))
			 : json_pack("{s:[], s:I, s:i, s:i}", "alerts", "last", (json_int_t)after,
				     "first", 0, "next", 1);
	pthread_mutex_unlock(&mtx);
	return *out ? 0 : op_fail(e, "internal", -ENOMEM, "out of memory");
}

json_t *
idstail_counters(void)
{
	json_t *j;

	pthread_mutex_lock(&mtx);
	j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "lines", (json_int_t)eve.c.lines,
		      "alerts", (json_int_t)eve.c.alerts, "other", (json_int_t)eve.c.other,
		      "malformed", (json_int_t)eve.c.malformed, "too_long",
		      (json_int_t)eve.c.too_long, "evicted", (json_int_t)eve.c.evicted, "held",
		      (json_int_t)eve.count, "next_seq", (json_int_t)eve.next_seq);
	pthread_mutex_unlock(&mtx);
	return j;
}

int
idstail_start(const char *eve_file, const char *pos_file)
{
	struct eve_pos p;
	pthread_t t;
	int r;

	eve_path = eve_file;
	pos_path = pos_file;
	pos_load(&p);
	if ((r = idseve_init(&eve, p.next_seq)) < 0)
		return r;
	eve_ready = 1;
	if (pthread_create(&t, NULL, tail, NULL) != 0)
		return -EAGAIN;
	pthread_detach(t);
	return 0;
}
