/*
 * test_disk.c - disk.h: the NoCloud seed texts (meta-data, network-config)
 * compared byte for byte, plus the size checks of the root disk that run
 * before any external tool (mke2fs, resize2fs) would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "disk.h"
#include "util.h"

#define GIB (UINT64_C(1) << 30)

static void
set_nic(struct spec_nic *n, const char *bridge, const char *mac, const char *address,
	const char *gateway, int dhcp)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->netns, sizeof(n->netns), "tenant-ns");
	snprintf(n->bridge, sizeof(n->bridge), "%s", bridge);
	snprintf(n->mac, sizeof(n->mac), "%s", mac);
	snprintf(n->address, sizeof(n->address), "%s", address);
	snprintf(n->gateway, sizeof(n->gateway), "%s", gateway);
	n->dhcp = dhcp;
}

static void
make_spec(struct vm_spec *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->image, sizeof(s->image), "base");
	s->vcpus = 1;
	s->memory_mib = 128;
	s->disk_gib = 1;
}

struct meta_case {
	const char *id, *name, *want;
};

static const struct meta_case meta_cases[] = {
    {"0123456789abcdef", "web1", "instance-id: 0123456789abcdef\nlocal-hostname: web1\n"},
    {"0123456789abcdef", "web_1.example",
     "instance-id: 0123456789abcdef\nlocal-hostname: web-1-example\n"},
    {"x", "A-b", "instance-id: x\nlocal-hostname: A-b\n"},
};

static void
test_meta_data(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(meta_cases); i++) {
		struct vm_spec s;
		char *md;

		make_spec(&s, meta_cases[i].name);
		md = disk_meta_data(meta_cases[i].id, &s);
		assert_non_null(md);
		assert_string_equal(md, meta_cases[i].want);
		free(md);
	}
}

struct net_case {
	const char *what;
	unsigned n_nics;
	struct {
		const char *mac, *address, *gateway;
		int dhcp;
	} nics[SPEC_NICS_MAX];
	const char *want;
};

static const struct net_case net_cases[] = {
    {"no nics", 0, {{NULL}}, "version: 2\n"},
    {"dhcp",
     1,
     {{"52:54:00:12:34:56", "", "", 1}},
     "version: 2\n"
     "ethernets:\n"
     "  eth0:\n"
     "    match:\n"
     "      macaddress: \"52:54:00:12:34:56\"\n"
     "    set-name: eth0\n"
     "    dhcp4: true\n"},
    {"static with gateway",
     1,
     {{"52:54:00:12:34:56", "10.0.0.2/24", "10.0.0.1", 0}},
     "version: 2\n"
     "ethernets:\n"
     "  eth0:\n"
     "    match:\n"
     "      macaddress: \"52:54:00:12:34:56\"\n"
     "    set-name: eth0\n"
     "    addresses: [10.0.0.2/24]\n"
     "    gateway4: 10.0.0.1\n"},
    {"static without gateway",
     1,
     {{"02:00:00:00:00:01", "192.168.1.9/16", "", 0}},
     "version: 2\n"
     "ethernets:\n"
     "  eth0:\n"
     "    match:\n"
     "      macaddress: \"02:00:00:00:00:01\"\n"
     "    set-name: eth0\n"
     "    addresses: [192.168.1.9/16]\n"},
    {"link only",
     1,
     {{"52:54:00:12:34:56", "", "", 0}},
     "version: 2\n"
     "ethernets:\n"
     "  eth0:\n"
     "    match:\n"
     "      macaddress: \"52:54:00:12:34:56\"\n"
     "    set-name: eth0\n"},
    {"dhcp with gateway",
     1,
     {{"52:54:00:12:34:56", "", "10.0.0.1", 1}},
     "version: 2\n"
     "ethernets:\n"
     "  eth0:\n"
     "    match:\n"
     "      macaddress: \"52:54:00:12:34:56\"\n"
     "    set-name: eth0\n"
     "    dhcp4: true\n"
     "    gateway4: 10.0.0.1\n"},
    {"four nics",
     4,
     {{"52:54:00:00:00:00", "", "", 1},
      {"52:54:00:00:00:01", "10.1.0.2/24", "10.1.0.1", 0},
      {"52:54:00:00:00:02", "10.2.0.2/30", "", 0},
      {"52:54:00:00:00:03", "", "", 0}},
     "version: 2\n"
     "ethernets:\n"
     "  eth0:\n"
     "    match:\n"
     "      macaddress: \"52:54:00:00:00:00\"\n"
     "    set-name: eth0\n"
     "    dhcp4: true\n"
     "  eth1:\n"
     "    match:\n"
     "      macaddress: \"52:54:00:00:00:01\"\n"
     "    set-name: eth1\n"
     "    addresses: [10.1.0.2/24]\n"
     "    gateway4: 10.1.0.1\n"
     "  eth2:\n"
     "    match:\n"
     "      macaddress: \"52:54:00:00:00:02\"\n"
     "    set-name: eth2\n"
     "    addresses: [10.2.0.2/30]\n"
     "  eth3:\n"
     "    match:\n"
     "      macaddress: \"52:54:00:00:00:03\"\n"
     "    set-name: eth3\n"},
};

static void
test_network_config(void **state)
{
	size_t i;
	unsigned k;

	(void)state;
	for (i = 0; i < ARRAY_LEN(net_cases); i++) {
		const struct net_case *c = &net_cases[i];
		struct vm_spec s;
		char *nc;

		make_spec(&s, "web1");
		s.n_nics = c->n_nics;
		for (k = 0; k < c->n_nics; k++)
			set_nic(&s.nics[k], "br0", c->nics[k].mac, c->nics[k].address,
				c->nics[k].gateway, c->nics[k].dhcp);
		nc = disk_network_config(&s);
		assert_non_null(nc);
		if (strcmp(nc, c->want) != 0)
			fail_msg("%s: got\n%s\nwant\n%s", c->what, nc, c->want);
		/* Host-side settings never reach the guest. */
		assert_null(strstr(nc, "tenant-ns"));
		assert_null(strstr(nc, "br0"));
		free(nc);
	}
}

/* ---- root disk size checks (no external tools run) ---------------------- */

static char tmpdir[64];

static int
setup_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cloudlet-test-disk.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_tmp(void **state)
{
	(void)state;
	return util_rmtree(tmpdir);
}

static void
make_sparse(const char *path, uint64_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static void
test_disk_size(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/size.raw", tmpdir);
	make_sparse(path, 3 * GIB);
	assert_int_equal(disk_size(path), (int64_t)(3 * GIB));
	snprintf(path, sizeof(path), "%s/missing.raw", tmpdir);
	assert_int_equal(disk_size(path), -ENOENT);
}

static void
test_grow_refuses_shrink(void **state)
{
	char path[128], err[256] = "";

	(void)state;
	snprintf(path, sizeof(path), "%s/root.raw", tmpdir);
	make_sparse(path, 2 * GIB);
	assert_int_equal(disk_grow_root(path, 1, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "shrink"));
	assert_int_equal(disk_size(path), (int64_t)(2 * GIB));
	/* The same size is a no-op: nothing runs, nothing changes. */
	assert_int_equal(disk_grow_root(path, 2, err, sizeof(err)), 0);
	assert_int_equal(disk_size(path), (int64_t)(2 * GIB));
}

static void
test_grow_missing(void **state)
{
	char path[128], err[256] = "";

	(void)state;
	snprintf(path, sizeof(path), "%s/nope.raw", tmpdir);
	assert_int_equal(disk_grow_root(path, 2, err, sizeof(err)), -ENOENT);
	assert_true(err[0] != '\0');
}

static void
test_create_without_rootfs(void **state)
{
	char path[128], rootfs[128], err[256] = "";

	(void)state;
	snprintf(path, sizeof(path), "%s/new.raw", tmpdir);
	snprintf(rootfs, sizeof(rootfs), "%s/no-such-rootfs", tmpdir);
	assert_int_equal(disk_create_root(path, rootfs, 1, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "rootfs"));
	assert_int_equal(access(path, F_OK), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_meta_data),
	    cmocka_unit_test(test_network_config),
	    cmocka_unit_test(test_disk_size),
	    cmocka_unit_test(test_grow_refuses_shrink),
	    cmocka_unit_test(test_grow_missing),
	    cmocka_unit_test(test_create_without_rootfs),
	};

	return cmocka_run_group_tests_name("disk", tests, setup_tmp, teardown_tmp);
}
