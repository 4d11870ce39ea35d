/* test_pool.c - allocator, journal replay and checksum repair on real
 * device files in a temp dir (pool.c, meta.c, volume.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "meta.h"
#include "pool.h"
#include "util.h"
#include "volume.h"

static char dir[64], d0[96], d1[96];

static struct pool *
open_pool(void)
{
	const char *devs[] = {d0, d1};
	struct pool *p = calloc(1, sizeof(*p));
	int clean;

	assert_non_null(p);
	assert_int_equal(pool_init(p, dir), 0);
	assert_int_equal(meta_open(p, devs, 2, &clean), 0);
	return p;
}

static int
setup(void **state)
{
	int fd;

	(void)state;
	strcpy(dir, "/tmp/test_pool.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(d0, sizeof(d0), "%s/d0", dir);
	snprintf(d1, sizeof(d1), "%s/d1", dir);
	fd = open(d0, O_CREAT | O_RDWR, 0600);
	assert_int_equal(ftruncate(fd, 64 << 20), 0);
	close(fd);
	fd = open(d1, O_CREAT | O_RDWR, 0600);
	assert_int_equal(ftruncate(fd, 64 << 20), 0);
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	util_rmtree(dir);
	return 0;
}

static void
alloc_replay_repair(void **state)
{
	struct pool *p = open_pool(), *q;
	struct volume *v;
	char err[200];
	uint8_t buf[8192], back[8192];
	uint32_t id;
	int fd;

	(void)state;
	/* Layout: a 64 MiB device keeps a few MiB for superblock and sums. */
	assert_true(p->dev[0].nslots >= 60 && p->dev[0].nslots < 64);
	assert_int_equal(volume_create(p, "v", "t", 8 << 20, 2, err, sizeof(err)), 0);
	assert_int_equal(volume_create(p, "v", "t", 8 << 20, 2, err, sizeof(err)), -EEXIST);
	v = volume_get(p, "v");
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(volume_write(p, v, 3 << 20, sizeof(buf), buf, 1), 0);
	assert_int_equal(volume_write(p, v, 100, 10, "0123456789", 1), 0);
	/* Thin: two extents, each mirrored on both devices. */
	assert_int_equal(p->dev[0].nused, 2);
	assert_int_equal(p->dev[1].nused, 2);
	id = v->map[3];
	assert_int_not_equal(p->ext[id].dev[0], p->ext[id].dev[1]);
	assert_int_equal(volume_read(p, v, 0, 4096, back), 0);
	assert_memory_equal(back + 100, "0123456789", 10);
	assert_int_equal(back[0], 0);
	assert_int_equal(volume_read(p, v, 5 << 20, 4096, back), 0); /* hole */
	assert_int_equal(back[4095], 0);
	volume_put(p, v);

	/* "Crash": no meta_close; a second pool replays the journal. */
	q = open_pool();
	assert_int_equal(q->clean_start, 0);
	v = volume_get(q, "v");
	assert_non_null(v);
	assert_int_equal(v->map[3], id);
	assert_int_equal(q->ext[id].refs, 1);
	assert_int_equal(q->dev[0].nused, 2);

	/* Corrupt two blocks of the copy a read goes to first (copy id % 2). */
	{
		int c = (int)(id % 2), dv = q->ext[id].dev[c];
		off_t at = (off_t)(q->dev[dv].data_off + (uint64_t)q->ext[id].slot[c] * POOL_EXTENT);

		fd = open(dv == 0 ? d0 : d1, O_RDWR);
		assert_int_equal(pwrite(fd, "XXXX", 4, at + 10), 4);
		assert_int_equal(pwrite(fd, "XXXX", 4, at + 4096 + 10), 4);
		close(fd);
		memset(back, 0, sizeof(back));
		assert_int_equal(volume_read(q, v, 3 << 20, sizeof(back), back), 0);
		assert_memory_equal(back, buf, sizeof(buf));
		assert_int_equal(atomic_load(&q->dev[dv].checksum_errors), 2);
	}
	{
		struct pool_check_stats st;

		memset(&st, 0, sizeof(st));
		pthread_mutex_lock(&q->lock);
		assert_int_equal(pool_ext_check(q, id, 0, &st), 0);
		pthread_mutex_unlock(&q->lock);
		assert_int_equal(st.errors, 0); /* repaired already */
	}
	volume_put(q, v);
	/* Snapshot shares, delete frees after the last reference. */
	assert_int_equal(volume_copy(q, "v", "s", 1, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(q->ext[id].refs, 2);
	assert_int_equal(volume_delete(q, "v", err, sizeof(err)), 0);
	assert_int_equal(q->ext[id].refs, 1);
	assert_int_equal(volume_delete(q, "s", err, sizeof(err)), 0);
	assert_int_equal(q->dev[0].nused, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(alloc_replay_repair, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
