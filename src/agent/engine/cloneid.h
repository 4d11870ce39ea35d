/*
 * cloneid.h - the identity a clone finds when it wakes up (docs/guest.md).
 *
 * A clone continues where its template was saved: inside the guest's
 * cloudlet-identity, which polls the fw_cfg file "opt/cloudlet/identity".
 * The template is started with that file all zeros; each clone with its
 * own content, of the same fixed size (the guest's fw_cfg driver read the
 * size when the template booted):
 *
 *   CLOUDLET-IDENTITY 1 <length of the rest>\n
 *   time=<unix seconds>.<nanoseconds>\n
 *   seed=<64 hex digits>\n
 *   mac0=<MAC>\n ...                      one per NIC
 *   meta-data=<bytes>\n network-config=<bytes>\n user-data=<bytes>\n
 *   cloudlet-config=<bytes>\n
 *   \n
 *   <meta-data><network-config><user-data><cloudlet-config>  the seed's files
 *   zeros up to CLONEID_SIZE
 *
 * The content reaches QEMU as a memfd (-fw_cfg ...,file=/dev/fd/N): the RNG
 * seed is never in a file, on a command line or in a log.
 */
#ifndef CLOUDLET_CLONEID_H
#define CLOUDLET_CLONEID_H

#include <stddef.h>

#include "spec.h"

#define CLONEID_FW_CFG_NAME "opt/cloudlet/identity"
/* user-data (at most SPEC_USER_DATA_MAX), its translation (at most
 * USERDATA_FORM_MAX), ssh keys, meta-data and network-config.
 * A template's guest knows this size: changing it needs QEMU_ENGINE_REV
 * (qemu.h) bumped, so that every template is built again. */
#define CLONEID_SIZE 49152

/*
 * The clone's identity for spec as CLONEID_SIZE bytes in *out (malloc'd):
 * instance id, hostname, network and user-data as its seed disk has them,
 * MACs, the wall clock now and 32 fresh random bytes. -E2BIG if it does
 * not fit, -EIO without randomness, -ENOMEM.
 */
int cloneid_build(const char *instance_id, const struct vm_spec *spec, char **out);

/* A memfd holding len bytes of data (NULL: zeros), at offset 0; -errno. */
int cloneid_memfd(const char *data, size_t len);

#endif
