/* image.c - see image.h */
#include "image.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "spec.h"
#include "util.h"

static char guest_dir[1024] = "build/guest";
static char upload_dir[512] = "/var/lib/cloudlet/daemon/images";

void
image_init(const char *dir)
{
	snprintf(guest_dir, sizeof(guest_dir), "%s", dir);
}

void
image_init_uploads(const char *dir)
{
	snprintf(upload_dir, sizeof(upload_dir), "%s", dir);
}

int
image_is_upload(const char *name)
{
	size_t i;

	if (strncmp(name, "img-", 4) != 0 || strlen(name) != 20)
		return 0;
	for (i = 4; i < 20; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return 1;
}

/* An uploaded image: only a regular file named after a valid id, directly
 * in the upload dir (cloudletd checked and scanned it; the name is all the
 * agent takes from the request). */
static int
find_upload(const char *name, struct image *out)
{
	struct stat st;

	memset(out, 0, sizeof(*out));
	if (util_fmt(out->disk, sizeof(out->disk), "%s/%s.raw", upload_dir, name) < 0 ||
	    lstat(out->disk, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
		return -ENOENT;
	snprintf(out->name, sizeof(out->name), "%s", name);
	/* an uploaded image never changes: its id names its content */
	snprintf(out->id, sizeof(out->id), "%s", name);
	out->min_disk_mib = ((uint64_t)st.st_size + (1 << 20) - 1) >> 20;
	out->no_template = 1;
	out->firmware = 1;
	return 0;
}

const char *
image_guest_dir(void)
{
	return guest_dir;
}

static json_t *
load_meta(const char *name)
{
	char path[1200];
	char err[8];
	json_t *j;

	/* Image names are identifiers: never let one walk out of the directory. */
	if (spec_check_name(name, err, sizeof(err)) < 0)
		return NULL;
	if (util_fmt(path, sizeof(path), "%s/images/%s/image.json", guest_dir, name) < 0)
		return NULL;
	j = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

int
image_find(const char *name, struct image *out)
{
	json_t *j;
	const char *id;
	json_t *min;

	if (image_is_upload(name))
		return find_upload(name, out);
	j = load_meta(name);
	if (j == NULL)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	id = json_string_value(json_object_get(j, "id"));
	snprintf(out->id, sizeof(out->id), "%s", id ? id : "");
	min = json_object_get(j, "min_disk_mib");
	out->min_disk_mib = json_is_integer(min) && json_integer_value(min) > 0
				    ? (uint64_t)json_integer_value(min)
				    : 0;
	out->no_template = json_is_false(json_object_get(j, "template"));
	min = json_object_get(j, "template_timeout_s");
	out->template_timeout_s = json_is_integer(min) && json_integer_value(min) > 0 &&
					  json_integer_value(min) <= 3600
				      ? (unsigned)json_integer_value(min)
				      : 0;
	json_decref(j);
	return 0;
}

int
image_lookup(const char *name, uint64_t *min_disk_mib)
{
	struct image im;
	int r = image_find(name, &im);

	if (r == 0)
		*min_disk_mib = im.min_disk_mib;
	return r;
}

json_t *
image_list(void)
{
	char path[1200];
	json_t *arr = json_array();
	struct dirent *de;
	DIR *d;

	if (util_fmt(path, sizeof(path), "%s/images", guest_dir) < 0)
		return arr;
	d = opendir(path);
	if (d == NULL)
		return arr;
	while ((de = readdir(d)) != NULL) {
		json_t *j;

		if (de->d_name[0] == '.')
			continue;
		j = load_meta(de->d_name);
		if (j != NULL)
			json_array_append_new(arr, j);
	}
	closedir(d);
	return arr;
}
