/*
 * tlsid.h - a process's TLS identity between hosts (docs/hosts.md): an
 * ECDSA P-256 key and a self-signed certificate, made with GnuTLS and kept
 * in a directory, and the SHA-256 fingerprint of a certificate's DER form,
 * which is what the other side pins. No certificate authority: each side
 * trusts exactly the one fingerprint it was given at join time.
 *
 *   <dir>/key.pem   the private key (0600; never logged, never sent)
 *   <dir>/cert.pem  the certificate (1 year; re-made with the key)
 *   <dir>/peer.fpr  the one peer fingerprint pinned (an agent's: its
 *                   control plane's, written at join time)
 */
#ifndef CLOUDLET_TLSID_H
#define CLOUDLET_TLSID_H

#include <stddef.h>
#include <sys/types.h>

#define TLSID_FPR_LEN 64 /* hex digits of a SHA-256 */

/* Make dir's key and certificate (common name cn) if either is missing;
 * fpr (TLSID_FPR_LEN + 1 bytes) gets the certificate's fingerprint. 0 or
 * -errno with err. */
int tlsid_ensure(const char *dir, const char *cn, char *fpr, char *err, size_t errlen);

/* The fingerprint of a DER certificate (lower-case hex). */
int tlsid_fpr_der(const void *der, size_t len, char *fpr);

/* Is text a fingerprint (64 hex digits, nothing else)? Lower-cases it. */
int tlsid_fpr_parse(const char *text, char *fpr);

/* Pin fpr (a fingerprint, checked) in dir/peer.fpr: 0 or -errno with err. */
int tlsid_pin(const char *dir, const char *fpr, char *err, size_t errlen);
/* The fingerprint pinned in dir/peer.fpr: 0, or -ENOENT when none is. */
int tlsid_pinned(const char *dir, char *fpr);

/*
 * The public-key pin of dir's certificate as libcurl's
 * CURLOPT_PINNEDPUBLICKEY takes it: "sha256//" and the base64 of the
 * SHA-256 of its SubjectPublicKeyInfo (RFC 7469). 0 or -errno.
 */
int tlsid_spki_pin(const char *dir, char *pin, size_t len);

/* Compare two fingerprints in constant time: 1 when equal. */
int tlsid_fpr_equal(const char *a, const char *b);

/*
 * One migration's TLS credentials (docs/migration.md), in the file names
 * QEMU's tls-creds-x509 object reads: a fresh certificate authority (ECDSA
 * P-256, 1 day), a server certificate for the IPv4 address ip (subject
 * alternative name) into srv_dir (ca-cert.pem, server-cert.pem,
 * server-key.pem) and a client certificate into cli_dir (ca-cert.pem,
 * client-cert.pem, client-key.pem). The authority's key is thrown away:
 * nothing else is ever signed with it. Keys 0600, uid/gid their owner
 * (the VM user) when not -1. 0 or -errno with err.
 */
int tlsid_migration_creds(const char *srv_dir, const char *cli_dir, const char *ip, uid_t uid,
			  gid_t gid, char *err, size_t errlen);

#endif
