/*
 * api_host.h - the handlers of /v1/hosts (operator only; api/openapi.yaml):
 * list, show (capacity and use), add {name, socket, underlay_address},
 * or {name, address, fingerprint, underlay_address} (a host over TLS),
 * drain / undrain (no new VMs), remove (refused while it holds VMs).
 */
#ifndef CLOUDLET_API_HOST_H
#define CLOUDLET_API_HOST_H

struct http_req;
struct http_resp;

void api_host_list(struct http_req *req, struct http_resp *resp);
void api_host_get(struct http_req *req, struct http_resp *resp);
void api_host_add(struct http_req *req, struct http_resp *resp);
void api_host_action(struct http_req *req, struct http_resp *resp);
void api_host_remove(struct http_req *req, struct http_resp *resp);

/* Join tokens (operator) and joining (no bearer token: the token's secret
 * is the proof); docs/hosts.md. */
void api_host_token_create(struct http_req *req, struct http_resp *resp);
void api_host_token_list(struct http_req *req, struct http_resp *resp);
void api_host_token_delete(struct http_req *req, struct http_resp *resp);
void api_host_join(struct http_req *req, struct http_resp *resp);
/* What tokens carry: the API's URL as agents reach it, cloudletd's
 * certificate fingerprint, and for an https URL served by cloudletd itself
 * (--tls) its public key's pin (NULL: none). 0, or -EINVAL for a URL a
 * token cannot hold. */
int api_host_set_identity(const char *url, const char *fingerprint, const char *pin);

#endif
