/* request.c - see request.h */
#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"

#define FAIL(...)                                                                      \
	do {                                                                           \
		snprintf(err, errlen, __VA_ARGS__);                                    \
		return -EINVAL;                                                        \
	} while (0)

int
req_object(const char *body, size_t len, json_t **out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j;

	if (len > REQ_BODY_MAX)
		FAIL("the body is larger than %d bytes", REQ_BODY_MAX);
	if (len == 0)
		FAIL("a JSON object body is required");
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		FAIL("malformed JSON: %.120s (column %d)", jerr.text, jerr.column);
	if (!json_is_object(j)) {
		json_decref(j);
		FAIL("the body must be a JSON object");
	}
	*out = j;
	return 0;
}

int
req_check_name(const char *what, const char *s, char *err, size_t errlen)
{
	size_t i, n = strlen(s);

	if (n == 0)
		FAIL("%s must not be empty", what);
	if (n > 63)
		FAIL("%s is longer than 63 characters", what);
	for (i = 0; i < n; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9');

		if (i == 0 && !alnum)
			FAIL("%s must start with a letter or a digit", what);
		if (!alnum && c != '-' && c != '_' && c != '.')
			FAIL("%s may only contain letters, digits, '-', '_' and '.'", what);
	}
	return 0;
}

/* A string field (required or not) copied into out. Returns 1 if present. */
static int
str_field(const json_t *j, const char *key, int required, char *out, size_t len,
	  char *err, size_t errlen)
{
	json_t *v = json_object_get(j, key);

	if (v == NULL) {
		if (required)
			FAIL("%s is required", key);
		out[0] = '\0';
		return 0;
	}
	if (!json_is_string(v))
		FAIL("%s must be a string", key);
	if (json_string_length(v) >= len)
		FAIL("%s is longer than %zu characters", key, len - 1);
	if (strlen(json_string_value(v)) != json_string_length(v))
		FAIL("%s must not contain NUL", key);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 1;
}

/* An integer field in [min, max]. Returns 1 if present. */
static int
int_field(const json_t *j, const char *key, int64_t min, int64_t max, int64_t *out,
	  char *err, size_t errlen)
{
	json_t *v = json_object_get(j, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		FAIL("%s must be an integer", key);
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		FAIL("%s must be between %lld and %lld", key, (long long)min, (long long)max);
	*out = json_integer_value(v);
	return 1;
}

int
req_tenant_create(const json_t *j, char *name, size_t namelen, char *err, size_t errlen)
{
	static const char *const allowed[] = {"name", NULL};
	int r;

	if ((r = jsonv_only_fields(j, allowed, err, errlen)) < 0 ||
	    (r = str_field(j, "name", 1, name, namelen, err, errlen)) < 0)
		return r;
	return req_check_name("name", name, err, errlen);
}

int
req_quota(const json_t *j, struct quota *q, char *err, size_t errlen)
{
	static const char *const allowed[] = {"max_vcpus", "max_memory_mib", "max_disk_gib",
					      "max_vms", NULL};
	int r;

	if ((r = jsonv_only_fields(j, allowed, err, errlen)) < 0)
		return r;
	if ((r = int_field(j, "max_vcpus", 0, 100000, &q->max_vcpus, err, errlen)) < 0)
		return r;
	if (r == 0)
		FAIL("max_vcpus is required");
	if ((r = int_field(j, "max_memory_mib", 0, INT64_C(1) << 30, &q->max_memory_mib, err,
			   errlen)) < 0)
		return r;
	if (r == 0)
		FAIL("max_memory_mib is required");
	if ((r = int_field(j, "max_disk_gib", 0, INT64_C(1) << 30, &q->max_disk_gib, err,
			   errlen)) < 0)
		return r;
	if (r == 0)
		FAIL("max_disk_gib is required");
	if ((r = int_field(j, "max_vms", 0, 100000, &q->max_vms, err, errlen)) < 0)
		return r;
	if (r == 0)
		FAIL("max_vms is required");
	return 0;
}

/* cloud-init's formats that the images apply: a #cloud-config (well-formed,
 * its supported keys of the right shape: the same translation the agent
 * makes for the busybox images) or a #! script. */
static int
req_check_user_data(const char *ud, size_t len, char *err, size_t errlen)
{
	char *form = NULL;
	int r;

	if (userdata_kind(ud, len) == USERDATA_OTHER)
		FAIL("user_data must start with #cloud-config or #! (cloud-init's formats that "
		     "every image applies)");
	r = userdata_translate(ud, len, &form, err, errlen);
	free(form);
	return r == -E2BIG || r == -ENOMEM ? r : (r < 0 ? -EINVAL : 0);
}

int
req_vm_create(const json_t *j, struct vm_request *out, char *err, size_t errlen)
{
	static const char *const allowed[] = {
		"name",	    "service",	"vcpus", "memory_mib",	  "disk_gib",
		"image",    "user_data", "networks", "group", "anti_affinity", "keys", NULL};
	json_t *ud, *nets, *aa, *keys;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = jsonv_only_fields(j, allowed, err, errlen)) < 0 ||
	    (r = str_field(j, "name", 1, out->name, sizeof(out->name), err, errlen)) < 0 ||
	    (r = req_check_name("name", out->name, err, errlen)) < 0 ||
	    (r = str_field(j, "service", 1, out->service, sizeof(out->service), err, errlen)) <
		    0 ||
	    (r = str_field(j, "image", 0, out->image, sizeof(out->image), err, errlen)) < 0)
		return r;
	if (out->image[0] != '\0' && (r = req_check_name("image", out->image, err, errlen)) < 0)
		return r;
	if ((r = str_field(j, "group", 0, out->group, sizeof(out->group), err, errlen)) < 0 ||
	    (out->group[0] != '\0' && (r = req_check_name("group", out->group, err, errlen)) < 0))
		return r;
	keys = json_object_get(j, "keys");
	if (keys != NULL) {
		size_t i;
		json_t *k;

		if (!json_is_array(keys) || json_array_size(keys) > REQ_KEYS_MAX)
			FAIL("keys must be a list of at most %d SSH key names or ids", REQ_KEYS_MAX);
		json_array_foreach(keys, i, k)
			if (!json_is_string(k) ||
			    req_check_name("keys[]", json_string_value(k), err, errlen) < 0)
				FAIL("keys[%zu] must be an SSH key's name or id", i);
		out->keys = keys;
	}
	aa = json_object_get(j, "anti_affinity");
	if (aa != NULL && !json_is_boolean(aa))
		FAIL("anti_affinity must be true or false");
	out->anti_affinity = json_is_true(aa);
	if (out->anti_affinity && out->group[0] == '\0')
		FAIL("anti_affinity needs a group (the VMs that must not share a host)");
	if ((r = int_field(j, "vcpus", 1, 1024, &out->vcpus, err, errlen)) < 0 ||
	    (r = int_field(j, "memory_mib", 64, INT64_C(1) << 30, &out->memory_mib, err,
			   errlen)) < 0 ||
	    (r = int_field(j, "disk_gib", 1, INT64_C(1) << 20, &out->disk_gib, err, errlen)) < 0)
		return r;
	ud = json_object_get(j, "user_data");
	if (ud != NULL) {
		if (!json_is_string(ud))
			FAIL("user_data must be a string");
		if (json_string_length(ud) > REQ_USER_DATA_MAX) {
			snprintf(err, errlen, "user_data is larger than %d bytes",
				 REQ_USER_DATA_MAX);
			return -E2BIG;
		}
		if (strlen(json_string_value(ud)) != json_string_length(ud))
			FAIL("user_data must not contain NUL");
		if ((r = req_check_user_data(json_string_value(ud), json_string_length(ud), err,
					     errlen)) < 0)
			return r;
		out->user_data = json_string_value(ud);
	}
	nets = json_object_get(j, "networks");
	if (nets != NULL) {
		size_t i, k;
		json_t *n;

		if (!json_is_array(nets) || json_array_size(nets) == 0 ||
		    json_array_size(nets) > REQ_NICS_MAX)
			FAIL("networks must be a list of 1 to %d network names or ids",
			     REQ_NICS_MAX);
		json_array_foreach(nets, i, n) {
			if (!json_is_string(n) ||
			    req_check_name("networks[]", json_string_value(n), err, errlen) < 0)
				FAIL("networks[%zu] must be a network name or id", i);
			for (k = 0; k < i; k++)
				if (strcmp(json_string_value(json_array_get(nets, k)),
					   json_string_value(n)) == 0)
					FAIL("networks[%zu] is listed twice", i);
		}
		out->networks = nets;
	}
	return 0;
}

static int
in_range(const char *what, int64_t v, const struct range *b, const char *sid, char *err,
	 size_t errlen)
{
	if (v < b->min || v > b->max)
		FAIL("%s %lld is outside what service %s allows (%lld to %lld)", what,
		     (long long)v, sid, (long long)b->min, (long long)b->max);
	return 0;
}

int
req_vm_resolve(const struct vm_request *r, const struct service *s, struct vm_row *out,
	       char *err, size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", r->name);
	snprintf(out->service, sizeof(out->service), "%s", s->id);
	snprintf(out->image, sizeof(out->image), "%s", r->image[0] ? r->image : s->image);
	out->vcpus = r->vcpus ? r->vcpus : s->vcpus;
	out->memory_mib = r->memory_mib ? r->memory_mib : s->memory_mib;
	out->disk_gib = r->disk_gib ? r->disk_gib : s->disk_gib;
	snprintf(out->group_name, sizeof(out->group_name), "%s", r->group);
	out->anti_affinity = r->anti_affinity;
	if ((rc = in_range("vcpus", out->vcpus, &s->b_vcpus, s->id, err, errlen)) < 0 ||
	    (rc = in_range("memory_mib", out->memory_mib, &s->b_memory_mib, s->id, err,
			   errlen)) < 0 ||
	    (rc = in_range("disk_gib", out->disk_gib, &s->b_disk_gib, s->id, err, errlen)) < 0)
		return rc;
	return 0;
}

int
req_vm_patch(const json_t *j, const struct service *s, const int64_t cur[3],
	     int64_t new_spec[3], char *err, size_t errlen)
{
	static const char *const allowed[] = {"vcpus", "memory_mib", "disk_gib", NULL};
	int r, n = 0;

	if ((r = jsonv_only_fields(j, allowed, err, errlen)) < 0)
		return r;
	memcpy(new_spec, cur, 3 * sizeof(int64_t));
	if ((r = int_field(j, "vcpus", 1, 1024, &new_spec[0], err, errlen)) < 0)
		return r;
	n += r;
	if ((r = int_field(j, "memory_mib", 64, INT64_C(1) << 30, &new_spec[1], err, errlen)) <
	    0)
		return r;
	n += r;
	if ((r = int_field(j, "disk_gib", 1, INT64_C(1) << 20, &new_spec[2], err, errlen)) < 0)
		return r;
	n += r;
	if (n == 0)
		FAIL("give at least one of vcpus, memory_mib, disk_gib");
	if (new_spec[2] < cur[2])
		FAIL("shrinking a disk is not supported (%lld GiB -> %lld GiB): data would be "
		     "lost",
		     (long long)cur[2], (long long)new_spec[2]);
	if (s != NULL &&
	    ((r = in_range("vcpus", new_spec[0], &s->b_vcpus, s->id, err, errlen)) < 0 ||
	     (r = in_range("memory_mib", new_spec[1], &s->b_memory_mib, s->id, err, errlen)) <
		     0 ||
	     (r = in_range("disk_gib", new_spec[2], &s->b_disk_gib, s->id, err, errlen)) < 0))
		return r;
	return 0;
}

int
req_vm_action(const json_t *j, const char **action, int *force, char *err, size_t errlen)
{
	static const char *const allowed[] = {"action", "force", NULL};
	static const char *const actions[] = {"start", "stop", "reboot"};
	const char *a = json_string_value(json_object_get(j, "action"));
	json_t *f = json_object_get(j, "force");
	size_t i;
	int r;

	if ((r = jsonv_only_fields(j, allowed, err, errlen)) < 0)
		return r;
	if (a == NULL)
		FAIL("action is required: start, stop or reboot");
	if (f != NULL && !json_is_boolean(f))
		FAIL("force must be true or false");
	*force = json_is_true(f);
	for (i = 0; i < 3; i++)
		if (strcmp(a, actions[i]) == 0) {
			*action = actions[i];
			return 0;
		}
	FAIL("action must be start, stop or reboot");
}

int
req_query_int(const char *s, int64_t min, int64_t max, int64_t dflt, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	if (s == NULL) {
		*out = dflt;
		return 0;
	}
	if (s[0] == '\0' || strlen(s) > 18)
		return -EINVAL;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}
