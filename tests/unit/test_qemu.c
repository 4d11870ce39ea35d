/*
 * test_qemu.c - qemu.h: the QEMU command line, the kernel command line and
 * the tap names. Pure functions: nothing here starts QEMU.
 */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qemu.h"
#include "util.h"

#define VM_ID "0123456789abcdef"
#define VM_DIR "/var/lib/cloudlet/vms/" VM_ID
#define GUEST_DIR "/usr/lib/cloudlet/guest"

static const char *const macs[SPEC_NICS_MAX] = {
    "52:54:00:12:34:56",
    "52:54:00:12:34:57",
    "02:00:00:aa:bb:cc",
    "52:54:00:ff:ff:fe",
};

static void
make_spec(struct vm_spec *s, unsigned vcpus, uint64_t memory_mib, unsigned n_nics)
{
	unsigned i;

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "web1");
	snprintf(s->image, sizeof(s->image), "base");
	s->vcpus = vcpus;
	s->memory_mib = memory_mib;
	s->disk_gib = 1;
	s->n_nics = n_nics;
	for (i = 0; i < n_nics; i++) {
		snprintf(s->nics[i].bridge, sizeof(s->nics[i].bridge), "br%u", i);
		snprintf(s->nics[i].mac, sizeof(s->nics[i].mac), "%s", macs[i]);
	}
}

static void
make_launch(struct qemu_launch *l, const struct vm_spec *s, enum host_accel accel,
	    uint64_t tsc_khz)
{
	memset(l, 0, sizeof(*l));
	l->qemu_bin = "/usr/bin/qemu-system-x86_64";
	l->guest_dir = GUEST_DIR;
	l->vm_dir = VM_DIR;
	l->vm_id = VM_ID;
	l->accel = accel;
	l->tsc_khz = tsc_khz;
	l->spec = s;
	l->uid = 1000;
	l->gid = 1000;
}

/* The argument after the first occurrence of opt, or NULL. */
static const char *
arg_after(const struct strv *a, const char *opt)
{
	size_t i;

	for (i = 0; i + 1 < a->n; i++)
		if (strcmp(a->v[i], opt) == 0)
			return a->v[i + 1];
	return NULL;
}

/* The argument after the k-th occurrence of opt, or NULL. */
static const char *
nth_arg_after(const struct strv *a, const char *opt, unsigned k)
{
	size_t i;

	for (i = 0; i + 1 < a->n; i++)
		if (strcmp(a->v[i], opt) == 0 && k-- == 0)
			return a->v[i + 1];
	return NULL;
}

static unsigned
count_opt(const struct strv *a, const char *opt)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], opt) == 0)
			n++;
	return n;
}

static int
starts_with(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

struct argv_case {
	const char *what;
	enum host_accel accel;
	uint64_t tsc_khz;
	unsigned vcpus;
	uint64_t memory_mib;
	unsigned n_nics;
	const char *accel_arg, *cpu_arg, *smp, *mem;
};

static const struct argv_case argv_cases[] = {
    {"tcg, no nics", ACCEL_TCG, 2400000, 1, 128, 0, "tcg,tb-size=64", "qemu64,+arat", "1",
     "128"},
    {"tcg, unknown tsc, one nic", ACCEL_TCG, 0, 2, 512, 1, "tcg,tb-size=64",
     "qemu64,+arat", "2", "512"},
    {"kvm, one nic", ACCEL_KVM, 2400000, 4, 4096, 1, "kvm", "host", "4", "4096"},
    {"kvm, all nics", ACCEL_KVM, 0, 1024, 1099511627776ULL, SPEC_NICS_MAX, "kvm", "host",
     "1024", "1099511627776"},
    {"tcg, all nics", ACCEL_TCG, 3193999, 3, 64, SPEC_NICS_MAX, "tcg,tb-size=64",
     "qemu64,+arat", "3", "64"},
};

static void
check_argv(const struct argv_case *c)
{
	struct vm_spec s;
	struct qemu_launch l;
	struct strv a = {0};
	char cmdline[512], want[128];
	const char *v;
	unsigned i;
	size_t k;

	make_spec(&s, c->vcpus, c->memory_mib, c->n_nics);
	make_launch(&l, &s, c->accel, c->tsc_khz);
	assert_int_equal(qemu_build_argv(&l, &a), 0);
	assert_int_equal(a.failed, 0);

	/* A proper argv: the binary first, NULL-terminated, no empty words. */
	assert_true(a.n > 10);
	assert_string_equal(a.v[0], "/usr/bin/qemu-system-x86_64");
	assert_null(a.v[a.n]);
	for (k = 0; k < a.n; k++)
		assert_true(a.v[k][0] != '\0');

	assert_string_equal(arg_after(&a, "-name"), "guest=" VM_ID ",debug-threads=on");
	assert_int_equal(count_opt(&a, "-accel"), 1);
	assert_string_equal(arg_after(&a, "-accel"), c->accel_arg);
	assert_int_equal(count_opt(&a, "-cpu"), 1);
	assert_string_equal(arg_after(&a, "-cpu"), c->cpu_arg);
	assert_string_equal(arg_after(&a, "-smp"), c->smp);
	assert_string_equal(arg_after(&a, "-m"), c->mem);
	assert_true(starts_with(arg_after(&a, "-M"), "microvm,"));
	assert_non_null(strstr(arg_after(&a, "-M"), "pit=off"));
	assert_int_equal(count_opt(&a, "-nodefaults"), 1);
	assert_int_equal(count_opt(&a, "-no-user-config"), 1);
	assert_string_equal(arg_after(&a, "-display"), "none");

	/* QEMU parses guest-controlled state: it must be sandboxed. */
	v = arg_after(&a, "-sandbox");
	assert_true(starts_with(v, "on,"));
	assert_non_null(strstr(v, "obsolete=deny"));
	assert_non_null(strstr(v, "elevateprivileges=deny"));
	assert_non_null(strstr(v, "spawn=deny"));
	assert_non_null(strstr(v, "resourcecontrol=deny"));

	assert_string_equal(arg_after(&a, "-kernel"), GUEST_DIR "/vmlinux");
	assert_string_equal(arg_after(&a, "-initrd"), GUEST_DIR "/initrd.cpio.gz");
	assert_int_equal(
	    qemu_kernel_cmdline(c->accel, c->tsc_khz, cmdline, sizeof(cmdline)), 0);
	assert_string_equal(arg_after(&a, "-append"), cmdline);

	/* Root disk writable, seed read-only, both inside the VM directory. */
	assert_int_equal(count_opt(&a, "-drive"), 2);
	v = nth_arg_after(&a, "-drive", 0);
	assert_true(starts_with(v, "file=" VM_DIR "/root.raw,"));
	assert_null(strstr(v, "readonly"));
	v = nth_arg_after(&a, "-drive", 1);
	assert_true(starts_with(v, "file=" VM_DIR "/seed.img,"));
	assert_non_null(strstr(v, "readonly=on"));

	/* One tap netdev per nic, on the fds the child dup2()s them to. */
	assert_int_equal(count_opt(&a, "-netdev"), c->n_nics);
	for (i = 0; i < c->n_nics; i++) {
		snprintf(want, sizeof(want), "tap,id=net%u,fd=%u", i, 3 + i);
		assert_string_equal(nth_arg_after(&a, "-netdev", i), want);
		snprintf(want, sizeof(want), "virtio-net-device,netdev=net%u,mac=%s", i,
			 macs[i]);
		assert_string_equal(nth_arg_after(&a, "-device", 2 + i), want);
	}
	assert_int_equal(count_opt(&a, "-device"), 2 + c->n_nics);

	/* Console and both QMP sockets live in the VM directory. */
	assert_int_equal(count_opt(&a, "-chardev"), 3);
	for (i = 0; i < 3; i++)
		assert_non_null(
		    strstr(nth_arg_after(&a, "-chardev", i), "path=" VM_DIR "/"));
	assert_non_null(strstr(nth_arg_after(&a, "-chardev", 0), "console.sock"));
	assert_non_null(strstr(nth_arg_after(&a, "-chardev", 1), "qmp.sock"));
	assert_non_null(strstr(nth_arg_after(&a, "-chardev", 2), "events.sock"));
	assert_int_equal(count_opt(&a, "-mon"), 2);
	assert_string_equal(arg_after(&a, "-serial"), "chardev:con0");
	assert_string_equal(arg_after(&a, "-pidfile"), VM_DIR "/qemu.pid");
	/* No identity file unless asked for (templates and clones). */
	assert_int_equal(count_opt(&a, "-fw_cfg"), 0);
	strv_free(&a);

	/* A clone: its identity as fw_cfg from the fd after the state's. */
	l.with_identity = 1;
	l.incoming = 1;
	assert_int_equal(qemu_build_argv(&l, &a), 0);
	assert_int_equal(count_opt(&a, "-fw_cfg"), 1);
	snprintf(want, sizeof(want), "name=opt/cloudlet/identity,file=/dev/fd/%u",
		 4 + c->n_nics);
	assert_string_equal(arg_after(&a, "-fw_cfg"), want);
	assert_int_equal(qemu_identity_fd_number(&l), qemu_state_fd_number(&l) + 1);
	assert_string_equal(arg_after(&a, "-incoming"), "defer");
	strv_free(&a);
}

static void
test_build_argv(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(argv_cases); i++) {
		print_message("argv: %s\n", argv_cases[i].what);
		check_argv(&argv_cases[i]);
	}
}

/* A root volume: still the first drive with id root (the guest's
 * /dev/vda), over NBD from the VM's export, before the seed and the
 * attached volumes. */
static void
test_root_volume(void **state)
{
	struct vm_spec s;
	struct qemu_launch l;
	struct strv a = {0};
	const char *v;

	(void)state;
	make_spec(&s, 1, 128, 0);
	s.n_volumes = 1;
	snprintf(s.volumes[0], sizeof(s.volumes[0]), "data1");
	make_launch(&l, &s, ACCEL_TCG, 2400000);
	l.export_socket = "/run/x/" VM_ID ".sock";
	l.root_volume = "root-" VM_ID;
	assert_int_equal(qemu_build_argv(&l, &a), 0);
	assert_int_equal(count_opt(&a, "-drive"), 3);
	v = nth_arg_after(&a, "-drive", 0);
	assert_true(starts_with(v, "driver=raw,if=none,id=root,"));
	assert_non_null(strstr(v, "file.driver=nbd,"));
	assert_non_null(strstr(v, "file.server.path=/run/x/" VM_ID ".sock,"));
	assert_non_null(strstr(v, "file.export=root-" VM_ID ","));
	assert_non_null(strstr(v, "file.reconnect-delay=10"));
	assert_null(strstr(v, VM_DIR));
	assert_true(starts_with(nth_arg_after(&a, "-drive", 1), "file=" VM_DIR "/seed.img,"));
	assert_non_null(strstr(nth_arg_after(&a, "-drive", 2), "file.export=data1,"));
	assert_string_equal(nth_arg_after(&a, "-device", 0), "virtio-blk-device,drive=root");
	strv_free(&a);
}

/* An uploaded image (docs/images.md): a PC machine whose firmware boots
 * the root disk, no -kernel, every virtio device on PCI. */
static void
test_firmware(void **state)
{
	struct vm_spec s;
	struct qemu_launch l;
	struct strv a = {0};

	(void)state;
	make_spec(&s, 1, 512, 1);
	make_launch(&l, &s, ACCEL_TCG, 2400000);
	l.firmware = 1;
	assert_int_equal(qemu_build_argv(&l, &a), 0);
	assert_int_equal(a.failed, 0);
	assert_string_equal(arg_after(&a, "-M"), "pc");
	assert_int_equal(count_opt(&a, "-kernel"), 0);
	assert_int_equal(count_opt(&a, "-initrd"), 0);
	assert_int_equal(count_opt(&a, "-append"), 0);
	assert_string_equal(nth_arg_after(&a, "-device", 0), "virtio-blk-pci,drive=root,bootindex=0");
	assert_string_equal(nth_arg_after(&a, "-device", 1), "virtio-blk-pci,drive=seed");
	assert_true(starts_with(nth_arg_after(&a, "-device", 2), "virtio-net-pci,netdev=net0,mac="));
	assert_true(starts_with(arg_after(&a, "-sandbox"), "on,"));
	strv_free(&a);
}

struct cmdline_case {
	enum host_accel accel;
	uint64_t tsc_khz;
	const char *tsc; /* NULL: no tsc_early_khz at all */
};

static const struct cmdline_case cmdline_cases[] = {
    {ACCEL_TCG, 2400000, " tsc_early_khz=2400000 "},
    {ACCEL_TCG, 1, " tsc_early_khz=1 "},
    {ACCEL_TCG, 18446744073709551615ULL, " tsc_early_khz=18446744073709551615 "},
    {ACCEL_TCG, 0, NULL},
    {ACCEL_KVM, 2400000, NULL},
    {ACCEL_KVM, 0, NULL},
};

static void
test_kernel_cmdline(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cmdline_cases); i++) {
		const struct cmdline_case *c = &cmdline_cases[i];
		char out[512];

		assert_int_equal(
		    qemu_kernel_cmdline(c->accel, c->tsc_khz, out, sizeof(out)), 0);
		assert_true(starts_with(out, "console=ttyS0 "));
		assert_non_null(strstr(out, " root=LABEL=cloudlet-root"));
		assert_non_null(strstr(out, " panic=-1"));
		assert_non_null(strstr(out, " tsc=reliable"));
		if (c->tsc != NULL) {
			if (strstr(out, c->tsc) == NULL)
				fail_msg("row %zu: '%s' lacks '%s'", i, out, c->tsc);
		} else if (strstr(out, "tsc_early_khz") != NULL) {
			fail_msg("row %zu: '%s' has tsc_early_khz", i, out);
		}
		/* No doubled or trailing spaces from the optional part. */
		assert_null(strstr(out, "  "));
		assert_true(out[strlen(out) - 1] != ' ');
	}
}

static void
test_kernel_cmdline_truncated(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(qemu_kernel_cmdline(ACCEL_KVM, 0, out, sizeof(out)),
			 -ENAMETOOLONG);
	assert_int_equal(strlen(out), sizeof(out) - 1);
}

static void
check_tap_name(const char *name)
{
	size_t k;

	if (strlen(name) > 15 || name[0] == '\0')
		fail_msg("tap name '%s' is not 1..15 characters (IFNAMSIZ - 1)", name);
	for (k = 0; name[k] != '\0'; k++)
		if (!isalnum((unsigned char)name[k]))
			fail_msg("tap name '%s' has '%c'", name, name[k]);
}

static void
test_tap_names(void **state)
{
	static const char *const ids[] = {
	    VM_ID,
	    "fedcba9876543210",
	    "0123456789bbcdef", /* differs from VM_ID at index 10 */
	    "00000000000000000000000000000000000000000000000000000000000000",
	    "a",
	};
	char names[ARRAY_LEN(ids) * SPEC_NICS_MAX][16];
	size_t n = 0, i, j;
	unsigned nic;

	(void)state;
	for (i = 0; i < ARRAY_LEN(ids); i++) {
		for (nic = 0; nic < SPEC_NICS_MAX; nic++) {
			memset(names[n], 'X', sizeof(names[n]));
			qemu_tap_name(ids[i], nic, names[n], sizeof(names[n]));
			check_tap_name(names[n]);
			n++;
		}
	}
	/* Different per nic and per VM (ids differing in their first 11
	 * characters; agent ids are 16 random hex digits). */
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (strcmp(names[i], names[j]) == 0)
				fail_msg("tap name '%s' used twice", names[i]);

	/* The name the argv's nic i is opened under in the child. */
	{
		char a[16], b[16];

		qemu_tap_name(VM_ID, 0, a, sizeof(a));
		qemu_tap_name(VM_ID, 0, b, sizeof(b));
		assert_string_equal(a, b);
	}
}

/* A live migration's destination (vmmigrate.c): it waits, its root is
 * shared for writing with its NBD export, a restored clone's RAM block keeps
 * its name "ram0" in anonymous memory. */
static void
test_migration_destination(void **state)
{
	struct vm_spec s;
	struct qemu_launch l;
	struct strv a = {0};

	(void)state;
	make_spec(&s, 1, 128, 1);
	make_launch(&l, &s, ACCEL_TCG, 0);
	l.incoming = 1;
	l.share_root = 1;
	l.ram0 = 1;
	assert_int_equal(qemu_build_argv(&l, &a), 0);
	assert_string_equal(arg_after(&a, "-incoming"), "defer");
	assert_string_equal(nth_arg_after(&a, "-device", 0),
			    "virtio-blk-device,drive=root,share-rw=on");
	assert_string_equal(arg_after(&a, "-object"), "memory-backend-ram,id=ram0,size=128M");
	assert_non_null(strstr(arg_after(&a, "-M"), ",memory-backend=ram0"));
	strv_free(&a);

	/* A cold-booted source: QEMU's default RAM block, no backend. */
	l.ram0 = 0;
	assert_int_equal(qemu_build_argv(&l, &a), 0);
	assert_null(arg_after(&a, "-object"));
	assert_null(strstr(arg_after(&a, "-M"), "memory-backend"));
	strv_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_build_argv),
	    cmocka_unit_test(test_root_volume),
	    cmocka_unit_test(test_firmware),
	    cmocka_unit_test(test_kernel_cmdline),
	    cmocka_unit_test(test_kernel_cmdline_truncated),
	    cmocka_unit_test(test_tap_names),
	    cmocka_unit_test(test_migration_destination),
	};

	return cmocka_run_group_tests_name("qemu", tests, NULL, NULL);
}
