/*
 * test_store_core.c - the store (store.h, store_net.h, store_volume.h) on
 * either dialect (store_testdb.h): the same calls must give the same
 * answers on SQLite and PostgreSQL. Tenants and unique names, token hashes
 * (a blob) and an unknown tenant's token, quota use as integers, a VM's
 * create, its JSON list (the hand-written SQL per dialect), an operation
 * refused while another runs, networks in creation order, firewall rules
 * without ports (NULL), alerts with absent fields and a repeated sequence
 * number, volumes against the disk quota, events; operations' owners and
 * leases (another instance's live lease is left alone, an expired one is
 * taken over, the loser's progress is dropped); and exact quotas under
 * creates from several threads at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
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
#include "store_lease.h"
#include "store_net.h"
#include "store_testdb.h"
#include "store_volume.h"
#include "util.h"

static char tenant[STORE_ID_LEN];

static int
setup(void **state)
{
	struct quota q = {8, 4096, 20, 3};
	json_t *t = NULL;

	(void)state;
	if (testdb_open() < 0 || store_tenant_create("acme", &q, &t) < 0)
		return -1;
	snprintf(tenant, sizeof(tenant), "%s",
		 json_string_value(json_object_get(t, "id")));
	json_decref(t);
	return 0;
}

/* A VM record and its create operation: 0 or -errno. */
static int
vm_new(const char *name, int64_t vcpus, char *id)
{
	struct vm_row vm;
	char op[STORE_ID_LEN];
	json_t *o = NULL;
	int r;

	memset(&vm, 0, sizeof(vm));
	db_new_id("vm-", vm.id);
	db_new_id("op-", op);
	snprintf(vm.tenant_id, sizeof(vm.tenant_id), "%s", tenant);
	snprintf(vm.name, sizeof(vm.name), "%s", name);
	snprintf(vm.service, sizeof(vm.service), "web-hosting");
	snprintf(vm.image, sizeof(vm.image), "web-hosting");
	snprintf(vm.host_id, sizeof(vm.host_id), "local");
	vm.vcpus = vcpus;
	vm.memory_mib = 256;
	vm.disk_gib = 1;
	r = store_vm_create(&vm, op, &o);
	if (r == 0) {
		assert_string_equal(json_string_value(json_object_get(o, "state")),
				    "pending");
		if (id != NULL)
			snprintf(id, STORE_ID_LEN, "%s", vm.id);
	}
	json_decref(o);
	return r;
}

static void
test_tenants_tokens_quota(void **state)
{
	struct quota q = {1, 1, 1, 1};
	unsigned char hash[32], stored[32];
	char id[STORE_ID_LEN], tid[STORE_ID_LEN];
	json_t *o = NULL, *l;
	int op;

	(void)state;
	assert_int_equal(store_tenant_create("acme", &q, &o), -EEXIST);
	l = store_tenant_list();
	assert_int_equal(json_array_size(l), 1);
	json_decref(l);

	memset(hash, 0xa5, sizeof(hash));
	hash[0] = 0; /* a zero byte in the blob */
	assert_int_equal(store_token_add(tenant, hash, id, NULL), 0);
	assert_int_equal(store_token_find(hash, &op, tid, stored), 0);
	assert_int_equal(op, 0);
	assert_string_equal(tid, tenant);
	assert_memory_equal(stored, hash, 32);
	hash[1] = 1;
	assert_int_equal(store_token_add("t-nosuch", hash, id, NULL), -ENOENT);
	assert_int_equal(store_token_add(NULL, hash, id, NULL), 0);
	assert_int_equal(store_operator_exists(), 1);
	/* Named, expiring, listed without a hash, revoked. */
	hash[1] = 2;
	assert_int_equal(store_token_add_named(tenant, hash, "ci", 1, id, NULL), 0);
	assert_int_equal(store_token_find(hash, &op, tid, stored), -ENOENT); /* expired */
	hash[1] = 3;
	assert_int_equal(store_token_add_named(tenant, hash, "laptop", INT64_C(4000000000), id,
					       NULL), 0);
	assert_int_equal(store_token_find(hash, &op, tid, stored), 0);
	l = store_token_list(tenant);
	assert_int_equal(json_array_size(l), 3);
	{
		json_t *t;
		size_t i;
		int seen = 0;

		json_array_foreach(l, i, t) {
			assert_null(json_object_get(t, "hash"));
			if (strcmp(json_string_value(json_object_get(t, "name")), "laptop") == 0) {
				assert_non_null(json_object_get(t, "last_used")); /* found above */
				assert_true(json_is_integer(json_object_get(t, "expires_at")));
				seen = 1;
			}
		}
		assert_true(seen);
	}
	json_decref(l);
	assert_int_equal(store_token_revoke("t-other", id), -ENOENT);
	assert_int_equal(store_token_revoke(tenant, id), 0);
	assert_int_equal(store_token_find(hash, &op, tid, stored), -ENOENT);

	assert_int_equal(vm_new("a", 2, NULL), 0);
	assert_int_equal(store_quota_get(tenant, &o), 0);
	l = json_object_get(o, "used");
	assert_true(json_is_integer(json_object_get(l, "vcpus")));
	assert_int_equal(json_integer_value(json_object_get(l, "vcpus")), 2);
	assert_int_equal(json_integer_value(json_object_get(l, "vms")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "max_vms")), 3);
	json_decref(o);
	assert_int_equal(store_tenant_delete(tenant), -ENOTEMPTY);
}

/* The object of a list whose key is value (lists in created_at order tie
 * within a second: the order among them is the ids'). */
static json_t *
find(json_t *list, const char *key, const char *value)
{
	json_t *o;
	size_t i;

	json_array_foreach(list, i,
			   o) if (strcmp(json_string_value(json_object_get(o, key)),
					 value) == 0) return o;
	fail_msg("no %s %s", key, value);
	return NULL;
}

static void
test_vms_ops(void **state)
{
	char a[STORE_ID_LEN], op[STORE_ID_LEN];
	struct vm_row row;
	json_t *o = NULL, *l, *un, *v;
	char *text;

	(void)state;
	assert_int_equal(vm_new("a", 2, a), 0);
	assert_int_equal(vm_new("a", 1, NULL), -EEXIST);
	assert_int_equal(vm_new("b", 7, NULL), -EDQUOT); /* 2 + 7 > 8 vCPUs */
	assert_int_equal(vm_new("b", 1, NULL), 0);
	assert_int_equal(vm_new("c", 1, NULL), 0);
	assert_int_equal(vm_new("d", 1, NULL), -EDQUOT); /* 3 VMs */

	assert_int_equal(store_vm_get(tenant, a, &o), 0);
	assert_true(json_is_false(json_object_get(o, "ready")));
	assert_int_equal(json_integer_value(json_object_get(o, "vcpus")), 2);
	assert_null(json_object_get(o, "host_id")); /* the tenant's view */
	json_decref(o);
	assert_int_equal(store_vm_row(a, &row), 0);
	assert_string_equal(row.state, "creating");
	assert_null(row.user_data);

	text = store_vm_list_text(tenant);
	assert_non_null(text);
	l = json_loads(text, 0, NULL);
	free(text);
	assert_int_equal(json_array_size(l), 3);
	v = find(l, "id", a);
	assert_string_equal(json_string_value(json_object_get(v, "name")), "a");
	assert_true(json_is_false(json_object_get(v, "ready")));
	assert_int_equal(json_integer_value(json_object_get(v, "vcpus")), 2);
	assert_null(json_object_get(v, "host_id"));
	json_decref(l);
	text = store_vm_list_text(NULL);
	l = json_loads(text, 0, NULL);
	free(text);
	assert_string_equal(
	    json_string_value(json_object_get(find(l, "id", a), "host_id")), "local");
	json_decref(l);

	/* The create is still pending: nothing else starts on the VM. */
	db_new_id("op-", op);
	assert_int_equal(store_vm_op_begin(tenant, a, "stop", op, NULL, NULL, &o),
			 -EBUSY);
	un = store_op_unfinished();
	assert_int_equal(json_array_size(un), 3);
	assert_int_equal(store_op_update(json_string_value(
					     json_object_get(find(un, "vm_id", a), "id")),
					 "succeeded", 100, "done", NULL),
			 0);
	json_decref(un);
	assert_int_equal(store_vm_set_state(a, "running", "", 1, "tcg", 0), 0);
	assert_int_equal(store_vm_op_begin(tenant, a, "stop", op, NULL, NULL, &o), 0);
	json_decref(o);
	assert_int_equal(store_vm_get(NULL, a, &o), 0);
	assert_true(json_is_true(json_object_get(o, "ready")));
	json_decref(o);
	store_event("test", tenant, "vm.stop", a, "accepted", NULL);
	l = store_event_list(tenant, 10);
	assert_int_equal(json_array_size(l), 1);
	assert_true(json_is_integer(json_object_get(json_array_get(l, 0), "id")));
	json_decref(l);
}

static void
test_networks_rules(void **state)
{
	struct rule_row rr;
	json_t *n = NULL, *l;

	(void)state;
	assert_int_equal(store_net_create(tenant, "zeta", NULL, &n), 0);
	json_decref(n);
	assert_int_equal(store_net_create(tenant, "alpha", "10.9.0.0/24", &n), 0);
	json_decref(n);
	assert_int_equal(store_net_create(tenant, "beta", "10.9.0.128/25", &n),
			 -EADDRINUSE);
	l = store_net_list(tenant); /* creation order, not by name */
	assert_int_equal(json_array_size(l), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(l, 0), "name")), "zeta");
	json_decref(l);

	memset(&rr, 0, sizeof(rr));
	snprintf(rr.direction, sizeof(rr.direction), "in");
	snprintf(rr.action, sizeof(rr.action), "allow");
	snprintf(rr.protocol, sizeof(rr.protocol), "icmp");
	snprintf(rr.remote, sizeof(rr.remote), "0.0.0.0/0");
	snprintf(rr.origin, sizeof(rr.origin), "user");
	rr.priority = 100;
	assert_int_equal(store_rule_add(tenant, &rr, &n), 0);
	assert_true(json_is_null(json_object_get(n, "port_min")));
	json_decref(n);
	snprintf(rr.protocol, sizeof(rr.protocol), "tcp");
	rr.port_min = rr.port_max = 443;
	assert_int_equal(store_rule_add(tenant, &rr, &n), 0);
	json_decref(n);
	l = store_rule_list(tenant);
	assert_int_equal(json_array_size(l), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(l, 1), "port_min")), 443);
	json_decref(l);
}

static void
test_volumes_alerts(void **state)
{
	struct volume_row v;
	json_t *a, *l;

	(void)state;
	memset(&v, 0, sizeof(v));
	db_new_id("vol-", v.id);
	snprintf(v.tenant_id, sizeof(v.tenant_id), "%s", tenant);
	snprintf(v.name, sizeof(v.name), "data");
	snprintf(v.redundancy, sizeof(v.redundancy), "mirror");
	snprintf(v.host_id, sizeof(v.host_id), "local");
	v.size_gib = 21;
	assert_int_equal(store_volume_create(&v), -EDQUOT);
	v.size_gib = 10;
	assert_int_equal(store_volume_create(&v), 0);
	assert_int_equal(store_volume_create(&v), -EEXIST);
	assert_int_equal(store_volume_resize(v.id, 30), -EDQUOT);
	assert_int_equal(store_volume_resize(v.id, 20), 0);

	a = json_pack("{s:s, s:i, s:s, s:s}", "kind", "malware", "offset", 4096,
		      "signature", "Eicar", "time", "2026-01-01T00:00:00Z");
	assert_int_equal(store_alert_add("local", 7, tenant, v.id, a), 0);
	assert_int_equal(store_alert_add("local", 7, tenant, v.id, a), 0); /* seen: ignored */
	/* Another host's 7 is another alert. */
	assert_int_equal(store_alert_add("h-2", 7, tenant, v.id, a), 0);
	json_decref(a);
	a = json_pack("{s:s, s:i}", "kind", "device-lost", "device", 1);
	assert_int_equal(store_alert_add("local", 8, NULL, NULL, a), 0);
	json_decref(a);
	assert_int_equal(store_alert_last("local"), 8);
	assert_int_equal(store_alert_last("h-2"), 7);
	assert_int_equal(store_alert_last("h-3"), 0);
	l = store_alert_list(NULL, NULL, 10);
	assert_int_equal(json_array_size(l), 3);
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(l, 1), "offset")), 4096);
	assert_null(json_object_get(json_array_get(l, 0), "offset"));
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(l, 0), "device")), 1);
	json_decref(l);
}

/* Another cloudletd instance owns the operation, its lease ending in
 * until_ms from now. */
static void
give_away(const char *op, int64_t until_ms)
{
	assert_int_equal(db_run(db_prep("UPDATE operations SET owner = 'ci-other', "
					"lease_until = ? WHERE id = ?",
					"is", store_lease_now_ms() + until_ms, op)),
			 0);
}

static void
test_leases(void **state)
{
	json_t *un, *taken, *o = NULL;
	char op[STORE_ID_LEN];

	(void)state;
	assert_int_equal(vm_new("a", 1, NULL), 0);
	un = store_op_unfinished();
	snprintf(op, sizeof(op), "%s",
		 json_string_value(json_object_get(json_array_get(un, 0), "id")));
	json_decref(un);
	assert_int_equal(store_op_claim(op), 1); /* made by this instance */
	assert_int_equal(store_op_renew(), 0);

	give_away(op, 60000);
	assert_int_equal(store_op_claim(op), 0);
	taken = store_op_take_expired(0);
	assert_int_equal(json_array_size(taken), 0);
	json_decref(taken);
	/* Its progress from here is not ours to write. */
	assert_int_equal(store_op_update(op, "running", 50, "mine?", NULL), 0);
	assert_int_equal(store_op_get(NULL, op, &o), 0);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "pending");
	json_decref(o);

	/* The other instance died: its lease runs out; taken over once. */
	give_away(op, -1000);
	taken = store_op_take_expired(0);
	assert_int_equal(json_array_size(taken), 1);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(taken, 0), "id")), op);
	json_decref(taken);
	taken = store_op_take_expired(0);
	assert_int_equal(json_array_size(taken), 0);
	json_decref(taken);
	assert_int_equal(store_op_claim(op), 1);
	assert_int_equal(store_op_update(op, "succeeded", 100, "done", NULL), 0);
	assert_int_equal(store_op_claim(op), 0); /* ended */
	assert_int_equal(store_op_get(NULL, op, &o), 0);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "succeeded");
	json_decref(o);
}

/* Creates from several threads (each its own connection): the quota of 3
 * VMs holds exactly. */
static int ok_count;
static pthread_mutex_t ok_mtx = PTHREAD_MUTEX_INITIALIZER;

static void *
creator(void *arg)
{
	char name[16];
	int i;

	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "t%d-%d", (int)(intptr_t)arg, i);
		if (vm_new(name, 1, NULL) == 0) {
			pthread_mutex_lock(&ok_mtx);
			ok_count++;
			pthread_mutex_unlock(&ok_mtx);
		}
	}
	store_thread_done();
	return NULL;
}

static void
test_concurrent_quota(void **state)
{
	pthread_t th[6];
	json_t *l;
	int i;

	(void)state;
	ok_count = 0;
	for (i = 0; i < 6; i++)
		assert_int_equal(
		    pthread_create(&th[i], NULL, creator, (void *)(intptr_t)i), 0);
	for (i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(ok_count, 3);
	l = store_vm_list(tenant);
	assert_int_equal(json_array_size(l), 3);
	json_decref(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tenants_tokens_quota, setup,
					    testdb_teardown),
	    cmocka_unit_test_setup_teardown(test_vms_ops, setup, testdb_teardown),
	    cmocka_unit_test_setup_teardown(test_networks_rules, setup, testdb_teardown),
	    cmocka_unit_test_setup_teardown(test_volumes_alerts, setup, testdb_teardown),
	    cmocka_unit_test_setup_teardown(test_leases, setup, testdb_teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_quota, setup,
					    testdb_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
