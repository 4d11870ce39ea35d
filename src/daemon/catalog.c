/* catalog.c - see catalog.h */
#include "catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVICES_MAX 256

static struct service services[SERVICES_MAX];
static size_t nservices;
static json_t *catalog;

#define BAD(...)                                                                       \
	do {                                                                           \
		snprintf(err, errlen, __VA_ARGS__);                                    \
		return -EINVAL;                                                        \
	} while (0)

static int
get_range(const json_t *s, const char *sid, const char *key, struct range *out,
	  char *err, size_t errlen)
{
	json_t *r = json_object_get(json_object_get(s, "bounds"), key);
	json_t *min = json_object_get(r, "min"), *max = json_object_get(r, "max");

	if (!json_is_integer(min) || !json_is_integer(max))
		BAD("service %s: bounds.%s needs integer min and max", sid, key);
	out->min = json_integer_value(min);
	out->max = json_integer_value(max);
	if (out->min < 1 || out->max < out->min)
		BAD("service %s: bounds.%s must have 1 <= min <= max", sid, key);
	return 0;
}

static int
get_default(const json_t *s, const char *sid, const char *key, const struct range *b,
	    int64_t *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(json_object_get(s, "defaults"), key);

	if (!json_is_integer(v))
		BAD("service %s: defaults.%s must be an integer", sid, key);
	*out = json_integer_value(v);
	if (*out < b->min || *out > b->max)
		BAD("service %s: defaults.%s is outside its bounds", sid, key);
	return 0;
}

static int
copy_str(const json_t *s, const char *sid, const char *key, char *out, size_t len,
	 char *err, size_t errlen)
{
	const char *v = json_string_value(json_object_get(s, key));

	if (v == NULL || v[0] == '\0' || strlen(v) >= len)
		BAD("service %s: %s must be a non-empty string", sid, key);
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

int
catalog_load(const char *path, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr), *arr, *s;
	size_t i;
	int r;

	if (root == NULL)
		BAD("%s: %s (line %d)", path, jerr.text, jerr.line);
	arr = json_object_get(root, "services");
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > SERVICES_MAX) {
		json_decref(root);
		BAD("%s: \"services\" must be a non-empty array", path);
	}
	nservices = 0;
	json_array_foreach(arr, i, s) {
		struct service *sv = &services[i];
		const char *sid = json_string_value(json_object_get(s, "id"));
		json_t *ports = json_object_get(s, "ports"), *p;
		size_t k;

		memset(sv, 0, sizeof(*sv));
		if (sid == NULL) {
			snprintf(err, errlen, "%s: service #%zu has no id", path, i);
			goto fail;
		}
		if ((r = copy_str(s, sid, "id", sv->id, sizeof(sv->id), err, errlen)) < 0 ||
		    (r = copy_str(s, sid, "image", sv->image, sizeof(sv->image), err, errlen)) <
			    0 ||
		    (r = get_range(s, sid, "vcpus", &sv->b_vcpus, err, errlen)) < 0 ||
		    (r = get_range(s, sid, "memory_mib", &sv->b_memory_mib, err, errlen)) < 0 ||
		    (r = get_range(s, sid, "disk_gib", &sv->b_disk_gib, err, errlen)) < 0 ||
		    (r = get_default(s, sid, "vcpus", &sv->b_vcpus, &sv->vcpus, err, errlen)) <
			    0 ||
		    (r = get_default(s, sid, "memory_mib", &sv->b_memory_mib, &sv->memory_mib,
				     err, errlen)) < 0 ||
		    (r = get_default(s, sid, "disk_gib", &sv->b_disk_gib, &sv->disk_gib, err,
				     errlen)) < 0)
			goto fail;
		if (!json_is_string(json_object_get(s, "name")) ||
		    !json_is_string(json_object_get(s, "description"))) {
			snprintf(err, errlen, "service %s: name and description are required", sid);
			goto fail;
		}
		if (!json_is_array(ports)) {
			snprintf(err, errlen, "service %s: ports must be an array", sid);
			goto fail;
		}
		json_array_foreach(ports, k, p) {
			unsigned port;
			char proto[4], tail;

			if (!json_is_string(p) ||
			    sscanf(json_string_value(p), "%u/%3[a-z]%c", &port, proto, &tail) != 2 ||
			    port == 0 || port > 65535 ||
			    (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)) {
				snprintf(err, errlen, "service %s: ports must look like 80/tcp", sid);
				goto fail;
			}
			if (sv->n_ports < SERVICE_PORTS_MAX) {
				sv->ports[sv->n_ports].port = (int)port;
				snprintf(sv->ports[sv->n_ports].proto,
					 sizeof(sv->ports[sv->n_ports].proto), "%s", proto);
				sv->n_ports++;
			}
		}
		for (k = 0; k < i; k++)
			if (strcmp(services[k].id, sv->id) == 0) {
				snprintf(err, errlen, "service %s is listed twice", sid);
				goto fail;
			}
		nservices++;
	}
	json_decref(catalog);
	catalog = json_incref(arr);
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	nservices = 0;
	return -EINVAL;
}

const struct service *
catalog_find(const char *id)
{
	size_t i;

	for (i = 0; i < nservices; i++)
		if (strcmp(services[i].id, id) == 0)
			return &services[i];
	return NULL;
}

json_t *
catalog_json(void)
{
	return catalog ? json_incref(catalog) : json_array();
}
