/* agentc.c - see agentc.h */
#include "agentc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "msg.h"

static char sock_path[512] = "/run/cloudlet/agent.sock";

void
agentc_init(const char *socket_path)
{
	snprintf(sock_path, sizeof(sock_path), "%s", socket_path);
}

int
agentc_call(const char *op, json_t *args, json_t **result, char *code, char *err,
	    size_t errlen)
{
	json_t *req = json_pack("{s:s, s:o}", "op", op, "args", args ? args : json_object());
	json_t *reply = NULL;
	int connected, r;

	snprintf(code, 32, "internal");
	err[0] = '\0';
	if (result != NULL)
		*result = NULL;
	r = msg_call(sock_path, req, &reply, &connected);
	json_decref(req);
	if (r < 0) {
		if (!connected)
			snprintf(err, errlen, "the host agent is unreachable (%s): %s", sock_path,
				 strerror(-r));
		else
			snprintf(err, errlen, "host agent: %s", strerror(-r));
		return r;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_t *e = json_object_get(reply, "error");

		snprintf(code, 32, "%s", json_string_value(json_object_get(e, "code")) ?: "?");
		snprintf(err, errlen, "%s",
			 json_string_value(json_object_get(e, "message")) ?: "agent error");
		json_decref(reply);
		return -EREMOTEIO;
	}
	if (result != NULL)
		*result = json_incref(json_object_get(reply, "result"));
	json_decref(reply);
	return 0;
}
