/* nftx.c - see nftx.h */
#define _GNU_SOURCE
#include "nftx.h"

#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int
run_here(const char *cmds, char **listing, char *err, size_t errlen)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	int r = 0;

	if (ctx == NULL) {
		snprintf(err, errlen, "libnftables: out of memory");
		return -ENOMEM;
	}
	if (nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0) {
		snprintf(err, errlen, "libnftables: cannot buffer output");
		r = -ENOMEM;
		goto out;
	}
	if (cmds != NULL && nft_run_cmd_from_buffer(ctx, cmds) != 0) {
		first_line(nft_ctx_get_error_buffer(ctx), err, errlen);
		r = -EIO;
		goto out;
	}
	if (listing != NULL) {
		/* The output buffer is reset by each get: drop the commands'. */
		(void)nft_ctx_get_output_buffer(ctx);
		if (nft_run_cmd_from_buffer(ctx, "list ruleset") != 0) {
			first_line(nft_ctx_get_error_buffer(ctx), err, errlen);
			r = -EIO;
			goto out;
		}
		*listing = strdup(nft_ctx_get_output_buffer(ctx));
		if (*listing == NULL) {
			snprintf(err, errlen, "out of memory");
			r = -ENOMEM;
		}
	}
out:
	nft_ctx_free(ctx);
	return r;
}

int
nftx_run(const char *ns, const char *cmds, char **listing, char *err, size_t errlen)
{
	char path[128];
	int home = -1, target = -1, r;

	if (listing != NULL)
		*listing = NULL;
	pthread_mutex_lock(&mtx);
	if (ns != NULL) {
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
		/* thread-self: the namespace of this thread, not the leader's. */
		home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		target = open(path, O_RDONLY | O_CLOEXEC);
		if (home < 0 || target < 0) {
			r = -errno;
			snprintf(err, errlen, "namespace %s: %s", ns, strerror(errno));
			goto out;
		}
		if (setns(target, CLONE_NEWNET) < 0) {
			r = -errno;
			snprintf(err, errlen, "setns %s: %s", ns, strerror(errno));
			goto out;
		}
	}
	r = run_here(cmds, listing, err, errlen);
	if (home >= 0 && setns(home, CLONE_NEWNET) < 0) {
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
