/*
 * tls.h - the server name (SNI) of a TLS ClientHello, from the start of
 * the client's stream. Only the first handshake record is read (at most
 * TLS_RECORD_MAX bytes); a ClientHello split over several records gives no
 * SNI (XXX: rare in practice).
 */
#ifndef CLOUDLET_IDS_TLS_H
#define CLOUDLET_IDS_TLS_H

#include <stddef.h>
#include <stdint.h>

#define TLS_RECORD_MAX (16384 + 5)
#define TLS_SNI_MAX 255

enum tls_result { TLS_SNI = 1, TLS_NO_SNI = 0, TLS_MORE = -1, TLS_NOT = -2 };

/* Looks at d[0..len): the SNI into sni (NUL-terminated), or what is missing. */
int tls_sni(const uint8_t *d, size_t len, char *sni, size_t *snilen);

/* Could this be the first bytes of a TLS handshake record? */
int tls_probe(const uint8_t *d, size_t len);

#endif
