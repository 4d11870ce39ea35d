/* alert.c - see alert.h */
#define _GNU_SOURCE
#include "alert.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *alerts; /* array, oldest first */
static uint64_t seq;
static int fd = -1;

static void
keep(json_t *a)
{
	json_array_append_new(alerts, a);
	if (json_array_size(alerts) > ALERT_KEEP)
		json_array_remove(alerts, 0);
}

int
alert_open(const char *dir)
{
	char path[4096], *text = NULL, *line, *save = NULL;
	size_t len;
	int r;

	r = util_fmt(path, sizeof(path), "%s/alerts.jsonl", dir);
	if (r < 0)
		return r;
	alerts = json_array();
	if (alerts == NULL)
		return -ENOMEM;
	r = util_read_file(path, 256u << 20, &text, &len);
	if (r == 0) {
		for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			json_t *a = json_loads(line, 0, NULL);
			json_int_t s = json_integer_value(json_object_get(a, "seq"));

			if (a == NULL || s <= 0) {
				json_decref(a); /* a torn last line */
				continue;
			}
			if ((uint64_t)s > seq)
				seq = (uint64_t)s;
			keep(a);
		}
		free(text);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : 0;
}

void
alert_close(void)
{
	if (fd >= 0)
		close(fd);
	fd = -1;
	json_decref(alerts);
	alerts = NULL;
}

uint64_t
alert_add(json_t *a)
{
	char now[32], *s;
	uint64_t n;

	if (a == NULL)
		return 0;
	util_rfc3339(now, sizeof(now));
	pthread_mutex_lock(&lock);
	n = ++seq;
	json_object_set_new(a, "seq", json_integer((json_int_t)n));
	json_object_set_new(a, "time", json_string(now));
	s = json_dumps(a, JSON_COMPACT);
	if (s && fd >= 0) {
		size_t l = strlen(s);

		s[l] = '\n';
		if (write(fd, s, l + 1) != (ssize_t)(l + 1))
			log_warn("%s: alerts.jsonl", __func__);
	}
	free(s);
	log_info("alert %llu: %s %s", (unsigned long long)n,
		 json_string_value(json_object_get(a, "kind")) ?: "?",
		 json_string_value(json_object_get(a, "message")) ?: "");
	if (alerts)
		keep(a);
	else
		json_decref(a);
	pthread_mutex_unlock(&lock);
	return n;
}

json_t *
alert_list(uint64_t since, size_t limit, uint64_t *last)
{
	json_t *out = json_array(), *a;
	size_t i;

	*last = since;
	pthread_mutex_lock(&lock);
	json_array_foreach(alerts, i, a) {
		uint64_t s = (uint64_t)json_integer_value(json_object_get(a, "seq"));

		if (s <= since)
			continue;
		if (json_array_size(out) >= limit)
			break;
		json_array_append_new(out, json_deep_copy(a));
		*last = s;
	}
	pthread_mutex_unlock(&lock);
	return out;
}
