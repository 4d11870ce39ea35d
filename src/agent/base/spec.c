/* spec.c - see spec.h */
#include "spec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "sshkey.h"
#include "userdata.h"

#define FAIL(...)                                                                      \
	do {                                                                           \
		snprintf(err, errlen, __VA_ARGS__);                                    \
		return -EINVAL;                                                        \
	} while (0)

static int
is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* Shared by VM names, namespace and bridge names. */
static int
check_ident(const char *what, const char *s, size_t max, char *err, size_t errlen)
{
	size_t i, n = strlen(s);

	if (n == 0)
		FAIL("%s must not be empty", what);
	if (n > max)
		FAIL("%s is longer than %zu characters", what, max);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '/' || c == '\\')
			FAIL("%s must not contain a path separator", what);
		if (c < 0x20 || c == 0x7f)
			FAIL("%s must not contain control characters", what);
		if (!is_name_char(c))
			FAIL("%s may only contain letters, digits, '-', '_' and '.'", what);
	}
	/* It may become a hostname (and an argument to commands): a letter or
	 * digit first. */
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		FAIL("%s must start with a letter or a digit", what);
	return 0;
}

int
spec_check_name(const char *name, char *err, size_t errlen)
{
	return check_ident("name", name, SPEC_NAME_MAX, err, errlen);
}

/* Reads an optional positive integer field; returns 1 if present. */
static int
get_uint(const json_t *j, const char *key, uint64_t max, uint64_t *out, char *err,
	 size_t errlen)
{
	json_t *v = json_object_get(j, key);
	json_int_t n;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		FAIL("%s must be an integer", key);
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n > max)
		FAIL("%s must be between 0 and %llu", key, (unsigned long long)max);
	*out = (uint64_t)n;
	return 1;
}

static int
get_str(const json_t *j, const char *key, char *out, size_t len, int required, char *err,
	size_t errlen)
{
	json_t *v = json_object_get(j, key);

	if (v == NULL || json_is_null(v)) {
		if (required)
			FAIL("%s is required", key);
		out[0] = '\0';
		return 0;
	}
	if (!json_is_string(v))
		FAIL("%s must be a string", key);
	if (json_string_length(v) >= len || strlen(json_string_value(v)) != json_string_length(v))
		FAIL("%s is too long or contains NUL", key);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 1;
}

/* Only digits: strtol would also take spaces, newlines and signs. */
static int
all_digits(const char *s, size_t maxlen)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > maxlen)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int
check_cidr(const char *s, int want_prefix)
{
	char ip[16];
	const char *slash = strchr(s, '/');
	struct in_addr a;
	long p;

	if (!want_prefix)
		return slash == NULL && inet_pton(AF_INET, s, &a) == 1 ? 0 : -1;
	if (slash == NULL || (size_t)(slash - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	if (inet_pton(AF_INET, ip, &a) != 1 || !all_digits(slash + 1, 2))
		return -1;
	p = strtol(slash + 1, NULL, 10);
	return (p >= 1 && p <= 32) ? 0 : -1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly xx:xx:xx:xx:xx:xx in hex digits (sscanf would take signs, 0x). */
static int
check_mac(const char *s)
{
	int i;

	if (strlen(s) != 17)
		return -1;
	for (i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':')
				return -1;
		} else if (hexval(s[i]) < 0)
			return -1;
	}
	/* Unicast only; the multicast bit would break the guest's network. */
	return (hexval(s[1]) & 1) ? -1 : 0;
}

/* "<tenant>/<network id>": two keys of [a-z0-9-], not starting with '-'. */
static int
check_network(const char *s)
{
	const char *slash = strchr(s, '/');
	int part = 0;

	if (slash == NULL || slash == s || slash[1] == '\0' || strchr(slash + 1, '/'))
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p == '/') {
			part = 0;
			continue;
		}
		if (part == 0 && *p == '-')
			return -1;
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return -1;
		part++;
		if (part > 32)
			return -1;
	}
	return 0;
}

static int
parse_nic(const json_t *j, struct spec_nic *nic, char *err, size_t errlen)
{
	static const char *const allowed[] = {"netns", "bridge", "address", "gateway",
					      "mac",   "dhcp",   "network", NULL};
	json_t *dhcp;
	int r;

	if (!json_is_object(j))
		FAIL("each nic must be an object");
	if ((r = jsonv_only_fields(j, allowed, err, errlen)) < 0)
		return r;
	memset(nic, 0, sizeof(*nic));
	if ((r = get_str(j, "network", nic->network, sizeof(nic->network), 0, err, errlen)) < 0)
		return r;
	if (nic->network[0] != '\0') {
		/* A platform network: the agent resolves namespace and bridge. */
		if (check_network(nic->network) < 0)
			FAIL("nic network must be '<tenant>/<network id>' (a-z, 0-9, '-')");
	}
	if ((r = get_str(j, "netns", nic->netns, sizeof(nic->netns), 0, err, errlen)) < 0 ||
	    (r = get_str(j, "bridge", nic->bridge, sizeof(nic->bridge), nic->network[0] == '\0',
			 err, errlen)) < 0 ||
	    (r = get_str(j, "address", nic->address, sizeof(nic->address), 0, err, errlen)) <
		    0 ||
	    (r = get_str(j, "gateway", nic->gateway, sizeof(nic->gateway), 0, err, errlen)) <
		    0 ||
	    (r = get_str(j, "mac", nic->mac, sizeof(nic->mac), 0, err, errlen)) < 0)
		return r;
	if (nic->netns[0] != '\0' &&
	    (r = check_ident("nic netns", nic->netns, 63, err, errlen)) < 0)
		return r;
	/* With a network the bridge may be absent (the agent names it), but
	 * whatever is given is checked all the same. */
	if ((nic->network[0] == '\0' || nic->bridge[0] != '\0') &&
	    (r = check_ident("nic bridge", nic->bridge, 15, err, errlen)) < 0)
		return r;
	dhcp = json_object_get(j, "dhcp");
	if (dhcp != NULL && !json_is_boolean(dhcp))
		FAIL("nic dhcp must be true or false");
	nic->dhcp = dhcp != NULL && json_is_true(dhcp);
	if (nic->dhcp && nic->address[0] != '\0')
		FAIL("a nic has either dhcp or an address, not both");
	if (nic->address[0] != '\0' && check_cidr(nic->address, 1) < 0)
		FAIL("nic address must be an IPv4 address with a prefix, like 10.0.0.2/24");
	if (nic->gateway[0] != '\0' && check_cidr(nic->gateway, 0) < 0)
		FAIL("nic gateway must be an IPv4 address");
	if (nic->mac[0] != '\0' && check_mac(nic->mac) < 0)
		FAIL("nic mac must be a unicast MAC like 52:54:00:12:34:56");
	return 0;
}

static int
check_resources(const struct vm_spec *s, const struct spec_limits *lim, char *err,
		size_t errlen)
{
	uint64_t min_disk_mib = 0;

	if (s->vcpus == 0)
		FAIL("vcpus must be at least 1");
	if (s->vcpus > lim->max_vcpus)
		FAIL("vcpus %u is more than this host can give (%u)", s->vcpus, lim->max_vcpus);
	if (s->memory_mib < SPEC_MEMORY_MIN_MIB)
		FAIL("memory_mib must be at least %d", SPEC_MEMORY_MIN_MIB);
	if (s->memory_mib > lim->max_memory_mib)
		FAIL("memory_mib %llu is more than this host can give (%llu)",
		     (unsigned long long)s->memory_mib, (unsigned long long)lim->max_memory_mib);
	if (s->disk_gib == 0)
		FAIL("disk_gib must be at least 1");
	if (s->disk_gib > SPEC_DISK_MAX_GIB)
		FAIL("disk_gib must be at most %d", SPEC_DISK_MAX_GIB);
	if (lim->image_lookup != NULL) {
		if (lim->image_lookup(s->image, &min_disk_mib) < 0)
			FAIL("unknown image '%s'", s->image);
		if (s->disk_gib * 1024 < min_disk_mib)
			FAIL("image '%s' needs a disk of at least %llu MiB", s->image,
			     (unsigned long long)min_disk_mib);
	}
	return 0;
}

/* volumes: distinct names, at most SPEC_VOLUMES_MAX. Absent leaves s alone. */
static int
parse_volumes(const json_t *j, struct vm_spec *s, char *err, size_t errlen)
{
	json_t *vols = json_object_get(j, "volumes"), *v;
	size_t i, k;
	int r;

	if (vols == NULL || json_is_null(vols))
		return 0;
	if (!json_is_array(vols))
		FAIL("volumes must be an array of volume names");
	if (json_array_size(vols) > SPEC_VOLUMES_MAX)
		FAIL("at most %d volumes", SPEC_VOLUMES_MAX);
	json_array_foreach(vols, i, v) {
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
			FAIL("volumes must be an array of volume names");
		if ((r = check_ident("volume name", json_string_value(v), SPEC_NAME_MAX, err,
				     errlen)) < 0)
			return r;
		for (k = 0; k < i; k++)
			if (strcmp(s->volumes[k], json_string_value(v)) == 0)
				FAIL("volume '%s' is listed twice", s->volumes[k]);
		memcpy(s->volumes[i], json_string_value(v), json_string_length(v) + 1);
	}
	s->n_volumes = (unsigned)json_array_size(vols);
	return 0;
}

/* ssh_keys: an array of key lines, each parsed (sshkey.h), no duplicates,
 * into s->ssh_keys as one string of lines. Absent or null: none. */
static int
parse_ssh_keys(const json_t *j, struct vm_spec *s, char *err, size_t errlen)
{
	json_t *keys = json_object_get(j, "ssh_keys"), *k;
	char kerr[200], *buf;
	size_t i, total = 0, off = 0;

	if (keys == NULL || json_is_null(keys))
		return 0;
	if (!json_is_array(keys))
		FAIL("ssh_keys must be an array of OpenSSH public key lines");
	if (json_array_size(keys) > SPEC_SSH_KEYS_MAX)
		FAIL("at most %d ssh_keys", SPEC_SSH_KEYS_MAX);
	json_array_foreach(keys, i, k) {
		if (!json_is_string(k))
			FAIL("ssh_keys[%zu] must be a string", i);
		if (sshkey_parse(json_string_value(k), json_string_length(k), NULL, kerr,
				 sizeof(kerr)) < 0)
			FAIL("ssh_keys[%zu]: %s", i, kerr);
		for (size_t m = 0; m < i; m++)
			if (json_equal(k, json_array_get(keys, m)))
				FAIL("ssh_keys[%zu] is listed twice", i);
		total += json_string_length(k) + 1;
	}
	if (total > SPEC_SSH_KEYS_TOTAL_MAX)
		FAIL("ssh_keys are larger than %d bytes together", SPEC_SSH_KEYS_TOTAL_MAX);
	if (total == 0)
		return 0;
	if ((buf = malloc(total + 1)) == NULL)
		FAIL("out of memory");
	json_array_foreach(keys, i, k) {
		memcpy(buf + off, json_string_value(k), json_string_length(k));
		off += json_string_length(k);
		buf[off++] = '\n';
	}
	buf[off] = '\0';
	s->ssh_keys = buf;
	s->n_ssh_keys = (unsigned)json_array_size(keys);
	return 0;
}

int
spec_parse(const json_t *j, const struct spec_limits *lim, struct vm_spec *out, char *err,
	   size_t errlen)
{
	static const char *const allowed[] = {"name",	  "hostname",  "image", "vcpus",
					      "memory_mib", "disk_gib", "user_data", "nics",
					      "tenant",	  "volumes",   "ssh_keys", NULL};
	struct vm_spec s;
	json_t *nics, *ud, *name;
	uint64_t v;
	int r;

	memset(&s, 0, sizeof(s));
	if (!json_is_object(j))
		FAIL("spec must be an object");
	if ((r = jsonv_only_fields(j, allowed, err, errlen)) < 0)
		return r;
	name = json_object_get(j, "name");
	if (!json_is_string(name))
		FAIL("name is required and must be a string");
	if (strlen(json_string_value(name)) != json_string_length(name))
		FAIL("name must not contain control characters");
	if ((r = spec_check_name(json_string_value(name), err, errlen)) < 0)
		return r;
	memcpy(s.name, json_string_value(name), json_string_length(name) + 1);
	if ((r = get_str(j, "image", s.image, sizeof(s.image), 1, err, errlen)) < 0)
		return r;
	if (json_is_string(json_object_get(j, "hostname"))) {
		const char *h = json_string_value(json_object_get(j, "hostname"));

		if ((r = check_ident("hostname", h, SPEC_NAME_MAX, err, errlen)) < 0)
			return r;
		memcpy(s.hostname, h, strlen(h) + 1);
	} else if (json_object_get(j, "hostname") != NULL)
		FAIL("hostname must be a string");
	if ((r = get_uint(j, "vcpus", 1024, &v, err, errlen)) < 0)
		return r;
	if (r == 0)
		FAIL("vcpus is required");
	s.vcpus = (unsigned)v;
	if ((r = get_uint(j, "memory_mib", UINT64_C(1) << 40, &s.memory_mib, err, errlen)) < 0)
		return r;
	if (r == 0)
		FAIL("memory_mib is required");
	if ((r = get_uint(j, "disk_gib", UINT64_C(1) << 30, &s.disk_gib, err, errlen)) < 0)
		return r;
	if (r == 0)
		FAIL("disk_gib is required");
	if ((r = check_resources(&s, lim, err, errlen)) < 0)
		return r;

	nics = json_object_get(j, "nics");
	if (nics != NULL && !json_is_null(nics)) {
		size_t i;
		json_t *n;

		if (!json_is_array(nics))
			FAIL("nics must be an array");
		if (json_array_size(nics) > SPEC_NICS_MAX)
			FAIL("at most %d nics", SPEC_NICS_MAX);
		json_array_foreach(nics, i, n) {
			if ((r = parse_nic(n, &s.nics[i], err, errlen)) < 0)
				return r;
		}
		s.n_nics = (unsigned)json_array_size(nics);
	}

	if ((r = get_str(j, "tenant", s.tenant, sizeof(s.tenant), 0, err, errlen)) < 0)
		return r;
	if (s.tenant[0] != '\0' && (r = check_ident("tenant", s.tenant, SPEC_NAME_MAX, err, errlen)) < 0)
		return r;
	if ((r = parse_volumes(j, &s, err, errlen)) < 0)
		return r;

	ud = json_object_get(j, "user_data");
	if (ud != NULL && !json_is_null(ud)) {
		if (!json_is_string(ud))
			FAIL("user_data must be a string");
		if (json_string_length(ud) > SPEC_USER_DATA_MAX)
			FAIL("user_data is larger than %d bytes", SPEC_USER_DATA_MAX);
		if (strlen(json_string_value(ud)) != json_string_length(ud))
			FAIL("user_data must not contain NUL bytes");
		{
			/* A #cloud-config must translate (userdata.h): the seed
			 * of a busybox image carries the result. */
			char *form = NULL;
			int t = userdata_translate(json_string_value(ud),
						   json_string_length(ud), &form, err, errlen);

			free(form);
			if (t < 0)
				return t == -ENOMEM ? t : -EINVAL;
		}
		s.user_data = strdup(json_string_value(ud));
		if (s.user_data == NULL)
			FAIL("out of memory");
	}
	if ((r = parse_ssh_keys(j, &s, err, errlen)) < 0) {
		free(s.user_data);
		return r;
	}
	*out = s;
	return 0;
}

int
spec_reconfigure(const json_t *j, const struct spec_limits *lim, const struct vm_spec *cur,
		 struct vm_spec *next, int *changed, char *err, size_t errlen)
{
	static const char *const allowed[] = {"name",	 "vcpus",  "memory_mib", "disk_gib",
					      "volumes", "tenant", NULL};
	struct vm_spec s = *cur;
	uint64_t v;
	int r;

	if (!json_is_object(j))
		FAIL("changes must be an object");
	if ((r = jsonv_only_fields(j, allowed, err, errlen)) < 0)
		return r;
	if ((r = get_uint(j, "vcpus", 1024, &v, err, errlen)) < 0)
		return r;
	if (r == 1)
		s.vcpus = (unsigned)v;
	if ((r = get_uint(j, "memory_mib", UINT64_C(1) << 40, &s.memory_mib, err, errlen)) < 0)
		return r;
	if ((r = get_uint(j, "disk_gib", UINT64_C(1) << 30, &s.disk_gib, err, errlen)) < 0)
		return r;
	if (s.disk_gib < cur->disk_gib)
		FAIL("shrinking a disk is not supported (%llu GiB -> %llu GiB): data would be "
		     "lost", (unsigned long long)cur->disk_gib, (unsigned long long)s.disk_gib);
	if ((r = check_resources(&s, lim, err, errlen)) < 0)
		return r;
	/* The owner may be given once (VMs made before volumes had none),
	 * never changed. */
	if ((r = get_str(j, "tenant", s.tenant, sizeof(s.tenant), 0, err, errlen)) < 0)
		return r;
	if (r == 0)
		memcpy(s.tenant, cur->tenant, sizeof(s.tenant));
	else if ((r = check_ident("tenant", s.tenant, SPEC_NAME_MAX, err, errlen)) < 0)
		return r;
	if (cur->tenant[0] != '\0' && strcmp(s.tenant, cur->tenant) != 0)
		FAIL("the VM belongs to tenant '%s'", cur->tenant);
	if (json_is_array(json_object_get(j, "volumes")))
		s.n_volumes = 0;
	if ((r = parse_volumes(j, &s, err, errlen)) < 0)
		return r;
	*changed = s.vcpus != cur->vcpus || s.memory_mib != cur->memory_mib ||
		   s.disk_gib != cur->disk_gib || s.n_volumes != cur->n_volumes ||
		   strcmp(s.tenant, cur->tenant) != 0 ||
		   memcmp(s.volumes, cur->volumes, sizeof(s.volumes)) != 0;
	s.user_data = NULL; /* the caller keeps ownership of cur's */
	s.ssh_keys = NULL;
	*next = s;
	return 0;
}

json_t *
spec_to_json(const struct vm_spec *s)
{
	json_t *j = json_pack("{s:s, s:s, s:i, s:I, s:I}", "name", s->name, "image", s->image,
			      "vcpus", (int)s->vcpus, "memory_mib", (json_int_t)s->memory_mib,
			      "disk_gib", (json_int_t)s->disk_gib);
	json_t *nics;
	unsigned i;

	if (j == NULL)
		return NULL;
	if (s->user_data != NULL)
		json_object_set_new(j, "user_data", json_string(s->user_data));
	if (s->hostname[0] != '\0')
		json_object_set_new(j, "hostname", json_string(s->hostname));
	if (s->ssh_keys != NULL) {
		json_t *keys = json_array();

		for (const char *p = s->ssh_keys, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
			json_array_append_new(keys, json_stringn(p, (size_t)(nl - p)));
		json_object_set_new(j, "ssh_keys", keys);
	}
	nics = json_array();
	for (i = 0; i < s->n_nics; i++) {
		const struct spec_nic *n = &s->nics[i];
		json_t *o = json_pack("{s:s}", "bridge", n->bridge);

		if (n->network[0] != '\0')
			json_object_set_new(o, "network", json_string(n->network));
		if (n->netns[0] != '\0')
			json_object_set_new(o, "netns", json_string(n->netns));
		if (n->address[0] != '\0')
			json_object_set_new(o, "address", json_string(n->address));
		if (n->gateway[0] != '\0')
			json_object_set_new(o, "gateway", json_string(n->gateway));
		if (n->mac[0] != '\0')
			json_object_set_new(o, "mac", json_string(n->mac));
		if (n->dhcp)
			json_object_set_new(o, "dhcp", json_true());
		json_array_append_new(nics, o);
	}
	json_object_set_new(j, "nics", nics);
	if (s->tenant[0] != '\0')
		json_object_set_new(j, "tenant", json_string(s->tenant));
	if (s->n_volumes > 0) {
		json_t *vols = json_array();

		for (i = 0; i < s->n_volumes; i++)
			json_array_append_new(vols, json_string(s->volumes[i]));
		json_object_set_new(j, "volumes", vols);
	}
	return j;
}

void
spec_free(struct vm_spec *s)
{
	if (s == NULL)
		return;
	free(s->user_data);
	s->user_data = NULL;
	free(s->ssh_keys);
	s->ssh_keys = NULL;
	s->n_ssh_keys = 0;
}

void
spec_hostname(const struct vm_spec *s, char *out, size_t len)
{
	const char *name = s->hostname[0] != '\0' ? s->hostname : s->name;
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < len; i++)
		out[i] = (name[i] == '_' || name[i] == '.') ? '-' : name[i];
	/* A hostname does not end with '-'. */
	while (i > 1 && out[i - 1] == '-')
		i--;
	out[i] = '\0';
}
