/*
 * request.h - parsing and validating API request bodies.
 *
 * Pure functions over bytes (no I/O, no globals but the catalog), so the
 * libFuzzer harness (tests/fuzz/fuzz_request.c) can drive them directly.
 * Every failure returns -EINVAL with a message for the client; unknown
 * fields, wrong types, negative or huge numbers and odd characters in names
 * are all refused before anything is stored.
 */
#ifndef CLOUDLET_REQUEST_H
#define CLOUDLET_REQUEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "store.h"
#include "userdata.h"

#define REQ_BODY_MAX (64 * 1024)
#define REQ_USER_DATA_MAX USERDATA_MAX /* userdata.h: 16 KiB */

/* Parse a body that must be a JSON object (new reference in *out). */
int req_object(const char *body, size_t len, json_t **out, char *err, size_t errlen);

/* Names of tenants and VMs: 1-63 of [A-Za-z0-9._-], starting with a letter
 * or digit (they become hostnames). */
int req_check_name(const char *what, const char *s, char *err, size_t errlen);

int req_tenant_create(const json_t *j, char *name, size_t namelen, char *err,
		      size_t errlen);
int req_quota(const json_t *j, struct quota *q, char *err, size_t errlen);

struct vm_request {
	char name[64];
	char service[64];
	char image[64];      /* "" = the service's */
	int64_t vcpus, memory_mib, disk_gib; /* 0 = the service's default */
	const char *user_data; /* borrowed from the JSON, may be NULL */
	const json_t *networks; /* borrowed: names or ids, NULL = the default network */
	char group[64];         /* "" = none (placement groups, docs/hosts.md) */
	int anti_affinity;      /* never on a host with another VM of the group */
	const json_t *keys;     /* borrowed: SSH key names or ids (/v1/keys), NULL = none */
};

#define REQ_KEYS_MAX 16 /* the agent's limit of a VM's ssh_keys */

#define REQ_NICS_MAX 4

int req_vm_create(const json_t *j, struct vm_request *out, char *err, size_t errlen);

/* The spec a service determines, with the request's overrides, checked
 * against the service's bounds. */
int req_vm_resolve(const struct vm_request *r, const struct service *s,
		   struct vm_row *out, char *err, size_t errlen);

/* PATCH: any of vcpus/memory_mib/disk_gib (at least one); fills new_spec
 * from cur and checks the service's bounds and that the disk only grows. */
int req_vm_patch(const json_t *j, const struct service *s, const int64_t cur[3],
		 int64_t new_spec[3], char *err, size_t errlen);

/* {"action": "start"|"stop"|"reboot", "force"?: bool} */
int req_vm_action(const json_t *j, const char **action, int *force, char *err,
		  size_t errlen);

/* A non-negative integer query parameter in [min, max] (NULL = dflt). */
int req_query_int(const char *s, int64_t min, int64_t max, int64_t dflt, int64_t *out);

#endif
