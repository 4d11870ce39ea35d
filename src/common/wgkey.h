/*
 * wgkey.h - WireGuard (Curve25519) key pairs in wg's text form (standard
 * base64 of 32 bytes), with libsodium: made where they are needed (the
 * CLI on the customer's computer, cloudletd for a gateway or a peer that
 * asked for one), never written anywhere by this module.
 */
#ifndef CLOUDLET_WGKEY_H
#define CLOUDLET_WGKEY_H

#define WGKEY_B64 45 /* 44 characters and NUL */

/* A new pair: the private key clamped as wg genkey does. 0 or -EIO. */
int wgkey_generate(char priv[WGKEY_B64], char pub[WGKEY_B64]);

/* A new preshared key (32 random bytes). 0 or -EIO. */
int wgkey_psk(char psk[WGKEY_B64]);

/* The public key of a private key; 0 or -EINVAL. */
int wgkey_public(const char *priv, char pub[WGKEY_B64]);

/* Is s a canonical base64 32-byte key (not all zero)? 1 or 0. */
int wgkey_valid(const char *s);

#endif
