/*
 * build.c - the rule-compiling worker thread (build.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build.h"
#include "sensor.h"

struct job {
	struct job *next;
	struct netcfg cfg;
	struct ruleset *rs, *rsc;
	uint64_t tag;
	int failed; /* rs is kept for its reference, the job failed */
	char err[512];
};

struct builder {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *todo, *done; /* FIFO lists */
	unsigned pending;
	int quit, running;
	int pipe[2];
};

static void
append(struct job **list, struct job *j)
{
	while (*list)
		list = &(*list)->next;
	j->next = NULL;
	*list = j;
}

static void *
worker(void *arg)
{
	struct builder *b = arg;

	pthread_mutex_lock(&b->lock);
	/* started: builder_start returns only now, so the thread's own set-up
	 * system calls are all made before the caller installs seccomp */
	b->running = 1;
	pthread_cond_broadcast(&b->cond);
	for (;;) {
		struct job *j;

		while (!b->todo && !b->quit)
			pthread_cond_wait(&b->cond, &b->lock);
		if (b->quit)
			break;
		j = b->todo;
		b->todo = j->next;
		pthread_mutex_unlock(&b->lock);
		if (!j->rs)
			j->rs = sensor_compile_rules(&j->cfg, j->err, sizeof(j->err));
		if (j->rs && sensor_compile_custom(&j->cfg, j->rs, &j->rsc, j->err, sizeof(j->err)) < 0) {
			/* given back to the inspecting thread, which puts it */
			j->failed = 1;
		}
		pthread_mutex_lock(&b->lock);
		append(&b->done, j);
		(void)!write(b->pipe[1], "", 1);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

struct builder *
builder_start(void)
{
	struct builder *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	if (pipe2(b->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(b);
		return NULL;
	}
	if (pthread_create(&b->thread, NULL, worker, b) != 0) {
		close(b->pipe[0]);
		close(b->pipe[1]);
		free(b);
		return NULL;
	}
	pthread_mutex_lock(&b->lock);
	while (!b->running)
		pthread_cond_wait(&b->cond, &b->lock);
	pthread_mutex_unlock(&b->lock);
	return b;
}

static void
free_list(struct job *j)
{
	while (j) {
		struct job *next = j->next;

		netcfg_free(&j->cfg);
		ruleset_put(j->rs);
		ruleset_put(j->rsc);
		free(j);
		j = next;
	}
}

void
builder_stop(struct builder *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	b->quit = 1;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
	free_list(b->todo);
	free_list(b->done);
	close(b->pipe[0]);
	close(b->pipe[1]);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
	free(b);
}

int
builder_fd(const struct builder *b)
{
	return b->pipe[0];
}

int
builder_submit(struct builder *b, struct netcfg *cfg, struct ruleset *base, uint64_t tag)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j) {
		netcfg_free(cfg);
		ruleset_put(base);
		return -ENOMEM;
	}
	j->rs = base;
	j->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	j->tag = tag;
	pthread_mutex_lock(&b->lock);
	append(&b->todo, j);
	b->pending++;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

int
builder_take(struct builder *b, struct netcfg *cfg, struct ruleset **rs, struct ruleset **rsc,
	     uint64_t *tag, char *err, size_t errlen)
{
	struct job *j;
	char drain[64];

	while (read(b->pipe[0], drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&b->lock);
	j = b->done;
	if (j) {
		b->done = j->next;
		b->pending--;
	}
	pthread_mutex_unlock(&b->lock);
	if (!j)
		return 0;
	*cfg = j->cfg;
	*rs = j->rs;
	*rsc = j->rsc;
	*tag = j->tag;
	if (j->failed) {
		ruleset_put(j->rs); /* on the inspecting thread, where references are */
		ruleset_put(j->rsc);
		*rs = *rsc = NULL;
	}
	snprintf(err, errlen, "%s", j->err);
	free(j);
	return 1;
}

unsigned
builder_pending(const struct builder *b)
{
	return b->pending; /* a statistic */
}
