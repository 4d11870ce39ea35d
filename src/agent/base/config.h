/*
 * config.h - the agent's configuration: what `cloudlet-agent serve` was
 * started with and what it found out about its host.
 *
 * Filled once by agent.c before any subsystem starts and read-only after
 * that, so every module may read it without a lock. Subsystems get it from
 * agent_config() instead of from each other.
 */
#ifndef CLOUDLET_CONFIG_H
#define CLOUDLET_CONFIG_H

#include <stdint.h>
#include <sys/types.h>

#include "host.h"

struct agent_config {
	char state_dir[512];
	char guest_dir[512];
	char qemu_bin[256];
	uid_t vm_uid; /* the unprivileged user QEMU runs as */
	gid_t vm_gid;
	double mem_overcommit;      /* running VMs' memory may total MemTotal * this */
	uint64_t mem_reserve_mib;   /* kept for the host itself */
	unsigned stop_timeout_s;    /* graceful stop before forcing */
	char template_ram_dir[256]; /* where templates keep guest RAM (tmpfs) */
	int auto_templates;         /* build a template after a cold create */
	char ext_netns[32];         /* the shared external network: namespace */
	char ext_bridge[16];        /* and bridge (net.h) */
	/* Starts the names of the kernel objects this agent makes outside its
	 * own namespaces (1-2 of a-z 0-9): tenant namespaces <p>n-<tenant> and
	 * <p>f-<tenant>. Two agents on one machine (simulated hosts) need
	 * different ones. Default "cl". */
	char name_prefix[3];
	/* The datacenter network VXLAN segments run over (docs/hosts.md):
	 * the namespace that holds this host's address on it ("" = the
	 * agent's own) and that address ("" = no segments: one host). */
	char underlay_netns[32];
	char underlay_address[16];
	struct host_info host;
};

/* Publish cfg (agent.c, once, before the subsystems start; the caller keeps
 * it alive for the life of the process). */
void agent_config_set(const struct agent_config *cfg);

/* The published configuration (NULL before agent_config_set). */
const struct agent_config *agent_config(void);

#endif
