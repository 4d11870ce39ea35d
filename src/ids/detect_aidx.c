/*
 * detect_aidx.c - interval indexes of rules by a header side
 * (detect_aidx.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "detect_aidx.h"

static int
cmp_bound(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

long
aidx_find(const struct aidx *x, uint32_t v)
{
	size_t lo = 0, hi = x->nseg;

	if (!x->nseg || v < x->bound[0])
		return -1;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (x->bound[mid] <= v)
			lo = mid;
		else
			hi = mid;
	}
	return (long)lo;
}

static const struct addrset *
side(const struct rule *r, int which)
{
	switch (which) {
	case 0: return &r->src;
	case 1: return &r->dst;
	case 2: return &r->sp;
	default: return &r->dp;
	}
}

int
aidx_build(struct aidx *x, struct rule *const *rules, const uint32_t *idx, uint32_t n,
	   int which)
{
	size_t nb = 0, cap = 0, pairs = 0;
	uint32_t *b = NULL;

	for (uint32_t i = 0; i < n; i++) {
		const struct addrset *a = side(rules[idx[i]], which);

		cap += 2u * a->n;
	}
	if (cap == 0)
		return 0;
	b = malloc((cap + 1) * sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const struct addrset *a = side(rules[idx[i]], which);

		for (int k = 0; k < a->n; k++) {
			b[nb++] = a->r[k].lo;
			if (a->r[k].hi != UINT32_MAX)
				b[nb++] = a->r[k].hi + 1;
		}
	}
	qsort(b, nb, sizeof(*b), cmp_bound);
	{
		size_t o = 0;

		for (size_t i = 0; i < nb; i++)
			if (o == 0 || b[i] != b[o - 1])
				b[o++] = b[i];
		nb = o;
	}
	x->bound = b;
	x->nseg = (uint32_t)nb;
	x->off = calloc(nb + 1, sizeof(*x->off));
	if (!x->off)
		return -ENOMEM;
	/* count, then fill (CSR) */
	for (int pass = 0; pass < 2; pass++) {
		uint32_t *fill = NULL;

		if (pass == 1) {
			for (size_t i = 0; i < nb; i++)
				x->off[i + 1] += x->off[i];
			pairs = x->off[nb];
			x->rules = malloc((pairs ? pairs : 1) * sizeof(*x->rules));
			fill = calloc(nb, sizeof(*fill));
			if (!x->rules || !fill) {
				free(fill);
				return -ENOMEM;
			}
		}
		for (uint32_t i = 0; i < n; i++) {
			const struct addrset *a = side(rules[idx[i]], which);

			for (int k = 0; k < a->n; k++) {
				long s0 = aidx_find(x, a->r[k].lo);

				for (long sgi = s0; sgi >= 0 && (size_t)sgi < nb &&
						    x->bound[sgi] <= a->r[k].hi;
				     sgi++) {
					if (pass == 0)
						x->off[sgi + 1]++;
					else
						x->rules[x->off[sgi] + fill[sgi]++] = idx[i];
					if (sgi == (long)nb - 1 || x->bound[sgi + 1] == 0)
						break;
				}
			}
		}
		free(fill);
	}
	return 0;
}

void
aidx_free(struct aidx *x)
{
	free(x->bound);
	free(x->off);
	free(x->rules);
}
