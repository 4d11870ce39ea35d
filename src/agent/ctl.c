/* ctl.c - see ctl.h. A table of subcommands, each with its usage line. */
#define _GNU_SOURCE
#include "ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "msg.h"
#include "util.h"

static const char *sock_path = "/run/cloudlet/agent.sock";
static int json_out;

struct cmd {
	const char *name; /* "vm create" */
	const char *usage;
	int (*fn)(int argc, char **argv);
};

/* Send one request, return the reply (new ref) or NULL after printing why. */
static json_t *
call(json_t *req)
{
	json_t *reply = NULL;
	int connected, r;

	r = msg_call(sock_path, req, &reply, &connected);
	json_decref(req);
	if (r < 0) {
		if (!connected)
			fprintf(stderr, "error: cannot connect to the agent at %s: %s\n",
				sock_path, strerror(-r));
		else
			fprintf(stderr, "error: agent: %s\n", strerror(-r));
		return NULL;
	}
	return reply;
}

/* Run op, print errors; returns the result (new ref) or NULL. */
static json_t *
run(const char *op, json_t *args)
{
	json_t *reply = call(json_pack("{s:s, s:o}", "op", op, "args", args));
	json_t *result;

	if (reply == NULL)
		return NULL;
	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_t *err = json_object_get(reply, "error");
		fprintf(stderr, "error: %s: %s\n",
			json_string_value(json_object_get(err, "code")) ?: "?",
			json_string_value(json_object_get(err, "message")) ?: "?");
		json_decref(reply);
		return NULL;
	}
	result = json_incref(json_object_get(reply, "result"));
	json_decref(reply);
	return result;
}

static void
print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s != NULL)
		printf("%s\n", s);
	free(s);
}

static void
print_vm_line(const json_t *vm)
{
	printf("%-20s %-9s %-5s %5lld %8lld %6lld  %-14s %-4s %s\n",
	       json_string_value(json_object_get(vm, "name")),
	       json_string_value(json_object_get(vm, "state")),
	       json_is_true(json_object_get(vm, "ready")) ? "yes" : "no",
	       json_integer_value(json_object_get(vm, "vcpus")),
	       json_integer_value(json_object_get(vm, "memory_mib")),
	       json_integer_value(json_object_get(vm, "disk_gib")),
	       json_string_value(json_object_get(vm, "image")),
	       json_string_value(json_object_get(vm, "accel")),
	       json_string_value(json_object_get(vm, "id")));
}

static int
show_result(json_t *res, int table)
{
	if (res == NULL)
		return 1;
	if (json_out || !table)
		print_json(res);
	else {
		printf("%-20s %-9s %-5s %5s %8s %6s  %-14s %-4s %s\n", "NAME", "STATE", "READY",
		       "VCPUS", "MEM_MIB", "DISK_G", "IMAGE", "ACCEL", "ID");
		if (json_is_array(res)) {
			size_t i;
			json_t *vm;
			json_array_foreach(res, i, vm) print_vm_line(vm);
		} else
			print_vm_line(res);
		if (json_is_object(res) && json_string_length(json_object_get(res, "reason")))
			printf("reason: %s\n", json_string_value(json_object_get(res, "reason")));
	}
	json_decref(res);
	return 0;
}

static int
parse_uint_arg(const char *what, const char *s, json_int_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || s[0] == '-' || s[0] == '\0' || v > (1ULL << 40)) {
		fprintf(stderr, "error: %s must be a non-negative integer\n", what);
		return -1;
	}
	*out = (json_int_t)v;
	return 0;
}

/* "bridge=br0,netns=ns,address=10.0.0.2/24,gateway=10.0.0.1,mac=..,dhcp" */
static json_t *
parse_nic(const char *s)
{
	json_t *nic = json_object();
	char *copy = strdup(s), *tok, *save = NULL;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (strcmp(tok, "dhcp") == 0) {
			json_object_set_new(nic, "dhcp", json_true());
			continue;
		}
		if (eq == NULL) {
			fprintf(stderr, "error: --nic wants key=value pairs, got '%s'\n", tok);
			json_decref(nic);
			free(copy);
			return NULL;
		}
		*eq = '\0';
		json_object_set_new(nic, tok, json_string(eq + 1));
	}
	free(copy);
	return nic;
}

static int
cmd_host(int argc, char **argv)
{
	(void)argc, (void)argv;
	return show_result(run("host.info", json_object()), 0);
}

static int
cmd_image_list(int argc, char **argv)
{
	(void)argc, (void)argv;
	return show_result(run("image.list", json_object()), 0);
}

static int
cmd_vm_list(int argc, char **argv)
{
	(void)argc, (void)argv;
	return show_result(run("vm.list", json_object()), 1);
}

/* --ssh-key FILE: the public key line of FILE (a .pub file) appended to
 * the spec's ssh_keys; the agent validates it. */
static int
add_ssh_key(json_t *args, const char *file)
{
	json_t *keys = json_object_get(args, "ssh_keys");
	char *text = NULL;
	size_t len;
	int r = util_read_file(file, 64 * 1024, &text, NULL);

	if (r < 0) {
		fprintf(stderr, "error: %s: %s\n", file, strerror(-r));
		return r;
	}
	len = strlen(text);
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	if (keys == NULL) {
		keys = json_array();
		json_object_set_new(args, "ssh_keys", keys);
	}
	json_array_append_new(keys, json_string(text));
	free(text);
	return 0;
}

static int
cmd_vm_create(int argc, char **argv)
{
	json_t *args = json_pack("{s:s}", "name", argv[0]), *nics = json_array();
	int i;

	for (i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		json_int_t n;

		if (strcmp(o, "--no-start") == 0) {
			json_object_set_new(args, "start", json_false());
			continue;
		}
		if (v == NULL)
			goto bad;
		i++;
		if (strcmp(o, "--image") == 0)
			json_object_set_new(args, "image", json_string(v));
		else if (strcmp(o, "--provision") == 0)
			json_object_set_new(args, "provision", json_string(v));
		else if (strcmp(o, "--vcpus") == 0 || strcmp(o, "--memory") == 0 ||
			 strcmp(o, "--disk") == 0) {
			const char *key = o[2] == 'v' ? "vcpus" : o[2] == 'm' ? "memory_mib"
										: "disk_gib";
			if (parse_uint_arg(o, v, &n) < 0)
				goto fail;
			json_object_set_new(args, key, json_integer(n));
		} else if (strcmp(o, "--user-data") == 0) {
			char *text = NULL;
			int r = util_read_file(v, 1 << 20, &text, NULL);

			if (r < 0) {
				fprintf(stderr, "error: %s: %s\n", v, strerror(-r));
				goto fail;
			}
			json_object_set_new(args, "user_data", json_string(text));
			free(text);
		} else if (strcmp(o, "--ssh-key") == 0) {
			if (add_ssh_key(args, v) < 0)
				goto fail;
		} else if (strcmp(o, "--nic") == 0) {
			json_t *nic = parse_nic(v);
			if (nic == NULL)
				goto fail;
			json_array_append_new(nics, nic);
		} else
			goto bad;
	}
	if (json_array_size(nics) > 0)
		json_object_set(args, "nics", nics);
	json_decref(nics);
	return show_result(run("vm.create", args), 1);
bad:
	fprintf(stderr, "error: unexpected argument '%s'\n", argv[i]);
fail:
	json_decref(args);
	json_decref(nics);
	return 2;
}

static int
simple(const char *op, const char *name)
{
	return show_result(run(op, json_pack("{s:s}", "name", name)), 1);
}

static int
cmd_vm_show(int argc, char **argv)
{
	(void)argc;
	return show_result(run("vm.show", json_pack("{s:s}", "name", argv[0])), 0);
}

static int
cmd_vm_start(int argc, char **argv)
{
	(void)argc;
	return simple("vm.start", argv[0]);
}

static int
cmd_vm_reboot(int argc, char **argv)
{
	(void)argc;
	return simple("vm.reboot", argv[0]);
}

static int
cmd_vm_pause(int argc, char **argv)
{
	(void)argc;
	return simple("vm.pause", argv[0]);
}

static int
cmd_vm_resume(int argc, char **argv)
{
	(void)argc;
	return simple("vm.resume", argv[0]);
}

static int
cmd_vm_delete(int argc, char **argv)
{
	json_t *res;

	(void)argc;
	res = run("vm.delete", json_pack("{s:s}", "name", argv[0]));
	if (res == NULL)
		return 1;
	json_decref(res);
	if (!json_out)
		printf("deleted %s\n", argv[0]);
	return 0;
}

static int
cmd_vm_stop(int argc, char **argv)
{
	json_t *args = json_pack("{s:s}", "name", argv[0]);
	int i;

	for (i = 1; i < argc; i++) {
		json_int_t n;

		if (strcmp(argv[i], "--force") == 0)
			json_object_set_new(args, "force", json_true());
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc &&
			 parse_uint_arg("--timeout", argv[i + 1], &n) == 0) {
			json_object_set_new(args, "timeout_s", json_integer(n));
			i++;
		} else {
			json_decref(args);
			return 2;
		}
	}
	return show_result(run("vm.stop", args), 1);
}

static int
cmd_vm_resize(int argc, char **argv)
{
	json_t *args = json_pack("{s:s}", "name", argv[0]);
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i];
		const char *key = strcmp(o, "--vcpus") == 0	 ? "vcpus"
				  : strcmp(o, "--memory") == 0 ? "memory_mib"
				  : strcmp(o, "--disk") == 0	 ? "disk_gib"
								 : NULL;
		json_int_t n;

		if (key == NULL || parse_uint_arg(o, argv[i + 1], &n) < 0) {
			json_decref(args);
			return 2;
		}
		json_object_set_new(args, key, json_integer(n));
	}
	if (i != argc) {
		json_decref(args);
		return 2;
	}
	return show_result(run("vm.reconfigure", args), 0);
}

static int
cmd_vm_wait(int argc, char **argv)
{
	json_t *args = json_pack("{s:s, s:s}", "name", argv[0], "for", "ready");
	int i;

	for (i = 1; i < argc; i++) {
		json_int_t n;

		if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			if (parse_uint_arg("--timeout", argv[++i], &n) < 0) {
				json_decref(args);
				return 2;
			}
			json_object_set_new(args, "timeout_s", json_integer(n));
		} else
			json_object_set_new(args, "for", json_string(argv[i]));
	}
	return show_result(run("vm.wait", args), 1);
}

/* Relay the terminal to the VM's serial console until Ctrl-] or EOF. */
static int
attach(const char *path)
{
	struct termios saved, raw;
	int fd = msg_connect_unix(path), tty = isatty(0);
	struct pollfd p[2];

	if (fd < 0) {
		fprintf(stderr, "error: console %s: %s\n", path, strerror(-fd));
		return 1;
	}
	if (tty) {
		tcgetattr(0, &saved);
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
		fprintf(stderr, "attached to %s; Ctrl-] detaches\r\n", path);
	}
	p[0] = (struct pollfd){.fd = 0, .events = POLLIN};
	p[1] = (struct pollfd){.fd = fd, .events = POLLIN};
	for (;;) {
		char buf[4096];
		ssize_t n;
		int rc;

		/*
		 * After the end of piped input, stay until the console has been
		 * quiet for a second: the guest's UART takes the input slowly and
		 * its answer should reach the caller.
		 */
		rc = poll(p, 2, p[0].fd < 0 ? 1000 : -1);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc == 0)
			break;
		if (p[0].revents) {
			n = read(0, buf, sizeof(buf));
			if (tty && n > 0 && memchr(buf, 0x1d, (size_t)n))
				break;
			if (n <= 0) {
				if (tty)
					break;
				p[0].fd = -1;
				p[0].revents = 0;
			} else if (write(fd, buf, (size_t)n) != n)
				break;
		}
		if (p[1].revents) {
			n = read(fd, buf, sizeof(buf));
			if (n <= 0 || write(1, buf, (size_t)n) != n)
				break;
		}
	}
	if (tty)
		tcsetattr(0, TCSANOW, &saved);
	close(fd);
	return 0;
}

static int
cmd_vm_console(int argc, char **argv)
{
	json_t *args = json_pack("{s:s}", "name", argv[0]), *res;
	int i, do_attach = 0, r;

	for (i = 1; i < argc; i++) {
		json_int_t n;

		if (strcmp(argv[i], "--attach") == 0)
			do_attach = 1;
		else if (strcmp(argv[i], "--bytes") == 0 && i + 1 < argc &&
			 parse_uint_arg("--bytes", argv[i + 1], &n) == 0) {
			json_object_set_new(args, "bytes", json_integer(n));
			i++;
		} else {
			json_decref(args);
			return 2;
		}
	}
	if (do_attach) {
		char path[1024];

		json_decref(args);
		res = run("vm.show", json_pack("{s:s}", "name", argv[0]));
		if (res == NULL)
			return 1;
		snprintf(path, sizeof(path), "%s",
			 json_string_value(json_object_get(res, "console_socket")) ?: "");
		json_decref(res);
		return attach(path);
	}
	res = run("vm.console", args);
	if (res == NULL)
		return 1;
	r = fputs(json_string_value(json_object_get(res, "output")) ?: "", stdout) < 0;
	json_decref(res);
	return r;
}

/*
 * Send a raw line (for tests and debugging) and print the whole reply.
 * "-" reads the line from stdin, so requests larger than an argument can
 * be sent. A write the agent cut short is fine: its answer is still read.
 */
/* run() against another agent's socket: a migration's destination. */
static json_t *
run_at(const char *path, const char *op, json_t *args)
{
	const char *own = sock_path;
	json_t *res;

	sock_path = path;
	res = run(op, args);
	sock_path = own;
	return res;
}

/* The source's view into the destination's prepare arguments, with the
 * size, redundancy and allocated bytes of each attached volume (here). */
static json_t *
prepare_args(const json_t *view, int live)
{
	json_t *vols = json_array(), *name;
	size_t i;

	json_array_foreach(json_object_get(view, "volumes"), i, name) {
		json_t *v = run("volume.show", json_pack("{s:O, s:O}", "tenant",
							 json_object_get(view, "tenant"), "name",
							 name));

		if (v == NULL)
			continue; /* the destination refuses without its size */
		json_array_append_new(
		    vols, json_pack("{s:O, s:O, s:O, s:O}", "name", name, "size",
				    json_object_get(v, "size"), "redundancy",
				    json_object_get(v, "redundancy"), "allocated",
				    json_object_get(v, "allocated_bytes")));
		json_decref(v);
	}
	return json_pack("{s:O, s:O, s:b, s:b, s:b, s:o}", "spec", view, "id",
			 json_object_get(view, "id"), "live", live, "ready",
			 json_is_true(json_object_get(view, "ready")), "from_template",
			 json_is_true(json_object_get(json_object_get(view, "booted"),
						      "from_template")),
			 "volumes", vols);
}

/*
 * Move a VM from this agent to the one at --to (docs/migration.md), as a
 * control plane would: prepare there, send here, finish there (abort
 * there if the send fails: the VM stays here). The VM's tenant network
 * must be on the destination already (net.apply).
 */
static int
cmd_vm_migrate(int argc, char **argv)
{
	const char *to = NULL;
	json_int_t downtime = 100;
	json_t *view, *prep, *sent, *done;
	int live = 1, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			to = argv[++i];
		else if (strcmp(argv[i], "--cold") == 0)
			live = 0;
		else if (strcmp(argv[i], "--downtime") == 0 && i + 1 < argc) {
			if (parse_uint_arg("--downtime", argv[++i], &downtime) < 0)
				return 2;
		} else
			return 2;
	}
	if (to == NULL || (view = run("vm.show", json_pack("{s:s}", "name", argv[0]))) == NULL)
		return to == NULL ? 2 : 1;
	prep = run_at(to, "vm.migrate.prepare", prepare_args(view, live));
	json_decref(view);
	if (prep == NULL)
		return 1;
	sent = run("vm.migrate.send",
		   json_pack("{s:s, s:O, s:O, s:O, s:b, s:I}", "name", argv[0], "nbd",
			     json_object_get(prep, "nbd"), "uri", json_object_get(prep, "uri"),
			     "tls", json_object_get(prep, "tls"), "live", live, "downtime_ms",
			     downtime));
	json_decref(prep);
	if (sent == NULL) {
		json_decref(run_at(to, "vm.migrate.abort", json_pack("{s:s}", "name", argv[0])));
		fprintf(stderr, "%s stays here; the destination was cleaned up\n", argv[0]);
		return 1;
	}
	done = run_at(to, "vm.migrate.finish", json_pack("{s:s}", "name", argv[0]));
	if (json_out)
		print_json(sent);
	else
		printf("%s moved in %lld ms (QEMU: downtime %lld ms, total %lld ms)\n", argv[0],
		       json_integer_value(json_object_get(sent, "elapsed_ms")),
		       json_integer_value(
			       json_object_get(json_object_get(sent, "qemu"), "downtime_ms")),
		       json_integer_value(
			       json_object_get(json_object_get(sent, "qemu"), "total_ms")));
	json_decref(sent);
	if (done == NULL)
		fprintf(stderr, "%s runs at %s but is not finished there: run vm.migrate.finish "
				"again\n",
			argv[0], to);
	json_decref(done);
	return done == NULL;
}

/*
 * How long raw waits for the answer: 30 s, or a request's own
 * args.timeout_s and 30 s more (vm.wait, a slow guest under load).
 */
static int
raw_wait_ms(const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, 0, NULL);
	json_int_t t = json_integer_value(json_object_get(json_object_get(j, "args"), "timeout_s"));

	json_decref(j);
	return t > 0 && t < 3600 ? (int)(t + 30) * 1000 : 30000;
}

static int
cmd_raw(int argc, char **argv)
{
	int fd = msg_connect_unix(sock_path);
	struct msg_reader rd;
	json_t *reply = NULL;
	char *text = NULL;
	size_t len, off = 0;
	int r, wait_ms;

	(void)argc;
	if (fd < 0) {
		fprintf(stderr, "error: connect: %s\n", strerror(-fd));
		return 1;
	}
	if (strcmp(argv[0], "-") == 0) {
		r = util_read_file("/dev/stdin", 64 << 20, &text, &len);
		if (r < 0) {
			fprintf(stderr, "error: stdin: %s\n", strerror(-r));
			close(fd);
			return 1;
		}
	} else {
		len = strlen(argv[0]);
		text = malloc(len + 1);
		if (text == NULL) {
			close(fd);
			return 1;
		}
		memcpy(text, argv[0], len + 1);
	}
	if (len == 0 || text[len - 1] != '\n')
		text[len++] = '\n'; /* util_read_file and malloc left room */
	wait_ms = raw_wait_ms(text, len);
	while (off < len) {
		ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(text);
	if (msg_reader_init(&rd, fd, MSG_MAX_RESPONSE) < 0) {
		close(fd);
		return 1;
	}
	r = msg_read(&rd, &reply, wait_ms);
	msg_reader_free(&rd);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "error: no reply: %s\n", strerror(-r));
		return 1;
	}
	print_json(reply);
	r = json_is_true(json_object_get(reply, "ok")) ? 0 : 1;
	json_decref(reply);
	return r;
}

static int
cmd_template_list(int argc, char **argv)
{
	(void)argc, (void)argv;
	return show_result(run("template.list", json_object()), 0);
}

static int
cmd_template_gc(int argc, char **argv)
{
	(void)argc, (void)argv;
	return show_result(run("template.gc", json_object()), 0);
}

static int
cmd_template_build(int argc, char **argv)
{
	json_t *args = json_object();
	int i;

	for (i = 0; i + 1 < argc; i += 2) {
		json_int_t n;

		if (strcmp(argv[i], "--image") == 0)
			json_object_set_new(args, "image", json_string(argv[i + 1]));
		else if (strcmp(argv[i], "--nics") == 0 &&
			 parse_uint_arg(argv[i], argv[i + 1], &n) == 0 && n <= 8) {
			/* The fit counts NICs only: a template's NICs are not
			 * connected (dummy), so any bridge name does. */
			json_t *nics = json_array();
			char mac[18];

			for (json_int_t k = 0; k < n; k++) {
				snprintf(mac, sizeof(mac), "52:54:00:fe:00:%02x", (unsigned)k);
				json_array_append_new(nics, json_pack("{s:s, s:s}", "bridge", "tpl0",
								      "mac", mac));
			}
			json_object_set_new(args, "nics", nics);
		} else if ((strcmp(argv[i], "--vcpus") == 0 || strcmp(argv[i], "--memory") == 0 ||
			  strcmp(argv[i], "--disk") == 0) &&
			 parse_uint_arg(argv[i], argv[i + 1], &n) == 0)
			json_object_set_new(args,
					    argv[i][2] == 'v'	? "vcpus"
					    : argv[i][2] == 'm' ? "memory_mib"
								: "disk_gib",
					    json_integer(n));
		else {
			json_decref(args);
			return 2;
		}
	}
	if (i != argc) {
		json_decref(args);
		return 2;
	}
	return show_result(run("template.build", args), 0);
}

static const struct cmd cmds[] = {
	{"template list", "template list", cmd_template_list},
	{"template gc", "template gc", cmd_template_gc},
	{"template build", "template build --image IMAGE --vcpus N --memory MIB --disk GIB [--nics N]",
	 cmd_template_build},
	{"host", "host", cmd_host},
	{"image list", "image list", cmd_image_list},
	{"vm list", "vm list", cmd_vm_list},
	{"vm create", "vm create NAME --image IMAGE --vcpus N --memory MIB --disk GIB "
		      "[--user-data FILE] [--ssh-key FILE.pub]... [--nic bridge=BR[,netns=NS][,address=CIDR]"
		      "[,gateway=IP][,mac=MAC][,dhcp]]... [--provision auto|clone|cold] [--no-start]",
	 cmd_vm_create},
	{"vm show", "vm show NAME", cmd_vm_show},
	{"vm start", "vm start NAME", cmd_vm_start},
	{"vm stop", "vm stop NAME [--force] [--timeout SECONDS]", cmd_vm_stop},
	{"vm reboot", "vm reboot NAME", cmd_vm_reboot},
	{"vm pause", "vm pause NAME", cmd_vm_pause},
	{"vm resume", "vm resume NAME", cmd_vm_resume},
	{"vm resize", "vm resize NAME [--vcpus N] [--memory MIB] [--disk GIB]", cmd_vm_resize},
	{"vm delete", "vm delete NAME", cmd_vm_delete},
	{"vm wait", "vm wait NAME [ready|running|paused|stopped|crashed] [--timeout SECONDS]",
	 cmd_vm_wait},
	{"vm console", "vm console NAME [--attach] [--bytes N]", cmd_vm_console},
	{"vm migrate", "vm migrate NAME --to AGENT-SOCKET [--cold] [--downtime MS]",
	 cmd_vm_migrate},
	{"raw", "raw JSON-REQUEST-LINE|-", cmd_raw},
};

static int
ctl_usage(void)
{
	size_t i;

	fprintf(stderr, "usage: cloudlet-agent ctl [--socket PATH] [--json] COMMAND\n");
	for (i = 0; i < ARRAY_LEN(cmds); i++)
		fprintf(stderr, "  %s\n", cmds[i].usage);
	return 2;
}

int
ctl_main(int argc, char **argv)
{
	const char *env = getenv("CLOUDLET_AGENT_SOCKET");
	size_t i;
	int a = 1;

	if (env != NULL)
		sock_path = env;
	while (a < argc && strncmp(argv[a], "--", 2) == 0) {
		if (strcmp(argv[a], "--socket") == 0 && a + 1 < argc) {
			sock_path = argv[a + 1];
			a += 2;
		} else if (strcmp(argv[a], "--json") == 0) {
			json_out = 1;
			a++;
		} else
			return ctl_usage();
	}
	for (i = 0; i < ARRAY_LEN(cmds); i++) {
		const char *name = cmds[i].name, *sp = strchr(name, ' ');
		int words = sp ? 2 : 1, needs_name;

		if (a + words > argc)
			continue;
		if (sp ? (strncmp(argv[a], name, (size_t)(sp - name)) != 0 ||
			  strlen(argv[a]) != (size_t)(sp - name) || strcmp(argv[a + 1], sp + 1) != 0)
		       : strcmp(argv[a], name) != 0)
			continue;
		needs_name = strstr(cmds[i].usage, "NAME") != NULL ||
			     strstr(cmds[i].usage, "JSON") != NULL;
		if (needs_name && a + words >= argc) {
			fprintf(stderr, "usage: cloudlet-agent ctl %s\n", cmds[i].usage);
			return 2;
		}
		{
			int r = cmds[i].fn(argc - a - words, argv + a + words);
			if (r == 2)
				fprintf(stderr, "usage: cloudlet-agent ctl %s\n", cmds[i].usage);
			return r;
		}
	}
	return ctl_usage();
}
