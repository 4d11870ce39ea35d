/*
 * fuzz.h - what every libFuzzer harness here shares: the entry point
 * libFuzzer calls, and CHECK, a broken invariant reported with its place
 * and turned into a crash libFuzzer keeps (build.sh).
 */
#ifndef CLOUDLET_FUZZ_H
#define CLOUDLET_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,       \
				__LINE__, #cond);                                        \
			abort();                                                         \
		}                                                                        \
	} while (0)

#endif
