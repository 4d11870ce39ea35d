/*
 * agent.c - cloudlet-agent: the privileged host agent (serve) and its
 * operator CLI (ctl, in ctl.c).
 *
 * The agent is the only cloudlet process that runs as root. Root is kept
 * for: creating taps inside tenant network namespaces and attaching them to
 * bridges; making disk files owned by the VM user; spawning QEMU and then
 * dropping it to that user. QEMU itself never runs as root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "ctl.h"
#include "fwvm.h"
#include "ids.h"
#include "image.h"
#include "log.h"
#include "net.h"
#include "remote.h"
#include "join.h"
#include "tlsid.h"
#include "template.h"
#include "netstate.h"
#include "storage.h"
#include "util.h"
#include "replica.h"
#include "vm.h"

#ifndef CLOUDLET_GUEST_DIR
#define CLOUDLET_GUEST_DIR "/usr/local/share/cloudlet/guest"
#endif

static void
usage(void)
{
	fprintf(stderr,
		"usage: cloudlet-agent serve [--socket PATH] [--state-dir DIR] [--guest-dir DIR]\n"
		"                            [--qemu BIN] [--vm-user USER] [--accel auto|tcg|kvm]\n"
		"                            [--mem-overcommit RATIO] [--stop-timeout SECONDS]\n"
		"                            [--template-ram-dir DIR] [--auto-templates on|off]\n"
		"                            [--external-netns NAME] [--external-bridge NAME]\n"
		"                            [--name-prefix P]   (two agents on one machine)\n"
		"                            [--underlay-address IP [--underlay-netns NAME]]  (VXLAN)\n"
		"                            [--listen IP:PORT [--tls-dir DIR]]   (mutual TLS 1.3)\n"
		"                            [--storage-device PATH --storage-device PATH ...]\n"
		"                            [--storage-device-size SIZE] [--storage-user USER]\n"
		"                            [--storage-signatures DIR] [--storaged BIN]\n"
		"                            [--ids on|off] [--ids-rules DIR] [--ids-bin BIN]\n"
		"                            [--ids-user USER] [--upload-dir DIR] [-v]\n"
		"       cloudlet-agent ctl [--socket PATH] COMMAND ... (cloudlet-agent ctl help)\n"
		"       cloudlet-agent cert --dir DIR [--name CN]   (make or show a TLS identity)\n"
		"       cloudlet-agent pin --dir DIR FINGERPRINT    (the control plane it accepts)\n"
		"       cloudlet-agent join TOKEN|- --listen IP:PORT [--underlay-address IP]\n"
		"                           [--state-dir DIR] [--tls-dir DIR]   (join a control plane)\n");
	exit(2);
}

/* A helper program's default path: next to this binary (build/bin, or
 * the install directory). */
static const char *
helper_path(const char *program, char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 32);

	if (n > 0 && (buf[n] = '\0', strrchr(buf, '/') != NULL)) {
		snprintf(strrchr(buf, '/') + 1, 32, "%s", program);
		return buf;
	}
	snprintf(buf, len, "/usr/local/bin/%s", program);
	return buf;
}

static int
serve(int argc, char **argv)
{
	static struct agent_config cfg;
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"state-dir", required_argument, NULL, 'd'},
		{"guest-dir", required_argument, NULL, 'g'},
		{"qemu", required_argument, NULL, 'q'},
		{"vm-user", required_argument, NULL, 'u'},
		{"accel", required_argument, NULL, 'a'},
		{"mem-overcommit", required_argument, NULL, 'o'},
		{"stop-timeout", required_argument, NULL, 't'},
		{"template-ram-dir", required_argument, NULL, 'r'},
		{"auto-templates", required_argument, NULL, 'T'},
		{"external-netns", required_argument, NULL, 'X'},
		{"external-bridge", required_argument, NULL, 'B'},
		{"name-prefix", required_argument, NULL, 'N'},
		{"underlay-netns", required_argument, NULL, 'L'},
		{"listen", required_argument, NULL, 'l'},
		{"tls-dir", required_argument, NULL, 'C'},
		{"underlay-address", required_argument, NULL, 'A'},
		{"storage-device", required_argument, NULL, 'D'},
		{"storage-device-size", required_argument, NULL, 'Z'},
		{"storage-user", required_argument, NULL, 'U'},
		{"storage-signatures", required_argument, NULL, 'S'},
		{"storaged", required_argument, NULL, 'P'},
		{"ids", required_argument, NULL, 'I'},
		{"ids-rules", required_argument, NULL, 'R'},
		{"ids-bin", required_argument, NULL, 'b'},
		{"ids-user", required_argument, NULL, 'V'},
		{"upload-dir", required_argument, NULL, 'W'},
		{"verbose", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	const char *sock = "/run/cloudlet/agent.sock", *state = "/var/lib/cloudlet/agent";
	const char *guest = CLOUDLET_GUEST_DIR, *user = "cloudlet-vm";
	const char *listen_addr = NULL, *tls_dir = NULL;
	char tls_default[PATH_MAX];
	enum host_accel accel = ACCEL_AUTO;
	char real[PATH_MAX], sockdir[PATH_MAX];
	struct group *grp;
	int c, verbose = 0, lfd, r;
	char *end, errbuf[128], storaged[PATH_MAX];
	struct storage_config scfg = {.device_size = UINT64_C(8) << 30,
				      .user = "cloudlet-storage"};
	struct ids_config icfg = {.user = "cloudlet-ids"};
	char idsbin[PATH_MAX];

	cfg.mem_overcommit = 1.0;
	cfg.mem_reserve_mib = 512;
	cfg.stop_timeout_s = 30;
	cfg.auto_templates = 1;
	snprintf(cfg.template_ram_dir, sizeof(cfg.template_ram_dir), "/dev/shm");
	snprintf(cfg.ext_netns, sizeof(cfg.ext_netns), "cloudlet-ext");
	snprintf(cfg.ext_bridge, sizeof(cfg.ext_bridge), "clext0");
	snprintf(cfg.name_prefix, sizeof(cfg.name_prefix), "cl");
	snprintf(cfg.qemu_bin, sizeof(cfg.qemu_bin), "/usr/bin/qemu-system-x86_64");
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'd': state = optarg; break;
		case 'g': guest = optarg; break;
		case 'W': image_init_uploads(optarg); break; /* cloudletd's images/ */
		case 'u': user = optarg; break;
		case 'v': verbose = 1; break;
		case 'D':
			if (scfg.n_devices == STORAGE_DEVICES_MAX)
				usage();
			scfg.devices[scfg.n_devices++] = optarg;
			break;
		case 'Z':
			/* Bytes, or with a K, M, G or T suffix. */
			scfg.device_size = strtoull(optarg, &end, 10);
			if (end == optarg || scfg.device_size == 0 || scfg.device_size >= 1ULL << 44)
				usage();
			if (*end != '\0' && (end[1] != '\0' || strchr("KMGT", *end) == NULL))
				usage();
			if (*end != '\0')
				scfg.device_size <<= 10 * (strchr("KMGT", *end) - "KMGT" + 1);
			break;
		case 'U': scfg.user = optarg; break;
		case 'S': scfg.signatures = optarg; break;
		case 'P': scfg.bin = optarg; break;
		case 'I':
			if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0)
				usage();
			icfg.off = strcmp(optarg, "off") == 0;
			break;
		case 'R': icfg.rules = optarg; break;
		case 'b': icfg.bin = optarg; break;
		case 'V': icfg.user = optarg; break;
		case 'X':
			if (netstate_check_key(optarg, 31, errbuf, sizeof(errbuf)) < 0 ||
			    util_fmt(cfg.ext_netns, sizeof(cfg.ext_netns), "%s", optarg) < 0)
				usage();
			break;
		case 'B':
			if (netstate_check_key(optarg, 15, errbuf, sizeof(errbuf)) < 0 ||
			    util_fmt(cfg.ext_bridge, sizeof(cfg.ext_bridge), "%s", optarg) < 0)
				usage();
			break;
		case 'N':
			if (strlen(optarg) < 1 || strlen(optarg) > 2 ||
			    strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(optarg))
				usage();
			snprintf(cfg.name_prefix, sizeof(cfg.name_prefix), "%s", optarg);
			break;
		case 'l': listen_addr = optarg; break;
		case 'C': tls_dir = optarg; break;
		case 'L':
			if (netstate_check_key(optarg, 31, errbuf, sizeof(errbuf)) < 0 ||
			    util_fmt(cfg.underlay_netns, sizeof(cfg.underlay_netns), "%s", optarg) < 0)
				usage();
			break;
		case 'A': {
			struct net_cidr ua;

			if (netstate_parse_cidr(optarg, 0, 0, &ua) < 0 || ua.addr == 0 ||
			    util_fmt(cfg.underlay_address, sizeof(cfg.underlay_address), "%s", optarg) < 0)
				usage();
			break;
		}
		case 'q':
			snprintf(cfg.qemu_bin, sizeof(cfg.qemu_bin), "%s", optarg);
			break;
		case 'a':
			if (host_accel_parse(optarg, &accel) < 0)
				usage();
			break;
		case 'o':
			cfg.mem_overcommit = strtod(optarg, &end);
			if (*end != '\0' || cfg.mem_overcommit <= 0 || cfg.mem_overcommit > 100)
				usage();
			break;
		case 'r':
			if (util_fmt(cfg.template_ram_dir, sizeof(cfg.template_ram_dir), "%s",
				     optarg) < 0)
				usage();
			break;
		case 'T':
			if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0)
				usage();
			cfg.auto_templates = strcmp(optarg, "on") == 0;
			break;
		case 't':
			cfg.stop_timeout_s = (unsigned)strtoul(optarg, &end, 10);
			if (*end != '\0' || cfg.stop_timeout_s == 0)
				usage();
			break;
		default:
			usage();
		}
	}
	log_init("cloudlet-agent", verbose);
	signal(SIGPIPE, SIG_IGN);
	{
		/* Two descriptors per running VM (pidfd, event QMP): hundreds of
		 * VMs need more than the default soft limit of 1024. */
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}

	if (geteuid() != 0)
		log_warnx("not running as root: VMs run as this user and cannot have NICs");
	{
		struct passwd *pw = getpwnam(user);

		if (pw == NULL && geteuid() == 0) {
			log_warnx("no user '%s' for QEMU (make setup creates it)", user);
			return 1;
		}
		cfg.vm_uid = pw ? pw->pw_uid : geteuid();
		cfg.vm_gid = pw ? pw->pw_gid : getegid();
		if (geteuid() != 0) {
			cfg.vm_uid = geteuid();
			cfg.vm_gid = getegid();
		}
	}
	if ((r = util_mkdirs(state, 0711)) < 0 || realpath(state, real) == NULL) {
		log_warnx("state dir %s: %s", state, strerror(r < 0 ? -r : errno));
		return 1;
	}
	if (util_fmt(cfg.state_dir, sizeof(cfg.state_dir), "%s", real) < 0) {
		log_warnx("state dir path too long");
		return 1;
	}
	if (realpath(guest, real) == NULL) {
		log_warn("guest dir %s (run make guest)", guest);
		return 1;
	}
	if (util_fmt(cfg.guest_dir, sizeof(cfg.guest_dir), "%s", real) < 0) {
		log_warnx("guest dir path too long");
		return 1;
	}
	image_init(cfg.guest_dir);
	if ((r = host_probe(accel, &cfg.host)) < 0) {
		log_warnx("host probe: %s", strerror(-r));
		return 1;
	}
	log_info("host: %u cpus, %llu MiB, accelerator %s (%s)", cfg.host.cpus,
		 (unsigned long long)cfg.host.memory_mib, host_accel_name(cfg.host.accel),
		 cfg.host.accel_reason);

	snprintf(sockdir, sizeof(sockdir), "%s", sock);
	if (strrchr(sockdir, '/') != NULL) {
		*strrchr(sockdir, '/') = '\0';
		if (sockdir[0] != '\0')
			util_mkdirs(sockdir, 0755);
	}
	agent_config_set(&cfg); /* read-only from here on (config.h) */
	/* Networks first (VM NICs name them), applied once VMs are loaded
	 * (the anti-spoofing sets list VM ports). */
	if ((r = net_init(&cfg)) < 0) {
		log_warnx("cannot set up networks: %s", strerror(-r));
		return 1;
	}
	/* Storage before VMs: a VM's drives name its export socket. */
	if (scfg.bin == NULL)
		scfg.bin = helper_path("cloudlet-storaged", storaged, sizeof(storaged));
	scfg.state_dir = cfg.state_dir;
	if ((r = storage_init(&scfg)) < 0) {
		log_warnx("cannot start storage: %s", strerror(-r));
		return 1;
	}
	if ((r = vm_init(&cfg)) < 0) {
		log_warnx("cannot load VMs: %s", strerror(-r));
		return 1;
	}
	replica_init(); /* commits a restart interrupted, points never completed */
	if ((r = fwvm_init()) < 0) {
		log_warnx("cannot start the appliance layer: %s", strerror(-r));
		return 1;
	}
	net_apply_all();
	/* The sensor last: it is handed the networks as net has made them. */
	if (icfg.bin == NULL)
		icfg.bin = helper_path("cloudlet-ids", idsbin, sizeof(idsbin));
	icfg.state_dir = cfg.state_dir;
	if ((r = ids_init(&icfg)) < 0) {
		log_warnx("cannot start intrusion detection: %s", strerror(-r));
		return 1;
	}
	json_decref(template_gc()); /* templates made stale while we were away */
	grp = getgrnam("cloudlet");
	lfd = control_listen(sock, grp ? grp->gr_gid : (gid_t)-1);
	if (lfd < 0) {
		log_warnx("cannot listen on %s: %s", sock, strerror(-lfd));
		return 1;
	}
	if (listen_addr != NULL) {
		char err[512];

		if (tls_dir == NULL) {
			snprintf(tls_default, sizeof(tls_default), "%s/tls", cfg.state_dir);
			tls_dir = tls_default;
		}
		if ((r = remote_start(listen_addr, tls_dir, err, sizeof(err))) < 0) {
			log_warnx("%s", err);
			return 1;
		}
	}
	log_info("listening on %s, state in %s, images from %s", sock, cfg.state_dir,
		 cfg.guest_dir);
	control_serve(lfd);
	return 0;
}

/* cloudlet-agent cert --dir DIR [--name CN]: make the identity if it is
 * missing and print its fingerprint (what the other side pins). */
static int
cmd_cert(int argc, char **argv)
{
	const char *dir = NULL, *cn = "cloudlet-agent";
	char fpr[TLSID_FPR_LEN + 1], err[512];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--dir") == 0)
			dir = argv[i + 1];
		else if (strcmp(argv[i], "--name") == 0 && argv[i + 1][0] != '\0' &&
			 strlen(argv[i + 1]) < 64)
			cn = argv[i + 1];
		else
			usage();
	}
	if (dir == NULL || argc % 2 == 0)
		usage();
	if (tlsid_ensure(dir, cn, fpr, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return 1;
	}
	printf("%s\n", fpr);
	return 0;
}

/* cloudlet-agent pin --dir DIR FINGERPRINT: the one control plane
 * certificate the TLS listener accepts (docs/hosts.md). */
static int
cmd_pin(int argc, char **argv)
{
	char err[600];

	if (argc != 4 || strcmp(argv[1], "--dir") != 0)
		usage();
	if (tlsid_pin(argv[2], argv[3], err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "serve") == 0)
		return serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "ctl") == 0)
		return ctl_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "cert") == 0)
		return cmd_cert(argc - 1, argv + 1);
	if (strcmp(argv[1], "pin") == 0)
		return cmd_pin(argc - 1, argv + 1);
	if (strcmp(argv[1], "join") == 0)
		return join_main(argc - 1, argv + 1);
	usage();
}
