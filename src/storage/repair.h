/*
 * repair.h - device failure, rebuild onto a replacement, scrub, and the
 * recovery pass after an unclean shutdown.
 *
 * A background thread (repair_start) records device failures in the
 * journal (the I/O path that saw the error only flips the device state),
 * checks every healthy device's superblock each second (a truncated,
 * zeroed or deleted backing file is noticed without waiting for a read),
 * makes writes durable every 5 s, checkpoints a long journal, and runs a
 * rebuild when a device is being replaced.
 */
#ifndef CLOUDLET_REPAIR_H
#define CLOUDLET_REPAIR_H

#include <stddef.h>

#include "pool.h"

/* Install the pool's failure hooks (before any I/O). */
void repair_init(struct pool *p);

/* After an unclean shutdown: verify every extent, resync mirrors. */
int repair_recover(struct pool *p, struct pool_check_stats *st);

int repair_start(struct pool *p);
void repair_stop(void);

/* Operator: mark device idx failed. -ENOENT, -EALREADY, -EBUSY. */
int repair_device_fail(struct pool *p, int idx, const char *reason, char *err, size_t errlen);

/* Operator: replace failed device idx by path and rebuild in the background. */
int repair_device_replace(struct pool *p, int idx, const char *path, char *err, size_t errlen);

/* Verify every checksum of every extent, repairing what a good copy allows. */
int repair_scrub(struct pool *p, struct pool_check_stats *st);

#endif
