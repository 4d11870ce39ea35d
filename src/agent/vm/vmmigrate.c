/* vmmigrate.c - see vmmigrate.h: the destination's side (prepare,
 * finish, abort) and the decision at agent start */
#define _GNU_SOURCE
#include "vmmigrate.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "storage.h"
#include "tlsid.h"
#include "util.h"
#include "vmmigcold.h"
#include "vmmigio.h"
#include "vmready.h"
#include "vmstart.h"
#include "vmstore.h"

/* Finish and abort of prepared VMs: one at a time. */
static pthread_mutex_t prep_mtx = PTHREAD_MUTEX_INITIALIZER;

/*
 * The destination makes one migration's credentials (tlsid.h): the server
 * side stays in <vm>/tls-srv for its QEMU, the client side goes to the
 * caller in prepare's answer ({ca, cert, key}: a one-time key, valid for a
 * day and only against this prepared VM) and from there to the source.
 */
static int
tls_make(struct vm *vm, json_t **creds, struct op_error *e)
{
	static const char *const files[] = {"ca-cert.pem", "client-cert.pem",
					    "client-key.pem"};
	static const char *const keys[] = {"ca", "cert", "key"};
	char srv[800], cli[800], path[900], err[300], *text;
	int r = 0;

	vmt_path(vm, "tls-srv", srv, sizeof(srv));
	vmt_path(vm, "tls-cli", cli, sizeof(cli));
	if ((r = tlsid_migration_creds(srv, cli, vmt_cfg->underlay_address,
				       geteuid() == 0 ? vmt_cfg->vm_uid : (uid_t)-1,
				       vmt_cfg->vm_gid, err, sizeof(err))) < 0)
		return op_fail(e, "internal", r, "%s", err);
	*creds = json_object();
	for (size_t i = 0; i < ARRAY_LEN(files) && r == 0; i++) {
		size_t len;

		snprintf(path, sizeof(path), "%s/%s", cli, files[i]);
		if ((r = util_read_file(path, VMMIG_PEM_MAX, &text, &len)) < 0)
			break;
		json_object_set_new(*creds, keys[i], json_stringn(text, len));
		explicit_bzero(text, len);
		free(text);
	}
	util_rmtree(cli);
	if (r < 0) {
		json_decref(*creds);
		*creds = NULL;
		return op_fail(e, "internal", r, "the migration's certificates: %s",
			       strerror(-r));
	}
	return 0;
}

/* The keys of a spec (a VM view has more: they are dropped). */
static json_t *
spec_only(const json_t *view)
{
	static const char *const keys[] = {"name",	 "hostname", "image",	  "vcpus",
					   "memory_mib", "disk_gib", "user_data", "nics",
					   "tenant",	 "volumes"};
	json_t *s = json_object();

	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		json_t *v = json_object_get(view, keys[i]);

		if (v != NULL && !json_is_null(v))
			json_object_set(s, keys[i], v);
	}
	return s;
}

static int
make_root(struct vm *vm, struct op_error *e)
{
	char path[800];
	int fd, r = 0;

	vmt_path(vm, "root.raw", path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return op_fail(e, "internal", -errno, "%s: %s", path, strerror(errno));
	/* Sparse: the source writes what it has, zeroes stay holes. */
	if (ftruncate(fd, (off_t)(vm->spec.disk_gib << 30)) < 0 ||
	    (fchown(fd, vmt_cfg->vm_uid, vmt_cfg->vm_gid) < 0 && geteuid() == 0))
		r = op_fail(e, "internal", -errno, "%s: %s", path, strerror(errno));
	close(fd);
	return r;
}

/*
 * The waiting QEMU: RAM and devices on one listening socket, the root disk
 * through its NBD server on another, both made in the underlay namespace.
 * XXX: QEMU 7.2's migrate-incoming takes a URI only (8.x has "channels");
 * "tcp:fd:NAME" reaches its socket address parser, which takes "fd:NAME"
 * as a listening descriptor handed over with getfd.
 */
static int
incoming_setup(struct vm *vm, int tls, unsigned *mport, unsigned *nport,
	       struct op_error *e)
{
	json_t *blocks = NULL, *b, *nbd = NULL;
	char drives[VMMIG_DRIVES_MAX][8], id[80];
	unsigned n = vmmigio_drives(vm, drives);
	struct qmp *q;
	size_t i;
	int fd, r;

	if ((r = vmmigio_qmp(vm, &q, e)) < 0)
		return r;
	/* TLS: the source must show the client certificate of this migration
	 * (verify-peer), for the RAM stream and for the disk. */
	if (tls &&
	    ((r = vmmigio_tls_object(q, vm, "server", e)) < 0 ||
	     (r = vmmigio_cmd(q, "migrate-set-parameters",
			      json_pack("{s:s}", "tls-creds", VMMIG_TLS), NULL, e)) < 0))
		goto out;
	/* return-path: this side tells the source whether it loaded the whole
	 * state; the source counts the migration completed only then. */
	if ((r = vmmigio_cmd(q, "migrate-set-capabilities",
			     json_pack("{s:[{s:s, s:b}]}", "capabilities", "capability",
				       "return-path", "state", 1),
			     NULL, e)) < 0)
		goto out;
	if ((fd = r = vmmigio_listen(mport, e)) < 0 ||
	    (r = vmmigio_give_fd(q, "mig-in", fd, e)) < 0 ||
	    (r = vmmigio_cmd(q, "migrate-incoming",
			     json_pack("{s:s}", "uri", "tcp:fd:mig-in"), NULL, e)) < 0)
		goto out;
	nbd = json_pack("{s:{s:s, s:{s:s}}}", "addr", "type", "fd", "data", "str",
			"mig-nbd");
	if (tls)
		json_object_set_new(nbd, "tls-creds", json_string(VMMIG_TLS));
	if ((fd = r = vmmigio_listen(nport, e)) < 0 ||
	    (r = vmmigio_give_fd(q, "mig-nbd", fd, e)) < 0 ||
	    (r = vmmigio_cmd(q, "nbd-server-start", json_incref(nbd), NULL, e)) < 0 ||
	    (r = vmmigio_cmd(q, "query-block", NULL, &blocks, e)) < 0)
		goto out;
	/* Each drive (the root, then the volumes: the source mirrors each
	 * into its export of the same name). */
	for (unsigned d = 0; d < n && r == 0; d++) {
		const char *node = NULL;

		json_array_foreach(blocks, i, b) {
			if (strcmp(json_string_value(json_object_get(b, "device")) ?: "",
				   drives[d]) == 0)
				node = json_string_value(json_object_get(
				    json_object_get(b, "inserted"), "node-name"));
		}
		if (node == NULL) {
			r = op_fail(e, "internal", -ENOENT, "the waiting QEMU has no drive %s",
				    drives[d]);
			break;
		}
		snprintf(id, sizeof(id), "mig-%s", drives[d]);
		r = vmmigio_cmd(q, "block-export-add",
				json_pack("{s:s, s:s, s:s, s:s, s:b}", "type", "nbd", "id", id,
					  "node-name", node, "name", drives[d], "writable", 1),
				NULL, e);
	}
out:
	json_decref(nbd);
	json_decref(blocks);
	qmp_close(q);
	return r;
}

/* What prepare makes in this host's pool: the attached volumes' sizes and
 * redundancy (the source's, in prepare's "volumes"), and the pool capacity
 * they take (their allocated bytes on the source). */
struct incoming_vols {
	uint64_t size[SPEC_VOLUMES_MAX];
	char redundancy[SPEC_VOLUMES_MAX][8];
	uint64_t need;
};

/* prepare's "volumes": [{name, size, redundancy, allocated}], one for
 * each volume of the spec. */
static int
volumes_arg(const json_t *args, const struct vm_spec *s, struct incoming_vols *iv,
	    struct op_error *e)
{
	json_t *list = json_object_get(args, "volumes"), *v;
	size_t i;

	memset(iv, 0, sizeof(*iv));
	if (list != NULL && !json_is_array(list))
		return op_fail(e, "invalid", -EINVAL,
			       "volumes must be [{name, size, redundancy, allocated}]");
	for (unsigned k = 0; k < s->n_volumes; k++) {
		const json_t *found = NULL;
		const char *red;

		json_array_foreach(list, i, v) {
			if (strcmp(json_string_value(json_object_get(v, "name")) ?: "",
				   s->volumes[k]) == 0)
				found = v;
		}
		if (found == NULL || !json_is_integer(json_object_get(found, "size")) ||
		    json_integer_value(json_object_get(found, "size")) <= 0)
			return op_fail(e, "invalid", -EINVAL,
				       "volumes must give the size of volume '%s' (bytes)",
				       s->volumes[k]);
		iv->size[k] = (uint64_t)json_integer_value(json_object_get(found, "size"));
		red = json_string_value(json_object_get(found, "redundancy")) ?: "mirror";
		if (strcmp(red, "mirror") != 0 && strcmp(red, "stripe") != 0)
			return op_fail(e, "invalid", -EINVAL,
				       "volume '%s': redundancy must be mirror or stripe",
				       s->volumes[k]);
		snprintf(iv->redundancy[k], sizeof(iv->redundancy[k]), "%s", red);
		v = json_object_get(found, "allocated");
		iv->need += json_is_integer(v) && json_integer_value(v) >= 0
				? (uint64_t)json_integer_value(v)
				: iv->size[k];
	}
	return 0;
}

static int
prepare_args(const json_t *args, struct vm *vm, struct incoming_vols *iv, struct op_error *e)
{
	const char *id = json_string_value(json_object_get(args, "id"));
	const char *rootfmt =
	    json_string_value(json_object_get(json_object_get(args, "spec"), "root_format"));
	json_t *spec, *live = json_object_get(args, "live");
	struct spec_limits lim;
	char err[512];
	int r;

	if (id == NULL || strlen(id) != 16 || strspn(id, "0123456789abcdef") != 16)
		return op_fail(e, "invalid", -EINVAL,
			       "id must be the VM's 16 hex digits");
	if (live != NULL && !json_is_boolean(live))
		return op_fail(e, "invalid", -EINVAL, "live must be true or false");
	if (!json_is_object(json_object_get(args, "spec")))
		return op_fail(e, "invalid", -EINVAL,
			       "spec must be the VM's spec (an object)");
	vmt_limits(&lim);
	spec = spec_only(json_object_get(args, "spec"));
	r = spec_parse(spec, &lim, &vm->spec, err, sizeof(err));
	json_decref(spec);
	if (r < 0)
		return op_fail(e, "invalid", r, "%s", err);
	if ((r = volumes_arg(args, &vm->spec, iv, e)) < 0)
		return r;
	/* A root volume arrives as a root volume (made here empty, filled by
	 * the copy), a file root as a file. */
	snprintf(vm->root_format, sizeof(vm->root_format), "%s",
		 rootfmt != NULL && strcmp(rootfmt, "volume") == 0 ? "volume" : "raw");
	if ((vm->spec.n_volumes > 0 || vmt_is_volume_root(vm)) && !storage_enabled())
		return op_fail(e, "conflict", -ENODEV,
			       "the VM has volumes and this host has no storage pool");
	for (unsigned i = 0; i < vm->spec.n_nics; i++)
		if (vm->spec.nics[i].mac[0] == '\0')
			return op_fail(e, "invalid", -EINVAL, "every NIC needs its MAC");
	if ((r = vm_nics_resolve(&vm->spec, e)) < 0)
		return r;
	snprintf(vm->id, sizeof(vm->id), "%s", id);
	snprintf(vm->dir, sizeof(vm->dir), "%s/vms/%s", vmt_cfg->state_dir, id);
	vm->mig_live = live == NULL || json_is_true(live);
	vm->mig_ready = json_is_true(json_object_get(args, "ready"));
	vm->booted_ram0 = json_is_true(json_object_get(args, "from_template"));
	if (json_object_get(args, "tls") != NULL &&
	    !json_is_boolean(json_object_get(args, "tls")))
		return op_fail(e, "invalid", -EINVAL, "tls must be true or false");
	return 0;
}

/* The destination's exports of the drives go (mode hard: the source's
 * NBD clients may still be connected), then its NBD server. */
static int
exports_del(struct vm *vm, struct qmp *q, struct op_error *e)
{
	char drives[VMMIG_DRIVES_MAX][8], id[80];
	unsigned n = vmmigio_drives(vm, drives);
	int r = 0;

	for (unsigned d = 0; d < n; d++) {
		snprintf(id, sizeof(id), "mig-%s", drives[d]);
		if (vmmigio_cmd(q, "block-export-del",
				json_pack("{s:s, s:s}", "id", id, "mode", "hard"), NULL, e) < 0)
			r = -EIO;
	}
	if (vmmigio_cmd(q, "nbd-server-stop", NULL, NULL, e) < 0)
		r = -EIO;
	return r;
}

/* Reserve name and id in the table (the table takes a reference). */
static int
reserve(struct vm *vm, struct op_error *e)
{
	vmt_lock();
	for (struct vm *o = vmt_first(); o != NULL; o = o->next)
		if (strcmp(o->spec.name, vm->spec.name) == 0 ||
		    strcmp(o->id, vm->id) == 0) {
			vmt_unlock();
			return op_fail(e, "conflict", -EEXIST,
				       "a VM named '%s' or with id %s is here",
				       vm->spec.name, vm->id);
		}
	vmt_ref(vm);
	vmt_add(vm);
	vmt_unlock();
	return 0;
}

/*
 * Refused before anything is made here: memory for a live VM (as a start
 * checks it), and the pool's free capacity for what the volumes hold on
 * the source.
 */
static int
room(struct vm *vm, const struct incoming_vols *iv, struct op_error *e)
{
	uint64_t free_bytes;
	int r = 0;

	if (vm->mig_live) {
		vmt_lock();
		r = vmstart_memory_fits(vm, e);
		vmt_unlock();
		if (r < 0)
			return r;
	}
	if (vm->spec.n_volumes == 0 && !vmt_is_volume_root(vm))
		return 0;
	if ((r = storage_free_bytes(&free_bytes, e)) < 0)
		return r;
	if (iv->need > free_bytes)
		return op_fail(e, "insufficient_resources", -ENOSPC,
			       "not enough room in this host's storage pool: the volumes hold "
			       "%llu MiB, %llu MiB free",
			       (unsigned long long)(iv->need >> 20),
			       (unsigned long long)(free_bytes >> 20));
	return 0;
}

/* The volumes, empty, in this host's pool: the root volume (a root volume
 * VM) and the attached ones, recorded as this migration's (an abort
 * deletes them). A volume of the same name here already is a conflict. */
static int
make_volumes(struct vm *vm, const struct incoming_vols *iv, struct op_error *e)
{
	char root[80];
	size_t off;
	int r;

	if (vmt_is_volume_root(vm)) {
		storage_root_name(vm->id, root, sizeof(root));
		if ((r = storage_volume_make(storage_root_tenant(&vm->spec), root,
					     vm->spec.disk_gib << 30, "mirror", e)) < 0) {
			/* Not ours: the removal after this failure keeps it. */
			snprintf(vm->root_format, sizeof(vm->root_format), "raw");
			return r;
		}
	}
	for (unsigned i = 0; i < vm->spec.n_volumes; i++) {
		if ((r = storage_volume_make(vm->spec.tenant, vm->spec.volumes[i], iv->size[i],
					     iv->redundancy[i], e)) < 0)
			return r;
		vmt_lock();
		off = strlen(vm->mig_volumes);
		snprintf(vm->mig_volumes + off, sizeof(vm->mig_volumes) - off, "%s%s",
			 off ? "," : "", vm->spec.volumes[i]);
		vmstore_save(vm);
		vmt_unlock();
	}
	return 0;
}

/* Everything a prepare made: its QEMU or qemu-nbd, directory, ports,
 * export, root volume and the volumes it created (takes the reference). */
static int
remove_prepared(struct vm *vm, struct op_error *e)
{
	char vols[sizeof(vm->mig_volumes)], *save = NULL, *v;
	int r;

	vmmigcold_stop(vm);
	snprintf(vols, sizeof(vols), "%s", vm->mig_volumes);
	r = vmops_delete(vm, e); /* takes our reference */
	for (v = strtok_r(vols, ",", &save); v != NULL; v = strtok_r(NULL, ",", &save))
		storage_volume_drop(v);
	return r;
}

static int
prepare_here(struct vm *vm, const struct incoming_vols *iv, int tls, json_t **out,
	     struct op_error *e)
{
	char nbd[64], uri[40];
	unsigned mport = 0, nport = 0;
	json_t *creds = NULL;
	int r, lfd;

	if (mkdir(vm->dir, 0700) < 0)
		return op_fail(e, "internal", -errno, "cannot create %s: %s", vm->dir,
			       strerror(errno));
	if (chown(vm->dir, vmt_cfg->vm_uid, vmt_cfg->vm_gid) < 0 && geteuid() == 0)
		return op_fail(e, "internal", -errno, "chown %s: %s", vm->dir,
			       strerror(errno));
	vmt_lock();
	vmstore_save(vm);
	vmt_unlock();
	if ((r = make_volumes(vm, iv, e)) < 0 ||
	    (!vmt_is_volume_root(vm) && (r = make_root(vm, e)) < 0))
		return r;
	vmt_lock();
	vmstore_save(vm);
	vmt_unlock();
	/* Its MAC and address join this host's anti-spoofing set before the
	 * guest sends its first packet here. */
	vm_ports_publish(vm);
	if (tls && (r = tls_make(vm, &creds, e)) < 0)
		return r;
	if (vm->mig_live) {
		if ((r = vmstart_start(vm, e)) < 0 ||
		    (r = incoming_setup(vm, tls, &mport, &nport, e)) < 0)
			goto fail;
	} else {
		if ((lfd = r = vmmigio_listen(&nport, e)) < 0)
			goto fail;
		r = vmmigcold_serve(vm, lfd, tls, e);
		close(lfd);
		if (r < 0)
			goto fail;
		vmt_lock();
		vmstore_save(vm); /* the qemu-nbd's pid */
		vmt_unlock();
	}
	snprintf(nbd, sizeof(nbd), "nbd://%s:%u/%s", vmt_cfg->underlay_address, nport,
		 VMMIG_EXPORT);
	snprintf(uri, sizeof(uri), "tcp:%s:%u", vmt_cfg->underlay_address, mport);
	*out = json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", vm->id, "name", vm->spec.name,
			 "nbd", nbd, "uri", vm->mig_live ? json_string(uri) : json_null(),
			 "tls", creds ? creds : json_null());
	return 0;
fail:
	json_decref(creds);
	return r;
}

int
vmmigrate_prepare(const json_t *args, json_t **out, struct op_error *e)
{
	struct vm *vm = vmt_new();
	struct incoming_vols iv;
	int r, tls;

	if (vm == NULL)
		return op_fail(e, "internal", -ENOMEM, "out of memory");
	if ((r = prepare_args(args, vm, &iv, e)) < 0) {
		vmt_put(vm);
		return r;
	}
	vm->state = VM_STOPPED;
	vm->accel = vmt_cfg->host.accel;
	vm->busy = 1; /* the migration owns it until finish or abort */
	snprintf(vm->migration, sizeof(vm->migration), "incoming");
	snprintf(vm->provision, sizeof(vm->provision), "cold");
	vm->root_gib = vm->spec.disk_gib;
	util_rfc3339(vm->created_at, sizeof(vm->created_at));
	if ((r = reserve(vm, e)) < 0) {
		vmt_put(vm);
		return r;
	}
	tls = json_object_get(args, "tls") == NULL ||
	      json_is_true(json_object_get(args, "tls"));
	if ((r = room(vm, &iv, e)) < 0 || (r = prepare_here(vm, &iv, tls, out, e)) < 0) {
		struct op_error e2;

		remove_prepared(vm, &e2); /* takes our reference */
		return r;
	}
	log_info("vm %s (%s): prepared for an incoming %s migration", vm->id,
		 vm->spec.name, vm->mig_live ? "live" : "cold");
	vmt_lock();
	vmt_put(vm);
	vmt_unlock();
	return 0;
}

/* A prepared VM by name, with a reference; NULL (and *found 0) if none. */
static struct vm *
prepared(const char *name, int *found, struct op_error *e)
{
	struct vm *vm;

	vmt_lock();
	vm = vmt_find(name);
	*found = vm != NULL;
	if (vm != NULL && strcmp(vm->migration, "incoming") != 0) {
		vmt_unlock();
		op_fail(e, "conflict", -EINVAL,
			"VM '%s' is not a prepared incoming migration", name);
		return NULL;
	}
	if (vm != NULL)
		vmt_ref(vm);
	vmt_unlock();
	if (vm == NULL && e != NULL)
		op_fail(e, "not_found", -ENOENT, "no VM named '%s'", name);
	return vm;
}

/* The live destination after the switch: QEMU runs the guest; its
 * export goes and the guest's MACs are announced once more. */
static int
finish_live(struct vm *vm, struct op_error *e)
{
	json_t *info = NULL;
	const char *st;
	struct qmp *q;
	int r;

	if ((r = vmmigio_qmp(vm, &q, e)) < 0)
		return r;
	st = vmmigio_status(q, &info);
	if (st == NULL || strcmp(st, "completed") != 0) {
		r = op_fail(e, "conflict", -EAGAIN,
			    "the incoming migration has not completed (%s)",
			    st ? st : "no answer");
		goto out;
	}
	if ((r = exports_del(vm, q, e)) < 0)
		goto out;
	vmmigio_tls_drop(q, vm, "tls-srv");
	vmmigio_cmd(q, "announce-self",
		    json_pack("{s:i, s:i, s:i, s:i}", "initial", 50, "max", 550, "rounds",
			      5, "step", 100),
		    NULL, e);
	r = 0;
out:
	json_decref(info);
	qmp_close(q);
	return r;
}

int
vmmigrate_finish(const char *name, json_t **out, struct op_error *e)
{
	struct vm *vm;
	char id[17];
	int found, r;

	pthread_mutex_lock(&prep_mtx);
	vm = prepared(name, &found, e);
	if (vm == NULL && found) {
		/* Finished already (or adopted at an agent restart). */
		vmt_lock();
		if ((vm = vmt_find(name)) != NULL)
			*out = vmt_view(vm);
		vmt_unlock();
		pthread_mutex_unlock(&prep_mtx);
		return vm != NULL ? 0 : -ENOENT;
	}
	if (vm == NULL) {
		pthread_mutex_unlock(&prep_mtx);
		return -ENOENT;
	}
	snprintf(id, sizeof(id), "%s", vm->id);
	r = 0;
	if (vm->mig_live) {
		r = finish_live(vm, e);
	} else {
		vmmigcold_stop(vm);
		vmmigio_tls_drop(NULL, vm, "tls-srv");
		/* The export was qemu-storage-daemon's; a start makes its own. */
		if (vm->spec.n_volumes > 0 || vmt_is_volume_root(vm))
			storage_export_delete(vm->id);
	}
	vmt_lock();
	if (r == 0) {
		vm->migration[0] = '\0';
		vm->mig_volumes[0] = '\0'; /* the VM's own now */
		vm->busy = 0;
		if (vm->mig_live && vm->mig_ready) {
			vmready_disarm(vm);
			vm->ready = 1;
		}
		vmstore_save(vm);
		vmt_broadcast();
		*out = vmt_view(vm);
	}
	vmt_put(vm);
	vmt_unlock();
	pthread_mutex_unlock(&prep_mtx);
	if (r == 0)
		log_info("vm %s (%s): incoming migration finished", id, name);
	return r;
}

/* Did this prepared VM's QEMU report its incoming migration completed? */
static int
incoming_completed(struct vm *vm)
{
	struct op_error ig;
	struct qmp *q;
	json_t *info = NULL;
	const char *st;
	int done;

	if (vmmigio_qmp(vm, &q, &ig) < 0)
		return 0;
	st = vmmigio_status(q, &info);
	done = st != NULL && strcmp(st, "completed") == 0;
	json_decref(info);
	qmp_close(q);
	return done;
}

int
vmmigrate_abort(const char *name, struct op_error *e)
{
	struct vm *vm;
	int found, r;

	pthread_mutex_lock(&prep_mtx);
	vm = prepared(name, &found, e);
	if (vm == NULL) {
		pthread_mutex_unlock(&prep_mtx);
		/* Nothing prepared: done (an abort may come twice, or after a
		 * restart removed it). A finished VM is not touched. */
		return found ? -EINVAL : 0;
	}
	/* A live migration QEMU completed is the only running copy (the
	 * source's guest stopped at the switch): never removed by an abort,
	 * e.g. one a caller sends after it lost the send's answer. */
	if (vm->mig_live && incoming_completed(vm)) {
		log_warnx("vm %s (%s): abort refused: its incoming migration completed", vm->id,
			  name);
		vmt_lock();
		vmt_put(vm);
		vmt_unlock();
		pthread_mutex_unlock(&prep_mtx);
		return op_fail(e, "conflict", -EBUSY,
			       "the migration of '%s' completed: the guest runs here; finish it",
			       name);
	}
	log_info("vm %s (%s): incoming migration aborted", vm->id, name);
	r = remove_prepared(vm, e); /* takes our reference */
	pthread_mutex_unlock(&prep_mtx);
	return r;
}

static int
resolve_incoming(struct vm *vm)
{
	struct op_error e;
	json_t *info = NULL;
	const char *st = NULL;

	if (vm->mig_live && vm->events != NULL)
		st = vmmigio_status(vm->events, &info);
	if (st != NULL && strcmp(st, "completed") == 0) {
		/* The guest runs here and the source removed its copy. */
		exports_del(vm, vm->events, &e);
		vmmigio_tls_drop(vm->events, vm, "tls-srv");
		vm->migration[0] = '\0';
		vm->mig_volumes[0] = '\0';
		if (vm->mig_ready)
			vm->ready = 1;
		vmstore_save(vm);
		json_decref(info);
		log_warnx(
		    "vm %s (%s): its incoming migration completed while the agent was "
		    "down: adopted",
		    vm->id, vm->spec.name);
		return 0;
	}
	json_decref(info);
	if (!vm->mig_live)
		vmmigcold_stop(vm);
	log_warnx(
	    "vm %s (%s): an incoming migration not finished before the agent restarted: "
	    "removed (the source keeps the VM)",
	    vm->id, vm->spec.name);
	vmmigio_remove(vm);
	return 1;
}

int
vmmigrate_resolve(struct vm *vm)
{
	if (strcmp(vm->migration, "incoming") == 0)
		return resolve_incoming(vm);
	if (strcmp(vm->migration, "outgoing") == 0)
		return vmmigrate_resolve_outgoing(vm);
	return 0;
}
