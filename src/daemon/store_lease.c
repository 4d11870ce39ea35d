/* store_lease.c - see store_lease.h */
#define _GNU_SOURCE
#include "store_lease.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "store.h"

static char instance[STORE_ID_LEN];
static pthread_once_t instance_once = PTHREAD_ONCE_INIT;

static void
make_instance(void)
{
	if (db_new_id("ci-", instance) < 0)
		snprintf(instance, sizeof(instance), "ci-%016lx",
			 (unsigned long)time(NULL));
}

const char *
store_lease_instance(void)
{
	pthread_once(&instance_once, make_instance);
	return instance;
}

int64_t
store_lease_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
store_op_claim(const char *op_id)
{
	int64_t now = store_lease_now_ms();
	const char *me = store_lease_instance();
	int r;

	r = db_run(
	    db_prep("UPDATE operations SET owner = ?, lease_until = ? WHERE id = ? AND "
		    "state IN ('pending', 'running') AND "
		    "(owner = ? OR owner = '' OR lease_until < ?)",
		    "sissi", me, now + STORE_LEASE_MS, op_id, me, now));
	if (r < 0)
		return r;
	return db_changes() == 1;
}

/* The writes below take the writers' turn (db.h): a read first skips them
 * when there is nothing to do, the usual case every few seconds. */
int
store_op_renew(void)
{
	int64_t now = store_lease_now_ms();

	if (db_scalar(db_prep("SELECT count(*) FROM operations WHERE owner = ? AND "
			      "state IN ('pending', 'running')",
			      "s", store_lease_instance())) == 0)
		return 0;
	return db_run(db_prep("UPDATE operations SET lease_until = ? WHERE owner = ? AND "
			      "state IN ('pending', 'running')",
			      "is", now + STORE_LEASE_MS, store_lease_instance()));
}

/* PostgreSQL skips rows another transaction has locked (a claim in
 * flight); SQLite has one writer at a time anyway. */
#define EXPIRED                                                                          \
	"SELECT id, kind, vm_id, state FROM operations WHERE state IN ('pending', "      \
	"'running') "                                                                    \
	"AND owner <> ? AND (owner = '' OR lease_until < ? OR ? <> 0) ORDER BY "         \
	"created_at, id"

json_t *
store_op_take_expired(int at_start)
{
	int64_t now = store_lease_now_ms(), all = at_start && db_dialect() == DB_SQLITE;
	const char *me = store_lease_instance();
	json_t *ops, *op;
	char ts[32];
	size_t i;
	int r = 0;

	if (db_scalar(db_prep("SELECT count(*) FROM (" EXPIRED ") AS e", "sii", me, now,
			      all)) == 0)
		return json_array();
	if (db_begin() < 0)
		return json_array();
	if (db_dialect() == DB_POSTGRES)
		ops = db_all(
		    db_prep(EXPIRED " FOR UPDATE SKIP LOCKED", "sii", me, now, all));
	else
		ops = db_all(db_prep(EXPIRED, "sii", me, now, all));
	db_now(ts);
	json_array_foreach(ops, i, op)
	{
		if (r == 0)
			r = db_run(
			    db_prep("UPDATE operations SET owner = ?, lease_until = ?, "
				    "state = 'pending', progress = 0, message = ?, "
				    "updated_at = ? WHERE id = ?",
				    "sisss", me, now + STORE_LEASE_MS,
				    all ? "resumed after a restart of cloudletd"
					: "resumed: the cloudletd running it stopped",
				    ts, json_string_value(json_object_get(op, "id"))));
	}
	if (r < 0 || db_commit() < 0) {
		if (r < 0)
			db_rollback();
		log_warnx("store: could not take over unfinished operations");
		json_array_clear(ops);
	}
	return ops;
}
