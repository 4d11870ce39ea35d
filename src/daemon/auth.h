/*
 * auth.h - bearer tokens.
 *
 * A token is "clt_" followed by 64 hex digits of randombytes_buf (32 bytes).
 * Only its BLAKE2b-256 hash is stored; a request's token is hashed and looked
 * up by hash, and the stored hash is compared again in constant time
 * (sodium_memcmp). Hashing without a salt is fine here: tokens are random
 * 256-bit secrets, not passwords.
 */
#ifndef CLOUDLET_AUTH_H
#define CLOUDLET_AUTH_H

#include <stddef.h>

#include "store.h"

#define AUTH_TOKEN_LEN (4 + 64)

struct principal {
	int is_operator;
	char tenant_id[STORE_ID_LEN]; /* "" for the operator */
	char actor[STORE_ID_LEN + 8]; /* "operator" or "tenant:<id>", for the audit log */
};

int auth_init(void);
/* A new random token (AUTH_TOKEN_LEN + 1 bytes) and its hash. */
int auth_token_new(char *token, unsigned char hash[32]);
/* A join token's secret (JOIN_SECRET_LEN + 1 bytes: 64 hex digits of 32
 * random bytes) and its hash, the only part that is stored. */
int auth_join_secret_new(char *secret, unsigned char hash[32]);
/* The hash of a secret someone presents (compared as auth_check does). */
void auth_hash(const char *secret, size_t len, unsigned char hash[32]);

/* The principal of an "Authorization" header value; -EACCES if none. */
int auth_check(const char *header, struct principal *out);

#endif
