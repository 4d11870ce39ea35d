/*
 * store.h - cloudletd's state: tenants, tokens, quotas, VMs, operations,
 * events.
 *
 * The interface the rest of the daemon sees. store.c implements it over
 * the database layer (db.h: SQLite in db_sqlite.c), with a schema version
 * and migrations (store_schema.c).
 *
 * Connections are per thread (opened on first use): readers never wait for
 * each other, writers serialize (db_begin(), db.h), and that is what keeps
 * quotas exact under concurrent creates.
 *
 * All functions return 0 or -errno: -ENOENT (no such row, or not visible to
 * that tenant), -EEXIST (unique name taken), -EDQUOT (quota),
 * -ENOTEMPTY (tenant has VMs), -EBUSY (VM has an operation in progress),
 * -EIO (database error, logged). json_t results are new references.
 */
#ifndef CLOUDLET_STORE_H
#define CLOUDLET_STORE_H

#include <jansson.h>
#include <stdint.h>

#define STORE_ID_LEN 24

struct quota {
	int64_t max_vcpus, max_memory_mib, max_disk_gib, max_vms;
};

struct vm_row {
	char id[STORE_ID_LEN];
	char tenant_id[STORE_ID_LEN];
	char name[64];
	char service[64];
	char image[64];
	int64_t vcpus, memory_mib, disk_gib;
	char *user_data; /* owned, may be NULL */
	char state[16];
	char host_id[STORE_ID_LEN]; /* where it runs (store_host.h); "" to place it */
	char group_name[64];        /* placement group, "" = none */
	char *ssh_keys;             /* owned JSON array of key lines, may be NULL */
	int anti_affinity;          /* never on a host with another VM of its group */
};

/* Open (creating and migrating) the database for this process: a
 * PostgreSQL URI (postgresql://... or postgres://..., store_is_url) or the
 * path of an SQLite file. */
int store_open(const char *target);
int store_is_url(const char *target);
/* Per-thread connection cleanup (optional; threads that exit call it). */
void store_thread_done(void);
int store_schema_version(void);

/* Tenants and tokens. tenant_id NULL = the operator. */
int store_tenant_create(const char *name, const struct quota *q, json_t **out);
int store_tenant_get(const char *id, json_t **out);
json_t *store_tenant_list(void);
int store_tenant_delete(const char *id);
int store_token_add(const char *tenant_id, const unsigned char hash[32], char *id_out,
		    json_t **out);
/* A token with a name and an expiry (unix seconds, 0: none). */
int store_token_add_named(const char *tenant_id, const unsigned char hash[32], const char *name,
			  int64_t expires_at, char *id_out, json_t **out);
/* A tenant's tokens (NULL: the operator's): id, name, created_at,
 * last_used, expires_at; never a hash. */
json_t *store_token_list(const char *tenant_id);
/* Revoke: the token is gone at once (tenant_id NULL: any token). */
int store_token_revoke(const char *tenant_id, const char *id);
/* Find a token by hash: *is_operator, tenant_id (empty for the operator)
 * and the hash as stored (for a constant-time comparison by the caller).
 * An expired token is not found; a found one's last_used is kept to the
 * minute. */
int store_token_find(const unsigned char hash[32], int *is_operator, char *tenant_id,
		     unsigned char stored[32]);
int store_operator_exists(void);

int store_quota_get(const char *tenant_id, json_t **out);
int store_quota_set(const char *tenant_id, const struct quota *q, json_t **out);

/*
 * Create a VM record (state "creating") and its create operation in one
 * transaction, after checking the name and the quota and placing it on a
 * host (vm->host_id, or placement when empty: -ENOSPC with the reason in
 * store_host_place_why()). The tenant's home host is set if it had none.
 */
int store_vm_create(const struct vm_row *vm, const char *op_id, json_t **op_out);

/* Get/list VMs; tenant_id NULL = any tenant (operator: with host_id). */
int store_vm_get(const char *tenant_id, const char *id, json_t **out);
int store_vm_row(const char *id, struct vm_row *out); /* any tenant; store_vm_row_free */
void store_vm_row_free(struct vm_row *row); /* its user_data and ssh_keys */
json_t *store_vm_list(const char *tenant_id);
char *store_vm_list_text(const char *tenant_id); /* JSON text, caller frees */
json_t *store_vm_list_all_ids(void);

/*
 * Start an operation on an existing VM (kind start/stop/reboot/reconfigure/
 * delete): refuses (-EBUSY) while another is pending or running. For
 * reconfigure, new_spec (vcpus/memory/disk) is checked against the quota and
 * stored in the record in the same transaction. For delete the VM goes to
 * state "deleting".
 */
int store_vm_op_begin(const char *tenant_id, const char *vm_id, const char *kind,
		      const char *op_id, const json_t *args, const int64_t *new_spec,
		      json_t **op_out);

/* Update a VM's live fields from the agent's view. */
int store_vm_set_state(const char *id, const char *state, const char *reason, int ready,
		       const char *accel, int restart_required);
int store_vm_set_provision(const char *id, const char *provision); /* clone | cold */
int store_vm_set_spec(const char *id, int64_t vcpus, int64_t memory_mib, int64_t disk_gib);
/* The same for reconciliation, from a host's list that may predate an
 * operation that ended since: written only while the record still holds
 * what `seen` (its row as read before the list was compared) holds, so a
 * stale list never undoes what an operation recorded. 1 written, 0 not. */
int store_vm_set_view_if(const char *id, const json_t *seen, const char *state,
			 const char *reason, int ready, const char *accel, int restart_required,
			 int64_t vcpus, int64_t memory_mib, int64_t disk_gib);
int store_vm_delete(const char *id);

/* Operations. */
int store_op_get(const char *tenant_id, const char *id, json_t **out);
int store_op_update(const char *id, const char *state, int progress, const char *message,
		    const char *error);
/*
 * How long the operation's steps took, in microseconds ({"api_us": ...},
 * ops.c), shown as its "timing".
 */
int store_op_set_timing(const char *id, const json_t *timing);
/* The arguments an operation was started with (NULL if none). */
int store_op_args(const char *id, json_t **args);
/* Ops still pending or running (for reconciliation). */
json_t *store_op_unfinished(void);
int store_vm_has_active_op(const char *vm_id);

/* Audit log. tenant_id may be NULL. */
void store_event(const char *actor, const char *tenant_id, const char *action,
		 const char *target, const char *outcome, const char *detail);
json_t *store_event_list(const char *tenant_id, int limit);

#endif
