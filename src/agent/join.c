/* join.c - see join.h */
#define _GNU_SOURCE
#include "join.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "jointoken.h"
#include "tlsid.h"
#include "util.h"

#define JOIN_TIMEOUT_S 30
#define JOIN_ANSWER_MAX (64 * 1024)

struct join_opts {
	const char *listen, *underlay, *state_dir, *tls_dir;
};

static void
usage(void)
{
	fprintf(stderr, "usage: cloudlet-agent join TOKEN|- --listen IP:PORT [--underlay-address IP]\n"
			"                           [--state-dir DIR] [--tls-dir DIR]\n"
			"  TOKEN from `cloudlet host token create`; - reads it from stdin (keeps\n"
			"  it off the command line)\n");
	exit(2);
}

/* The answer's body, at most JOIN_ANSWER_MAX bytes. */
struct sink {
	char buf[JOIN_ANSWER_MAX + 1];
	size_t len;
};

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;

	if (len > JOIN_ANSWER_MAX - s->len)
		return 0; /* too large: curl fails the transfer */
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return len;
}

/*
 * POST body to url; 0 and the HTTP status, or -EIO with err. With a pin
 * (the API serves its own self-signed certificate) the server must hold
 * exactly that key: checked in the handshake, before a byte of the body
 * is sent; without one an https URL is verified against the system's CAs
 * (a TLS proxy in front of the API).
 */
static int
post(const char *url, const char *pin, const char *body, struct sink *out, long *status,
     char *err, size_t errlen)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *c = curl_easy_init();
	CURLcode rc = CURLE_FAILED_INIT;

	if (c != NULL && h != NULL) {
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)JOIN_TIMEOUT_S);
		curl_easy_setopt(c, CURLOPT_USERAGENT, "cloudlet-agent/join");
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
		if (pin[0] != '\0') {
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
			curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, pin);
		}
		rc = curl_easy_perform(c);
		if (rc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	}
	if (rc != CURLE_OK)
		snprintf(err, errlen, "%s", curl_easy_strerror(rc));
	curl_slist_free_all(h);
	if (c != NULL)
		curl_easy_cleanup(c);
	return rc == CURLE_OK ? 0 : -EIO;
}

/* The token: the argument, or from stdin for "-". */
static int
read_token(const char *arg, struct jointoken *t, char *err, size_t errlen)
{
	char line[JOINTOKEN_MAX + 8];
	int r;

	if (strcmp(arg, "-") != 0)
		return jointoken_decode(arg, t, err, errlen);
	if (fgets(line, sizeof(line), stdin) == NULL) {
		snprintf(err, errlen, "no token on stdin");
		return -EINVAL;
	}
	r = jointoken_decode(line, t, err, errlen);
	explicit_bzero(line, sizeof(line));
	return r;
}

/* The join request; the caller frees it (it holds the secret). */
static char *
request_body(const struct jointoken *t, const struct join_opts *o, const char *fpr)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:i, s:i}}", "secret", t->secret,
			      "name", t->name, "address", o->listen, "fingerprint", fpr,
			      "underlay_address", o->underlay ? o->underlay : "", "protocol", "min",
			      CONTROL_PROTOCOL_MIN, "max", CONTROL_PROTOCOL_MAX);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return text;
}

/* What the control plane said. */
static void
report(long status, const struct sink *s, const struct jointoken *t, const struct join_opts *o)
{
	json_t *j = json_loadb(s->buf, s->len, 0, NULL);
	const json_t *e = json_object_get(j, "error");

	if (status == 201)
		printf("joined %s as host %s (%s); the control plane at %s is pinned.\n"
		       "Now serve: cloudlet-agent serve --listen %s --tls-dir %s%s%s\n",
		       t->url, t->name, json_string_value(json_object_get(j, "id")) ?: "?",
		       t->url, o->listen, o->tls_dir, o->state_dir ? " --state-dir " : "",
		       o->state_dir ? o->state_dir : "");
	else
		fprintf(stderr, "error: the control plane refused the join (%ld %s): %s\n", status,
			json_string_value(json_object_get(e, "code")) ?: "?",
			json_string_value(json_object_get(e, "message")) ?: s->buf);
	json_decref(j);
}

/* Plain http only to this machine: elsewhere the secret would cross the
 * network in clear. */
static int
url_safe(const char *url)
{
	const char *h;

	if (strncmp(url, "https://", 8) == 0)
		return 1;
	h = url + 7; /* "http://", checked by the token's decoder */
	return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost:", 10) == 0 ||
	       strncmp(h, "localhost/", 10) == 0 || strcmp(h, "localhost") == 0 ||
	       strncmp(h, "[::1]", 5) == 0;
}

static int
join(const struct jointoken *t, const struct join_opts *o)
{
	char fpr[TLSID_FPR_LEN + 1], err[600], url[300], *body;
	static struct sink answer;
	long status = 0;
	int r;

	/* The state directory as `serve` makes it (0711: QEMU, another user,
	 * reaches its VM directories), before tls/ (0700) goes into it. */
	if (o->state_dir != NULL && (r = util_mkdirs(o->state_dir, 0711)) < 0) {
		fprintf(stderr, "error: %s: %s\n", o->state_dir, strerror(-r));
		return 1;
	}
	if (tlsid_ensure(o->tls_dir, "cloudlet-agent", fpr, err, sizeof(err)) < 0 ||
	    util_fmt(url, sizeof(url), "%s/v1/hosts/join", t->url) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return 1;
	}
	if (!url_safe(t->url)) {
		fprintf(stderr, "error: the token's API URL %s is plain http to another machine: "
				"the secret would cross the network in clear; serve the API with "
				"`cloudletd serve --tls` (or behind TLS) and make a new token\n",
			t->url);
		return 1;
	}
	if ((body = request_body(t, o, fpr)) == NULL)
		return 1;
	r = post(url, t->pin, body, &answer, &status, err, sizeof(err));
	explicit_bzero(body, strlen(body));
	free(body);
	if (r < 0) {
		fprintf(stderr, "error: %s: %s\n", url, err);
		return 1;
	}
	report(status, &answer, t, o);
	if (status != 201)
		return 1;
	if (tlsid_pin(o->tls_dir, t->fingerprint, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: joined, but cannot pin the control plane: %s\n", err);
		return 1;
	}
	return 0;
}

int
join_main(int argc, char **argv)
{
	static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
					     {"underlay-address", required_argument, NULL, 'A'},
					     {"state-dir", required_argument, NULL, 'd'},
					     {"tls-dir", required_argument, NULL, 'C'},
					     {NULL, 0, NULL, 0}};
	struct join_opts o = {0};
	struct jointoken t;
	struct sockaddr_in sa;
	char tls_default[1100], err[200];
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': o.listen = optarg; break;
		case 'A': o.underlay = optarg; break;
		case 'd': o.state_dir = optarg; break;
		case 'C': o.tls_dir = optarg; break;
		default: usage();
		}
	}
	if (optind + 1 != argc || o.listen == NULL || util_parse_ipv4_port(o.listen, &sa) < 0)
		usage();
	if (o.tls_dir == NULL) {
		if (o.state_dir == NULL)
			o.state_dir = "/var/lib/cloudlet/agent"; /* serve's default */
		if (util_fmt(tls_default, sizeof(tls_default), "%s/tls", o.state_dir) < 0)
			usage();
		o.tls_dir = tls_default;
	}
	if (read_token(argv[optind], &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = join(&t, &o);
	curl_global_cleanup();
	explicit_bzero(&t, sizeof(t));
	return r;
}
