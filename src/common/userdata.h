/*
 * userdata.h - a VM's user-data, in cloud-init's format: checked, and a
 * "#cloud-config" translated into the simple form the busybox images apply
 * at boot (the seed's "cloudlet-config" file; its format is specified in
 * docs/guest.md, "User-data on the busybox images").
 *
 * Accepted user-data: empty, a script ("#!" first), or "#cloud-config"
 * followed by one YAML mapping (parsed with libyaml). The user-data itself
 * is always passed through unchanged (debian-12's cloud-init reads it); the
 * form is what the busybox init, which has no YAML parser, applies:
 * hostname (and fqdn), ssh_authorized_keys (each parsed by sshkey.h),
 * write_files (path, content, encoding text/b64, permissions, owner,
 * append) and runcmd (strings and lists of strings, made into one shell
 * script as cloud-init does). Every other top-level key, and a write_files
 * item the busybox images cannot apply (gzip, source), is listed in the form
 * as ignored so the guest says so on its console.
 *
 * Pure functions, no I/O: used by cloudletd (refuses bad user-data at
 * create) and the agent (writes the form into the seed and a clone's
 * identity); unit-tested (tests/unit/test_userdata.c) and fuzzed
 * (tests/fuzz/fuzz_userdata.c).
 */
#ifndef CLOUDLET_USERDATA_H
#define CLOUDLET_USERDATA_H

#include <stddef.h>

/* Hard limits. USERDATA_MAX is the user-data's (as other clouds: 16 KiB);
 * the form can be larger than its input only through runcmd's quoting,
 * and a clone's identity must hold both (engine/cloneid.h). */
#define USERDATA_MAX (16 * 1024)
#define USERDATA_FORM_MAX (16 * 1024)
#define USERDATA_PATH_MAX 255

enum userdata_kind {
	USERDATA_EMPTY,	       /* "" */
	USERDATA_SCRIPT,       /* "#!..." */
	USERDATA_CLOUD_CONFIG, /* "#cloud-config" then YAML */
	USERDATA_OTHER,	       /* anything else: refused by cloudletd */
};

enum userdata_kind userdata_kind(const char *ud, size_t len);

/*
 * Check ud (len bytes, no NUL inside) and, when it is a #cloud-config,
 * make the form: *form is then a NUL-terminated string the caller frees;
 * NULL for the other kinds. Returns 0; -E2BIG (larger than USERDATA_MAX,
 * or the form larger than USERDATA_FORM_MAX), -EINVAL (malformed YAML, a
 * supported key with a value of the wrong shape, a bad ssh key, ...) with a
 * message in err that never quotes the input; -ENOMEM.
 * USERDATA_OTHER is not an error here (the agent passes it through).
 */
int userdata_translate(const char *ud, size_t len, char **form, char *err, size_t errlen);

#endif
