#!/bin/bash
# bench/triggers.sh - cost of the change-capture triggers: the same
# statements on a 5-column table without a trigger and with each of
# pgq.logutriga, pgq.sqltriga and pgq.jsontriga, measured in the same run.
#
# Bulk part: 100,000-row INSERT ... SELECT, then UPDATE of every row (one
# column changes), then DELETE of every row, each a single statement timed
# by psql (\timing, client round trip included; it is the same for every
# side).  The triggers are AFTER ... FOR EACH ROW, as londiste creates
# them.  Every round runs all four tables, the starting table rotating from
# round to round, each from an emptied table and queue and a fresh
# checkpoint; figures are medians over the rounds, and the ratio printed is
# the median of the per-round trigger/plain ratios, so slow drift of a
# shared machine affects both sides of a ratio alike.
#
# pgbench part: single-row INSERT transactions, 1 client, -M prepared,
# logutriga vs no trigger interleaved in one session; with
# synchronous_commit on (the default, where the commit's WAL flush
# dominates) and off (where the per-row cost shows).
#
# No ticker runs and the queue's ticker is paused, so no rotation happens.
#
# Usage: bench/triggers.sh   (as root or postgres; needs "make install")
# Environment: PGQ_BENCH_ROWS (default 100000), PGQ_BENCH_ROUNDS (default 5),
# PGQ_BENCH_SECONDS (pgbench run length, default 8), PGQ_BENCH_PORT
# (default 5495), PGQ_BENCH_KEEP=1, PGBIN.

set -euo pipefail
BENCH_SCRIPT=$(readlink -f "$0")
. "$(dirname "$BENCH_SCRIPT")/lib.sh"
bench_become_postgres "$@"
bench_require_pgq

ROWS=${PGQ_BENCH_ROWS:-100000}
ROUNDS=${PGQ_BENCH_ROUNDS:-5}
RUN_SECONDS=${PGQ_BENCH_SECONDS:-8}
QUEUE=bench_q
SIDES=(plain logutriga sqltriga jsontriga)
OPERATIONS=(insert update delete)

bench_start_cluster </dev/null
started_at=$(bench_now_ns)

# One table per side, same shape; "plain" has no trigger.  ids come from a
# sequence so that pgbench can insert without choosing them.
{
    echo "SELECT pgq.create_queue('$QUEUE');"
    echo "UPDATE pgq.queue SET queue_ticker_paused = true WHERE queue_name = '$QUEUE';"
    for side in "${SIDES[@]}"; do
        echo "CREATE TABLE t_$side (id bigserial PRIMARY KEY, name text, qty int,
                  price numeric(12,2), changed timestamptz);"
        if [ "$side" != plain ]; then
            echo "CREATE TRIGGER capture AFTER INSERT OR UPDATE OR DELETE ON t_$side
                  FOR EACH ROW EXECUTE FUNCTION pgq.$side('$QUEUE');"
        fi
    done
} | bench_psql >/dev/null
event_tables=$(bench_psql -c "SELECT string_agg(queue_data_pfx || '_' || n, ', ')
    FROM pgq.queue, generate_series(0, queue_ntables - 1) n WHERE queue_name = '$QUEUE'")

statement_for() {
    local op=$1 table=$2
    case $op in
        insert)
            echo "INSERT INTO $table (name, qty, price, changed)
                  SELECT 'customer ' || i, i % 1000, i * 0.01,
                         '2024-01-01 00:00:00+00'::timestamptz + i * interval '1 second'
                    FROM generate_series(1, $ROWS) i" ;;
        update) echo "UPDATE $table SET qty = qty + 1" ;;
        delete) echo "DELETE FROM $table" ;;
    esac
}

# One bulk run of one side: prints "insert_ms update_ms delete_ms".
run_bulk() {
    local side=$1 table=t_$1 out
    bench_psql -c "TRUNCATE $table, $event_tables" -c "CHECKPOINT" >/dev/null
    out=$(bench_psql -c '\timing on' \
        -c "$(statement_for insert "$table")" \
        -c "$(statement_for update "$table")" \
        -c "$(statement_for delete "$table")")
    sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' <<<"$out" | tr '\n' ' '
}

# A sanity check outside the timing: each side queues one event per row.
bench_psql -c "$(statement_for insert t_logutriga)" >/dev/null
queued=$(bench_psql -c "SELECT count(*) FROM pgq.event_template e
                        JOIN pgq.queue q ON e.tableoid::regclass::text LIKE q.queue_data_pfx || '%'
                        WHERE q.queue_name = '$QUEUE'")
[ "$queued" = "$ROWS" ] || bench_die "expected $ROWS events, found $queued"

declare -A times
for ((round = 0; round < ROUNDS; round++)); do
    for ((k = 0; k < ${#SIDES[@]}; k++)); do
        side=${SIDES[(round + k) % ${#SIDES[@]}]}
        read -r t_ins t_upd t_del <<<"$(run_bulk "$side")"
        times[$side,insert,$round]=$t_ins
        times[$side,update,$round]=$t_upd
        times[$side,delete,$round]=$t_del
    done
done

echo "pgq trigger benchmark: $ROWS-row statements on a 5-column table, AFTER ... FOR EACH ROW triggers"
bench_settings_line
echo "$ROUNDS rounds, sides in rotating order, median shown; ratio = median of per-round side/plain"
echo
printf '%-10s %-9s %10s %7s  %s\n' operation side "ms" ratio "ratio per round"
for op in "${OPERATIONS[@]}"; do
    for side in "${SIDES[@]}"; do
        ms=() ratios=()
        for ((round = 0; round < ROUNDS; round++)); do
            ms+=("${times[$side,$op,$round]}")
            ratios+=("$(awk -v a="${times[$side,$op,$round]}" -v b="${times[plain,$op,$round]}" \
                'BEGIN { printf "%.2f", a / b }')")
        done
        ratio=$(bench_median "${ratios[@]}")
        target=""
        if [ "$op" = insert ] && [ "$side" != plain ]; then
            target="target <= 3.0 $(awk -v r="$ratio" 'BEGIN { print (r <= 3.0) ? "met" : "missed" }')"
        fi
        printf '%-10s %-9s %10.1f %7.2f  %-32s %s\n' "$op" "$side" \
            "$(bench_median "${ms[@]}")" "$ratio" "${ratios[*]}" "$target"
    done
done

# pgbench: one row per transaction
echo "\\set qty random(1, 1000)
INSERT INTO TABLE_NAME (name, qty, price, changed) VALUES ('customer', :qty, 12.34, now());" \
    >"$BENCH_DIR/insert.sql"

# Both sides run interleaved in one pgbench session: each transaction picks
# one of the two scripts at random, and pgbench reports the average latency
# per script.  Both sides thus share the same moments of the machine, which
# on a shared machine matters more than anything else; the throughput ratio
# is the inverse ratio of the latencies.
run_pgbench() {
    local sync=$1 out lats
    bench_psql -c "TRUNCATE t_plain, t_logutriga, $event_tables" -c "CHECKPOINT" >/dev/null
    for side in plain logutriga; do
        sed "s/TABLE_NAME/t_$side/" "$BENCH_DIR/insert.sql" >"$BENCH_DIR/insert_$side.sql"
    done
    out="$BENCH_DIR/pgbench_$sync.log"
    if ! PGOPTIONS="-c synchronous_commit=$sync" "$PGBIN/pgbench" -n -M prepared \
            -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -c 1 -j 1 -T "$RUN_SECONDS" \
            --log --log-prefix="$BENCH_DIR/txlog" \
            -f "$BENCH_DIR/insert_logutriga.sql@1" -f "$BENCH_DIR/insert_plain.sql@1" \
            "$BENCH_DB" >"$out" 2>&1; then
        cat "$out" >&2
        bench_die "pgbench failed (synchronous_commit=$sync)"
    fi
    # script 0 of the log is logutriga, script 1 plain
    lats=$(bench_script_latencies "$BENCH_DIR/txlog" | tr '\n' ' ')
    rm -f "$BENCH_DIR"/txlog.*
    [ "$(wc -w <<<"$lats")" -eq 2 ] || { cat "$out" >&2; bench_die "no per-script latencies in the pgbench log"; }
    echo "$lats"
}

echo
echo "pgbench -M prepared, 1 client, single-row INSERT per transaction, logutriga and plain interleaved"
echo "in one session ($RUN_SECONDS s per run, $ROUNDS runs); rates are 1 s / average transaction latency"
printf '%-11s %12s %12s %7s  %-36s %s\n' sync_commit "logutriga/s" "plain/s" ratio "ratio per run" target
for sync in on off; do
    trig_rates=() plain_rates=() ratios=()
    for ((round = 1; round <= ROUNDS; round++)); do
        read -r trig_lat plain_lat <<<"$(run_pgbench "$sync")"
        trig_rates+=("$(awk -v l="$trig_lat" 'BEGIN { printf "%.0f", 1000000 / l }')")
        plain_rates+=("$(awk -v l="$plain_lat" 'BEGIN { printf "%.0f", 1000000 / l }')")
        ratios+=("$(awk -v t="$trig_lat" -v p="$plain_lat" 'BEGIN { printf "%.3f", p / t }')")
    done
    ratio=$(bench_median "${ratios[@]}")
    target=""
    if [ "$sync" = on ]; then
        target="target >= 0.90 $(awk -v r="$ratio" 'BEGIN { print (r >= 0.9) ? "met" : "missed" }')"
    fi
    printf '%-11s %12.0f %12.0f %7.3f  %-36s %s\n' "$sync" \
        "$(bench_median "${trig_rates[@]}")" "$(bench_median "${plain_rates[@]}")" \
        "$ratio" "${ratios[*]}" "$target"
done
echo
echo "total $(( ($(bench_now_ns) - started_at) / 1000000000 )) s"
