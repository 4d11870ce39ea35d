/* csum.c - see csum.h */
#include "csum.h"

#include <pthread.h>
#include <string.h>

/*
 * The crc32 instruction has a latency of 3 cycles and a throughput of 1,
 * so one dependency chain uses a third of it: long buffers are taken
 * 3 * LANE bytes at a time as three independent chains, joined with
 * shift[], the CRC register advanced over LANE zero bytes (a linear map,
 * kept as 4 byte tables). 4096-byte blocks: 4080 bytes interleaved.
 */
#define LANE 1360

static uint32_t table[256];
static uint32_t shift[4][256];
static int have_sse42;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		table[i] = c;
	}
	/* The register after LANE zero bytes, for each byte of it alone. */
	for (j = 0; j < 4; j++)
		for (i = 0; i < 256; i++) {
			uint32_t k;

			c = i << (8 * j);
			for (k = 0; k < LANE; k++)
				c = table[c & 0xff] ^ (c >> 8);
			shift[j][i] = c;
		}
#if defined(__x86_64__)
	__builtin_cpu_init();
	have_sse42 = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t
lane_shift(uint32_t c)
{
	return shift[0][c & 0xff] ^ shift[1][(c >> 8) & 0xff] ^ shift[2][(c >> 16) & 0xff] ^
	       shift[3][c >> 24];
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t
hw(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;

	while (len >= 3 * LANE) {
		uint64_t b = 0, d = 0, v;
		size_t i;

		for (i = 0; i < LANE; i += 8) {
			memcpy(&v, p + i, 8);
			c = __builtin_ia32_crc32di(c, v);
			memcpy(&v, p + LANE + i, 8);
			b = __builtin_ia32_crc32di(b, v);
			memcpy(&v, p + 2 * LANE + i, 8);
			d = __builtin_ia32_crc32di(d, v);
		}
		c = lane_shift(lane_shift((uint32_t)c) ^ (uint32_t)b) ^ (uint32_t)d;
		p += 3 * LANE;
		len -= 3 * LANE;
	}
	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

uint32_t
csum_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&once, init);
	crc = ~crc;
#if defined(__x86_64__)
	if (have_sse42)
		return ~hw(crc, p, len);
#endif
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
