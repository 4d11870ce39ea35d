/* auth.c - see auth.h */
#include "auth.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int
auth_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

static void
hash_token(const char *token, size_t len, unsigned char hash[32])
{
	crypto_generichash(hash, 32, (const unsigned char *)token, len, NULL, 0);
}

int
auth_token_new(char *token, unsigned char hash[32])
{
	unsigned char raw[32];

	randombytes_buf(raw, sizeof(raw));
	memcpy(token, "clt_", 4);
	sodium_bin2hex(token + 4, 65, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	hash_token(token, AUTH_TOKEN_LEN, hash);
	return 0;
}

void
auth_hash(const char *secret, size_t len, unsigned char hash[32])
{
	hash_token(secret, len, hash);
}

int
auth_join_secret_new(char *secret, unsigned char hash[32])
{
	unsigned char raw[32];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(secret, 65, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	hash_token(secret, 64, hash);
	return 0;
}

int
auth_check(const char *header, struct principal *out)
{
	unsigned char hash[32], stored[32];
	const char *tok;
	int is_op = 0;

	if (header == NULL || strncmp(header, "Bearer ", 7) != 0)
		return -EACCES;
	tok = header + 7;
	if (strlen(tok) != AUTH_TOKEN_LEN || strncmp(tok, "clt_", 4) != 0)
		return -EACCES;
	hash_token(tok, AUTH_TOKEN_LEN, hash);
	memset(out, 0, sizeof(*out));
	if (store_token_find(hash, &is_op, out->tenant_id, stored) < 0)
		return -EACCES;
	/* The index lookup is not constant time; the secret comparison is. */
	if (sodium_memcmp(hash, stored, sizeof(hash)) != 0)
		return -EACCES;
	out->is_operator = is_op;
	if (is_op)
		snprintf(out->actor, sizeof(out->actor), "operator");
	else
		snprintf(out->actor, sizeof(out->actor), "tenant:%s", out->tenant_id);
	return 0;
}
