/*
 * test_cloneid.c - what the agent hands a clone and how the guest reads it:
 * cloneid.h's identity (fixed size, header, sections, files in order) and
 * the guest's network-config reader (guest/tools/netcfg.h) on the texts
 * disk_network_config() writes and on the hand-written forms docs/guest.md
 * allows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cloneid.h"
#include "disk.h"

/* Only the parser is exercised here; the rest needs a guest. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../../guest/tools/netcfg.h"

static void
make_spec(struct vm_spec *s, unsigned n_nics)
{
	unsigned i;

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "web1");
	snprintf(s->image, sizeof(s->image), "base");
	s->vcpus = 1;
	s->memory_mib = 128;
	s->disk_gib = 1;
	s->n_nics = n_nics;
	for (i = 0; i < n_nics; i++) {
		snprintf(s->nics[i].mac, sizeof(s->nics[i].mac), "52:54:00:AB:CD:%02u",
			 i);
		snprintf(s->nics[i].address, sizeof(s->nics[i].address), "10.9.%u.2/24",
			 i);
		snprintf(s->nics[i].gateway, sizeof(s->nics[i].gateway), "10.9.%u.1", i);
	}
}

/* The value of "key=" in the identity's key lines, or NULL. */
static const char *
kv(const char *body, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	const char *p = body;

	while (*p != '\n') {
		const char *nl = strchr(p, '\n');

		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			snprintf(out, len, "%.*s", (int)(nl - p - (ptrdiff_t)kl - 1),
				 p + kl + 1);
			return out;
		}
		p = nl + 1;
	}
	return NULL;
}

static void
test_identity_layout(void **state)
{
	struct vm_spec s;
	char *id, *id2, v[128], *md, *nc;
	const char *body, *files;
	size_t blen, i;

	(void)state;
	make_spec(&s, 2);
	s.user_data = "#!/bin/sh\necho hi\n";
	assert_int_equal(cloneid_build("0123456789abcdef", &s, &id), 0);
	assert_true(strncmp(id, "CLOUDLET-IDENTITY 1 ", 20) == 0);
	blen = strtoul(id + 20, NULL, 10);
	body = strchr(id, '\n') + 1;
	assert_int_equal(strlen(body), blen);
	/* zero padding to the fixed size */
	for (i = (size_t)(body - id) + blen; i < CLONEID_SIZE; i++)
		assert_int_equal(id[i], 0);

	assert_non_null(kv(body, "seed", v, sizeof(v)));
	assert_int_equal(strlen(v), 64);
	assert_int_equal(strspn(v, "0123456789abcdef"), 64);
	assert_non_null(kv(body, "time", v, sizeof(v)));
	assert_true(strtoll(v, NULL, 10) > 1700000000);
	assert_non_null(strchr(v, '.'));
	assert_string_equal(kv(body, "mac0", v, sizeof(v)), "52:54:00:AB:CD:00");
	assert_string_equal(kv(body, "mac1", v, sizeof(v)), "52:54:00:AB:CD:01");
	assert_null(kv(body, "mac2", v, sizeof(v)));

	/* the files follow the empty line, in the declared order and sizes */
	md = disk_meta_data("0123456789abcdef", &s);
	nc = disk_network_config(&s);
	files = strstr(body, "\n\n") + 2;
	assert_int_equal(atoi(kv(body, "meta-data", v, sizeof(v))), strlen(md));
	assert_int_equal(atoi(kv(body, "network-config", v, sizeof(v))), strlen(nc));
	assert_int_equal(atoi(kv(body, "user-data", v, sizeof(v))), strlen(s.user_data));
	assert_memory_equal(files, md, strlen(md));
	assert_memory_equal(files + strlen(md), nc, strlen(nc));
	assert_string_equal(files + strlen(md) + strlen(nc), s.user_data);

	/* a second clone gets other random bytes */
	assert_int_equal(cloneid_build("0123456789abcdef", &s, &id2), 0);
	assert_string_not_equal(kv(body, "seed", v, sizeof(v)),
				kv(strchr(id2, '\n') + 1, "seed", (char[128]){0}, 128));
	free(md);
	free(nc);
	free(id);
	free(id2);
}

static void
test_identity_limits(void **state)
{
	struct vm_spec s;
	char *id = NULL, *big = malloc(CLONEID_SIZE + 1);

	(void)state;
	make_spec(&s, 0);
	/* the largest user-data the spec allows fits */
	memset(big, 'x', SPEC_USER_DATA_MAX);
	big[SPEC_USER_DATA_MAX] = '\0';
	s.user_data = big;
	assert_int_equal(cloneid_build("i", &s, &id), 0);
	free(id);
	id = NULL;
	/* more does not, and says so */
	memset(big, 'x', CLONEID_SIZE);
	big[CLONEID_SIZE] = '\0';
	assert_int_equal(cloneid_build("i", &s, &id), -E2BIG);
	assert_null(id);
	free(big);
}

static void
test_memfd(void **state)
{
	char buf[8];
	int fd;

	(void)state;
	fd = cloneid_memfd("abcdefgh", 8);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, 8), 8);
	assert_memory_equal(buf, "abcdefgh", 8);
	close(fd);
	fd = cloneid_memfd(NULL, 4096);
	assert_true(fd >= 0);
	assert_int_equal(lseek(fd, 0, SEEK_END), 4096);
	close(fd);
}

/* What the agent writes is what the guest reads. */
static void
test_netcfg_agent_text(void **state)
{
	struct vm_spec s;
	struct netcfg c;
	char *nc;

	(void)state;
	make_spec(&s, 2);
	s.nics[1].address[0] = '\0';
	s.nics[1].gateway[0] = '\0';
	s.nics[1].dhcp = 1;
	nc = disk_network_config(&s);
	netcfg_parse(nc, &c);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.ifs[0].id, "eth0");
	assert_string_equal(c.ifs[0].mac, "52:54:00:ab:cd:00");
	assert_string_equal(c.ifs[0].setname, "eth0");
	assert_int_equal(c.ifs[0].naddrs, 1);
	assert_string_equal(c.ifs[0].addrs[0], "10.9.0.2/24");
	assert_string_equal(c.ifs[0].gw, "10.9.0.1");
	assert_int_equal(c.ifs[0].dhcp, 0);
	assert_string_equal(c.ifs[1].mac, "52:54:00:ab:cd:01");
	assert_int_equal(c.ifs[1].naddrs, 0);
	assert_int_equal(c.ifs[1].dhcp, 1);
	free(nc);

	/* no NICs: nothing to do */
	make_spec(&s, 0);
	nc = disk_network_config(&s);
	netcfg_parse(nc, &c);
	assert_int_equal(c.n, 0);
	free(nc);
}

/* The hand-written forms docs/guest.md allows. */
static void
test_netcfg_forms(void **state)
{
	char text[] = "# a comment\r\n"
		      "version: 2\n"
		      "other:\n"
		      "  eth9:\n"
		      "    addresses: [192.0.2.9/24]\n"
		      "ethernets:\n"
		      "  'lan':   # the inside\n"
		      "    match:\n"
		      "      macaddress: \"52:54:00:12:34:56\"\r\n"
		      "    set-name: eth1\n"
		      "    addresses:\n"
		      "      - 10.0.0.2/24\n"
		      "      - \"10.0.0.3/24\"\n"
		      "      - fd00::2/64\n"
		      "    gateway4: 10.0.0.1\n"
		      "\n"
		      "  eth0:\n"
		      "    addresses: [ 10.1.0.2/16 , '10.1.0.3/16' ]\n"
		      "    dhcp4: yes\n";
	struct netcfg c;

	(void)state;
	netcfg_parse(text, &c);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.ifs[0].id, "lan");
	assert_string_equal(c.ifs[0].mac, "52:54:00:12:34:56");
	assert_string_equal(c.ifs[0].setname, "eth1");
	assert_int_equal(c.ifs[0].naddrs, 3);
	assert_string_equal(c.ifs[0].addrs[0], "10.0.0.2/24");
	assert_string_equal(c.ifs[0].addrs[1], "10.0.0.3/24");
	assert_string_equal(c.ifs[0].addrs[2], "fd00::2/64");
	assert_string_equal(c.ifs[0].gw, "10.0.0.1");
	assert_string_equal(c.ifs[1].id, "eth0");
	assert_string_equal(c.ifs[1].mac, "");
	assert_int_equal(c.ifs[1].naddrs, 2);
	assert_string_equal(c.ifs[1].addrs[0], "10.1.0.2/16");
	assert_string_equal(c.ifs[1].addrs[1], "10.1.0.3/16");
	assert_int_equal(c.ifs[1].dhcp, 1);
}

/* Too much of anything is cut with a warning, never overflows. */
static void
test_netcfg_limits(void **state)
{
	char *text = malloc(1 << 16), *p = text;
	struct netcfg c;
	int i;

	(void)state;
	p += sprintf(p, "ethernets:\n");
	for (i = 0; i < NETCFG_MAX_IF + 3; i++) {
		p += sprintf(p, "  if%d:\n    addresses: [", i);
		for (int a = 0; a < NETCFG_MAX_ADDR + 2; a++)
			p += sprintf(p, "%s10.%d.%d.1/24", a ? ", " : "", i, a);
		p += sprintf(p, "]\n    set-name: %s\n",
			     "a-name-much-longer-than-ifnamsiz");
	}
	netcfg_parse(text, &c);
	assert_int_equal(c.n, NETCFG_MAX_IF);
	for (i = 0; i < c.n; i++) {
		assert_int_equal(c.ifs[i].naddrs, NETCFG_MAX_ADDR);
		assert_true(strlen(c.ifs[i].setname) < IFNAMSIZ);
	}
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_identity_layout),
	    cmocka_unit_test(test_identity_limits),
	    cmocka_unit_test(test_memfd),
	    cmocka_unit_test(test_netcfg_agent_text),
	    cmocka_unit_test(test_netcfg_forms),
	    cmocka_unit_test(test_netcfg_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
