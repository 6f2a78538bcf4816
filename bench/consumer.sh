#!/bin/bash
# bench/consumer.sh - consumer throughput: read a million events in ten
# batches of 100,000 with next_batch / get_batch_events / finish_batch.
#
# The events are produced with pgq.insert_event in ten INSERT ... SELECT
# style statements of 100,000 events each, with a pgq.ticker() call after
# each, so every batch holds exactly one of those transactions.  No other
# ticker runs.  Several consumers are registered before the load and each
# reads all ten batches once:
#   server side   SELECT count(*) FROM pgq.get_batch_events(id) per batch,
#                 timed inside the server (the count only); the first pass
#                 also sets the hint bits of the fresh rows, as the first
#                 consumer of a real queue does, so a second pass shows the
#                 steady cost
#   libpq         bench/consume.c, built here: all rows of every batch
#                 fetched as text by a C client (whole loop timed)
#   psql          psql -At with the rows written to /dev/null (whole run
#                 timed, including starting psql)
#
# Usage: bench/consumer.sh   (as root or postgres; needs "make install")
# Environment: PGQ_BENCH_EXPLAIN=1 also prints EXPLAIN (ANALYZE, BUFFERS) of
# one batch query; PGQ_BENCH_PORT (default 5495), PGQ_BENCH_KEEP=1, PGBIN.

set -euo pipefail
BENCH_SCRIPT=$(readlink -f "$0")
BENCH_SRC=$(dirname "$BENCH_SCRIPT")
. "$BENCH_SRC/lib.sh"
bench_become_postgres "$@"
bench_require_pgq

QUEUE=bench_q
BATCHES=10
BATCH_EVENTS=100000
TOTAL_EVENTS=$((BATCHES * BATCH_EVENTS))
TARGET_SERVER_RATE=1500000
# The producer benchmark's ~100 byte event.
PAYLOAD='id=1234567&name=benchmark+customer&email=bench%40example.org&amount=1234.56&currency=EUR&state=new'
CONSUMERS="bench_first bench_server bench_libpq bench_psql bench_explain"

bench_start_cluster </dev/null
started_at=$(bench_now_ns)

cc -O2 -Wall -I"$("$PGBIN/pg_config" --includedir)" -o "$BENCH_DIR/consume" \
    "$BENCH_SRC/consume.c" -L"$("$PGBIN/pg_config" --libdir)" -lpq ||
    bench_die "could not build consume.c (is libpq-dev installed?)"

bench_psql >/dev/null <<SQL
SELECT pgq.create_queue('$QUEUE');
SELECT pgq.register_consumer('$QUEUE', name)
  FROM unnest(string_to_array('$CONSUMERS', ' ')) AS name;

-- Reads all open batches of one consumer; the clock runs only around the
-- count over get_batch_events.
CREATE FUNCTION bench_read_batches(i_consumer text,
    OUT batches integer, OUT events bigint,
    OUT count_seconds float8, OUT slowest_ms float8)
LANGUAGE plpgsql AS \$\$
DECLARE
    batch bigint;
    batch_events bigint;
    started timestamptz;
    elapsed float8;
BEGIN
    batches := 0;
    events := 0;
    count_seconds := 0;
    slowest_ms := 0;
    LOOP
        batch := pgq.next_batch('$QUEUE', i_consumer);
        EXIT WHEN batch IS NULL;
        started := clock_timestamp();
        SELECT count(*) INTO batch_events FROM pgq.get_batch_events(batch);
        elapsed := extract(epoch FROM clock_timestamp() - started);
        count_seconds := count_seconds + elapsed;
        slowest_ms := greatest(slowest_ms, elapsed * 1000);
        events := events + batch_events;
        batches := batches + 1;
        PERFORM pgq.finish_batch(batch);
    END LOOP;
END
\$\$;
SQL

# Load: one transaction per future batch, each followed by a tick.
load_started=$(bench_now_ns)
bench_load_batches "$QUEUE" "$BATCHES" "$BATCH_EVENTS" bench "$PAYLOAD"
load_ns=$(($(bench_now_ns) - load_started))
bench_psql -c "CHECKPOINT" >/dev/null
data_size=$(bench_psql -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid)))
                             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                            WHERE i.inhparent = (SELECT queue_data_pfx FROM pgq.queue
                                                  WHERE queue_name = '$QUEUE')::regclass")

check_count() {
    local what=$1 batches=$2 events=$3
    if [ "$batches" -ne "$BATCHES" ] || [ "$events" -ne "$TOTAL_EVENTS" ]; then
        bench_die "$what read $events events in $batches batches, expected $TOTAL_EVENTS in $BATCHES"
    fi
}

rate() {
    awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'
}

rows=()
add_row() {
    rows+=("$(printf '%-44s %8.3f %11s  %s' "$1" "$2" "$(rate "$TOTAL_EVENTS" "$2")" "${3:-}")")
}

server_pass() {
    local consumer=$1 label=$2 batches events seconds slowest target
    IFS='|' read -r batches events seconds slowest < <(bench_psql -c \
        "SELECT batches, events, count_seconds, slowest_ms FROM bench_read_batches('$consumer')")
    check_count "$label" "$batches" "$events"
    target=">= $TARGET_SERVER_RATE $(awk -v n="$events" -v s="$seconds" -v t="$TARGET_SERVER_RATE" \
        'BEGIN { print (n / s >= t) ? "met" : "below" }')"
    add_row "$label" "$seconds" \
        "$target (slowest batch $(printf '%.1f' "$slowest") ms)"
}

server_pass bench_first "server side, first read (sets hint bits)"
bench_psql -c "CHECKPOINT" >/dev/null
server_pass bench_server "server side, second read"

consume_out=$("$BENCH_DIR/consume" \
    "host=127.0.0.1 port=$BENCH_PORT user=postgres dbname=$BENCH_DB" "$QUEUE" bench_libpq)
IFS=' =' read -r _ libpq_batches _ libpq_events _ libpq_bytes _ libpq_seconds _ libpq_read_seconds _ \
    <<<"$consume_out"
check_count "consume.c" "$libpq_batches" "$libpq_events"
add_row "libpq client consume.c (whole loop)" "$libpq_seconds" \
    "get_batch_events $(printf '%.3f' "$libpq_read_seconds") s, $((libpq_bytes / 1048576)) MiB of values"

for ((i = 0; i < BATCHES; i++)); do
    echo "SELECT pgq.next_batch('$QUEUE', 'bench_psql') AS batch_id \\gset"
    echo "SELECT * FROM pgq.get_batch_events(:batch_id);"
    echo "SELECT pgq.finish_batch(:batch_id);"
done >"$BENCH_DIR/consume_psql.sql"
psql_started=$(bench_now_ns)
bench_psql -f "$BENCH_DIR/consume_psql.sql" -o /dev/null
psql_seconds=$(awk -v ns="$(($(bench_now_ns) - psql_started))" 'BEGIN { printf "%.6f", ns / 1e9 }')
left=$(bench_psql -c "SELECT pgq.next_batch('$QUEUE', 'bench_psql')")
[ -z "$left" ] || bench_die "psql consumer did not read all batches"
add_row "psql -At, rows to /dev/null (whole run)" "$psql_seconds"

echo "pgq consumer benchmark: $TOTAL_EVENTS events in $BATCHES batches of $BATCH_EVENTS, ~100 byte ev_data"
bench_settings_line
printf 'load: %d events through pgq.insert_event in %.1f s (%s events/s), %s on disk; no ticker running\n' \
    "$TOTAL_EVENTS" "$(awk -v ns="$load_ns" 'BEGIN { print ns / 1e9 }')" \
    "$(rate "$TOTAL_EVENTS" "$(awk -v ns="$load_ns" 'BEGIN { print ns / 1e9 }')")" "$data_size"
echo
printf '%-44s %8s %11s  %s\n' reader seconds events/s notes
printf '%s\n' "${rows[@]}"

if [ "${PGQ_BENCH_EXPLAIN:-0}" = 1 ]; then
    echo
    echo "EXPLAIN (ANALYZE, BUFFERS) of the first batch's query (pgq.batch_event_sql):"
    bench_psql <<SQL
SELECT pgq.next_batch('$QUEUE', 'bench_explain') AS batch_id \gset
SELECT pgq.batch_event_sql(:batch_id) AS batch_sql \gset
\echo :batch_sql
EXPLAIN (ANALYZE, BUFFERS) :batch_sql;
SQL
fi
echo
echo "total $(( ($(bench_now_ns) - started_at) / 1000000000 )) s; the target is for information only"
