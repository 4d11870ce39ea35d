/*
 * test_tlsid.c - tlsid.h: one migration's TLS credentials. QEMU reads them
 * (crypto/tlscredsx509.c checks a CA that is marked as one, leaf key usages
 * and purposes); here: every file is there, both leaves verify against the
 * one authority, the server certificate names the address, keys are 0600.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "tlsid.h"
#include "util.h"

static gnutls_x509_crt_t
load(const char *dir, const char *name)
{
	char path[600], *text = NULL;
	size_t len;
	gnutls_x509_crt_t crt;
	gnutls_datum_t d;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(util_read_file(path, 64 * 1024, &text, &len), 0);
	d.data = (unsigned char *)text;
	d.size = (unsigned)len;
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
	free(text);
	return crt;
}

static void
verifies(gnutls_x509_crt_t leaf, gnutls_x509_crt_t ca)
{
	unsigned status = ~0u;

	assert_int_equal(gnutls_x509_crt_verify(leaf, &ca, 1, 0, &status), 0);
	assert_int_equal(status, 0);
}

static void
test_migration_creds(void **state)
{
	char tmpl[] = "/tmp/test_tlsid.XXXXXX", srv[600], cli[600], path[700], err[200];
	gnutls_x509_crt_t ca, ca2, s, c;
	unsigned critical = 0;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	snprintf(srv, sizeof(srv), "%s/srv", tmpl);
	snprintf(cli, sizeof(cli), "%s/cli", tmpl);
	assert_int_equal(tlsid_migration_creds(srv, cli, "192.0.2.7", (uid_t)-1, (gid_t)-1, err,
					       sizeof(err)),
			 0);
	ca = load(srv, "ca-cert.pem");
	ca2 = load(cli, "ca-cert.pem");
	s = load(srv, "server-cert.pem");
	c = load(cli, "client-cert.pem");
	assert_true(gnutls_x509_crt_equals(ca, ca2));
	assert_int_equal(gnutls_x509_crt_get_ca_status(ca, &critical), 1);
	assert_int_equal(gnutls_x509_crt_get_ca_status(s, &critical), 0);
	verifies(s, ca);
	verifies(c, ca);
	assert_true(gnutls_x509_crt_check_hostname(s, "192.0.2.7"));
	assert_false(gnutls_x509_crt_check_hostname(s, "192.0.2.8"));
	snprintf(path, sizeof(path), "%s/server-key.pem", srv);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/client-key.pem", cli);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A second migration gets another authority. */
	assert_int_equal(tlsid_migration_creds(srv, NULL, "192.0.2.7", (uid_t)-1, (gid_t)-1, err,
					       sizeof(err)),
			 0);
	gnutls_x509_crt_deinit(ca2);
	ca2 = load(srv, "ca-cert.pem");
	assert_false(gnutls_x509_crt_equals(ca, ca2));
	assert_int_equal(tlsid_migration_creds(srv, cli, "not-an-ip", (uid_t)-1, (gid_t)-1, err,
					       sizeof(err)),
			 -EINVAL);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_crt_deinit(ca2);
	gnutls_x509_crt_deinit(s);
	gnutls_x509_crt_deinit(c);
	util_rmtree(tmpl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_migration_creds),
	};

	return cmocka_run_group_tests_name("tlsid", tests, NULL, NULL);
}
