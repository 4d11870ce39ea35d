/*
 * ids.c - cloudlet-ids, the intrusion detection sensor (docs/ids.md).
 *
 *   cloudlet-ids pcap --tenant-config FILE.json [--rules DIR]... --eve OUT.json
 *                [--iface NAME] [--summary] IN.pcap
 *   cloudlet-ids rules (--tenant-config FILE.json | --home-net CIDR) [--rules DIR]...
 *                [--list-skipped N]
 *   cloudlet-ids serve --control SOCK --eve FILE [--stats-interval S] [--user USER]
 *                [--no-seccomp] [-v]
 *
 * pcap reads a capture file offline (tests, the benchmark); rules loads a
 * rule set and prints what loaded and what was skipped, by reason; serve
 * is the long-running sensor the agent hands capture sockets to
 * (serve.c, control.h for the protocol).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mpm.h"
#include "sensor.h"
#include "serve.h"
#include "util.h"

static const char usage[] =
	"usage: cloudlet-ids pcap --tenant-config FILE.json [--rules DIR]... --eve OUT.json\n"
	"                        [--iface NAME] [--summary] IN.pcap\n"
	"       cloudlet-ids rules (--tenant-config FILE.json | --home-net CIDR) [--rules DIR]...\n"
	"                        [--list-skipped N]\n"
	"       cloudlet-ids serve --control SOCK --eve FILE [--stats-interval SECONDS]\n"
	"                        [--user USER] [--no-seccomp] [-v]\n";

#define MAX_DIRS 8

struct opts {
	const char *cfg, *eve, *iface, *input, *home, *control, *user;
	const char *dirs[MAX_DIRS];
	int ndirs, summary, verbose, no_seccomp;
	long list_skipped, stats_interval;
};

static int
parse(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->stats_interval = 60;
	o->list_skipped = -1;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned u;

		if (strcmp(a, "--summary") == 0) {
			o->summary = 1;
			continue;
		}
		if (strcmp(a, "-v") == 0) {
			o->verbose = 1;
			continue;
		}
		if (strcmp(a, "--no-seccomp") == 0) {
			o->no_seccomp = 1;
			continue;
		}
		if (a[0] != '-') {
			if (o->input)
				return -EINVAL;
			o->input = a;
			continue;
		}
		if (!v)
			return -EINVAL;
		i++;
		if (strcmp(a, "--tenant-config") == 0)
			o->cfg = v;
		else if (strcmp(a, "--eve") == 0)
			o->eve = v;
		else if (strcmp(a, "--iface") == 0)
			o->iface = v;
		else if (strcmp(a, "--home-net") == 0)
			o->home = v;
		else if (strcmp(a, "--control") == 0)
			o->control = v;
		else if (strcmp(a, "--user") == 0)
			o->user = v;
		else if (strcmp(a, "--rules") == 0 && o->ndirs < MAX_DIRS)
			o->dirs[o->ndirs++] = v;
		else if (strcmp(a, "--list-skipped") == 0 && util_parse_uint(v, 1000000, &u) == 0)
			o->list_skipped = u;
		else if (strcmp(a, "--stats-interval") == 0 && util_parse_uint(v, 86400, &u) == 0)
			o->stats_interval = u;
		else
			return -EINVAL;
	}
	return 0;
}

/* The tenant configuration, with --rules directories added. */
static json_t *
load_config(const struct opts *o)
{
	json_t *j, *dirs;
	json_error_t e;

	if (o->cfg) {
		j = json_load_file(o->cfg, JSON_REJECT_DUPLICATES, &e);
		if (!j) {
			log_warnx("%s:%d: %s", o->cfg, e.line, e.text);
			return NULL;
		}
	} else if (o->home) {
		j = json_pack("{s:s,s:s,s:[s]}", "tenant_id", "local", "network_id", "local", "home_net",
			      o->home);
	} else {
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	dirs = json_object_get(j, "rule_dirs");
	if (!dirs && o->ndirs) {
		dirs = json_array();
		json_object_set_new(j, "rule_dirs", dirs);
	}
	for (int i = 0; i < o->ndirs; i++) {
		char *abs = realpath(o->dirs[i], NULL);

		json_array_append_new(dirs, json_string(abs ? abs : o->dirs[i]));
		free(abs);
	}
	return j;
}

static long
vm_kib(const char *field)
{
	char *text;
	size_t len;
	long v = -1;

	if (util_read_file("/proc/self/status", 1 << 16, &text, &len) == 0) {
		char *p = strstr(text, field);

		if (p)
			v = strtol(p + strlen(field), NULL, 10);
		free(text);
	}
	return v;
}

static const char *pcap_iface = "pcap";

static const char *
iface_name(void *arg, uint32_t ifid)
{
	(void)arg;
	(void)ifid;
	return pcap_iface;
}

static int
cmd_pcap(const struct opts *o)
{
	struct sensor s;
	struct net *n;
	json_t *cfg, *summary = NULL;
	char err[512] = "", perr[PCAP_ERRBUF_SIZE];
	pcap_t *pc;
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t t0, t1, pkts = 0;
	struct timespec a, b, ca, cb;
	int r;

	if (!o->eve || !o->input || !(cfg = load_config(o))) {
		fputs(usage, stderr);
		return 2;
	}
	if (o->iface)
		pcap_iface = o->iface;
	if (sensor_init(&s, o->eve, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		json_decref(cfg);
		return 1;
	}
	s.iface_name = iface_name;
	t0 = util_now_ms();
	if (sensor_net_set(&s, cfg, &summary, err, sizeof(err)) < 0) {
		log_warnx("tenant configuration: %s", err);
		json_decref(cfg);
		sensor_finish(&s);
		return 1;
	}
	t1 = util_now_ms();
	json_decref(cfg);
	n = s.nets;
	pc = pcap_open_offline_with_tstamp_precision(o->input, PCAP_TSTAMP_PRECISION_MICRO, perr);
	if (!pc) {
		log_warnx("%s", perr);
		json_decref(summary);
		sensor_finish(&s);
		return 1;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		log_warnx("%s: not an Ethernet capture", o->input);
		pcap_close(pc);
		json_decref(summary);
		sensor_finish(&s);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ca);
	while ((r = pcap_next_ex(pc, &h, &data)) == 1) {
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec;

		sensor_packet(&s, n, 1, data, h->caplen, h->len, ts);
		sensor_tick(&s, ts);
		pkts++;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (r == -1)
		log_warnx("%s: %s", o->input, pcap_geterr(pc));
	pcap_close(pc);
	{
		double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		double cpu = (double)(cb.tv_sec - ca.tv_sec) + (double)(cb.tv_nsec - ca.tv_nsec) / 1e9;
		json_t *st = sensor_net_stats(n);
		unsigned live, hits;
		size_t bytes;

		mpm_cache_stats(&live, &hits, &bytes);
		if (o->summary) {
			/* pps: per wall second; cpu_pps: per second of this
			 * thread's CPU time (steadier on a shared machine) */
			json_t *out = json_pack("{s:O,s:O,s:I,s:f,s:f,s:f,s:f,s:I,s:I,s:I}", "rules",
						summary, "stats", st, "packets", (json_int_t)pkts,
						"seconds", secs, "pps", secs > 0 ? (double)pkts / secs : 0.0,
						"cpu_seconds", cpu, "cpu_pps",
						cpu > 0 ? (double)pkts / cpu : 0.0,
						"rule_load_ms", (json_int_t)(t1 - t0), "rss_kib",
						(json_int_t)vm_kib("VmHWM:"), "hyperscan_bytes",
						(json_int_t)bytes);

			json_dumpf(out, stdout, JSON_COMPACT);
			putchar('\n');
			json_decref(out);
		}
		log_info("%llu packets in %.3f s, %llu alerts, rules %lld loaded / %lld skipped",
			 (unsigned long long)pkts, secs, (unsigned long long)n->st.alerts,
			 json_integer_value(json_object_get(summary, "loaded")),
			 json_integer_value(json_object_get(summary, "skipped")));
		json_decref(st);
	}
	json_decref(summary);
	sensor_finish(&s);
	return 0;
}

static int
cmd_rules(const struct opts *o)
{
	struct sensor s;
	json_t *cfg, *summary = NULL;
	char err[512] = "";
	uint64_t t0;

	if (!(cfg = load_config(o))) {
		fputs(usage, stderr);
		return 2;
	}
	if (sensor_init(&s, "/dev/null", err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		json_decref(cfg);
		return 1;
	}
	t0 = util_now_ms();
	if (sensor_net_set(&s, cfg, &summary, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		json_decref(cfg);
		sensor_finish(&s);
		return 1;
	}
	json_object_set_new(summary, "wall_ms", json_integer((json_int_t)(util_now_ms() - t0)));
	json_object_set_new(summary, "rss_kib", json_integer(vm_kib("VmHWM:")));
	if (o->list_skipped >= 0)
		json_object_set_new(summary, "skipped_rules",
				    sensor_skip_list(s.nets, (size_t)o->list_skipped));
	json_dumpf(summary, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(summary);
	json_decref(cfg);
	sensor_finish(&s);
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;

	log_init("cloudlet-ids", 0);
	if (argc < 2 || parse(argc, argv, &o) < 0) {
		fputs(usage, stderr);
		return 2;
	}
	log_init("cloudlet-ids", o.verbose);
	if (strcmp(argv[1], "pcap") == 0)
		return cmd_pcap(&o);
	if (strcmp(argv[1], "rules") == 0)
		return cmd_rules(&o);
	if (strcmp(argv[1], "serve") == 0) {
		struct serve_opts so = {o.control, o.eve, o.user, (unsigned)o.stats_interval,
					!o.no_seccomp};

		if (!o.control || !o.eve) {
			fputs(usage, stderr);
			return 2;
		}
		return serve_main(&so);
	}
	fputs(usage, stderr);
	return 2;
}
