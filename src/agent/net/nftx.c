/* nftx.c - see nftx.h */
#define _GNU_SOURCE
#include "nftx.h"

#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;

/* nft's error text, first line only, into err. */
static void
first_line(const char *text, char *err, size_t errlen)
{
	size_t n = text ? strcspn(text, "\n") : 0;

	if (n == 0) {
		snprintf(err, errlen, "nft failed");
		return;
	}
	snprintf(err, errlen, "nft: %.*s", (int)(n > 400 ? 400 : n), text);
}

/*
 * Contexts are kept, one per namespace: freeing one costs 10-15 ms here
 * (closing its netlink socket waits for the kernel), more than a whole
 * load. A context's socket belongs to the namespace it was made in, so
 * each is keyed by the namespace's inode as well as its name: a namespace
 * deleted and made again under the same name gets a new context.
 */
#define CTX_MAX 128

static struct {
	char ns[64];
	ino_t ino;
	struct nft_ctx *ctx;
	uint64_t used; /* for eviction: least recently used goes */
} cache[CTX_MAX];
static uint64_t tick;

/* The context for the namespace this thread is in now (mtx held). */
static struct nft_ctx *
ctx_for(const char *ns, ino_t ino)
{
	int slot = -1, oldest = 0;

	for (int i = 0; i < CTX_MAX; i++) {
		if (cache[i].ctx != NULL && strcmp(cache[i].ns, ns) == 0) {
			if (cache[i].ino == ino) {
				cache[i].used = ++tick;
				return cache[i].ctx;
			}
			nft_ctx_free(cache[i].ctx); /* the namespace was made again */
			cache[i].ctx = NULL;
		}
		if (cache[i].ctx == NULL && slot < 0)
			slot = i;
		if (cache[i].used < cache[oldest].used)
			oldest = i;
	}
	if (slot < 0) {
		slot = oldest;
		nft_ctx_free(cache[slot].ctx);
		cache[slot].ctx = NULL;
	}
	cache[slot].ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (cache[slot].ctx == NULL)
		return NULL;
	if (nft_ctx_buffer_output(cache[slot].ctx) < 0 || nft_ctx_buffer_error(cache[slot].ctx) < 0) {
		nft_ctx_free(cache[slot].ctx);
		cache[slot].ctx = NULL;
		return NULL;
	}
	snprintf(cache[slot].ns, sizeof(cache[slot].ns), "%s", ns);
	cache[slot].ino = ino;
	cache[slot].used = ++tick;
	return cache[slot].ctx;
}

static int
run_here(struct nft_ctx *ctx, const char *cmds, char **listing, char *err, size_t errlen)
{
	int r = 0;

	/* Whatever an earlier call left in the buffers goes. */
	(void)nft_ctx_get_output_buffer(ctx);
	(void)nft_ctx_get_error_buffer(ctx);
	if (cmds != NULL && nft_run_cmd_from_buffer(ctx, cmds) != 0) {
		first_line(nft_ctx_get_error_buffer(ctx), err, errlen);
		return -EIO;
	}
	if (listing != NULL) {
		/* The output buffer is reset by each get: drop the commands'. */
		(void)nft_ctx_get_output_buffer(ctx);
		if (nft_run_cmd_from_buffer(ctx, "list ruleset") != 0) {
			first_line(nft_ctx_get_error_buffer(ctx), err, errlen);
			return -EIO;
		}
		*listing = strdup(nft_ctx_get_output_buffer(ctx));
		if (*listing == NULL) {
			snprintf(err, errlen, "out of memory");
			r = -ENOMEM;
		}
	}
	return r;
}

void
nftx_forget(const char *ns)
{
	pthread_mutex_lock(&mtx);
	for (int i = 0; i < CTX_MAX; i++)
		if (cache[i].ctx != NULL && strcmp(cache[i].ns, ns ? ns : "") == 0) {
			nft_ctx_free(cache[i].ctx);
			cache[i].ctx = NULL;
		}
	pthread_mutex_unlock(&mtx);
}

int
nftx_run(const char *ns, const char *cmds, char **listing, char *err, size_t errlen)
{
	char path[128];
	struct nft_ctx *ctx;
	struct stat st;
	int home = -1, target = -1, entered = 0, r;

	if (listing != NULL)
		*listing = NULL;
	pthread_mutex_lock(&mtx);
	if (ns != NULL)
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
	else
		snprintf(path, sizeof(path), "/proc/thread-self/ns/net");
	/* thread-self: the namespace of this thread, not the leader's. */
	home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (home < 0 || target < 0 || fstat(target, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "namespace %s: %s", ns ? ns : "(own)", strerror(errno));
		goto out;
	}
	if (ns != NULL) {
		if (setns(target, CLONE_NEWNET) < 0) {
			r = -errno;
			snprintf(err, errlen, "setns %s: %s", ns, strerror(errno));
			goto out;
		}
		entered = 1;
	}
	/* The namespace's inode names it for good (ctx_for). */
	if ((ctx = ctx_for(ns ? ns : "", st.st_ino)) == NULL) {
		snprintf(err, errlen, "libnftables: out of memory");
		r = -ENOMEM;
	} else {
		r = run_here(ctx, cmds, listing, err, errlen);
	}
	if (entered && setns(home, CLONE_NEWNET) < 0) {
		/* This thread would go on in the tenant's namespace: nothing
		 * it did next could be trusted. */
		perror("cloudlet-agent: cannot return to the agent's namespace");
		abort();
	}
out:
	if (home >= 0)
		close(home);
	if (target >= 0)
		close(target);
	pthread_mutex_unlock(&mtx);
	return r;
}
