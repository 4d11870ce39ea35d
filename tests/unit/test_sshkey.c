/*
 * test_sshkey.c - OpenSSH public key lines (sshkey.h) and a VM spec's
 * ssh_keys (spec.h, disk.h), table-driven.
 *
 * The keys were made with ssh-keygen (public halves only); the malformed
 * ones were built from them by re-encoding their wire format (each row
 * says what it breaks). Every row runs as its own cmocka test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "disk.h"
#include "spec.h"
#include "sshkey.h"
#include "util.h"

#define K_ED "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINCB/TaW+PYC2El4DDp4O1IjCJB+mE4A6dkzBw7vhZK/"
#define K_R2048 "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCjZLAQWXqslQ2Kj4uWQu+qQy6x4zgB5BDY/gD5CGUP8qmo1a50PlMqNH87ccPXT59Du0fhMyEE9a/oQmP97BZKOFM5vW5Qni7K/l6FA8hN3OHeL6X6rRkl1pQGTLrjTLOpjaNmE/SFe474hLk2/0unSvcxOQGjcQefWwa6Fqm8YX43kgTn0aTPtrRmzZ0k0QKhl8L1lRrQ9Z0RmNtz50E5Qcy206+hEwZUqHrBek74b16fzRRYmtuHcb87lMO+GNCE77/RUt7aeQWbjjk4+gFipu87umpdZGKc7yjSLasVj8C+cc+ZD2e7BXPRxidWe3EwHOv2IfZvxDgyfbiJFhXl"
#define K_R1024 "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDuzv21vn3Z0QqM1dBhJ48h31JtAjfKrTg6XryTL311OzASXuFGvsOdteLe9So94WkyF9y4pNbKXqoQd73KvsM+6EOOi34sLscqiIVlLgBEElzemRuwofrv5FvQgTfxd4JD5wvQmvzY5aWldDipfWRf5XVgDXdtXLDY6El/dcmJBw=="
#define K_E256 "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBA3+0N7aVYydPY+3XQVEttOBfC8m5YIFFgpNEer1zYMDC+Rk1M2fR1DAQbudA8SmLWDUZuHUMP36iODaXqc6oOk="
#define K_E384 "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBIVDQ/ke8/SqSLXkCTUJPpFbaKqRP6cGPSvdhm/8CprLKTolZZDKpE6oWeorkhxY63LvymswGQ5UfocPhs8VW9MgJkscgTkKiUnJGC+8BO79EeE1AKRyO57kN5ZwMBFdng=="
#define K_E521 "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAGlDLLIia0JWfoliNqGN5XkBvHHO1swRJuWNWojxSH7iW06VyoMSDAR0n0Rjn8y3oCa/bc3jGw3fBRQzD1ibbgxkwEVx+D0uLv12VCIB+HxOca5vQIKIBKFD04J5eVb3k6lNM9YNrYVmK+/8D4uXxPTcfFnzCKE5CfP5cK25a+DBFfhrg=="
#define K_DSA "ssh-dss AAAAB3NzaC1kc3MAAACBAIlLrG6HG+SMOKuRIU07C9q7ydzNTkSKLkvpPDyoIx95HTxZIRTZ6KWtNLq7Pl8MBwmM2Mpe+xac/akL5jRdO5OnyFBnB+uZFZcMmsKnLdUFg41faUWSF4XzFvnQR/sQMm0JDA1YPmM+ZbYpoRIPGH4h4J0xR2mJOZNV+XhZzoL9AAAAFQCCsT0PvxTerXdQkDqc14g/h8GXfwAAAIByFnLdYN8JVhQ7cPgUc7e+1miQ/yqTdTrSTn59YQEOnmK+/sC/gnnEP/hzXeEUpFp6+DBwW9bVKyv7619yqg2lukecm6Wi0bM7SP484KnB2oR+ffM2pexEz9yg2e7vORCvGDCk6znEdXpwKNew0GlacomQNeercwt+cV9GqlXPJwAAAIBuz7PJc7WfNZIWORoOiSUSZnPgH65iSCT23BAjIt1e6ImylWKy7vXtR6XuGcoXJy0k/jpiMEc7KPd0MYiyv1YVRak4v7Uwx1bPk5hKts6ioxQlpPzaYKbWCimbPfe6LXbGjJLQKCaOgpHJseQSap2n6iXp+3oFkNJLaOu829oa3g=="
#define B_ED "AAAAC3NzaC1lZDI1NTE5AAAAINCB/TaW+PYC2El4DDp4O1IjCJB+mE4A6dkzBw7vhZK/"
#define B_E256 "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBA3+0N7aVYydPY+3XQVEttOBfC8m5YIFFgpNEer1zYMDC+Rk1M2fR1DAQbudA8SmLWDUZuHUMP36iODaXqc6oOk="
#define K_ED_TRAIL "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINCB/TaW+PYC2El4DDp4O1IjCJB+mE4A6dkzBw7vhZK/AA=="
#define K_ED_SHORT "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAHwEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define K_E256_CURVE "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAzODQAAABBBA3+0N7aVYydPY+3XQVEttOBfC8m5YIFFgpNEer1zYMDC+Rk1M2fR1DAQbudA8SmLWDUZuHUMP36iODaXqc6oOk="
#define K_E256_COMPRESSED "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAAAhAg3+0N7aVYydPY+3XQVEttOBfC8m5YIFFgpNEer1zYMD"
#define K_RSA_EVEN_E "ssh-rsa AAAAB3NzaC1yc2EAAAADAQAAAAABAQCjZLAQWXqslQ2Kj4uWQu+qQy6x4zgB5BDY/gD5CGUP8qmo1a50PlMqNH87ccPXT59Du0fhMyEE9a/oQmP97BZKOFM5vW5Qni7K/l6FA8hN3OHeL6X6rRkl1pQGTLrjTLOpjaNmE/SFe474hLk2/0unSvcxOQGjcQefWwa6Fqm8YX43kgTn0aTPtrRmzZ0k0QKhl8L1lRrQ9Z0RmNtz50E5Qcy206+hEwZUqHrBek74b16fzRRYmtuHcb87lMO+GNCE77/RUt7aeQWbjjk4+gFipu87umpdZGKc7yjSLasVj8C+cc+ZD2e7BXPRxidWe3EwHOv2IfZvxDgyfbiJFhXl"
#define K_RSA_NEG_N "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAKNksBBZeqyVDYqPi5ZC76pDLrHjOAHkENj+APkIZQ/yqajVrnQ+Uyo0fztxw9dPn0O7R+EzIQT1r+hCY/3sFko4Uzm9blCeLsr+XoUDyE3c4d4vpfqtGSXWlAZMuuNMs6mNo2YT9IV7jviEuTb/S6dK9zE5AaNxB59bBroWqbxhfjeSBOfRpM+2tGbNnSTRAqGXwvWVGtD1nRGY23PnQTlBzLbTr6ETBlSoesF6TvhvXp/NFFia24dxvzuUw74Y0ITvv9FS3tp5BZuOOTj6AWKm7zu6al1kYpzvKNItqxWPwL5xz5kPZ7sFc9HGJ1Z7cTAc6/Yh9m/EODJ9uIkWFeU="
#define K_RSA_LEN_HUGE "ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB/////wCjZLAQWXqslQ2Kj4uWQu+qQy6x4zgB5BDY/gD5CGUP8qmo1a50PlMqNH87ccPXT59Du0fhMyEE9a/oQmP97BZKOFM5vW5Qni7K/l6FA8hN3OHeL6X6rRkl1pQGTLrjTLOpjaNmE/SFe474hLk2/0unSvcxOQGjcQefWwa6Fqm8YX43kgTn0aTPtrRmzZ0k0QKhl8L1lRrQ9Z0RmNtz50E5Qcy206+hEwZUqHrBek74b16fzRRYmtuHcb87lMO+GNCE77/RUt7aeQWbjjk4+gFipu87umpdZGKc7yjSLasVj8C+cc+ZD2e7BXPRxidWe3EwHOv2IfZvxDgyfbiJFhXl"

struct row {
	const char *what;
	const char *line;
	int ok;
	const char *err_has; /* a part of the error message (refused rows) */
	enum sshkey_type type;
	unsigned bits;
};

static const struct row rows[] = {
    {"ed25519", K_ED, 1, NULL, SSHKEY_ED25519, 256},
    {"ed25519 with a comment", K_ED " alice@example", 1, NULL, SSHKEY_ED25519, 256},
    {"ed25519 with a comment of spaces", K_ED " my laptop key", 1, NULL, SSHKEY_ED25519, 256},
    {"rsa 2048", K_R2048 " rsa2048", 1, NULL, SSHKEY_RSA, 2048},
    {"ecdsa p256", K_E256, 1, NULL, SSHKEY_ECDSA_P256, 256},
    {"ecdsa p384", K_E384, 1, NULL, SSHKEY_ECDSA_P384, 384},
    {"ecdsa p521", K_E521, 1, NULL, SSHKEY_ECDSA_P521, 521},
    {"rsa 1024 refused", K_R1024, 0, "at least 2048 bits", 0, 0},
    {"dsa refused", K_DSA, 0, "DSA", 0, 0},
    {"unknown type", "ssh-foo AAAAC3NzaC1lZDI1NTE5", 0, "unsupported key type", 0, 0},
    {"fido key refused", "sk-ssh-ed25519@openssh.com AAAA", 0, "unsupported key type", 0, 0},
    {"certificate refused", "ssh-ed25519-cert-v01@openssh.com AAAA", 0, "unsupported", 0, 0},
    {"private key pasted", "-----BEGIN OPENSSH PRIVATE KEY-----", 0, "not a public key", 0, 0},
    {"private key file pasted", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n", 0, "not a public key", 0, 0},
    {"type of another key", "ssh-rsa " B_ED, 0, "not of the type", 0, 0},
    {"ecdsa blob named p384", "ecdsa-sha2-nistp384 " B_E256, 0, "not of the type", 0, 0},
    {"no key data", "ssh-ed25519", 0, "missing", 0, 0},
    {"no key data after a space", "ssh-ed25519 ", 0, "missing", 0, 0},
    {"tab instead of a space", "ssh-ed25519\tAAAAC3NzaC1lZDI1NTE5", 0, "missing", 0, 0},
    {"options in front", "no-pty " K_ED, 0, "unsupported key type", 0, 0},
    {"truncated base64 (one character)", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINCB/TaW+PYC2El4DDp4O1IjCJB+mE4A6dkzBw7vhZK", 0, "base64", 0, 0},
    {"truncated blob (whole quantum)", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINCB/TaW+PYC2El4DDp4O1IjCJB+mE4A6dkz", 0, "32 bytes", 0, 0},
    {"only the type string", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", 0, "32 bytes", 0, 0},
    {"ed25519 of 31 bytes", K_ED_SHORT, 0, "32 bytes", 0, 0},
    {"bytes after the key", K_ED_TRAIL, 0, "unexpected bytes", 0, 0},
    {"not base64", "ssh-ed25519 !!!!", 0, "base64", 0, 0},
    {"base64 without padding", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINCB/TaW+PYC2El4DDp4O1IjCJB+mE4A6dkzBw7vhZK/A", 0, "base64", 0, 0},
    {"ecdsa of another curve", K_E256_CURVE, 0, "curve", 0, 0},
    {"ecdsa compressed point", K_E256_COMPRESSED, 0, "uncompressed point", 0, 0},
    {"rsa even exponent", K_RSA_EVEN_E, 0, "exponent", 0, 0},
    {"rsa negative modulus", K_RSA_NEG_N, 0, "modulus", 0, 0},
    {"rsa length past the end", K_RSA_LEN_HUGE, 0, "truncated", 0, 0},
    {"comment with a newline", K_ED " a\nb", 0, "line breaks", 0, 0},
    {"comment with a CR", K_ED " a\r", 0, "line breaks", 0, 0},
    {"comment with a control character", K_ED " a\x01", 0, "printable ASCII", 0, 0},
    {"comment with a double quote", K_ED " a\"b", 0, "printable ASCII", 0, 0},
    {"comment with a backslash", K_ED " a\\b", 0, "printable ASCII", 0, 0},
    {"comment not ASCII", K_ED " caf\xc3\xa9", 0, "printable ASCII", 0, 0},
    {"empty", "", 0, "empty", 0, 0},
};

static void
test_row(void **state)
{
	const struct row *r = *state;
	struct sshkey_info info = {0};
	char err[256] = "";
	int rc = sshkey_parse(r->line, strlen(r->line), &info, err, sizeof(err));

	if (r->ok) {
		if (rc != 0)
			fail_msg("%s: refused: %s", r->what, err);
		assert_int_equal(info.type, r->type);
		assert_int_equal(info.bits, r->bits);
	} else {
		assert_int_equal(rc, -EINVAL);
		if (strstr(err, r->err_has) == NULL)
			fail_msg("%s: error '%s' does not say '%s'", r->what, err, r->err_has);
		/* Messages never quote the key. */
		assert_null(strstr(err, "AAAA"));
	}
}

/* A NUL inside the given length, and a line over the limit. */
static void
test_nul_and_size(void **state)
{
	char line[SSHKEY_LINE_MAX + 2], err[256];

	(void)state;
	snprintf(line, sizeof(line), "%s x", K_ED);
	line[strlen(K_ED) + 1] = '\0';
	assert_int_equal(sshkey_parse(line, strlen(K_ED) + 2, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "NUL"));
	memset(line, 'a', sizeof(line));
	memcpy(line, K_ED " ", strlen(K_ED) + 1);
	assert_int_equal(sshkey_parse(line, SSHKEY_LINE_MAX + 1, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "longer than"));
	/* The length given counts, not a terminating NUL: the key alone. */
	snprintf(line, sizeof(line), "%s trailing", K_ED);
	assert_int_equal(sshkey_parse(line, strlen(K_ED), NULL, err, sizeof(err)), 0);
}

/* ---- the spec's ssh_keys and the seed ---------------------------------- */

static int
fake_image_lookup(const char *name, uint64_t *min_disk_mib)
{
	(void)name;
	*min_disk_mib = 100;
	return 0;
}

static const struct spec_limits limits = {
    .max_vcpus = 4,
    .max_memory_mib = 4096,
    .image_lookup = fake_image_lookup,
};

static int
parse_keys(const char *keys_json, struct vm_spec *s, char *err, size_t errlen)
{
	char text[16384];
	json_t *j;
	int r;

	snprintf(text, sizeof(text),
		 "{\"name\":\"web1\",\"image\":\"base\",\"vcpus\":1,\"memory_mib\":128,"
		 "\"disk_gib\":1,\"ssh_keys\":%s}",
		 keys_json);
	j = json_loads(text, JSON_ALLOW_NUL, NULL);
	assert_non_null(j);
	memset(s, 0, sizeof(*s));
	r = spec_parse(j, &limits, s, err, errlen);
	json_decref(j);
	return r;
}

static void
test_spec_keys(void **state)
{
	struct vm_spec s, again;
	char err[256], *md;
	json_t *j;

	(void)state;
	assert_int_equal(parse_keys("[\"" K_ED " alice\", \"" K_E256 "\"]", &s, err, sizeof(err)), 0);
	assert_int_equal(s.n_ssh_keys, 2);
	assert_string_equal(s.ssh_keys, K_ED " alice\n" K_E256 "\n");
	/* The seed's meta-data: a list cloud-init's NoCloud reads. */
	md = disk_meta_data("i-1", &s);
	assert_non_null(md);
	assert_string_equal(md, "instance-id: i-1\nlocal-hostname: web1\npublic-keys:\n"
				"  - \"" K_ED " alice\"\n  - \"" K_E256 "\"\n");
	free(md);
	/* Saved and loaded back the same. */
	j = spec_to_json(&s);
	memset(&again, 0, sizeof(again));
	assert_int_equal(spec_parse(j, &limits, &again, err, sizeof(err)), 0);
	assert_string_equal(again.ssh_keys, s.ssh_keys);
	json_decref(j);
	spec_free(&again);
	spec_free(&s);
	assert_null(s.ssh_keys);
}

static void
test_spec_keys_refused(void **state)
{
	static const struct {
		const char *json, *err_has;
	} bad[] = {
	    {"\"" K_ED "\"", "must be an array"},
	    {"[1]", "must be a string"},
	    {"[\"" K_R1024 "\"]", "ssh_keys[0]: ssh key: RSA keys need at least 2048 bits"},
	    {"[\"" K_ED "\", \"" K_ED "\"]", "listed twice"},
	    {"[\"" K_ED " a\\u0000b\"]", "NUL"},
	};
	char err[256], many[8192];
	struct vm_spec s;
	size_t i, off;

	(void)state;
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		assert_int_equal(parse_keys(bad[i].json, &s, err, sizeof(err)), -EINVAL);
		if (strstr(err, bad[i].err_has) == NULL)
			fail_msg("%s: error '%s' does not say '%s'", bad[i].json, err,
				 bad[i].err_has);
		assert_null(s.ssh_keys);
		assert_null(s.user_data);
	}
	/* One more than SPEC_SSH_KEYS_MAX (distinct comments). */
	off = (size_t)snprintf(many, sizeof(many), "[");
	for (i = 0; i <= SPEC_SSH_KEYS_MAX; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off, "%s\"%s k%zu\"",
					i ? "," : "", K_ED, i);
	snprintf(many + off, sizeof(many) - off, "]");
	assert_int_equal(parse_keys(many, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most"));
}

int
main(void)
{
	struct CMUnitTest t[ARRAY_LEN(rows) + 3];
	size_t n = 0, i;

	/* One test per table row, named after it. */
	for (i = 0; i < ARRAY_LEN(rows); i++)
		t[n++] = (struct CMUnitTest){.name = rows[i].what,
					     .test_func = test_row,
					     .initial_state = (void *)(uintptr_t)&rows[i]};
	t[n++] = (struct CMUnitTest){.name = "nul and size", .test_func = test_nul_and_size};
	t[n++] = (struct CMUnitTest){.name = "spec ssh_keys", .test_func = test_spec_keys};
	t[n++] = (struct CMUnitTest){.name = "spec ssh_keys refused",
				     .test_func = test_spec_keys_refused};
	return _cmocka_run_group_tests("sshkey", t, n, NULL, NULL);
}
