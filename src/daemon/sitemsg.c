/*
 * sitemsg.c - the site link's words, checked (sitemsg.h).
 */
#include "sitemsg.h"

#include <errno.h>
#include <string.h>

static const char *const role_names[SITE_ROLES] = {"alone", "primary", "standby", "promoting",
						    "demoted"};

const char *
site_role_name(enum site_role r)
{
	return (unsigned)r < SITE_ROLES ? role_names[r] : "?";
}

int
site_role_parse(const char *s, enum site_role *out)
{
	for (size_t i = 0; i < SITE_ROLES; i++)
		if (s != NULL && strcmp(s, role_names[i]) == 0) {
			*out = (enum site_role)i;
			return 0;
		}
	return -EINVAL;
}

int
site_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > 32 || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return 0;
	return 1;
}

int
sitemsg_parse_peer(const json_t *m, const char **role, long long *epoch)
{
	enum site_role r;

	*role = json_string_value(json_object_get(m, "role"));
	if (site_role_parse(*role, &r) < 0 || !json_is_integer(json_object_get(m, "epoch")))
		return -EBADMSG;
	*epoch = json_integer_value(json_object_get(m, "epoch"));
	return *epoch >= 0 ? 0 : -EBADMSG;
}
