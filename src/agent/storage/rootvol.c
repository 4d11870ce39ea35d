/* rootvol.c - see storage.h: root disks as volumes */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "disk.h"
#include "image.h"
#include "jsonv.h"
#include "log.h"
#include "msg.h"
#include "stclient.h"
#include "util.h"

/* ---- root disks as volumes --------------------------------------------- */

/* One import at a time: two VMs of a new image must not both import it. */
static pthread_mutex_t import_lock = PTHREAD_MUTEX_INITIALIZER;

void
storage_root_name(const char *vm_id, char *out, size_t len)
{
	snprintf(out, len, "root-%s", vm_id);
}

const char *
storage_root_tenant(const struct vm_spec *s)
{
	return s->tenant[0] != '\0' ? s->tenant : STORAGE_PLATFORM_TENANT;
}

/* The size of a volume, 0 when it does not exist, or -errno. */
static int64_t
volume_size(const char *name, struct op_error *e)
{
	json_t *v = NULL;
	int64_t size;
	int r;

	if ((r = st_call("volume.show", json_pack("{s:s}", "name", name), &v, e)) < 0)
		return strcmp(e->code, "not_found") == 0 ? 0 : r;
	size = json_integer_value(json_object_get(v, "size"));
	json_decref(v);
	return size;
}

/*
 * An export the agent uses itself (named tag: import-..., grow-...): root
 * may connect without a bind. Its socket into sock.
 */
static int
own_export(const char *tag, const char *tenant, const char *volume, char *sock, size_t len,
	   struct op_error *e)
{
	struct op_error ignored;

	st_call("export.delete", json_pack("{s:s}", "vm", tag), NULL, &ignored);
	if (storage_export_socket(tag, sock, len) < 0)
		return op_fail(e, "internal", -ENAMETOOLONG, "export path too long");
	return st_call("export.create",
		    json_pack("{s:s, s:s, s:[s]}", "vm", tag, "tenant", tenant, "volumes", volume),
		    NULL, e);
}

/*
 * Import an image's root filesystem into img-<id>, then snapshot it as
 * the read-only base. The filesystem is as large as the smallest disk a
 * VM of this image may have (1 GiB, or the image's minimum rounded up),
 * so the commonest VM needs no resize2fs at all. Called with import_lock.
 */
static int
import_image(const struct image *im, const char *vol, const char *base, uint64_t gib,
	     struct op_error *e)
{
	char raw[PATH_MAX + 32], rootfs[PATH_MAX], sock[PATH_MAX + 32], uri[PATH_MAX + 128];
	char tag[64], err[512];
	struct op_error ignored;
	uint64_t t0 = util_now_ms();
	int r;

	snprintf(tag, sizeof(tag), "import-%s", vol);
	if (util_fmt(raw, sizeof(raw), "%s/%s.raw", st_conf.dir, vol) < 0 ||
	    util_fmt(rootfs, sizeof(rootfs), "%s/images/%s/rootfs", image_guest_dir(),
		     im->name) < 0)
		return op_fail(e, "internal", -ENAMETOOLONG, "image path too long");
	/* A volume without its snapshot is an import that did not finish. */
	st_call("export.delete", json_pack("{s:s}", "vm", tag), NULL, &ignored);
	st_call("volume.delete", json_pack("{s:s}", "name", vol), NULL, &ignored);
	unlink(raw);
	if ((r = disk_create_root(raw, rootfs, gib, err, sizeof(err))) < 0)
		return op_fail(e, "internal", r, "image %s: %s", im->name, err);
	r = st_call("volume.create",
		 json_pack("{s:s, s:s, s:I, s:s}", "name", vol, "tenant", STORAGE_PLATFORM_TENANT,
			   "size", (json_int_t)(gib << 30), "redundancy", "mirror"),
		 NULL, e);
	if (r < 0)
		goto out;
	if ((r = own_export(tag, STORAGE_PLATFORM_TENANT, vol, sock, sizeof(sock), e)) < 0)
		goto out;
	if (util_fmt(uri, sizeof(uri), "nbd+unix:///%s?socket=%s", vol, sock) < 0) {
		r = op_fail(e, "internal", -ENAMETOOLONG, "export path too long");
		goto out;
	}
	{
		/* The new volume is thin, so it reads as zeros: only the
		 * filesystem's written blocks travel. */
		const char *const argv[] = {"qemu-img", "convert", "-n", "--target-is-zero", "-f",
					    "raw", "-O", "raw", raw, uri, NULL};

		if ((r = util_run(argv, err, sizeof(err))) < 0) {
			op_fail(e, "internal", r, "copying image %s into %s: %s", im->name, vol, err);
			goto out;
		}
	}
	st_call("export.delete", json_pack("{s:s}", "vm", tag), NULL, &ignored);
	r = st_call("volume.snapshot", json_pack("{s:s, s:s}", "name", vol, "snapshot", base), NULL,
		 e);
	if (r == 0)
		log_info("storage: image %s (%s) imported into %s in %llu ms", im->name, im->id,
			 base, (unsigned long long)(util_now_ms() - t0));
out:
	if (r < 0) {
		st_call("export.delete", json_pack("{s:s}", "vm", tag), NULL, &ignored);
		st_call("volume.delete", json_pack("{s:s}", "name", vol), NULL, &ignored);
	}
	unlink(raw);
	return r;
}

/* The image's base snapshot into base (imported first if needed), and the
 * size of its filesystem in GiB. */
static int
image_base(const char *image, char *base, size_t len, uint64_t *gib, struct op_error *e)
{
	struct image im;
	char vol[32];
	int64_t size;
	int r;

	if (image_find(image, &im) < 0 || strlen(im.id) < 16)
		return op_fail(e, "invalid", -ENOENT, "image %s has no id (rebuild it)", image);
	snprintf(vol, sizeof(vol), "img-%.16s", im.id);
	snprintf(base, len, "%s.base", vol);
	*gib = im.min_disk_mib > 1024 ? (im.min_disk_mib + 1023) / 1024 : 1;
	pthread_mutex_lock(&import_lock);
	size = volume_size(base, e);
	r = size < 0 ? (int)size : size == 0 ? import_image(&im, vol, base, *gib, e) : 0;
	pthread_mutex_unlock(&import_lock);
	return r;
}

/*
 * Grow the ext4 filesystem on a volume. The host has no NBD client module,
 * so qemu-storage-daemon exports the volume as a FUSE file that e2fsck and
 * resize2fs work on as they do on root.raw; only metadata is written.
 */
static int
grow_fs(const char *vm_id, const char *tenant, const char *vol, struct op_error *e)
{
	char tag[64], sock[PATH_MAX + 32], file[PATH_MAX + 32], pidf[PATH_MAX + 32];
	char bdev[PATH_MAX + 256], exp[PATH_MAX + 128], err[512], *text = NULL;
	struct op_error ignored;
	size_t n;
	pid_t pid = 0;
	int r, fd;

	snprintf(tag, sizeof(tag), "grow-%s", vm_id);
	if (util_fmt(file, sizeof(file), "%s/%s.img", st_conf.dir, tag) < 0 ||
	    util_fmt(pidf, sizeof(pidf), "%s/%s.pid", st_conf.dir, tag) < 0)
		return op_fail(e, "internal", -ENAMETOOLONG, "path too long");
	if ((r = own_export(tag, tenant, vol, sock, sizeof(sock), e)) < 0)
		return r;
	if (util_fmt(bdev, sizeof(bdev),
		     "driver=nbd,node-name=root,server.type=unix,server.path=%s,export=%s", sock,
		     vol) < 0 ||
	    util_fmt(exp, sizeof(exp),
		     "type=fuse,id=fs,node-name=root,mountpoint=%s,writable=on", file) < 0) {
		r = op_fail(e, "internal", -ENAMETOOLONG, "path too long");
		goto out;
	}
	umount2(file, MNT_DETACH); /* left by a crash, if any */
	unlink(pidf);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = op_fail(e, "internal", -errno, "%s: %s", file, strerror(errno));
		goto out;
	}
	close(fd);
	{
		/* --daemonize returns once the export is mounted. */
		const char *const qsd[] = {"qemu-storage-daemon", "--blockdev", bdev, "--export",
					   exp, "--pidfile", pidf, "--daemonize", NULL};
		const char *const fsck[] = {"e2fsck", "-f", "-p", file, NULL};
		const char *const resize[] = {"resize2fs", file, NULL};

		if ((r = util_run(qsd, err, sizeof(err))) < 0) {
			op_fail(e, "internal", r, "qemu-storage-daemon: %s", err);
			goto out;
		}
		if (util_read_file(pidf, 64, &text, &n) == 0)
			pid = util_parse_pid(text);
		free(text);
		/* A fresh clone was never mounted and resizes at once; a used
		 * one must be checked first (resize2fs says so). As in
		 * disk_grow_root, e2fsck -p exits 1 after harmless fixes. */
		if (util_run(resize, err, sizeof(err)) < 0) {
			(void)util_run(fsck, err, sizeof(err));
			if ((r = util_run(resize, err, sizeof(err))) < 0)
				op_fail(e, "internal", r, "resize2fs: %s", err);
		}
	}
out:
	if (pid > 0) {
		uint64_t deadline = util_now_ms() + 10000;

		/* SIGTERM: it flushes, unmounts and exits. */
		kill(pid, SIGTERM);
		while (kill(pid, 0) == 0 && waitpid(pid, NULL, WNOHANG) <= 0 &&
		       util_now_ms() < deadline)
			usleep(10000);
	}
	umount2(file, MNT_DETACH);
	unlink(file);
	unlink(pidf);
	st_call("export.delete", json_pack("{s:s}", "vm", tag), NULL, &ignored);
	return r;
}

int
storage_root_prepare(const char *vm_id, const struct vm_spec *s, uint64_t size_gib,
		     uint64_t done_gib, struct op_error *e)
{
	const char *tenant = storage_root_tenant(s);
	char root[80], base[64];
	uint64_t gib = 0, t0 = util_now_ms(), t1;
	int64_t size;
	int r, made = 0;

	if (!st_conf.enabled)
		return op_fail(e, "conflict", -ENODEV, "storage is not configured");
	storage_root_name(vm_id, root, sizeof(root));
	if ((size = volume_size(root, e)) < 0)
		return (int)size;
	if (size == 0) {
		if ((r = image_base(s->image, base, sizeof(base), &gib, e)) < 0)
			return r;
		/* Copy-on-write: milliseconds whatever the size. */
		r = st_call("volume.clone",
			 json_pack("{s:s, s:s, s:s}", "name", base, "clone", root, "tenant", tenant),
			 NULL, e);
		if (r < 0)
			return r;
		size = (int64_t)(gib << 30);
		made = 1;
	}
	if ((uint64_t)size > size_gib << 30)
		return op_fail(e, "invalid", -EINVAL, "shrinking a disk is not supported");
	if ((uint64_t)size == size_gib << 30 && (made || done_gib >= size_gib)) {
		if (made)
			log_info("vm %s: root volume %s made in %llu ms", vm_id, root,
				 (unsigned long long)(util_now_ms() - t0));
		return 0;
	}
	/* Grown before but not its filesystem (that step failed, or the agent
	 * stopped in between): resize2fs again, which is harmless. */
	if ((uint64_t)size < size_gib << 30 &&
	    (r = st_call("volume.grow",
		      json_pack("{s:s, s:I}", "name", root, "size", (json_int_t)(size_gib << 30)),
		      NULL, e)) < 0)
		return r;
	t1 = util_now_ms();
	if ((r = grow_fs(vm_id, tenant, root, e)) < 0)
		return r;
	log_info("vm %s: root volume %s ready in %llu ms (made or grown to %llu GiB in %llu ms, "
		 "its filesystem in %llu ms)",
		 vm_id, root, (unsigned long long)(util_now_ms() - t0),
		 (unsigned long long)size_gib, (unsigned long long)(t1 - t0),
		 (unsigned long long)(util_now_ms() - t1));
	return 0;
}

void
storage_root_delete(const char *vm_id)
{
	char root[80];
	struct op_error e;

	storage_root_name(vm_id, root, sizeof(root));
	if (st_conf.enabled &&
	    st_call("volume.delete", json_pack("{s:s}", "name", root), NULL, &e) < 0 &&
	    strcmp(e.code, "not_found") != 0)
		log_warnx("vm %s: cannot delete its root volume %s: %s", vm_id, root, e.msg);
}
