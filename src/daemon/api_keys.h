/*
 * api_keys.h - a tenant's SSH public keys (/v1/keys): add (checked by
 * parsing, src/common/sshkey.h), list, show, delete. A VM created with
 * "keys": [names] gets them in its seed.
 */
#ifndef CLOUDLET_API_KEYS_H
#define CLOUDLET_API_KEYS_H

struct http_req;
struct http_resp;

void api_key_list(struct http_req *req, struct http_resp *resp);
void api_key_add(struct http_req *req, struct http_resp *resp);
void api_key_get(struct http_req *req, struct http_resp *resp);
void api_key_delete(struct http_req *req, struct http_resp *resp);

#endif
