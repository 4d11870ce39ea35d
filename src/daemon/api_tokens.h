/*
 * api_tokens.h - API tokens a tenant manages (/v1/tokens): named, with an
 * optional expiry, listed with when they were last used (never a secret),
 * revoked at once. The operator does the same for any tenant (?tenant=ID,
 * "tenant" in the body) and for its own tokens.
 */
#ifndef CLOUDLET_API_TOKENS_H
#define CLOUDLET_API_TOKENS_H

struct http_req;
struct http_resp;

void api_token_list(struct http_req *req, struct http_resp *resp);
void api_token_create(struct http_req *req, struct http_resp *resp);
void api_token_revoke(struct http_req *req, struct http_resp *resp);

#endif
