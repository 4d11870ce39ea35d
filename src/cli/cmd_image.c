/* cmd_image.c - see cmd_image.h */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cmd_image.h"
#include "table.h"

int
cmd_image_upload(struct cli *c, int argc, char **argv)
{
	char path[API_PATH_MAX];
	const char *pos[2];
	json_t *out = NULL;
	struct stat st;
	FILE *f;
	int r;

	if (args_parse(argc, argv, NULL, 0, pos, 2) < 0)
		return CLI_USAGE;
	if ((f = fopen(pos[1], "rb")) == NULL || fstat(fileno(f), &st) < 0 ||
	    !S_ISREG(st.st_mode)) {
		fprintf(stderr, "error: %s: %s\n", pos[1],
			f == NULL ? strerror(errno) : "not a regular file");
		if (f != NULL)
			fclose(f);
		return CLI_FAIL;
	}
	if (cli_path(c, path, sizeof(path), "/v1/images?name=", pos[0], NULL) < 0) {
		fclose(f);
		return CLI_FAIL;
	}
	r = api_upload(&c->api, path, f, (long long)st.st_size, &out);
	fclose(f);
	if (r < 0)
		return CLI_FAIL;
	if (c->json)
		table_print_json(out, stdout);
	else
		printf("uploaded image %s (%s, %s format, %lld bytes virtual)\n",
		       json_string_value(json_object_get(out, "name")) ?: pos[0],
		       json_string_value(json_object_get(out, "id")) ?: "?",
		       json_string_value(json_object_get(out, "source_format")) ?: "?",
		       (long long)json_integer_value(json_object_get(out, "virtual_size")));
	json_decref(out);
	return CLI_OK;
}

int
cmd_image_delete(struct cli *c, int argc, char **argv)
{
	char path[API_PATH_MAX];
	const char *ref;
	json_t *j = NULL;

	if (args_parse(argc, argv, NULL, 0, &ref, 1) < 0)
		return CLI_USAGE;
	if (cli_path(c, path, sizeof(path), "/v1/images/", ref, NULL) < 0)
		return CLI_FAIL;
	if (api_json(&c->api, "DELETE", path, NULL, &j) < 0)
		return CLI_FAIL;
	json_decref(j);
	printf("deleted image %s\n", ref);
	return CLI_OK;
}
