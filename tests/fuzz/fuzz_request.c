/*
 * fuzz_request.c - libFuzzer harness for cloudletd's request-body parsing.
 *
 * The first input byte picks a parser (its low three bits; the rest of the
 * byte varies the fixed state some parsers are given), the remaining bytes
 * are the body, fed to req_object as the HTTP glue would. The ASCII digits
 * '0'..'7' select parsers 0..7, so the seed corpus stays readable:
 *
 *   0 req_tenant_create         4 req_vm_action
 *   1 req_quota                 5 req_query_int (on a NUL-terminated copy)
 *   2 req_vm_create + resolve   6 req_vm_create + resolve (tight service)
 *   3 req_vm_patch              7 req_vm_patch without a service
 *
 * Beyond "no crash, no leak" (ASan/LSan/UBSan), every accepted request must
 * keep what request.h and api/openapi.yaml promise: names follow the name
 * grammar (checked against an independent implementation of it), numbers
 * sit in their documented ranges, unknown fields were refused, a resolved
 * spec is within its service's bounds, a patched disk never shrinks, and
 * user_data is at most REQ_USER_DATA_MAX bytes. Every refusal says why.
 * Build and run: tests/fuzz/build.sh.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "catalog.h"
#include "request.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
#define MIB_MAX (INT64_C(1) << 30)
#define GIB_MAX (INT64_C(1) << 20)

/* Shaped like catalog/services.json's web-hosting, and a service whose
 * bounds are a single point, so that any override outside it must fail. */
static const struct service web = {
    .id = "web-hosting",
    .image = "web-hosting",
    .vcpus = 1,
    .memory_mib = 192,
    .disk_gib = 1,
    .b_vcpus = {1, 2},
    .b_memory_mib = {128, 2048},
    .b_disk_gib = {1, 50},
};
static const struct service tight = {
    .id = "tight",
    .image = "base",
    .vcpus = 2,
    .memory_mib = 256,
    .disk_gib = 3,
    .b_vcpus = {2, 2},
    .b_memory_mib = {256, 256},
    .b_disk_gib = {3, 3},
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	json_t *j = NULL;
	char *big;

	(void)argc;
	(void)argv;
	/* Out of the fuzzer's reach (-max_len): the hard maximum, once. */
	big = malloc(REQ_BODY_MAX + 1);
	CHECK(big != NULL);
	memset(big, ' ', REQ_BODY_MAX + 1);
	big[0] = '{';
	big[REQ_BODY_MAX] = '}';
	CHECK(req_object(big, REQ_BODY_MAX + 1, &j, err, sizeof(err)) == -EINVAL);
	CHECK(j == NULL);
	free(big);
	return 0;
}

/* The name grammar of request.h, implemented again by other means than
 * req_check_name: 1-63 of [A-Za-z0-9._-], the first a letter or a digit. */
static int
name_ok(const char *s)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789._-";
	size_t n = strlen(s);

	/* The first 62 characters of ok are the letters and digits. */
	return n >= 1 && n <= 63 && s[0] != '\0' && memchr(ok, s[0], 62) != NULL &&
	       strspn(s, ok) == n;
}

static int
in(int64_t v, int64_t min, int64_t max)
{
	return v >= min && v <= max;
}

/* Accepted means no field outside allowed (NULL-terminated) was present. */
static void
check_fields(const json_t *j, const char *const *allowed)
{
	const char *key;
	json_t *v;
	void *it;

	/* jansson's iterators take a non-const object; we only read. */
	for (it = json_object_iter((json_t *)(uintptr_t)j); it != NULL;
	     it = json_object_iter_next((json_t *)(uintptr_t)j, it)) {
		const char *const *a;
		int ok = 0;

		key = json_object_iter_key(it);
		v = json_object_iter_value(it);
		CHECK(v != NULL);
		for (a = allowed; *a != NULL; a++)
			ok |= strcmp(*a, key) == 0;
		CHECK(ok);
	}
}

/* A string field we can compare with the parser's result, or NULL. */
static const char *
plain_string(const json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

static void
fuzz_tenant(const json_t *j)
{
	static const char *const allowed[] = {"name", NULL};
	char name[64], err[256] = "";
	const char *given = plain_string(j, "name");

	if (req_tenant_create(j, name, sizeof(name), err, sizeof(err)) == 0) {
		check_fields(j, allowed);
		CHECK(given != NULL && strcmp(name, given) == 0);
		CHECK(name_ok(name));
		CHECK(req_check_name("name", name, err, sizeof(err)) == 0);
		return;
	}
	CHECK(err[0] != '\0');
	/* Differential: a lone, well-typed name is refused only if the
	 * grammar refuses it. */
	if (json_object_size(j) == 1 && given != NULL)
		CHECK(!name_ok(given));
}

static void
fuzz_quota(const json_t *j)
{
	static const char *const allowed[] = {"max_vcpus", "max_memory_mib",
					      "max_disk_gib", "max_vms", NULL};
	struct quota q;
	char err[256] = "";

	memset(&q, 0xa5, sizeof(q));
	if (req_quota(j, &q, err, sizeof(err)) == 0) {
		check_fields(j, allowed);
		CHECK(json_object_size(j) == 4);
		CHECK(in(q.max_vcpus, 0, 100000));
		CHECK(in(q.max_memory_mib, 0, MIB_MAX));
		CHECK(in(q.max_disk_gib, 0, MIB_MAX));
		CHECK(in(q.max_vms, 0, 100000));
		CHECK(q.max_vcpus == json_integer_value(json_object_get(j, "max_vcpus")));
		CHECK(q.max_vms == json_integer_value(json_object_get(j, "max_vms")));
	} else {
		CHECK(err[0] != '\0');
	}
}

static void
check_resolved(const struct vm_request *r, const struct service *s)
{
	struct vm_row row;
	char err[256] = "";
	int64_t want[3];

	want[0] = r->vcpus ? r->vcpus : s->vcpus;
	want[1] = r->memory_mib ? r->memory_mib : s->memory_mib;
	want[2] = r->disk_gib ? r->disk_gib : s->disk_gib;
	memset(&row, 0x5a, sizeof(row));
	if (req_vm_resolve(r, s, &row, err, sizeof(err)) < 0) {
		CHECK(err[0] != '\0');
		CHECK(!in(want[0], s->b_vcpus.min, s->b_vcpus.max) ||
		      !in(want[1], s->b_memory_mib.min, s->b_memory_mib.max) ||
		      !in(want[2], s->b_disk_gib.min, s->b_disk_gib.max));
		return;
	}
	CHECK(in(row.vcpus, s->b_vcpus.min, s->b_vcpus.max));
	CHECK(in(row.memory_mib, s->b_memory_mib.min, s->b_memory_mib.max));
	CHECK(in(row.disk_gib, s->b_disk_gib.min, s->b_disk_gib.max));
	CHECK(row.vcpus == want[0] && row.memory_mib == want[1] &&
	      row.disk_gib == want[2]);
	CHECK(strcmp(row.name, r->name) == 0 && name_ok(row.name));
	CHECK(strcmp(row.service, s->id) == 0);
	CHECK(strcmp(row.image, r->image[0] ? r->image : s->image) == 0);
	/* Ids, owner, state and user_data are the caller's to fill. */
	CHECK(row.id[0] == '\0' && row.tenant_id[0] == '\0' && row.state[0] == '\0');
	CHECK(row.user_data == NULL && row.ssh_keys == NULL);
}

static void
fuzz_vm_create(const json_t *j, const struct service *s)
{
	static const char *const allowed[] = {
		"name",	     "service",	 "vcpus", "memory_mib",	   "disk_gib", "image",
		"user_data", "networks", "group", "anti_affinity", "keys",     NULL};
	struct vm_request r;
	char err[256] = "";
	json_t *ud;

	if (req_vm_create(j, &r, err, sizeof(err)) < 0) {
		CHECK(err[0] != '\0');
		return;
	}
	check_fields(j, allowed);
	CHECK(name_ok(r.name));
	CHECK(plain_string(j, "name") != NULL);
	CHECK(strcmp(r.name, plain_string(j, "name")) == 0);
	CHECK(plain_string(j, "service") != NULL);
	CHECK(strcmp(r.service, plain_string(j, "service")) == 0);
	CHECK(r.image[0] == '\0' || name_ok(r.image));
	/* A placement group is a name; anti-affinity needs one. */
	CHECK(r.group[0] == '\0' || name_ok(r.group));
	CHECK(!r.anti_affinity || r.group[0] != '\0');
	CHECK(r.keys == NULL || json_array_size(r.keys) <= REQ_KEYS_MAX);
	CHECK(r.vcpus == 0 || in(r.vcpus, 1, 1024));
	CHECK(r.memory_mib == 0 || in(r.memory_mib, 64, MIB_MAX));
	CHECK(r.disk_gib == 0 || in(r.disk_gib, 1, GIB_MAX));
	ud = json_object_get(j, "user_data");
	CHECK((ud == NULL) == (r.user_data == NULL));
	if (r.user_data != NULL) {
		/* Borrowed from the JSON, whole: no NUL cuts it short. */
		CHECK(r.user_data == json_string_value(ud));
		CHECK(strlen(r.user_data) == json_string_length(ud));
		CHECK(strlen(r.user_data) <= REQ_USER_DATA_MAX);
	}
	check_resolved(&r, s);
}

static void
fuzz_vm_patch(const json_t *j, const struct service *s, int64_t cur_disk)
{
	static const char *const allowed[] = {"vcpus", "memory_mib", "disk_gib", NULL};
	static const char *const keys[] = {"vcpus", "memory_mib", "disk_gib"};
	const int64_t cur[3] = {1, 192, cur_disk};
	int64_t next[3] = {-1, -1, -1};
	char err[256] = "";
	int i, given = 0;

	if (req_vm_patch(j, s, cur, next, err, sizeof(err)) < 0) {
		CHECK(err[0] != '\0');
		return;
	}
	check_fields(j, allowed);
	for (i = 0; i < 3; i++) {
		json_t *v = json_object_get(j, keys[i]);

		given += v != NULL;
		CHECK(next[i] == (v != NULL ? json_integer_value(v) : cur[i]));
	}
	CHECK(given >= 1);
	CHECK(next[2] >= cur[2]);
	CHECK(in(next[0], 1, 1024) && in(next[1], 64, MIB_MAX) &&
	      in(next[2], 1, GIB_MAX));
	if (s != NULL) {
		CHECK(in(next[0], s->b_vcpus.min, s->b_vcpus.max));
		CHECK(in(next[1], s->b_memory_mib.min, s->b_memory_mib.max));
		CHECK(in(next[2], s->b_disk_gib.min, s->b_disk_gib.max));
	}
}

static void
fuzz_vm_action(const json_t *j)
{
	static const char *const allowed[] = {"action", "force", NULL};
	const char *action = NULL, *given = plain_string(j, "action");
	char err[256] = "";
	int force = -1;

	if (req_vm_action(j, &action, &force, err, sizeof(err)) < 0) {
		CHECK(err[0] != '\0');
		return;
	}
	check_fields(j, allowed);
	CHECK(action != NULL);
	CHECK(strcmp(action, "start") == 0 || strcmp(action, "stop") == 0 ||
	      strcmp(action, "reboot") == 0);
	CHECK(given != NULL && strcmp(action, given) == 0);
	CHECK(force == json_is_true(json_object_get(j, "force")));
}

/* Parser 5: the value of a query parameter such as ?limit= or ?bytes=. */
static void
fuzz_query(const uint8_t *data, size_t size)
{
	static const int64_t bounds[][2] = {
	    {1, 1000}, {1, 1048576}, {0, INT64_MAX}, {0, 0}};
	char *s = malloc(size + 1);
	size_t i;
	int64_t v;

	CHECK(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	for (i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		int64_t min = bounds[i][0], max = bounds[i][1];

		v = -1;
		CHECK(req_query_int(NULL, min, max, 100, &v) == 0 && v == 100);
		v = -1;
		if (req_query_int(s, min, max, 100, &v) == 0) {
			CHECK(in(v, min, max));
			CHECK(s[0] != '\0' && s[strspn(s, "0123456789")] == '\0');
			CHECK(v == strtoll(s, NULL, 10));
		} else {
			CHECK(v == -1);
		}
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "";
	json_t *j = NULL;
	unsigned sel;

	if (size == 0)
		return 0;
	sel = data[0];
	data++, size--;
	if ((sel & 7) == 5) {
		fuzz_query(data, size);
		return 0;
	}
	if (req_object((const char *)data, size, &j, err, sizeof(err)) < 0) {
		CHECK(err[0] != '\0');
		CHECK(j == NULL);
		return 0;
	}
	CHECK(json_is_object(j));
	switch (sel & 7) {
	case 0:
		fuzz_tenant(j);
		break;
	case 1:
		fuzz_quota(j);
		break;
	case 2:
		fuzz_vm_create(j, &web);
		break;
	case 3:
		fuzz_vm_patch(j, &web, 1 + (sel >> 3));
		break;
	case 4:
		fuzz_vm_action(j);
		break;
	case 6:
		fuzz_vm_create(j, &tight);
		break;
	case 7:
		fuzz_vm_patch(j, NULL, 1 + (sel >> 3));
		break;
	}
	json_decref(j);
	return 0;
}
