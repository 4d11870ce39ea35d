/*
 * api_images.h - disk images a tenant uploads (docs/images.md):
 * POST /v1/images?name=NAME (the body is the image, streamed to a file as
 * it arrives, never held in memory), GET /v1/images (the host's images and
 * the tenant's uploaded ones), GET and DELETE /v1/images/{id}. An upload is
 * checked by imgup.h before it is kept; a refused one leaves nothing.
 */
#ifndef CLOUDLET_API_IMAGES_H
#define CLOUDLET_API_IMAGES_H

#include <stddef.h>
#include <stdint.h>

struct http_req;
struct http_resp;
struct principal;

/*
 * Called by http.c when the headers of POST /v1/images have arrived, before
 * any of the body: checks the name and the room left in the tenant's quota
 * and opens the upload file. Returns its descriptor with its path (pathlen)
 * and the most bytes the body may have in *limit; or -1 with resp filled.
 */
int api_image_begin(const struct principal *who, const char *name, uint64_t length,
		    int has_length, char *path, size_t pathlen, uint64_t *limit,
		    struct http_resp *resp);

void api_image_upload(struct http_req *req, struct http_resp *resp);
void api_image_get(struct http_req *req, struct http_resp *resp);
void api_image_delete(struct http_req *req, struct http_resp *resp);
/* The tenant's uploaded images as entries of GET /v1/images (new array). */
void *api_image_entries(const char *tenant_id);

#endif
