/*
 * api_host.h - the handlers of /v1/hosts (operator only; api/openapi.yaml):
 * list, show (capacity and use), add {name, socket, underlay_address},
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

#endif
