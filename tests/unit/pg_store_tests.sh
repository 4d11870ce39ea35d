#!/bin/bash
# pg_store_tests.sh - the store's unit tests (build/tests/test_store_*)
# against a real PostgreSQL 15 this script starts (tests/integration/
# pg_lib.sh) and stops again, also when a test fails. Needs root (the
# server runs as the unprivileged user cloudlet-pg). `make store-pg`.
set -eu
cd "$(dirname "$0")/../.."
. tests/integration/pg_lib.sh
trap 'rc=$?; set +e; pg_stop; exit $rc' EXIT
pg_start
for t in build/tests/test_store_*; do
	echo "== $t (PostgreSQL)"
	CLOUDLET_TEST_PG=$PG_URL "$t"
done
