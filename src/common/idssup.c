/* idssup.c - see idssup.h */
#include "idssup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jsonv.h"

/* An IPv4 address or network a.b.c.d/n. */
static int
ip_ok(const char *s)
{
	char a[INET_ADDRSTRLEN], tail;
	struct in_addr ia;
	const char *slash = strchr(s, '/');
	unsigned n;

	if (slash == NULL)
		return inet_pton(AF_INET, s, &ia) == 1;
	if ((size_t)(slash - s) >= sizeof(a))
		return 0;
	memcpy(a, s, (size_t)(slash - s));
	a[slash - s] = '\0';
	return inet_pton(AF_INET, a, &ia) == 1 && sscanf(slash + 1, "%u%c", &n, &tail) == 1 &&
	       n <= 32 && slash[1] >= '0' && slash[1] <= '9' && strlen(slash + 1) <= 2;
}

int
idssup_check(const json_t *s, char *err, size_t errlen)
{
	static const char *const fields[] = {"sid", "gid", "track", "ip", "expires", NULL};
	const json_t *sid = json_object_get(s, "sid"), *gid = json_object_get(s, "gid");
	const json_t *tr = json_object_get(s, "track"), *ip = json_object_get(s, "ip");
	const json_t *ex = json_object_get(s, "expires");
	const char *t = json_string_value(tr);

	if (!json_is_object(s) || jsonv_only_fields(s, fields, err, errlen) < 0) {
		if (!json_is_object(s))
			snprintf(err, errlen, "a suppression is an object");
		return -EINVAL;
	}
	if (!json_is_integer(sid) || json_integer_value(sid) < 1 ||
	    json_integer_value(sid) > UINT32_MAX) {
		snprintf(err, errlen, "sid: an integer from 1 to 4294967295");
		return -EINVAL;
	}
	if (gid != NULL && (!json_is_integer(gid) || json_integer_value(gid) < 0 ||
			    json_integer_value(gid) > UINT32_MAX)) {
		snprintf(err, errlen, "gid: an integer from 0 to 4294967295");
		return -EINVAL;
	}
	if ((tr == NULL) != (ip == NULL)) {
		snprintf(err, errlen, "track and ip go together (or neither: the whole rule)");
		return -EINVAL;
	}
	if (tr != NULL && (t == NULL || (strcmp(t, "by_src") != 0 && strcmp(t, "by_dst") != 0))) {
		snprintf(err, errlen, "track: by_src or by_dst");
		return -EINVAL;
	}
	if (ip != NULL && (!json_is_string(ip) || json_string_length(ip) > 18 ||
			   !ip_ok(json_string_value(ip)))) {
		snprintf(err, errlen, "ip: an IPv4 address or network (a.b.c.d/n)");
		return -EINVAL;
	}
	if (ex != NULL && (!json_is_integer(ex) || json_integer_value(ex) < 0)) {
		snprintf(err, errlen, "expires: a unix time in seconds (0: never)");
		return -EINVAL;
	}
	return 0;
}

int
idssup_check_list(const json_t *list, char *err, size_t errlen)
{
	const json_t *s;
	size_t i;
	char why[200];

	if (!json_is_array(list) || json_array_size(list) > IDSSUP_MAX) {
		snprintf(err, errlen, "suppress: an array of at most %d", IDSSUP_MAX);
		return -EINVAL;
	}
	json_array_foreach(list, i, s)
	{
		if (idssup_check(s, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "suppress[%zu]: %s", i, why);
			return -EINVAL;
		}
	}
	return 0;
}
