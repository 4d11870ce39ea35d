/*
 * test_userdata.c - user-data checks and the #cloud-config translation
 * (userdata.h), table-driven: each row is an input and either a part of
 * the error it must get or the exact form it must translate to.
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

#include "userdata.h"

#define KEY                                                                              \
	"ssh-ed25519 "                                                                   \
	"AAAAC3NzaC1lZDI1NTE5AAAAINCB/TaW+PYC2El4DDp4O1IjCJB+mE4A6dkzBw7vhZK/"
#define H "cloudlet-config 1\n"

struct row {
	const char *what;
	const char *in;
	int r;		     /* expected return */
	const char *form;    /* exact form (r == 0; NULL: none made) */
	const char *err_has; /* r < 0 */
};

static const struct row rows[] = {
    {"empty", "", 0, NULL, NULL},
    {"script", "#!/bin/sh\necho hi\n", 0, NULL, NULL},
    {"other passes the agent", "hello", 0, NULL, NULL},
    {"header alone", "#cloud-config\n", 0, H, NULL},
    {"hostname", "#cloud-config\nhostname: web-7\n", 0, H "hostname web-7\n", NULL},
    {"fqdn's first label", "#cloud-config\nfqdn: db1.example.org\n", 0, H "fqdn db1\n",
     NULL},
    {"bad hostname", "#cloud-config\nhostname: 'a;b'\n", -EINVAL, NULL, "hostname"},
    {"ssh key", "#cloud-config\nssh_authorized_keys:\n  - " KEY " me\n", 0,
     H "ssh-key " KEY " me\n", NULL},
    {"bad ssh key", "#cloud-config\nssh_authorized_keys: [ssh-ed25519 AAAA]\n", -EINVAL,
     NULL, "ssh_authorized_keys[0]"},
    {"write_files text",
     "#cloud-config\nwrite_files:\n- path: /etc/a b\n  content: |\n    x\n    y\n", 0,
     H "file 0644 - text 0 4 /etc/a b\nx\ny\n\n", NULL},
    {"write_files b64 mode owner append",
     "#cloud-config\nwrite_files:\n- {path: /x, content: 'aGk=\n', encoding: b64, "
     "permissions: '0o600', owner: 'www-data:www-data', append: true}\n",
     0, H "file 0600 www-data:www-data b64 1 4 /x\naGk=\n", NULL},
    {"write_files bad b64",
     "#cloud-config\nwrite_files:\n- {path: /x, content: '@@', encoding: b64}\n", -EINVAL,
     NULL, "base64"},
    {"write_files relative", "#cloud-config\nwrite_files:\n- {path: x}\n", -EINVAL, NULL,
     "absolute"},
    {"write_files bad mode",
     "#cloud-config\nwrite_files:\n- {path: /x, permissions: '0999'}\n", -EINVAL, NULL,
     "permissions"},
    {"write_files gzip ignored",
     "#cloud-config\nwrite_files:\n- {path: /x, content: 'H4sI', encoding: gzip}\n", 0,
     H "ignored write_files[0] (encoding gzip)\n", NULL},
    {"runcmd", "#cloud-config\nruncmd:\n- echo hi > /tmp/x\n- [touch, \"it's\"]\n", 0,
     H "runcmd 35\necho hi > /tmp/x\n'touch' 'it'\\''s'\n\n", NULL},
    {"runcmd mapping", "#cloud-config\nruncmd:\n- {a: b}\n", -EINVAL, NULL, "runcmd[0]"},
    {"unsupported keys", "#cloud-config\npackages: [nginx]\nbootcmd: [x]\n", 0,
     H "ignored packages\nignored bootcmd\n", NULL},
    {"malformed yaml", "#cloud-config\nruncmd: [a\n", -EINVAL, NULL,
     "malformed YAML at line"},
    {"not a mapping", "#cloud-config\n- a\n", -EINVAL, NULL, "mapping"},
    {"two documents", "#cloud-config\na: 1\n---\nb: 2\n", -EINVAL, NULL,
     "one YAML document"},
    {"header needs a break", "#cloud-configx\n", 0, NULL, NULL},
};

static void
test_row(void **state)
{
	const struct row *w = *state;
	char err[256] = "", *form = (char *)1;
	int r = userdata_translate(w->in, strlen(w->in), &form, err, sizeof(err));

	if (r != w->r)
		fail_msg("%s: r=%d (%s)", w->what, r, err);
	if (r == 0) {
		if (w->form == NULL)
			assert_null(form);
		else
			assert_string_equal(form, w->form);
	} else {
		assert_null(form);
		assert_non_null(strstr(err, w->err_has));
	}
	free(form);
}

static void
test_limits(void **state)
{
	char err[256], *form, *big = malloc(USERDATA_MAX + 2), *ud;
	size_t i;

	(void)state;
	memset(big, 'a', USERDATA_MAX + 1);
	memcpy(big, "#!/bin/sh\n", 10);
	big[USERDATA_MAX + 1] = '\0';
	assert_int_equal(
	    userdata_translate(big, USERDATA_MAX + 1, &form, err, sizeof(err)), -E2BIG);
	assert_int_equal(userdata_translate(big, USERDATA_MAX, &form, err, sizeof(err)),
			 0);
	/* runcmd quoting can grow the form beyond its own limit: refused */
	ud = malloc(USERDATA_MAX + 1);
	strcpy(ud, "#cloud-config\nruncmd:\n- [\"");
	for (i = strlen(ud); i < 9000; i++)
		ud[i] = '\'';
	strcpy(ud + i, "\"]\n");
	assert_int_equal(userdata_translate(ud, strlen(ud), &form, err, sizeof(err)),
			 -E2BIG);
	assert_null(form);
	/* aliases naming a list many times over */
	strcpy(ud, "#cloud-config\na: &a [");
	for (i = 0; i < 300; i++)
		strcat(ud, "x,");
	strcat(ud, "x]\nruncmd: [");
	for (i = 0; i < 200; i++)
		strcat(ud, "*a,");
	strcat(ud, "*a]\n");
	assert_true(userdata_translate(ud, strlen(ud), &form, err, sizeof(err)) ==
		    -E2BIG);
	free(ud);
	free(big);
}

int
main(void)
{
	struct CMUnitTest t[sizeof(rows) / sizeof(rows[0]) + 1];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t[i] = (struct CMUnitTest){rows[i].what, test_row, NULL, NULL,
					   (void *)(uintptr_t)&rows[i]};
	}
	t[i] = (struct CMUnitTest)cmocka_unit_test(test_limits);
	return _cmocka_run_group_tests("userdata", t, i + 1, NULL, NULL);
}
