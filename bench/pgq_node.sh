#!/bin/bash
# bench/pgq_node.sh - the calls a cascade worker makes per batch, ours
# against Debian's pgq_node 3.5, in one cluster and one run.
#
# Per batch a worker calls, on its target, get_consumer_state,
# get_node_info and set_consumer_completed, on its provider
# set_subscriber_watermark, and on the root set_global_watermark(q, NULL).
# Each is measured with pgbench (-M prepared, one client, TCP), our
# function and the original interleaved in one session (each transaction
# picks one of the two at random), so that drift of the machine cancels out
# of the ratio.  The original is the install script of Debian's
# postgresql-15-pgq-node 3.5, unpacked from the .deb in PGQ_ORIGINAL_DEBS
# and loaded as plain SQL under the schema name pgq_node35, on top of our
# pgq, so that both sides call the same queue core.  Each side works on
# its own root queue with the same nodes, subscriber and consumer.
# set_subscriber_watermark is measured on its common path, a watermark
# already where it is reported to be (ret_code 100).  The sessions run
# with synchronous_commit = off: with it on, the flush at each commit of
# the writing calls is most of what is measured, the same on both sides.
#
# Usage: bench/pgq_node.sh   (as root or postgres; needs "make install")
# Environment: PGQ_ORIGINAL_DEBS (directory with
# postgresql-15-pgq-node_*.deb; downloaded when run as root without it),
# PGQ_BENCH_SECONDS (per function, default 5), PGQ_BENCH_PORT (default
# 5495), PGQ_BENCH_KEEP=1, PGBIN.

set -euo pipefail
BENCH_SCRIPT=$(readlink -f "$0")
BENCH_SRC=$(dirname "$BENCH_SCRIPT")
. "$BENCH_SRC/lib.sh"
bench_original_debs
bench_become_postgres "$@"
bench_require_pgq

RUN_SECONDS=${PGQ_BENCH_SECONDS:-5}
deb=$(bench_original_deb postgresql-15-pgq-node)

bench_start_cluster </dev/null
bench_psql -c "CREATE EXTENSION pgq_node" >/dev/null

# The original, renamed.  Its dump configuration only works inside an
# extension and is left out.
mkdir "$BENCH_DIR/original"
dpkg-deb -x "$deb" "$BENCH_DIR/original"
script=$(ls "$BENCH_DIR"/original/usr/share/postgresql/*/extension/pgq_node--3.5.sql)
sed -e 's/\bpgq_node\./pgq_node35./g' -e 's/schema pgq_node\b/schema pgq_node35/g' \
    -e '/pg_extension_config_dump/d' "$script" >"$BENCH_DIR/pgq_node35.sql"
bench_psql -f "$BENCH_DIR/pgq_node35.sql" >"$BENCH_DIR/pgq_node35.log" 2>&1 ||
    bench_die "loading the original failed, see $BENCH_DIR/pgq_node35.log"

# The same root on both sides: itself, a branch subscribed to it, a plain
# cascaded consumer, three ticks.
for side in pgq_node:q_ours pgq_node35:q_orig; do
    schema=${side%%:*} queue=${side#*:}
    bench_psql >/dev/null <<SQL
SELECT $schema.register_location('$queue', 'root', 'dbname=root', false);
SELECT $schema.register_location('$queue', 'branch', 'dbname=branch', false);
SELECT $schema.create_node('$queue', 'root', 'root', 'w_root', NULL, NULL, NULL);
SELECT pgq.set_queue_config('$queue', 'ticker_max_count', '1');
SELECT $schema.register_subscriber('$queue', 'branch', 'w_branch', NULL);
SELECT $schema.register_consumer('$queue', 'c1', 'root', 1);
SELECT pgq.insert_event('$queue', 'data', 'x'), pgq.ticker('$queue');
SELECT pgq.insert_event('$queue', 'data', 'x'), pgq.ticker('$queue');
SELECT $schema.set_subscriber_watermark('$queue', 'branch', 2);
SQL
done

# name|call with SCHEMA and QUEUE to fill in
CALLS="get_consumer_state|SELECT * FROM SCHEMA.get_consumer_state('QUEUE', 'c1')
set_consumer_completed|SELECT * FROM SCHEMA.set_consumer_completed('QUEUE', 'c1', 2)
get_node_info|SELECT * FROM SCHEMA.get_node_info('QUEUE')
set_subscriber_watermark|SELECT * FROM SCHEMA.set_subscriber_watermark('QUEUE', 'branch', 2)
set_global_watermark|SELECT * FROM SCHEMA.set_global_watermark('QUEUE', NULL)"

echo "$(bench_settings_line)"
echo "pgbench -M prepared, 1 client, TCP 127.0.0.1, synchronous_commit=off, ours and 3.5 interleaved in one session, $RUN_SECONDS s per function"
printf '%-26s %12s %12s %7s\n' function "ours calls/s" "3.5 calls/s" ratio
while IFS='|' read -r name call; do
    sed -e 's/SCHEMA/pgq_node/' -e 's/QUEUE/q_ours/' <<<"$call;" >"$BENCH_DIR/$name.ours.sql"
    sed -e 's/SCHEMA/pgq_node35/' -e 's/QUEUE/q_orig/' <<<"$call;" >"$BENCH_DIR/$name.orig.sql"
    bench_psql -c "CHECKPOINT" >/dev/null
    out="$BENCH_DIR/pgbench_$name.log"
    (cd "$BENCH_DIR" && PGOPTIONS="-c synchronous_commit=off" "$PGBIN/pgbench" -n -M prepared -c 1 -T "$RUN_SECONDS" \
        -h 127.0.0.1 -p "$BENCH_PORT" -U postgres \
        --log --log-prefix="$BENCH_DIR/lat_$name" \
        -f "$name.ours.sql@1" -f "$name.orig.sql@1" "$BENCH_DB") >"$out" 2>&1 ||
        { cat "$out" >&2; bench_die "pgbench failed for $name"; }
    mapfile -t lats < <(bench_script_latencies "$BENCH_DIR/lat_$name")
    [ "${#lats[@]}" -eq 2 ] || { cat "$out" >&2; bench_die "no per-script latencies for $name"; }
    awk -v n="$name" -v ours="${lats[0]}" -v orig="${lats[1]}" 'BEGIN {
        printf "%-26s %12.0f %12.0f %7.2f\n", n, 1e6 / ours, 1e6 / orig, orig / ours }'
done <<<"$CALLS"
echo "ratio = ours / 3.5 in calls per second (above 1: ours is faster)"
