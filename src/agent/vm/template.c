/* template.c - see template.h */
#define _GNU_SOURCE
#include "template.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cloneid.h"
#include "disk.h"
#include "image.h"
#include "log.h"
#include "qemu.h"
#include "qmp.h"
#include "config.h"
#include "util.h"

#define READY_LINE "cloudlet: template-ready"
#define FAILED_LINE "cloudlet: template-failed: "
/* the default; image.json "template_timeout_s" for slower guests */
#define BUILD_TIMEOUT_MS 180000

static char qemu_version[128];
static pthread_mutex_t build_mtx = PTHREAD_MUTEX_INITIALIZER;
static char building[64][17];
static int nbuilding;

int
template_init(void)
{
	const char *const argv[] = {agent_config()->qemu_bin, "--version", NULL};
	char out[512], *nl;
	char path[700];

	if (util_run(argv, out, sizeof(out)) < 0)
		return -EIO;
	nl = strchr(out, '\n');
	if (nl != NULL)
		*nl = '\0';
	snprintf(qemu_version, sizeof(qemu_version), "%.120s", out);
	snprintf(path, sizeof(path), "%s/templates", agent_config()->state_dir);
	return util_mkdirs(path, 0711);
}

static void
file_sig(const char *path, char *out, size_t len)
{
	struct stat st;

	if (stat(path, &st) < 0)
		snprintf(out, len, "missing");
	else
		snprintf(out, len, "%lld@%lld.%09ld", (long long)st.st_size,
			 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

/* The exact inputs of a template for this spec, and a key derived from them. */
static int
identity(const struct vm_spec *s, char *id, size_t idlen, char *key)
{
	struct image im;
	char kpath[700], ipath[700], ksig[64], isig[64];
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	if (image_find(s->image, &im) < 0)
		return -ENOENT;
	if (im.no_template)
		return -ENOTSUP;
	snprintf(kpath, sizeof(kpath), "%s/vmlinux", agent_config()->guest_dir);
	snprintf(ipath, sizeof(ipath), "%s/initrd.cpio.gz", agent_config()->guest_dir);
	file_sig(kpath, ksig, sizeof(ksig));
	file_sig(ipath, isig, sizeof(isig));
	if (util_fmt(id, idlen,
		     "format=1\nengine=%d\nagent=%s\nimage=%s\nimage_id=%s\nvmlinux=%s\ninitrd=%s\n"
		     "qemu=%s\naccel=%s\nvcpus=%u\nmemory_mib=%llu\ndisk_gib=%llu\nnics=%u\n",
		     QEMU_ENGINE_REV, agent_config()->state_dir, s->image, im.id, ksig, isig, qemu_version,
		     host_accel_name(agent_config()->host.accel), s->vcpus,
		     (unsigned long long)s->memory_mib, (unsigned long long)s->disk_gib,
		     s->n_nics) < 0)
		return -ENAMETOOLONG;
	/* FNV-1a names the directory; the identity file is what is compared. */
	for (i = 0; id[i] != '\0'; i++)
		h = (h ^ (unsigned char)id[i]) * 1099511628211ULL;
	snprintf(key, 17, "%016llx", (unsigned long long)h);
	return 0;
}

static void
paths(const char *key, char *dir, size_t dirlen, char *ram, size_t ramlen)
{
	snprintf(dir, dirlen, "%s/templates/%s", agent_config()->state_dir, key);
	snprintf(ram, ramlen, "%s/cloudlet-%s.ram", agent_config()->template_ram_dir, key);
}

int
template_lookup(const struct vm_spec *spec, char *dir, size_t dirlen, char *ram,
		size_t ramlen)
{
	char id[2048], key[17], path[800], *have = NULL;
	struct stat st;
	int r;

	if ((r = identity(spec, id, sizeof(id), key)) < 0)
		return r;
	paths(key, dir, dirlen, ram, ramlen);
	snprintf(path, sizeof(path), "%s/identity", dir);
	if (util_read_file(path, 1 << 16, &have, NULL) < 0)
		return -ENOENT;
	r = strcmp(have, id) == 0 ? 0 : -ESTALE;
	free(have);
	if (r == 0 && stat(ram, &st) < 0)
		r = -ENOENT; /* /dev/shm does not survive a host reboot */
	return r;
}

/* Poll console.log for the template-ready line while QEMU lives. */
static int
wait_ready(const char *dir, pid_t pid, uint64_t timeout_ms, char *err, size_t errlen)
{
	char path[800], *text = NULL;
	uint64_t deadline = util_now_ms() + timeout_ms;

	snprintf(path, sizeof(path), "%s/console.log", dir);
	while (util_now_ms() < deadline) {
		int found = 0;

		if (util_read_file(path, 16 << 20, &text, NULL) == 0) {
			const char *bad = strstr(text, FAILED_LINE);

			found = strstr(text, READY_LINE) != NULL;
			if (bad != NULL) {
				bad += strlen(FAILED_LINE);
				snprintf(err, errlen, "the template's guest: %.*s",
					 (int)strcspn(bad, "\r\n"), bad);
			}
			free(text);
			if (bad != NULL)
				return -EIO;
		}
		if (found)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			char *log = NULL;

			snprintf(path, sizeof(path), "%s/qemu.log", dir);
			util_read_file(path, 1 << 16, &log, NULL);
			snprintf(err, errlen, "the template's QEMU exited while booting: %.300s",
				 log ? log : "");
			free(log);
			return -EIO;
		}
		usleep(50000);
	}
	snprintf(err, errlen, "the template did not get ready in %llu s",
		 (unsigned long long)(timeout_ms / 1000));
	return -ETIMEDOUT;
}

static int
save_state(const char *dir, int state_fd, char *err, size_t errlen)
{
	char path[800], uri[32];
	struct qmp *q;
	json_t *caps, *args;
	int r;

	snprintf(path, sizeof(path), "%s/qmp.sock", dir);
	if ((r = qmp_open(path, 5000, &q)) < 0) {
		snprintf(err, errlen, "template QMP: %s", strerror(-r));
		return r;
	}
	caps = json_pack("{s:[{s:s, s:b}]}", "capabilities", "capability", "x-ignore-shared",
			 "state", 1);
	/* Outgoing fd: migration wants a named descriptor (getfd). */
	snprintf(uri, sizeof(uri), "fd:state");
	args = json_pack("{s:s}", "uri", uri);
	if ((r = qmp_getfd(q, "state", state_fd, err, errlen)) < 0 ||
	    (r = qmp_exec(q, "stop", NULL, NULL, 5000, err, errlen)) < 0 ||
	    (r = qmp_exec(q, "migrate-set-capabilities", caps, NULL, 5000, err, errlen)) < 0 ||
	    (r = qmp_exec(q, "migrate", args, NULL, 5000, err, errlen)) < 0)
		goto out;
	if ((r = qmp_wait_migration(q, 60000, err, errlen)) < 0)
		goto out;
	qmp_exec(q, "quit", NULL, NULL, 5000, err, errlen);
	r = 0;
out:
	json_decref(caps);
	json_decref(args);
	qmp_close(q);
	return r;
}

int
template_build(const struct vm_spec *spec, char *err, size_t errlen)
{
	char id[2048], key[17], dir[700], ram[700], tmp[760], path[800], rootfs[1200];
	struct qemu_launch l;
	struct vm_spec ts;
	struct image im;
	uint64_t t0 = util_now_ms();
	pid_t pid = -1;
	int r, fd = -1;

	if ((r = identity(spec, id, sizeof(id), key)) < 0) {
		if (r == -ENOTSUP)
			snprintf(err, errlen, "image '%s' has no template mode: its VMs boot cold",
				 spec->image);
		else
			snprintf(err, errlen, "unknown image '%s'", spec->image);
		return r;
	}
	paths(key, dir, sizeof(dir), ram, sizeof(ram));
	if (template_lookup(spec, dir, sizeof(dir), ram, sizeof(ram)) == 0)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", dir);
	util_rmtree(tmp);
	util_rmtree(dir);
	unlink(ram);
	if ((r = util_mkdirs(tmp, 0700)) < 0 ||
	    (geteuid() == 0 && chown(tmp, agent_config()->vm_uid, agent_config()->vm_gid) < 0)) {
		snprintf(err, errlen, "template dir: %s", strerror(r < 0 ? -r : errno));
		return r < 0 ? r : -errno;
	}
	/* The template's own spec: the fit, no user data, named after its key. */
	memset(&ts, 0, sizeof(ts));
	snprintf(ts.name, sizeof(ts.name), "template-%s", key);
	snprintf(ts.image, sizeof(ts.image), "%s", spec->image);
	ts.vcpus = spec->vcpus;
	ts.memory_mib = spec->memory_mib;
	ts.disk_gib = spec->disk_gib;
	ts.n_nics = spec->n_nics;
	memcpy(ts.nics, spec->nics, sizeof(ts.nics));

	snprintf(path, sizeof(path), "%s/root.raw", tmp);
	snprintf(rootfs, sizeof(rootfs), "%s/images/%s/rootfs", agent_config()->guest_dir, spec->image);
	if ((r = disk_create_root(path, rootfs, spec->disk_gib, err, errlen)) < 0)
		goto fail;
	if (geteuid() == 0 && chown(path, agent_config()->vm_uid, agent_config()->vm_gid) < 0)
		goto fail_errno;
	snprintf(path, sizeof(path), "%s/seed.img", tmp);
	if ((r = disk_write_seed(path, "template", &ts, 0, err, errlen)) < 0)
		goto fail;
	if (geteuid() == 0 && chown(path, agent_config()->vm_uid, agent_config()->vm_gid) < 0)
		goto fail_errno;
	snprintf(path, sizeof(path), "%s/state", tmp);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail_errno;

	memset(&l, 0, sizeof(l));
	l.qemu_bin = agent_config()->qemu_bin;
	l.guest_dir = agent_config()->guest_dir;
	l.vm_dir = tmp;
	l.vm_id = key;
	l.accel = agent_config()->host.accel;
	l.tsc_khz = agent_config()->host.tsc_khz;
	l.spec = &ts;
	l.uid = agent_config()->vm_uid;
	l.gid = agent_config()->vm_gid;
	l.mem_path = ram;
	l.mem_share = 1;
	l.template_mode = 1;
	l.dummy_nics = 1;
	l.state_fd = -1;
	/* The identity file all zeros: each clone gets its own (cloneid.h). */
	l.with_identity = 1;
	if ((l.identity_fd = cloneid_memfd(NULL, CLONEID_SIZE)) < 0) {
		r = l.identity_fd;
		snprintf(err, errlen, "memfd: %s", strerror(-r));
		goto fail;
	}
	r = qemu_spawn(&l, &pid, err, errlen);
	close(l.identity_fd);
	if (r < 0)
		goto fail;
	if ((r = wait_ready(tmp, pid,
			    image_find(spec->image, &im) == 0 && im.template_timeout_s > 0
				    ? (uint64_t)im.template_timeout_s * 1000
				    : BUILD_TIMEOUT_MS,
			    err, errlen)) < 0 ||
	    (r = save_state(tmp, fd, err, errlen)) < 0)
		goto fail;
	close(fd);
	fd = -1;
	waitpid(pid, NULL, 0);
	pid = -1;
	snprintf(path, sizeof(path), "%s/identity", tmp);
	if ((r = util_write_atomic(path, id, strlen(id), 0644)) < 0)
		goto fail;
	if (rename(tmp, dir) < 0)
		goto fail_errno;
	log_info("template %s (%s, %u vCPU, %llu MiB, %llu GiB) built in %llu ms", key,
		 spec->image, spec->vcpus, (unsigned long long)spec->memory_mib,
		 (unsigned long long)spec->disk_gib, (unsigned long long)(util_now_ms() - t0));
	return 0;
fail_errno:
	r = -errno;
	snprintf(err, errlen, "template: %s", strerror(errno));
fail:
	if (fd >= 0)
		close(fd);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	util_rmtree(tmp);
	unlink(ram);
	log_warnx("template %s: %s", key, err);
	return r;
}

struct async {
	struct vm_spec spec;
	char key[17];
};

static void *
build_thread(void *arg)
{
	struct async *a = arg;
	char err[512];
	int i;

	template_build(&a->spec, err, sizeof(err));
	pthread_mutex_lock(&build_mtx);
	for (i = 0; i < nbuilding; i++)
		if (strcmp(building[i], a->key) == 0) {
			memcpy(building[i], building[--nbuilding], 17);
			break;
		}
	pthread_mutex_unlock(&build_mtx);
	free(a);
	/* A new template often replaces a stale one. */
	json_decref(template_gc());
	return NULL;
}

void
template_build_async(const struct vm_spec *spec)
{
	char id[2048], key[17];
	struct async *a;
	pthread_t t;
	int i;

	if (!agent_config()->auto_templates || identity(spec, id, sizeof(id), key) < 0)
		return;
	pthread_mutex_lock(&build_mtx);
	for (i = 0; i < nbuilding; i++)
		if (strcmp(building[i], key) == 0) {
			pthread_mutex_unlock(&build_mtx);
			return;
		}
	if (nbuilding == 64 || (a = calloc(1, sizeof(*a))) == NULL) {
		pthread_mutex_unlock(&build_mtx);
		return;
	}
	a->spec = *spec;
	a->spec.user_data = NULL;
	a->spec.ssh_keys = NULL;
	memcpy(a->key, key, 17);
	memcpy(building[nbuilding++], key, 17);
	pthread_mutex_unlock(&build_mtx);
	if (pthread_create(&t, NULL, build_thread, a) != 0) {
		build_thread(a); /* runs the build here; unlikely */
		return;
	}
	pthread_detach(t);
}

json_t *
template_list(void)
{
	char path[700], file[1000], *id;
	json_t *arr = json_array();
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/templates", agent_config()->state_dir);
	d = opendir(path);
	if (d == NULL)
		return arr;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 16)
			continue;
		snprintf(file, sizeof(file), "%s/%s/identity", path, de->d_name);
		if (util_read_file(file, 1 << 16, &id, NULL) == 0) {
			json_array_append_new(arr, json_pack("{s:s, s:s}", "key", de->d_name,
							     "identity", id));
			free(id);
		}
	}
	closedir(d);
	return arr;
}

/* Read "key=value" from an identity text. */
static int
id_field(const char *id, const char *k, char *out, size_t len)
{
	size_t kl = strlen(k);

	for (const char *p = id; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, k, kl) == 0 && p[kl] == '=') {
			const char *v = p + kl + 1, *e = strchr(v, '\n');
			size_t n = e ? (size_t)(e - v) : strlen(v);

			if (n >= len)
				return -ENAMETOOLONG;
			memcpy(out, v, n);
			out[n] = '\0';
			return 0;
		}
	}
	return -ENOENT;
}

/* Would a spec of this template's fit get this very template now? */
static int
is_current(const char *key, const char *have)
{
	struct vm_spec s;
	char v[128], id[2048], now_key[17];

	memset(&s, 0, sizeof(s));
	if (id_field(have, "image", s.image, sizeof(s.image)) < 0 ||
	    id_field(have, "vcpus", v, sizeof(v)) < 0)
		return 0;
	s.vcpus = (unsigned)strtoul(v, NULL, 10);
	if (id_field(have, "memory_mib", v, sizeof(v)) < 0)
		return 0;
	s.memory_mib = strtoull(v, NULL, 10);
	if (id_field(have, "disk_gib", v, sizeof(v)) < 0)
		return 0;
	s.disk_gib = strtoull(v, NULL, 10);
	if (id_field(have, "nics", v, sizeof(v)) < 0)
		return 0;
	s.n_nics = (unsigned)strtoul(v, NULL, 10);
	if (s.n_nics > SPEC_NICS_MAX || identity(&s, id, sizeof(id), now_key) < 0)
		return 0;
	return strcmp(now_key, key) == 0 && strcmp(id, have) == 0;
}

json_t *
template_fits(void)
{
	json_t *all = template_list(), *t, *fits = json_array();
	char f[4][80];
	size_t i;

	json_array_foreach(all, i, t) {
		const char *key = json_string_value(json_object_get(t, "key"));
		const char *id = json_string_value(json_object_get(t, "identity"));
		char fit[400];

		if (!is_current(key, id) || id_field(id, "image", f[0], sizeof(f[0])) < 0 ||
		    id_field(id, "vcpus", f[1], sizeof(f[1])) < 0 ||
		    id_field(id, "memory_mib", f[2], sizeof(f[2])) < 0 ||
		    id_field(id, "disk_gib", f[3], sizeof(f[3])) < 0)
			continue;
		snprintf(fit, sizeof(fit), "%s/%s/%s/%s", f[0], f[1], f[2], f[3]);
		json_array_append_new(fits, json_string(fit));
	}
	json_decref(all);
	return fits;
}

static int (*in_use_fn)(const char *dir);

void
template_set_in_use(int (*fn)(const char *dir))
{
	in_use_fn = fn;
}

static int
in_use(const char *dir)
{
	return in_use_fn != NULL && in_use_fn(dir);
}

static int
is_building(const char *key)
{
	int b = 0;

	pthread_mutex_lock(&build_mtx);
	for (int i = 0; i < nbuilding; i++)
		b |= strcmp(building[i], key) == 0;
	pthread_mutex_unlock(&build_mtx);
	return b;
}

json_t *
template_gc(void)
{
	char path[700], file[1100], dir[1000], ram[1000], *have;
	json_t *removed = json_array(), *trimmed = json_array();
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/templates", agent_config()->state_dir);
	if ((d = opendir(path)) == NULL)
		goto out;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 16 || is_building(de->d_name))
			continue;
		snprintf(file, sizeof(file), "%s/%s/identity", path, de->d_name);
		have = NULL;
		if (util_read_file(file, 1 << 16, &have, NULL) == 0 && is_current(de->d_name, have)) {
			free(have);
			continue;
		}
		free(have);
		paths(de->d_name, dir, sizeof(dir), ram, sizeof(ram));
		/* Stale: no new clone will come from it. Its RAM (the big part,
		 * on tmpfs) and state go now; its disk stays while clones use it
		 * as their backing file. */
		unlink(ram);
		snprintf(file, sizeof(file), "%s/state", dir);
		unlink(file);
		if (in_use(dir)) {
			json_array_append_new(trimmed, json_string(de->d_name));
			continue;
		}
		util_rmtree(dir);
		json_array_append_new(removed, json_string(de->d_name));
		log_info("template %s: stale and unused, removed", de->d_name);
	}
	closedir(d);
out:
	return json_pack("{s:o, s:o}", "removed", removed, "kept_for_clones", trimmed);
}

