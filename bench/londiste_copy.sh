#!/bin/bash
# bench/londiste_copy.sh - londiste3's initial copy of one big table
# (src/londiste3/copy/copy.c, run through test/londiste3/copy/ld_copy_probe, what the
# copy process runs) against two baselines on the same data in the same
# invocation:
#   pg_dump    pg_dump -t TABLE of the root piped into psql on an empty
#              database (structure, data, indexes: what an operator would
#              do by hand)
#   ours       ld_copy_table into the leaf: drop the leaf's indexes,
#              truncate, COPY streamed from the root, re-create the
#              indexes, store the snapshot; one transaction
#   ours x2    the same with two parallel writer sessions (threaded copy)
#   python     Debian's londiste "copy" process (python3-londiste) into a
#              second leaf, timed from its start until the table is
#              catching-up (its copy done), then stopped
# The table has a bigint primary key and one more index; its size is
# LONDISTE_COPY_BENCH_MB (default 1024) of heap.  Every target starts
# empty, with a CHECKPOINT before each run.
#
# Usage: bench/londiste_copy.sh   (as root or postgres; needs "make" and
#   "make install" where PGBIN's pg_config points, and python3-londiste)
# Environment: LONDISTE_COPY_BENCH_MB (1024), PGQ_BENCH_PORT (5495),
#   PGQ_BENCH_KEEP=1, PGBIN.

set -euo pipefail
BENCH_SCRIPT=$(readlink -f "$0")
BENCH_SRC=$(dirname "$BENCH_SCRIPT")
. "$BENCH_SRC/lib.sh"
bench_become_postgres "$@"
bench_require_pgq

PROBE=$BENCH_SRC/../test/londiste3/copy/ld_copy_probe
[ -x "$PROBE" ] || bench_die "$PROBE is not built (run make)"
[ -x /usr/bin/londiste ] || bench_die "needs /usr/bin/londiste (python3-londiste)"
MB=${LONDISTE_COPY_BENCH_MB:-1024}
QUEUE=replika
TABLE=public.big

# the in-server ticker gives the Python copy process its batches
bench_start_cluster <<CONF
shared_preload_libraries = 'pgq'
CONF
for db in root leaf pyleaf dumped; do
    bench_psql_db postgres -c "CREATE DATABASE $db" >/dev/null
done
# the dump brings the root's londiste triggers, which call pgq's functions
bench_psql_db dumped -c "CREATE EXTENSION pgq" >/dev/null

connstr() {
    echo "host=127.0.0.1 port=$BENCH_PORT user=postgres dbname=$1"
}

write_ini() {
    cat >"$BENCH_DIR/$1.ini" <<INI
[londiste]
job_name = $1
db = $(connstr "$2")
queue_name = $QUEUE
logfile = $BENCH_DIR/$1.log
pidfile = $BENCH_DIR/$1.pid
loop_delay = 0.1
INI
}

londiste_cmd() {
    local name=$1
    shift
    (cd "$BENCH_DIR" && /usr/bin/londiste "$BENCH_DIR/$name.ini" "$@") \
        >>"$BENCH_DIR/londiste.out" 2>&1 ||
        bench_die "londiste $name $* failed, see $BENCH_DIR/londiste.out"
}

seconds_since() {
    echo "$1 $(bench_now_ns)" | awk '{ printf "%.2f", ($2 - $1) / 1e9 }'
}

TABLE_SQL="CREATE TABLE big (id bigint PRIMARY KEY, account int NOT NULL,
    amount numeric(12,2), note text, created timestamptz);
CREATE INDEX big_account_idx ON big (account);"
for db in root leaf pyleaf; do
    bench_psql_db "$db" -c "$TABLE_SQL" >/dev/null
done
# about 150 bytes of heap per row
ROWS=$((MB * 1024 * 1024 / 150))
echo "loading $ROWS rows (${MB} MB) into the root..."
bench_psql_db root -c "INSERT INTO big
    SELECT i, i % 10007, (i % 100000) / 100.0,
           md5(i::text) || ' ' || md5((i * 7)::text),
           '2026-01-01'::timestamptz + i * interval '1 second'
      FROM generate_series(1, $ROWS) i" >/dev/null
bench_psql_db root -c "VACUUM ANALYZE big" >/dev/null
heap=$(bench_psql_db root -c "SELECT pg_size_pretty(pg_table_size('big'))")
total=$(bench_psql_db root -c "SELECT pg_size_pretty(pg_total_relation_size('big'))")

for m in root leaf pyleaf; do
    write_ini "$m" "$m"
done
londiste_cmd root create-root rootnode "$(connstr root)"
# an idle queue still ticks every second, so that the Python copy process
# gets its first batch at once, as it would on a busy queue
bench_psql_db root -c "SELECT pgq.set_queue_config('$QUEUE', 'ticker_max_lag', '0.2 s');
    SELECT pgq.set_queue_config('$QUEUE', 'ticker_idle_period', '1 s')" >/dev/null
londiste_cmd leaf create-leaf leafnode "$(connstr leaf)" --provider="$(connstr root)"
londiste_cmd pyleaf create-leaf pyleafnode "$(connstr pyleaf)" --provider="$(connstr root)"
londiste_cmd root add-table "$TABLE"
londiste_cmd leaf add-table "$TABLE"
londiste_cmd pyleaf add-table "$TABLE"

in_copy() {
    bench_psql_db "$1" -c "SET session_replication_role = replica; TRUNCATE big; SELECT * FROM londiste.local_set_table_state('$QUEUE', '$TABLE', NULL, 'in-copy')" >/dev/null
    bench_psql_db "$1" -c "CHECKPOINT" >/dev/null
}

check_rows() {
    local got
    got=$(bench_psql_db "$1" -c "SELECT count(*) FROM big")
    [ "$got" = "$ROWS" ] || bench_die "$2: $got rows in $1, expected $ROWS"
}

# pg_dump | psql
bench_psql_db dumped -c "CHECKPOINT" >/dev/null
t0=$(bench_now_ns)
"$PGBIN/pg_dump" -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -t big root |
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -d dumped >/dev/null
dump_s=$(seconds_since "$t0")
check_rows dumped pg_dump

# ours, one transaction and two writers
run_ours() {
    in_copy leaf
    t0=$(bench_now_ns)
    "$PROBE" copy "$(connstr root)" "$(connstr leaf)" "$QUEUE" "$TABLE" "$TABLE" "$@" \
        >/dev/null 2>>"$BENCH_DIR/probe.log" || bench_die "ld_copy_probe failed, see $BENCH_DIR/probe.log"
    seconds_since "$t0"
    check_rows leaf ours
}
ours_s=$(run_ours) || exit 1
ours2_s=$(run_ours --writers=2) || exit 1

# python: its copy process, until the table is catching-up
in_copy pyleaf
t0=$(bench_now_ns)
(cd "$BENCH_DIR" && /usr/bin/londiste "$BENCH_DIR/pyleaf.ini" copy "$TABLE" -d) \
    >>"$BENCH_DIR/londiste.out" 2>&1
until [ "$(bench_psql_db pyleaf -c "SELECT merge_state FROM londiste.get_table_list('$QUEUE') WHERE table_name = '$TABLE'")" = catching-up ]; do
    sleep 0.05
done
py_s=$(seconds_since "$t0")
pidfile="$BENCH_DIR/pyleaf.pid.copy.$TABLE"
if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill -INT "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
fi
check_rows pyleaf python

echo "londiste initial copy of one table: $ROWS rows, heap $heap, with indexes $total"
bench_settings_line
awk -v d="$dump_s" -v o="$ours_s" -v o2="$ours2_s" -v p="$py_s" -v mb="$MB" 'BEGIN {
    printf "%-28s %9s %9s %12s\n", "", "seconds", "MB/s", "vs pg_dump"
    printf "%-28s %9.2f %9.1f %12.2f\n", "pg_dump -t | psql", d, mb / d, 1
    printf "%-28s %9.2f %9.1f %12.2f\n", "londiste3 copy", o, mb / o, o / d
    printf "%-28s %9.2f %9.1f %12.2f\n", "londiste3 copy, 2 writers", o2, mb / o2, o2 / d
    printf "%-28s %9.2f %9.1f %12.2f\n", "python londiste copy", p, mb / p, p / d
    printf "londiste3 / python: %.2f\n", o / p
}'
