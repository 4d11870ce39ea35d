/* jointoken.c - see jointoken.h */
#define _GNU_SOURCE
#include "jointoken.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding: 0 or -ENOSPC. */
static int
b64_encode(const unsigned char *in, size_t n, char *out, size_t len)
{
	size_t o = 0, i;

	if ((n + 2) / 3 * 4 + 1 > len)
		return -ENOSPC;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		out[o++] = b64[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = b64[v >> 6 & 63];
	}
	out[o] = '\0';
	return 0;
}

static int
b64_val(char c)
{
	const char *p = c != '\0' ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

/* Decode n characters into out (at least n * 3 / 4 bytes): the length, or
 * -EINVAL (a character outside the alphabet, a length of 4k + 1, or
 * non-zero bits after the last byte, so that every token has one text). */
static int
b64_decode(const char *in, size_t n, unsigned char *out)
{
	size_t o = 0, i;
	unsigned v = 0;
	int bits = 0;

	if (n % 4 == 1)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		int d = b64_val(in[i]);

		if (d < 0)
			return -EINVAL;
		v = (v << 6 | (unsigned)d) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	if (bits > 0 && (v & ((1u << bits) - 1)) != 0)
		return -EINVAL;
	return (int)o;
}

static int
is_hex(const char *s, size_t n)
{
	if (s == NULL || strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int
jointoken_host_name_ok(const char *n)
{
	size_t i, len = n ? strlen(n) : 0;

	if (len == 0 || len > 32 || n[0] == '-' || strcmp(n, "local") == 0 ||
	    strcmp(n, "tokens") == 0 || strcmp(n, "join") == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-'))
			return 0;
	return 1;
}

/* An http(s) URL of printable ASCII without white space or quotes. */
static int
url_ok(const char *u)
{
	size_t n = u ? strlen(u) : 0;

	if (n < 8 || n >= sizeof(((struct jointoken *)0)->url) ||
	    (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (u[i] <= ' ' || u[i] > '~' || u[i] == '"' || u[i] == '\\')
			return 0;
	return 1;
}

/* "sha256//" and 44 characters of base64 (a SHA-256, one '=' of padding). */
static int
pin_ok(const char *p)
{
	if (strlen(p) != JOIN_PIN_LEN || strncmp(p, "sha256//", 8) != 0 || p[JOIN_PIN_LEN - 1] != '=')
		return 0;
	for (size_t i = 8; i < JOIN_PIN_LEN - 1; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '+' || p[i] == '/'))
			return 0;
	return 1;
}

static int
token_ok(const struct jointoken *t)
{
	int https = strncmp(t->url, "https://", 8) == 0;

	return url_ok(t->url) && is_hex(t->fingerprint, JOIN_FPR_LEN) &&
	       jointoken_host_name_ok(t->name) && is_hex(t->secret, JOIN_SECRET_LEN) &&
	       (t->pin[0] == '\0' || (https && pin_ok(t->pin)));
}

int
jointoken_encode(const struct jointoken *t, char *out, size_t len)
{
	json_t *j;
	char *text;
	int r;

	if (!token_ok(t))
		return -EINVAL;
	j = json_pack("{s:s, s:s, s:s, s:s}", "url", t->url, "fingerprint", t->fingerprint,
		      "name", t->name, "secret", t->secret);
	if (j != NULL && t->pin[0] != '\0')
		json_object_set_new(j, "pin", json_string(t->pin));
	text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (text == NULL)
		return -ENOMEM;
	r = strlen(text) > JOINTOKEN_MAX / 4 * 3 ? -ENOSPC
						   : b64_encode((const unsigned char *)text,
								strlen(text), out, len);
	explicit_bzero(text, strlen(text));
	free(text);
	return r;
}

/* A string member of o into buf (its size): 1 if it is there and fits. */
static int
member(const json_t *o, const char *key, char *buf, size_t len)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL && strlen(v) < len && snprintf(buf, len, "%s", v) >= 0;
}

static int
decode_json(const json_t *j, struct jointoken *t, char *err, size_t errlen)
{
	int pin = json_object_get(j, "pin") != NULL;

	if (!json_is_object(j) || json_object_size(j) != 4 + (size_t)pin ||
	    (pin && !member(j, "pin", t->pin, sizeof(t->pin))) ||
	    !member(j, "url", t->url, sizeof(t->url)) ||
	    !member(j, "fingerprint", t->fingerprint, sizeof(t->fingerprint)) ||
	    !member(j, "name", t->name, sizeof(t->name)) ||
	    !member(j, "secret", t->secret, sizeof(t->secret))) {
		snprintf(err, errlen, "not a join token (url, fingerprint, name, secret)");
		return -EINVAL;
	}
	if (!token_ok(t)) {
		snprintf(err, errlen, "not a join token (a field is malformed)");
		return -EINVAL;
	}
	return 0;
}

int
jointoken_decode(const char *text, struct jointoken *t, char *err, size_t errlen)
{
	unsigned char raw[JOINTOKEN_MAX];
	json_error_t je;
	json_t *j;
	size_t n;
	int len, r;

	memset(t, 0, sizeof(*t));
	text += strspn(text, " \t\r\n");
	n = strcspn(text, " \t\r\n");
	if (n == 0 || n > JOINTOKEN_MAX || text[n + strspn(text + n, " \t\r\n")] != '\0') {
		snprintf(err, errlen, "not a join token (empty, too long or more than one word)");
		return -EINVAL;
	}
	if ((len = b64_decode(text, n, raw)) < 0) {
		snprintf(err, errlen, "not a join token (not base64url)");
		return -EINVAL;
	}
	j = json_loadb((const char *)raw, (size_t)len, JSON_REJECT_DUPLICATES, &je);
	explicit_bzero(raw, sizeof(raw));
	r = decode_json(j, t, err, errlen);
	json_decref(j);
	if (r < 0)
		explicit_bzero(t, sizeof(*t));
	return r;
}

static int
join_fields(const json_t *j, struct join_req *o, char *err, size_t errlen)
{
	const json_t *pr = json_object_get(j, "protocol");
	const json_t *mn = json_object_get(pr, "min"), *mx = json_object_get(pr, "max");
	const char *ul = json_string_value(json_object_get(j, "underlay_address"));
	struct sockaddr_in sa;
	struct in_addr in;

	if (!member(j, "secret", o->secret, sizeof(o->secret)) ||
	    !is_hex(o->secret, JOIN_SECRET_LEN))
		return snprintf(err, errlen, "secret: the join token's secret"), -EINVAL;
	if (!member(j, "name", o->name, sizeof(o->name)) || !jointoken_host_name_ok(o->name))
		return snprintf(err, errlen, "name: 1-32 of a-z 0-9 -, not starting with -"),
		       -EINVAL;
	if (!member(j, "address", o->address, sizeof(o->address)) ||
	    util_parse_ipv4_port(o->address, &sa) < 0)
		return snprintf(err, errlen, "address: IPv4:port of the agent's TLS listener"),
		       -EINVAL;
	if (!member(j, "fingerprint", o->fingerprint, sizeof(o->fingerprint)) ||
	    !is_hex(o->fingerprint, JOIN_FPR_LEN))
		return snprintf(err, errlen, "fingerprint: 64 lower-case hex digits (SHA-256)"),
		       -EINVAL;
	if (ul != NULL && ul[0] != '\0' &&
	    (!member(j, "underlay_address", o->underlay, sizeof(o->underlay)) ||
	     inet_pton(AF_INET, o->underlay, &in) != 1))
		return snprintf(err, errlen, "underlay_address: an IPv4 address"), -EINVAL;
	if (!json_is_integer(mn) || !json_is_integer(mx) || json_integer_value(mn) < 1 ||
	    json_integer_value(mx) < json_integer_value(mn) || json_integer_value(mx) > 1000000)
		return snprintf(err, errlen, "protocol: {\"min\": N, \"max\": M}, 1 <= N <= M"),
		       -EINVAL;
	o->proto_min = (int)json_integer_value(mn);
	o->proto_max = (int)json_integer_value(mx);
	return 0;
}

int
jointoken_parse_join(const char *body, size_t len, struct join_req *out, char *err,
		     size_t errlen)
{
	static const char *const keys[] = {"secret", "name", "address", "fingerprint",
					   "underlay_address", "protocol"};
	const char *key;
	json_error_t je;
	json_t *j, *v;
	int r = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (len > JOIN_BODY_MAX) {
		snprintf(err, errlen, "the body is larger than %d bytes", JOIN_BODY_MAX);
		return -EINVAL;
	}
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		snprintf(err, errlen, "the body must be a JSON object");
		goto out;
	}
	json_object_foreach(j, key, v) {
		size_t i;

		for (i = 0; i < ARRAY_LEN(keys) && strcmp(key, keys[i]) != 0; i++)
			;
		if (i == ARRAY_LEN(keys)) {
			snprintf(err, errlen, "unknown field '%.32s'", key);
			goto out;
		}
	}
	r = join_fields(j, out, err, errlen);
out:
	json_decref(j);
	if (r < 0)
		explicit_bzero(out, sizeof(*out));
	return r;
}
