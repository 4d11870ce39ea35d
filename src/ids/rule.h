/*
 * rule.h - one Suricata-syntax rule, parsed (rule.c), and the buffers its
 * matches inspect.
 *
 *   action proto src_addr src_port -> | <> dst_addr dst_port (option; ...)
 *
 * The parser is I/O-free: text in, a struct rule or a reason out. The
 * supported keywords are those real rule sets use most (docs/ids.md has
 * the list); anything else makes the rule unsupported with "unknown keyword
 * X", never a crash or a silent mismatch. Every length is bounded
 * (RULE_* below) before anything is allocated from it.
 *
 * Ownership: a struct rule owns everything it points to except cls (the
 * rule set's classification table) and the flowbit ids (indexes into the
 * rule set's name table); rule_free() releases it.
 */
#ifndef CLOUDLET_IDS_RULE_H
#define CLOUDLET_IDS_RULE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define RULE_TEXT_MAX (64 * 1024) /* one rule, continuation lines joined */
#define RULE_OPTS_MAX 256         /* options in one rule */
#define RULE_CONTENT_MAX 2048     /* bytes of one content */
#define RULE_PCRE_MAX 4096        /* characters of one pcre */
#define RULE_MSG_MAX 1024
#define RULE_FLOWBITS_MAX 32      /* distinct flowbit names in one rule */

/* What a match inspects. IDS_BUF_PAYLOAD is the packet payload, or for TCP
 * the reassembled stream; the others are app-layer buffers. */
enum ids_buf {
	IDS_BUF_PAYLOAD = 0,
	IDS_BUF_HTTP_URI,
	IDS_BUF_HTTP_URI_RAW,
	IDS_BUF_HTTP_METHOD,
	IDS_BUF_HTTP_REQUEST_LINE,
	IDS_BUF_HTTP_PROTOCOL,
	IDS_BUF_HTTP_HOST,
	IDS_BUF_HTTP_HOST_RAW,
	IDS_BUF_HTTP_UA,
	IDS_BUF_HTTP_COOKIE,
	IDS_BUF_HTTP_REQ_BODY,
	IDS_BUF_HTTP_STAT_CODE,
	IDS_BUF_HTTP_STAT_MSG,
	IDS_BUF_HTTP_RESPONSE_LINE,
	IDS_BUF_HTTP_RESP_BODY,
	IDS_BUF_FILE_DATA, /* request body to the server, response body to the client */
	IDS_BUF_HTTP_HEADER,
	IDS_BUF_HTTP_HEADER_RAW,
	IDS_BUF_HTTP_HEADER_NAMES,
	IDS_BUF_HTTP_START,
	IDS_BUF_HTTP_CONTENT_TYPE,
	IDS_BUF_HTTP_CONTENT_LEN,
	IDS_BUF_HTTP_REFERER,
	IDS_BUF_HTTP_ACCEPT,
	IDS_BUF_HTTP_ACCEPT_LANG,
	IDS_BUF_HTTP_ACCEPT_ENC,
	IDS_BUF_HTTP_CONNECTION,
	IDS_BUF_HTTP_SERVER,
	IDS_BUF_HTTP_LOCATION,
	IDS_BUF_DNS_QUERY,
	IDS_BUF_TLS_SNI,
	/* with the dotprefix transform: "." and the buffer */
	IDS_BUF_DNS_QUERY_DOT,
	IDS_BUF_TLS_SNI_DOT,
	IDS_BUF_HTTP_HOST_DOT,
	/* payload matches of an HTTP rule: the message's line and headers as
	 * sent (XXX: Suricata matches them on the stream, bodies included) */
	IDS_BUF_HTTP_RAW,
	IDS_BUF__N
};

/* When a rule is evaluated. */
enum rule_stage {
	STAGE_PACKET = 0, /* each packet; payload = the packet's, or new stream data */
	STAGE_HTTP_REQ,   /* an HTTP request is complete (headers, and body or its limit) */
	STAGE_HTTP_RESP,  /* its response is complete */
	STAGE_DNS,        /* a DNS query */
	STAGE_TLS,        /* a TLS ClientHello */
};

enum rule_proto { PROTO_IP, PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_HTTP, PROTO_DNS, PROTO_TLS };
enum rule_action { ACT_ALERT, ACT_DROP, ACT_PASS, ACT_REJECT };

enum sm_type { SM_CONTENT, SM_PCRE, SM_BYTE_TEST, SM_BYTE_JUMP, SM_ISDATAAT, SM_BSIZE };

#define SM_NEG 0x01
#define SM_NOCASE 0x02
#define SM_RELATIVE 0x04 /* distance/within, or R / relative */
#define SM_ENDSWITH 0x08
#define SM_FAST 0x10     /* fast_pattern given */
#define SM_DEPTH 0x20
#define SM_WITHIN 0x40

/* dsize, bsize, urilen: n, <n, >n, <=n, >=n, !n, lo<>hi (exclusive) */
enum range_op { RANGE_NONE, RANGE_EQ, RANGE_LT, RANGE_GT, RANGE_LE, RANGE_GE, RANGE_NE, RANGE_IN };
struct urange {
	uint8_t op;
	uint32_t lo, hi;
};
int urange_match(const struct urange *r, uint64_t v);

#define BT_LT 1
#define BT_GT 2
#define BT_EQ 3
#define BT_AND 4
#define BT_OR 5
#define BT_LE 6
#define BT_GE 7

struct sm {
	uint8_t type;
	uint8_t flags;
	union {
		struct {
			uint8_t *pat; /* owned; lowercased when SM_NOCASE */
			uint16_t len;
			int32_t offset, depth, distance, within;
		} c;
		struct {
			void *re; /* pcre2_code */
			char *src;
		} p;
		struct {
			uint8_t bytes, op, neg, base; /* base: 0 binary, 8, 10, 16 */
			uint8_t little, align, from_begin, from_end;
			int32_t offset, post_offset;
			uint32_t multiplier;
			uint64_t value, bitmask;
		} b;
		struct {
			int32_t pos;
		} d;
		struct urange bs;
	} u;
};

struct rule_buf {
	uint8_t buf; /* enum ids_buf */
	uint16_t n;
	struct sm *sm; /* owned */
};

#define FLOW_ESTABLISHED 0x01
#define FLOW_NOT_ESTABLISHED 0x02
#define FLOW_TO_SERVER 0x04
#define FLOW_TO_CLIENT 0x08
#define FLOW_STATELESS 0x10
#define FLOW_ONLY_STREAM 0x20
#define FLOW_NO_STREAM 0x40

enum fb_cmd { FB_SET, FB_UNSET, FB_TOGGLE, FB_ISSET, FB_ISNOTSET };
struct fbop {
	uint8_t cmd;
	uint8_t any; /* names joined with '|' (any of them) rather than '&' */
	uint8_t n;
	uint16_t id[8];
};

enum th_type { TH_NONE, TH_LIMIT, TH_THRESHOLD, TH_BOTH, TH_DETECTION_FILTER };
enum th_track { TRACK_SRC, TRACK_DST, TRACK_RULE, TRACK_BOTH };
struct threshold {
	uint8_t type, track;
	uint32_t count, seconds;
};

struct classtype {
	char *name, *desc;
	int priority;
};

struct rule {
	uint32_t sid, gid, rev;
	int priority; /* 0: from the classtype, else 3 */
	uint8_t action, proto, stage, bidir;
	uint8_t flow;          /* FLOW_* */
	uint8_t fb_noalert;    /* flowbits:noalert */
	uint8_t tcp_flags, tcp_flags_mask, tcp_flags_mode; /* flags: */
	uint8_t nfb;
	char *msg;
	const struct classtype *cls;
	struct addrset src, dst;
	struct addrset sp, dp;
	struct urange dsize, itype, icode;
	struct rule_buf *bufs; /* owned, in buffer order */
	uint8_t nbufs;
	struct fbop *fb;       /* owned */
	struct threshold th, df;
	/* The fast pattern: which buffer and which content in it (-1: none). */
	int8_t fp_buf;
	int16_t fp_sm;
};

/* What the parser needs from its rule set. */
struct rule_env {
	addr_var_fn var; /* $VARIABLES */
	void *arg;
	/* A classtype by name, or NULL (the rule is then refused). */
	const struct classtype *(*classtype)(void *arg, const char *name);
	/* A flowbit name to its index (assigned on first use), or -1 when
	 * there are too many. */
	int (*flowbit)(void *arg, const char *name);
};

/*
 * Parse one rule (no trailing newline needed; '#' comments are the
 * caller's). 0 and *out (caller frees with rule_free), or -EINVAL with the
 * reason in err; *sid_out gets the sid when it could be read, else 0, so a
 * skipped rule can be listed by it.
 */
int rule_parse(const struct rule_env *env, const char *text, size_t len, struct rule **out,
	       uint32_t *sid_out, char *err, size_t errlen);
void rule_free(struct rule *r);

/* Name of a buffer for messages ("http.uri"). */
const char *rule_buf_name(int buf);

/* The content string syntax ("a|0d 0a|b" with \" \; \\ escapes): 0 and
 * *len bytes into out (at most cap), or -EINVAL. */
int rule_content_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *len);

#endif
