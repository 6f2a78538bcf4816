#!/bin/bash
# bench/latency.sh - end-to-end event latency: from the producer's COMMIT
# returning to the consumer holding the event, with the consumer waiting
# by LISTEN (bench/latency.c, built here).
#
# One throwaway cluster with pgq preloaded.  Three queue configurations
# are measured - the defaults (queue_ticker_max_lag 3 s), max_lag 100 ms
# and max_lag 10 ms - first with the in-server ticker, then with it
# switched off (pgq.ticker_enabled = off) and Debian's pgqd ticking with
# its default settings instead (ticker_period 1 s).  pgq.ticker() notifies
# the queue's channel whoever calls it, so the consumer is the same in
# both cases.  Each run sends PGQ_BENCH_EVENTS events (default 400), one
# per transaction, about every PGQ_BENCH_INTERVAL_MS (default 50) ms.
#
# Usage: bench/latency.sh   (as root or postgres; needs "make install")
# Environment: PGQ_BENCH_EVENTS, PGQ_BENCH_INTERVAL_MS, PGQD (default
# /usr/bin/pgqd), PGQ_BENCH_PORT (default 5495), PGQ_BENCH_KEEP=1, PGBIN.

set -euo pipefail
BENCH_SCRIPT=$(readlink -f "$0")
BENCH_SRC=$(dirname "$BENCH_SCRIPT")
. "$BENCH_SRC/lib.sh"
bench_become_postgres "$@"
bench_require_pgq

EVENTS=${PGQ_BENCH_EVENTS:-400}
INTERVAL_MS=${PGQ_BENCH_INTERVAL_MS:-50}
bench_require_pgqd


bench_start_cluster <<EOF
shared_preload_libraries = 'pgq'
EOF

cc -O2 -Wall -pthread -I"$("$PGBIN/pg_config" --includedir)" -o "$BENCH_DIR/latency" \
    "$BENCH_SRC/latency.c" -L"$("$PGBIN/pg_config" --libdir)" -lpq ||
    bench_die "could not build latency.c (is libpq-dev installed?)"
CONNINFO="host=127.0.0.1 port=$BENCH_PORT user=postgres dbname=$BENCH_DB"

# Wait until $1 (SQL) returns t, for at most 60 s.
wait_for() {
    local i
    for i in $(seq 600); do
        [ "$(bench_psql -c "$1")" = t ] && return 0
        sleep 0.1
    done
    bench_die "timed out waiting for: $1"
}

# Measure the three configurations; $1 labels the ticker.
run_series() {
    local ticker=$1 config lag queue result
    for config in default:3s lag100ms:100ms lag10ms:10ms; do
        lag=${config#*:}
        queue="${ticker}_${config%%:*}"
        bench_psql >/dev/null <<SQL
SELECT pgq.create_queue('$queue');
SELECT pgq.set_queue_config('$queue', 'ticker_max_lag', '$lag');
SELECT pgq.register_consumer('$queue', 'bench');
SQL
        result=$("$BENCH_DIR/latency" "$CONNINFO" "$queue" bench "$EVENTS" "$INTERVAL_MS")
        printf '%-10s %-9s %s\n' "$ticker" "${lag}" "$result"
    done
}

echo "# $(bench_settings_line)"
echo "# $EVENTS events per run, one per transaction, every ${INTERVAL_MS} ms on average"
printf '%-10s %-9s %s\n' ticker max_lag result

wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pgq ticker'"
run_series in-server

# Switch the in-server ticker off and let pgqd tick instead.
echo "pgq.ticker_enabled = off" >>"$BENCH_DIR/data/postgresql.conf"
"$PGBIN/pg_ctl" -D "$BENCH_DIR/data" reload >/dev/null
wait_for "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pgq ticker'"
cat >"$BENCH_DIR/pgqd.ini" <<EOF
[pgqd]
logfile = $BENCH_DIR/pgqd.log
pidfile = $BENCH_DIR/pgqd.pid
base_connstr = host=127.0.0.1 port=$BENCH_PORT user=postgres
initial_database = postgres
database_list = $BENCH_DB
syslog = 0
EOF
bench_start_pgqd "$BENCH_DIR/pgqd.ini"
bench_psql -c "SELECT pgq.create_queue('pgqd_ready')" >/dev/null
wait_for "SELECT last_tick_id >= 2 FROM pgq.get_queue_info('pgqd_ready')"
run_series pgqd
bench_stop_pgqd
