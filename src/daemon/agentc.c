/* agentc.c - see agentc.h */
#define _GNU_SOURCE
#include "agentc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "util.h"

static char sock_path[512] = "/run/cloudlet/agent.sock";

void
agentc_init(const char *socket_path)
{
	snprintf(sock_path, sizeof(sock_path), "%s", socket_path);
}

/*
 * One exchange; *sent says whether the whole request was written (after
 * that, a broken connection may follow a request the agent ran).
 */
static int
exchange(const json_t *req, json_t **reply, int *sent)
{
	struct msg_reader rd;
	int fd, r;

	*reply = NULL;
	*sent = 0;
	fd = msg_connect_unix(sock_path);
	if (fd < 0)
		return fd;
	r = msg_write(fd, req);
	if (r == 0) {
		*sent = 1;
		if ((r = msg_reader_init(&rd, fd, MSG_MAX_RESPONSE)) == 0) {
			r = msg_read(&rd, reply, -1);
			msg_reader_free(&rd);
		}
	}
	close(fd);
	return r;
}

int
agentc_call(const char *op, json_t *args, json_t **result, char *code, char *err,
	    size_t errlen)
{
	json_t *req = json_pack("{s:s, s:o}", "op", op, "args", args ? args : json_object());
	json_t *reply = NULL;
	int sent, r;

	snprintf(code, 32, "internal");
	err[0] = '\0';
	if (result != NULL)
		*result = NULL;
	if (req == NULL) {
		snprintf(err, errlen, "cannot build the request %s", op);
		return -ENOMEM;
	}
	r = exchange(req, &reply, &sent);
	json_decref(req);
	if (r < 0) {
		if (!sent) {
			snprintf(code, 32, "unreachable");
			snprintf(err, errlen, "the host agent is unreachable (%s): %s", sock_path,
				 strerror(-r));
		} else {
			snprintf(code, 32, "dropped");
			snprintf(err, errlen, "the host agent ended the connection during %s (%s)",
				 op, strerror(-r));
		}
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

int
agentc_no_answer(const char *code)
{
	return strcmp(code, "unreachable") == 0 || strcmp(code, "dropped") == 0 ||
	       strcmp(code, "busy") == 0;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int
agentc_call_retry(const char *op, json_t *args, json_t **result, char *code, char *err,
		  size_t errlen, unsigned budget_ms, int idempotent)
{
	uint64_t start = util_now_ms();
	unsigned delay = 50, tries = 0;
	int r;

	if (args == NULL)
		args = json_object();
	for (;;) {
		uint64_t spent;

		tries++;
		r = agentc_call(op, json_incref(args), result, code, err, errlen);
		if (r == 0 || !agentc_no_answer(code))
			break;
		if (strcmp(code, "dropped") == 0 && !idempotent)
			break;
		spent = util_now_ms() - start;
		if (spent + delay > budget_ms)
			break;
		if (tries == 1)
			log_info("agent: %s: %s; trying again for up to %u s", op, err,
				 budget_ms / 1000);
		sleep_ms(delay);
		delay = delay * 2 > 1000 ? 1000 : delay * 2;
	}
	if (tries > 1)
		log_info("agent: %s %s after %u tries in %llu ms", op,
			 r == 0 ? "answered" : "still failing", tries,
			 (unsigned long long)(util_now_ms() - start));
	json_decref(args);
	return r;
}
