/*
 * imgup.h - checking a disk image a tenant uploads (POST /v1/images,
 * docs/images.md) before it may be kept:
 *
 *   1. the format from the first bytes: qcow2 (magic "QFI\xfb") or raw;
 *   2. qemu-img info --output=json, with qcow2's backing file not opened
 *      ("backing": null): the format must agree, the virtual size must fit
 *      the tenant's room, a backing file or an external data file (paths on
 *      the host) refuses it;
 *   3. qcow2: qemu-img check; corruption refuses it (leaked clusters do not);
 *   4. converted to a sparse raw file (what a VM disk is made from);
 *   5. scanned by cloudlet-scan (libclamav and YARA, docs/scan.md) over
 *      every byte the guest would see: a hit refuses it.
 *
 * qemu-img and cloudlet-scan run as child processes of cloudletd (its
 * unprivileged user) with a CPU-time limit, qemu-img also with an
 * address-space limit, as other clouds run qemu-img on images they did not
 * make. Every failure removes
 * everything the check made; the caller removes the upload itself.
 */
#ifndef CLOUDLET_IMGUP_H
#define CLOUDLET_IMGUP_H

#include <stddef.h>
#include <stdint.h>

/* dir: where images live (made 0700); sigdir: the scanner's signatures;
 * scan_bin: the cloudlet-scan program. */
int imgup_init(const char *dir, const char *sigdir, const char *scan_bin);
const char *imgup_dir(void);

/* A new upload file in the image dir: its path into path (pathlen) and
 * an open descriptor (O_WRONLY), or -errno. */
int imgup_temp(char *path, size_t pathlen);

/*
 * Check the upload at path against room (bytes the tenant has left) and
 * write the raw image to final. 0 with *format ("qcow2" or "raw", 8 bytes)
 * and *vsize, or -errno with the HTTP status (400 bad image, 413 over the
 * quota, 422 malware found, 500/503 the check itself failed) and a message
 * that never quotes the image's bytes.
 */
int imgup_check(const char *path, int64_t room, const char *final, char *format,
		int64_t *vsize, int *status, char *err, size_t errlen);

#endif
