/*
 * spec.h - a VM's specification: parsing from JSON and validation.
 *
 * Pure functions, no I/O, so they can be unit-tested and fuzzed. Every limit
 * that depends on the host (CPUs, memory) or on the image catalog comes in
 * through struct spec_limits; the caller fills it from host.h and image.h.
 */
#ifndef CLOUDLET_SPEC_H
#define CLOUDLET_SPEC_H

#include <jansson.h>
#include <stdint.h>

#include "userdata.h"

#define SPEC_NAME_MAX 63
#define SPEC_NICS_MAX 4
#define SPEC_USER_DATA_MAX USERDATA_MAX /* 16 KiB */
#define SPEC_MEMORY_MIN_MIB 64
#define SPEC_DISK_MAX_GIB 4096
#define SPEC_VOLUMES_MAX 8 /* extra disks: storage volumes (storage.h) */
/* ssh_keys: OpenSSH public key lines (sshkey.h), at most this many and this
 * many bytes together (they travel in the seed's meta-data and in a clone's
 * identity, cloneid.h, beside the largest user-data). */
#define SPEC_SSH_KEYS_MAX 16
#define SPEC_SSH_KEYS_TOTAL_MAX 8192

struct spec_nic {
	char network[72]; /* "<tenant>/<network id>" (net.h), or "" for netns+bridge */
	char netns[64];   /* network namespace holding the bridge ("" = host's) */
	char bridge[16];  /* bridge the VM's tap joins */
	char address[19]; /* IPv4 CIDR, "" when dhcp */
	char gateway[16]; /* IPv4, may be "" */
	char mac[18];     /* "" = derived from the VM id */
	int dhcp;
};

struct vm_spec {
	char name[SPEC_NAME_MAX + 1];
	char hostname[SPEC_NAME_MAX + 1]; /* "" = derived from name */
	char image[SPEC_NAME_MAX + 1];
	unsigned vcpus;
	uint64_t memory_mib;
	uint64_t disk_gib;
	char *user_data; /* owned, may be NULL */
	/* The public keys that may log in (validated by sshkey_parse), one
	 * line each, every line ending in '\n'; owned, NULL when none. */
	char *ssh_keys;
	unsigned n_ssh_keys;
	unsigned n_nics;
	struct spec_nic nics[SPEC_NICS_MAX];
	/* The owner, set by the control plane ("" = none): a VM may only
	 * have volumes of its own tenant. */
	char tenant[SPEC_NAME_MAX + 1];
	unsigned n_volumes;
	char volumes[SPEC_VOLUMES_MAX][SPEC_NAME_MAX + 1];
};

struct spec_limits {
	unsigned max_vcpus;
	uint64_t max_memory_mib;
	/* Returns 0 if the image exists, filling its minimum disk size. */
	int (*image_lookup)(const char *name, uint64_t *min_disk_mib);
};

/* Validate a VM name: letters, digits, '-', '_', '.', not starting with
 * '-' or '.', 1..63 bytes. Returns 0 or -EINVAL with a message in err. */
int spec_check_name(const char *name, char *err, size_t errlen);

/* Parse and validate a full spec. On error nothing is left allocated. */
int spec_parse(const json_t *j, const struct spec_limits *lim, struct vm_spec *out,
	       char *err, size_t errlen);

/*
 * Apply a partial update {vcpus?, memory_mib?, disk_gib?, volumes?} to a
 * copy of cur.
 * Shrinking the disk is refused. *changed is set when anything differs.
 */
int spec_reconfigure(const json_t *j, const struct spec_limits *lim,
		     const struct vm_spec *cur, struct vm_spec *next, int *changed,
		     char *err, size_t errlen);

json_t *spec_to_json(const struct vm_spec *s);
void spec_free(struct vm_spec *s);

/* The guest hostname of a spec: its hostname, else its name; '_' and '.'
 * become '-'. */
void spec_hostname(const struct vm_spec *s, char *out, size_t len);

#endif
