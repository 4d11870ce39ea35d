/* pull.c - see pull.h */
#define _GNU_SOURCE
#include "pull.h"

#include <string.h>

#include "agentc.h"
#include "log.h"
#include "store_host.h"

#define PULL_PAGE 1000 /* what the agents answer at most */

static void
pull_host(const struct pull_src *src, const char *host)
{
	int64_t last = src->last(host);
	char code[32], err[256];
	json_t *res = NULL, *rec, *args;
	size_t i, n;
	int round;

	for (round = 0; round < 10; round++) {
		args = json_pack("{s:I}", "since", (json_int_t)last);
		if (src->limit > 0)
			json_object_set_new(args, "limit", json_integer(src->limit));
		if (agentc_call_timeout(host, src->op, args, &res, code, err, sizeof(err), 2000) < 0)
			return; /* not served there (no storage, no IDS), or the agent is away */
		if (json_is_integer(json_object_get(res, "next")) &&
		    json_integer_value(json_object_get(res, "next")) <= last && last > 0) {
			log_info("host %s numbers its %s records from 1 again", host, src->op);
			last = 0;
			json_decref(res);
			res = NULL;
			continue;
		}
		n = json_array_size(json_object_get(res, "alerts"));
		json_array_foreach(json_object_get(res, "alerts"), i, rec) {
			int64_t seq = json_integer_value(json_object_get(rec, "seq"));

			src->add(host, seq, rec);
			if (seq > last)
				last = seq;
		}
		json_decref(res);
		res = NULL;
		if (n < PULL_PAGE)
			break;
	}
}

void
pull_all_hosts(const struct pull_src *src)
{
	json_t *hosts = store_host_list(), *h;
	size_t i;

	json_array_foreach(hosts, i, h) {
		const char *id = json_string_value(json_object_get(h, "id")) ?: "";
		const char *st = json_string_value(json_object_get(h, "state")) ?: "";

		if (strcmp(st, "up") == 0 || strcmp(id, HOST_LOCAL) == 0)
			pull_host(src, id);
	}
	json_decref(hosts);
}
