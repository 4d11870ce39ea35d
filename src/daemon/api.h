/*
 * api.h - the handlers of the HTTP API (api/openapi.yaml is the reference;
 * tests/integration/t_api_routes.sh checks that this table and that file
 * list the same routes).
 */
#ifndef CLOUDLET_API_H
#define CLOUDLET_API_H

#include "store.h"

/* The quota a new tenant starts with (set by cloudletd from its options). */
extern struct quota api_default_quota;

struct http_req;
struct http_resp;
/* The request's body as a JSON object (new reference): 0, or -1 with a 400
 * already set on resp. Shared by every handler file. */
int api_body(struct http_req *req, struct http_resp *resp, json_t **j);

#endif
