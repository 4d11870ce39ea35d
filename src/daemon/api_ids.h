/*
 * api_ids.h - intrusion detection in the API (docs/ids.md, api/openapi.yaml):
 * a tenant's settings (on or off, its own Suricata rules), the sensors'
 * status for its networks, and its alerts, pulled from every host.
 */
#ifndef CLOUDLET_API_IDS_H
#define CLOUDLET_API_IDS_H

struct http_req;
struct http_resp;

void api_ids_get(struct http_req *req, struct http_resp *resp);
void api_ids_put(struct http_req *req, struct http_resp *resp);
void api_ids_status(struct http_req *req, struct http_resp *resp);
void api_ids_alerts(struct http_req *req, struct http_resp *resp);
/* The rules the sensors skipped, with the reason (?tenant= for the
 * operator): [{network, sid, where, reason}]. */
void api_ids_skipped(struct http_req *req, struct http_resp *resp);

/* A tenant's suppressions (idssup.h; the operator names the tenant with
 * ?tenant=ID): list, add {sid, gid?, track?, ip?, expires? | ttl_s?},
 * delete. Each change goes to the tenant's hosts at once. */
void api_ids_sup_list(struct http_req *req, struct http_resp *resp);
void api_ids_sup_add(struct http_req *req, struct http_resp *resp);
void api_ids_sup_delete(struct http_req *req, struct http_resp *resp);

/* New alerts from every host that is up (the reconciliation pass). */
void api_ids_pull_alerts(void);

#endif
