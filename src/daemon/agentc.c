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
#include "store_host.h"
#include "util.h"

static char sock_path[512] = "/run/cloudlet/agent.sock";

/* The socket of a host's agent. */
static int
host_socket(const char *host_id, char *path, size_t len)
{
	if (store_host_socket(host_id, path, len) == 0)
		return 0;
	if (strcmp(host_id, HOST_LOCAL) == 0) {
		snprintf(path, len, "%s", sock_path);
		return 0;
	}
	return -ENOENT;
}

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
exchange(const char *path, const json_t *req, json_t **reply, int *sent, int timeout_ms)
{
	struct msg_reader rd;
	int fd, r;

	*reply = NULL;
	*sent = 0;
	fd = msg_connect_unix(path);
	if (fd < 0)
		return fd;
	r = msg_write(fd, req);
	if (r == 0) {
		*sent = 1;
		if ((r = msg_reader_init(&rd, fd, MSG_MAX_RESPONSE)) == 0) {
			r = msg_read(&rd, reply, timeout_ms);
			msg_reader_free(&rd);
		}
	}
	close(fd);
	return r;
}

int
agentc_call_timeout(const char *host_id, const char *op, json_t *args, json_t **result,
		    char *code, char *err, size_t errlen, int timeout_ms)
{
	json_t *req = json_pack("{s:s, s:o}", "op", op, "args", args ? args : json_object());
	json_t *reply = NULL;
	char path[512];
	int sent = 0, r;

	snprintf(code, 32, "internal");
	err[0] = '\0';
	if (result != NULL)
		*result = NULL;
	if (req == NULL) {
		snprintf(err, errlen, "cannot build the request %s", op);
		return -ENOMEM;
	}
	r = host_socket(host_id, path, sizeof(path));
	if (r == 0)
		r = exchange(path, req, &reply, &sent, timeout_ms);
	else
		snprintf(path, sizeof(path), "no such host");
	json_decref(req);
	if (r < 0) {
		if (!sent) {
			snprintf(code, 32, "unreachable");
			snprintf(err, errlen, "the host agent of %s is unreachable (%s): %s",
				 host_id, path, strerror(-r));
		} else {
			snprintf(code, 32, "dropped");
			snprintf(err, errlen,
				 "the host agent of %s ended the connection during %s (%s)", host_id,
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
agentc_call(const char *host_id, const char *op, json_t *args, json_t **result, char *code,
	    char *err, size_t errlen)
{
	return agentc_call_timeout(host_id, op, args, result, code, err, errlen, -1);
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
agentc_call_retry(const char *host_id, const char *op, json_t *args, json_t **result,
		  char *code, char *err, size_t errlen, unsigned budget_ms, int idempotent)
{
	uint64_t start = util_now_ms();
	unsigned delay = 50, tries = 0;
	int r;

	if (args == NULL)
		args = json_object();
	for (;;) {
		uint64_t spent;

		tries++;
		r = agentc_call(host_id, op, json_incref(args), result, code, err, errlen);
		if (r == 0 || !agentc_no_answer(code))
			break;
		if (strcmp(code, "dropped") == 0 && !idempotent)
			break;
		spent = util_now_ms() - start;
		if (spent + delay > budget_ms)
			break;
		if (tries == 1)
			log_info("agent %s: %s: %s; trying again for up to %u s", host_id, op, err,
				 budget_ms / 1000);
		sleep_ms(delay);
		delay = delay * 2 > 1000 ? 1000 : delay * 2;
	}
	if (tries > 1)
		log_info("agent %s: %s %s after %u tries in %llu ms", host_id, op,
			 r == 0 ? "answered" : "still failing", tries,
			 (unsigned long long)(util_now_ms() - start));
	json_decref(args);
	return r;
}
