/*
 * store_testdb.h - the database a store unit test (test_store_*.c) runs
 * on: SQLite in a fresh directory under /tmp, or, when CLOUDLET_TEST_PG
 * holds a PostgreSQL URI (tests/unit/pg_store_tests.sh starts a server and
 * sets it), that database with its public schema emptied first. Header
 * only: each test binary includes it once.
 */
#ifndef CLOUDLET_STORE_TESTDB_H
#define CLOUDLET_STORE_TESTDB_H

#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "store.h"
#include "util.h"

static char testdb_dir[64];

/* Open and migrate the store: 0 or -errno. */
static int
testdb_open(void)
{
	const char *pg = getenv("CLOUDLET_TEST_PG");
	char path[128];
	int r;

	if (pg != NULL && pg[0] != '\0') {
		if ((r = db_open(pg)) < 0 ||
		    (r = db_exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public")) < 0)
			return r;
		db_thread_done();
		fprintf(stderr, "(store on PostgreSQL)\n");
		return store_open(pg);
	}
	snprintf(testdb_dir, sizeof(testdb_dir), "/tmp/cltest-store.XXXXXX");
	if (mkdtemp(testdb_dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/cloudlet.db", testdb_dir);
	return store_open(path);
}

/* A cmocka teardown: close and remove what testdb_open made. */
static int
testdb_teardown(void **state)
{
	(void)state;
	store_thread_done();
	if (testdb_dir[0] != '\0')
		util_rmtree(testdb_dir);
	testdb_dir[0] = '\0';
	return 0;
}

#endif
