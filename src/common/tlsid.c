/* tlsid.c - see tlsid.h */
#define _GNU_SOURCE
#include "tlsid.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "util.h"

int
tlsid_fpr_der(const void *der, size_t len, char *fpr)
{
	unsigned char d[32];
	gnutls_datum_t in = {(unsigned char *)(uintptr_t)der, (unsigned)len};

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, in.data, in.size, d) < 0)
		return -EIO;
	for (int i = 0; i < 32; i++)
		snprintf(fpr + 2 * i, 3, "%02x", d[i]);
	return 0;
}

int
tlsid_fpr_parse(const char *text, char *fpr)
{
	size_t n = strcspn(text, "\r\n");

	if (n != TLSID_FPR_LEN || (text[n] != '\0' && text[n + strspn(text + n, "\r\n")] != '\0'))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = text[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -EINVAL;
		fpr[i] = c;
	}
	fpr[n] = '\0';
	return 0;
}

int
tlsid_fpr_equal(const char *a, const char *b)
{
	unsigned char diff = 0;

	for (int i = 0; i < TLSID_FPR_LEN; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* The fingerprint of the PEM certificate at path. */
static int
cert_fpr(const char *path, char *fpr, char *err, size_t errlen)
{
	gnutls_datum_t pem = {NULL, 0}, der = {NULL, 0};
	gnutls_x509_crt_t crt = NULL;
	char *text = NULL;
	size_t len;
	int r;

	if ((r = util_read_file(path, 64 * 1024, &text, &len)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	pem.data = (unsigned char *)text;
	pem.size = (unsigned)len;
	r = -EINVAL;
	if (gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0) {
		snprintf(err, errlen, "%s: not a certificate", path);
		goto out;
	}
	r = tlsid_fpr_der(der.data, der.size, fpr);
out:
	gnutls_free(der.data);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	free(text);
	return r;
}

int
tlsid_spki_pin(const char *dir, char *pin, size_t len)
{
	gnutls_datum_t pem = {NULL, 0}, spki = {NULL, 0}, b64 = {NULL, 0};
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	unsigned char d[32];
	gnutls_datum_t dd = {d, sizeof(d)};
	char path[600], *text = NULL;
	size_t n;
	int r;

	if (util_fmt(path, sizeof(path), "%s/cert.pem", dir) < 0)
		return -ENAMETOOLONG;
	if ((r = util_read_file(path, 64 * 1024, &text, &n)) < 0)
		return r;
	pem.data = (unsigned char *)text;
	pem.size = (unsigned)n;
	r = -EINVAL;
	if (gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_x509(pub, crt, 0) < 0 ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki) < 0 ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, d) < 0 ||
	    gnutls_base64_encode2(&dd, &b64) < 0)
		goto out;
	r = util_fmt(pin, len, "sha256//%.*s", (int)b64.size, (const char *)b64.data) < 0
		    ? -ENOSPC
		    : 0;
out:
	gnutls_free(b64.data);
	gnutls_free(spki.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	free(text);
	return r;
}

/* Make a new key and a self-signed certificate for cn into dir. */
static int
make(const char *dir, const char *cn, char *err, size_t errlen)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t kp = {NULL, 0}, cp = {NULL, 0};
	unsigned char serial[16];
	char kpath[600], cpath[600];
	time_t now = time(NULL);
	int r = -EIO;

	snprintf(kpath, sizeof(kpath), "%s/key.pem", dir);
	snprintf(cpath, sizeof(cpath), "%s/cert.pem", dir);
	if (gnutls_x509_privkey_init(&key) < 0 ||
	    gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    gnutls_x509_crt_init(&crt) < 0 || gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)) < 0) {
		snprintf(err, errlen, "cannot make a key");
		goto out;
	}
	serial[0] &= 0x7f; /* a positive serial */
	if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, now + 365 * 24 * 3600) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
					  (unsigned)strlen(cn)) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kp) < 0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cp) < 0) {
		snprintf(err, errlen, "cannot make a certificate");
		goto out;
	}
	if ((r = util_write_atomic(kpath, (const char *)kp.data, kp.size, 0600)) < 0 ||
	    (r = util_write_atomic(cpath, (const char *)cp.data, cp.size, 0644)) < 0) {
		snprintf(err, errlen, "cannot write into %s: %s", dir, strerror(-r));
		goto out;
	}
	r = 0;
out:
	if (kp.data) {
		gnutls_memset(kp.data, 0, kp.size);
		gnutls_free(kp.data);
	}
	gnutls_free(cp.data);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return r;
}

int
tlsid_ensure(const char *dir, const char *cn, char *fpr, char *err, size_t errlen)
{
	char kpath[600], cpath[600];
	struct stat st;
	int r;

	if ((r = util_mkdirs(dir, 0700)) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(-r));
		return r;
	}
	snprintf(kpath, sizeof(kpath), "%s/key.pem", dir);
	snprintf(cpath, sizeof(cpath), "%s/cert.pem", dir);
	if ((stat(kpath, &st) < 0 || stat(cpath, &st) < 0) && (r = make(dir, cn, err, errlen)) < 0)
		return r;
	return cert_fpr(cpath, fpr, err, errlen);
}

int
tlsid_pin(const char *dir, const char *fpr, char *err, size_t errlen)
{
	char clean[TLSID_FPR_LEN + 1], line[TLSID_FPR_LEN + 2], path[600];
	int r;

	if (tlsid_fpr_parse(fpr, clean) < 0) {
		snprintf(err, errlen, "a fingerprint is 64 hex digits (SHA-256)");
		return -EINVAL;
	}
	snprintf(line, sizeof(line), "%s\n", clean);
	if ((r = util_mkdirs(dir, 0700)) < 0 ||
	    (r = util_fmt(path, sizeof(path), "%s/peer.fpr", dir)) < 0 ||
	    (r = util_write_atomic(path, line, strlen(line), 0600)) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(-r));
		return r;
	}
	return 0;
}

int
tlsid_pinned(const char *dir, char *fpr)
{
	char path[600], *text = NULL;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/peer.fpr", dir);
	r = util_read_file(path, 256, &text, &len) < 0 ? -ENOENT : tlsid_fpr_parse(text, fpr);
	free(text);
	return r < 0 ? -ENOENT : 0;
}

/* ---- one migration's credentials ------------------------------------------ */

struct pair {
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
};

static void
pair_free(struct pair *p)
{
	if (p->crt)
		gnutls_x509_crt_deinit(p->crt);
	if (p->key)
		gnutls_x509_privkey_deinit(p->key);
}

/* A key and a certificate for cn: the authority's (self-signed, ca NULL)
 * or a leaf signed by ca; purpose is the leaf's extended key usage. */
static int
pair_make(struct pair *p, const char *cn, const struct pair *ca, const char *purpose,
	  const unsigned char ip[4])
{
	unsigned char serial[16];
	time_t now = time(NULL);
	const struct pair *signer = ca ? ca : p;

	memset(p, 0, sizeof(*p));
	if (gnutls_x509_privkey_init(&p->key) < 0 ||
	    gnutls_x509_privkey_generate(p->key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    gnutls_x509_crt_init(&p->crt) < 0 ||
	    gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)) < 0)
		return -EIO;
	serial[0] &= 0x7f;
	if (gnutls_x509_crt_set_version(p->crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(p->crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(p->crt, now - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(p->crt, now + 24 * 3600) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(p->crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
					  (unsigned)strlen(cn)) < 0 ||
	    gnutls_x509_crt_set_key(p->crt, p->key) < 0)
		return -EIO;
	/* What QEMU checks (crypto/tlscredsx509.c): a CA marked as one, leaf
	 * key usages and purposes fit for their end. */
	if (ca == NULL && (gnutls_x509_crt_set_basic_constraints(p->crt, 1, 0) < 0 ||
			   gnutls_x509_crt_set_key_usage(p->crt, GNUTLS_KEY_KEY_CERT_SIGN |
								 GNUTLS_KEY_CRL_SIGN) < 0))
		return -EIO;
	if (ca != NULL &&
	    (gnutls_x509_crt_set_basic_constraints(p->crt, 0, -1) < 0 ||
	     gnutls_x509_crt_set_key_usage(p->crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
							   GNUTLS_KEY_KEY_ENCIPHERMENT) < 0 ||
	     gnutls_x509_crt_set_key_purpose_oid(p->crt, purpose, 0) < 0))
		return -EIO;
	if (ip != NULL && gnutls_x509_crt_set_subject_alt_name(p->crt, GNUTLS_SAN_IPADDRESS, ip, 4,
							      GNUTLS_FSAN_SET) < 0)
		return -EIO;
	return gnutls_x509_crt_sign2(p->crt, signer->crt, signer->key, GNUTLS_DIG_SHA256, 0) < 0
		       ? -EIO
		       : 0;
}

static int
write_pem(const char *dir, const char *name, gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
	  uid_t uid, gid_t gid)
{
	gnutls_datum_t d = {NULL, 0};
	char path[700];
	int r;

	if (util_fmt(path, sizeof(path), "%s/%s", dir, name) < 0)
		return -ENAMETOOLONG;
	if ((crt ? gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d)
		 : gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d)) < 0)
		return -EIO;
	r = util_write_atomic(path, (const char *)d.data, d.size, crt ? 0644 : 0600);
	if (r == 0 && uid != (uid_t)-1 && chown(path, uid, gid) < 0)
		r = -errno;
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
	return r;
}

static int
write_side(const char *dir, const char *who, const struct pair *ca, const struct pair *p,
	   uid_t uid, gid_t gid)
{
	char cert[32], key[32];
	int r;

	snprintf(cert, sizeof(cert), "%s-cert.pem", who);
	snprintf(key, sizeof(key), "%s-key.pem", who);
	if ((r = util_mkdirs(dir, 0700)) < 0 ||
	    (uid != (uid_t)-1 && chown(dir, uid, gid) < 0 && (r = -errno) < 0))
		return r;
	if ((r = write_pem(dir, "ca-cert.pem", ca->crt, NULL, uid, gid)) < 0 ||
	    (r = write_pem(dir, cert, p->crt, NULL, uid, gid)) < 0 ||
	    (r = write_pem(dir, key, NULL, p->key, uid, gid)) < 0)
		return r;
	return 0;
}

int
tlsid_migration_creds(const char *srv_dir, const char *cli_dir, const char *ip, uid_t uid,
		      gid_t gid, char *err, size_t errlen)
{
	struct pair ca, srv, cli;
	unsigned char addr[4];
	int r;

	memset(&srv, 0, sizeof(srv));
	memset(&cli, 0, sizeof(cli));
	if (inet_pton(AF_INET, ip, addr) != 1) {
		snprintf(err, errlen, "not an IPv4 address: %s", ip);
		return -EINVAL;
	}
	if ((r = pair_make(&ca, "cloudlet migration", NULL, NULL, NULL)) < 0 ||
	    (r = pair_make(&srv, ip, &ca, GNUTLS_KP_TLS_WWW_SERVER, addr)) < 0 ||
	    (r = pair_make(&cli, "cloudlet migration source", &ca, GNUTLS_KP_TLS_WWW_CLIENT,
			   NULL)) < 0) {
		snprintf(err, errlen, "cannot make the migration's certificates");
		goto out;
	}
	if ((r = write_side(srv_dir, "server", &ca, &srv, uid, gid)) < 0 ||
	    (cli_dir != NULL && (r = write_side(cli_dir, "client", &ca, &cli, uid, gid)) < 0))
		snprintf(err, errlen, "cannot write the migration's certificates: %s", strerror(-r));
out:
	pair_free(&ca);
	pair_free(&srv);
	pair_free(&cli);
	return r;
}
