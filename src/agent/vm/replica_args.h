/*
 * replica_args.h - the arguments of the replica operations (replica.h),
 * checked before anything is touched. Pure (jansson only), so that it is
 * fuzzed (tests/fuzz/fuzz_replica.c).
 *
 * A refusal is "invalid" (-EINVAL) with what the operation needs; the
 * credentials' PEM texts of replica.send are checked where they are
 * written (vmmigio_write_creds).
 */
#ifndef CLOUDLET_REPLICA_ARGS_H
#define CLOUDLET_REPLICA_ARGS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "operr.h"

#define REPLICA_DISKS_MAX 9		     /* the root and up to 8 volumes */
#define REPLICA_DISK_MAX_BYTES (16ULL << 40) /* 16 TiB */
#define REPLICA_VM_MAX 64		     /* a VM's id */
#define REPLICA_DISK_NAME_MAX 16

struct replica_disk {
	char name[REPLICA_DISK_NAME_MAX + 1];
	uint64_t size; /* bytes, a multiple of 512 */
};

enum replica_op { REPLICA_OPEN, REPLICA_COMMIT, REPLICA_ABORT, REPLICA_DROP, REPLICA_SEND };

struct replica_args {
	char vm[REPLICA_VM_MAX + 1];
	int64_t point;	  /* open, commit: > 0 */
	int64_t taken_at; /* commit: taken_at_ms, as given (0 if absent) */
	struct replica_disk disks[REPLICA_DISKS_MAX]; /* open */
	size_t ndisks;
	char host[16]; /* send: the nbd URI's parts */
	unsigned port;
	char export_name[REPLICA_DISK_NAME_MAX + 1];
	const json_t *tls; /* send: an object (points into args) */
};

/* args of op into *out: 0, or -EINVAL with e. */
int replica_args_check(enum replica_op op, const json_t *args, struct replica_args *out,
		       struct op_error *e);

/* 1..max characters of a-z 0-9 - _ (a VM's id, a disk's name)? */
int replica_args_name_ok(const char *s, size_t max);

/* Disks as a request or state.json has them ([{name, size}], 1..9, names
 * unique): 0 with disks and *n, or -EINVAL. */
int replica_args_disks(const json_t *arr, struct replica_disk disks[REPLICA_DISKS_MAX],
		       size_t *n);

#endif
