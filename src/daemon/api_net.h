/*
 * api_net.h - the HTTP handlers for networks, firewall rules, external
 * addresses and port forwards (api/openapi.yaml; routes in api.c's table).
 * Every object is the calling tenant's: another tenant's id answers 404.
 * Each change is stored, then the tenant's whole network state is sent to
 * the host agent (netplan.h); if the agent refuses it the change is undone.
 */
#ifndef CLOUDLET_API_NET_H
#define CLOUDLET_API_NET_H

#include "http.h"

void api_net_list(struct http_req *req, struct http_resp *resp);
void api_net_create(struct http_req *req, struct http_resp *resp);
void api_net_get(struct http_req *req, struct http_resp *resp);
void api_net_delete(struct http_req *req, struct http_resp *resp);
void api_rule_list(struct http_req *req, struct http_resp *resp);
void api_rule_create(struct http_req *req, struct http_resp *resp);
void api_rule_delete(struct http_req *req, struct http_resp *resp);
void api_fw_get(struct http_req *req, struct http_resp *resp);
void api_fw_put(struct http_req *req, struct http_resp *resp);
void api_addr_list(struct http_req *req, struct http_resp *resp);
void api_addr_create(struct http_req *req, struct http_resp *resp);
void api_addr_get(struct http_req *req, struct http_resp *resp);
void api_addr_put(struct http_req *req, struct http_resp *resp);
void api_addr_delete(struct http_req *req, struct http_resp *resp);
void api_fwd_list(struct http_req *req, struct http_resp *resp);
void api_fwd_create(struct http_req *req, struct http_resp *resp);
void api_fwd_delete(struct http_req *req, struct http_resp *resp);

#endif
