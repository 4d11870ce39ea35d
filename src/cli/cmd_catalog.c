/*
 * cmd_catalog.c - what every token may read: the service catalog, the
 * guest images, the audit log.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "table.h"
#include "util.h"

static long long
num(const json_t *obj, const char *key)
{
	return (long long)json_integer_value(json_object_get(obj, key));
}

/* ["80/tcp", "443/tcp"] as "80/tcp,443/tcp". */
static void
add_ports(struct table *t, const json_t *ports)
{
	struct strv s = {0};
	const json_t *p;
	char *joined;
	size_t i;

	json_array_foreach(ports, i, p)
	{
		if (json_is_string(p))
			strv_add(&s, json_string_value(p));
	}
	joined = strv_join(&s);
	if (joined != NULL) {
		for (i = 0; joined[i] != '\0'; i++)
			if (joined[i] == ' ')
				joined[i] = ',';
	}
	table_add(t, joined);
	free(joined);
	strv_free(&s);
}

/* A range as "1-4", or the single value when min == max. */
static void
range(char *buf, size_t len, const json_t *r)
{
	long long lo = num(r, "min"), hi = num(r, "max");

	if (lo == hi)
		snprintf(buf, len, "%lld", lo);
	else
		snprintf(buf, len, "%lld-%lld", lo, hi);
}

static void
show_services(const json_t *list)
{
	const json_t *s;
	struct table t;
	size_t i;

	table_init(&t, 6);
	table_add(&t, "ID");
	table_add(&t, "NAME");
	table_add(&t, "IMAGE");
	table_add(&t, "DEFAULT(CPU/MEM/DISK)");
	table_add(&t, "BOUNDS(CPU/MEM/DISK)");
	table_add(&t, "PORTS");
	json_array_foreach(list, i, s)
	{
		const json_t *d = json_object_get(s, "defaults"),
			     *b = json_object_get(s, "bounds");
		char cpu[48], mem[48], disk[48];

		table_add(&t, json_string_value(json_object_get(s, "id")));
		table_add(&t, json_string_value(json_object_get(s, "name")));
		table_add(&t, json_string_value(json_object_get(s, "image")));
		table_addf(&t, "%lld/%lldM/%lldG", num(d, "vcpus"), num(d, "memory_mib"),
			   num(d, "disk_gib"));
		range(cpu, sizeof(cpu), json_object_get(b, "vcpus"));
		range(mem, sizeof(mem), json_object_get(b, "memory_mib"));
		range(disk, sizeof(disk), json_object_get(b, "disk_gib"));
		table_addf(&t, "%s/%sM/%sG", cpu, mem, disk);
		add_ports(&t, json_object_get(s, "ports"));
	}
	table_print(&t, stdout);
	table_free(&t);
}

int
cmd_service_list(struct cli *c, int argc, char **argv)
{
	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	return cli_get_show(c, "/v1/services", show_services);
}

static void
show_images(const json_t *list)
{
	const json_t *im;
	struct table t;
	size_t i;

	table_init(&t, 4);
	table_add(&t, "NAME");
	table_add(&t, "MIN_DISK_MIB");
	table_add(&t, "PORTS");
	table_add(&t, "DESCRIPTION");
	json_array_foreach(list, i, im)
	{
		char buf[32];

		table_add(&t, json_string_value(json_object_get(im, "name")));
		table_add(&t, table_value(json_object_get(im, "min_disk_mib"), buf,
					  sizeof(buf)));
		add_ports(&t, json_object_get(im, "ports"));
		table_add(&t, json_string_value(json_object_get(im, "description")));
	}
	table_print(&t, stdout);
	table_free(&t);
}

int
cmd_image_list(struct cli *c, int argc, char **argv)
{
	if (args_parse(argc, argv, NULL, 0, NULL, 0) < 0)
		return CLI_USAGE;
	return cli_get_show(c, "/v1/images", show_images);
}

static void
show_events(const json_t *list)
{
	static const char *const cols[] = {"time",   "actor",	"action",
					   "target", "outcome", "detail"};
	const json_t *e;
	struct table t;
	size_t i, k;

	table_init(&t, ARRAY_LEN(cols));
	table_add(&t, "TIME");
	table_add(&t, "ACTOR");
	table_add(&t, "ACTION");
	table_add(&t, "TARGET");
	table_add(&t, "OUTCOME");
	table_add(&t, "DETAIL");
	json_array_foreach(list, i, e)
	{
		for (k = 0; k < ARRAY_LEN(cols); k++)
			table_add(&t, json_string_value(json_object_get(e, cols[k])));
	}
	table_print(&t, stdout);
	table_free(&t);
}

int
cmd_events(struct cli *c, int argc, char **argv)
{
	struct arg_opt o[] = {{"--limit", ARG_UINT}};
	char path[64];

	if (args_parse(argc, argv, o, ARRAY_LEN(o), NULL, 0) < 0)
		return CLI_USAGE;
	if (o[0].seen)
		snprintf(path, sizeof(path), "/v1/events?limit=%lld", o[0].num);
	else
		snprintf(path, sizeof(path), "/v1/events");
	return cli_get_show(c, path, show_events);
}
