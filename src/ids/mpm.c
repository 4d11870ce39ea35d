/*
 * mpm.c - Hyperscan databases (mpm.h), compiled with hs_compile_lit_multi
 * (no escaping: patterns are bytes), cached by a hash of their pattern list
 * and compared in full before one is shared.
 */
#include <errno.h>
#include <hs/hs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpm.h"

struct mpm_db {
	hs_database_t *hs;
	uint64_t hash;
	uint8_t *key; /* the pattern list, serialised, for the exact comparison */
	size_t keylen, bytes;
	unsigned refs;
	int scratch_ok; /* the scratch space fits it (set by the scanning thread) */
	struct mpm_db *next;
};

/* The cache is shared by the scanning thread and a rule builder thread;
 * compiling happens outside the lock. The scratch space belongs to the
 * scanning thread alone: it is fitted to a database at its first scan. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mpm_db *cache;
static hs_scratch_t *scratch;
static unsigned shared_hits;

static struct mpm_db *
lookup(uint64_t hash, const uint8_t *key, size_t keylen)
{
	for (struct mpm_db *db = cache; db; db = db->next)
		if (db->hash == hash && db->keylen == keylen && memcmp(db->key, key, keylen) == 0)
			return db;
	return NULL;
}

static uint8_t *
serialise(const struct mpm_pat *pats, unsigned n, size_t *len, uint64_t *hash)
{
	size_t total = 0, o = 0;
	uint8_t *k;
	uint64_t h = 1469598103934665603ull;

	for (unsigned i = 0; i < n; i++)
		total += 3u + pats[i].len;
	k = malloc(total ? total : 1);
	if (!k)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		k[o++] = (uint8_t)(pats[i].len >> 8);
		k[o++] = (uint8_t)pats[i].len;
		k[o++] = pats[i].nocase;
		memcpy(k + o, pats[i].p, pats[i].len);
		o += pats[i].len;
	}
	for (size_t i = 0; i < total; i++) {
		h ^= k[i];
		h *= 1099511628211ull;
	}
	*len = total;
	*hash = h;
	return k;
}

int
mpm_db_get(const struct mpm_pat *pats, unsigned n, struct mpm_db **out, char *err, size_t errlen)
{
	struct mpm_db *db;
	const char **expr = NULL;
	unsigned *flags = NULL, *ids = NULL;
	size_t *lens = NULL, keylen;
	hs_compile_error_t *cerr = NULL;
	uint64_t hash;
	uint8_t *key;
	int r = -ENOMEM;

	*out = NULL;
	if (n == 0)
		return -EINVAL;
	key = serialise(pats, n, &keylen, &hash);
	if (!key)
		return -ENOMEM;
	pthread_mutex_lock(&lock);
	db = lookup(hash, key, keylen);
	if (db) {
		db->refs++;
		shared_hits++;
	}
	pthread_mutex_unlock(&lock);
	if (db) {
		free(key);
		*out = db;
		return 0;
	}
	db = calloc(1, sizeof(*db));
	expr = calloc(n, sizeof(*expr));
	flags = calloc(n, sizeof(*flags));
	ids = calloc(n, sizeof(*ids));
	lens = calloc(n, sizeof(*lens));
	if (!db || !expr || !flags || !ids || !lens)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		expr[i] = (const char *)pats[i].p;
		lens[i] = pats[i].len;
		ids[i] = i;
		flags[i] = HS_FLAG_SINGLEMATCH | (pats[i].nocase ? HS_FLAG_CASELESS : 0);
	}
	if (hs_compile_lit_multi(expr, flags, ids, lens, n, HS_MODE_BLOCK, NULL, &db->hs, &cerr) !=
	    HS_SUCCESS) {
		snprintf(err, errlen, "hyperscan: %s", cerr ? cerr->message : "compile failed");
		hs_free_compile_error(cerr);
		r = -EINVAL;
		goto out;
	}
	hs_database_size(db->hs, &db->bytes);
	db->hash = hash;
	db->key = key;
	db->keylen = keylen;
	db->refs = 1;
	pthread_mutex_lock(&lock);
	{
		/* compiled meanwhile by someone else: use theirs */
		struct mpm_db *other = lookup(hash, key, keylen);

		if (other) {
			other->refs++;
			shared_hits++;
			*out = other;
		} else {
			db->next = cache;
			cache = db;
			*out = db;
			key = NULL;
			db = NULL;
		}
	}
	pthread_mutex_unlock(&lock);
	if (db) {
		hs_free_database(db->hs);
	}
	r = 0;
out:
	free(db);
	free(key);
	free(expr);
	free(flags);
	free(ids);
	free(lens);
	return r;
}

void
mpm_db_put(struct mpm_db *db)
{
	struct mpm_db **pp;
	int last;

	if (!db)
		return;
	pthread_mutex_lock(&lock);
	last = --db->refs == 0;
	if (last)
		for (pp = &cache; *pp; pp = &(*pp)->next)
			if (*pp == db) {
				*pp = db->next;
				break;
			}
	pthread_mutex_unlock(&lock);
	if (!last)
		return;
	hs_free_database(db->hs);
	free(db->key);
	free(db);
}

size_t
mpm_db_size(const struct mpm_db *db)
{
	return db ? db->bytes : 0;
}

struct scanctx {
	void (*cb)(void *, unsigned);
	void *arg;
};

static int
on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
	struct scanctx *c = ctx;

	(void)from;
	(void)to;
	(void)flags;
	c->cb(c->arg, id);
	return 0;
}

int
mpm_scan(struct mpm_db *db, const uint8_t *data, size_t len,
	 void (*cb)(void *arg, unsigned id), void *arg)
{
	struct scanctx c = {cb, arg};

	if (!db || len == 0)
		return 0;
	if (!db->scratch_ok) {
		if (hs_alloc_scratch(db->hs, &scratch) != HS_SUCCESS)
			return -ENOMEM;
		db->scratch_ok = 1;
	}
	if (len > UINT32_MAX)
		len = UINT32_MAX;
	return hs_scan(db->hs, (const char *)data, (unsigned)len, 0, scratch, on_match, &c) ==
			       HS_SUCCESS
		       ? 0
		       : -EIO;
}

void
mpm_cache_stats(unsigned *live, unsigned *hits, size_t *bytes)
{
	unsigned n = 0;
	size_t b = 0;

	pthread_mutex_lock(&lock);
	for (struct mpm_db *db = cache; db; db = db->next) {
		n++;
		b += db->bytes;
	}
	pthread_mutex_unlock(&lock);
	if (live)
		*live = n;
	if (hits)
		*hits = shared_hits; /* a statistic: read without the lock */
	if (bytes)
		*bytes = b;
}
