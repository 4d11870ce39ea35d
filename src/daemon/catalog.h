/*
 * catalog.h - the service catalog (claim 13): which services a customer can
 * order and the VM specification each one determines.
 *
 * A data file the operator can extend (catalog/services.json):
 *   {"services": [{"id", "name", "description", "image", "runs",
 *                  "defaults": {"vcpus", "memory_mib", "disk_gib"},
 *                  "bounds": {"vcpus": {"min", "max"}, "memory_mib": {...},
 *                             "disk_gib": {...}},
 *                  "ports": ["80/tcp", ...]}, ...]}
 * Loaded once at start and validated strictly: a bad catalog stops cloudletd
 * with a message naming the service and field.
 */
#ifndef CLOUDLET_CATALOG_H
#define CLOUDLET_CATALOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct range {
	int64_t min, max;
};

#define SERVICE_PORTS_MAX 8

struct service {
	char id[64];
	char image[64];
	int64_t vcpus, memory_mib, disk_gib; /* defaults */
	struct range b_vcpus, b_memory_mib, b_disk_gib;
	/* What the service listens on: opened by a firewall rule when a VM is
	 * created from it. */
	unsigned n_ports;
	struct {
		int port;
		char proto[4];
	} ports[SERVICE_PORTS_MAX];
};

int catalog_load(const char *path, char *err, size_t errlen);
const struct service *catalog_find(const char *id);
json_t *catalog_json(void); /* new reference */

#endif
