/* export.c - see storage.h: a VM's NBD export */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "disk.h"
#include "image.h"
#include "jsonv.h"
#include "log.h"
#include "msg.h"
#include "stclient.h"
#include "util.h"

/* ---- exports ---------------------------------------------------------- */

int
storage_export_socket(const char *vm_id, char *out, size_t len)
{
	return util_fmt(out, len, "%s/%s.sock", st_conf.exports, vm_id);
}

static json_t *
spec_volumes(const struct vm_spec *s)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < s->n_volumes; i++)
		json_array_append_new(a, json_string(s->volumes[i]));
	return a;
}

int
storage_export_create(const char *vm_id, const struct vm_spec *s, const char *root,
		      struct op_error *e)
{
	json_t *vols = spec_volumes(s);

	/* The root first: QEMU's drive order is the export's. */
	if (root != NULL)
		json_array_insert_new(vols, 0, json_string(root));
	storage_export_delete(vm_id);
	return st_call("export.create",
		    json_pack("{s:s, s:s, s:o}", "vm", vm_id, "tenant", storage_root_tenant(s),
			      "volumes", vols),
		    NULL, e);
}

int
storage_export_bind(const char *vm_id, pid_t pid, struct op_error *e)
{
	return st_call("export.bind", json_pack("{s:s, s:i}", "vm", vm_id, "pid", (int)pid), NULL,
		    e);
}

void
storage_export_delete(const char *vm_id)
{
	struct op_error e;

	if (st_conf.enabled)
		st_call("export.delete", json_pack("{s:s}", "vm", vm_id), NULL, &e);
}
