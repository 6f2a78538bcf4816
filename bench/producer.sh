#!/bin/bash
# bench/producer.sh - producer throughput: pgq.insert_event() against a plain
# INSERT into an ordinary table of the same shape, measured in the same run.
#
# Both sides are driven by pgbench with the prepared protocol (-M prepared)
# over TCP to 127.0.0.1, with the same payload passed as a parameter, and
# both return the new event id to the client.  The two sides run
# interleaved in one pgbench session (each transaction picks one of the two
# scripts at random), so they share the same moments of the machine and its
# drift cancels out of the ratio.  Every configuration runs PGQ_BENCH_ROUNDS
# times, each run from emptied tables and a fresh checkpoint; medians are
# shown.
#
# No ticker runs: the cluster has no pgqd and preloads nothing, and the
# queue's ticker is paused besides, so no tick or table rotation happens
# while events are inserted.
#
# Usage: bench/producer.sh   (as root or postgres; needs "make install")
# Environment: PGQ_BENCH_SECONDS (per run, default 8), PGQ_BENCH_ROUNDS
# (default 3), PGQ_BENCH_PORT (default 5495), PGQ_BENCH_KEEP=1, PGBIN.

set -euo pipefail
BENCH_SCRIPT=$(readlink -f "$0")
. "$(dirname "$BENCH_SCRIPT")/lib.sh"
bench_become_postgres "$@"
bench_require_pgq

RUN_SECONDS=${PGQ_BENCH_SECONDS:-8}
ROUNDS=${PGQ_BENCH_ROUNDS:-3}
QUEUE=bench_q
# A typical small event: about 100 bytes of urlencoded row data.
PAYLOAD='id=1234567&name=benchmark+customer&email=bench%40example.org&amount=1234.56&currency=EUR&state=new'

# Configurations: synchronous_commit clients events-per-transaction.  With
# synchronous_commit=on (the default) a single-event transaction mostly
# waits for its WAL flush, which hides per-event cost; the off rows show it.
CONFIGS=(
    "on 1 1"
    "on 1 100"
    "on 4 1"
    "on 4 100"
    "off 1 1"
    "off 4 1"
)

bench_start_cluster </dev/null
started_at=$(bench_now_ns)

# The plain table is built from the queue's current event table so that it
# has the same columns, defaults, index and storage options; only ev_id gets
# a sequence of its own.
bench_psql >/dev/null <<SQL
SELECT pgq.create_queue('$QUEUE');
UPDATE pgq.queue SET queue_ticker_paused = true WHERE queue_name = '$QUEUE';
SELECT pgq.current_event_table('$QUEUE') AS event_table \gset
CREATE TABLE bench_plain (LIKE :event_table INCLUDING DEFAULTS INCLUDING INDEXES);
CREATE SEQUENCE bench_plain_id_seq OWNED BY bench_plain.ev_id;
ALTER TABLE bench_plain ALTER ev_id SET DEFAULT nextval('bench_plain_id_seq');
SELECT 'ALTER TABLE bench_plain SET (' || array_to_string(reloptions, ', ') || ')'
  FROM pg_class WHERE oid = :'event_table'::regclass AND reloptions IS NOT NULL \gexec
SELECT 'ALTER TABLE bench_plain SET (toast.' || array_to_string(t.reloptions, ', toast.') || ')'
  FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid
 WHERE c.oid = :'event_table'::regclass AND t.reloptions IS NOT NULL \gexec
SQL
event_table=$(bench_psql -c "SELECT pgq.current_event_table('$QUEUE')")

# Show that the two tables really have the same shape; the ev_id defaults
# differ only in the name of their sequence.
shape_query() {
    echo "SELECT (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod)
                   || coalesce(' default ' || regexp_replace(pg_get_expr(d.adbin, d.adrelid),
                                   'nextval\(''[^'']*''::regclass\)', 'nextval(<sequence>)'), ''),
                   ', ' ORDER BY attnum)
              FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE a.attrelid = '$1'::regclass AND attnum > 0 AND NOT attisdropped)
           || ' | ' || coalesce((SELECT string_agg(regexp_replace(pg_get_indexdef(indexrelid), '.* USING ', ''), ', ')
                        FROM pg_index WHERE indrelid = '$1'::regclass), 'no index')
           || ' | ' || coalesce((SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = '$1'::regclass), '')
           || ' | toast: ' || coalesce((SELECT array_to_string(t.reloptions, ',') FROM pg_class c
                        JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = '$1'::regclass), '')"
}
pgq_shape=$(bench_psql -c "$(shape_query "$event_table")")
plain_shape=$(bench_psql -c "$(shape_query bench_plain)")
if [ "$pgq_shape" != "$plain_shape" ]; then
    echo "event table: $pgq_shape" >&2
    echo "plain table: $plain_shape" >&2
    bench_die "the plain table does not have the shape of $event_table"
fi

# pgbench scripts: one transaction of N events each.
write_script() {
    local file=$1 events=$2 statement=$3 i
    {
        if [ "$events" -gt 1 ]; then echo "BEGIN;"; fi
        for ((i = 0; i < events; i++)); do echo "$statement"; done
        if [ "$events" -gt 1 ]; then echo "COMMIT;"; fi
    } >"$file"
}
PGQ_STATEMENT="SELECT pgq.insert_event('$QUEUE', 'bench', :payload);"
PLAIN_STATEMENT="INSERT INTO bench_plain (ev_time, ev_type, ev_data) VALUES (now(), 'bench', :payload) RETURNING ev_id;"
for events in 1 100; do
    write_script "$BENCH_DIR/pgq_$events.sql" "$events" "$PGQ_STATEMENT"
    write_script "$BENCH_DIR/plain_$events.sql" "$events" "$PLAIN_STATEMENT"
done

# Run both sides interleaved in one pgbench session: each transaction picks
# the pgq or the plain script at random, and pgbench reports the average
# latency per script, so both sides share the same moments of the machine.
# Prints the events per second of each side (events per transaction x
# clients x 1000 / average latency in ms): pgq first, then plain.
run_mixed() {
    local sync=$1 clients=$2 events=$3 out lats
    bench_psql -c "TRUNCATE $event_table, bench_plain" -c "CHECKPOINT" >/dev/null
    out="$BENCH_DIR/pgbench_${sync}_${clients}_${events}.log"
    if ! PGOPTIONS="-c synchronous_commit=$sync" "$PGBIN/pgbench" -n -M prepared \
            -h 127.0.0.1 -p "$BENCH_PORT" -U postgres \
            -c "$clients" -j "$clients" -T "$RUN_SECONDS" \
            --log --log-prefix="$BENCH_DIR/txlog" \
            -D "payload=$PAYLOAD" \
            -f "$BENCH_DIR/pgq_$events.sql@1" -f "$BENCH_DIR/plain_$events.sql@1" \
            "$BENCH_DB" >"$out" 2>&1; then
        cat "$out" >&2
        bench_die "pgbench failed ($clients clients, $events events per transaction)"
    fi
    lats=$(bench_script_latencies "$BENCH_DIR/txlog" | tr '\n' ' ')
    rm -f "$BENCH_DIR"/txlog.*
    [ "$(wc -w <<<"$lats")" -eq 2 ] || { cat "$out" >&2; bench_die "no per-script latencies in the pgbench log"; }
    awk -v l="$lats" -v c="$clients" -v n="$events" 'BEGIN {
        split(l, lat, " ")
        printf "%.0f %.0f\n", n * c * 1000000 / lat[1], n * c * 1000000 / lat[2] }'
}

target_for() {
    case "$1 $2" in
        "1 1") echo ">= 0.95" ;;
        "4 100") echo ">= 0.90" ;;
        *) echo "" ;;
    esac
}

echo "pgq producer benchmark: pgq.insert_event(queue, type, data) vs plain INSERT ... RETURNING ev_id"
bench_settings_line
echo "pgbench -M prepared, TCP 127.0.0.1, both sides interleaved in one session, $RUN_SECONDS s per run,"
echo "$ROUNDS runs, median shown; events/s from each side's average transaction latency"
echo "both tables: same columns and defaults | ${pgq_shape#* | }"
echo
printf '%-11s %7s %6s %12s %12s %7s  %-20s %s\n' \
    sync_commit clients ev/tx "pgq ev/s" "plain ev/s" ratio "ratio per run" target
for config in "${CONFIGS[@]}"; do
    read -r sync clients events <<<"$config"
    pgq_rates=() plain_rates=() ratios=()
    for ((round = 1; round <= ROUNDS; round++)); do
        read -r pgq_rate plain_rate <<<"$(run_mixed "$sync" "$clients" "$events")"
        pgq_rates+=("$pgq_rate")
        plain_rates+=("$plain_rate")
        ratios+=("$(awk -v a="$pgq_rate" -v b="$plain_rate" 'BEGIN { printf "%.3f", a / b }')")
    done
    target=$(target_for "$clients" "$events")
    if [ -n "$target" ] && [ "$sync" = on ]; then
        verdict=$(awk -v r="$(bench_median "${ratios[@]}")" -v t="${target#>= }" \
            'BEGIN { print (r >= t) ? "met" : "below" }')
        target="$target $verdict"
    else
        target=""
    fi
    printf '%-11s %7s %6s %12s %12s %7.3f  %-20s %s\n' \
        "$sync" "$clients" "$events" \
        "$(bench_median "${pgq_rates[@]}")" "$(bench_median "${plain_rates[@]}")" \
        "$(bench_median "${ratios[@]}")" "${ratios[*]}" "$target"
done
echo
echo "total $(( ($(bench_now_ns) - started_at) / 1000000000 )) s; targets are for information only"
