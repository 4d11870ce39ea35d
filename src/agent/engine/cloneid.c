/* cloneid.c - see cloneid.h */
#define _GNU_SOURCE
#include "cloneid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "disk.h"
#include "util.h"

_Static_assert(SPEC_USER_DATA_MAX + USERDATA_FORM_MAX + SPEC_SSH_KEYS_TOTAL_MAX + 8192 <=
		   CLONEID_SIZE,
	       "the identity must hold the largest user-data, its form and ssh_keys");

int
cloneid_build(const char *instance_id, const struct vm_spec *s, char **out)
{
	char seed[65], head[64], *buf = NULL, *body = NULL;
	char *meta = disk_meta_data(instance_id, s);
	char *net = disk_network_config(s);
	char *cfg = disk_cloud_config(s);
	const char *ud = s->user_data ? s->user_data : "";
	size_t blen = 0, hlen;
	struct timespec now;
	FILE *f = NULL;
	unsigned i;
	int r = -ENOMEM;

	*out = NULL;
	if (meta == NULL || net == NULL || cfg == NULL ||
	    (f = open_memstream(&body, &blen)) == NULL)
		goto out;
	if (util_random_hex(seed, 32) < 0) {
		r = -EIO;
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	fprintf(f, "time=%lld.%09ld\nseed=%s\n", (long long)now.tv_sec, now.tv_nsec,
		seed);
	for (i = 0; i < s->n_nics; i++)
		fprintf(f, "mac%u=%s\n", i, s->nics[i].mac);
	fprintf(
	    f,
	    "meta-data=%zu\nnetwork-config=%zu\nuser-data=%zu\ncloudlet-config=%zu\n\n",
	    strlen(meta), strlen(net), strlen(ud), strlen(cfg));
	fputs(meta, f);
	fputs(net, f);
	fputs(ud, f);
	fputs(cfg, f);
	if (fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = NULL;
	hlen = (size_t)snprintf(head, sizeof(head), "CLOUDLET-IDENTITY 1 %zu\n", blen);
	if (hlen + blen > CLONEID_SIZE) {
		r = -E2BIG;
		goto out;
	}
	if ((buf = calloc(1, CLONEID_SIZE)) == NULL)
		goto out;
	memcpy(buf, head, hlen);
	memcpy(buf + hlen, body, blen);
	*out = buf;
	r = 0;
out:
	if (f != NULL)
		fclose(f);
	if (body != NULL) {
		explicit_bzero(body, blen);
		free(body);
	}
	explicit_bzero(seed, sizeof(seed));
	free(meta);
	free(net);
	free(cfg);
	return r;
}

int
cloneid_memfd(const char *data, size_t len)
{
	size_t off = 0;
	int fd = memfd_create("cloudlet-identity", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (data == NULL) {
		if (ftruncate(fd, (off_t)len) < 0)
			goto fail;
		return fd;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		goto fail;
	return fd;
fail : {
	int r = errno ? -errno : -EIO;

	close(fd);
	return r;
}
}
