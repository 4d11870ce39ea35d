/*
 * alert.h - the alert log: device failures, checksum repairs, malware
 * findings. Kept in <pool-dir>/alerts.jsonl (one JSON object per line,
 * appended) and in memory (the newest ALERT_KEEP). Thread-safe; never
 * takes pool.lock, so any path may raise an alert.
 */
#ifndef CLOUDLET_ALERT_H
#define CLOUDLET_ALERT_H

#include <jansson.h>
#include <stdint.h>

#define ALERT_KEEP 10000
#define ALERT_LIST_MAX 1000

/* Load the log of dir (creates it). */
int alert_open(const char *dir);
void alert_close(void);

/* Record a (consumes the reference): sets seq and time; returns seq or 0. */
uint64_t alert_add(json_t *a);

/* Alerts with seq > since, at most limit: a new array; *last the highest seq. */
json_t *alert_list(uint64_t since, size_t limit, uint64_t *last);

#endif
