/*
 * stclient.h - inside the agent's storage subsystem: its connection to
 * cloudlet-storaged and the configuration it was started with.
 *
 *   storaged.c  the server process: start, re-attach, monitor, restart; st_call
 *   export.c    a VM's NBD export of its volumes
 *   rootvol.c   root disks as volumes: image import, clone, growth
 *   volops.c    the volume, alert and device operations (storage_dispatch)
 *
 * storage.h is what the rest of the agent sees.
 */
#ifndef CLOUDLET_STCLIENT_H
#define CLOUDLET_STCLIENT_H

#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "operr.h"
#include "storage.h"

/* The server's own limits (docs/storage-protocol.md), checked here first
 * so a bad request never reaches it. */
#define VOLUME_SIZE_MAX (UINT64_C(16) << 40)
#define BLOCK 4096

/* Filled by storage_init, read-only after it. */
struct st_conf {
	int enabled;
	char bin[PATH_MAX];
	char devices[STORAGE_DEVICES_MAX][PATH_MAX];
	unsigned n_devices;
	char user[64];
	uid_t uid;
	gid_t gid;
	char sigdir[PATH_MAX];
	char dir[PATH_MAX];
	char pool[PATH_MAX + 8];
	char exports[PATH_MAX + 16];
	char control[PATH_MAX + 16];
	char pidfile[PATH_MAX + 16];
	char logfile[PATH_MAX + 16];
};
extern struct st_conf st_conf;

/*
 * One operation on the server (args consumed): 0 with *out (the result,
 * new reference, may be NULL), or -errno with e filled from the server's
 * error. A server that is restarting is waited for (up to 10 s) rather
 * than reported.
 */
int st_call(const char *op, json_t *args, json_t **out, struct op_error *e);

/* The VMs that use a volume (the VM table's hook): their count. */
int st_volume_users(const char *volume, char *out, size_t len);

/* A missing device file is made sparse, size bytes; an existing one is left
 * alone (the pool on it is the data). 0 or -errno. */
int st_make_device(const char *path, uint64_t size);

/* The server's pid and how often the monitor restarted it. */
void st_server_info(pid_t *pid, unsigned *restarts);

#endif
