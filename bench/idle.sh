#!/bin/bash
# bench/idle.sh - what an idle installation costs: CPU time used in 60 s
# by the in-server ticker (launcher and workers) with 5 databases of 10
# idle queues each, read from /proc/<pid>/stat (utime + stime).
#
# The in-server ticker is measured with its defaults, then with
# pgq.ticker_period = 10s (the periodic look at the queues is most of its
# idle cost; see doc/ticker.md).  For comparison the same is then measured
# with the in-server ticker switched off and Debian's pgqd serving the 5
# databases with its default settings: the pgqd process plus the server backends of its connections
# (those that lived through the whole window; pgqd opens a fresh
# maintenance connection every maint_period, whose short life is missed).
#
# Before each window the setup gets PGQ_BENCH_SETTLE seconds (default 70)
# so that every queue is past its first ticks; idle queues are then ticked
# at the spacing pgq.ticker() prescribes (doubling up to
# queue_ticker_idle_period, one minute by default).
#
# Usage: bench/idle.sh   (as root or postgres; needs "make install")
# Environment: PGQ_BENCH_SECONDS (default 60), PGQ_BENCH_SETTLE, PGQD,
# PGQ_BENCH_PORT (default 5495), PGQ_BENCH_KEEP=1, PGBIN.

set -euo pipefail
BENCH_SCRIPT=$(readlink -f "$0")
BENCH_SRC=$(dirname "$BENCH_SCRIPT")
. "$BENCH_SRC/lib.sh"
bench_become_postgres "$@"
bench_require_pgq

SECONDS_MEASURED=${PGQ_BENCH_SECONDS:-60}
SETTLE=${PGQ_BENCH_SETTLE:-70}
DATABASES="idle1 idle2 idle3 idle4 idle5"
QUEUES=10
bench_require_pgqd
CLK_TCK=$(getconf CLK_TCK)


bench_start_cluster <<EOF
shared_preload_libraries = 'pgq'
EOF
# only the five idle databases are to be served
bench_psql -c "DROP EXTENSION pgq CASCADE" >/dev/null 2>&1

# CPU ticks (utime + stime) used so far by the given processes, summed.
cpu_ticks() {
    local pid total=0 stat
    for pid in "$@"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        # the command name may hold spaces: count fields after its ")"
        stat=${stat##*) }
        set -- $stat
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}

# Ticks made in the idle databases so far.
tick_total() {
    local db total=0 n
    for db in $DATABASES; do
        n=$(bench_psql_db "$db" -c "SELECT count(*) FROM pgq.tick")
        total=$((total + n))
    done
    echo "$total"
}

# Measure the processes whose pids are printed by SQL query $2; label $1.
measure() {
    local label=$1 pids_sql=$2 pids before after ticks_before ticks_after seconds
    pids=$(bench_psql_db postgres -c "$pids_sql")
    pids="$pids ${PGQD_PID}"
    before=$(cpu_ticks $pids)
    ticks_before=$(tick_total)
    sleep "$SECONDS_MEASURED"
    after=$(cpu_ticks $pids)
    ticks_after=$(tick_total)
    seconds=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')
    printf '%-14s processes=%-3d cpu_seconds=%-6s cpu_percent_of_one_core=%-6s ticks_made=%d\n' \
        "$label" "$(wc -w <<<"$pids")" "$seconds" \
        "$(awk -v s="$seconds" -v w="$SECONDS_MEASURED" 'BEGIN { printf "%.3f", 100 * s / w }')" \
        $((ticks_after - ticks_before))
}

for db in $DATABASES; do
    bench_psql_db postgres -c "CREATE DATABASE $db" >/dev/null
    bench_psql_db "$db" -c "CREATE EXTENSION pgq" \
        -c "SELECT pgq.create_queue('idle_' || i) FROM generate_series(1, $QUEUES) i" >/dev/null
done

echo "# $(bench_settings_line)"
echo "# ${SECONDS_MEASURED} s windows, 5 databases x $QUEUES idle queues, CLK_TCK=$CLK_TCK"

TICKER_PIDS="SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE backend_type IN ('pgq launcher', 'pgq ticker')"
sleep "$SETTLE"
measure in-server "$TICKER_PIDS"

echo "pgq.ticker_period = '10s'" >>"$BENCH_DIR/data/postgresql.conf"
"$PGBIN/pg_ctl" -D "$BENCH_DIR/data" reload >/dev/null
sleep 10
measure in-server-10s "$TICKER_PIDS"

echo "pgq.ticker_enabled = off" >>"$BENCH_DIR/data/postgresql.conf"
"$PGBIN/pg_ctl" -D "$BENCH_DIR/data" reload >/dev/null
cat >"$BENCH_DIR/pgqd.ini" <<EOF
[pgqd]
logfile = $BENCH_DIR/pgqd.log
pidfile = $BENCH_DIR/pgqd.pid
base_connstr = host=127.0.0.1 port=$BENCH_PORT user=postgres
initial_database = postgres
database_list = ${DATABASES// /,}
syslog = 0
EOF
bench_start_pgqd "$BENCH_DIR/pgqd.ini"
sleep "$SETTLE"
measure pgqd \
    "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname LIKE 'idle%' AND pid <> pg_backend_pid()"
bench_stop_pgqd
