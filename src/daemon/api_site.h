/*
 * api_site.h - /v1/site (operator only; api/openapi.yaml, docs/dr.md):
 * this site's role, epoch, link and the database's replication, and the
 * failover run at the standby.
 */
#ifndef CLOUDLET_API_SITE_H
#define CLOUDLET_API_SITE_H

struct http_req;
struct http_resp;

void api_site_get(struct http_req *req, struct http_resp *resp);
void api_site_failover(struct http_req *req, struct http_resp *resp);

#endif
