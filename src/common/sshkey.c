/* sshkey.c - see sshkey.h */
#include "sshkey.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#define FAIL(...)                                                                      \
	do {                                                                           \
		snprintf(err, errlen, __VA_ARGS__);                                    \
		return -EINVAL;                                                        \
	} while (0)

/* The decoded blob of a line of at most SSHKEY_LINE_MAX characters. */
#define BLOB_MAX (SSHKEY_LINE_MAX / 4 * 3)

static const struct {
	const char *name;
	enum sshkey_type type;
	const char *curve; /* ECDSA: the curve's name inside the blob */
	size_t point;      /* ECDSA: 0x04 || X || Y */
	unsigned bits;
} types[] = {
    {"ssh-ed25519", SSHKEY_ED25519, NULL, 0, 256},
    {"ssh-rsa", SSHKEY_RSA, NULL, 0, 0},
    {"ecdsa-sha2-nistp256", SSHKEY_ECDSA_P256, "nistp256", 65, 256},
    {"ecdsa-sha2-nistp384", SSHKEY_ECDSA_P384, "nistp384", 97, 384},
    {"ecdsa-sha2-nistp521", SSHKEY_ECDSA_P521, "nistp521", 133, 521},
};

#define N_TYPES (sizeof(types) / sizeof(types[0]))

const char *
sshkey_type_name(enum sshkey_type t)
{
	size_t i;

	for (i = 0; i < N_TYPES; i++)
		if (types[i].type == t)
			return types[i].name;
	return "?";
}

/* A cursor over the wire format: uint32 big-endian lengths, then bytes. */
struct wire {
	const unsigned char *p;
	size_t left;
};

/* The next string (or mpint) into *s, *n. -1 when it runs past the end. */
static int
wire_string(struct wire *w, const unsigned char **s, size_t *n)
{
	uint32_t len;

	if (w->left < 4)
		return -1;
	len = (uint32_t)w->p[0] << 24 | (uint32_t)w->p[1] << 16 | (uint32_t)w->p[2] << 8 |
	      w->p[3];
	if (len > w->left - 4)
		return -1;
	*s = w->p + 4;
	*n = len;
	w->p += 4 + len;
	w->left -= 4 + len;
	return 0;
}

/* A positive mpint (RFC 4251 5): no sign bit, no superfluous leading zero.
 * Its size in bits, or 0 when it is not one. */
static unsigned
mpint_bits(const unsigned char *s, size_t n)
{
	unsigned bits;
	unsigned char top;

	if (n == 0 || (s[0] & 0x80))
		return 0;
	if (s[0] == 0) {
		if (n == 1 || !(s[1] & 0x80))
			return 0;
		s++;
		n--;
	}
	if (n > SSHKEY_RSA_MAX_BITS / 8 + 1)
		return 0;
	for (bits = (unsigned)(n - 1) * 8, top = s[0]; top != 0; top >>= 1)
		bits++;
	return bits;
}

static int
check_rsa(struct wire *w, unsigned *bits, char *err, size_t errlen)
{
	const unsigned char *e, *n;
	size_t el, nl;
	unsigned eb;

	if (wire_string(w, &e, &el) < 0 || wire_string(w, &n, &nl) < 0)
		FAIL("ssh key: the RSA key is truncated");
	eb = mpint_bits(e, el);
	if (eb < 2 || eb > 64 || !(e[el - 1] & 1))
		FAIL("ssh key: the RSA public exponent is not valid");
	*bits = mpint_bits(n, nl);
	if (*bits == 0 || !(n[nl - 1] & 1))
		FAIL("ssh key: the RSA modulus is not valid");
	if (*bits < SSHKEY_RSA_MIN_BITS)
		FAIL("ssh key: RSA keys need at least %d bits (this one has %u)",
		     SSHKEY_RSA_MIN_BITS, *bits);
	if (*bits > SSHKEY_RSA_MAX_BITS)
		FAIL("ssh key: RSA keys may have at most %d bits", SSHKEY_RSA_MAX_BITS);
	return 0;
}

/* The blob of a key of type t (index into types[]). */
static int
check_blob(size_t t, const unsigned char *blob, size_t len, unsigned *bits, char *err,
	   size_t errlen)
{
	struct wire w = {blob, len};
	const unsigned char *s;
	size_t n;
	int r;

	if (wire_string(&w, &s, &n) < 0)
		FAIL("ssh key: the key data is truncated");
	if (n != strlen(types[t].name) || memcmp(s, types[t].name, n) != 0)
		FAIL("ssh key: the key data is not of the type the line names (%s)",
		     types[t].name);
	*bits = types[t].bits;
	switch (types[t].type) {
	case SSHKEY_ED25519:
		if (wire_string(&w, &s, &n) < 0 || n != 32)
			FAIL("ssh key: an ed25519 key has 32 bytes");
		break;
	case SSHKEY_RSA:
		if ((r = check_rsa(&w, bits, err, errlen)) < 0)
			return r;
		break;
	default:
		if (wire_string(&w, &s, &n) < 0 || n != strlen(types[t].curve) ||
		    memcmp(s, types[t].curve, n) != 0)
			FAIL("ssh key: the ECDSA key's curve is not %s", types[t].curve);
		if (wire_string(&w, &s, &n) < 0 || n != types[t].point || s[0] != 0x04)
			FAIL("ssh key: the ECDSA key's point is not an uncompressed point of "
			     "%s",
			     types[t].curve);
		break;
	}
	if (w.left != 0)
		FAIL("ssh key: unexpected bytes after the key data");
	return 0;
}

/* The type at the start of the line: index into types[], or -EINVAL. */
static int
find_type(const char *line, size_t n, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < N_TYPES; i++)
		if (n == strlen(types[i].name) && memcmp(line, types[i].name, n) == 0)
			return (int)i;
	if (n >= 5 && memcmp(line, "-----", 5) == 0)
		FAIL("ssh key: this is not a public key line (a private key or a PEM file?); "
		     "give the contents of the .pub file");
	if (n == 7 && memcmp(line, "ssh-dss", 7) == 0)
		FAIL("ssh key: DSA keys are not accepted");
	FAIL("ssh key: unsupported key type (accepted: ssh-ed25519, ssh-rsa, "
	     "ecdsa-sha2-nistp256/384/521)");
}

/* The comment: printable ASCII but '"' and '\\' (it is written into YAML
 * double quotes and authorized_keys files as it is). */
static int
check_comment(const char *c, size_t n, char *err, size_t errlen)
{
	size_t i;

	if (n > SSHKEY_COMMENT_MAX)
		FAIL("ssh key: the comment is longer than %d characters", SSHKEY_COMMENT_MAX);
	for (i = 0; i < n; i++)
		if (c[i] < 0x20 || c[i] > 0x7e || c[i] == '"' || c[i] == '\\')
			FAIL("ssh key: the comment may only hold printable ASCII characters "
			     "other than '\"' and '\\'");
	return 0;
}

int
sshkey_parse(const char *line, size_t len, struct sshkey_info *out, char *err,
	     size_t errlen)
{
	unsigned char blob[BLOB_MAX];
	size_t i, tlen, b64, blen;
	const char *p;
	unsigned bits = 0;
	int t, r;

	if (len == 0)
		FAIL("ssh key: empty");
	if (len > SSHKEY_LINE_MAX)
		FAIL("ssh key: longer than %d characters", SSHKEY_LINE_MAX);
	/* A PEM block first: a private key pasted by mistake has line
	 * breaks too, and deserves its own message. */
	if (len >= 5 && memcmp(line, "-----", 5) == 0)
		return find_type(line, 5, err, errlen);
	for (i = 0; i < len; i++)
		if (line[i] == '\0' || line[i] == '\n' || line[i] == '\r')
			FAIL("ssh key: one key per line, without NUL or line breaks");
	for (tlen = 0; tlen < len && line[tlen] != ' ' && line[tlen] != '\t'; tlen++)
		;
	if ((t = find_type(line, tlen, err, errlen)) < 0)
		return t;
	if (tlen == len || line[tlen] != ' ')
		FAIL("ssh key: the key data is missing after the type");
	p = line + tlen + 1;
	for (b64 = 0; p + b64 < line + len && p[b64] != ' '; b64++)
		;
	if (b64 == 0)
		FAIL("ssh key: the key data is missing after the type");
	if (sodium_base642bin(blob, sizeof(blob), p, b64, NULL, &blen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		FAIL("ssh key: the key data is not valid base64");
	if ((r = check_blob((size_t)t, blob, blen, &bits, err, errlen)) < 0)
		return r;
	p += b64;
	if (p < line + len && (r = check_comment(p + 1, (size_t)(line + len - p - 1), err,
						 errlen)) < 0)
		return r;
	if (out != NULL) {
		out->type = types[t].type;
		out->bits = bits;
	}
	return 0;
}
