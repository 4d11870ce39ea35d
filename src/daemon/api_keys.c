/* api_keys.c - see api_keys.h */
#define _GNU_SOURCE
#include "api_keys.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "jsonv.h"
#include "request.h"
#include "sshkey.h"
#include "store.h"
#include "store_keys.h"

/* ssh-keygen -l's fingerprint: SHA256 of the decoded blob, base64 without
 * padding. line was checked by sshkey_parse. */
static int
fingerprint(const char *line, char *out, size_t len)
{
	const char *b = strchr(line, ' '), *e;
	unsigned char blob[SSHKEY_LINE_MAX], h[crypto_hash_sha256_BYTES];
	char b64[sodium_base64_ENCODED_LEN(sizeof(h), sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
	size_t n;

	if (b == NULL)
		return -EINVAL;
	b++;
	e = b + strcspn(b, " ");
	if (sodium_base642bin(blob, sizeof(blob), b, (size_t)(e - b), NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return -EINVAL;
	crypto_hash_sha256(h, blob, n);
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	return snprintf(out, len, "SHA256:%s", b64) < (int)len ? 0 : -ENOSPC;
}

void
api_key_list(struct http_req *req, struct http_resp *resp)
{
	resp->json = store_key_list(req->who.tenant_id);
}

void
api_key_add(struct http_req *req, struct http_resp *resp)
{
	static const char *const fields[] = {"name", "public_key", NULL};
	struct key_row k;
	struct sshkey_info info;
	const char *name, *line;
	char err[300], trimmed[SSHKEY_LINE_MAX + 1];
	json_t *j;
	size_t n;
	int r;

	if (api_body(req, resp, &j) < 0)
		return;
	memset(&k, 0, sizeof(k));
	name = json_string_value(json_object_get(j, "name"));
	line = json_string_value(json_object_get(j, "public_key"));
	if (jsonv_only_fields(j, fields, err, sizeof(err)) < 0 || name == NULL || line == NULL) {
		http_error(resp, 400, "bad_request",
			   "{\"name\": the key's name, \"public_key\": an OpenSSH public key line}");
		goto out;
	}
	if (req_check_name("name", name, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s", err);
		goto out;
	}
	/* One line; surrounding white space (a file's newline) dropped. */
	line += strspn(line, " \t\r\n");
	n = json_string_length(json_object_get(j, "public_key")) -
	    (size_t)(line - json_string_value(json_object_get(j, "public_key")));
	while (n > 0 && strchr(" \t\r\n", line[n - 1]) != NULL)
		n--;
	if (n > SSHKEY_LINE_MAX || sshkey_parse(line, n, &info, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "public_key: %s",
			   n > SSHKEY_LINE_MAX ? "longer than any key we accept" : err);
		goto out;
	}
	memcpy(trimmed, line, n);
	trimmed[n] = '\0';
	snprintf(k.tenant_id, sizeof(k.tenant_id), "%s", req->who.tenant_id);
	snprintf(k.name, sizeof(k.name), "%s", name);
	snprintf(k.type, sizeof(k.type), "%s", sshkey_type_name(info.type));
	k.bits = info.bits;
	k.public_key = trimmed;
	if (fingerprint(trimmed, k.fingerprint, sizeof(k.fingerprint)) < 0) {
		http_error(resp, 400, "bad_request", "public_key: not base64");
		goto out;
	}
	r = store_key_add(&k, &resp->json);
	if (r == -EEXIST)
		http_error(resp, 409, "conflict", "a key with that name already exists");
	else if (r < 0)
		http_error(resp, 500, "internal", "the state store failed");
	else {
		resp->status = 201;
		store_event(req->who.actor, req->who.tenant_id, "key.add", name, "succeeded",
			    k.fingerprint);
	}
out:
	json_decref(j);
}

void
api_key_get(struct http_req *req, struct http_resp *resp)
{
	if (store_key_get(req->who.tenant_id, req->id, &resp->json) < 0)
		http_error(resp, 404, "not_found", "no such key");
}

void
api_key_delete(struct http_req *req, struct http_resp *resp)
{
	if (store_key_delete(req->who.tenant_id, req->id) < 0) {
		http_error(resp, 404, "not_found", "no such key");
		return;
	}
	resp->status = 204;
	store_event(req->who.actor, req->who.tenant_id, "key.delete", req->id, "succeeded", "");
}
