/*
 * http.c - the HTTP/1.x push parser and its buffers (http.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "rule.h"

enum { PH_HEAD, PH_BODY_LEN, PH_CHUNK_SIZE, PH_CHUNK_DATA, PH_CHUNK_CRLF, PH_TRAILER, PH_CLOSE,
       PH_STOP };

static void
msg_free(struct http_msg *m, struct memcap *mc)
{
	if (!m)
		return;
	memcap_give(mc, m->headcap + m->bodycap);
	free(m->head);
	free(m->body);
	memset(m, 0, sizeof(*m));
}

static void
tx_free(struct http_tx *tx, struct memcap *mc)
{
	if (!tx)
		return;
	msg_free(&tx->req, mc);
	msg_free(&tx->resp, mc);
	for (int i = 0; i < 40; i++)
		for (int k = 0; k < 2; k++)
			free(tx->derived[i][k]);
	memcap_give(mc, sizeof(*tx));
	free(tx);
}

static void
stop(struct http_state *h, int dir)
{
	h->dir[dir].phase = PH_STOP;
	h->dir[dir].broken = 1;
	h->parse_errors++;
}

/* The transaction a new request (dir 0) or response (dir 1) belongs to. */
static struct http_tx *
tx_for(struct http_state *h, struct memcap *mc, int dir)
{
	struct http_tx *tx;

	if (dir == 1) {
		if (h->ntx > 0)
			return h->tx[0];
	} else if (h->nreq_done < h->ntx) {
		return h->tx[h->nreq_done];
	}
	if (h->ntx >= HTTP_TX_MAX || memcap_take(mc, sizeof(*tx)) < 0)
		return NULL;
	tx = calloc(1, sizeof(*tx));
	if (!tx) {
		memcap_give(mc, sizeof(*tx));
		return NULL;
	}
	tx->id = h->next_id++;
	if (dir == 1)
		tx->req.done = 1; /* a response without a request seen */
	h->tx[h->ntx++] = tx;
	if (dir == 1)
		h->nreq_done = h->nreq_done < h->ntx ? h->nreq_done + 1 : h->nreq_done;
	return tx;
}

static const uint8_t *
hdr_value(const struct http_msg *m, const char *name, size_t *len)
{
	size_t n = strlen(name);

	for (int i = 0; i < m->nh; i++)
		if (m->h[i].nlen == n && strncasecmp((const char *)m->head + m->h[i].name, name, n) == 0) {
			*len = m->h[i].vlen;
			return m->head + m->h[i].val;
		}
	return NULL;
}

static int
is_token(uint8_t c)
{
	return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

/* Parse the line and headers of a complete head. */
static int
parse_head(struct http_msg *m, int dir)
{
	const uint8_t *p = m->head, *end = m->head + m->headlen, *eol;
	size_t i;
	int field = 0;

	eol = memchr(p, '\n', m->headlen);
	if (!eol)
		return -1;
	m->line_len = (uint16_t)(eol - p - (eol > p && eol[-1] == '\r'));
	/* Three fields separated by spaces; the last one takes the rest. */
	i = 0;
	for (field = 0; field < 3; field++) {
		while (i < m->line_len && p[i] == ' ')
			i++;
		m->f_off[field] = (uint16_t)i;
		if (field == 2 && dir == 1) {
			i = m->line_len;
		} else {
			while (i < m->line_len && p[i] != ' ')
				i++;
		}
		m->f_len[field] = (uint16_t)(i - m->f_off[field]);
	}
	if (dir == 0) {
		if (m->f_len[0] == 0 || m->f_len[1] == 0)
			return -1;
		for (i = 0; i < m->f_len[0]; i++)
			if (!is_token(p[m->f_off[0] + i]))
				return -1;
	} else {
		if (m->f_len[0] < 5 || memcmp(p + m->f_off[0], "HTTP/", 5) != 0 || m->f_len[1] != 3)
			return -1;
	}
	p = eol + 1;
	while (p < end) {
		const uint8_t *colon, *v, *ve;

		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		ve = eol;
		if (ve > p && ve[-1] == '\r')
			ve--;
		if (ve == p)
			break; /* the empty line */
		colon = memchr(p, ':', (size_t)(ve - p));
		if (colon && colon > p && m->nh < HTTP_HDRS_MAX) {
			const uint8_t *ne = colon;

			while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
				ne--;
			v = colon + 1;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			m->h[m->nh].name = (uint16_t)(p - m->head);
			m->h[m->nh].nlen = (uint16_t)(ne - p);
			m->h[m->nh].val = (uint16_t)(v - m->head);
			m->h[m->nh].vlen = (uint16_t)(ve - v);
			m->nh++;
		}
		p = eol + 1;
	}
	return 0;
}

static int
has_token(const uint8_t *v, size_t len, const char *tok)
{
	size_t n = strlen(tok);

	for (size_t i = 0; v && i + n <= len; i++)
		if (strncasecmp((const char *)v + i, tok, n) == 0)
			return 1;
	return 0;
}

static int
parse_len(const uint8_t *v, size_t len, uint64_t *out)
{
	uint64_t x = 0;
	size_t i = 0;

	if (!v || len == 0)
		return -1;
	for (; i < len && isdigit(v[i]); i++) {
		if (x > (1ull << 50))
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (i == 0 || i != len)
		return -1;
	*out = x;
	return 0;
}

static void
complete(struct http_state *h, struct memcap *mc, int dir, http_event_fn fn, void *arg)
{
	struct http_dir *d = &h->dir[dir];

	d->msg->done = 1;
	d->msg = NULL;
	d->phase = PH_HEAD;
	if (dir == 0) {
		struct http_tx *tx = h->tx[h->nreq_done++];

		fn(arg, tx, STAGE_HTTP_REQ);
		if (tx->is_connect) {
			h->upgraded = 1;
			d->phase = PH_STOP;
		}
	} else {
		struct http_tx *tx = h->tx[0];

		if (h->dir[0].msg == &tx->req) {
			/* answered before its request ended: stop parsing requests */
			h->dir[0].msg = NULL;
			stop(h, 0);
			h->nreq_done++;
		}
		fn(arg, tx, STAGE_HTTP_RESP);
		tx_free(tx, mc);
		memmove(h->tx, h->tx + 1, (size_t)(h->ntx - 1) * sizeof(h->tx[0]));
		h->ntx--;
		if (h->nreq_done > 0)
			h->nreq_done--;
		if (h->upgraded) {
			d->phase = PH_STOP;
			h->dir[0].phase = PH_STOP;
		}
	}
}

/* Room for want bytes in *buf (capacity *cap, at most max): grows by
 * doubling, charged to the memcap. 0, or -1 when refused. */
static int
grow(uint8_t **buf, size_t *cap, size_t want, size_t max, struct memcap *mc)
{
	size_t nc = *cap ? *cap : 1024;
	uint8_t *b;

	if (want <= *cap)
		return 0;
	while (nc < want)
		nc *= 2;
	if (nc > max)
		nc = max;
	if (memcap_take(mc, nc - *cap) < 0)
		return -1;
	b = realloc(*buf, nc);
	if (!b) {
		memcap_give(mc, nc - *cap);
		return -1;
	}
	*buf = b;
	*cap = nc;
	return 0;
}

static void
body_add(struct http_msg *m, struct memcap *mc, const uint8_t *p, size_t n)
{
	m->body_total += n;
	if (m->bodylen >= HTTP_BODY_MAX)
		return;
	if (n > HTTP_BODY_MAX - m->bodylen)
		n = HTTP_BODY_MAX - m->bodylen;
	if (grow(&m->body, &m->bodycap, m->bodylen + n, HTTP_BODY_MAX, mc) < 0)
		return;
	if (n > HTTP_BODY_MAX - m->bodylen)
		n = HTTP_BODY_MAX - m->bodylen;
	memcpy(m->body + m->bodylen, p, n);
	m->bodylen += n;
}

/* The head is complete: decide how the body is delimited. */
static void
head_done(struct http_state *h, struct memcap *mc, int dir, http_event_fn fn, void *arg)
{
	struct http_dir *d = &h->dir[dir];
	struct http_msg *m = d->msg;
	const uint8_t *te, *cl;
	size_t tel = 0, cll = 0;
	uint64_t len = 0;
	struct http_tx *tx = dir == 0 ? h->tx[h->nreq_done] : h->tx[0];

	if (parse_head(m, dir) < 0) {
		stop(h, dir);
		return;
	}
	te = hdr_value(m, "Transfer-Encoding", &tel);
	cl = hdr_value(m, "Content-Length", &cll);
	if (dir == 0) {
		tx->is_head = m->f_len[0] == 4 && memcmp(m->head + m->f_off[0], "HEAD", 4) == 0;
		tx->is_connect = m->f_len[0] == 7 && memcmp(m->head + m->f_off[0], "CONNECT", 7) == 0;
	} else {
		const uint8_t *code = m->head + m->f_off[1];

		if (code[0] == '1') {
			if (memcmp(code, "101", 3) == 0) {
				h->upgraded = 1;
				complete(h, mc, dir, fn, arg);
				return;
			}
			/* An interim response: the real one follows. */
			free(m->head);
			memcap_give(mc, m->headcap);
			m->head = NULL;
			m->headlen = m->headcap = 0;
			m->nh = 0;
			d->phase = PH_HEAD;
			return;
		}
		if (tx->is_head || memcmp(code, "204", 3) == 0 || memcmp(code, "304", 3) == 0) {
			complete(h, mc, dir, fn, arg);
			return;
		}
	}
	if (te && has_token(te, tel, "chunked")) {
		d->phase = PH_CHUNK_SIZE;
		d->acclen = 0;
	} else if (cl) {
		if (parse_len(cl, cll, &len) < 0) {
			stop(h, dir);
			return;
		}
		if (len == 0) {
			complete(h, mc, dir, fn, arg);
			return;
		}
		d->phase = PH_BODY_LEN;
		d->remain = len;
	} else if (dir == 1) {
		d->phase = PH_CLOSE;
	} else {
		complete(h, mc, dir, fn, arg);
	}
}

/* Accumulate a line into d->acc; returns 1 when it ended ('\n' seen). */
static int
acc_line(struct http_dir *d, const uint8_t **p, size_t *n, size_t max)
{
	while (*n) {
		uint8_t c = **p;

		(*p)++;
		(*n)--;
		if (c == '\n')
			return 1;
		if (d->acclen < max) {
			if (d->acclen == d->acccap) {
				size_t cap = d->acccap ? d->acccap * 2 : 64;
				uint8_t *a = realloc(d->acc, cap);

				if (!a)
					return -1;
				d->acc = a;
				d->acccap = cap;
			}
			d->acc[d->acclen++] = c;
		} else {
			return -1;
		}
	}
	return 0;
}

void
http_feed(struct http_state *h, struct memcap *mc, int dir, const uint8_t *p, size_t n,
	  http_event_fn fn, void *arg)
{
	struct http_dir *d = &h->dir[dir];

	if (!p) {
		if (d->phase != PH_STOP)
			stop(h, dir);
		return;
	}
	while (n && d->phase != PH_STOP) {
		switch (d->phase) {
		case PH_HEAD: {
			struct http_msg *m = d->msg;
			size_t take, from;
			const uint8_t *e;

			if (!m) {
				struct http_tx *tx;

				while (n && (*p == '\r' || *p == '\n')) {
					p++;
					n--;
				}
				if (!n)
					return;
				tx = tx_for(h, mc, dir);
				if (!tx) {
					stop(h, dir);
					return;
				}
				m = d->msg = dir == 0 ? &tx->req : &tx->resp;
			}
			take = n < HTTP_HEAD_MAX - m->headlen ? n : HTTP_HEAD_MAX - m->headlen;
			if (grow(&m->head, &m->headcap, m->headlen + take, HTTP_HEAD_MAX, mc) < 0) {
				stop(h, dir);
				return;
			}
			from = m->headlen > 3 ? m->headlen - 3 : 0;
			memcpy(m->head + m->headlen, p, take);
			m->headlen += take;
			e = NULL;
			for (size_t i = from; i + 1 < m->headlen; i++) {
				if (m->head[i] == '\n' &&
				    (m->head[i + 1] == '\n' ||
				     (m->head[i + 1] == '\r' && i + 2 < m->headlen && m->head[i + 2] == '\n'))) {
					e = m->head + i + (m->head[i + 1] == '\n' ? 2 : 3);
					break;
				}
			}
			if (!e) {
				if (m->headlen == HTTP_HEAD_MAX) {
					stop(h, dir);
					return;
				}
				return; /* all of it was taken */
			}
			/* give back what follows the head */
			{
				size_t used = (size_t)(e - m->head) - (m->headlen - take);

				m->headlen = (size_t)(e - m->head);
				p += used;
				n -= used;
			}
			head_done(h, mc, dir, fn, arg);
			break;
		}
		case PH_BODY_LEN:
		case PH_CHUNK_DATA: {
			size_t k = n < d->remain ? n : (size_t)d->remain;

			body_add(d->msg, mc, p, k);
			p += k;
			n -= k;
			d->remain -= k;
			if (d->remain == 0) {
				if (d->phase == PH_BODY_LEN)
					complete(h, mc, dir, fn, arg);
				else {
					d->phase = PH_CHUNK_CRLF;
					d->acclen = 0;
				}
			}
			break;
		}
		case PH_CHUNK_CRLF: {
			int r = acc_line(d, &p, &n, 2);

			if (r < 0)
				stop(h, dir);
			else if (r > 0) {
				d->phase = PH_CHUNK_SIZE;
				d->acclen = 0;
			}
			break;
		}
		case PH_CHUNK_SIZE: {
			int r = acc_line(d, &p, &n, 32);
			uint64_t v = 0;
			size_t i;

			if (r < 0) {
				stop(h, dir);
				break;
			}
			if (r == 0)
				break;
			for (i = 0; i < d->acclen && isxdigit(d->acc[i]) && i < 15; i++)
				v = v * 16 + (uint64_t)(isdigit(d->acc[i]) ? d->acc[i] - '0'
									    : tolower(d->acc[i]) - 'a' + 10);
			d->acclen = 0;
			if (i == 0) {
				stop(h, dir);
				break;
			}
			if (v == 0) {
				d->phase = PH_TRAILER;
			} else {
				d->phase = PH_CHUNK_DATA;
				d->remain = v;
			}
			break;
		}
		case PH_TRAILER: {
			int r = acc_line(d, &p, &n, 1024);

			if (r < 0)
				stop(h, dir);
			else if (r > 0) {
				int empty = d->acclen == 0 || (d->acclen == 1 && d->acc[0] == '\r');

				d->acclen = 0;
				if (empty)
					complete(h, mc, dir, fn, arg);
			}
			break;
		}
		case PH_CLOSE:
			body_add(d->msg, mc, p, n);
			n = 0;
			break;
		}
	}
}

void
http_flush(struct http_state *h, struct memcap *mc, http_event_fn fn, void *arg)
{
	/* A request cut short is still inspected; so is a response read
	 * until the connection closed, or cut short. */
	if (h->dir[0].msg && h->dir[0].msg->headlen && h->dir[0].phase != PH_HEAD)
		complete(h, mc, 0, fn, arg);
	if (h->dir[1].msg && h->dir[1].phase != PH_HEAD && h->dir[1].phase != PH_STOP)
		complete(h, mc, 1, fn, arg);
}

void
http_free(struct http_state *h, struct memcap *mc)
{
	for (int i = 0; i < h->ntx; i++)
		tx_free(h->tx[i], mc);
	free(h->dir[0].acc);
	free(h->dir[1].acc);
	memset(h, 0, sizeof(*h));
}

int
http_probe(const uint8_t *d, size_t len, int to_server)
{
	static const char *const methods[] = {"GET ", "POST ", "HEAD ", "PUT ", "DELETE ",
					      "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ", "PROPFIND "};

	if (!to_server)
		return len >= 5 && memcmp(d, "HTTP/", 5) == 0;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t n = strlen(methods[i]);

		if (len >= n && memcmp(d, methods[i], n) == 0)
			return 1;
	}
	return 0;
}

/* ---- buffers ---- */

static int
hexv(uint8_t c)
{
	return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1;
}

static int
set(const uint8_t *v, size_t n, const uint8_t **p, size_t *len)
{
	if (!v)
		return -1;
	*p = v;
	*len = n;
	return 0;
}

/* Build (once) a derived buffer into tx->derived[slot][stage]. */
static int
derive(struct http_tx *tx, int buf, int st, const struct http_msg *m, const uint8_t **p,
       size_t *len)
{
	int slot = buf;
	uint8_t *o;
	size_t n = 0;

	if (tx->derived[slot][st]) {
		*p = tx->derived[slot][st];
		*len = tx->dlen[slot][st];
		return 0;
	}
	if (!m->head)
		return -1;
	o = malloc(m->headlen + 4 * HTTP_HDRS_MAX + 16);
	if (!o)
		return -1;
	switch (buf) {
	case IDS_BUF_HTTP_URI: {
		const uint8_t *u = m->head + m->f_off[1];

		for (size_t i = 0; i < m->f_len[1]; i++) {
			if (u[i] == '%' && i + 2 < m->f_len[1] && hexv(u[i + 1]) >= 0 && hexv(u[i + 2]) >= 0) {
				o[n++] = (uint8_t)(hexv(u[i + 1]) << 4 | hexv(u[i + 2]));
				i += 2;
			} else {
				o[n++] = u[i];
			}
		}
		break;
	}
	case IDS_BUF_HTTP_HOST:
	case IDS_BUF_HTTP_HOST_DOT: {
		size_t vl;
		const uint8_t *v = hdr_value(m, "Host", &vl);

		if (!v) {
			free(o);
			return -1;
		}
		if (buf == IDS_BUF_HTTP_HOST_DOT)
			o[n++] = '.';
		for (size_t i = 0; i < vl && v[i] != ':'; i++)
			o[n++] = (uint8_t)tolower(v[i]);
		break;
	}
	case IDS_BUF_HTTP_HEADER:
		for (int i = 0; i < m->nh; i++) {
			memcpy(o + n, m->head + m->h[i].name, m->h[i].nlen);
			n += m->h[i].nlen;
			o[n++] = ':';
			o[n++] = ' ';
			memcpy(o + n, m->head + m->h[i].val, m->h[i].vlen);
			n += m->h[i].vlen;
			o[n++] = '\r';
			o[n++] = '\n';
		}
		break;
	case IDS_BUF_HTTP_HEADER_NAMES:
		o[n++] = '\r';
		o[n++] = '\n';
		for (int i = 0; i < m->nh; i++) {
			memcpy(o + n, m->head + m->h[i].name, m->h[i].nlen);
			n += m->h[i].nlen;
			o[n++] = '\r';
			o[n++] = '\n';
		}
		o[n++] = '\r';
		o[n++] = '\n';
		break;
	}
	tx->derived[slot][st] = o;
	tx->dlen[slot][st] = n;
	*p = o;
	*len = n;
	return 0;
}

/* A header's value as the buffer. */
static int
hval(const struct http_msg *m, const char *name, const uint8_t **p, size_t *len)
{
	size_t n = 0;
	const uint8_t *v = hdr_value(m, name, &n);

	return set(v, n, p, len);
}

int
http_getbuf(struct http_tx *tx, int buf, int stage, const uint8_t **p, size_t *len)
{
	const struct http_msg *q = &tx->req, *r = &tx->resp;
	const struct http_msg *m = stage == STAGE_HTTP_RESP ? r : q; /* headers of the stage */
	int st = stage == STAGE_HTTP_RESP;
	const uint8_t *v;

	switch (buf) {
	case IDS_BUF_HTTP_URI:
	case IDS_BUF_HTTP_HOST:
	case IDS_BUF_HTTP_HOST_DOT:
		return q->head ? derive(tx, buf, 0, q, p, len) : -1;
	case IDS_BUF_HTTP_RAW:
		return m->head ? set(m->head, m->headlen, p, len) : -1;
	case IDS_BUF_HTTP_URI_RAW:
		return q->head ? set(q->head + q->f_off[1], q->f_len[1], p, len) : -1;
	case IDS_BUF_HTTP_METHOD:
		return q->head ? set(q->head + q->f_off[0], q->f_len[0], p, len) : -1;
	case IDS_BUF_HTTP_PROTOCOL:
		if (m->head == NULL)
			return -1;
		return m == q ? set(q->head + q->f_off[2], q->f_len[2], p, len)
			      : set(r->head + r->f_off[0], r->f_len[0], p, len);
	case IDS_BUF_HTTP_REQUEST_LINE:
		return q->head ? set(q->head, q->line_len, p, len) : -1;
	case IDS_BUF_HTTP_HOST_RAW:
		return q->head ? hval(q, "Host", p, len) : -1;
	case IDS_BUF_HTTP_UA:
		return q->head ? hval(q, "User-Agent", p, len) : -1;
	case IDS_BUF_HTTP_COOKIE:
		if (!m->head)
			return -1;
		return hval(m, m == q ? "Cookie" : "Set-Cookie", p, len);
	case IDS_BUF_HTTP_REQ_BODY:
		return q->bodylen ? set(q->body, q->bodylen, p, len) : -1;
	case IDS_BUF_HTTP_STAT_CODE:
		return r->head ? set(r->head + r->f_off[1], r->f_len[1], p, len) : -1;
	case IDS_BUF_HTTP_STAT_MSG:
		return r->head ? set(r->head + r->f_off[2], r->f_len[2], p, len) : -1;
	case IDS_BUF_HTTP_RESPONSE_LINE:
		return r->head ? set(r->head, r->line_len, p, len) : -1;
	case IDS_BUF_HTTP_RESP_BODY:
		return r->bodylen ? set(r->body, r->bodylen, p, len) : -1;
	case IDS_BUF_FILE_DATA:
		return m->bodylen ? set(m->body, m->bodylen, p, len) : -1;
	case IDS_BUF_HTTP_HEADER:
	case IDS_BUF_HTTP_HEADER_NAMES:
		return m->head && m->nh ? derive(tx, buf, st, m, p, len) : -1;
	case IDS_BUF_HTTP_HEADER_RAW:
		if (!m->head || m->headlen <= (size_t)m->line_len + 2)
			return -1;
		v = memchr(m->head, '\n', m->headlen);
		if (!v)
			return -1;
		return set(v + 1, m->headlen - (size_t)(v + 1 - m->head), p, len);
	case IDS_BUF_HTTP_START:
		return m->head ? set(m->head, m->headlen, p, len) : -1;
	case IDS_BUF_HTTP_CONTENT_TYPE:
		return m->head ? hval(m, "Content-Type", p, len) : -1;
	case IDS_BUF_HTTP_CONTENT_LEN:
		return m->head ? hval(m, "Content-Length", p, len) : -1;
	case IDS_BUF_HTTP_REFERER:
		return q->head ? hval(q, "Referer", p, len) : -1;
	case IDS_BUF_HTTP_ACCEPT:
		return q->head ? hval(q, "Accept", p, len) : -1;
	case IDS_BUF_HTTP_ACCEPT_LANG:
		return q->head ? hval(q, "Accept-Language", p, len) : -1;
	case IDS_BUF_HTTP_ACCEPT_ENC:
		return q->head ? hval(q, "Accept-Encoding", p, len) : -1;
	case IDS_BUF_HTTP_CONNECTION:
		return m->head ? hval(m, "Connection", p, len) : -1;
	case IDS_BUF_HTTP_SERVER:
		return r->head ? hval(r, "Server", p, len) : -1;
	case IDS_BUF_HTTP_LOCATION:
		return r->head ? hval(r, "Location", p, len) : -1;
	}
	return -1;
}
