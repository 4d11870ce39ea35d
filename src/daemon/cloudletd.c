/*
 * cloudletd.c - the control plane: the HTTP API, tenants, quotas, the service
 * catalog and long operations, over an embedded SQLite store or a shared
 * PostgreSQL database (--store postgresql://...). It reaches the hosts
 * through their agents' unix sockets or over mutual TLS 1.3 with its own
 * identity (<state-dir>/tls, made at the first start; docs/hosts.md).
 *
 *   cloudletd init   [--state-dir DIR] [--store URL]  create the store, print the operator token
 *   cloudletd serve  [--listen ADDR:PORT] ...  serve the API
 *   cloudletd fingerprint [--state-dir DIR]    print its TLS certificate's fingerprint
 *   cloudletd pin [--state-dir DIR]            print its public key's pin (for HTTPS clients)
 *   cloudletd routes                          print the served routes (for the docs check)
 *
 * cloudletd never needs root. Started as root, it hands its state directory
 * to the unprivileged user (default "cloudlet", whose group may use the
 * agent's socket) and drops to it before it opens the store or a socket.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentc.h"
#include "api_host.h"
#include "store_host.h"
#include "api.h"
#include "auth.h"
#include "catalog.h"
#include "db.h"
#include "drrecover.h"
#include "drrepl.h"
#include "http.h"
#include "imgup.h"
#include "jointoken.h"
#include "log.h"
#include "ops.h"
#include "site.h"
#include "store.h"
#include "store_vpn.h"
#include "store_net.h"
#include "tlsid.h"
#include "util.h"

#ifndef CLOUDLET_CATALOG
#define CLOUDLET_CATALOG "/usr/local/share/cloudlet/services.json"
#endif

static const char *state_dir = "/var/lib/cloudlet/daemon";
static const char *run_user = "cloudlet";
/* A PostgreSQL URI (--store), NULL for SQLite in the state directory. It
 * may hold a password: never logged (db_pg.c logs the host and database). */
static const char *store_url;

static void
usage(void)
{
	fprintf(stderr,
		"usage: cloudletd init [--state-dir DIR] [--store postgresql://...] [--user USER]\n"
		"       cloudletd serve [--listen ADDR:PORT] [--state-dir DIR] [--agent-socket PATH]\n"
		"                       [--store postgresql://...]\n"
		"                       [--catalog FILE] [--user USER] [--threads N] [--workers N]\n"
		"                       [--default-quota VCPUS,MEMORY_MIB,DISK_GIB,VMS]\n"
		"                       [--external-pool CIDR] [--external-gateway IP] [-v]\n"
		"                       [--no-local-host] [--local-underlay IP]\n"
		"                       [--placement spread|pack]\n"
		"                       [--vcpu-overcommit N] [--advertise URL] [--tls]\n"
		"                       [--signatures DIR] [--scan-bin PATH]\n"
		"                       [--site-name NAME --site-role primary|standby\n"
		"                        --site-listen IP:PORT --site-peer IP:PORT\n"
		"                        --site-peer-fingerprint FPR [--site-lease-ms MS]\n"
		"                        [--replica-interval-ms MS] [--replica-lag-alert-ms MS]]\n"
		"       cloudletd fingerprint|pin [--state-dir DIR] [--user USER]\n"
		"       cloudletd routes\n");
	exit(2);
}

/* Make the state dir the run user's and become that user (when root). */
static int
drop_privileges(void)
{
	struct passwd *pw;
	char path[1024];
	const char *files[] = {"",		   "/cloudlet.db",  "/cloudlet.db-wal",
			       "/cloudlet.db-shm", "/tls",	    "/tls/key.pem",
			       "/tls/cert.pem"};
	size_t i;

	if (util_mkdirs(state_dir, 0700) < 0) {
		log_warn("state dir %s", state_dir);
		return -1;
	}
	if (geteuid() != 0)
		return 0;
	pw = getpwnam(run_user);
	if (pw == NULL) {
		log_warnx("no user '%s' (make setup creates it)", run_user);
		return -1;
	}
	for (i = 0; i < ARRAY_LEN(files); i++) {
		snprintf(path, sizeof(path), "%s%s", state_dir, files[i]);
		if (chown(path, pw->pw_uid, pw->pw_gid) < 0 && errno != ENOENT) {
			log_warn("chown %s", path);
			return -1;
		}
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setresgid(pw->pw_gid, pw->pw_gid,
								 pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		log_warn("cannot drop to user %s", run_user);
		return -1;
	}
	return 0;
}

static int
open_store(void)
{
	char path[1024];
	int r;

	if (store_url != NULL) {
		if ((r = store_open(store_url)) < 0)
			log_warnx("cannot open the PostgreSQL store: %s", strerror(-r));
		return r;
	}
	if (util_fmt(path, sizeof(path), "%s/cloudlet.db", state_dir) < 0)
		return -ENAMETOOLONG;
	if ((r = store_open(path)) < 0)
		log_warnx("cannot open the store %s: %s", path, strerror(-r));
	return r;
}

/* --store: a PostgreSQL URI (a path is the state directory's business). */
static void
set_store(const char *url)
{
	if (!store_is_url(url)) {
		fprintf(stderr, "cloudletd: --store takes a postgresql:// or postgres:// URI\n");
		exit(2);
	}
	store_url = url;
}

/*
 * cloudletd's TLS identity for agents (<state-dir>/tls: key 0600 and a
 * self-signed certificate, made once): what join tokens carry and agents
 * pin. Run after drop_privileges, so the files are the run user's.
 */
static int
identity(char *dir, size_t dlen, char *fpr)
{
	char err[512];

	if (util_fmt(dir, dlen, "%s/tls", state_dir) < 0)
		return -ENAMETOOLONG;
	if (tlsid_ensure(dir, "cloudletd", fpr, err, sizeof(err)) < 0) {
		log_warnx("TLS identity: %s", err);
		return -EIO;
	}
	return 0;
}

/* The options of init and fingerprint: --state-dir, --user. */
static void
dir_user_opts(int argc, char **argv)
{
	static const struct option opts[] = {{"state-dir", required_argument, NULL, 'd'},
					     {"user", required_argument, NULL, 'u'},
					     {"store", required_argument, NULL, 's'},
					     {NULL, 0, NULL, 0}};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd')
			state_dir = optarg;
		else if (c == 's')
			set_store(optarg);
		else if (c == 'u')
			run_user = optarg;
		else
			usage();
	}
}

/*
 * cloudletd fingerprint: print the identity's fingerprint (made if
 * missing); cloudletd pin: its public key's pin, what a client of the API
 * served with --tls pins (CLOUDLET_PIN for the CLI).
 */
static int
cmd_fingerprint(int argc, char **argv, int pin)
{
	char dir[1100], fpr[TLSID_FPR_LEN + 1], p[JOIN_PIN_LEN + 1];

	dir_user_opts(argc, argv);
	log_init("cloudletd", 0);
	if (drop_privileges() < 0 || identity(dir, sizeof(dir), fpr) < 0)
		return 1;
	if (pin && tlsid_spki_pin(dir, p, sizeof(p)) < 0)
		return 1;
	printf("%s\n", pin ? p : fpr);
	return 0;
}

static int
cmd_init(int argc, char **argv)
{
	char token[AUTH_TOKEN_LEN + 1], id[STORE_ID_LEN];
	unsigned char hash[32];

	dir_user_opts(argc, argv);
	if (drop_privileges() < 0 || open_store() < 0 || auth_init() < 0)
		return 1;
	if (store_operator_exists()) {
		fprintf(stderr, "cloudletd: %s is already initialized (its operator token was "
				"printed then)\n",
			store_url ? "the PostgreSQL store" : state_dir);
		return 1;
	}
	auth_token_new(token, hash);
	if (store_token_add(NULL, hash, id, NULL) < 0)
		return 1;
	store_event("cloudletd", NULL, "init", state_dir, "succeeded", "operator token issued");
	printf("%s\n", token);
	return 0;
}

static int
parse_quota(const char *s, struct quota *q)
{
	long long v[4];
	char tail;

	if (sscanf(s, "%lld,%lld,%lld,%lld%c", &v[0], &v[1], &v[2], &v[3], &tail) != 4 ||
	    v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
		return -1;
	q->max_vcpus = v[0];
	q->max_memory_mib = v[1];
	q->max_disk_gib = v[2];
	q->max_vms = v[3];
	return 0;
}

/* What serve starts once this control plane may write (at once, or after
 * a failover when it starts as a standby): the host local, reconciliation,
 * the workers. */
static struct {
	const char *agent, *local_underlay;
	int no_local;
	unsigned workers;
	struct drrepl_conf repl;
} writer;

static void
start_writing(void)
{
	int r;

	/* The host local is one cloudletd's own agent: in a pair, whose
	 * database is shared, each site's hosts are added with their site. */
	if (!writer.no_local && site_role() == SITE_ALONE &&
	    store_host_ensure_local(writer.agent, writer.local_underlay) < 0)
		log_warnx("cannot record the host local");
	/* After a failover: the lost site's VMs are started here from their
	 * replicas first (reconciliation would take a record moved here before
	 * its VM is for a VM that is lost), then waited for until ready. */
	if (site_role() != SITE_ALONE && (r = drrecover_run()) > 0)
		log_info("recovery: %d VMs started from their replicas", r);
	/* Repair drift before taking requests; the agent may still be starting. */
	for (r = 0; r < 50 && ops_reconcile(1) < 0; r++)
		usleep(200000);
	if (r == 50)
		log_warnx("the agent at %s does not answer; reconciling when it does", writer.agent);
	if ((r = ops_start(writer.workers)) < 0)
		log_warnx("cannot start the workers: %s", strerror(-r));
	if (site_role() != SITE_ALONE)
		drrepl_start(&writer.repl); /* this site's VMs to the other's hosts */
}

static int
cmd_serve(int argc, char **argv)
{
	const char *listen = "127.0.0.1:8470", *catalog = CLOUDLET_CATALOG;
	const char *pool = "198.18.0.0/24", *gateway = "";
	const char *agent = "/run/cloudlet/agent.sock", *local_underlay = "";
	const char *advertise = NULL;
	char tls_dir[1100], fpr[TLSID_FPR_LEN + 1], url[300], pin[JOIN_PIN_LEN + 1] = "";
	struct in_addr ul;
	unsigned threads = 4, workers = 4, vcpu_oc = 16;
	enum place_policy placement = PLACE_SPREAD;
	char err[512];
	int c, verbose = 0, r, no_local = 0, tls = 0;
	struct site_conf site = {0};
	enum site_role role;
	unsigned lease_ms = 0;

	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"tls", no_argument, NULL, 'T'},
		{"state-dir", required_argument, NULL, 'd'},
		{"agent-socket", required_argument, NULL, 'a'},
		{"catalog", required_argument, NULL, 'c'},
		{"user", required_argument, NULL, 'u'},
		{"threads", required_argument, NULL, 't'},
		{"workers", required_argument, NULL, 'w'},
		{"default-quota", required_argument, NULL, 'q'},
		{"external-pool", required_argument, NULL, 'P'},
		{"external-gateway", required_argument, NULL, 'G'},
		{"verbose", no_argument, NULL, 'v'},
		{"no-local-host", no_argument, NULL, 'N'},
		{"local-underlay", required_argument, NULL, 'U'},
		{"placement", required_argument, NULL, 'p'},
		{"vcpu-overcommit", required_argument, NULL, 'o'},
		{"advertise", required_argument, NULL, 'A'},
		{"store", required_argument, NULL, 's'},
		{"signatures", required_argument, NULL, 'S'},
		{"scan-bin", required_argument, NULL, 'B'},
		{"site-name", required_argument, NULL, 1},
		{"site-role", required_argument, NULL, 2},
		{"site-listen", required_argument, NULL, 3},
		{"site-peer", required_argument, NULL, 4},
		{"site-peer-fingerprint", required_argument, NULL, 5},
		{"site-lease-ms", required_argument, NULL, 6},
		{"replica-interval-ms", required_argument, NULL, 7},
		{"replica-lag-alert-ms", required_argument, NULL, 8},
		{NULL, 0, NULL, 0}};
	/* Uploaded images (imgup.h): scanned by cloudlet-scan, by default the
	 * one beside this program, with the operator's signatures. */
	const char *sigdir = "/etc/cloudlet/signatures";
	char scan_bin[600] = "cloudlet-scan", self[512];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (sl > 0) {
		self[sl] = '\0';
		if (strrchr(self, '/') != NULL)
			strrchr(self, '/')[1] = '\0';
		snprintf(scan_bin, sizeof(scan_bin), "%scloudlet-scan", self);
	}
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen = optarg; break;
		case 'd': state_dir = optarg; break;
		case 'a': agent = optarg; break;
		case 'c': catalog = optarg; break;
		case 'u': run_user = optarg; break;
		case 's': set_store(optarg); break;
		case 'v': verbose = 1; break;
		case 't':
			if (util_parse_uint(optarg, 1024, &threads) < 0)
				usage();
			break;
		case 'w':
			if (util_parse_uint(optarg, 1024, &workers) < 0)
				usage();
			break;
		case 'q':
			if (parse_quota(optarg, &api_default_quota) < 0)
				usage();
			break;
		case 'P': pool = optarg; break;
		case 'G': gateway = optarg; break;
		case 'N': no_local = 1; break;
		case 'A': advertise = optarg; break;
		case 'T': tls = 1; break;
		case 'S': sigdir = optarg; break;
		case 'B': snprintf(scan_bin, sizeof(scan_bin), "%s", optarg); break;
		case 1: site.name = optarg; break;
		case 2: site.role = optarg; break;
		case 3: site.listen = optarg; break;
		case 4: site.peer = optarg; break;
		case 5: site.peer_fpr = optarg; break;
		case 6:
			if (util_parse_uint(optarg, 600000, &lease_ms) < 0 || lease_ms < 1000)
				usage();
			break;
		case 7:
			if (util_parse_uint(optarg, 3600000, &writer.repl.interval_ms) < 0 ||
			    writer.repl.interval_ms < 100)
				usage();
			break;
		case 8:
			if (util_parse_uint(optarg, 3600000, &writer.repl.lag_alert_ms) < 0 ||
			    writer.repl.lag_alert_ms < 100)
				usage();
			break;
		case 'U':
			if (inet_pton(AF_INET, optarg, &ul) != 1)
				usage();
			local_underlay = optarg;
			break;
		case 'p':
			if (strcmp(optarg, "spread") == 0)
				placement = PLACE_SPREAD;
			else if (strcmp(optarg, "pack") == 0)
				placement = PLACE_PACK;
			else
				usage();
			break;
		case 'o':
			if (util_parse_uint(optarg, 1024, &vcpu_oc) < 0 || vcpu_oc == 0)
				usage();
			break;
		default: usage();
		}
	}
	if (threads == 0 || threads > 64 || workers == 0 || workers > 64)
		usage();
	log_init("cloudletd", verbose);
	signal(SIGPIPE, SIG_IGN);
	if (store_net_set_pool(pool, gateway) < 0) {
		log_warnx("--external-pool must be a network /8 to /29 and --external-gateway an "
			  "address in it");
		return 2;
	}
	if (catalog_load(catalog, err, sizeof(err)) < 0) {
		log_warnx("service catalog: %s", err);
		return 1;
	}
	if (drop_privileges() < 0 || open_store() < 0 || auth_init() < 0)
		return 1;
	if (!store_operator_exists()) {
		log_warnx("%s is not initialized: run cloudletd init first",
			  store_url ? "the PostgreSQL store" : state_dir);
		return 1;
	}
	{
		char idir[600];

		if (util_fmt(idir, sizeof(idir), "%s/images", state_dir) < 0 ||
		    imgup_init(idir, sigdir, scan_bin) < 0) {
			log_warn("image dir %s/images", state_dir);
			return 1;
		}
	}
	agentc_init(agent);
	store_vpn_set_dir(state_dir); /* the VPN gateways' private keys (store_vpn.h) */
	if (identity(tls_dir, sizeof(tls_dir), fpr) < 0 ||
	    agentc_init_tls(tls_dir, err, sizeof(err)) < 0) {
		log_warnx("cannot load the TLS identity in %s", tls_dir);
		return 1;
	}
	/* Join tokens name the API as agents reach it; when it serves HTTPS
	 * (with the same identity) they carry its key's pin. */
	if (tls && tlsid_spki_pin(tls_dir, pin, sizeof(pin)) < 0) {
		log_warnx("cannot read the certificate in %s", tls_dir);
		return 1;
	}
	if (util_fmt(url, sizeof(url), "%s%s", advertise ? "" : tls ? "https://" : "http://",
		     advertise ? advertise : listen) < 0 ||
	    api_host_set_identity(url, fpr, strncmp(url, "https://", 8) == 0 ? pin : NULL) < 0) {
		log_warnx("--advertise: an http:// or https:// URL, not '%s'", url);
		return 2;
	}
	log_info("control plane certificate fingerprint %s (agents pin it; API for joining "
		 "hosts %s)",
		 fpr, url);
	store_host_set_policy(placement, vcpu_oc);
	/* A site of a disaster-recovery pair (docs/dr.md): a standby (its
	 * database a hot standby) serves reads only and starts its workers
	 * when it takes over; a primary refuses writes without its lease. */
	site.tls_dir = tls_dir;
	site.state_dir = state_dir;
	site.lease_ms = lease_ms;
	if (site.peer != NULL && store_url == NULL) {
		log_warnx("a site of a pair needs the PostgreSQL store (--store)");
		return 2;
	}
	writer.agent = agent;
	writer.local_underlay = local_underlay;
	writer.no_local = no_local;
	writer.workers = workers;
	site_on_demoted(drrecover_fence);
	/* A site of a pair runs its VMs on its site's hosts: known before
	 * site_start, which may start writing at once (an unpaired primary). */
	if (site.peer != NULL && site.name != NULL)
		store_host_set_site(site.name);
	if (site_start(&site, start_writing, err, sizeof(err)) < 0) {
		log_warnx("site: %s", err);
		return 2;
	}
	role = site_role();
	if (role != SITE_ALONE)
		http_write_gate = site_writable;
	if ((role == SITE_STANDBY || role == SITE_PROMOTING) && db_standby() != 1)
		log_warnx("site: this site is %s but its database is not a hot standby",
			  site_role_name(role));
	if (role == SITE_ALONE)
		start_writing();
	else
		log_info("site: %s; the workers start once it may write", site_role_name(role));
	if ((r = http_start(listen, threads, tls ? tls_dir : NULL)) < 0) {
		log_warnx("cannot serve on %s: %s", listen, strerror(-r));
		return 1;
	}
	for (;;)
		pause();
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "fingerprint") == 0 || strcmp(argv[1], "pin") == 0)
		return cmd_fingerprint(argc - 1, argv + 1, strcmp(argv[1], "pin") == 0);
	if (strcmp(argv[1], "routes") == 0) {
		for (i = 0; i < api_nroutes; i++)
			printf("%s %s\n", api_routes[i].method, api_routes[i].path);
		return 0;
	}
	usage();
}
