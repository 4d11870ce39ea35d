/*
 * api_host.c - /v1/hosts (operator only): the hosts behind this control
 * plane (docs/hosts.md, store_host.h); join tokens, and the one route
 * without a bearer token, POST /v1/hosts/join, whose proof is the token's
 * secret.
 */
#define _GNU_SOURCE
#include "api_host.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agentc.h"
#include "api.h"
#include "auth.h"
#include "http.h"
#include "jointoken.h"
#include "request.h"
#include "site.h"
#include "store_host.h"
#include "tlsid.h"
#include "util.h"

/* How long an add waits for the new host's agent to say its protocol. */
#define HOST_ADD_PROBE_MS 2000

/* What join tokens carry (api_host_set_identity). */
static char api_url[256];
static char api_pin[JOIN_PIN_LEN + 1]; /* the API's key pin when it serves HTTPS */
static char api_fpr[TLSID_FPR_LEN + 1];

static const char *
s(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Operator-only routes: the socket paths and underlay addresses are shown. */
void
api_host_list(struct http_req *req, struct http_resp *resp)
{
	(void)req;
	resp->json = store_host_list_all();
}

void
api_host_get(struct http_req *req, struct http_resp *resp)
{
	if (store_host_get(req->id, &resp->json) < 0)
		http_error(resp, 404, "not_found", "no such host");
}

/* The fields of POST /v1/hosts: all strings, none unknown. */
static int
add_fields_ok(const json_t *j, struct http_resp *resp)
{
	static const char *const keys[] = {"name", "socket", "underlay_address", "address", "site",
					   "fingerprint"};
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)(uintptr_t)j, key, v) {
		size_t i;

		for (i = 0; i < ARRAY_LEN(keys) && strcmp(key, keys[i]) != 0; i++)
			;
		if (i == ARRAY_LEN(keys)) {
			http_error(resp, 400, "bad_request", "unknown field '%.64s'", key);
			return 0;
		}
		if (!json_is_string(v)) {
			http_error(resp, 400, "bad_request", "%s must be a string", key);
			return 0;
		}
	}
	return 1;
}

/* Where its agent is: a socket, or an address with a pinned fingerprint. */
static int
endpoint_ok(const char *sock, const char *addr, const char *fpr, char *pinned,
	    struct http_resp *resp)
{
	struct sockaddr_in sa;

	if (sock != NULL && addr == NULL && fpr == NULL) {
		if (sock[0] == '/' && strlen(sock) <= 107)
			return 1;
		http_error(resp, 400, "bad_request",
			   "socket: the absolute path of the host agent's unix socket (at most "
			   "107 bytes)");
		return 0;
	}
	if (sock == NULL && addr != NULL && fpr != NULL) {
		if (util_parse_ipv4_port(addr, &sa) == 0 && tlsid_fpr_parse(fpr, pinned) == 0)
			return 1;
		http_error(resp, 400, "bad_request",
			   "address: IPv4:port of the agent's TLS listener; fingerprint: the "
			   "SHA-256 of its certificate (64 hex digits)");
		return 0;
	}
	http_error(resp, 400, "bad_request",
		   "either socket, or address and fingerprint (a host over TLS)");
	return 0;
}

/*
 * A host just added: if its agent answers at once with a protocol range
 * that leaves this control plane out, it is removed again and the add
 * refused (400 protocol). An agent that does not answer yet is left to
 * the heartbeats (its reason says why it is down). 1 if it stays.
 */
static int
speaks(struct http_req *req, struct http_resp *resp, const char *id, const char *name)
{
	char code[32], err[256], hid[STORE_ID_LEN];
	json_t *info = NULL;
	int ok = 1;

	snprintf(hid, sizeof(hid), "%s", id ? id : "");
	if (agentc_call_timeout(hid, "host.info", NULL, &info, code, err, sizeof(err),
				HOST_ADD_PROBE_MS) == 0 &&
	    !agentc_protocol_ok(info, err, sizeof(err))) {
		store_host_remove(hid);
		json_decref(resp->json);
		resp->json = NULL;
		http_error(resp, 400, "protocol", "%s", err);
		store_event(req->who.actor, NULL, "host.add", name, "failed", err);
		ok = 0;
	}
	json_decref(info);
	return ok;
}

void
api_host_add(struct http_req *req, struct http_resp *resp)
{
	const char *name, *sock, *underlay, *addr;
	char fpr[TLSID_FPR_LEN + 1];
	struct in_addr a;
	json_t *j;
	int r;

	if (api_body(req, resp, &j) < 0)
		return;
	if (!add_fields_ok(j, resp))
		goto out;
	name = s(j, "name");
	sock = s(j, "socket");
	addr = s(j, "address");
	underlay = s(j, "underlay_address");
	if (!jointoken_host_name_ok(name)) {
		http_error(resp, 400, "bad_request",
			   "name: 1-32 of a-z 0-9 -, not starting with -, not 'local', 'tokens' "
			   "or 'join'");
		goto out;
	}
	if (!endpoint_ok(sock, addr, s(j, "fingerprint"), fpr, resp))
		goto out;
	if (underlay != NULL && underlay[0] != '\0' && inet_pton(AF_INET, underlay, &a) != 1) {
		http_error(resp, 400, "bad_request", "underlay_address: an IPv4 address");
		goto out;
	}
	if (s(j, "site") != NULL && !site_name_ok(s(j, "site"))) {
		http_error(resp, 400, "bad_request",
			   "site: the name of a site (1-32 of a-z 0-9 -, not starting with -)");
		goto out;
	}
	r = sock ? store_host_add(name, sock, underlay, s(j, "site"), &resp->json)
		 : store_host_add_tls(name, addr, fpr, underlay, s(j, "site"), &resp->json);
	if (r == -EEXIST)
		http_error(resp, 409, "conflict", "a host with that name already exists");
	else if (r < 0)
		http_error(resp, 500, "internal", "the state store failed");
	else if (!speaks(req, resp, s(resp->json, "id"), name))
		goto out;
	else {
		resp->status = 201;
		store_event(req->who.actor, NULL, "host.add", s(resp->json, "id"), "succeeded",
			    name);
	}
out:
	json_decref(j);
}

void
api_host_action(struct http_req *req, struct http_resp *resp)
{
	char id[STORE_ID_LEN];
	const char *action;
	json_t *j;
	int drain;

	if (api_body(req, resp, &j) < 0)
		return;
	action = s(j, "action");
	if (json_object_size(j) != 1 || action == NULL ||
	    (strcmp(action, "drain") != 0 && strcmp(action, "undrain") != 0)) {
		http_error(resp, 400, "bad_request", "{\"action\": \"drain\" | \"undrain\"}");
		json_decref(j);
		return;
	}
	drain = strcmp(action, "drain") == 0;
	if (store_host_resolve(req->id, id, sizeof(id)) < 0) {
		http_error(resp, 404, "not_found", "no such host");
	} else if (store_host_set_draining(id, drain) < 0 || store_host_get(id, &resp->json) < 0) {
		http_error(resp, 500, "internal", "the state store failed");
	} else
		store_event(req->who.actor, NULL, drain ? "host.drain" : "host.undrain", id,
			    "succeeded", "");
	json_decref(j);
}

void
api_host_remove(struct http_req *req, struct http_resp *resp)
{
	char id[STORE_ID_LEN];
	int r;

	if (store_host_resolve(req->id, id, sizeof(id)) < 0) {
		http_error(resp, 404, "not_found", "no such host");
		return;
	}
	r = store_host_remove(id);
	if (r == -ENOTEMPTY)
		http_error(resp, 409, "conflict", "the host still holds VMs");
	else if (r < 0)
		http_error(resp, 500, "internal", "the state store failed");
	else {
		resp->status = 204;
		store_event(req->who.actor, NULL, "host.remove", id, "succeeded", "");
	}
}

/* ---- join tokens and joining ------------------------------------------ */

#define JOIN_TTL_DEFAULT 3600
#define JOIN_TTL_MAX (30 * 24 * 3600)

int
api_host_set_identity(const char *url, const char *fingerprint, const char *pin)
{
	struct jointoken t = {.name = "h"};
	char probe[JOINTOKEN_MAX + 1];

	/* The URL and fingerprint must make a token that decodes again. */
	memset(t.secret, 'a', JOIN_SECRET_LEN);
	if (util_fmt(t.url, sizeof(t.url), "%s", url) < 0 ||
	    util_fmt(t.fingerprint, sizeof(t.fingerprint), "%s", fingerprint) < 0 ||
	    util_fmt(t.pin, sizeof(t.pin), "%s", pin ? pin : "") < 0 ||
	    jointoken_encode(&t, probe, sizeof(probe)) < 0)
		return -EINVAL;
	snprintf(api_url, sizeof(api_url), "%s", url);
	snprintf(api_fpr, sizeof(api_fpr), "%s", fingerprint);
	snprintf(api_pin, sizeof(api_pin), "%s", pin ? pin : "");
	return 0;
}

void
api_host_token_create(struct http_req *req, struct http_resp *resp)
{
	struct jointoken t = {0};
	char text[JOINTOKEN_MAX + 1], id[STORE_ID_LEN];
	unsigned char hash[32];
	const char *name;
	json_t *j, *ttl;
	int64_t expires;

	if (api_body(req, resp, &j) < 0)
		return;
	name = s(j, "name");
	ttl = json_object_get(j, "ttl_s");
	if (json_object_size(j) != (ttl ? 2u : 1u) || !jointoken_host_name_ok(name) ||
	    (ttl != NULL && (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
			     json_integer_value(ttl) > JOIN_TTL_MAX))) {
		http_error(resp, 400, "bad_request",
			   "{\"name\": the host's name, \"ttl_s\": 1..%d (default %d)}",
			   JOIN_TTL_MAX, JOIN_TTL_DEFAULT);
		goto out;
	}
	if (store_host_resolve(name, id, sizeof(id)) == 0) {
		http_error(resp, 409, "conflict", "a host with that name already exists");
		goto out;
	}
	expires = (int64_t)time(NULL) + (ttl ? json_integer_value(ttl) : JOIN_TTL_DEFAULT);
	snprintf(t.url, sizeof(t.url), "%s", api_url);
	snprintf(t.fingerprint, sizeof(t.fingerprint), "%s", api_fpr);
	snprintf(t.pin, sizeof(t.pin), "%s", api_pin);
	snprintf(t.name, sizeof(t.name), "%s", name);
	auth_join_secret_new(t.secret, hash);
	if (jointoken_encode(&t, text, sizeof(text)) < 0 ||
	    store_join_token_add(name, hash, expires, id, sizeof(id)) < 0) {
		http_error(resp, 500, "internal", "cannot make the token");
		goto out;
	}
	/* The only time the token exists outside the operator's hands. */
	resp->status = 201;
	resp->json = json_pack("{s:s, s:s, s:I, s:s}", "id", id, "name", name, "expires_at",
			       (json_int_t)expires, "token", text);
	store_event(req->who.actor, NULL, "host.token.create", id, "succeeded", name);
out:
	explicit_bzero(&t, sizeof(t));
	explicit_bzero(text, sizeof(text));
	json_decref(j);
}

void
api_host_token_list(struct http_req *req, struct http_resp *resp)
{
	json_t *a = store_join_token_list(), *t;
	time_t now = time(NULL);
	size_t i;

	(void)req;
	json_array_foreach(a, i, t) {
		json_int_t exp = json_integer_value(json_object_get(t, "expires_at"));

		json_object_set_new(t, "expired", json_boolean(exp <= now));
	}
	resp->json = a;
}

void
api_host_token_delete(struct http_req *req, struct http_resp *resp)
{
	if (store_join_token_delete(req->id) < 0) {
		http_error(resp, 404, "not_found", "no such join token");
		return;
	}
	resp->status = 204;
	store_event(req->who.actor, NULL, "host.token.delete", req->id, "succeeded", "");
}

/* Who is joining, for the audit log: "agent@<its IP>". */
static void
joiner(struct http_req *req, char *who, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ci != NULL && ci->client_addr != NULL && ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, ip,
			  sizeof(ip));
	snprintf(who, len, "agent@%s", ip);
}

/* A refused join: the answer and its audit event (never the secret). */
static void
join_refused(struct http_req *req, struct http_resp *resp, int status, const char *code,
	     const char *target, const char *why)
{
	char who[64];

	joiner(req, who, sizeof(who));
	http_error(resp, status, code, "%s", why);
	store_event(who, NULL, "host.join", target[0] ? target : "-", "failed", why);
}

void
api_host_join(struct http_req *req, struct http_resp *resp)
{
	struct join_req jr;
	struct host_join hj;
	unsigned char hash[32];
	char err[200], tok[STORE_ID_LEN], who[64], detail[200];
	int r;

	if (jointoken_parse_join(req->body, req->len, &jr, err, sizeof(err)) < 0) {
		join_refused(req, resp, 400, "bad_request", "", err);
		return;
	}
	if (jr.proto_min > AGENTC_PROTOCOL || jr.proto_max < AGENTC_PROTOCOL) {
		snprintf(err, sizeof(err),
			 "protocol: the agent speaks versions %d-%d, this control plane speaks %d",
			 jr.proto_min, jr.proto_max, AGENTC_PROTOCOL);
		join_refused(req, resp, 400, "protocol", jr.name, err);
		goto out;
	}
	auth_hash(jr.secret, JOIN_SECRET_LEN, hash);
	hj = (struct host_join){jr.name, jr.address, jr.fingerprint, jr.underlay};
	r = store_host_join(hash, (int64_t)time(NULL), &hj, &resp->json, tok);
	switch (r) {
	case 0: break;
	case -EACCES:
		join_refused(req, resp, 403, "forbidden", jr.name,
			     "the join token is unknown or was used already");
		goto out;
	case -ETIME:
		join_refused(req, resp, 403, "forbidden", tok, "the join token has expired");
		goto out;
	case -EPERM:
		join_refused(req, resp, 403, "forbidden", tok,
			     "the join token is for another host name");
		goto out;
	case -EEXIST:
		join_refused(req, resp, 409, "conflict", jr.name,
			     "a host with that name already exists");
		goto out;
	default:
		http_error(resp, 500, "internal", "the state store failed");
		goto out;
	}
	resp->status = 201;
	joiner(req, who, sizeof(who));
	snprintf(detail, sizeof(detail), "%s at %s, certificate %.16s..., token %s", jr.name,
		 jr.address, jr.fingerprint, tok);
	store_event(who, NULL, "host.join", s(resp->json, "id"), "succeeded", detail);
out:
	explicit_bzero(&jr, sizeof(jr));
}
