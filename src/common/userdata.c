/* userdata.c - see userdata.h; the form is specified in docs/guest.md. */
#include "userdata.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "sshkey.h"

#define HEADER "#cloud-config"
/* Nodes looked at: aliases let a small document name the same list many
 * times over; this bounds the walk whatever the output. */
#define VISIT_MAX 20000

struct ud {
	yaml_document_t *doc;
	char *out;
	size_t len, cap;
	int visits;
	int err; /* first error: -E2BIG, -EINVAL, -ENOMEM */
	char *msg;
	size_t msglen;
};

static void fail(struct ud *u, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct ud *u, int r, const char *fmt, ...)
{
	va_list ap;

	if (u->err != 0)
		return;
	u->err = r;
	va_start(ap, fmt);
	vsnprintf(u->msg, u->msglen, fmt, ap);
	va_end(ap);
}

static void
put(struct ud *u, const char *s, size_t n)
{
	if (u->err != 0)
		return;
	if (u->len + n + 1 > USERDATA_FORM_MAX) {
		fail(
		    u, -E2BIG,
		    "user_data: the cloud-config is larger than %d bytes once translated "
		    "for the busybox images",
		    USERDATA_FORM_MAX);
		return;
	}
	if (u->len + n + 1 > u->cap) {
		size_t cap = u->cap ? u->cap : 1024;
		char *p;

		while (cap < u->len + n + 1)
			cap *= 2;
		if ((p = realloc(u->out, cap)) == NULL) {
			fail(u, -ENOMEM, "out of memory");
			return;
		}
		u->out = p;
		u->cap = cap;
	}
	memcpy(u->out + u->len, s, n);
	u->len += n;
	u->out[u->len] = '\0';
}

static void
puts_(struct ud *u, const char *s)
{
	put(u, s, strlen(s));
}

static yaml_node_t *
node(struct ud *u, int id)
{
	if (u->err != 0)
		return NULL;
	if (++u->visits > VISIT_MAX) {
		fail(u, -E2BIG,
		     "user_data: the cloud-config has too many nodes (aliases?)");
		return NULL;
	}
	return yaml_document_get_node(u->doc, id);
}

static int
is_null(const yaml_node_t *n)
{
	const char *v;

	if (n == NULL || n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	v = (const char *)n->data.scalar.value;
	return strcmp(v, "") == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* A scalar's text (length in *n; no NUL inside), else NULL. */
static const char *
scalar(const yaml_node_t *n, size_t *len)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return NULL;
	*len = n->data.scalar.length;
	return (const char *)n->data.scalar.value;
}

static int
is_true(const yaml_node_t *n)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
					  "YES",  "on",	  "On",	  "ON",	 NULL};
	size_t len, i;
	const char *v = scalar(n, &len);

	for (i = 0; v != NULL && yes[i] != NULL; i++)
		if (strcmp(v, yes[i]) == 0)
			return 1;
	return 0;
}

static int
has_byte(const char *s, size_t n, const char *set)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != '\0' && strchr(set, s[i]) != NULL) /* strchr finds the NUL */
			return 1;
	return 0;
}

/* A host name: letters, digits, '-' and '.', 1-63 bytes, no leading '-'/'.'. */
static int
good_hostname(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63 || s[0] == '-' || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return 0;
	return 1;
}

static void
do_hostname(struct ud *u, const yaml_node_t *v, int fqdn)
{
	size_t n;
	const char *s = scalar(v, &n);

	if (s == NULL || is_null(v)) {
		fail(u, -EINVAL, "user_data: %s must be a string",
		     fqdn ? "fqdn" : "hostname");
		return;
	}
	if (fqdn) /* the host's own name is the first label */
		n = strcspn(s, ".");
	if (!good_hostname(s, n)) {
		fail(u, -EINVAL,
		     "user_data: %s must be 1-63 letters, digits, '-' or '.' (no leading "
		     "'-' or '.')",
		     fqdn ? "fqdn" : "hostname");
		return;
	}
	puts_(u, fqdn ? "fqdn " : "hostname ");
	put(u, s, n);
	puts_(u, "\n");
}

static void
do_keys(struct ud *u, const yaml_node_t *v)
{
	yaml_node_item_t *it;
	char msg[160];
	int i = 0;

	if (is_null(v))
		return;
	if (v == NULL || v->type != YAML_SEQUENCE_NODE) {
		fail(u, -EINVAL,
		     "user_data: ssh_authorized_keys must be a list of key lines");
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++, i++) {
		const yaml_node_t *k = node(u, *it);
		size_t n;
		const char *s = scalar(k, &n);

		if (u->err != 0)
			return;
		if (s == NULL || sshkey_parse(s, n, NULL, msg, sizeof(msg)) < 0) {
			fail(u, -EINVAL, "user_data: ssh_authorized_keys[%d]: %s", i,
			     s == NULL ? "not a key line" : msg);
			return;
		}
		puts_(u, "ssh-key ");
		put(u, s, n);
		puts_(u, "\n");
	}
}

/* "0644", "644", "0o644" (octal digits; at most 07777). */
static int
parse_mode(const char *s, size_t n, unsigned *mode)
{
	unsigned m = 0;
	size_t i = 0;

	if (n >= 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		i = 2;
	if (i == n)
		return -1;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -1;
		m = m * 8 + (unsigned)(s[i] - '0');
		if (m > 07777)
			return -1;
	}
	*mode = m;
	return 0;
}

/* "user" or "user:group", each [A-Za-z0-9_.-], 1-32 bytes. */
static int
good_owner(const char *s, size_t n)
{
	size_t i, part = 0, colons = 0;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == ':') {
			if (part == 0 || ++colons > 1)
				return 0;
			part = 0;
			continue;
		}
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' ||
		      s[i] == '-') ||
		    ++part > 32)
			return 0;
	}
	return part > 0;
}

static void
ignored(struct ud *u, const char *what)
{
	puts_(u, "ignored ");
	puts_(u, what);
	puts_(u, "\n");
}

/* One write_files item, a mapping. */
static void
do_file(struct ud *u, const yaml_node_t *f, int idx)
{
	const char *path = NULL, *content = "", *enc = "text", *owner = "-";
	size_t plen = 0, clen = 0, olen = 1;
	unsigned mode = 0644;
	int append = 0, b64 = 0;
	yaml_node_pair_t *p;
	char line[64 + USERDATA_PATH_MAX];

	if (f == NULL || f->type != YAML_MAPPING_NODE) {
		fail(u, -EINVAL, "user_data: write_files[%d] must be a mapping", idx);
		return;
	}
	for (p = f->data.mapping.pairs.start; p < f->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = node(u, p->key), *v = node(u, p->value);
		size_t kl, vl;
		const char *ks = scalar(k, &kl), *vs;

		if (u->err != 0)
			return;
		if (ks == NULL) {
			fail(u, -EINVAL,
			     "user_data: write_files[%d]: keys must be strings", idx);
			return;
		}
		if (strcmp(ks, "append") == 0 || strcmp(ks, "defer") == 0) {
			if (strcmp(ks, "append") == 0)
				append = is_true(v);
			continue;
		}
		if (is_null(v))
			continue;
		vs = scalar(v, &vl);
		if (vs == NULL) {
			fail(u, -EINVAL,
			     "user_data: write_files[%d]: each value must be a string",
			     idx);
			return;
		}
		if (strcmp(ks, "path") == 0) {
			path = vs;
			plen = vl;
		} else if (strcmp(ks, "content") == 0) {
			content = vs;
			clen = vl;
		} else if (strcmp(ks, "encoding") == 0) {
			enc = vs;
		} else if (strcmp(ks, "permissions") == 0) {
			if (parse_mode(vs, vl, &mode) < 0) {
				fail(u, -EINVAL,
				     "user_data: write_files[%d].permissions must be "
				     "octal "
				     "digits such as '0644'",
				     idx);
				return;
			}
		} else if (strcmp(ks, "owner") == 0) {
			if (!good_owner(vs, vl)) {
				fail(u, -EINVAL,
				     "user_data: write_files[%d].owner must be USER or "
				     "USER:GROUP",
				     idx);
				return;
			}
			owner = vs;
			olen = vl;
		} else {
			/* "source" (a URL) and anything else: the file is not
			 * written on the busybox images, and the guest says so. */
			snprintf(line, sizeof(line), "write_files[%d] (key %.32s)", idx,
				 has_byte(ks, kl, "\n\r") ? "?" : ks);
			ignored(u, line);
			return;
		}
	}
	if (path == NULL || plen == 0 || path[0] != '/' || plen > USERDATA_PATH_MAX ||
	    has_byte(path, plen, "\n\r")) {
		fail(u, -EINVAL,
		     "user_data: write_files[%d].path must be an absolute path of at "
		     "most %d "
		     "bytes on one line",
		     idx, USERDATA_PATH_MAX);
		return;
	}
	if (strcmp(enc, "b64") == 0 || strcmp(enc, "base64") == 0) {
		b64 = 1;
	} else if (strcmp(enc, "text/plain") != 0 && strcmp(enc, "text") != 0) {
		snprintf(line, sizeof(line), "write_files[%d] (encoding %.20s)", idx,
			 has_byte(enc, strlen(enc), "\n\r") ? "?" : enc);
		if (strcmp(enc, "gz") == 0 || strcmp(enc, "gzip") == 0 ||
		    strcmp(enc, "gz+base64") == 0 || strcmp(enc, "gzip+base64") == 0 ||
		    strcmp(enc, "gz+b64") == 0 || strcmp(enc, "gzip+b64") == 0) {
			ignored(u, line);
			return;
		}
		fail(u, -EINVAL, "user_data: write_files[%d].encoding is unknown", idx);
		return;
	}
	if (b64) {
		/* Checked here; the guest decodes the same text (whitespace
		 * removed). Padding is optional, as in cloud-init. */
		char *clean = malloc(clen + 1);
		unsigned char *bin = malloc(clen + 1);
		size_t i, n = 0, binlen;
		int bad;

		if (clean == NULL || bin == NULL) {
			free(clean);
			free(bin);
			fail(u, -ENOMEM, "out of memory");
			return;
		}
		for (i = 0; i < clen; i++)
			if (!strchr(" \t\r\n", content[i]))
				clean[n++] = content[i];
		clean[n] = '\0';
		bad = sodium_base642bin(bin, clen + 1, clean, n, NULL, &binlen, NULL,
					sodium_base64_VARIANT_ORIGINAL) != 0 &&
		      sodium_base642bin(bin, clen + 1, clean, n, NULL, &binlen, NULL,
					sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0;
		free(bin);
		if (bad) {
			free(clean);
			fail(u, -EINVAL,
			     "user_data: write_files[%d].content is not base64", idx);
			return;
		}
		snprintf(line, sizeof(line), "file %04o %.*s b64 %d %zu ", mode,
			 (int)olen, owner, append, n);
		puts_(u, line);
		put(u, path, plen);
		puts_(u, "\n");
		put(u, clean, n);
		puts_(u, "\n");
		free(clean);
		return;
	}
	snprintf(line, sizeof(line), "file %04o %.*s text %d %zu ", mode, (int)olen,
		 owner, append, clen);
	puts_(u, line);
	put(u, path, plen);
	puts_(u, "\n");
	put(u, content, clen);
	puts_(u, "\n");
}

static void
do_files(struct ud *u, const yaml_node_t *v)
{
	yaml_node_item_t *it;
	int i = 0;

	if (is_null(v))
		return;
	if (v == NULL || v->type != YAML_SEQUENCE_NODE) {
		fail(u, -EINVAL, "user_data: write_files must be a list");
		return;
	}
	for (it = v->data.sequence.items.start;
	     it < v->data.sequence.items.top && !u->err; it++, i++)
		do_file(u, node(u, *it), i);
}

/* One argument in single quotes, for sh. */
static void
quote(struct ud *u, const char *s, size_t n)
{
	size_t i, start = 0;

	puts_(u, "'");
	for (i = 0; i < n; i++)
		if (s[i] == '\'') {
			put(u, s + start, i - start);
			puts_(u, "'\\''");
			start = i + 1;
		}
	put(u, s + start, n - start);
	puts_(u, "'");
}

/* runcmd: one sh script, a line per item (a string as it is, a list as
 * its words quoted), as cloud-init's runcmd module writes it. Built apart,
 * then emitted with its length. */
static void
do_runcmd(struct ud *u, const yaml_node_t *v)
{
	struct ud s = {.doc = u->doc, .msg = u->msg, .msglen = u->msglen};
	yaml_node_item_t *it, *a;
	char head[40];
	int i = 0;

	if (is_null(v))
		return;
	if (v == NULL || v->type != YAML_SEQUENCE_NODE) {
		fail(u, -EINVAL, "user_data: runcmd must be a list");
		return;
	}
	s.visits = u->visits;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !s.err;
	     it++, i++) {
		const yaml_node_t *c = node(&s, *it);
		size_t n;
		const char *str;

		if (s.err)
			break;
		if (c != NULL && c->type == YAML_SEQUENCE_NODE) {
			int first = 1;

			for (a = c->data.sequence.items.start;
			     a < c->data.sequence.items.top; a++) {
				const yaml_node_t *w = node(&s, *a);

				if (s.err)
					break;
				if ((str = scalar(w, &n)) == NULL) {
					fail(&s, -EINVAL,
					     "user_data: runcmd[%d] must be a string or "
					     "a list "
					     "of strings",
					     i);
					break;
				}
				if (!first)
					puts_(&s, " ");
				quote(&s, str, n);
				first = 0;
			}
			puts_(&s, "\n");
		} else if ((str = scalar(c, &n)) != NULL) {
			put(&s, str, n);
			puts_(&s, "\n");
		} else {
			fail(
			    &s, -EINVAL,
			    "user_data: runcmd[%d] must be a string or a list of strings",
			    i);
		}
	}
	u->visits = s.visits;
	if (s.err) {
		u->err = s.err;
		free(s.out);
		return;
	}
	if (s.len > 0) {
		snprintf(head, sizeof(head), "runcmd %zu\n", s.len);
		puts_(u, head);
		put(u, s.out, s.len);
		puts_(u, "\n");
	}
	free(s.out);
}

static void
walk(struct ud *u, const yaml_node_t *root)
{
	yaml_node_pair_t *p;
	char what[80];

	if (root == NULL || is_null(root))
		return; /* "#cloud-config" alone: nothing to do */
	if (root->type != YAML_MAPPING_NODE) {
		fail(u, -EINVAL, "user_data: a #cloud-config must be a YAML mapping");
		return;
	}
	for (p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top && !u->err; p++) {
		const yaml_node_t *k = node(u, p->key), *v = node(u, p->value);
		size_t kl;
		const char *ks = scalar(k, &kl);

		if (u->err)
			return;
		if (ks == NULL) {
			fail(u, -EINVAL,
			     "user_data: the cloud-config's keys must be strings");
			return;
		}
		if (strcmp(ks, "hostname") == 0)
			do_hostname(u, v, 0);
		else if (strcmp(ks, "fqdn") == 0)
			do_hostname(u, v, 1);
		else if (strcmp(ks, "ssh_authorized_keys") == 0)
			do_keys(u, v);
		else if (strcmp(ks, "write_files") == 0)
			do_files(u, v);
		else if (strcmp(ks, "runcmd") == 0)
			do_runcmd(u, v);
		else {
			/* Named on the console: only the safe bytes of it. */
			size_t i, n = kl < 64 ? kl : 64;

			for (i = 0; i < n; i++)
				what[i] = ((ks[i] >= 'a' && ks[i] <= 'z') ||
					   (ks[i] >= 'A' && ks[i] <= 'Z') ||
					   (ks[i] >= '0' && ks[i] <= '9') ||
					   ks[i] == '_' || ks[i] == '-' || ks[i] == '.')
					      ? ks[i]
					      : '?';
			what[n] = '\0';
			ignored(u, what);
		}
	}
}

enum userdata_kind
userdata_kind(const char *ud, size_t len)
{
	size_t h = strlen(HEADER);

	if (len == 0)
		return USERDATA_EMPTY;
	if (len >= 2 && ud[0] == '#' && ud[1] == '!')
		return USERDATA_SCRIPT;
	if (len >= h && memcmp(ud, HEADER, h) == 0 &&
	    (len == h || ud[h] == '\n' || ud[h] == '\r' || ud[h] == ' ' || ud[h] == '\t'))
		return USERDATA_CLOUD_CONFIG;
	return USERDATA_OTHER;
}

int
userdata_translate(const char *ud, size_t len, char **form, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	struct ud u = {.doc = &doc, .msg = err, .msglen = errlen};
	int r;

	*form = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (len > USERDATA_MAX) {
		snprintf(err, errlen, "user_data is larger than %d bytes", USERDATA_MAX);
		return -E2BIG;
	}
	if (memchr(ud, '\0', len) != NULL) {
		snprintf(err, errlen, "user_data must not contain NUL");
		return -EINVAL;
	}
	if (userdata_kind(ud, len) != USERDATA_CLOUD_CONFIG)
		return 0;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)ud, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen,
			 "user_data: malformed YAML at line %zu column %zu: %s",
			 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "parse error");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	/* One document, as cloud-init's safe_load wants. */
	if (!yaml_parser_load(&parser, &extra)) {
		snprintf(err, errlen,
			 "user_data: malformed YAML at line %zu column %zu: %s",
			 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "parse error");
		yaml_document_delete(&doc);
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	r = yaml_document_get_root_node(&extra) != NULL;
	yaml_document_delete(&extra);
	yaml_parser_delete(&parser);
	if (r) {
		yaml_document_delete(&doc);
		snprintf(err, errlen,
			 "user_data: a #cloud-config must be one YAML document");
		return -EINVAL;
	}
	puts_(&u, "cloudlet-config 1\n");
	walk(&u, yaml_document_get_root_node(&doc));
	yaml_document_delete(&doc);
	if (u.err != 0) {
		free(u.out);
		return u.err;
	}
	*form = u.out;
	return 0;
}
