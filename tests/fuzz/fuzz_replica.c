/*
 * fuzz_replica.c - libFuzzer harness for the arguments of the replica
 * operations (src/agent/vm/replica_args.h): what another site's control
 * plane sends a standby host's agent, and the disks of a replica's
 * state.json read back at start.
 *
 * The first byte picks the operation ('0' open, '1' commit, '2' abort,
 * '3' drop, '4' send, '5' the disks of a state.json; others modulo 6),
 * the rest is the JSON of its arguments. Beyond "no crash, no leak"
 * (ASan/LSan/UBSan): a refusal is "invalid", -EINVAL, with a message; what
 * is accepted is what the operations rely on: a vm of 1-64 characters of
 * a-z 0-9 - _ (it names a directory), a point > 0, 1-9 disks of unique
 * such names, each size a multiple of 512 in 1 B..16 TiB, an nbd URI's
 * host of digits and dots, port 1-65535 and export of a-z 0-9, tls an
 * object. Build and run: tests/fuzz/build.sh.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "replica_args.h"

/* Only characters of set, 1..max of them. */
static int
only(const char *s, const char *set, size_t max)
{
	size_t n = strlen(s);

	return n >= 1 && n <= max && strspn(s, set) == n;
}

#define NAME_SET "abcdefghijklmnopqrstuvwxyz0123456789-_"

static void
disks_ok(const struct replica_disk *d, size_t n)
{
	CHECK(n >= 1 && n <= REPLICA_DISKS_MAX);
	for (size_t i = 0; i < n; i++) {
		CHECK(only(d[i].name, NAME_SET, REPLICA_DISK_NAME_MAX));
		CHECK(d[i].size > 0 && d[i].size <= REPLICA_DISK_MAX_BYTES && d[i].size % 512 == 0);
		for (size_t k = 0; k < i; k++)
			CHECK(strcmp(d[i].name, d[k].name) != 0);
	}
}

static void
check(enum replica_op op, const json_t *args)
{
	struct replica_args a, again;
	struct op_error e = {0};
	int r = replica_args_check(op, args, &a, &e);

	if (r < 0) {
		CHECK(r == -EINVAL && e.code != NULL && strcmp(e.code, "invalid") == 0 &&
		      e.msg[0] != '\0');
		return;
	}
	CHECK(r == 0);
	CHECK(only(a.vm, NAME_SET, REPLICA_VM_MAX));
	CHECK(replica_args_name_ok(a.vm, REPLICA_VM_MAX));
	switch (op) {
	case REPLICA_OPEN:
		CHECK(a.point > 0);
		disks_ok(a.disks, a.ndisks);
		break;
	case REPLICA_COMMIT:
		CHECK(a.point > 0);
		break;
	case REPLICA_SEND:
		CHECK(only(a.host, "0123456789.", 15));
		CHECK(a.port >= 1 && a.port <= 65535);
		CHECK(only(a.export_name, "abcdefghijklmnopqrstuvwxyz0123456789",
			   REPLICA_DISK_NAME_MAX));
		CHECK(json_is_object(a.tls));
		break;
	case REPLICA_ABORT:
	case REPLICA_DROP:
		break;
	}
	/* The same arguments, the same answer. */
	CHECK(replica_args_check(op, args, &again, &e) == 0);
	CHECK(memcmp(&a, &again, sizeof(a)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replica_disk disks[REPLICA_DISKS_MAX];
	size_t n = 0;
	json_t *j;
	int pick;

	if (size < 1 || size > 65536)
		return 0;
	pick = data[0] % 6;
	j = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
	if (j == NULL)
		return 0;
	if (pick == 5) {
		if (replica_args_disks(j, disks, &n) == 0)
			disks_ok(disks, n);
	} else
		check((enum replica_op)pick, j);
	json_decref(j);
	return 0;
}
