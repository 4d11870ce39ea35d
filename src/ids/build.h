/*
 * build.h - rule sets compiled off the inspecting thread, so a reload
 * (network.set for a network that has rules) never stops inspection:
 * packets go on being matched against the old rule set while the new one
 * is parsed and its Hyperscan databases compiled; the inspecting thread
 * then swaps it in between two packets (sensor_net_install).
 *
 * One worker thread takes jobs in order. Completion is signalled on a
 * pipe the serve loop polls (builder_fd); builder_take hands back one
 * finished job at a time. The worker touches nothing but the job's own
 * configuration and rule set, and the Hyperscan database cache (which has
 * its lock, mpm.h).
 */
#ifndef CLOUDLET_IDS_BUILD_H
#define CLOUDLET_IDS_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "netcfg.h"
#include "ruleset.h"

struct builder;

struct builder *builder_start(void);
/* Stops the worker (after its current job) and frees what is left. */
void builder_stop(struct builder *b);
/* Readable when a job has finished. */
int builder_fd(const struct builder *b);
/* Queue cfg (taken) for compiling: its directories' rule set, unless base
 * (a reference, taken) already is that, and its custom rules next to it;
 * tag comes back with the result. */
int builder_submit(struct builder *b, struct netcfg *cfg, struct ruleset *base, uint64_t tag);
/* A finished job: 1 with cfg, *rs (NULL on failure, err says why), *rsc
 * (the custom rules' set or NULL) and *tag, all now the caller's; or 0
 * when none is waiting. */
int builder_take(struct builder *b, struct netcfg *cfg, struct ruleset **rs, struct ruleset **rsc,
		 uint64_t *tag, char *err, size_t errlen);
/* Jobs queued or running. */
unsigned builder_pending(const struct builder *b);

#endif
