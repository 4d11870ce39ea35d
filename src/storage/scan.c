/* scan.c - see scan.h; the design is explained in docs/scan.md */
#include "scan.h"

#include <clamav.h>
#include <yara.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/*
 * Chunk size of a stream. Large enough that the overlap (at most 64 KiB)
 * costs little and that a regular file below it is scanned as one piece
 * (so whole-file hash signatures still match), small enough to stay cheap
 * per stream (one allocation each).
 */
#define STREAM_CHUNK SCAN_STREAM_CHUNK

/*
 * ClamAV only says which signatures matched a buffer, not where. To place
 * a hit, the buffer is cut into chunks of LOCATE_CHUNK bytes (plus the
 * window) and a chunk that still matches is bisected; bisection costs about
 * 2 * log2(chunk) scans of at most a chunk, so chunks stay small.
 */
#define LOCATE_CHUNK (256u << 10)

/* Distinct ClamAV signature names tracked per scan; more are dropped. */
#define CL_NAMES_MAX 64
#define CL_NAME_LEN 256

/* Longest line read from a signature file while deriving the window. */
#define SIGLINE_MAX (1u << 20)

/* Where libclamav's per-scan temporary directories go (see cl_engine_setup). */
#define SCAN_FAST_TMPDIR "/dev/shm"

/* A YARA scan that runs longer than this (seconds) is an error. */
#define YR_TIMEOUT 60

struct scan_engine {
	struct cl_engine *cl; /* NULL when the directory has no ClamAV file */
	YR_RULES *yr;	      /* NULL when it has no YARA file */
	size_t window;
};

struct scan_stream {
	struct scan_engine *eng;
	scan_hit_fn cb;
	void *arg;
	uint8_t *data;	      /* STREAM_CHUNK bytes */
	size_t fill;	      /* bytes held in data */
	uint64_t base;	      /* absolute offset of data[0] */
	uint64_t scanned_end; /* absolute end of the last chunk scanned */
	int err;	      /* first error; the stream is dead after it */
};

/* Where hits go during one scan_buffer()-like call. */
struct report {
	scan_hit_fn cb;
	void *arg;
	uint64_t base;	  /* absolute offset of the buffer */
	uint64_t min_end; /* hits ending at or before this were reported already */
	unsigned n;
	bool full;
};

/* ClamAV per-scan context: the names its virus-found callback saw. */
struct clctx {
	unsigned n;
	bool dropped;
	char names[CL_NAMES_MAX][CL_NAME_LEN];
};

static pthread_once_t scan_once = PTHREAD_ONCE_INIT;
static int scan_init_err;

/* ------------------------------------------------------------------ */
/* Library initialisation and logging                                  */

static void
clamav_msg(enum cl_msg severity, const char *fullmsg, const char *msg, void *ctx)
{
	size_t n = strlen(msg);

	(void)fullmsg;
	(void)ctx;
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		n--;
	if (severity >= CL_MSG_WARN)
		log_warnx("libclamav: %.*s", (int)n, msg);
	else
		log_debug("libclamav: %.*s", (int)n, msg);
}

static void
scan_init_once(void)
{
	cl_error_t crc;
	int yrc;

	/* Before cl_init, so that its own messages use our log too. */
	cl_set_clcb_msg(clamav_msg);
	crc = cl_init(CL_INIT_DEFAULT);
	if (crc != CL_SUCCESS) {
		log_warnx("scan: cl_init: %s", cl_strerror(crc));
		scan_init_err = -EIO;
		return;
	}
	/* yr_finalize is never called: both libraries live as long as the process. */
	yrc = yr_initialize();
	if (yrc != ERROR_SUCCESS) {
		log_warnx("scan: yr_initialize failed (yara error %d)", yrc);
		scan_init_err = -EIO;
	}
}

/* ------------------------------------------------------------------ */
/* Window: the longest match a single signature string can produce     */

static size_t
clamp_window(size_t n)
{
	return n > SCAN_MAX_WINDOW ? SCAN_MAX_WINDOW : n;
}

/*
 * Upper bound of the bytes a ClamAV body signature (ndb/ldb subsignature
 * hex syntax) can span. Unbounded forms ('*', "{n-}") give the cap.
 */
static size_t
cl_hex_span(const char *p, const char *end)
{
	size_t bytes = 0, nibbles = 0;

	while (p < end) {
		char c = *p;

		if (c == '*')
			return SCAN_MAX_WINDOW;
		if (c == '{' || c == '[') {
			char close = c == '{' ? '}' : ']';
			const char *q = memchr(p, close, (size_t)(end - p));
			const char *dash;
			unsigned long v;

			if (q == NULL)
				return SCAN_MAX_WINDOW;
			dash = memchr(p, '-', (size_t)(q - p));
			if (dash != NULL && dash + 1 == q)
				return SCAN_MAX_WINDOW; /* {n-}: no upper bound */
			v = strtoul(dash != NULL ? dash + 1 : p + 1, NULL, 10);
			bytes += clamp_window(v);
			p = q + 1;
			continue;
		}
		if (c == '(') {
			/* Alternatives (aa|bbcc): the longest one; (B) (L) (W) anchors
			 * take 0. */
			const char *q = memchr(p, ')', (size_t)(end - p));
			size_t best = 0, cur = 0;

			if (q == NULL)
				return SCAN_MAX_WINDOW;
			for (const char *r = p + 1; r < q; r++) {
				if (*r == '|') {
					best = cur > best ? cur : best;
					cur = 0;
				} else if (*r != ' ' && *r != '!') {
					cur++;
				}
			}
			best = cur > best ? cur : best;
			if (!(q - p == 2 && (p[1] == 'B' || p[1] == 'L' || p[1] == 'W')))
				bytes += (best + 1) / 2;
			p = q + 1;
			continue;
		}
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F') || c == '?')
			nibbles++;
		p++;
	}
	bytes += (nibbles + 1) / 2;
	return clamp_window(bytes);
}

/* One ldb subsignature: [offset:]hex[::modifiers], or a PCRE one. */
static size_t
cl_subsig_span(const char *p, const char *end)
{
	const char *mod, *colon = NULL;

	if (memchr(p, '/', (size_t)(end - p)) != NULL)
		return SCAN_MAX_WINDOW; /* PCRE: no static bound */
	for (mod = p; mod + 1 < end; mod++)
		if (mod[0] == ':' && mod[1] == ':')
			break;
	if (mod + 1 < end)
		end = mod;
	for (const char *r = p; r < end; r++)
		if (*r == ':')
			colon = r;
	if (colon != NULL)
		p = colon + 1;
	return cl_hex_span(p, end);
}

/* Field number `field` (0-based) of a line split by sep, as [*b, *e). */
static bool
field_at(const char *line, char sep, int field, const char **b, const char **e)
{
	const char *p = line;

	for (int i = 0; i < field; i++) {
		p = strchr(p, sep);
		if (p == NULL)
			return false;
		p++;
	}
	*b = p;
	*e = strchr(p, sep);
	if (*e == NULL)
		*e = p + strlen(p);
	return true;
}

enum sigkind {
	SIG_NONE,
	SIG_YARA,
	SIG_CL_BODY,
	SIG_CL_LOGICAL,
	SIG_CL_OLD,
	SIG_CL_OTHER,
	SIG_CL_PACKED
};

static enum sigkind
sig_kind(const char *name)
{
	/* Extensions cl_load() knows (ClamAV's signature format manual). */
	static const char *const other[] = {
	    "hdb", "hdu", "hsb", "hsu", "mdb",	"mdu", "msb",  "msu",  "sdb", "zmd",
	    "rmd", "idb", "fp",	 "sfp", "gdb",	"pdb", "wdb",  "cbc",  "cdb", "cfg",
	    "crb", "cat", "ftm", "ign", "ign2", "imp", "info", "pwdb",
	};
	const char *ext = strrchr(name, '.');

	if (ext == NULL)
		return SIG_NONE;
	ext++;
	if (!strcmp(ext, "yar") || !strcmp(ext, "yara"))
		return SIG_YARA;
	if (!strcmp(ext, "ndb") || !strcmp(ext, "ndu"))
		return SIG_CL_BODY;
	if (!strcmp(ext, "ldb") || !strcmp(ext, "ldu"))
		return SIG_CL_LOGICAL;
	if (!strcmp(ext, "db"))
		return SIG_CL_OLD;
	if (!strcmp(ext, "cvd") || !strcmp(ext, "cld") || !strcmp(ext, "cud"))
		return SIG_CL_PACKED;
	for (size_t i = 0; i < ARRAY_LEN(other); i++)
		if (!strcmp(ext, other[i]))
			return SIG_CL_OTHER;
	return SIG_NONE;
}

/*
 * The longest span of any body signature in a ClamAV text database. Hash
 * and metadata formats contribute nothing (they match whole buffers, no
 * window helps); packed databases (cvd) cannot be read here, so they give
 * the cap.
 */
static size_t
cl_file_span(const char *path, enum sigkind kind)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0, best = 0;
	ssize_t n;

	if (kind == SIG_CL_PACKED)
		return SCAN_MAX_WINDOW;
	if (kind == SIG_CL_OTHER)
		return 0;
	f = fopen(path, "re");
	if (f == NULL)
		return SCAN_MAX_WINDOW; /* cl_load reports the real error */
	while ((n = getline(&line, &cap, f)) > 0 && best < SCAN_MAX_WINDOW) {
		const char *b, *e;

		if ((size_t)n > SIGLINE_MAX) {
			best = SCAN_MAX_WINDOW;
			break;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (kind == SIG_CL_BODY && field_at(line, ':', 3, &b, &e)) {
			size_t s = cl_hex_span(b, e);
			best = s > best ? s : best;
		} else if (kind == SIG_CL_OLD && (b = strchr(line, '=')) != NULL) {
			size_t s = cl_hex_span(b + 1, b + 1 + strlen(b + 1));
			best = s > best ? s : best;
		} else if (kind == SIG_CL_LOGICAL) {
			/* Name;TargetDescription;LogicalExpression;Subsig0;Subsig1... */
			for (int i = 3; field_at(line, ';', i, &b, &e); i++) {
				size_t s = cl_subsig_span(b, e);
				best = s > best ? s : best;
			}
		}
	}
	free(line);
	fclose(f);
	return clamp_window(best);
}

/*
 * Upper bound of a YARA string's match length. Literal strings are exact
 * (doubled for wide, grown for base64); regular expressions and hex
 * strings with jumps cannot match more than YR_RE_SCAN_LIMIT bytes forward;
 * chained pieces (hex strings split at large jumps) add the gap and the
 * pieces they are chained to.
 */
static size_t
yr_string_span(const YR_STRING *s)
{
	size_t total = 0;

	for (int depth = 0; s != NULL && depth < 64; depth++) {
		size_t n = STRING_IS_LITERAL(s) && s->length > 0 ? (size_t)s->length
								 : YR_RE_SCAN_LIMIT;

		if (STRING_IS_WIDE(s))
			n *= 2;
		if (s->flags & STRING_FLAGS_BASE64_WIDE)
			n = n * 8 / 3 + 8;
		else if (s->flags & STRING_FLAGS_BASE64)
			n = n * 4 / 3 + 4;
		total += n;
		if (s->chained_to == NULL)
			break;
		total +=
		    s->chain_gap_max > 0 ? (size_t)s->chain_gap_max : SCAN_MAX_WINDOW;
		if (total >= SCAN_MAX_WINDOW)
			break;
		s = s->chained_to;
	}
	return clamp_window(total);
}

/* ------------------------------------------------------------------ */
/* Loading                                                              */

struct yr_load {
	const char *file; /* the file being compiled, for messages */
	bool failed;
};

static void
yr_compile_msg(int level, const char *file, int line, const YR_RULE *rule,
	       const char *msg, void *arg)
{
	struct yr_load *ld = arg;

	(void)rule;
	if (file == NULL)
		file = ld->file;
	if (level == YARA_ERROR_LEVEL_ERROR) {
		ld->failed = true;
		log_warnx("scan: %s:%d: YARA rule error: %s", file, line, msg);
	} else {
		log_info("scan: %s:%d: YARA warning: %s", file, line, msg);
	}
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory's entries (sorted, hidden ones skipped); caller frees. */
static int
list_dir(const char *dir, char ***out, size_t *outn)
{
	DIR *d;
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;
	int rc = -ENOMEM;

	d = opendir(dir);
	if (d == NULL) {
		rc = -errno;
		log_warn("scan: signature directory %s", dir);
		return rc;
	}
	v = calloc(SCAN_MAX_SIGFILES, sizeof(*v));
	if (v == NULL)
		goto out;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == SCAN_MAX_SIGFILES) {
			log_warnx("scan: %s: more than %d entries", dir,
				  SCAN_MAX_SIGFILES);
			rc = -E2BIG;
			goto out;
		}
		v[n] = strdup(de->d_name);
		if (v[n] == NULL)
			goto out;
		n++;
	}
	if (errno != 0) {
		rc = -errno;
		log_warn("scan: reading %s", dir);
		goto out;
	}
	qsort(v, n, sizeof(*v), cmp_names);
	*out = v;
	*outn = n;
	v = NULL;
	n = 0;
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	closedir(d);
	return rc;
}

static void clamav_found(int fd, const char *virname, void *arg);

static int
cl_engine_setup(struct cl_engine **out)
{
	struct cl_engine *cl = cl_engine_new();
	cl_error_t crc = CL_SUCCESS;

	if (cl == NULL)
		return -ENOMEM;
	/*
	 * Buffers up to SCAN_MAX_BUFFER must be scanned whole: ClamAV skips
	 * (reports clean) data larger than its size limits.
	 */
	crc |= cl_engine_set_num(cl, CL_ENGINE_MAX_FILESIZE, 2LL * SCAN_MAX_BUFFER);
	crc |= cl_engine_set_num(cl, CL_ENGINE_MAX_SCANSIZE, 2LL * SCAN_MAX_BUFFER);
	/*
	 * The clean-file cache keys on an MD5 of each whole buffer: for disk
	 * blocks that rarely repeat it is pure hashing cost, and it would let
	 * the bisection of one hit answer from a previous scan.
	 */
	crc |= cl_engine_set_num(cl, CL_ENGINE_DISABLE_CACHE, 1);
	/*
	 * Aho-Corasick for every body signature, no Boyer-Moore matcher:
	 * measured 2.7x faster on data that matches nothing (the normal case
	 * for disk blocks), at the cost of more memory per signature.
	 * XXX not yet measured with the official ClamAV databases loaded.
	 */
	crc |= cl_engine_set_num(cl, CL_ENGINE_AC_ONLY, 1);
	/*
	 * libclamav makes and removes a temporary directory for every scan,
	 * even when it extracts nothing: on a disk file system that was 70 %
	 * of the time of a 4 KiB scan. On tmpfs a 4 KiB scan takes 3.5x less.
	 * TMPDIR, when set, wins (the operator chose it).
	 */
	if (getenv("TMPDIR") == NULL && access(SCAN_FAST_TMPDIR, W_OK | X_OK) == 0)
		crc |= cl_engine_set_str(cl, CL_ENGINE_TMPDIR, SCAN_FAST_TMPDIR);
	/* Engine-wide, set before compile; the per-scan context says where names go. */
	cl_engine_set_clcb_virus_found(cl, clamav_found);
	if (crc != CL_SUCCESS) {
		log_warnx("scan: cannot set ClamAV engine limits");
		cl_engine_free(cl);
		return -EIO;
	}
	*out = cl;
	return 0;
}

static int
load_yara(YR_COMPILER *comp, const char *path, struct yr_load *ld)
{
	FILE *f;
	int nerr;

	f = fopen(path, "re");
	if (f == NULL) {
		int rc = -errno;
		log_warn("scan: %s", path);
		return rc;
	}
	ld->file = path;
	ld->failed = false;
	nerr = yr_compiler_add_file(comp, f, NULL, path);
	fclose(f);
	if (nerr > 0 || ld->failed) {
		log_warnx("scan: %s: %d YARA error(s), signature directory refused", path,
			  nerr);
		return -EINVAL;
	}
	return 0;
}

static int
load_clamav(struct scan_engine *eng, const char *path, unsigned *nsigs)
{
	cl_error_t crc;
	unsigned before = *nsigs;
	int rc;

	if (eng->cl == NULL && (rc = cl_engine_setup(&eng->cl)) < 0)
		return rc;
	/*
	 * Default database options (as clamscan), minus ClamAV's own YARA
	 * subset: .yar files go to libyara, which implements all of YARA.
	 */
	crc = cl_load(path, eng->cl, nsigs, CL_DB_STDOPT | CL_DB_YARA_EXCLUDE);
	if (crc != CL_SUCCESS) {
		log_warnx("scan: %s: ClamAV database refused: %s", path,
			  cl_strerror(crc));
		return -EINVAL;
	}
	log_debug("scan: %s: %u ClamAV signatures", path, *nsigs - before);
	return 0;
}

int
scan_engine_open(const char *sigdir, struct scan_engine **out)
{
	struct scan_engine *eng = NULL;
	YR_COMPILER *comp = NULL;
	struct yr_load ld = {0};
	char **names = NULL;
	size_t nnames = 0, longest = 0;
	unsigned clsigs = 0, clfiles = 0, yrfiles = 0, yrrules = 0;
	char path[4096];
	int rc;

	*out = NULL;
	pthread_once(&scan_once, scan_init_once);
	if (scan_init_err < 0)
		return scan_init_err;
	rc = list_dir(sigdir, &names, &nnames);
	if (rc < 0)
		return rc;
	rc = -ENOMEM;
	eng = calloc(1, sizeof(*eng));
	if (eng == NULL)
		goto out;

	for (size_t i = 0; i < nnames; i++) {
		enum sigkind kind = sig_kind(names[i]);
		struct stat st;

		rc = util_fmt(path, sizeof(path), "%s/%s", sigdir, names[i]);
		if (rc < 0)
			goto out;
		if (stat(path, &st) < 0) {
			rc = -errno;
			log_warn("scan: %s", path);
			goto out;
		}
		if (!S_ISREG(st.st_mode) || kind == SIG_NONE) {
			log_debug("scan: %s: not a signature file, skipped", path);
			continue;
		}
		if ((uint64_t)st.st_size > SCAN_MAX_SIGFILE) {
			log_warnx("scan: %s: larger than %u bytes", path,
				  SCAN_MAX_SIGFILE);
			rc = -EFBIG;
			goto out;
		}
		if (kind == SIG_YARA) {
			if (comp == NULL && yr_compiler_create(&comp) != ERROR_SUCCESS) {
				rc = -ENOMEM;
				goto out;
			}
			yr_compiler_set_callback(comp, yr_compile_msg, &ld);
			rc = load_yara(comp, path, &ld);
			if (rc < 0)
				goto out;
			yrfiles++;
		} else {
			size_t span;

			rc = load_clamav(eng, path, &clsigs);
			if (rc < 0)
				goto out;
			span = cl_file_span(path, kind);
			longest = span > longest ? span : longest;
			clfiles++;
		}
	}
	if (clfiles == 0 && yrfiles == 0) {
		log_warnx("scan: %s: no signature files (.ndb .hdb .ldb ... or .yar)",
			  sigdir);
		rc = -ENOENT;
		goto out;
	}
	if (eng->cl != NULL) {
		cl_error_t crc;

		/* The virus-found callback must be set before compile. */
		crc = cl_engine_compile(eng->cl);
		if (crc != CL_SUCCESS) {
			log_warnx("scan: %s: ClamAV engine compile: %s", sigdir,
				  cl_strerror(crc));
			rc = -EINVAL;
			goto out;
		}
	}
	if (comp != NULL) {
		const YR_RULE *rule;
		const YR_STRING *s;

		if (yr_compiler_get_rules(comp, &eng->yr) != ERROR_SUCCESS) {
			rc = -ENOMEM;
			goto out;
		}
		yr_rules_foreach(eng->yr, rule)
		{
			yrrules++;
			yr_rule_strings_foreach(rule, s)
			{
				size_t span = yr_string_span(s);
				longest = span > longest ? span : longest;
			}
		}
	}
	/*
	 * Round up to whole 4 KiB blocks: callers read disk blocks anyway, so
	 * a smaller overlap would save no I/O, and the slack covers signature
	 * forms the span estimate might undercount.
	 */
	eng->window = clamp_window((longest + 4095) / 4096 * 4096);
	if (eng->window == 0)
		eng->window = 4096;
	log_info("scan: %s: %u ClamAV signatures (%u files), %u YARA rules (%u files), "
		 "window %zu bytes",
		 sigdir, clsigs, clfiles, yrrules, yrfiles, eng->window);
	*out = eng;
	eng = NULL;
	rc = 0;
out:
	if (comp != NULL)
		yr_compiler_destroy(comp);
	scan_engine_free(eng);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	return rc;
}

void
scan_engine_free(struct scan_engine *eng)
{
	if (eng == NULL)
		return;
	if (eng->cl != NULL)
		cl_engine_free(eng->cl);
	if (eng->yr != NULL)
		yr_rules_destroy(eng->yr);
	free(eng);
}

size_t
scan_engine_window(const struct scan_engine *eng)
{
	return eng != NULL ? eng->window : SCAN_MAX_WINDOW;
}

/* ------------------------------------------------------------------ */
/* Reporting                                                            */

/* Report [start, end) (relative to the buffer). Returns false once full. */
static bool
report_hit(struct report *r, const char *engine, const char *sig, uint64_t start,
	   uint64_t end)
{
	struct scan_hit hit;

	if (r->full)
		return false;
	/* Complete in an earlier chunk of the same stream: reported there. */
	if (r->base + end <= r->min_end)
		return true;
	if (r->n >= SCAN_MAX_HITS) {
		log_warnx(
		    "scan: more than %d hits in one buffer at offset %llu; rest dropped",
		    SCAN_MAX_HITS, (unsigned long long)r->base);
		r->full = true;
		return false;
	}
	hit.engine = engine;
	hit.signature = sig;
	hit.offset = r->base + start;
	r->cb(r->arg, &hit);
	r->n++;
	return true;
}

/* ------------------------------------------------------------------ */
/* ClamAV                                                               */

static void
clamav_found(int fd, const char *virname, void *arg)
{
	struct clctx *c = arg;

	(void)fd;
	if (c == NULL || virname == NULL)
		return;
	for (unsigned i = 0; i < c->n; i++)
		if (!strcmp(c->names[i], virname))
			return;
	if (c->n == CL_NAMES_MAX) {
		c->dropped = true;
		return;
	}
	snprintf(c->names[c->n++], CL_NAME_LEN, "%s", virname);
}

/* All names ClamAV finds in buf[s, e) go into c (which is reset first). */
static int
cl_scan(const struct scan_engine *eng, struct clctx *c, const uint8_t *buf, size_t s,
	size_t e)
{
	/*
	 * Raw data: all-match so that every signature in the buffer is named,
	 * and no parsers (archives, documents, executables, mail) and no
	 * heuristics: a disk block is not a file, and unpacking guest data in
	 * the storage server would only widen its attack surface.
	 */
	struct cl_scan_options opts = {.general = CL_SCAN_GENERAL_ALLMATCHES};
	const char *virname = NULL;
	unsigned long scanned = 0;
	cl_fmap_t *map;
	cl_error_t crc;

	c->n = 0;
	if (e <= s)
		return 0;
	map = cl_fmap_open_memory(buf + s, e - s);
	if (map == NULL)
		return -ENOMEM;
	crc = cl_scanmap_callback(map, NULL, &virname, &scanned, eng->cl, &opts, c);
	cl_fmap_close(map);
	if (crc != CL_CLEAN && crc != CL_VIRUS) {
		log_warnx("scan: ClamAV scan failed: %s", cl_strerror(crc));
		return -EIO;
	}
	/* Older libclamav versions name the first match only through virname. */
	if (crc == CL_VIRUS && c->n == 0 && virname != NULL)
		clamav_found(-1, virname, c);
	return 0;
}

static int
cl_has(const struct scan_engine *eng, struct clctx *c, const uint8_t *buf, size_t s,
       size_t e, const char *name, bool *yes)
{
	int rc = cl_scan(eng, c, buf, s, e);

	*yes = false;
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < c->n; i++)
		if (!strcmp(c->names[i], name))
			*yes = true;
	return 0;
}

/*
 * Place the matches of `name` in buf[from, to): repeatedly find the
 * smallest end E such that [from, E) matches, then the largest start S
 * such that [S, E) matches, report S, and go on from S + 1. Matching is
 * monotone in the window for body signatures (a window containing a match
 * matches), which is what makes bisection valid. Only matches starting
 * before own_limit are reported (the next chunk owns the others); at most
 * max_occ are placed.
 */
static int
cl_locate(const struct scan_engine *eng, struct clctx *c, const uint8_t *buf, size_t from,
	  size_t to, size_t own_limit, const char *name, unsigned max_occ,
	  struct report *r)
{
	for (unsigned occ = 0; occ < max_occ && from < to; occ++) {
		size_t lo, hi;
		bool yes;
		int rc;

		rc = cl_has(eng, c, buf, from, to, name, &yes);
		if (rc < 0 || !yes)
			return rc;
		for (lo = from + 1, hi = to; lo < hi;) {
			size_t mid = lo + (hi - lo) / 2;

			if ((rc = cl_has(eng, c, buf, from, mid, name, &yes)) < 0)
				return rc;
			if (yes)
				hi = mid;
			else
				lo = mid + 1;
		}
		size_t end = lo;
		for (lo = from, hi = end - 1; lo < hi;) {
			size_t mid = lo + (hi - lo + 1) / 2;

			if ((rc = cl_has(eng, c, buf, mid, end, name, &yes)) < 0)
				return rc;
			if (yes)
				lo = mid;
			else
				hi = mid - 1;
		}
		if (lo >= own_limit)
			return 0;
		if (!report_hit(r, "clamav", name, lo, end))
			return 0;
		from = lo + 1;
	}
	return 0;
}

static int
scan_clamav(const struct scan_engine *eng, const uint8_t *buf, size_t len,
	    struct report *r)
{
	struct clctx *all = NULL, *c = NULL;
	bool seen[CL_NAMES_MAX] = {false};
	size_t chunk = LOCATE_CHUNK, w = eng->window;
	int rc = -ENOMEM;

	all = malloc(sizeof(*all));
	c = malloc(sizeof(*c));
	if (all == NULL || c == NULL)
		goto out;
	all->dropped = c->dropped = false;
	/* The common case, a clean buffer, costs exactly one pass. */
	rc = cl_scan(eng, all, buf, 0, len);
	if (rc < 0 || all->n == 0)
		goto out;
	if (all->dropped)
		log_warnx(
		    "scan: more than %d ClamAV signatures matched; some not reported",
		    CL_NAMES_MAX);
	if (chunk < 4 * w)
		chunk = 4 * w;
	/*
	 * Chunk k covers [k*chunk, (k+1)*chunk + w) and owns the matches that
	 * start before (k+1)*chunk: a match no longer than w is then wholly
	 * inside the chunk that owns it, and only that one reports it.
	 */
	for (size_t from = 0; from < len && !r->full; from += chunk) {
		size_t to = len - from > chunk + w ? from + chunk + w : len;
		size_t own = len - from > chunk ? from + chunk : len;

		if (from == 0 && to == len) {
			memcpy(c, all, sizeof(*c));
		} else if ((rc = cl_scan(eng, c, buf, from, to)) < 0) {
			goto out;
		}
		for (unsigned i = 0; i < all->n && !r->full; i++) {
			bool in = false;

			for (unsigned j = 0; j < c->n; j++)
				in = in || !strcmp(c->names[j], all->names[i]);
			if (!in)
				continue;
			seen[i] = true;
			rc = cl_locate(eng, c, buf, from, to, own, all->names[i],
				       SCAN_MAX_HITS, r);
			if (rc < 0)
				goto out;
		}
	}
	/*
	 * Matches longer than any chunk (whole-buffer hash signatures, logical
	 * signatures whose parts are far apart) are placed once in the buffer.
	 */
	for (unsigned i = 0; i < all->n && !r->full; i++) {
		if (seen[i])
			continue;
		rc = cl_locate(eng, c, buf, 0, len, len, all->names[i], 1, r);
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	free(all);
	free(c);
	return rc;
}

/* ------------------------------------------------------------------ */
/* YARA                                                                 */

struct yrctx {
	struct report *r;
	size_t len;
};

static int
yara_cb(YR_SCAN_CONTEXT *ctx, int msg, void *data, void *arg)
{
	struct yrctx *y = arg;
	const YR_RULE *rule = data;
	const YR_STRING *s;
	const YR_MATCH *m;
	bool any = false;

	if (msg == CALLBACK_MSG_TOO_MANY_MATCHES) {
		s = data;
		log_warnx("scan: YARA string %s: too many matches", s->identifier);
		return CALLBACK_CONTINUE;
	}
	if (msg != CALLBACK_MSG_RULE_MATCHING || RULE_IS_PRIVATE(rule))
		return CALLBACK_CONTINUE;
	/*
	 * XXX libyara 4.2 hands out YR_MATCH records at 4-byte aligned
	 * addresses (its notebook allocator); UBSan's alignment check flags
	 * every access here, including those inside libyara's own macro.
	 * Harmless on x86-64; the sanitizer build needs -fno-sanitize=alignment.
	 */
	yr_rule_strings_foreach(rule, s)
	{
		yr_string_matches_foreach(ctx, s, m)
		{
			uint64_t start = (uint64_t)(m->base + m->offset);

			any = true;
			if (!report_hit(y->r, "yara", rule->identifier, start,
					start + (uint64_t)m->match_length))
				return CALLBACK_ABORT;
		}
	}
	/* A rule without string matches (a condition on the data as a whole). */
	if (!any && !report_hit(y->r, "yara", rule->identifier, 0, y->len))
		return CALLBACK_ABORT;
	return CALLBACK_CONTINUE;
}

static int
scan_yara(const struct scan_engine *eng, const uint8_t *buf, size_t len, struct report *r)
{
	YR_SCANNER *sc = NULL;
	struct yrctx y = {.r = r, .len = len};
	int yrc;

	/* One scanner per call: YR_RULES is shared, a scanner is not. */
	if (yr_scanner_create(eng->yr, &sc) != ERROR_SUCCESS)
		return -ENOMEM;
	yr_scanner_set_callback(sc, yara_cb, &y);
	yr_scanner_set_flags(sc, SCAN_FLAGS_REPORT_RULES_MATCHING);
	yr_scanner_set_timeout(sc, YR_TIMEOUT);
	yrc = yr_scanner_scan_mem(sc, buf, len);
	yr_scanner_destroy(sc);
	if (yrc != ERROR_SUCCESS && !r->full) {
		log_warnx("scan: YARA scan failed (yara error %d)", yrc);
		return -EIO;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Buffers and streams                                                  */

static int
scan_range(struct scan_engine *eng, const void *buf, size_t len, uint64_t base,
	   uint64_t min_end, scan_hit_fn cb, void *arg)
{
	struct report r = {.cb = cb, .arg = arg, .base = base, .min_end = min_end};
	int rc;

	if (eng == NULL || cb == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	if (len > SCAN_MAX_BUFFER)
		return -E2BIG;
	if (base > UINT64_MAX - len)
		return -EOVERFLOW;
	if (len == 0)
		return 0;
	if (eng->cl != NULL && (rc = scan_clamav(eng, buf, len, &r)) < 0)
		return rc;
	if (eng->yr != NULL && !r.full && (rc = scan_yara(eng, buf, len, &r)) < 0)
		return rc;
	return 0;
}

int
scan_buffer(struct scan_engine *eng, const void *buf, size_t len, uint64_t base_offset,
	    scan_hit_fn cb, void *arg)
{
	return scan_range(eng, buf, len, base_offset, 0, cb, arg);
}

int
scan_stream_open(struct scan_engine *eng, uint64_t base_offset, scan_hit_fn cb, void *arg,
		 struct scan_stream **out)
{
	struct scan_stream *st;

	*out = NULL;
	if (eng == NULL || cb == NULL)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	st->data = malloc(STREAM_CHUNK);
	if (st->data == NULL) {
		free(st);
		return -ENOMEM;
	}
	st->eng = eng;
	st->cb = cb;
	st->arg = arg;
	st->base = base_offset;
	st->scanned_end = base_offset;
	*out = st;
	return 0;
}

/*
 * Scan what the stream holds, then keep its last `window` bytes: a match
 * that ends in the next chunk and is no longer than the window starts
 * inside the kept bytes, and a match that ended here is not reported again
 * (report() drops hits ending at or before scanned_end).
 */
static int
stream_flush(struct scan_stream *st, bool last)
{
	size_t keep = st->eng->window;
	int rc;

	if (st->base + st->fill > st->scanned_end) {
		rc = scan_range(st->eng, st->data, st->fill, st->base, st->scanned_end,
				st->cb, st->arg);
		if (rc < 0)
			return rc;
		st->scanned_end = st->base + st->fill;
	}
	if (last || st->fill <= keep)
		return 0;
	memmove(st->data, st->data + st->fill - keep, keep);
	st->base += st->fill - keep;
	st->fill = keep;
	return 0;
}

int
scan_stream_feed(struct scan_stream *st, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (st == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	if (st->err < 0)
		return st->err;
	while (len > 0) {
		size_t n = STREAM_CHUNK - st->fill;

		if (n > len)
			n = len;
		memcpy(st->data + st->fill, p, n);
		st->fill += n;
		p += n;
		len -= n;
		if (st->fill == STREAM_CHUNK) {
			st->err = stream_flush(st, false);
			if (st->err < 0)
				return st->err;
		}
	}
	return 0;
}

int
scan_stream_close(struct scan_stream *st)
{
	int rc;

	if (st == NULL)
		return 0;
	rc = st->err;
	if (rc == 0)
		rc = stream_flush(st, true);
	free(st->data);
	free(st);
	return rc;
}
