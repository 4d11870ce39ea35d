/*
 * pull.h - records each host numbers itself (storage alerts, IDS alerts),
 * pulled by cloudletd from every host that is up: ask the agent for what
 * came after the last number stored for that host, store each record, go
 * on while full pages come (at most 10 per pass). A host whose numbering
 * started again (the agent lost its state: its "next" is not above what
 * is stored) is read from 0; the store keys its records so that nothing
 * is overwritten. Only the reconciliation thread calls it.
 */
#ifndef CLOUDLET_PULL_H
#define CLOUDLET_PULL_H

#include <jansson.h>
#include <stdint.h>

struct pull_src {
	const char *op;                      /* the agent's list op: {since, limit} */
	int limit;                           /* its page size, 0: it takes none */
	int64_t (*last)(const char *host);   /* the highest number stored, 0 if none */
	void (*add)(const char *host, int64_t seq, const json_t *rec);
};

void pull_all_hosts(const struct pull_src *src);

#endif
