/* images.c - see images.h */
#define _GNU_SOURCE
#include "images.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "agentc.h"
#include "store_host.h"

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static json_t *list; /* under mtx; replaced, never changed in place */

int
images_refresh(const char *host_id, char *err, size_t errlen)
{
	char code[32];
	json_t *l = NULL, *old;
	int r = -ENOENT;

	snprintf(err, errlen, "no host is registered");
	if (host_id != NULL)
		r = agentc_call(host_id, "image.list", NULL, &l, code, err, errlen);
	else {
		/* The first host that answers. */
		json_t *hosts = store_host_list(), *h;
		size_t i;

		json_array_foreach(hosts, i, h) {
			r = agentc_call(json_string_value(json_object_get(h, "id")), "image.list",
					NULL, &l, code, err, errlen);
			if (r == 0)
				break;
		}
		json_decref(hosts);
	}
	if (r < 0)
		return r;
	if (!json_is_array(l)) {
		json_decref(l);
		return -EPROTO;
	}
	pthread_mutex_lock(&mtx);
	old = list;
	list = l;
	pthread_mutex_unlock(&mtx);
	json_decref(old);
	return 0;
}

json_t *
images_list(void)
{
	json_t *l;

	pthread_mutex_lock(&mtx);
	l = json_incref(list);
	pthread_mutex_unlock(&mtx);
	return l;
}

int
images_has(const char *name)
{
	json_t *l = images_list(), *im;
	size_t i;
	int found = 0;

	if (l == NULL)
		return -1;
	json_array_foreach(l, i, im) {
		const char *n = json_string_value(json_object_get(im, "name"));

		if (n != NULL && strcmp(n, name) == 0)
			found = 1;
	}
	json_decref(l);
	return found;
}
