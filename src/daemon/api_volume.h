/*
 * api_volume.h - the HTTP handlers for volumes and storage alerts
 * (api/openapi.yaml; routes in api.c's table), and the alert pull that
 * the reconciliation loop runs (ops.c).
 *
 * Volume operations are quick on the host (a volume is thin; snapshots and
 * clones copy no data), so they are synchronous: the record is made (name
 * and quota checked in one transaction), then the host volume; if the host
 * refuses, the record is removed. A volume's host name is its id.
 * Attach and detach change the VM's volume list on the host; a running VM
 * sees the change at its next start (restart_required), since microvm has
 * no hotplug.
 */
#ifndef CLOUDLET_API_VOLUME_H
#define CLOUDLET_API_VOLUME_H

#include "http.h"

void api_volume_list(struct http_req *req, struct http_resp *resp);
void api_volume_create(struct http_req *req, struct http_resp *resp);
void api_volume_get(struct http_req *req, struct http_resp *resp);
void api_volume_delete(struct http_req *req, struct http_resp *resp);
void api_volume_action(struct http_req *req, struct http_resp *resp);
void api_alert_list(struct http_req *req, struct http_resp *resp);

/* Copy the host's new alerts into the store (remembering the last seq),
 * each with the tenant of its volume. Quiet when the host has no storage. */
void api_volume_pull_alerts(void);

#endif
