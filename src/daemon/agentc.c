/* agentc.c - see agentc.h */
#include "agentc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	struct msg_reader rd;
	json_t *req = json_pack("{s:s, s:o}", "op", op, "args", args ? args : json_object());
	json_t *reply = NULL;
	int fd, r;

	snprintf(code, 32, "internal");
	err[0] = '\0';
	if (result != NULL)
		*result = NULL;
	fd = msg_connect_unix(sock_path);
	if (fd < 0) {
		snprintf(err, errlen, "the host agent is unreachable (%s): %s", sock_path,
			 strerror(-fd));
		json_decref(req);
		return fd;
	}
	r = msg_write(fd, req);
	json_decref(req);
	if (r == 0 && (r = msg_reader_init(&rd, fd, MSG_MAX_RESPONSE)) == 0) {
		r = msg_read(&rd, &reply, -1);
		msg_reader_free(&rd);
	}
	close(fd);
	if (r < 0) {
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
