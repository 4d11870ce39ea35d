/*
 * mpm.h - multi-pattern matching with Hyperscan: one block-mode database of
 * literal fast patterns (HS_FLAG_SINGLEMATCH, HS_FLAG_CASELESS for nocase)
 * per rule group and buffer.
 *
 * Databases are shared: mpm_db_get() with a pattern list identical to one
 * already compiled (the same rule files loaded by two tenants) returns the
 * same database with one more reference, instead of compiling it again.
 * The cache may be used from a rule-building thread while the inspecting
 * thread scans (it has a lock; compiles run outside it). The scratch space
 * belongs to the one thread that calls mpm_scan.
 */
#ifndef CLOUDLET_IDS_MPM_H
#define CLOUDLET_IDS_MPM_H

#include <stddef.h>
#include <stdint.h>

struct mpm_pat {
	const uint8_t *p;
	uint16_t len;
	uint8_t nocase;
};

struct mpm_db;

/* Pattern i gets id i. 0 and *out (one reference), or -errno with err. */
int mpm_db_get(const struct mpm_pat *pats, unsigned n, struct mpm_db **out, char *err,
	       size_t errlen);
void mpm_db_put(struct mpm_db *db);
size_t mpm_db_size(const struct mpm_db *db);

/* cb is called once per pattern id found in data. 0 or -EIO. */
int mpm_scan(struct mpm_db *db, const uint8_t *data, size_t len,
	     void (*cb)(void *arg, unsigned id), void *arg);

/* Databases alive, and how many mpm_db_get calls found one in the cache. */
void mpm_cache_stats(unsigned *live, unsigned *shared_hits, size_t *bytes);

#endif
