#!/bin/bash
# bench/coop.sh - pgq_coop batch handout: next_batch + finish_batch round
# trips of cooperative consumer members, against pgq.next_batch +
# pgq.finish_batch of one plain consumer measured in the same run.
#
# The queue is given enough ticks beforehand that no call ever waits for
# one (the batches are empty: what is measured is handing out and closing
# batches, not reading events).  No ticker runs.  Every batch is taken and
# finished in transactions of its own, as python3-pgq does, with
# synchronous_commit off in the measuring sessions so that the figures show
# the functions' cost rather than the WAL flush of each commit.
#   server side   a procedure calling next_batch and finish_batch and
#                 committing, ROUNDS times BATCHES batches; the median
#                 per-batch cost of the plain consumer and of one pgq_coop
#                 member (the group has 8) and their ratio
#   pgbench       batches per second through a client: the plain consumer
#                 from 1 connection; 8 members of one group from 8
#                 connections (they serialise on the group's row) and one
#                 member from 1 connection; each against the plain figure
#
# Usage: bench/coop.sh   (as root or postgres; needs "make install")
# Environment: BATCHES (default 3000), ROUNDS (default 3), PGQ_BENCH_PORT
# (default 5495), PGQ_BENCH_KEEP=1, PGBIN.

set -euo pipefail
BENCH_SCRIPT=$(readlink -f "$0")
BENCH_SRC=$(dirname "$BENCH_SCRIPT")
. "$BENCH_SRC/lib.sh"
bench_become_postgres "$@"
bench_require_pgq

QUEUE=bench_q
MEMBERS=8
BATCHES=${BATCHES:-3000}
ROUNDS=${ROUNDS:-3}
# every round of every measurement takes BATCHES batches of one consumer:
# the plain one, or the group (server side, then three pgbench runs)
TICKS=$((ROUNDS * BATCHES * 3 + 100))

bench_start_cluster </dev/null
started_at=$(bench_now_ns)
export PGOPTIONS='-c synchronous_commit=off'

bench_psql >/dev/null <<SQL
CREATE EXTENSION pgq_coop;
SELECT pgq.create_queue('$QUEUE');
-- every pgq.ticker() call ticks, with or without events
SELECT pgq.set_queue_config('$QUEUE', 'ticker_max_count', '1');
SELECT pgq.set_queue_config('$QUEUE', 'ticker_max_lag', '0');
SELECT pgq.set_queue_config('$QUEUE', 'ticker_idle_period', '0');
SELECT pgq.register_consumer('$QUEUE', 'plain');
SELECT pgq_coop.register_subconsumer('$QUEUE', 'grp', 'm' || i)
  FROM generate_series(1, $MEMBERS) i;

CREATE PROCEDURE bench_tick(n integer) LANGUAGE plpgsql AS \$\$
BEGIN
    FOR i IN 1 .. n LOOP
        PERFORM pgq.ticker('$QUEUE');
        COMMIT;
    END LOOP;
END
\$\$;

-- n batches of the plain consumer (p_member NULL) or of one member, each
-- in a transaction of its own; the elapsed time of the whole loop
CREATE PROCEDURE bench_handout(n integer, p_member text, INOUT seconds float8)
LANGUAGE plpgsql AS \$\$
DECLARE
    batch bigint;
    started timestamptz := clock_timestamp();
BEGIN
    FOR i IN 1 .. n LOOP
        IF p_member IS NULL THEN
            batch := pgq.next_batch('$QUEUE', 'plain');
        ELSE
            batch := pgq_coop.next_batch('$QUEUE', 'grp', p_member);
        END IF;
        IF batch IS NULL THEN
            RAISE EXCEPTION 'the queue ran out of ticks';
        END IF;
        IF p_member IS NULL THEN
            PERFORM pgq.finish_batch(batch);
        ELSE
            PERFORM pgq_coop.finish_batch(batch);
        END IF;
        COMMIT;
    END LOOP;
    seconds := extract(epoch FROM clock_timestamp() - started);
END
\$\$;
SQL
bench_psql -c "CALL bench_tick($TICKS)" >/dev/null
bench_psql -c "CHECKPOINT" >/dev/null

per_batch_us() {
    awk -v s="$1" -v n="$BATCHES" 'BEGIN { printf "%.1f", s * 1e6 / n }'
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

plain_us=()
coop_us=()
for ((r = 0; r < ROUNDS; r++)); do
    plain_us+=("$(per_batch_us "$(bench_psql -c "CALL bench_handout($BATCHES, NULL, NULL)")")")
    coop_us+=("$(per_batch_us "$(bench_psql -c "CALL bench_handout($BATCHES, 'm1', NULL)")")")
done
plain_med=$(bench_median "${plain_us[@]}")
coop_med=$(bench_median "${coop_us[@]}")

cat >"$BENCH_DIR/plain.pgbench" <<SQL
SELECT pgq.next_batch('$QUEUE', 'plain') AS batch \gset
SELECT pgq.finish_batch(:batch);
SQL
cat >"$BENCH_DIR/coop.pgbench" <<SQL
SELECT pgq_coop.next_batch('$QUEUE', 'grp', 'm' || (:client_id + 1)) AS batch \gset
SELECT pgq_coop.finish_batch(:batch);
SQL

# batches per second of one pgbench run: clients, script
pgbench_rate() {
    local clients=$1 script=$2 out
    out=$("$PGBIN/pgbench" -n -h 127.0.0.1 -p "$BENCH_PORT" -U postgres \
        -c "$clients" -j "$clients" -t $((BATCHES / clients)) -f "$script" "$BENCH_DB" 2>&1) ||
        bench_die "pgbench failed: $out"
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out"
}

plain_tps=()
coop8_tps=()
coop1_tps=()
for ((r = 0; r < ROUNDS; r++)); do
    plain_tps+=("$(pgbench_rate 1 "$BENCH_DIR/plain.pgbench")")
    coop8_tps+=("$(pgbench_rate "$MEMBERS" "$BENCH_DIR/coop.pgbench")")
    coop1_tps+=("$(pgbench_rate 1 "$BENCH_DIR/coop.pgbench")")
done
plain_tps_med=$(bench_median "${plain_tps[@]}")
coop8_tps_med=$(bench_median "${coop8_tps[@]}")
coop1_tps_med=$(bench_median "${coop1_tps[@]}")

left=$(bench_psql -c "SELECT count(*) FROM pgq.get_consumer_info('$QUEUE') WHERE current_batch IS NOT NULL")
[ "$left" = 0 ] || bench_die "$left batches were left open"

echo "pgq_coop batch handout: next_batch + finish_batch, $BATCHES empty batches per run, median of $ROUNDS runs"
bench_settings_line
echo "measuring sessions: synchronous_commit=off; $(nproc) CPUs"
echo
echo "server side (procedure, one transaction per batch)     us/batch   vs plain"
printf '  %-52s %8s\n' "pgq.next_batch, plain consumer" "$plain_med"
printf '  %-52s %8s   %sx\n' "pgq_coop.next_batch, one member of $MEMBERS" "$coop_med" \
    "$(ratio "$coop_med" "$plain_med")"
echo
echo "pgbench (two statements per batch)                     batches/s  cost vs plain"
printf '  %-52s %8.0f\n' "plain consumer, 1 connection" "$plain_tps_med"
printf '  %-52s %8.0f   %sx\n' "$MEMBERS members, $MEMBERS connections" "$coop8_tps_med" \
    "$(ratio "$plain_tps_med" "$coop8_tps_med")"
printf '  %-52s %8.0f   %sx\n' "one member, 1 connection" "$coop1_tps_med" \
    "$(ratio "$plain_tps_med" "$coop1_tps_med")"
echo
echo "runs (server us/batch plain, coop; pgbench batches/s plain, 8 members, 1 member):"
for ((r = 0; r < ROUNDS; r++)); do
    echo "  ${plain_us[r]} ${coop_us[r]}; ${plain_tps[r]} ${coop8_tps[r]} ${coop1_tps[r]}"
done
echo
echo "total $(( ($(bench_now_ns) - started_at) / 1000000000 )) s"
