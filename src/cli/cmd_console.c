/*
 * cmd_console.c - a VM's serial console: its recent output, or attached
 * interactively over HTTP (GET .../console?offset=N to follow the output,
 * POST .../console/input to type).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "table.h"
#include "util.h"

#define CONSOLE_POLL_MS 200
#define CONSOLE_QUIET_MS 1000	 /* piped input: stop after this much silence */
#define CONSOLE_FIRST_BYTES 4096 /* recent output shown when attaching */
#define CONSOLE_POLL_BYTES 65536 /* per poll; a full answer polls again at once */
#define CONSOLE_INPUT_MAX 4096	 /* the API's limit per input request */
#define DETACH_KEY 0x1d		 /* Ctrl-] */

size_t
cmd_console_utf8(char *buf, size_t len, int at_eof)
{
	unsigned char *s = (unsigned char *)buf;
	size_t i = 0;

	while (i < len) {
		unsigned char b = s[i];
		size_t need, k;
		unsigned min;
		unsigned cp;

		if (b < 0x80) {
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf)
			need = 1, cp = b & 0x1f, min = 0x80;
		else if (b >= 0xe0 && b <= 0xef)
			need = 2, cp = b & 0x0f, min = 0x800;
		else if (b >= 0xf0 && b <= 0xf4)
			need = 3, cp = b & 0x07, min = 0x10000;
		else {
			s[i++] = '?';
			continue;
		}
		for (k = 1; k <= need && i + k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				break;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (k <= need && i + k == len && !at_eof)
			return i; /* cut short by the read: wait for the rest */
		if (k <= need || cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			s[i++] = '?'; /* resynchronise at the next byte */
			continue;
		}
		i += need + 1;
	}
	return len;
}

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct console {
	struct cli *c;
	char out_path[API_PATH_MAX]; /* /v1/vms/<id>/console */
	char in_path[API_PATH_MAX];  /* /v1/vms/<id>/console/input */
	long long offset;
	int tty;
};

/* GET new output from co->offset on and print it: 1 got output, 0 none, -1 error. */
static int
pull(struct console *co, int first, int *full)
{
	char path[API_PATH_MAX + 64];
	struct api_resp resp;
	int r = -1;

	*full = 0;
	if (first)
		snprintf(path, sizeof(path), "%s?bytes=%d", co->out_path,
			 CONSOLE_FIRST_BYTES);
	else
		snprintf(path, sizeof(path), "%s?offset=%lld&bytes=%d", co->out_path,
			 co->offset, CONSOLE_POLL_BYTES);
	if (api_call(&co->c->api, "GET", path, NULL, &resp) < 0)
		goto out;
	if (!resp.has_offset) {
		fprintf(stderr, "error: the server sent no X-Console-Offset header\n");
		goto out;
	}
	co->offset = resp.console_offset;
	if (write_all(1, resp.body, resp.len) < 0)
		goto out;
	*full = !first && resp.len >= CONSOLE_POLL_BYTES;
	r = resp.len > 0;
out:
	api_resp_free(&resp);
	return r;
}

/* POST one chunk of typed text. 0 or -1 (printed). */
static int
push(struct console *co, const char *data, size_t len)
{
	json_t *body, *j = NULL;
	int r;

	if (len == 0)
		return 0;
	body = json_object();
	if (json_object_set_new(body, "data", json_stringn(data, len)) < 0) {
		json_decref(body);
		fprintf(stderr, "error: cannot encode the input\n");
		return -1;
	}
	r = api_json(&co->c->api, "POST", co->in_path, body, &j);
	json_decref(body);
	json_decref(j);
	return r < 0 ? -1 : 0;
}

/*
 * Read what stdin has and send it. Returns 1 to go on, 0 at the end of the
 * input or the detach key, -1 on error. pend/npend carry an incomplete
 * UTF-8 sequence to the next call.
 */
static int
feed(struct console *co, char *pend, size_t *npend)
{
	char buf[CONSOLE_INPUT_MAX];
	size_t have = *npend, ok;
	char *key;
	ssize_t n;
	int go_on = 1;

	memcpy(buf, pend, have);
	n = read(0, buf + have, sizeof(buf) - have);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 1;
		fprintf(stderr, "error: stdin: %s\n", strerror(errno));
		return -1;
	}
	if (n == 0)
		go_on = 0;
	have += (size_t)n;
	if (co->tty && (key = memchr(buf, DETACH_KEY, have)) != NULL) {
		have = (size_t)(key - buf);
		go_on = 0;
	}
	ok = cmd_console_utf8(buf, have, !go_on);
	*npend = have - ok;
	memcpy(pend, buf + ok, *npend);
	if (push(co, buf, ok) < 0)
		return -1;
	return go_on;
}

static int
attach(struct console *co, const char *label)
{
	struct sigaction sa = {.sa_handler = on_signal}, old_term, old_hup, old_pipe;
	struct sigaction ign = {.sa_handler = SIG_IGN};
	struct termios saved, raw;
	uint64_t next_poll, quiet_since = 0;
	int in_open = 1, r = CLI_FAIL, full;
	char pend[8];
	size_t npend = 0;

	co->tty = isatty(0);
	if (pull(co, 1, &full) < 0)
		return CLI_FAIL;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&ign.sa_mask);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	/* A closed stdout must not kill us with the terminal left raw. */
	sigaction(SIGPIPE, &ign, &old_pipe);
	if (co->tty) {
		if (tcgetattr(0, &saved) < 0) {
			fprintf(stderr, "error: stdin: %s\n", strerror(errno));
			goto restore_signals;
		}
		raw = saved;
		cfmakeraw(&raw);
		/* Keep output processing so that our own messages end lines properly. */
		raw.c_oflag |= OPOST;
		tcsetattr(0, TCSANOW, &raw);
		fprintf(stderr, "[attached to %s; Ctrl-] detaches]\n", label);
	}
	next_poll = util_now_ms() + CONSOLE_POLL_MS;
	while (!stop_signal) {
		uint64_t now = util_now_ms();
		int timeout = next_poll > now ? (int)(next_poll - now) : 0, n;
		struct pollfd p = {.fd = 0, .events = POLLIN};

		if (in_open && timeout > 0) {
			n = poll(&p, 1, timeout);
			if (n < 0 && errno != EINTR)
				break;
			if (n > 0) {
				int f = feed(co, pend, &npend);

				if (f < 0)
					goto done;
				if (f == 0) {
					if (co->tty) {
						r = CLI_OK;
						goto done;
					}
					in_open = 0;
					quiet_since = util_now_ms();
				}
			}
			continue;
		}
		if (timeout > 0) {
			usleep((useconds_t)timeout * 1000);
			continue;
		}
		n = pull(co, 0, &full);
		if (n < 0)
			goto done;
		now = util_now_ms();
		if (n > 0)
			quiet_since = now;
		next_poll = full ? now : now + CONSOLE_POLL_MS;
		if (!in_open && now - quiet_since >= CONSOLE_QUIET_MS) {
			r = CLI_OK;
			goto done;
		}
	}
	r = CLI_OK; /* a signal: detach quietly */
done:
	if (co->tty) {
		tcsetattr(0, TCSANOW, &saved);
		fprintf(stderr, "\n[detached]\n");
	}
restore_signals:
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	return r;
}

int
cmd_vm_console(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--bytes", ARG_UINT}, {"--attach", ARG_FLAG}};
	struct console co = {.c = c};
	char id[256], path[API_PATH_MAX + 64];
	struct api_resp resp;
	const char *ref;
	int r;

	if (args_parse(argc, argv, o, ARRAY_LEN(o), &ref, 1) < 0)
		return CLI_USAGE;
	if (o[0].seen && o[1].seen) {
		fprintf(stderr, "error: --bytes and --attach do not go together\n");
		return CLI_USAGE;
	}
	if (cmd_vm_resolve(c, ref, id, sizeof(id)) < 0 ||
	    cli_path(c, co.out_path, sizeof(co.out_path), "/v1/vms/", id, "/console") <
		0 ||
	    cli_path(c, co.in_path, sizeof(co.in_path), "/v1/vms/", id,
		     "/console/input") < 0)
		return CLI_FAIL;
	if (o[1].seen) {
		char *l = strdup(ref);

		r = attach(&co, l ? table_clean(l) : "the VM");
		free(l);
		return r;
	}
	/* Console text is the guest's terminal output: shown as is, --json or not. */
	if (o[0].seen)
		snprintf(path, sizeof(path), "%s?bytes=%lld", co.out_path, o[0].num);
	else
		snprintf(path, sizeof(path), "%s", co.out_path);
	r = api_call(&c->api, "GET", path, NULL, &resp);
	if (r == 0 && write_all(1, resp.body, resp.len) < 0)
		r = -EIO;
	api_resp_free(&resp);
	return r < 0 ? CLI_FAIL : CLI_OK;
}
