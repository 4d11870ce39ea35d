/* wgkey.c - see wgkey.h */
#include "wgkey.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#define KEY_LEN 32

static int
decode(const char *s, unsigned char out[KEY_LEN])
{
	char again[WGKEY_B64];
	size_t n = 0;

	if (s == NULL || strlen(s) != 44 ||
	    sodium_base642bin(out, KEY_LEN, s, 44, NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n != KEY_LEN)
		return -EINVAL;
	/* Canonical only: the same text comes back. */
	sodium_bin2base64(again, sizeof(again), out, KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	return strcmp(again, s) == 0 ? 0 : -EINVAL;
}

int
wgkey_generate(char priv[WGKEY_B64], char pub[WGKEY_B64])
{
	unsigned char sk[KEY_LEN], pk[KEY_LEN];
	int r = 0;

	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(sk, sizeof(sk));
	sk[0] &= 248;
	sk[31] = (unsigned char)((sk[31] & 127) | 64);
	if (crypto_scalarmult_curve25519_base(pk, sk) != 0)
		r = -EIO;
	else {
		sodium_bin2base64(priv, WGKEY_B64, sk, KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
		sodium_bin2base64(pub, WGKEY_B64, pk, KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	}
	sodium_memzero(sk, sizeof(sk));
	return r;
}

int
wgkey_psk(char psk[WGKEY_B64])
{
	unsigned char k[KEY_LEN];

	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(k, sizeof(k));
	sodium_bin2base64(psk, WGKEY_B64, k, KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(k, sizeof(k));
	return 0;
}

int
wgkey_public(const char *priv, char pub[WGKEY_B64])
{
	unsigned char sk[KEY_LEN], pk[KEY_LEN];
	int r = -EINVAL;

	if (sodium_init() >= 0 && decode(priv, sk) == 0 &&
	    crypto_scalarmult_curve25519_base(pk, sk) == 0) {
		sodium_bin2base64(pub, WGKEY_B64, pk, KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
		r = 0;
	}
	sodium_memzero(sk, sizeof(sk));
	return r;
}

int
wgkey_valid(const char *s)
{
	unsigned char k[KEY_LEN], acc = 0;

	if (sodium_init() < 0 || decode(s, k) < 0)
		return 0;
	for (int i = 0; i < KEY_LEN; i++)
		acc |= k[i];
	return acc != 0;
}
