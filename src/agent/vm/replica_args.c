/* replica_args.c - see replica_args.h */
#define _GNU_SOURCE
#include "replica_args.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int
replica_args_name_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

int
replica_args_disks(const json_t *arr, struct replica_disk disks[REPLICA_DISKS_MAX], size_t *n)
{
	const json_t *d;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > REPLICA_DISKS_MAX)
		return -EINVAL;
	json_array_foreach(arr, i, d)
	{
		const char *name = json_string_value(json_object_get(d, "name"));
		json_int_t size = json_integer_value(json_object_get(d, "size"));

		if (!replica_args_name_ok(name, REPLICA_DISK_NAME_MAX) ||
		    !json_is_integer(json_object_get(d, "size")) || size <= 0 ||
		    (uint64_t)size > REPLICA_DISK_MAX_BYTES || size % 512 != 0)
			return -EINVAL;
		for (size_t k = 0; k < i; k++)
			if (strcmp(disks[k].name, name) == 0)
				return -EINVAL;
		snprintf(disks[i].name, sizeof(disks[i].name), "%s", name);
		disks[i].size = (uint64_t)size;
	}
	*n = json_array_size(arr);
	return 0;
}

/* nbd://A.B.C.D:PORT/EXPORT, as vm.migrate.prepare (cold) answers. */
static int
parse_nbd(const char *nbd, struct replica_args *a)
{
	char tail;

	if (nbd == NULL ||
	    sscanf(nbd, "nbd://%15[0-9.]:%u/%16[a-z0-9]%c", a->host, &a->port, a->export_name,
		   &tail) != 3 ||
	    a->port == 0 || a->port > 65535)
		return -EINVAL;
	return 0;
}

int
replica_args_check(enum replica_op op, const json_t *args, struct replica_args *out,
		   struct op_error *e)
{
	const char *vm = json_string_value(json_object_get(args, "vm"));
	const json_t *point = json_object_get(args, "point");

	memset(out, 0, sizeof(*out));
	if (replica_args_name_ok(vm, REPLICA_VM_MAX))
		snprintf(out->vm, sizeof(out->vm), "%s", vm);
	out->point = json_integer_value(point);
	switch (op) {
	case REPLICA_OPEN:
		if (!out->vm[0] || !json_is_integer(point) || out->point <= 0 ||
		    replica_args_disks(json_object_get(args, "disks"), out->disks,
				       &out->ndisks) < 0)
			return op_fail(e, "invalid", -EINVAL,
				       "replica.open needs vm (a-z 0-9 - _), point (> 0) and "
				       "disks: 1-9 of {name, size} (a multiple of 512, at most "
				       "16 TiB)");
		return 0;
	case REPLICA_COMMIT:
		if (!out->vm[0] || out->point <= 0)
			return op_fail(e, "invalid", -EINVAL, "replica.commit needs vm and point");
		out->taken_at = json_integer_value(json_object_get(args, "taken_at_ms"));
		return 0;
	case REPLICA_SEND:
		out->tls = json_object_get(args, "tls");
		if (!out->vm[0] ||
		    parse_nbd(json_string_value(json_object_get(args, "nbd")), out) < 0 ||
		    !json_is_object(out->tls))
			return op_fail(e, "invalid", -EINVAL,
				       "replica.send needs vm, nbd (nbd://IP:PORT/EXPORT) and tls, "
				       "as vm.migrate.prepare (cold) answered");
		return 0;
	case REPLICA_ABORT:
	case REPLICA_DROP:
		if (!out->vm[0])
			return op_fail(e, "invalid", -EINVAL, "replica.%s needs vm",
				       op == REPLICA_ABORT ? "abort" : "drop");
		return 0;
	}
	return op_fail(e, "invalid", -EINVAL, "no such replica operation");
}
