/*
 * sshkey.h - OpenSSH public key lines: parsed, not pattern-matched.
 *
 * A key line is "TYPE BASE64 [COMMENT]" as in an authorized_keys file
 * (no options in front). The base64 blob is decoded (libsodium, strict:
 * padding required, nothing but the alphabet) and walked in the SSH wire
 * format (RFC 4253 6.6, RFC 5656 3.1, RFC 8709 4): its own type string must
 * equal TYPE, every field must be there with the right length, nothing may
 * follow. Accepted: ssh-ed25519, ssh-rsa with a modulus of 2048 to 16384
 * bits, ecdsa-sha2-nistp256/384/521 (uncompressed point of the curve's
 * size). Everything else (DSA, FIDO "sk-" keys, certificates, a private key
 * pasted by mistake) is refused with a message saying why; messages never
 * quote the key.
 *
 * XXX: an ECDSA point is checked for its form and size, not for being on
 * its curve, and an RSA modulus is not checked for small factors: such a
 * key passes here and is useless to its owner (sshd refuses it at login);
 * it gives no one else access.
 *
 * Pure functions, no I/O: unit-tested (tests/unit/test_sshkey.c) and
 * fuzzed (tests/fuzz/fuzz_sshkey.c). Used by the agent's spec (spec.h) for
 * a VM's ssh_keys; shared so the control plane can check keys the same way.
 */
#ifndef CLOUDLET_SSHKEY_H
#define CLOUDLET_SSHKEY_H

#include <stddef.h>

/* Hard limits, checked before any parsing. A 16384-bit RSA key line is
 * ~2.8 KB; anything longer is not a key we accept. */
#define SSHKEY_LINE_MAX 4096
#define SSHKEY_COMMENT_MAX 256
#define SSHKEY_RSA_MIN_BITS 2048
#define SSHKEY_RSA_MAX_BITS 16384

enum sshkey_type {
	SSHKEY_ED25519,
	SSHKEY_RSA,
	SSHKEY_ECDSA_P256,
	SSHKEY_ECDSA_P384,
	SSHKEY_ECDSA_P521,
};

struct sshkey_info {
	enum sshkey_type type;
	unsigned bits; /* RSA: the modulus; ECDSA: the curve; ed25519: 256 */
};

/*
 * Parse one key line of len bytes (not NUL-terminated necessarily; a NUL
 * inside is refused). 0 and *out (may be NULL), or -EINVAL with a message
 * in err.
 */
int sshkey_parse(const char *line, size_t len, struct sshkey_info *out, char *err,
		 size_t errlen);

/* The type's name as in the key line, e.g. "ssh-ed25519". */
const char *sshkey_type_name(enum sshkey_type t);

#endif
