/*
 * disk.h - a VM's disks: its ext4 root disk and its NoCloud seed.
 *
 * The root disk is a sparse raw file of exactly disk_gib GiB holding an ext4
 * filesystem made from the image's rootfs tree (mke2fs -d), so creating a
 * 4 GiB disk writes only the few MiB the image needs. The seed is a small
 * vfat filesystem labeled CIDATA with meta-data, user-data and
 * network-config: the NoCloud contract that cloud-init also reads; plus
 * cloudlet-config, the #cloud-config translated for the busybox images
 * (userdata.h; empty for other user-data; cloud-init ignores the file).
 * The tools run are e2fsprogs (mke2fs, e2fsck, resize2fs), dosfstools
 * (mkfs.vfat) and mtools (mcopy), always with argv, never a shell.
 */
#ifndef CLOUDLET_DISK_H
#define CLOUDLET_DISK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec.h"

int disk_create_root(const char *path, const char *rootfs_dir, uint64_t size_gib,
		     char *err, size_t errlen);

/* Grow the file and its filesystem (VM stopped). Smaller sizes: -EINVAL. */
int disk_grow_root(const char *path, uint64_t size_gib, char *err, size_t errlen);

/*
 * Copy an uploaded image (docs/images.md) to path, sparse (only its data
 * extents are written). src is opened without following a symbolic link
 * and must be a regular file with one link owned by owner: cloudletd's
 * user owns the image dir, and a hard link it made to a file of someone
 * else must not become a guest's disk. 0 or -errno with err.
 */
int disk_copy_upload(const char *src, uid_t owner, const char *path, char *err,
		     size_t errlen);

/* Current size in bytes, or -errno. */
int64_t disk_size(const char *path);

/* The seed image's size: 1 MiB is plenty, user_data and its translation
 * are capped at 16 KiB each. */
#define DISK_SEED_SIZE (1024 * 1024)

/*
 * Write the NoCloud seed image for this VM (replacing any old one). With
 * in_place the existing file (disk_blank_seed's, DISK_SEED_SIZE) is
 * formatted and filled where it is, for a QEMU that has it open already.
 */
int disk_write_seed(const char *path, const char *instance_id, const struct vm_spec *s,
		    int in_place, char *err, size_t errlen);

/* An empty (sparse) seed-sized file, for a QEMU to open before the seed
 * is written in place. */
int disk_blank_seed(const char *path, char *err, size_t errlen);

/* The NoCloud texts (exposed for unit tests); caller frees. */
char *disk_meta_data(const char *instance_id, const struct vm_spec *s);
char *disk_network_config(const struct vm_spec *s);
/* The cloudlet-config file: userdata_translate's form, or "" when the
 * user-data is not a #cloud-config (or does not translate: the spec parser
 * refuses those). NULL: out of memory. */
char *disk_cloud_config(const struct vm_spec *s);

#endif
