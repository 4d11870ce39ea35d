/*
 * api_migrate.h - moving VMs between hosts through the API (operator;
 * docs/migration.md): one VM (POST /v1/vms/{id}/migrate), or every VM of a
 * host before maintenance (POST /v1/hosts/{id}/evacuate); a move in
 * progress is cancelled with DELETE /v1/vms/{id}/migrate. Each move is an
 * operation of kind "migrate" run by opmigrate.c.
 */
#ifndef CLOUDLET_API_MIGRATE_H
#define CLOUDLET_API_MIGRATE_H

struct http_req;
struct http_resp;

void api_vm_migrate(struct http_req *req, struct http_resp *resp);
/* DELETE /v1/vms/{id}/migrate: cancel the move in progress (its source
 * stops sending; the VM stays where it was, the destination is cleaned). */
void api_vm_migrate_cancel(struct http_req *req, struct http_resp *resp);
void api_host_evacuate(struct http_req *req, struct http_resp *resp);

#endif
