/*
 * api_vpn.h - a tenant's VPN channels (/v1/vpn, api/openapi.yaml; how
 * they work: docs/networks.md "VPN channels"): create, list, show,
 * delete; a channel's peers: add (with the customer's public key, or a
 * pair made here whose private key is in that one response only), list
 * with the gateway's counters, show, revoke, and the wg-quick config.
 * Another tenant's ids answer 404.
 */
#ifndef CLOUDLET_API_VPN_H
#define CLOUDLET_API_VPN_H

struct http_req;
struct http_resp;

void api_vpn_list(struct http_req *req, struct http_resp *resp);
void api_vpn_create(struct http_req *req, struct http_resp *resp);
void api_vpn_get(struct http_req *req, struct http_resp *resp);
void api_vpn_delete(struct http_req *req, struct http_resp *resp);
void api_vpn_peer_list(struct http_req *req, struct http_resp *resp);
void api_vpn_peer_add(struct http_req *req, struct http_resp *resp);
void api_vpn_peer_get(struct http_req *req, struct http_resp *resp);
void api_vpn_peer_delete(struct http_req *req, struct http_resp *resp);
void api_vpn_peer_config(struct http_req *req, struct http_resp *resp);

#endif
