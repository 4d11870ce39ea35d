/* disk.c - see disk.h */
#define _GNU_SOURCE
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define GIB (UINT64_C(1) << 30)

_Static_assert(DISK_SEED_SIZE == 1024 * 1024, "mkfs.vfat -C below makes 1024 KiB");

int
disk_create_root(const char *path, const char *rootfs_dir, uint64_t size_gib, char *err,
		 size_t errlen)
{
	char size[32];
	struct stat st;
	int r;

	if (stat(rootfs_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "image rootfs %s is missing (run make guest)", rootfs_dir);
		return -ENOENT;
	}
	snprintf(size, sizeof(size), "%lluM", (unsigned long long)(size_gib * 1024));
	/* Lazy init keeps creation fast: the guest kernel zeroes inode tables
	 * in the background, and the file stays sparse. */
	const char *const argv[] = {"mke2fs", "-q", "-F", "-t", "ext4", "-L", "cloudlet-root",
			      "-E", "lazy_itable_init=1,lazy_journal_init=1", "-d",
			      rootfs_dir, path, size, NULL};
	r = util_run(argv, err, errlen);
	if (r < 0)
		unlink(path);
	return r;
}

int64_t
disk_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	return (int64_t)st.st_size;
}

int
disk_grow_root(const char *path, uint64_t size_gib, char *err, size_t errlen)
{
	int64_t cur = disk_size(path);
	const char *const fsck[] = {"e2fsck", "-f", "-p", path, NULL};
	const char *const resize[] = {"resize2fs", path, NULL};
	int r;

	if (cur < 0) {
		snprintf(err, errlen, "root disk: %s", strerror((int)-cur));
		return (int)cur;
	}
	if ((uint64_t)cur > size_gib * GIB) {
		snprintf(err, errlen, "shrinking a disk is not supported");
		return -EINVAL;
	}
	if ((uint64_t)cur == size_gib * GIB)
		return 0;
	if (truncate(path, (off_t)(size_gib * GIB)) < 0) {
		snprintf(err, errlen, "grow root disk: %s", strerror(errno));
		return -errno;
	}
	/* resize2fs insists on a freshly checked filesystem. e2fsck -p exits 1
	 * when it fixed something harmless, which util_run reports as failure,
	 * so run it and then let resize2fs judge. */
	(void)util_run(fsck, err, errlen);
	r = util_run(resize, err, errlen);
	if (r < 0)
		return r;
	err[0] = '\0';
	return 0;
}

/*
 * meta-data, YAML as cloud-init's NoCloud reads it: the keys in
 * "public-keys" (a list of key lines) go to the default user's
 * authorized_keys (cloud-init's cc_ssh; the busybox images' boot reads the
 * same lines, docs/guest.md). A key line holds no '"' or '\\' (sshkey.h), so
 * double quotes need no escapes.
 */
char *
disk_meta_data(const char *instance_id, const struct vm_spec *s)
{
	char host[SPEC_NAME_MAX + 1];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	spec_hostname(s, host, sizeof(host));
	fprintf(f, "instance-id: %s\nlocal-hostname: %s\n", instance_id, host);
	if (s->ssh_keys != NULL) {
		fprintf(f, "public-keys:\n");
		for (const char *p = s->ssh_keys, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
			fprintf(f, "  - \"%.*s\"\n", (int)(nl - p), p);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *
disk_network_config(const struct vm_spec *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned i;

	if (f == NULL)
		return NULL;
	fprintf(f, "version: 2\n");
	if (s->n_nics > 0)
		fprintf(f, "ethernets:\n");
	for (i = 0; i < s->n_nics; i++) {
		const struct spec_nic *n = &s->nics[i];

		fprintf(f, "  eth%u:\n    match:\n      macaddress: \"%s\"\n", i, n->mac);
		fprintf(f, "    set-name: eth%u\n", i);
		if (n->dhcp)
			fprintf(f, "    dhcp4: true\n");
		if (n->address[0] != '\0')
			fprintf(f, "    addresses: [%s]\n", n->address);
		if (n->gateway[0] != '\0')
			fprintf(f, "    gateway4: %s\n", n->gateway);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int
write_text(const char *dir, const char *name, const char *text)
{
	char path[1100];
	int r;

	if ((r = util_fmt(path, sizeof(path), "%s/%s", dir, name)) < 0)
		return r;
	return util_write_atomic(path, text, strlen(text), 0600);
}

int
disk_blank_seed(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, DISK_SEED_SIZE) < 0) {
		int r = -errno;

		snprintf(err, errlen, "seed: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	close(fd);
	return 0;
}

int
disk_copy_upload(const char *src, uid_t owner, const char *path, char *err, size_t errlen)
{
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1, r = 0;
	struct stat st;
	off_t data = 0, hole;

	if (in < 0 || fstat(in, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", src, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != owner) {
		r = -EPERM;
		snprintf(err, errlen, "%s: not a regular file of the image dir's owner", src);
		goto done;
	}
	out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0 || ftruncate(out, st.st_size) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	/* each data extent, at its own offset: holes stay holes */
	while (data < st.st_size && (data = lseek(in, data, SEEK_DATA)) >= 0) {
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			hole = st.st_size;
		while (data < hole) {
			off_t o = data;
			ssize_t n = copy_file_range(in, &o, out, &data, (size_t)(hole - o), 0);

			if (n <= 0) {
				r = n < 0 ? -errno : -EIO;
				snprintf(err, errlen, "copy: %s", n < 0 ? strerror(errno) : "short");
				goto done;
			}
		}
	}
	if (data < 0 && errno != ENXIO) { /* ENXIO: no data after the offset */
		r = -errno;
		snprintf(err, errlen, "copy: %s", strerror(errno));
	}
done:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (r < 0 && out >= 0)
		unlink(path);
	return r;
}

char *
disk_cloud_config(const struct vm_spec *s)
{
	char err[256], *form = NULL;
	const char *ud = s->user_data ? s->user_data : "";

	/* The spec parser refused what does not translate; a spec made
	 * otherwise (a unit test's oversized one) gets an empty form. */
	if (userdata_translate(ud, strlen(ud), &form, err, sizeof(err)) == -ENOMEM)
		return NULL;
	return form != NULL ? form : strdup("");
}

int
disk_write_seed(const char *path, const char *instance_id, const struct vm_spec *s,
		int in_place, char *err, size_t errlen)
{
	char dir[1024], tmpimg[1100], md[1100], ud[1100], nc[1100], cc[1100];
	char *meta = disk_meta_data(instance_id, s);
	char *net = disk_network_config(s);
	char *cfg = disk_cloud_config(s);
	int r = -ENOMEM;

	if (meta == NULL || net == NULL || cfg == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((r = util_fmt(dir, sizeof(dir), "%s.d", path)) < 0 ||
	    (r = util_fmt(tmpimg, sizeof(tmpimg), "%s.tmp", path)) < 0 ||
	    (r = util_fmt(md, sizeof(md), "%s/meta-data", dir)) < 0 ||
	    (r = util_fmt(ud, sizeof(ud), "%s/user-data", dir)) < 0 ||
	    (r = util_fmt(nc, sizeof(nc), "%s/network-config", dir)) < 0 ||
	    (r = util_fmt(cc, sizeof(cc), "%s/cloudlet-config", dir)) < 0) {
		snprintf(err, errlen, "seed path too long");
		goto out;
	}
	util_rmtree(dir);
	unlink(tmpimg);
	if (mkdir(dir, 0700) < 0) {
		r = -errno;
		snprintf(err, errlen, "seed dir: %s", strerror(errno));
		goto out;
	}
	if ((r = write_text(dir, "meta-data", meta)) < 0 ||
	    (r = write_text(dir, "user-data", s->user_data ? s->user_data : "")) < 0 ||
	    (r = write_text(dir, "network-config", net)) < 0 ||
	    (r = write_text(dir, "cloudlet-config", cfg)) < 0) {
		snprintf(err, errlen, "seed files: %s", strerror(-r));
		goto out;
	}
	{
		/* A new image of 1024 blocks of 1 KiB (-C), or the existing
		 * file (the blank seed-sized one QEMU has open) formatted as
		 * it is: same inode, same size. */
		const char *img = in_place ? path : tmpimg;
		const char *const mkfs_new[] = {"mkfs.vfat", "-n", "CIDATA", "-C", tmpimg, "1024",
						NULL};
		const char *const mkfs_in[] = {"mkfs.vfat", "-n", "CIDATA", path, NULL};
		const char *const mcopy[] = {"mcopy", "-o", "-i", img, md, ud, nc, cc, "::", NULL};

		if ((r = util_run(in_place ? mkfs_in : mkfs_new, err, errlen)) < 0 ||
		    (r = util_run(mcopy, err, errlen)) < 0)
			goto out;
	}
	if (!in_place && rename(tmpimg, path) < 0) {
		r = -errno;
		snprintf(err, errlen, "seed: %s", strerror(errno));
		goto out;
	}
	err[0] = '\0';
	r = 0;
out:
	unlink(tmpimg);
	util_rmtree(dir);
	free(meta);
	free(net);
	free(cfg);
	return r;
}
