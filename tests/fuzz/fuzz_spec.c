/*
 * fuzz_spec.c - libFuzzer harness for the agent's VM spec parser.
 *
 * Arbitrary bytes go through json_loadb (as the control socket would decode
 * them) into spec_parse and spec_reconfigure. Beyond "no crash, no leak"
 * (ASan/LSan/UBSan), every accepted spec must keep the promises the rest of
 * the agent relies on: limits hold, spec_to_json round-trips, and the texts
 * and argv built from it can be produced. Build and run: tests/fuzz/build.sh.
 *
 * It also checks that MAC and address fields hold only the characters
 * their formats allow (it found such bugs in spec.c, fixed since).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "disk.h"
#include "qemu.h"
#include "spec.h"
#include "strv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
static int strict;

static int
fake_image_lookup(const char *name, uint64_t *min_disk_mib)
{
	if (strcmp(name, "base") == 0) {
		*min_disk_mib = 100;
		return 0;
	}
	if (strcmp(name, "web-hosting") == 0) {
		*min_disk_mib = 3072;
		return 0;
	}
	return -ENOENT;
}

static const struct spec_limits limits = {
    .max_vcpus = 8,
    .max_memory_mib = 16384,
    .image_lookup = fake_image_lookup,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	strict = 1; /* the MAC/CIDR character checks are fixed in spec.c */
	return 0;
}

static int
only_chars(const char *s, const char *allowed)
{
	return s[strspn(s, allowed)] == '\0';
}

static void
check_same(const struct vm_spec *a, const struct vm_spec *b)
{
	unsigned i;

	CHECK(strcmp(a->name, b->name) == 0);
	CHECK(strcmp(a->image, b->image) == 0);
	CHECK(a->vcpus == b->vcpus);
	CHECK(a->memory_mib == b->memory_mib);
	CHECK(a->disk_gib == b->disk_gib);
	CHECK((a->user_data == NULL) == (b->user_data == NULL));
	CHECK(a->user_data == NULL || strcmp(a->user_data, b->user_data) == 0);
	CHECK((a->ssh_keys == NULL) == (b->ssh_keys == NULL));
	CHECK(a->ssh_keys == NULL || strcmp(a->ssh_keys, b->ssh_keys) == 0);
	CHECK(a->n_ssh_keys == b->n_ssh_keys);
	CHECK(a->n_nics == b->n_nics);
	for (i = 0; i < a->n_nics; i++)
		CHECK(memcmp(&a->nics[i], &b->nics[i], sizeof(a->nics[i])) == 0);
}

static void
check_limits(const struct vm_spec *s)
{
	char err[128];

	CHECK(spec_check_name(s->name, err, sizeof(err)) == 0);
	CHECK(s->vcpus >= 1 && s->vcpus <= limits.max_vcpus);
	CHECK(s->memory_mib >= SPEC_MEMORY_MIN_MIB &&
	      s->memory_mib <= limits.max_memory_mib);
	CHECK(s->disk_gib >= 1 && s->disk_gib <= SPEC_DISK_MAX_GIB);
}

static void
check_accepted(const struct vm_spec *s)
{
	struct vm_spec again;
	struct qemu_launch l;
	struct strv argv = {0};
	char err[256], host[SPEC_NAME_MAX + 1];
	char *md, *nc;
	json_t *j;
	unsigned i;

	check_limits(s);
	CHECK(s->n_nics <= SPEC_NICS_MAX);
	CHECK(s->user_data == NULL || strlen(s->user_data) <= SPEC_USER_DATA_MAX);
	/* Key lines reach YAML double quotes in meta-data as they are. */
	CHECK(s->ssh_keys == NULL || (strlen(s->ssh_keys) <= SPEC_SSH_KEYS_TOTAL_MAX &&
				      strpbrk(s->ssh_keys, "\"\\\r") == NULL));
	CHECK((s->ssh_keys == NULL) == (s->n_ssh_keys == 0));
	for (i = 0; i < s->n_nics; i++) {
		const struct spec_nic *n = &s->nics[i];

		/* A NIC on a platform network may leave its bridge to the agent;
		 * any bridge name that is there passed the name check. */
		CHECK(n->bridge[0] != '\0' || n->network[0] != '\0');
		CHECK(n->bridge[0] == '\0' ||
		      spec_check_name(n->bridge, err, sizeof(err)) == 0);
		CHECK(n->netns[0] == '\0' ||
		      spec_check_name(n->netns, err, sizeof(err)) == 0);
		CHECK(!(n->dhcp && n->address[0] != '\0'));
		if (strict) {
			/* Only these may reach QEMU's mac= and the network-config. */
			CHECK(only_chars(n->address, "0123456789./"));
			CHECK(only_chars(n->gateway, "0123456789."));
			CHECK(only_chars(n->mac, "0123456789abcdefABCDEF:"));
		}
	}

	/* spec_to_json is what the agent saves; it must load back the same. */
	j = spec_to_json(s);
	CHECK(j != NULL);
	memset(&again, 0, sizeof(again));
	CHECK(spec_parse(j, &limits, &again, err, sizeof(err)) == 0);
	check_same(s, &again);
	spec_free(&again);
	json_decref(j);

	spec_hostname(s, host, sizeof(host));
	/* Trailing '-' are trimmed: a hostname never starts or ends with one. */
	CHECK(strlen(host) >= 1 &&
	      strlen(host) <= strlen(s->hostname[0] ? s->hostname : s->name));
	CHECK(host[0] != '-' && host[strlen(host) - 1] != '-');
	md = disk_meta_data("0123456789abcdef", s);
	nc = disk_network_config(s);
	CHECK(md != NULL && nc != NULL);
	free(md);
	free(nc);

	memset(&l, 0, sizeof(l));
	l.qemu_bin = "/usr/bin/qemu-system-x86_64";
	l.guest_dir = "/guest";
	l.vm_dir = "/vms/0123456789abcdef";
	l.vm_id = "0123456789abcdef";
	l.accel = s->vcpus % 2 ? ACCEL_TCG : ACCEL_KVM;
	l.tsc_khz = 2400000;
	l.spec = s;
	CHECK(qemu_build_argv(&l, &argv) == 0);
	strv_free(&argv);
}

static void
fuzz_reconfigure(const json_t *j)
{
	static const char cur_text[] =
	    "{\"name\":\"web1\",\"image\":\"base\",\"vcpus\":2,\"memory_mib\":256,"
	    "\"disk_gib\":4,\"user_data\":\"#cloud-config\\n\","
	    "\"nics\":[{\"bridge\":\"br0\",\"dhcp\":true}]}";
	struct vm_spec cur, next;
	char err[256];
	json_t *cj = json_loads(cur_text, 0, NULL);
	int changed = -1;

	CHECK(cj != NULL);
	memset(&cur, 0, sizeof(cur));
	CHECK(spec_parse(cj, &limits, &cur, err, sizeof(err)) == 0);
	json_decref(cj);
	memset(&next, 0, sizeof(next));
	if (spec_reconfigure(j, &limits, &cur, &next, &changed, err, sizeof(err)) == 0) {
		check_limits(&next);
		CHECK(next.disk_gib >= cur.disk_gib);
		CHECK(next.user_data == NULL);
		CHECK(strcmp(next.name, cur.name) == 0);
		CHECK(strcmp(next.image, cur.image) == 0);
		CHECK(next.n_nics == cur.n_nics);
		/* The owner may be set once, never changed. */
		CHECK(cur.tenant[0] == '\0' || strcmp(next.tenant, cur.tenant) == 0);
		/* "changed" covers every field a reconfigure may touch: the
		 * resources, the owner and the attached volumes. */
		CHECK(changed ==
		      (next.vcpus != cur.vcpus || next.memory_mib != cur.memory_mib ||
		       next.disk_gib != cur.disk_gib || strcmp(next.tenant, cur.tenant) != 0 ||
		       next.n_volumes != cur.n_volumes ||
		       memcmp(next.volumes, cur.volumes, sizeof(next.volumes)) != 0));
	} else {
		CHECK(err[0] != '\0');
	}
	spec_free(&cur);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_spec s;
	char err[256];
	json_t *j;

	/* The control socket refuses duplicates; ALLOW_NUL lets the fuzzer
	 * reach spec.c's own NUL checks. */
	j = json_loadb((const char *)data, size,
		       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	if (j == NULL)
		return 0;
	memset(&s, 0, sizeof(s));
	err[0] = '\0';
	if (spec_parse(j, &limits, &s, err, sizeof(err)) == 0) {
		check_accepted(&s);
		spec_free(&s);
	} else {
		CHECK(err[0] != '\0');
		CHECK(s.user_data == NULL);
		CHECK(s.ssh_keys == NULL);
	}
	fuzz_reconfigure(j);
	json_decref(j);
	return 0;
}
