/*
 * template.h - booted templates for instant VMs (snapshot clones).
 *
 * A template is a VM of one exact fit (agent, image and its id, guest kernel and
 * initrd, QEMU version, accelerator, vCPUs, memory, disk size, number of
 * NICs) booted once with cloudlet.template=1 until the guest prints
 * "cloudlet: template-ready" and waits for an identity. Its RAM lives in a
 * file on /dev/shm (shared mapping); only the device state is migrated to
 * a file (x-ignore-shared). A clone maps the same RAM file privately
 * (copy-on-write), loads the device state and continues where the template
 * stopped, finding its own identity in a fw_cfg file its QEMU was started
 * with (cloneid.h; the template's is all zeros).
 *
 *   <state>/templates/<key>/identity   the exact inputs (a changed input is
 *                                       a different key: never used stale)
 *                          /root.raw   the template's disk (clones' backing file)
 *                          /state      device state
 *   <template-ram-dir>/cloudlet-<key>.ram  guest RAM (default /dev/shm)
 *
 * A template whose inputs changed (its image was rebuilt, the kernel, QEMU
 * or the engine changed) is stale: template_gc() removes its RAM file and
 * state, and its directory once no VM's disk uses its root.raw as backing
 * file. It runs at agent start, after each template build and on request.
 * XXX: a current template no VM has used for long is kept (no LRU limit).
 */
#ifndef CLOUDLET_TEMPLATE_H
#define CLOUDLET_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

#include "spec.h"

int template_init(void);

/* Does a VM's disk use the template in dir as its backing file (then its
 * disk stays when it goes stale)? Set once by the VM table (vm.h), which
 * this module does not import. */
void template_set_in_use(int (*fn)(const char *dir));

/* 0 and the template's directory and RAM file if a ready one fits spec. */
int template_lookup(const struct vm_spec *spec, char *dir, size_t dirlen, char *ram,
		    size_t ramlen);

/* Build the template for spec's fit (blocking; 0 if it exists already). */
int template_build(const struct vm_spec *spec, char *err, size_t errlen);

/* Build it in a background thread unless one is building already. */
void template_build_async(const struct vm_spec *spec);

json_t *template_list(void);
/* The fits of the current templates as "image/vcpus/memory_mib/disk_gib"
 * (host.info: the control plane prefers a host that can clone). */
json_t *template_fits(void);

/* Remove stale templates: {removed: [keys], kept_for_clones: [keys whose
 * RAM and state went but whose disk clones still use]}. */
json_t *template_gc(void);

#endif
