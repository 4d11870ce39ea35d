/* vm.c - see vm.h */
#define _GNU_SOURCE
#include "vm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cloneid.h"
#include "disk.h"
#include "image.h"
#include "log.h"
#include "net.h"
#include "netstate.h"
#include "msg.h"
#include "qemu.h"
#include "storage.h"
#include "template.h"
#include "util.h"
#include "vmmigrate.h"
#include "vmready.h"
#include "vmstart.h"
#include "vmstore.h"
#include "vmtable.h"
#include "vmwatch.h"



/* Tell net the VM's NICs (net.h: anti-spoofing, DHCP); no lock held. */
void
vm_ports_publish(struct vm *vm)
{
	const char *id = vm->id;
	const struct vm_spec *spec = &vm->spec;
	struct net_port p[SPEC_NICS_MAX];
	size_t n = 0;

	memset(p, 0, sizeof(p));
	for (unsigned i = 0; i < spec->n_nics && n < SPEC_NICS_MAX; i++) {
		const struct spec_nic *nic = &spec->nics[i];

		if (nic->netns[0] == '\0')
			continue;
		snprintf(p[n].vm_name, sizeof(p[n].vm_name), "%s", spec->name);
		snprintf(p[n].netns, sizeof(p[n].netns), "%s", nic->netns);
		snprintf(p[n].bridge, sizeof(p[n].bridge), "%s", nic->bridge);
		qemu_tap_name(id, i, p[n].ifname, sizeof(p[n].ifname));
		snprintf(p[n].mac, sizeof(p[n].mac), "%s", nic->mac);
		snprintf(p[n].address, sizeof(p[n].address), "%s", nic->address);
		n++;
	}
	net_ports_set(id, p, n);
}

/* template.h's hook: does a VM's disk use the template in dir? */
static int
template_used(const char *dir)
{
	int used = 0;

	vmt_lock();
	for (struct vm *vm = vmt_first(); vm && !used; vm = vm->next)
		used = strcmp(vm->tpl_dir, dir) == 0;
	vmt_unlock();
	return used;
}

/*
 * A VM directory without a record: a create cut off between making the
 * directory and writing vm.json (nothing else refers to it). Removed.
 * Returns 1 when it was one.
 */
static int
leftover(const char *vms_dir, const char *id)
{
	char dir[900], rec[1000];
	struct stat st;

	if (util_fmt(dir, sizeof(dir), "%s/%s", vms_dir, id) < 0 ||
	    util_fmt(rec, sizeof(rec), "%s/vm.json", dir) < 0)
		return 0;
	if (stat(rec, &st) == 0 || errno != ENOENT)
		return 0;
	log_warnx("vm %s: a directory without a record (a create cut off): removing it", id);
	util_rmtree(dir);
	return 1;
}

int
vm_init(const struct agent_config *cfg)
{
	char path[600];
	struct dirent *de;
	DIR *d;
	int r;

	vmt_cfg = cfg;
	vmt_init();
	if ((r = vmready_init()) < 0)
		return r;
	storage_set_volume_users(vm_volume_users);
	template_set_in_use(template_used);
	snprintf(path, sizeof(path), "%s/vms", cfg->state_dir);
	if ((r = util_mkdirs(path, 0711)) < 0)
		return r;
	d = opendir(path);
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		struct vm *vm;

		if (de->d_name[0] == '.' || strlen(de->d_name) != 16)
			continue;
		if (leftover(path, de->d_name))
			continue;
		vm = vmstore_load(de->d_name);
		if (vm == NULL)
			continue;
		if (vm->migration[0] != '\0' && vmmigrate_resolve(vm)) {
			vmt_lock();
			vmt_put(vm);
			vmt_unlock();
			continue;
		}
		vmt_lock();
		if (vm->pidfd >= 0 && !vm->ready)
			vmready_arm(vm);
		vmstore_save(vm);
		vmt_add(vm);
		vmt_unlock();
		vm_ports_publish(vm);
	}
	closedir(d);
	if ((r = template_init()) < 0)
		return r;
	return vmwatch_start();
}

int
vm_volume_users(const char *volume, char *out, size_t len)
{
	struct vm *vm;
	size_t off = 0;
	int n = 0;

	out[0] = '\0';
	vmt_lock();
	for (vm = vmt_first(); vm != NULL; vm = vm->next) {
		char root[80];

		storage_root_name(vm->id, root, sizeof(root));
		if (vmt_is_volume_root(vm) && strcmp(root, volume) == 0) {
			if (off < len)
				off += (size_t)snprintf(out + off, len - off, "%s%s (root)",
							n ? ", " : "", vm->spec.name);
			n++;
		}
		for (unsigned i = 0; i < vm->spec.n_volumes; i++) {
			if (strcmp(vm->spec.volumes[i], volume) != 0)
				continue;
			if (off < len)
				off += (size_t)snprintf(out + off, len - off, "%s%s", n ? ", " : "",
							vm->spec.name);
			n++;
		}
	}
	vmt_unlock();
	return n;
}

json_t *
vm_list(void)
{
	json_t *arr = json_array();
	struct vm *vm;

	vmt_lock();
	for (vm = vmt_first(); vm != NULL; vm = vm->next)
		json_array_append_new(arr, vmt_view(vm));
	vmt_unlock();
	return arr;
}

int
vm_show(const char *name, json_t **out, struct op_error *e)
{
	struct vm *vm;

	vmt_lock();
	vm = vmt_find(name);
	if (vm == NULL) {
		vmt_unlock();
		return op_fail(e, "not_found", -ENOENT, "no VM named '%s'", name);
	}
	*out = vmt_view(vm);
	vmt_unlock();
	return 0;
}

int
vm_start(const char *name, json_t **out, struct op_error *e)
{
	struct vm *vm = vmt_claim(name, e);
	int r;

	if (vm == NULL)
		return -ENOENT;
	r = vmstart_start(vm, e);
	vmt_release(vm, r == 0 ? out : NULL);
	return r;
}

/* ---- create ---------------------------------------------------------- */

static void
derive_mac(const char *id, unsigned i, char *out, size_t len)
{
	/* 52:54:00 is QEMU's locally administered prefix; the rest comes from
	 * the random VM id, so MACs are stable across restarts. */
	snprintf(out, len, "52:54:%.2s:%.2s:%.2s:%02x", id, id + 2, id + 4,
		 (unsigned)(strtoul((char[]){id[6], id[7], 0}, NULL, 16) + i) & 0xff);
}

/*
 * Every clone of a template starts from the same empty overlay: a qcow2
 * header naming the template's root.raw as its backing file, nothing
 * allocated (about 200 KB). qemu-img makes it once per template
 * (<template>/overlay.qcow2); each clone gets a copy. Running qemu-img for
 * every clone cost 20-35 ms of its create here.
 */
static int
clone_overlay(const char *tpl_dir, const char *overlay, char *err, size_t errlen)
{
	char blank[900], tmp[960], backing[900], rnd[17];
	char *buf = NULL;
	size_t len = 0;
	int r;

	snprintf(blank, sizeof(blank), "%s/overlay.qcow2", tpl_dir);
	if (util_read_file(blank, 16u << 20, &buf, &len) < 0) {
		const char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-F",
				      "raw",	  "-b",	    backing, tmp, NULL};

		/* Two clones may make it at once: each writes its own file
		 * and the rename is atomic (both are the same bytes). */
		if ((r = util_random_hex(rnd, 8)) < 0) {
			snprintf(err, errlen, "no randomness");
			return r;
		}
		snprintf(backing, sizeof(backing), "%s/root.raw", tpl_dir);
		snprintf(tmp, sizeof(tmp), "%s.%s.tmp", blank, rnd);
		if ((r = util_run(argv, err, errlen)) < 0) {
			unlink(tmp);
			return r;
		}
		if (rename(tmp, blank) < 0) {
			r = -errno;
			snprintf(err, errlen, "%.300s: %s", blank, strerror(errno));
			unlink(tmp);
			return r;
		}
		if ((r = util_read_file(blank, 16u << 20, &buf, &len)) < 0) {
			snprintf(err, errlen, "%.300s: %s", blank, strerror(-r));
			return r;
		}
	}
	r = util_write_atomic(overlay, buf, len, 0600);
	if (r < 0)
		snprintf(err, errlen, "%.300s: %s", overlay, strerror(-r));
	free(buf);
	return r;
}

/*
 * Clone from a template when one fits (provision "auto" or "clone"); for
 * "clone" build it first if needed. Otherwise boot cold, and for "auto"
 * build the template in the background so the next VM of this fit clones.
 */
static int
choose_provision(struct vm *vm, const char *prov, struct op_error *e)
{
	char err[512], overlay[800];
	struct image im;
	int r;

	snprintf(vm->provision, sizeof(vm->provision), "cold");
	/* With storage a cold VM's root is a clone of its image's base volume
	 * (bases are keyed by the image id: an image without one keeps a file);
	 * clones of templates keep file disks (their saved device state names
	 * a file root). */
	snprintf(vm->root_format, sizeof(vm->root_format), "%s",
		 storage_enabled() && image_find(vm->spec.image, &im) == 0 && strlen(im.id) >= 16 &&
				 !im.firmware /* an uploaded disk is copied as it is */
			 ? "volume"
			 : "raw");
	if (strcmp(prov, "cold") == 0)
		return 0;
	/* A template's saved device state has no volume disks: restoring it
	 * into a QEMU with more disks would fail, so VMs with volumes boot
	 * cold (and build no template). */
	if (vm->spec.n_volumes > 0) {
		if (strcmp(prov, "clone") == 0)
			return op_fail(e, "invalid", -EINVAL,
				    "a VM with volumes cannot be cloned from a template");
		return 0;
	}
	r = template_lookup(&vm->spec, vm->tpl_dir, sizeof(vm->tpl_dir), vm->tpl_ram,
			    sizeof(vm->tpl_ram));
	if (r == -ENOTSUP && strcmp(prov, "clone") == 0)
		return op_fail(e, "invalid", -EINVAL,
			    "image '%s' has no template mode: its VMs boot cold", vm->spec.image);
	if (r < 0 && strcmp(prov, "clone") == 0) {
		if ((r = template_build(&vm->spec, err, sizeof(err))) < 0)
			return op_fail(e, "internal", r, "cannot build the template: %s", err);
		r = template_lookup(&vm->spec, vm->tpl_dir, sizeof(vm->tpl_dir), vm->tpl_ram,
				    sizeof(vm->tpl_ram));
	}
	if (r < 0) {
		vm->tpl_dir[0] = vm->tpl_ram[0] = '\0';
		template_build_async(&vm->spec);
		return 0;
	}
	/* The clone's disk: a copy-on-write overlay of the template's. */
	vmt_path(vm, "root.qcow2", overlay, sizeof(overlay));
	if ((r = clone_overlay(vm->tpl_dir, overlay, err, sizeof(err))) < 0)
		return op_fail(e, "internal", r, "cannot make the clone's disk: %s", err);
	if (chown(overlay, vmt_cfg->vm_uid, vmt_cfg->vm_gid) < 0 && geteuid() == 0)
		return op_fail(e, "internal", -errno, "chown: %s", strerror(errno));
	snprintf(vm->provision, sizeof(vm->provision), "clone");
	snprintf(vm->root_format, sizeof(vm->root_format), "qcow2");
	vm->root_gib = vm->spec.disk_gib;
	vm->clone_pending = 1;
	return 0;
}

/*
 * The spec's NICs on platform networks get this host's namespace, bridge
 * and gateway (never the caller's), and their addresses are checked.
 */
int
vm_nics_resolve(struct vm_spec *spec, struct op_error *e)
{
	char err[512];
	unsigned i;
	int r;

	for (i = 0; i < spec->n_nics; i++) {
		struct spec_nic *nic = &spec->nics[i];
		char gw[16];
		unsigned prefix;

		if (nic->network[0] == '\0')
			continue;
		if ((r = net_nic_resolve(nic->network, nic->netns, sizeof(nic->netns), nic->bridge,
					 sizeof(nic->bridge), gw, sizeof(gw), &prefix, err,
					 sizeof(err))) < 0)
			return op_fail(e, "invalid", r, "%s", err);
		if (nic->gateway[0] == '\0' && nic->address[0] != '\0')
			snprintf(nic->gateway, sizeof(nic->gateway), "%s", gw);
		if (nic->address[0] != '\0') {
			struct net_cidr a, g;

			netstate_parse_cidr(gw, 0, 0, &g);
			if (netstate_parse_cidr(nic->address, 1, 0, &a) < 0 || a.prefix != prefix ||
			    (a.addr >> (32 - prefix)) != (g.addr >> (32 - prefix)) ||
			    a.addr == g.addr || a.addr == g.addr + 1 || a.addr == g.addr - 1 ||
			    (prefix < 31 && (~a.addr & (0xffffffffu >> prefix)) == 0))
				return op_fail(e, "invalid", -EINVAL,
					    "nic address %s is not a host address on network %s",
					    nic->address, nic->network);
		}
	}
	return 0;
}

int
vm_create(const json_t *args, json_t **out, struct op_error *e)
{
	struct spec_limits lim;
	struct vm *vm;
	json_t *start;
	const char *prov;
	char err[512];
	unsigned i;
	int r;

	if (!json_is_object(args))
		return op_fail(e, "invalid", -EINVAL, "arguments must be an object");
	start = json_object_get(args, "start");
	if (start != NULL && !json_is_boolean(start))
		return op_fail(e, "invalid", -EINVAL, "start must be true or false");
	prov = json_string_value(json_object_get(args, "provision"));
	if (json_object_get(args, "provision") != NULL &&
	    (prov == NULL ||
	     (strcmp(prov, "auto") != 0 && strcmp(prov, "clone") != 0 && strcmp(prov, "cold") != 0)))
		return op_fail(e, "invalid", -EINVAL, "provision must be auto, clone or cold");
	if (prov == NULL)
		prov = "auto";
	vm = vmt_new();
	if (vm == NULL)
		return op_fail(e, "internal", -ENOMEM, "out of memory");
	{
		json_t *spec = json_deep_copy(args);

		json_object_del(spec, "start");
		json_object_del(spec, "provision");
		vmt_limits(&lim);
		r = spec_parse(spec, &lim, &vm->spec, err, sizeof(err));
		json_decref(spec);
	}
	if (r < 0) {
		vmt_put(vm);
		return op_fail(e, "invalid", r, "%s", err);
	}
	if ((r = storage_check_volumes(&vm->spec, e)) < 0) {
		vmt_put(vm);
		return r;
	}
	if ((r = util_random_hex(vm->id, 8)) < 0) {
		vmt_put(vm);
		return op_fail(e, "internal", r, "no randomness");
	}
	snprintf(vm->dir, sizeof(vm->dir), "%s/vms/%s", vmt_cfg->state_dir, vm->id);
	if ((r = vm_nics_resolve(&vm->spec, e)) < 0) {
		vmt_put(vm);
		return r;
	}
	for (i = 0; i < vm->spec.n_nics; i++)
		if (vm->spec.nics[i].mac[0] == '\0')
			derive_mac(vm->id, i, vm->spec.nics[i].mac, sizeof(vm->spec.nics[i].mac));
	vm->state = VM_STOPPED;
	vm->accel = vmt_cfg->host.accel;
	vm->busy = 1;
	util_rfc3339(vm->created_at, sizeof(vm->created_at));

	/* Reserve the name before the slow part, so a duplicate fails fast. */
	vmt_lock();
	if (vmt_find(vm->spec.name) != NULL) {
		vmt_unlock();
		r = op_fail(e, "conflict", -EEXIST, "a VM named '%s' already exists",
			 vm->spec.name);
		vmt_put(vm);
		return r;
	}
	vmt_ref(vm); /* the table's; ours is released at the end */
	vmt_add(vm);
	vmt_unlock();

	if (mkdir(vm->dir, 0700) < 0) {
		r = op_fail(e, "internal", -errno, "cannot create %s: %s", vm->dir,
			 strerror(errno));
		goto undo;
	}
	if (chown(vm->dir, vmt_cfg->vm_uid, vmt_cfg->vm_gid) < 0 && geteuid() == 0) {
		r = op_fail(e, "internal", -errno, "chown %s: %s", vm->dir, strerror(errno));
		goto undo;
	}
	if ((r = choose_provision(vm, prov, e)) < 0)
		goto undo;
	vmt_lock();
	vmstore_save(vm);
	vmt_unlock();
	/* Its MAC and address join the tenant's anti-spoofing set and DHCP
	 * leases before its first packet. */
	vm_ports_publish(vm);
	if (start == NULL || json_is_true(start)) {
		r = vmstart_start(vm, e);
		if (r < 0)
			goto undo;
	} else if ((r = vmstart_prepare_root(vm, &vm->spec, e)) < 0) {
		goto undo;
	} else {
		vmt_lock();
		vmstore_save(vm); /* root_gib: what was made */
		vmt_unlock();
	}
	log_info("vm %s (%s): created", vm->id, vm->spec.name);
	vmt_release(vm, out);
	return 0;
undo:
	/* Creating is all or nothing: remove every trace. */
	if (vm->spec.n_volumes > 0 || vmt_is_volume_root(vm))
		storage_export_delete(vm->id);
	if (vmt_is_volume_root(vm))
		storage_root_delete(vm->id);
	util_rmtree(vm->dir);
	net_ports_set(vm->id, NULL, 0);
	vmt_lock();
	vmt_remove(vm);
	vmt_broadcast();
	vmt_put(vm);
	vmt_unlock();
	return r;
}

