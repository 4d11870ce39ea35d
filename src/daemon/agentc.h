/*
 * agentc.h - cloudletd's client of the host agent's control socket
 * (docs/agent-protocol.md). One connection per call: calls come from several
 * threads and some (vm.wait) block for minutes.
 */
#ifndef CLOUDLET_AGENTC_H
#define CLOUDLET_AGENTC_H

#include <jansson.h>
#include <stddef.h>

void agentc_init(const char *socket_path);

/*
 * Run op with args (consumed). 0 and *result (new reference, may be NULL
 * if not wanted); on an agent error -EREMOTEIO with its code in code (at
 * least 32 bytes) and message in err; -errno if the agent is unreachable.
 */
int agentc_call(const char *op, json_t *args, json_t **result, char *code, char *err,
		size_t errlen);

#endif
