/*
 * store_keys.h - a tenant's SSH public keys (/v1/keys, docs/guest.md): the
 * keys a VM is created with reach it through its seed (ssh_keys of the
 * VM's spec). A key is checked (src/common/sshkey.h) before it is stored;
 * its name is unique per tenant. Same conventions as store.h.
 */
#ifndef CLOUDLET_STORE_KEYS_H
#define CLOUDLET_STORE_KEYS_H

#include <jansson.h>
#include <stdint.h>

struct key_row {
	char tenant_id[24];
	char name[64];
	char type[32];
	int64_t bits;
	char fingerprint[64]; /* "SHA256:" and the unpadded base64, as ssh-keygen -l */
	const char *public_key; /* the line as given, trimmed */
};

/* -EEXIST for a name taken; *out the stored key. */
int store_key_add(const struct key_row *k, json_t **out);
/* A key by id or name, of that tenant. */
int store_key_get(const char *tenant_id, const char *id_or_name, json_t **out);
json_t *store_key_list(const char *tenant_id);
int store_key_delete(const char *tenant_id, const char *id);
/*
 * The key lines of names (ids or names of the tenant's keys) as a JSON
 * array; -ENOENT with the first unknown one in missing (64 bytes).
 */
int store_keys_lines(const char *tenant_id, const json_t *names, json_t **lines,
		     char *missing);

#endif
