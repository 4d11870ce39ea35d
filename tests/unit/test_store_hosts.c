/*
 * test_store_hosts.c - placement and host records (store_host.h) on a
 * real store (SQLite in a fresh directory, or PostgreSQL: store_testdb.h):
 * spread and pack, draining, a host down, the vCPU and memory filters with
 * the reason, the tenant's home host, a host with VMs that cannot be
 * removed, VMs marked unknown with their last state when their host goes
 * down; placement groups with anti-affinity and the disk filter; templates
 * in the weigher; join tokens (used once, expired, for another name, a
 * name taken) and hosts over TLS.
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

#include "store.h"
#include "store_host.h"
#include "store_testdb.h"
#include "util.h"

static char tenant[STORE_ID_LEN];
static char hid[3][STORE_ID_LEN];
static int n_vm;

/* Three hosts up, each 2 CPUs and (4096 - 512) MiB of budget. */
static int
setup(void **state)
{
	struct quota q = {100, 100000, 1000, 100};
	char name[8];
	json_t *t = NULL, *h = NULL, *info;
	int i;

	(void)state;
	if (testdb_open() < 0 || store_tenant_create("acme", &q, &t) < 0)
		return -1;
	snprintf(tenant, sizeof(tenant), "%s", json_string_value(json_object_get(t, "id")));
	json_decref(t);
	info = json_pack("{s:i, s:i, s:f, s:s}", "cpus", 2, "memory_mib", 4096, "mem_overcommit",
			 1.0, "accel", "tcg");
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "h%d", i + 1);
		if (store_host_add(name, "/nonexistent.sock", "", "", &h) < 0)
			return -1;
		snprintf(hid[i], sizeof(hid[i]), "%s", json_string_value(json_object_get(h, "id")));
		json_decref(h);
		if (store_host_heartbeat_ok(hid[i], info) != 1) /* was down: now up */
			return -1;
	}
	json_decref(info);
	store_host_set_policy(PLACE_SPREAD, 2);
	return 0;
}

static const char *group;   /* the next VMs' placement group ("" none) */
static int anti_affinity;
static int64_t disk_gib = 1;

/* A VM of vcpus/memory: 0 and its host's index, or -errno. */
static int
place(int64_t vcpus, int64_t memory_mib, int *host)
{
	struct vm_row vm;
	char op[STORE_ID_LEN], where[STORE_ID_LEN] = "";
	json_t *o = NULL;
	int r, i;

	memset(&vm, 0, sizeof(vm));
	snprintf(vm.id, sizeof(vm.id), "vm-%016d", ++n_vm);
	snprintf(vm.tenant_id, sizeof(vm.tenant_id), "%s", tenant);
	snprintf(vm.name, sizeof(vm.name), "v%d", n_vm);
	snprintf(vm.service, sizeof(vm.service), "web-hosting");
	snprintf(vm.image, sizeof(vm.image), "web-hosting");
	vm.vcpus = vcpus;
	vm.memory_mib = memory_mib;
	vm.disk_gib = disk_gib;
	snprintf(vm.group_name, sizeof(vm.group_name), "%s", group ? group : "");
	vm.anti_affinity = anti_affinity;
	snprintf(op, sizeof(op), "op-%016d", n_vm);
	r = store_vm_create(&vm, op, &o);
	json_decref(o);
	if (r < 0)
		return r;
	store_vm_host(vm.id, where, sizeof(where));
	for (i = 0; i < 3; i++)
		if (strcmp(where, hid[i]) == 0)
			*host = i;
	return 0;
}

static void
test_placement(void **state)
{
	char home[STORE_ID_LEN];
	json_t *vms, *h = NULL;
	int host = -1, i;

	(void)state;
	/* Spread: each to the least used; ties by name. */
	for (i = 0; i < 3; i++) {
		assert_int_equal(place(1, 512, &host), 0);
		assert_int_equal(host, i);
	}
	store_tenant_home(tenant, home, sizeof(home));
	assert_string_equal(home, hid[0]); /* the first VM's host */
	/* h1 takes more memory: the next goes to the least used share. */
	assert_int_equal(place(1, 1024, &host), 0);
	assert_int_equal(host, 0);
	assert_int_equal(place(1, 256, &host), 0);
	assert_int_equal(host, 1); /* h2 and h3 both 512 MiB: by name */
	/* Pack: the most used that fits (h1: 1536 MiB). */
	store_host_set_policy(PLACE_PACK, 2);
	assert_int_equal(place(1, 256, &host), 0);
	assert_int_equal(host, 0);
	store_host_set_policy(PLACE_SPREAD, 2);

	/* vCPUs: 2 per host at overcommit 1; a VM larger than a host fails. */
	store_host_set_policy(PLACE_SPREAD, 1);
	assert_int_equal(place(3, 128, &host), -ENOSPC);
	assert_non_null(strstr(store_host_place_why(), "not enough vCPUs"));
	/* h1 has 3 VMs: more than 2 vCPUs already; h2 2; h3 1: only h3. */
	assert_int_equal(place(1, 128, &host), 0);
	assert_int_equal(host, 2);
	assert_int_equal(place(1, 128, &host), -ENOSPC);
	store_host_set_policy(PLACE_SPREAD, 16);

	/* Memory: 3584 MiB budget per host. */
	assert_int_equal(place(1, 3585, &host), -ENOSPC);
	assert_non_null(strstr(store_host_place_why(), "not enough memory"));

	/* Draining and down hosts take nothing; h1's VMs (running; one being
	 * created, left to its operation) go unknown. */
	vms = store_vm_list_host(hid[0]);
	for (i = 1; i < (int)json_array_size(vms); i++)
		store_vm_set_state(json_string_value(json_object_get(json_array_get(vms, (size_t)i),
								     "id")),
				   "running", "", 1, "tcg", 0);
	json_decref(vms);
	store_host_set_draining(hid[1], 1);
	store_host_set_draining(hid[2], 1);
	assert_int_equal(store_host_mark_down(hid[0]), 1);
	assert_int_equal(place(1, 128, &host), -ENOSPC);
	assert_non_null(strstr(store_host_place_why(), "draining"));
	vms = store_vm_list(NULL);
	assert_int_equal(json_array_size(vms), 7); /* nothing stored for the refusals */
	json_decref(vms);

	/* h1's VMs are unknown, their last state kept; the one being created
	 * is not touched. */
	store_host_get(hid[0], &h);
	assert_string_equal(json_string_value(json_object_get(h, "state")), "down");
	json_decref(h);
	vms = store_vm_list_host(hid[0]);
	assert_int_equal(json_array_size(vms), 3);
	for (i = 0; i < (int)json_array_size(vms); i++) {
		json_t *v = NULL;

		store_vm_get(NULL,
			     json_string_value(json_object_get(json_array_get(vms, (size_t)i), "id")),
			     &v);
		assert_string_equal(json_string_value(json_object_get(v, "state")),
				    i == 0 ? "creating" : "unknown");
		assert_string_equal(json_string_value(json_object_get(v, "last_state")),
				    i == 0 ? "" : "running");
		json_decref(v);
	}
	json_decref(vms);
	/* It answers again: up (1: it was down). */
	{
		json_t *info = json_pack("{s:i, s:i}", "cpus", 2, "memory_mib", 4096);

		assert_int_equal(store_host_heartbeat_ok(hid[0], info), 1);
		assert_int_equal(store_host_is_down(hid[0]), 0);
		json_decref(info);
	}

	/* A host with VMs is not removed. */
	assert_int_equal(store_host_remove(hid[2]), -ENOTEMPTY);
}

/* Anti-affinity: three VMs of group web on three hosts, a fourth has
 * nowhere to go; VMs of another group, without a group or of another
 * tenant's group of the same name are not held back; a VM that did not ask
 * for anti-affinity still avoids the hosts of those that did. Disk: what
 * the VMs were given is at most the host's filesystem. */
static void
test_groups_and_disk(void **state)
{
	struct quota q = {100, 100000, 1000, 100};
	char other[STORE_ID_LEN], mine[STORE_ID_LEN];
	json_t *t = NULL, *info, *v;
	int host = -1, seen = 0, i;

	(void)state;
	group = "web";
	anti_affinity = 1;
	for (i = 0; i < 3; i++) {
		assert_int_equal(place(1, 128, &host), 0);
		seen |= 1 << host;
	}
	assert_int_equal(seen, 7);
	assert_int_equal(place(1, 128, &host), -ENOSPC);
	assert_non_null(strstr(store_host_place_why(), "anti-affinity"));
	assert_non_null(strstr(store_host_place_why(), "group web"));
	anti_affinity = 0; /* the group's others asked: still no room */
	assert_int_equal(place(1, 128, &host), -ENOSPC);
	group = "db";
	anti_affinity = 1;
	assert_int_equal(place(1, 128, &host), 0);
	group = "";
	anti_affinity = 0;
	assert_int_equal(place(1, 128, &host), 0);
	/* Another tenant's group "web" is its own. */
	snprintf(mine, sizeof(mine), "%s", tenant);
	assert_int_equal(store_tenant_create("other", &q, &t), 0);
	snprintf(other, sizeof(other), "%s", json_string_value(json_object_get(t, "id")));
	json_decref(t);
	snprintf(tenant, sizeof(tenant), "%s", other);
	group = "web";
	anti_affinity = 1;
	assert_int_equal(place(1, 128, &host), 0);
	snprintf(tenant, sizeof(tenant), "%s", mine);
	/* The VM's view says its group. */
	v = store_vm_list(tenant);
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "group")),
			    "web");
	assert_true(json_is_true(json_object_get(json_array_get(v, 0), "anti_affinity")));
	json_decref(v);

	/* Disk: each host reports 20 GiB; 2 GiB are given on each so far. */
	info = json_pack("{s:i, s:i, s:i, s:i}", "cpus", 2, "memory_mib", 4096, "disk_gib", 20,
			 "disk_free_gib", 15);
	for (i = 0; i < 3; i++)
		store_host_heartbeat_ok(hid[i], info);
	json_decref(info);
	group = "";
	anti_affinity = 0;
	disk_gib = 19;
	assert_int_equal(place(1, 128, &host), -ENOSPC);
	assert_non_null(strstr(store_host_place_why(), "not enough disk"));
	disk_gib = 17;
	assert_int_equal(place(1, 128, &host), 0);
	disk_gib = 1;
}

/* A join token is taken once, in the transaction that registers the host. */
static void
test_join_tokens(void **state)
{
	unsigned char h1[32], h2[32], h3[32], h4[32];
	struct host_join j = {"n1", "127.0.0.1:7000", "", ""};
	struct host_endpoint ep;
	char id[STORE_ID_LEN], tok[STORE_ID_LEN], fpr[65];
	json_t *host = NULL, *list;

	(void)state;
	memset(fpr, 'a', 64);
	fpr[64] = '\0';
	j.fingerprint = fpr;
	memset(h1, 1, 32);
	memset(h2, 2, 32);
	memset(h3, 3, 32);
	memset(h4, 4, 32);
	assert_int_equal(store_join_token_add("n1", h1, 2000, id, sizeof(id)), 0);
	assert_int_equal(store_join_token_add("n2", h2, 1000, id, sizeof(id)), 0);
	assert_int_equal(store_join_token_add("h1", h3, 2000, id, sizeof(id)), 0);
	list = store_join_token_list();
	assert_int_equal(json_array_size(list), 3);
	assert_null(json_object_get(json_array_get(list, 0), "hash"));
	json_decref(list);

	/* Unknown; then the right one registers the host over TLS. */
	assert_int_equal(store_host_join(h4, 1500, &j, NULL, tok), -EACCES);
	assert_int_equal(store_host_join(h1, 1500, &j, &host, tok), 0);
	assert_string_equal(json_string_value(json_object_get(host, "address")), "127.0.0.1:7000");
	assert_string_equal(json_string_value(json_object_get(host, "socket")), "");
	assert_int_equal(store_host_endpoint(json_string_value(json_object_get(host, "id")), &ep),
			 0);
	assert_string_equal(ep.fingerprint, fpr);
	json_decref(host);
	/* Used once. */
	assert_int_equal(store_host_join(h1, 1500, &j, NULL, tok), -EACCES);
	/* Expired (and used up), for another name (used up), a name taken
	 * (the token stays). */
	j.name = "n2";
	assert_int_equal(store_host_join(h2, 1500, &j, NULL, tok), -ETIME);
	assert_int_equal(store_host_join(h2, 500, &j, NULL, tok), -EACCES);
	j.name = "h1";
	assert_int_equal(store_host_join(h3, 1500, &j, NULL, tok), -EEXIST);
	list = store_join_token_list();
	assert_int_equal(json_array_size(list), 1);
	assert_int_equal(store_join_token_delete(json_string_value(
			     json_object_get(json_array_get(list, 0), "id"))),
			 0);
	json_decref(list);
	assert_int_equal(store_join_token_delete("jt-nope"), -ENOENT);
}

/* A host with a ready template for the fit is preferred (spread) until it
 * is PLACE_TEMPLATE_BONUS more used than another. */
static void
test_template_weigh(void **state)
{
	json_t *info = json_pack("{s:i, s:i, s:[s]}", "cpus", 2, "memory_mib", 4096, "templates",
				 "web-hosting/1/128/1");
	int host = -1;

	(void)state;
	store_host_heartbeat_ok(hid[2], info);
	json_decref(info);
	assert_int_equal(place(1, 128, &host), 0);
	assert_int_equal(host, 2); /* all empty: h3 can clone it */
	/* Pack puts 1000 MiB more on h3 (the most used): 1128 of 3584. */
	store_host_set_policy(PLACE_PACK, 2);
	assert_int_equal(place(1, 1000, &host), 0);
	assert_int_equal(host, 2);
	store_host_set_policy(PLACE_SPREAD, 2);
	assert_int_equal(place(1, 192, &host), 0);
	assert_int_equal(host, 0); /* no template of that fit: h1 (empty, by name) */
	/* h3 is now more than a quarter fuller than h2 (empty): h2 wins. */
	assert_int_equal(place(1, 128, &host), 0);
	assert_int_equal(host, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_placement, setup, testdb_teardown),
	    cmocka_unit_test_setup_teardown(test_groups_and_disk, setup, testdb_teardown),
	    cmocka_unit_test_setup_teardown(test_template_weigh, setup, testdb_teardown),
	    cmocka_unit_test_setup_teardown(test_join_tokens, setup, testdb_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
