/* api_ids.c - see api_ids.h */
#define _GNU_SOURCE
#include "api_ids.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agentc.h"
#include "api.h"
#include "http.h"
#include "idssup.h"
#include "jsonv.h"
#include "log.h"
#include "netplan.h"
#include "pull.h"
#include "request.h"
#include "store_host.h"
#include "store_ids.h"

/* The tenant a request is about: its own, or the operator's ?tenant=ID.
 * NULL with the answer made if there is none. */
static const char *
tenant_of(struct http_req *req, struct http_resp *resp)
{
	const char *t = req->who.is_operator ? http_query(req, "tenant") : req->who.tenant_id;

	if (t == NULL || strlen(t) >= STORE_ID_LEN) {
		http_error(resp, 400, "bad_request", "the operator names a tenant: ?tenant=ID");
		return NULL;
	}
	return t;
}

void
api_ids_get(struct http_req *req, struct http_resp *resp)
{
	const char *t = tenant_of(req, resp);

	if (t != NULL && store_ids_get(t, &resp->json) < 0)
		http_error(resp, 404, "not_found", "no such tenant");
}

void
api_ids_put(struct http_req *req, struct http_resp *resp)
{
	static const char *const fields[] = {"enabled", "custom_rules", NULL};
	const char *t = req->who.tenant_id, *rules = NULL;
	json_t *j, *en, *cr;
	char err[300];

	if (api_body(req, resp, &j) < 0)
		return;
	en = json_object_get(j, "enabled");
	cr = json_object_get(j, "custom_rules");
	if (jsonv_only_fields(j, fields, err, sizeof(err)) < 0 || json_object_size(j) == 0) {
		http_error(resp, 400, "bad_request", "%s",
			   json_object_size(j) ? err : "give enabled and/or custom_rules");
		goto out;
	}
	if (en != NULL && !json_is_boolean(en)) {
		http_error(resp, 400, "bad_request", "enabled must be true or false");
		goto out;
	}
	if (cr != NULL && (!json_is_string(cr) || json_string_length(cr) > IDS_RULES_MAX ||
			   strlen(json_string_value(cr)) != json_string_length(cr))) {
		http_error(resp, 400, "bad_request",
			   "custom_rules must be Suricata rule text of at most %d bytes",
			   IDS_RULES_MAX);
		goto out;
	}
	rules = cr ? json_string_value(cr) : NULL;
	if (store_ids_set(t, en ? json_is_true(en) : -1, rules) < 0) {
		http_error(resp, 500, "internal", "the state store failed");
		goto out;
	}
	/* To the tenant's hosts now; one that does not answer gets it with
	 * the next reconciliation. The sensor checks the rules: what it
	 * skipped and why is in GET /v1/ids/status. */
	if (netplan_sync(t, err, sizeof(err)) < 0) {
		log_info("ids: tenant %s: settings stored, hosts not all reached: %s", t, err);
		netplan_mark_dirty();
	}
	store_ids_get(t, &resp->json);
	store_event(req->who.actor, t, "ids.set", t, "succeeded",
		    en ? (json_is_true(en) ? "enabled" : "disabled") : "rules");
out:
	json_decref(j);
}

void
api_ids_sup_list(struct http_req *req, struct http_resp *resp)
{
	const char *t = tenant_of(req, resp);

	if (t != NULL)
		resp->json = store_ids_sup_list(t, 0, 0);
}

/* After a change: the tenant's hosts get the list now, or at the next
 * reconciliation. */
static void
sup_sync(const char *t)
{
	char err[256];

	if (netplan_sync(t, err, sizeof(err)) < 0) {
		log_info("ids: tenant %s: suppressions stored, hosts not all reached: %s", t, err);
		netplan_mark_dirty();
	}
}

/* The tenant's suppression id as the list shows it (NULL if gone). */
static json_t *
sup_find(const char *t, const char *id)
{
	json_t *all = store_ids_sup_list(t, 0, 0), *e, *found = NULL;
	size_t i;

	json_array_foreach(all, i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "id")) ?: "", id) == 0)
			found = json_incref(e);
	}
	json_decref(all);
	return found;
}

void
api_ids_sup_add(struct http_req *req, struct http_resp *resp)
{
	const char *t = tenant_of(req, resp);
	json_t *j = NULL, *ttl;
	char err[300], id[STORE_ID_LEN];
	int r;

	if (t == NULL || api_body(req, resp, &j) < 0)
		return;
	/* ttl_s: a convenience for expires (now + ttl_s). */
	if ((ttl = json_object_get(j, "ttl_s")) != NULL) {
		if (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
		    json_integer_value(ttl) > 10LL * 366 * 86400 ||
		    json_object_get(j, "expires") != NULL) {
			http_error(resp, 400, "bad_request",
				   "ttl_s: seconds from 1 to 10 years, not with expires");
			goto out;
		}
		json_object_set_new(j, "expires",
				    json_integer((json_int_t)time(NULL) + json_integer_value(ttl)));
		json_object_del(j, "ttl_s");
	}
	if (idssup_check(j, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s", err);
		goto out;
	}
	if ((r = store_ids_sup_add(t, j, id)) < 0) {
		if (r == -ENOENT)
			http_error(resp, 404, "not_found", "no such tenant");
		else if (r == -ENOSPC)
			http_error(resp, 409, "conflict", "at most %d suppressions per tenant",
				   IDSSUP_MAX);
		else
			http_error(resp, 500, "internal", "the state store failed");
		goto out;
	}
	sup_sync(t);
	store_event(req->who.actor, t, "ids.suppress.add", id, "succeeded", "");
	resp->status = 201;
	resp->json = sup_find(t, id);
out:
	json_decref(j);
}

void
api_ids_sup_delete(struct http_req *req, struct http_resp *resp)
{
	const char *t = tenant_of(req, resp);

	if (t == NULL)
		return;
	if (store_ids_sup_delete(t, req->id) < 0) {
		http_error(resp, 404, "not_found", "no such suppression");
		return;
	}
	sup_sync(t);
	store_event(req->who.actor, t, "ids.suppress.delete", req->id, "succeeded", "");
	resp->status = 204;
}

/* The rules the sensors skipped for the tenant's networks, with the
 * reason, from each host it is applied on (the same network on two hosts
 * loads the same rules: listed once). */
void
api_ids_skipped(struct http_req *req, struct http_resp *resp)
{
	const char *t = tenant_of(req, resp);
	json_t *hosts, *h, *seen;
	char code[32], err[256];
	size_t i, k;

	if (t == NULL)
		return;
	hosts = store_tenant_applied_hosts(t);
	seen = json_object();
	resp->json = json_array();
	json_array_foreach(hosts, i, h)
	{
		json_t *list = NULL, *r;

		if (agentc_call_timeout(json_string_value(h), "ids.skipped",
					json_pack("{s:s, s:i}", "tenant", t, "max", 1000), &list, code,
					err, sizeof(err), 5000) < 0)
			continue;
		json_array_foreach(list, k, r)
		{
			char key[200];

			snprintf(key, sizeof(key), "%s/%lld/%s",
				 json_string_value(json_object_get(r, "network")) ?: "",
				 (long long)json_integer_value(json_object_get(r, "sid")),
				 json_string_value(json_object_get(r, "where")) ?: "");
			if (json_object_get(seen, key) != NULL)
				continue;
			json_object_set_new(seen, key, json_true());
			json_array_append_new(resp->json,
					      json_pack("{s:O*, s:O*, s:O*, s:O*}", "network",
							json_object_get(r, "network"), "sid",
							json_object_get(r, "sid"), "where",
							json_object_get(r, "where"), "reason",
							json_object_get(r, "reason")));
		}
		json_decref(list);
	}
	json_decref(seen);
	json_decref(hosts);
}

/* Each of the hosts' ids.status for the tenant (NULL: all). */
void
api_ids_status(struct http_req *req, struct http_resp *resp)
{
	const char *t = req->who.is_operator ? http_query(req, "tenant") : req->who.tenant_id;
	json_t *hosts = t ? store_tenant_applied_hosts(t) : NULL, *all = NULL, *h, *nets;
	char code[32], err[256];
	size_t i, k;

	if (t != NULL && strlen(t) >= STORE_ID_LEN) {
		http_error(resp, 400, "bad_request", "tenant must be a tenant id");
		goto out;
	}
	if (hosts == NULL) { /* the operator: every host */
		json_t *list = store_host_list();

		hosts = json_array();
		json_array_foreach(list, i, h) json_array_append(hosts, json_object_get(h, "id"));
		json_decref(list);
	}
	nets = json_array();
	resp->json = json_pack("{s:o}", "networks", nets);
	json_array_foreach(hosts, i, h) {
		json_t *st = NULL, *n;
		const char *hid = json_string_value(h);

		if (agentc_call_timeout(hid, "ids.status", t ? json_pack("{s:s}", "tenant", t) : NULL,
					&st, code, err, sizeof(err), 2000) < 0)
			continue;
		if (!json_is_true(json_object_get(st, "enabled"))) {
			json_decref(st);
			continue;
		}
		json_array_foreach(json_object_get(st, "networks"), k, n) {
			json_t *o = json_pack("{s:O*, s:O*, s:O*, s:O*}", "tenant",
					      json_object_get(n, "tenant"), "network",
					      json_object_get(n, "network"), "capture",
					      json_object_get(n, "capture"), "stats",
					      json_object_get(n, "stats"));

			if (o != NULL && req->who.is_operator)
				json_object_set_new(o, "host_id", json_string(hid));
			json_array_append_new(nets, o);
		}
		json_decref(st);
	}
	if (t != NULL && store_ids_get(t, &all) == 0) {
		json_object_set(resp->json, "enabled", json_object_get(all, "enabled"));
		json_decref(all);
	}
out:
	json_decref(hosts);
}

void
api_ids_alerts(struct http_req *req, struct http_resp *resp)
{
	struct ids_filter f = {0};
	const char *vm = http_query(req, "vm");

	if (req_query_int(http_query(req, "limit"), 1, 1000, 100, &f.limit) < 0 ||
	    req_query_int(http_query(req, "sid"), 0, INT64_C(1) << 32, 0, &f.sid) < 0 ||
	    req_query_int(http_query(req, "severity"), 0, 255, 0, &f.severity) < 0 ||
	    req_query_int(http_query(req, "before"), 0, INT64_MAX, 0, &f.before) < 0) {
		http_error(resp, 400, "bad_request",
			   "limit 1..1000, sid, severity (at most, 1 the highest) and before "
			   "(a seq, for the next page) are integers");
		return;
	}
	if (vm != NULL && strlen(vm) >= STORE_ID_LEN) {
		http_error(resp, 400, "bad_request", "vm must be a VM id");
		return;
	}
	f.tenant_id = req->who.is_operator ? http_query(req, "tenant") : req->who.tenant_id;
	if (f.tenant_id != NULL && strlen(f.tenant_id) >= STORE_ID_LEN) {
		http_error(resp, 400, "bad_request", "tenant must be a tenant id");
		return;
	}
	f.vm_id = vm;
	f.with_host = req->who.is_operator;
	resp->json = store_ids_alert_list(&f);
}

static void
add_alert(const char *host, int64_t seq, const json_t *eve)
{
	store_ids_alert_add(host, seq, eve);
}

void
api_ids_pull_alerts(void)
{
	static const struct pull_src src = {"ids.alerts", 1000, store_ids_alert_last, add_alert};

	pull_all_hosts(&src);
}
