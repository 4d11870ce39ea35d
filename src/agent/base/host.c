/* host.c - see host.h */
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

int
host_cpuinfo_has_hw_virt(const char *cpuinfo)
{
	const char *line = cpuinfo;

	while (line != NULL && *line != '\0') {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (len > 5 && strncmp(line, "flags", 5) == 0) {
			const char *p = line;
			/* Look for whole words " vmx" / " svm" inside this line. */
			while ((p = memchr(p, ' ', len - (size_t)(p - line))) != NULL) {
				p++;
				if ((size_t)(p - line) + 3 <= len &&
				    (strncmp(p, "vmx", 3) == 0 || strncmp(p, "svm", 3) == 0) &&
				    ((size_t)(p - line) + 3 == len || p[3] == ' '))
					return 1;
			}
		}
		line = end ? end + 1 : NULL;
	}
	return 0;
}

uint64_t
host_cpuinfo_mhz_khz(const char *cpuinfo)
{
	const char *p = strstr(cpuinfo, "cpu MHz");
	double mhz;

	if (p == NULL || (p = strchr(p, ':')) == NULL)
		return 0;
	if (sscanf(p + 1, "%lf", &mhz) != 1 || mhz <= 0)
		return 0;
	return (uint64_t)(mhz * 1000.0 + 0.5);
}

const char *
host_accel_name(enum host_accel a)
{
	switch (a) {
	case ACCEL_TCG:
		return "tcg";
	case ACCEL_KVM:
		return "kvm";
	default:
		return "auto";
	}
}

int
host_accel_parse(const char *s, enum host_accel *out)
{
	if (strcmp(s, "auto") == 0)
		*out = ACCEL_AUTO;
	else if (strcmp(s, "tcg") == 0)
		*out = ACCEL_TCG;
	else if (strcmp(s, "kvm") == 0)
		*out = ACCEL_KVM;
	else
		return -EINVAL;
	return 0;
}

int
host_probe(enum host_accel want, struct host_info *out)
{
	char *cpuinfo = NULL, *meminfo = NULL, *p;
	long n;
	int fd, r;

	memset(out, 0, sizeof(*out));
	n = sysconf(_SC_NPROCESSORS_ONLN);
	out->cpus = n > 0 ? (unsigned)n : 1;

	if ((r = util_read_file("/proc/meminfo", 1 << 20, &meminfo, NULL)) < 0)
		return r;
	p = strstr(meminfo, "MemTotal:");
	if (p != NULL)
		out->memory_mib = strtoull(p + 9, NULL, 10) / 1024;
	free(meminfo);

	if ((r = util_read_file("/proc/cpuinfo", 16 << 20, &cpuinfo, NULL)) < 0)
		return r;
	out->hw_virt = host_cpuinfo_has_hw_virt(cpuinfo);
	out->tsc_khz = host_cpuinfo_mhz_khz(cpuinfo);
	free(cpuinfo);

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		out->kvm_usable = 1;
		close(fd);
	}

	switch (want) {
	case ACCEL_KVM:
		if (!out->kvm_usable)
			return -ENODEV;
		out->accel = ACCEL_KVM;
		snprintf(out->accel_reason, sizeof(out->accel_reason), "forced by operator%s",
			 out->hw_virt ? "" : " (no vmx/svm: expect slow guests)");
		break;
	case ACCEL_TCG:
		out->accel = ACCEL_TCG;
		snprintf(out->accel_reason, sizeof(out->accel_reason), "forced by operator");
		break;
	default:
		if (out->hw_virt && out->kvm_usable) {
			out->accel = ACCEL_KVM;
			snprintf(out->accel_reason, sizeof(out->accel_reason),
				 "cpu has hardware virtualization and /dev/kvm opens");
		} else {
			out->accel = ACCEL_TCG;
			snprintf(out->accel_reason, sizeof(out->accel_reason), "%s",
				 out->hw_virt ? "/dev/kvm does not open"
					      : "no vmx/svm cpu flag: /dev/kvm (if any) "
						"cannot run stock kernels");
		}
	}
	return 0;
}
