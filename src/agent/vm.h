/*
 * vm.h - the agent's VMs: table, lifecycle and persistence.
 *
 * Every VM lives in <state_dir>/vms/<id>/ (see qemu.h for the files) and its
 * record is vm.json there, rewritten atomically on every change. One mutex
 * guards the table; long steps (disk creation, spawning, waiting for a
 * guest to power off) run without it while the VM is marked busy, so a
 * second operation on the same VM answers "conflict" instead of waiting.
 *
 * States:  stopped -> running <-> paused -> stopping -> stopped
 *          any running state -> crashed (QEMU ended without being asked)
 */
#ifndef CLOUDLET_VM_H
#define CLOUDLET_VM_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "host.h"
#include "qmp.h"
#include "spec.h"

enum vm_state { VM_STOPPED, VM_RUNNING, VM_PAUSED, VM_STOPPING, VM_CRASHED };

struct agent_config {
	char state_dir[512];
	char guest_dir[512];
	char qemu_bin[256];
	uid_t vm_uid; /* the unprivileged user QEMU runs as */
	gid_t vm_gid;
	double mem_overcommit;  /* running VMs' memory may total MemTotal * this */
	uint64_t mem_reserve_mib; /* kept for the host itself */
	unsigned stop_timeout_s;  /* graceful stop before forcing */
	char template_ram_dir[256]; /* where templates keep guest RAM (tmpfs) */
	int auto_templates;       /* build a template after a cold create */
	char ext_netns[32];       /* the shared external network: namespace */
	char ext_bridge[16];      /* and bridge (net.h) */
	struct host_info host;
};

/* An operation's failure: a stable code for programs and a message for people. */
struct op_error {
	const char *code; /* invalid, not_found, conflict, insufficient_resources,
			     timeout, internal */
	char msg[512];
};

struct vm {
	struct vm *next;
	char id[17];
	char dir[700];
	struct vm_spec spec;
	enum vm_state state;
	char reason[256]; /* why it is stopped/crashed, or "" */
	enum host_accel accel;
	char created_at[32], started_at[32];
	/* What the running QEMU was started with (restart_required if differs). */
	unsigned booted_vcpus;
	uint64_t booted_memory_mib;
	uint64_t booted_disk_gib;
	char booted_volumes[SPEC_VOLUMES_MAX * (SPEC_NAME_MAX + 1)]; /* "a,b" */
	/* Process supervision. */
	pid_t pid;
	int pidfd;       /* -1 when not running */
	int is_child;    /* we can read its exit status */
	struct qmp *events;
	int stop_requested;
	int shutdown_seen;
	char shutdown_reason[64];
	uint64_t console_off; /* console.log size when this boot started */
	int ready;
	int busy;
	int deleted;
	/* Provisioning: "cold" (booted from its own disk) or "clone" (restored
	 * from a template: its disk is a qcow2 overlay of the template's). */
	char provision[8];
	char root_format[8];     /* "raw" or "qcow2" */
	uint64_t root_gib;       /* size of the root disk as made */
	char tpl_dir[700];       /* template (clones) */
	char tpl_ram[700];
	int clone_pending;       /* next start restores the template */
	uint64_t last_boot_ms;   /* spawn to QMP attach (and restore), measured */
};

extern const struct agent_config *vm_cfg;

int vm_init(const struct agent_config *cfg);

/* Fill e (code, printf-style message) and return r: every op's error path. */
int op_fail(struct op_error *e, const char *code, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Each returns 0 (with *out when given) or -errno with e filled. */
int vm_create(const json_t *args, json_t **out, struct op_error *e);
int vm_show(const char *name, json_t **out, struct op_error *e);
json_t *vm_list(void);
int vm_start(const char *name, json_t **out, struct op_error *e);
int vm_stop(const char *name, int force, unsigned timeout_s, json_t **out,
	    struct op_error *e);
int vm_reboot(const char *name, json_t **out, struct op_error *e);
int vm_pause(const char *name, int pause, json_t **out, struct op_error *e);
int vm_reconfigure(const char *name, const json_t *changes, json_t **out,
		   struct op_error *e);
int vm_delete(const char *name, struct op_error *e);
int vm_wait(const char *name, const char *what, unsigned timeout_s, json_t **out,
	    struct op_error *e);
/*
 * Console output: the last max_bytes, or (offset >= 0) up to max_bytes from
 * that position of console.log. The result has "output" and "offset" (the
 * position after the returned text).
 */
int vm_console(const char *name, size_t max_bytes, int64_t offset, json_t **out,
	       struct op_error *e);
/* Type data on the serial console (waits until QEMU has taken it). */
int vm_console_input(const char *name, const char *data, size_t len, struct op_error *e);

const char *vm_state_name(enum vm_state s);

/* The names of the VMs whose spec lists volume ("a, b" into out): their
 * count. A volume in use must not be deleted. */
int vm_volume_users(const char *volume, char *out, size_t len);

/* For the supervisor (supervise.c); called with the table lock held. */
void vm_lock(void);
void vm_unlock(void);
struct vm *vm_first(void);
void vm_handle_event(struct vm *vm, json_t *ev);
void vm_process_ended(struct vm *vm);

#endif
