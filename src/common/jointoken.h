/*
 * jointoken.h - a host's join token and the join request (docs/hosts.md,
 * api/openapi.yaml: POST /v1/hosts/tokens, POST /v1/hosts/join). Pure
 * parsers of outside input, without I/O, so they can be fuzzed
 * (tests/fuzz/fuzz_join.c).
 *
 * A token is the base64url (no padding) of one JSON object:
 *
 *   {"url": "http://10.0.0.1:8470",      the control plane's API
 *    "fingerprint": "<64 hex>",           SHA-256 of its client certificate
 *    "name": "h1",                        the host name it is for
 *    "secret": "<64 hex>",                32 random bytes; only a hash is stored
 *    "pin": "sha256//<base64>"}           only with an https URL: the API's public
 *                                         key (SHA-256 of its SubjectPublicKeyInfo),
 *                                         checked in the TLS handshake before the
 *                                         secret is sent
 *
 * The agent pins the fingerprint and sends the secret back in the join
 * request, which is its only proof: whoever holds the token can join once,
 * until it expires. The token is printed once and never logged.
 */
#ifndef CLOUDLET_JOINTOKEN_H
#define CLOUDLET_JOINTOKEN_H

#include <stddef.h>

#define JOIN_SECRET_LEN 64  /* hex digits */
#define JOIN_FPR_LEN 64     /* hex digits of a SHA-256 (TLSID_FPR_LEN) */
#define JOINTOKEN_MAX 1024  /* characters of a token, the hard maximum */
#define JOIN_PIN_LEN 52     /* "sha256//" and the base64 of a SHA-256 */
#define JOIN_BODY_MAX 4096  /* bytes of a join request */

struct jointoken {
	char url[256];
	char fingerprint[JOIN_FPR_LEN + 1];
	char name[33];
	char secret[JOIN_SECRET_LEN + 1];
	char pin[JOIN_PIN_LEN + 1]; /* "" unless the URL is https */
};

/* The token's text (at most JOINTOKEN_MAX + 1 bytes with its NUL): 0, or
 * -EINVAL for fields that would not decode again, -ENOSPC. */
int jointoken_encode(const struct jointoken *t, char *out, size_t len);

/* A token's text (surrounding white space allowed) into *t: 0, or -EINVAL
 * with err saying what is wrong (never quoting the secret). */
int jointoken_decode(const char *text, struct jointoken *t, char *err, size_t errlen);

/* What an agent sends to POST /v1/hosts/join. */
struct join_req {
	char secret[JOIN_SECRET_LEN + 1];
	char name[33];
	char address[64];     /* IPv4:port of its TLS listener */
	char fingerprint[JOIN_FPR_LEN + 1]; /* of its certificate, lower case */
	char underlay[16];    /* IPv4 or "" */
	int proto_min, proto_max;
};

/* A join request's body (len bytes, not NUL-terminated): 0, or -EINVAL
 * with err (never quoting the secret). Every field is checked here. */
int jointoken_parse_join(const char *body, size_t len, struct join_req *out, char *err,
			 size_t errlen);

/* A host name: 1-32 of a-z 0-9 -, not starting with -, and none of the
 * names the API keeps (local, tokens, join). */
int jointoken_host_name_ok(const char *name);

#endif
