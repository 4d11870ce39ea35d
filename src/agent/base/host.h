/*
 * host.h - facts about the real computer the agent runs on.
 */
#ifndef CLOUDLET_HOST_H
#define CLOUDLET_HOST_H

#include <stdint.h>

enum host_accel { ACCEL_AUTO, ACCEL_TCG, ACCEL_KVM };

struct host_info {
	unsigned cpus;           /* online CPUs */
	uint64_t memory_mib;     /* MemTotal */
	uint64_t tsc_khz;        /* for the guest's tsc_early_khz, 0 if unknown */
	int hw_virt;             /* vmx or svm in /proc/cpuinfo */
	int kvm_usable;          /* /dev/kvm opens */
	enum host_accel accel;   /* what VMs will use (never AUTO after probe) */
	char accel_reason[128];  /* why: shown in host.info and every VM */
};

/*
 * Probe the host. want is the operator's setting: AUTO picks KVM only when
 * the CPU flags show hardware virtualization and /dev/kvm opens; TCG or KVM
 * force it (forcing KVM without /dev/kvm fails with -ENODEV).
 */
int host_probe(enum host_accel want, struct host_info *out);

const char *host_accel_name(enum host_accel a);
int host_accel_parse(const char *s, enum host_accel *out);

/* Pure helpers over /proc/cpuinfo text (unit-tested). */
int host_cpuinfo_has_hw_virt(const char *cpuinfo);
uint64_t host_cpuinfo_mhz_khz(const char *cpuinfo);

#endif
