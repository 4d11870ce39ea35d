/*
 * image.h - the guest image catalog built by guest/build.sh.
 *
 * Layout of the guest directory (see docs/guest.md):
 *   vmlinux, initrd.cpio.gz, kernel.version,
 *   images/<name>/image.json, images/<name>/rootfs/
 * The catalog is read from disk on every lookup, so a rebuilt image is seen
 * without restarting the agent.
 */
#ifndef CLOUDLET_IMAGE_H
#define CLOUDLET_IMAGE_H

#include <jansson.h>
#include <stdint.h>

struct image {
	char name[64];
	char id[80];
	uint64_t min_disk_mib;
	/* image.json "template": false - the guest has no template mode (it
	 * does not stop in cloudlet-identity), so no template is built for it
	 * and its VMs always boot cold (docs/guest.md, "template=no"; no
	 * built image says so today, uploaded images are never templates). */
	int no_template;
	/* image.json "template_timeout_s": how long a template's boot may
	 * take until template-ready (0: the agent's default, 180 s). */
	unsigned template_timeout_s;
	/* An image a tenant uploaded (docs/images.md): a whole raw disk with
	 * its own boot loader, <upload dir>/<name>.raw, booted with firmware;
	 * never a template. */
	int firmware;
	char disk[700];
};

void image_init(const char *guest_dir);
/* Where cloudletd keeps uploaded images (its state dir's images/). */
void image_init_uploads(const char *dir);
/* Is name an uploaded image's id ("img-" and 16 hex digits)? */
int image_is_upload(const char *name);
const char *image_guest_dir(void);

/* 0 and *out, or -ENOENT for an unknown or malformed image. */
int image_find(const char *name, struct image *out);

/* Matches spec_limits.image_lookup. */
int image_lookup(const char *name, uint64_t *min_disk_mib);

/* Array of the images' image.json objects. */
json_t *image_list(void);

#endif
