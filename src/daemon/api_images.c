/* api_images.c - see api_images.h */
#define _GNU_SOURCE
#include "api_images.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "db.h"
#include "http.h"
#include "imgup.h"
#include "request.h"
#include "store.h"
#include "store_images.h"
#include "util.h"

/* A qcow2 file is a little larger than the data it holds (its tables). */
#define METADATA_SLACK (64u << 20)

int
api_image_begin(const struct principal *who, const char *name, uint64_t length,
		int has_length, char *path, size_t pathlen, uint64_t *limit,
		struct http_resp *resp)
{
	char err[256];
	json_t *old = NULL;
	int64_t room = 0;
	int fd;

	if (who->is_operator) {
		http_error(resp, 403, "forbidden",
			   "this needs a tenant's token: the tenant comes from the token");
		return -1;
	}
	if (name == NULL || req_check_name("name", name, err, sizeof(err)) < 0) {
		http_error(resp, 400, "bad_request", "%s",
			   name == NULL ? "the image's name is the query parameter name" : err);
		return -1;
	}
	if (store_image_get(who->tenant_id, name, &old) == 0) {
		json_decref(old);
		http_error(resp, 409, "conflict", "an image with that name already exists");
		return -1;
	}
	if (store_image_room(who->tenant_id, &room) < 0) {
		http_error(resp, 500, "internal", "the state store failed");
		return -1;
	}
	*limit = (uint64_t)room + METADATA_SLACK;
	if (room <= 0 || (has_length && length > *limit)) {
		http_error(resp, 413, "over_quota",
			   "the image (%llu bytes) is over the tenant's quota: %lld bytes left "
			   "of max_disk_gib",
			   has_length ? (unsigned long long)length : 0ULL, (long long)room);
		return -1;
	}
	if ((fd = imgup_temp(path, pathlen)) < 0) {
		http_error(resp, 500, "internal", "cannot store the upload: %s", strerror(-fd));
		return -1;
	}
	return fd;
}

void
api_image_upload(struct http_req *req, struct http_resp *resp)
{
	char id[STORE_ID_LEN], final[700], err[400], format[8] = "";
	const char *name = http_query(req, "name");
	int64_t room = 0, vsize = 0;
	int status = 500, r;

	if (req->upload_path == NULL) {
		http_error(resp, 500, "internal", "no upload");
		return;
	}
	if (req->upload_too_large) {
		http_error(resp, 413, "over_quota",
			   "the image is larger than the tenant's quota allows (more than %llu "
			   "bytes)",
			   (unsigned long long)req->upload_limit);
		goto refused;
	}
	if ((r = db_new_id("img-", id)) < 0 || store_image_room(req->who.tenant_id, &room) < 0 ||
	    util_fmt(final, sizeof(final), "%s/%s.raw", imgup_dir(), id) < 0) {
		http_error(resp, 500, "internal", "the state store failed");
		goto refused;
	}
	if (imgup_check(req->upload_path, room, final, format, &vsize, &status, err,
			sizeof(err)) < 0) {
		http_error(resp, status,
			   status == 413   ? "over_quota"
			   : status == 422 ? "malware_found"
			   : status == 400 ? "bad_image"
					   : "internal",
			   "%s", err);
		goto refused;
	}
	r = store_image_add(req->who.tenant_id, id, name, format, vsize, &resp->json);
	if (r < 0) {
		unlink(final);
		if (r == -EEXIST)
			http_error(resp, 409, "conflict", "an image with that name already exists");
		else if (r == -EDQUOT)
			http_error(resp, 413, "over_quota", "the image no longer fits the quota");
		else
			http_error(resp, 500, "internal", "the state store failed");
		goto refused;
	}
	resp->status = 201;
	snprintf(err, sizeof(err), "%s, %lld bytes virtual", format, (long long)vsize);
	store_event(req->who.actor, req->who.tenant_id, "image.upload", name, "succeeded", err);
	return;
refused:
	unlink(req->upload_path);
	store_event(req->who.actor, req->who.tenant_id, "image.upload", name ? name : "?",
		    "denied", "refused");
}

void
api_image_get(struct http_req *req, struct http_resp *resp)
{
	if (req->who.is_operator ||
	    store_image_get(req->who.tenant_id, req->id, &resp->json) < 0)
		http_error(resp, 404, "not_found", "no such image");
}

void
api_image_delete(struct http_req *req, struct http_resp *resp)
{
	char id[STORE_ID_LEN], path[700];

	if (req->who.is_operator || store_image_delete(req->who.tenant_id, req->id, id) < 0) {
		http_error(resp, 404, "not_found", "no such image");
		return;
	}
	if (util_fmt(path, sizeof(path), "%s/%s.raw", imgup_dir(), id) == 0)
		unlink(path);
	store_event(req->who.actor, req->who.tenant_id, "image.delete", id, "succeeded", "");
	resp->status = 204;
}

void *
api_image_entries(const char *tenant_id)
{
	json_t *list = store_image_list(tenant_id), *im, *out = json_array();
	char desc[128];
	size_t i;

	json_array_foreach(list, i, im) {
		snprintf(desc, sizeof(desc), "uploaded (%s, %lld bytes virtual)",
			 json_string_value(json_object_get(im, "source_format")) ?: "?",
			 (long long)json_integer_value(json_object_get(im, "virtual_size")));
		json_object_set_new(im, "description", json_string(desc));
		json_object_set_new(im, "ports", json_array());
		json_array_append(out, im);
	}
	json_decref(list);
	return out;
}
