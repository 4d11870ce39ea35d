/*
 * http.h - HTTP/1.x requests and responses of one TCP flow, parsed from the
 * reassembled streams as they arrive (a push parser: any split of the
 * bytes gives the same result).
 *
 * A transaction is a request and its response; pipelined requests queue
 * (at most HTTP_TX_MAX). The parser calls back when a request is complete
 * (line, headers and body: by Content-Length, chunked, or none) and when
 * its response is complete (a response without a length ends with the
 * connection: http_flush). Bounds: HTTP_HEAD_MAX bytes of line and headers
 * (longer: the direction stops being parsed), HTTP_BODY_MAX bytes of each
 * body kept for inspection (the rest is counted, not kept), HTTP_HDRS_MAX
 * headers. Memory is charged to the tenant's memcap.
 *
 * Buffers (http_getbuf) are Suricata's: http.uri is the URI percent-decoded
 * (XXX: no path normalisation: "/a/../b" stays as it is, so rules looking
 * for "../" still see it), http.uri.raw as sent, http.host lowercased
 * without the port, http.header "Name: value\r\n" per header of the
 * message of the stage, http.header_names "\r\nName\r\n...\r\n\r\n",
 * file.data the request body to the server and the response body to the
 * client.
 */
#ifndef CLOUDLET_IDS_HTTP_H
#define CLOUDLET_IDS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"

#define HTTP_HEAD_MAX (16 * 1024)
#define HTTP_BODY_MAX (64 * 1024)
#define HTTP_HDRS_MAX 64
#define HTTP_TX_MAX 16

struct http_hdr {
	uint16_t name, nlen, val, vlen; /* offsets into the message's head */
};

struct http_msg {
	uint8_t *head; /* line + headers, as received */
	size_t headlen, headcap;
	uint16_t line_len;
	struct http_hdr h[HTTP_HDRS_MAX];
	int nh;
	/* request: method, uri, protocol; response: protocol, code, msg */
	uint16_t f_off[3], f_len[3];
	uint8_t *body;
	size_t bodylen, bodycap;
	uint64_t body_total;
	uint8_t done;
};

struct http_tx {
	struct http_msg req, resp;
	uint8_t *derived[40][2]; /* buffers built on demand, per stage (by enum ids_buf) */
	size_t dlen[40][2];
	uint8_t is_head, is_connect;
	uint64_t id;
};

struct http_dir {
	uint8_t phase, broken;
	uint64_t remain;
	uint8_t *acc; /* header or chunk-size line being accumulated */
	size_t acclen, acccap;
	struct http_msg *msg; /* being parsed */
};

struct http_state {
	struct http_dir dir[2]; /* 0: to server, 1: to client */
	struct http_tx *tx[HTTP_TX_MAX];
	int ntx;
	int nreq_done;          /* of tx[0..ntx): requests complete */
	uint64_t next_id;
	uint8_t upgraded;       /* 101 or CONNECT: the rest is not HTTP */
	uint64_t parse_errors;
};

/* stage: STAGE_HTTP_REQ or STAGE_HTTP_RESP (rule.h). */
typedef void (*http_event_fn)(void *arg, struct http_tx *tx, int stage);

/* Feed bytes of direction dir (0 client->server). data NULL: a gap of len
 * bytes (the direction stops being parsed). */
void http_feed(struct http_state *h, struct memcap *m, int dir, const uint8_t *data, size_t len,
	       http_event_fn fn, void *arg);
/* The connection ended: complete what can be completed. */
void http_flush(struct http_state *h, struct memcap *m, http_event_fn fn, void *arg);
void http_free(struct http_state *h, struct memcap *m);

/* A buffer of tx for rules of stage (detect.h getbuf): 0 or -1. */
int http_getbuf(struct http_tx *tx, int buf, int stage, const uint8_t **p, size_t *len);

/* Does this look like the start of an HTTP request / response? */
int http_probe(const uint8_t *d, size_t len, int to_server);

#endif
