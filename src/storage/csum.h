/*
 * csum.h - CRC-32C (Castagnoli), the checksum of every data block and every
 * metadata record. Uses the SSE4.2 instruction when the CPU has it, a table
 * otherwise; both give the same values.
 */
#ifndef CLOUDLET_CSUM_H
#define CLOUDLET_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* crc of len bytes continuing from crc (start with 0). */
uint32_t csum_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
