/*
 * scanner.h - signature scanning of volumes (scan.h does the matching):
 * - inline: every write's range, widened by the engine's window on both
 *   sides, is queued (coalesced per volume) and read back from the volume
 *   by a background thread, so a signature crossing a write or extent
 *   boundary is still found;
 * - on demand (the control op `scan`): a snapshot of the volume is scanned
 *   while its VM keeps running, then deleted (kept if quarantine asked);
 * - scheduled: every volume each interval seconds (0: never).
 * Findings become alerts of kind "malware".
 */
#ifndef CLOUDLET_SCANNER_H
#define CLOUDLET_SCANNER_H

#include "pool.h"

int scanner_start(struct pool *p, const char *sigdir, int inline_scan, unsigned interval_s);
void scanner_stop(void);

#endif
