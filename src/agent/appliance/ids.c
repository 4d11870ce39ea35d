/* ids.c - see ids.h: the sensor process, the tenant networks it is handed,
 * its alerts */
#define _GNU_SOURCE
#include "ids.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fwvm.h"
#include "helper.h"
#include "idstail.h"
#include "jsonv.h"
#include "log.h"
#include "msg.h"
#include "net.h"
#include "netns.h"
#include "util.h"

#define DIRTY_MAX 64
#define SENSOR_ID_MAX 64 /* the sensor's limit on a network id */
#define CALL_TIMEOUT_MS 120000 /* a large rule set compiles for seconds */

/* Filled by ids_init, read-only after it. */
static struct {
	int enabled;
	char bin[PATH_MAX], user[64], rules[PATH_MAX], dir[PATH_MAX];
	char sock[PATH_MAX + 16], eve[PATH_MAX + 16], pos[PATH_MAX + 16];
	char pidfile[PATH_MAX + 16], logfile[PATH_MAX + 16], marker[PATH_MAX + 32];
	uint64_t memcap;
} conf;
static const struct helper hp = {"cloudlet-ids", conf.marker, conf.pidfile, conf.logfile};

/* A network the sensor holds: written by the worker under mtx, read by it
 * without (it is the only writer) and by ids_status under mtx. */
struct held {
	struct held *next;
	char sid[SENSOR_ID_MAX + 1];
	char tenant[NET_TENANT_MAX + 1], net[NET_ID_MAX + 1];
	int64_t capture_id; /* 0: none */
	int ifindex;        /* of the captured bridge; -1: adopted, not known */
	char *sent;         /* the configuration it accepted last (worker only) */
};

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static char dirty[DIRTY_MAX][NET_TENANT_MAX + 1];
static size_t n_dirty;
static int dirty_all;
static int reload_all; /* every network.set again (ids.reload) */
static uint64_t retry_at; /* worker only: a failed step is tried again then */
static pid_t sensor_pid;
static unsigned restarts;
static struct held *held;

void
ids_tenant_changed(const char *tenant)
{
	size_t i;

	if (!conf.enabled)
		return;
	pthread_mutex_lock(&mtx);
	for (i = 0; i < n_dirty && strcmp(dirty[i], tenant) != 0; i++)
		;
	if (i == n_dirty) {
		if (n_dirty < DIRTY_MAX)
			snprintf(dirty[n_dirty++], sizeof(dirty[0]), "%s", tenant);
		else
			dirty_all = 1;
	}
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&mtx);
}

/* ---- talking to the sensor (docs/ids.md, "Control protocol") ---------- */

/*
 * One request on a connection of its own (args consumed): 0 with *result
 * (new reference, may be NULL), -errno when the sensor cannot be reached,
 * -EIO with the sensor's message in err.
 */
static int
sensor_call(const char *op, json_t *args, int fd, json_t **result, char *err, size_t errlen)
{
	json_t *req = json_pack("{s:s, s:o}", "op", op, "args", args ? args : json_object());
	json_t *reply = NULL, *msg;
	const char *code;
	struct msg_reader rd;
	int s, r;

	if (result != NULL)
		*result = NULL;
	if (req == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((s = msg_connect_unix(conf.sock)) < 0) {
		json_decref(req);
		snprintf(err, errlen, "cannot connect: %s", strerror(-s));
		return s;
	}
	if ((r = msg_write_fd(s, req, fd)) == 0 &&
	    (r = msg_reader_init(&rd, s, MSG_MAX_RESPONSE)) == 0) {
		r = msg_read(&rd, &reply, CALL_TIMEOUT_MS);
		msg_reader_free(&rd);
	}
	close(s);
	json_decref(req);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", op, strerror(-r));
		return r;
	}
	if (json_is_true(json_object_get(reply, "ok"))) {
		if (result != NULL) {
			*result = json_object_get(reply, "result");
			json_incref(*result);
		}
		json_decref(reply);
		return 0;
	}
	msg = json_object_get(json_object_get(reply, "error"), "message");
	snprintf(err, errlen, "%s: %s", op, json_string_value(msg) ?: "refused");
	code = json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
	r = code != NULL && strcmp(code, "not_found") == 0 ? -ENOENT : -EIO;
	json_decref(reply);
	return r;
}

/* ---- the sensor process --------------------------------------------- */

static int
spawn(pid_t *out)
{
	const char *argv[12];
	unsigned n = 0;

	argv[n++] = conf.bin;
	argv[n++] = "serve";
	argv[n++] = "--control";
	argv[n++] = conf.sock;
	argv[n++] = "--eve";
	argv[n++] = conf.eve;
	if (geteuid() == 0) {
		/* It opens its socket and EVE file, then drops to this user
		 * before reading any input (docs/ids.md, "Privilege"). */
		argv[n++] = "--user";
		argv[n++] = conf.user;
	}
	argv[n] = NULL;
	return helper_spawn(&hp, argv, out);
}

/* Wait until a new sensor answers hello (it loads nothing before). */
static int
wait_ready(pid_t pid)
{
	uint64_t deadline = util_now_ms() + 30000;
	char err[256];

	while (util_now_ms() < deadline) {
		if (sensor_call("hello", NULL, -1, NULL, err, sizeof(err)) == 0)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -ECHILD;
		usleep(50000);
	}
	return -ETIMEDOUT;
}

static void
held_clear(void)
{
	pthread_mutex_lock(&mtx);
	while (held != NULL) {
		struct held *h = held;

		held = h->next;
		free(h->sent);
		free(h);
	}
	pthread_mutex_unlock(&mtx);
}

static struct held *
held_find(const char *sid)
{
	for (struct held *h = held; h; h = h->next)
		if (strcmp(h->sid, sid) == 0)
			return h;
	return NULL;
}

/* A new entry for sid, or NULL when out of memory. */
static struct held *
held_add(const char *sid)
{
	struct held *h = calloc(1, sizeof(*h));
	const char *dot = strchr(sid, '.');

	if (h == NULL)
		return NULL;
	snprintf(h->sid, sizeof(h->sid), "%s", sid);
	snprintf(h->tenant, sizeof(h->tenant), "%.*s", dot ? (int)(dot - sid) : 0, sid);
	snprintf(h->net, sizeof(h->net), "%s", dot ? dot + 1 : sid);
	pthread_mutex_lock(&mtx);
	h->next = held;
	held = h;
	pthread_mutex_unlock(&mtx);
	return h;
}

static void
held_remove(struct held *gone)
{
	pthread_mutex_lock(&mtx);
	for (struct held **p = &held; *p; p = &(*p)->next)
		if (*p == gone) {
			*p = gone->next;
			break;
		}
	pthread_mutex_unlock(&mtx);
	free(gone->sent);
	free(gone);
}

/* An adopted sensor: what it holds already (hello). */
static void
learn_held(void)
{
	json_t *res = NULL, *v;
	char err[256];
	size_t i;

	held_clear();
	if (sensor_call("hello", NULL, -1, &res, err, sizeof(err)) < 0) {
		log_warnx("ids: %s", err);
		return;
	}
	json_array_foreach(json_object_get(res, "networks"), i, v)
		if (json_is_string(v) && json_string_length(v) <= SENSOR_ID_MAX)
			held_add(json_string_value(v));
	json_array_foreach(json_object_get(res, "captures"), i, v) {
		const char *nid = json_string_value(json_object_get(v, "network_id"));
		struct held *h = nid ? held_find(nid) : NULL;

		if (h != NULL) {
			h->capture_id = json_integer_value(json_object_get(v, "capture_id"));
			h->ifindex = -1;
		}
	}
	json_decref(res);
}

/* The sensor runs (started, adopted or restarted): 1 when everything must
 * be sent again, 0 when it is the one we had, -errno when it cannot run. */
static int
sensor_ensure(void)
{
	pid_t pid = sensor_pid;
	int r;

	if (pid > 0 && helper_alive(&hp, pid))
		return 0;
	if (pid > 0) {
		pthread_mutex_lock(&mtx);
		restarts++;
		sensor_pid = 0; /* counted once, however long it takes to start */
		pthread_mutex_unlock(&mtx);
		log_warnx("ids: cloudlet-ids (pid %d) ended: restarting", (int)pid);
	}
	held_clear();
	if ((pid = helper_adopt(&hp)) > 0) {
		log_info("ids: adopted cloudlet-ids, pid %d", (int)pid);
		learn_held();
	} else {
		if ((r = spawn(&pid)) < 0 || (r = wait_ready(pid)) < 0) {
			log_warnx("ids: cloudlet-ids did not start: %s (see %s)", strerror(-r),
				  conf.logfile);
			if (r == -ETIMEDOUT) {
				/* Not adopted next time as if it worked. */
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
			}
			return r;
		}
		log_info("ids: cloudlet-ids started, pid %d", (int)pid);
	}
	pthread_mutex_lock(&mtx);
	sensor_pid = pid;
	pthread_mutex_unlock(&mtx);
	return 1;
}

/* ---- inside a tenant's namespace -------------------------------------- */

struct probe {
	const char *ifname;
	int want_socket; /* also an AF_PACKET socket bound to it */
	int fd, ifindex;
	char mac[18];
};

static int
probe_here(void *arg)
{
	struct probe *p = arg;
	struct ifreq ifr;
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	const unsigned char *m;
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)), r;

	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", p->ifname);
	/* One ioctl at a time: the answers share ifr's union. */
	if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0)
		goto fail;
	m = (const unsigned char *)ifr.ifr_hwaddr.sa_data;
	snprintf(p->mac, sizeof(p->mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		 m[4], m[5]);
	if (ioctl(s, SIOCGIFINDEX, &ifr) < 0)
		goto fail;
	p->ifindex = ifr.ifr_ifindex;
	sll.sll_ifindex = p->ifindex;
	if (!p->want_socket) {
		close(s);
		return 0;
	}
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto fail;
	p->fd = s;
	return 0;
fail:
	r = -errno;
	close(s);
	return r;
}

/* ifname's MAC and index in ns, and with want_socket a capture socket on
 * it (*p->fd, the caller closes it). */
static int
probe(const char *ns, const char *ifname, int want_socket, struct probe *p)
{
	memset(p, 0, sizeof(*p));
	p->ifname = ifname;
	p->want_socket = want_socket;
	p->fd = -1;
	return netns_call(ns, probe_here, p);
}

/* ---- a tenant's networks ---------------------------------------------- */

/* Something the sensor refused or missed is tried again, in full, soon
 * (not at once: a refusal that lasts must not spin). */
static void
retry_later(void)
{
	if (retry_at == 0)
		retry_at = util_now_ms() + 10000;
}

static void
sensor_name(const char *tenant, const char *net, char *out, size_t len)
{
	char h[11];

	if (strlen(tenant) + 1 + strlen(net) <= SENSOR_ID_MAX &&
	    util_fmt(out, len, "%s.%s", tenant, net) == 0)
		return;
	netstate_hash(net, h);
	util_fmt(out, len, "%s.%s", tenant, h);
}

/* The network's configuration for the sensor (docs/ids.md). */
static json_t *
net_config(const struct net_tenant *st, const struct net_network *n, const char *sid,
	   const struct net_port *ports, size_t np, const char *ns_fw, const char *dhcp_mac)
{
	char cidr[24], ip[16], br[16], fwname[64];
	json_t *assigned = json_array(), *routers = json_array(), *cfg;
	struct probe fw;

	netstate_ip(n->cidr.addr, ip, sizeof(ip));
	snprintf(cidr, sizeof(cidr), "%s/%u", ip, n->cidr.prefix);
	snprintf(br, sizeof(br), "br-%s", n->hash);
	fwvm_name(st->tenant, fwname, sizeof(fwname));
	for (size_t i = 0; i < np; i++) {
		const struct net_port *p = &ports[i];

		if (strcmp(p->bridge, br) != 0)
			continue;
		if (strcmp(p->vm_name, fwname) == 0) {
			/* The firewall appliance forwards everyone's packets. */
			json_array_append_new(routers, json_string(p->mac));
			continue;
		}
		if (p->address[0] == '\0')
			continue;
		snprintf(ip, sizeof(ip), "%.*s", (int)strcspn(p->address, "/"), p->address);
		json_array_append_new(assigned, json_pack("{s:s, s:s, s:s}", "mac", p->mac, "ip",
							  ip, "vm", p->vm_name));
	}
	if (st->mode == NET_FW_NAMESPACE) {
		char in[16];

		snprintf(in, sizeof(in), "in-%s", n->hash);
		if (probe(ns_fw, in, 0, &fw) == 0)
			json_array_append_new(routers, json_string(fw.mac));
	}
	cfg = json_pack("{s:s, s:s, s:[s], s:[s], s:o, s:o, s:I}", "tenant_id", st->tenant,
			"network_id", sid, "home_net", cidr, "rule_dirs", conf.rules, "assigned",
			assigned, "routers", routers, "memcap_bytes", (json_int_t)conf.memcap);
	if (cfg != NULL && st->ids_rules != NULL)
		json_object_set_new(cfg, "custom_rules", json_string(st->ids_rules));
	/* The tenant's suppressions (idssup.h): the sensor's gate drops what
	 * they match before an alert is written. */
	if (cfg != NULL && st->ids_suppress != NULL)
		json_object_set(cfg, "suppress", st->ids_suppress);
	if (cfg != NULL && dhcp_mac != NULL) {
		netstate_ip(n->dhcp_server, ip, sizeof(ip));
		json_object_set_new(cfg, "dhcp_server",
				    json_pack("{s:s, s:s}", "mac", dhcp_mac, "ip", ip));
	}
	return cfg;
}

/* Hand the sensor the bridge's capture socket unless it has it already. */
static void
capture(struct held *h, const char *br, struct probe *bp)
{
	json_t *res = NULL;
	char err[512];

	if (h->capture_id > 0 && (h->ifindex == bp->ifindex || h->ifindex == -1)) {
		h->ifindex = bp->ifindex;
		return;
	}
	if (h->capture_id > 0) {
		/* The bridge was made again: its old socket sees nothing. */
		sensor_call("capture.remove", json_pack("{s:I}", "capture_id",
							(json_int_t)h->capture_id),
			    -1, NULL, err, sizeof(err));
		h->capture_id = 0;
	}
	if (sensor_call("capture.add", json_pack("{s:s, s:s}", "network_id", h->sid, "iface", br),
			bp->fd, &res, err, sizeof(err)) < 0) {
		log_warnx("ids %s: %s", h->sid, err);
		retry_later();
		return;
	}
	pthread_mutex_lock(&mtx);
	h->capture_id = json_integer_value(json_object_get(res, "capture_id"));
	h->ifindex = bp->ifindex;
	pthread_mutex_unlock(&mtx);
	json_decref(res);
}

static void
sync_network(const struct net_tenant *st, const struct net_network *n, const char *ns_net,
	     const char *ns_fw, const struct net_port *ports, size_t np)
{
	char sid[SENSOR_ID_MAX + 1], br[16], err[512], *text = NULL;
	struct probe bp;
	struct held *h;
	json_t *cfg, *res = NULL;
	int r;

	sensor_name(st->tenant, n->id, sid, sizeof(sid));
	snprintf(br, sizeof(br), "br-%s", n->hash);
	if ((r = probe(ns_net, br, 1, &bp)) < 0) {
		log_warnx("ids %s: no capture on %s in %s: %s", sid, br, ns_net, strerror(-r));
		retry_later();
		return;
	}
	cfg = net_config(st, n, sid, ports, np, ns_fw, st->role == NET_ROLE_HOME ? bp.mac : NULL);
	text = cfg ? json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (text == NULL || ((h = held_find(sid)) == NULL && (h = held_add(sid)) == NULL)) {
		json_decref(cfg);
		retry_later();
		goto out;
	}
	/* The same configuration again would only load the same rules again. */
	if (h->sent != NULL && strcmp(h->sent, text) == 0) {
		json_decref(cfg);
		capture(h, br, &bp);
		goto out;
	}
	if ((r = sensor_call("network.set", cfg, -1, &res, err, sizeof(err))) < 0) {
		log_warnx("ids %s: %s", sid, err);
		retry_later();
		goto out;
	}
	log_debug("ids %s: %lld rules loaded, %lld skipped", sid,
		  (long long)json_integer_value(json_object_get(res, "loaded")),
		  (long long)json_integer_value(json_object_get(res, "skipped")));
	json_decref(res);
	free(h->sent);
	h->sent = text;
	text = NULL;
	capture(h, br, &bp);
out:
	free(text);
	close(bp.fd);
}

static int
has_network(const struct net_tenant *st, const char *sid)
{
	char name[SENSOR_ID_MAX + 1];

	for (unsigned i = 0; st != NULL && i < st->n_networks; i++) {
		sensor_name(st->tenant, st->networks[i].id, name, sizeof(name));
		if (strcmp(name, sid) == 0)
			return 1;
	}
	return 0;
}

/* The sensor holds what the tenant's state says, no more. */
static void
sync_tenant(const char *tenant)
{
	struct net_tenant st;
	struct net_port *ports = NULL;
	char ns_net[64], ns_fw[64], err[512];
	size_t np = 0;
	int have = net_tenant_get(tenant, &st, ns_net, sizeof(ns_net)) == 0, r;
	struct held *h, *next;

	if (have && (st.ids_off || st.role != NET_ROLE_HOME ||
		     net_tenant_ports(tenant, &ports, &np, ns_fw, sizeof(ns_fw)) < 0)) {
		netstate_free(&st);
		have = 0;
	}
	for (unsigned i = 0; have && i < st.n_networks; i++)
		sync_network(&st, &st.networks[i], ns_net, ns_fw, ports, np);
	for (h = held; h; h = next) {
		next = h->next;
		if (strcmp(h->tenant, tenant) != 0 || has_network(have ? &st : NULL, h->sid))
			continue;
		r = sensor_call("network.delete", json_pack("{s:s}", "network_id", h->sid), -1, NULL,
				err, sizeof(err));
		if (r < 0 && r != -ENOENT) {
			/* Kept: its deletion is tried again. */
			log_warnx("ids %s: %s", h->sid, err);
			retry_later();
			continue;
		}
		held_remove(h);
	}
	free(ports);
	if (have)
		netstate_free(&st);
}

/* Every tenant with networks here, and every one the sensor still has. */
static void
sync_all(void)
{
	json_t *list = net_list();
	const json_t *v;
	size_t i;
	char (*keys)[NET_TENANT_MAX + 1];
	size_t n = 0, cap = json_array_size(list) + 1;

	for (struct held *h = held; h; h = h->next)
		cap++;
	if ((keys = calloc(cap, sizeof(*keys))) == NULL) {
		json_decref(list);
		return;
	}
	json_array_foreach(list, i, v) {
		const char *t = json_string_value(json_object_get(v, "tenant"));

		if (t != NULL && n < cap)
			snprintf(keys[n++], sizeof(keys[0]), "%s", t);
	}
	json_decref(list);
	for (struct held *h = held; h; h = h->next)
		if (n < cap)
			snprintf(keys[n++], sizeof(keys[0]), "%s", h->tenant);
	for (i = 0; i < n; i++) {
		size_t k;

		for (k = 0; k < i && strcmp(keys[k], keys[i]) != 0; k++)
			;
		if (k == i)
			sync_tenant(keys[i]);
	}
	free(keys);
}

/* Every network's configuration goes out again at the next pass. */
static void
forget_sent(void)
{
	for (struct held *h = held; h; h = h->next) {
		free(h->sent);
		h->sent = NULL;
	}
}

static void *
worker(void *arg)
{
	char todo[DIRTY_MAX][NET_TENANT_MAX + 1];

	(void)arg;
	for (;;) {
		struct timespec ts;
		size_t n;
		int all, r;

		pthread_mutex_lock(&mtx);
		if (n_dirty == 0 && !dirty_all) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&cond, &mtx, &ts);
		}
		n = n_dirty;
		memcpy(todo, dirty, n * sizeof(todo[0]));
		all = dirty_all;
		n_dirty = 0;
		dirty_all = 0;
		if (reload_all)
			forget_sent();
		reload_all = 0;
		pthread_mutex_unlock(&mtx);
		if ((r = sensor_ensure()) < 0) {
			/* Do not spin on a sensor that cannot start. */
			pthread_mutex_lock(&mtx);
			dirty_all = 1;
			pthread_mutex_unlock(&mtx);
			sleep(5);
			continue;
		}
		if (retry_at != 0 && util_now_ms() >= retry_at) {
			retry_at = 0;
			all = 1;
		}
		if (r > 0 || all)
			sync_all();
		else
			for (size_t i = 0; i < n; i++)
				sync_tenant(todo[i]);
	}
	return NULL;
}

/* ---- operations --------------------------------------------------------- */

/* Our view of the networks, with the sensor's counters where it has them. */
static json_t *
networks_view(const json_t *stats, const char *tenant)
{
	json_t *arr = json_array();

	pthread_mutex_lock(&mtx);
	for (struct held *h = held; h; h = h->next) {
		json_t *s = json_object_get(stats, h->sid);

		if (tenant != NULL && strcmp(h->tenant, tenant) != 0)
			continue;
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b, s:O}", "tenant",
						     h->tenant, "network", h->net, "sensor_network",
						     h->sid, "capture", h->capture_id > 0, "stats",
						     s ? s : json_null()));
	}
	pthread_mutex_unlock(&mtx);
	return arr;
}

int
ids_reload(json_t *args, json_t **out, struct op_error *e)
{
	char why[200];

	*out = NULL;
	if (jsonv_only_fields(args, (const char *const[]){NULL}, why, sizeof(why)) < 0)
		return op_fail(e, "invalid", -EINVAL, "%s", why);
	if (!conf.enabled)
		return op_fail(e, "conflict", -ENODEV, "intrusion detection is off");
	pthread_mutex_lock(&mtx);
	reload_all = 1;
	dirty_all = 1;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&mtx);
	return 0;
}

int
ids_alerts(json_t *args, json_t **out, struct op_error *e)
{
	return idstail_alerts(args, out, e);
}

int
ids_skipped(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"tenant", "max", NULL};
	const char *tenant = json_string_value(json_object_get(args, "tenant"));
	const json_t *mx = json_object_get(args, "max");
	char why[256] = "", sids[64][SENSOR_ID_MAX + 1], nets[64][SENSOR_ID_MAX + 1];
	size_t n = 0;

	if (jsonv_only_fields(args, allowed, why, sizeof(why)) < 0)
		return op_fail(e, "invalid", -EINVAL, "%s", why);
	if (tenant == NULL || (mx != NULL && (!json_is_integer(mx) || json_integer_value(mx) < 1 ||
					      json_integer_value(mx) > 10000)))
		return op_fail(e, "invalid", -EINVAL, "ids.skipped needs tenant, and max 1-10000");
	if (!conf.enabled)
		return op_fail(e, "conflict", -ENODEV, "intrusion detection is off");
	/* The tenant's networks as the sensor knows them; asked outside the
	 * lock (a call may wait for a rule build). */
	pthread_mutex_lock(&mtx);
	for (struct held *h = held; h && n < 64; h = h->next) {
		if (strcmp(h->tenant, tenant) != 0)
			continue;
		snprintf(sids[n], sizeof(sids[n]), "%s", h->sid);
		snprintf(nets[n], sizeof(nets[n]), "%s", h->net);
		n++;
	}
	pthread_mutex_unlock(&mtx);
	*out = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *list = NULL, *r;
		size_t k;

		if (sensor_call("rules.skipped",
				json_pack("{s:s, s:I}", "network_id", sids[i], "max",
					  (json_int_t)(mx ? json_integer_value(mx) : 1000)),
				-1, &list, why, sizeof(why)) < 0) {
			json_decref(*out);
			*out = NULL;
			return op_fail(e, "internal", -EIO, "the sensor: %s", why);
		}
		json_array_foreach(list, k, r)
		{
			json_object_set_new(r, "network", json_string(nets[i]));
			json_array_append(*out, r);
		}
		json_decref(list);
	}
	return 0;
}

int
ids_status(json_t *args, json_t **out, struct op_error *e)
{
	static const char *const allowed[] = {"tenant", NULL};
	const json_t *tv = json_object_get(args, "tenant");
	json_t *stats = NULL, *ev;
	char why[256] = "";
	pid_t pid;
	unsigned n_restarts;

	if (jsonv_only_fields(args, allowed, why, sizeof(why)) < 0)
		return op_fail(e, "invalid", -EINVAL, "%s", why);
	if (tv != NULL && !json_is_string(tv))
		return op_fail(e, "invalid", -EINVAL, "tenant must be a string");
	if (!conf.enabled) {
		*out = json_pack("{s:b}", "enabled", 0);
		return *out ? 0 : -ENOMEM;
	}
	if (sensor_call("stats", NULL, -1, &stats, why, sizeof(why)) < 0)
		log_debug("ids: %s", why);
	pthread_mutex_lock(&mtx);
	pid = sensor_pid;
	n_restarts = restarts;
	pthread_mutex_unlock(&mtx);
	ev = idstail_counters();
	*out = json_pack("{s:b, s:i, s:i, s:b, s:s, s:s, s:o, s:o}", "enabled", 1, "sensor_pid",
			 (int)pid, "sensor_restarts", (int)n_restarts, "sensor_answers",
			 stats != NULL, "rules", conf.rules, "eve_file", conf.eve, "eve", ev,
			 "networks", networks_view(stats, json_string_value(tv)));
	json_decref(stats);
	return *out ? 0 : op_fail(e, "internal", -ENOMEM, "out of memory");
}

/* ---- start ------------------------------------------------------------ */

static int
paths(const struct ids_config *cfg)
{
	char real[PATH_MAX];
	int r;

	if (util_fmt(conf.bin, sizeof(conf.bin), "%s", cfg->bin) < 0 ||
	    util_fmt(conf.user, sizeof(conf.user), "%s", cfg->user) < 0 ||
	    util_fmt(conf.dir, sizeof(conf.dir), "%s/ids", cfg->state_dir) < 0)
		return -ENAMETOOLONG;
	/* 0711: the sensor's user reaches the rule directory, nobody lists. */
	if ((r = util_mkdirs(conf.dir, 0711)) < 0 || chmod(conf.dir, 0711) < 0)
		return r < 0 ? r : -errno;
	if (cfg->rules == NULL) {
		if (util_fmt(conf.rules, sizeof(conf.rules), "%s/rules", conf.dir) < 0)
			return -ENAMETOOLONG;
		if ((r = util_mkdirs(conf.rules, 0755)) < 0)
			return r;
	} else if (realpath(cfg->rules, real) == NULL ||
		   util_fmt(conf.rules, sizeof(conf.rules), "%s", real) < 0) {
		log_warn("ids: rule directory %s", cfg->rules);
		return -errno ? -errno : -ENAMETOOLONG;
	}
	snprintf(conf.sock, sizeof(conf.sock), "%s/ids.sock", conf.dir);
	snprintf(conf.eve, sizeof(conf.eve), "%s/eve.json", conf.dir);
	snprintf(conf.pos, sizeof(conf.pos), "%s/eve.pos", conf.dir);
	snprintf(conf.pidfile, sizeof(conf.pidfile), "%s/ids.pid", conf.dir);
	snprintf(conf.logfile, sizeof(conf.logfile), "%s/ids.log", conf.dir);
	snprintf(conf.marker, sizeof(conf.marker), "--control %s ", conf.sock);
	conf.memcap = (uint64_t)(cfg->memcap_mib ? cfg->memcap_mib : 64) << 20;
	return 0;
}

/* Can the sensor run here? Logs why not, once. */
static int
usable(const struct ids_config *cfg)
{
	if (cfg->off) {
		log_info("ids: off (--ids off)");
		return 0;
	}
	if (access(cfg->bin, X_OK) < 0) {
		log_warn("ids: %s: intrusion detection is off", cfg->bin);
		return 0;
	}
	if (geteuid() != 0) {
		log_warnx("ids: not running as root (no capture sockets): intrusion detection is off");
		return 0;
	}
	if (getpwnam(cfg->user) == NULL) {
		log_warnx("ids: no user '%s' (make setup creates it): intrusion detection is off",
			  cfg->user);
		return 0;
	}
	return 1;
}

/* IDS off, but an earlier agent's sensor runs: it would inspect and
 * alert with nobody handing it changes. */
static void
stop_leftover(const struct ids_config *cfg)
{
	pid_t pid;

	if (cfg->state_dir == NULL || paths(cfg) < 0 || (pid = helper_adopt(&hp)) <= 0)
		return;
	log_info("ids: stopping cloudlet-ids pid %d (intrusion detection is off)", (int)pid);
	kill(pid, SIGTERM);
}

int
ids_init(const struct ids_config *cfg)
{
	pthread_t t;
	int r;

	if (!usable(cfg)) {
		stop_leftover(cfg);
		return 0;
	}
	if ((r = paths(cfg)) < 0)
		return r;
	if ((r = idstail_start(conf.eve, conf.pos)) < 0)
		return r;
	conf.enabled = 1;
	dirty_all = 1;
	net_set_ports_hook(ids_tenant_changed);
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return -EAGAIN;
	pthread_detach(t);
	log_info("ids: sensor %s as %s, rules %s, alerts from %s", conf.bin, conf.user, conf.rules,
		 conf.eve);
	return 0;
}
