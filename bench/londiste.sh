#!/bin/bash
# bench/londiste.sh - londiste replication root -> leaf with Debian's Python
# worker (python3-londiste), on our stack and on Debian's original one in
# the same invocation:
#   ours       pgq with the in-server ticker, with the pgq_node and
#              londiste extensions of the installation under test
#   original   PgQ 3.5 + pgq_node 3.5 + londiste 3.8 (Debian's packages,
#              unpacked over a private copy of the installation) with pgqd
#
# Each stack gets a fresh cluster with two databases (root, leaf) and the
# same settings, queue configuration and londiste ini; the clusters run one
# after the other, never together.  Two measurements per stack:
#   stream   pgbench at a fixed rate on the root, each transaction of the
#            script inserting one row and updating another in two
#            autocommit statements; end-to-end lag of every inserted row =
#            commit time of the row on the leaf minus its commit time on the
#            root (track_commit_timestamp, one clock), p50 / p95 / max
#   backlog  with the leaf's worker stopped, BACKLOG_TX transactions of
#            BACKLOG_ROWS inserts each are written and ticked; then the
#            worker starts and the time until the leaf has every row gives
#            the rows/s it applies; the number of ticks the backlog was
#            cut into is shown, since the Python worker pays a fixed cost
#            per batch.  While the leaf's worker is behind, ours ticks
#            the queue at most once per pgq.ticker_period, as pgqd does
#            (pgq.ticker_coalesce, see doc/ticker.md); ours runs the backlog
#            a second time with pgq.ticker_coalesce off, when it ticks by
#            ticker_max_count alone (500 events, as PgQ 3.5 does when
#            ticked often enough).
#
# The queue's ticker_max_lag and the workers' loop_delay are set low on
# both stacks (the defaults, 3 s and 1 s, hide any ticker under the
# worker's sleep); pgqd keeps its default one-second ticker_period, which is
# what a pgqd installation ticks at.
#
# Usage: bench/londiste.sh   (as root or postgres; needs our build and
#   pgq_node/londiste installed where PGBIN's pg_config points, londiste
#   and pgqd on the system)
# Environment: PGQ_ORIGINAL_DEBS  directory with the three original .debs
#   (postgresql-15-pgq3, -pgq-node, -londiste-sql; downloaded with
#   apt-get download into a temporary directory when not given);
#   LONDISTE_BENCH_RATE (200 tx/s), LONDISTE_BENCH_SECONDS (20),
#   LONDISTE_BENCH_MAX_LAG ('100 ms'), LONDISTE_BENCH_LOOP_DELAY (0.1),
#   LONDISTE_BENCH_BACKLOG_TX (100), LONDISTE_BENCH_BACKLOG_ROWS (500),
#   LONDISTE_BENCH_OURS_CONF (extra postgresql.conf lines for ours, e.g.
#   'pgq.ticker_coalesce = off');
#   PGQ_BENCH_PORT (default 5495), PGQ_BENCH_KEEP=1, PGBIN.

set -euo pipefail
BENCH_SCRIPT=$(readlink -f "$0")
BENCH_SRC=$(dirname "$BENCH_SCRIPT")
. "$BENCH_SRC/lib.sh"

bench_original_debs
bench_become_postgres "$@"
bench_require_pgq
bench_require_pgqd
[ -x /usr/bin/londiste ] || bench_die "/usr/bin/londiste not found (apt-get install python3-londiste)"

RATE=${LONDISTE_BENCH_RATE:-200}
SECONDS_RUN=${LONDISTE_BENCH_SECONDS:-20}
MAX_LAG=${LONDISTE_BENCH_MAX_LAG:-100 ms}
LOOP_DELAY=${LONDISTE_BENCH_LOOP_DELAY:-0.1}
BACKLOG_TX=${LONDISTE_BENCH_BACKLOG_TX:-100}
BACKLOG_ROWS=${LONDISTE_BENCH_BACKLOG_ROWS:-500}
OURS_CONF=${LONDISTE_BENCH_OURS_CONF:-}
QUEUE=replika
OURS_PGBIN=$PGBIN
LEAF_DB=leaf
WORK=$(mktemp -d /tmp/londiste-bench.XXXXXX)
trap 'rm -rf "$WORK"; bench_remove_original_debs' EXIT

# bench_start_cluster installs bench_cleanup as the exit trap; this one
# removes the original tree as well.
cleanup_all() {
    local status=$?
    rm -rf "$WORK"
    (exit "$status")
    bench_cleanup
}

# A private installation: a copy of ours with the original packages unpacked
# over it (what test/perl/OriginalStack.pm does for the TAP tests).
make_original_tree() {
    local dest=$WORK/original deb
    mkdir -p "$dest/usr/lib/postgresql" "$dest/usr/share/postgresql"
    cp -a "$OURS_PGBIN/.." "$dest/usr/lib/postgresql/15"
    cp -a "$("$OURS_PGBIN/pg_config" --sharedir)" "$dest/usr/share/postgresql/15"
    for pkg in $BENCH_ORIGINAL_PACKAGES; do
        dpkg-deb -x "$(bench_original_deb "$pkg")" "$dest"
    done
    echo "$dest/usr/lib/postgresql/15/bin"
}

leaf_psql() {
    bench_psql_db "$LEAF_DB" "$@"
}

connstr() {
    echo "host=127.0.0.1 port=$BENCH_PORT user=postgres dbname=$1"
}

write_ini() {
    local name=$1 db=$2
    cat >"$BENCH_DIR/$name.ini" <<EOF
[londiste]
job_name = $name
db = $(connstr "$db")
queue_name = $QUEUE
logfile = $BENCH_DIR/$name.log
pidfile = $BENCH_DIR/$name.pid
loop_delay = $LOOP_DELAY
EOF
}

londiste_cmd() {
    local name=$1
    shift
    (cd "$BENCH_DIR" && /usr/bin/londiste "$BENCH_DIR/$name.ini" "$@") \
        >>"$BENCH_DIR/londiste.out" 2>&1 ||
        bench_die "londiste $name $* failed, see $BENCH_DIR/londiste.out"
}

wait_until() {
    local db=$1 sql=$2 limit=$3 i
    for ((i = 0; i < limit * 20; i++)); do
        [ "$(bench_psql_db "$db" -c "$sql")" = t ] && return 0
        sleep 0.05
    done
    return 1
}

stop_worker() {
    local pidfile=$BENCH_DIR/$1.pid pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    kill -INT "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

start_worker() {
    londiste_cmd "$1" worker -d
    until [ -f "$BENCH_DIR/$1.pid" ]; do sleep 0.05; done
}

TABLES_SQL="
CREATE TABLE bench_ins (id bigserial PRIMARY KEY, payload text);
CREATE TABLE bench_upd (k int PRIMARY KEY, v bigint NOT NULL, payload text);"

last_tick() {
    bench_psql -c "SELECT last_tick_id FROM pgq.get_queue_info('$QUEUE')"
}

# With the leaf's worker stopped, write and tick the backlog, then time the
# worker applying it; sets BACKLOG to "rows_per_s ticks".
run_backlog() {
    local started elapsed_ns before rows first_tick
    stop_worker leaf
    before=$(bench_psql -c "SELECT count(*) FROM bench_ins")
    first_tick=$(last_tick)
    for ((i = 0; i < BACKLOG_TX; i++)); do
        echo "INSERT INTO bench_ins (payload) SELECT repeat('b', 100) FROM generate_series(1, $BACKLOG_ROWS);"
    done | bench_psql >/dev/null
    rows=$(bench_psql -c "SELECT count(*) FROM bench_ins")
    bench_psql -c "SELECT pgq.force_tick('$QUEUE')" >/dev/null
    wait_until "$BENCH_DB" "SELECT ev_new = 0 FROM pgq.get_queue_info('$QUEUE')" 30 ||
        bench_die "the backlog was not ticked"
    bench_psql -c "CHECKPOINT" >/dev/null
    started=$(bench_now_ns)
    start_worker leaf
    wait_until "$LEAF_DB" "SELECT count(*) = $rows FROM bench_ins" 300 ||
        bench_die "the leaf did not apply the backlog"
    elapsed_ns=$(($(bench_now_ns) - started))
    BACKLOG="$(awk -v n=$((rows - before)) -v ns="$elapsed_ns" 'BEGIN { printf "%.0f", n / (ns / 1e9) }') $(($(last_tick) - first_tick))"
}

# Replication set-up and the stream on the cluster bench_start_cluster
# made; sets STREAM to "p50_ms p95_ms max_ms rows".
run_stream() {
    local p50 p95 max stream_rows
    bench_psql_db postgres -c "CREATE DATABASE $LEAF_DB" >/dev/null
    bench_psql -c "$TABLES_SQL" >/dev/null
    leaf_psql -c "$TABLES_SQL" >/dev/null
    bench_psql -c "INSERT INTO bench_upd SELECT i, 0, repeat('u', 100) FROM generate_series(1, 1000) i" >/dev/null

    write_ini root "$BENCH_DB"
    write_ini leaf "$LEAF_DB"
    londiste_cmd root create-root rootnode "$(connstr "$BENCH_DB")"
    bench_psql -c "SELECT pgq.set_queue_config('$QUEUE', 'ticker_max_lag', '$MAX_LAG')" >/dev/null
    londiste_cmd leaf create-leaf leafnode "$(connstr "$LEAF_DB")" --provider="$(connstr "$BENCH_DB")"
    start_worker root
    start_worker leaf
    londiste_cmd root add-table public.bench_ins public.bench_upd
    londiste_cmd leaf add-table public.bench_ins public.bench_upd
    londiste_cmd leaf wait-sync

    cat >"$BENCH_DIR/stream.sql" <<'EOF'
\set k random(1, 1000)
INSERT INTO bench_ins (payload) VALUES (repeat('i', 100));
UPDATE bench_upd SET v = v + 1 WHERE k = :k;
EOF
    "$PGBIN/pgbench" -n -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -c 2 -j 2 \
        -R "$RATE" -T "$SECONDS_RUN" -f "$BENCH_DIR/stream.sql" "$BENCH_DB" \
        >"$BENCH_DIR/pgbench.out" 2>&1 || bench_die "pgbench failed, see $BENCH_DIR/pgbench.out"
    stream_rows=$(bench_psql -c "SELECT count(*) FROM bench_ins")
    wait_until "$LEAF_DB" "SELECT count(*) = $stream_rows FROM bench_ins" 60 ||
        bench_die "the leaf did not catch up with the stream"

    leaf_psql -c "CREATE TABLE root_commit (id bigint PRIMARY KEY, committed timestamptz)" >/dev/null
    bench_psql -c "COPY (SELECT id, pg_xact_commit_timestamp(xmin) FROM bench_ins) TO STDOUT" |
        leaf_psql -c "COPY root_commit FROM STDIN"
    IFS='|' read -r p50 p95 max < <(leaf_psql -c "
        SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
               round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 1),
               round(max(ms)::numeric, 1)
          FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(b.xmin) - r.committed) * 1000 AS ms
                  FROM bench_ins b JOIN root_commit r USING (id)) s")
    STREAM="$p50 $p95 $max $stream_rows"
}

versions() {
    bench_psql -c "SELECT string_agg(extname || ' ' || extversion, ', ' ORDER BY extname)
                     FROM pg_extension WHERE extname <> 'plpgsql'"
}

stop_cluster() {
    "$PGBIN/pg_ctl" -D "$BENCH_DIR/data" -m fast -w stop >/dev/null
    cd /
    if [ "${PGQ_BENCH_KEEP:-0}" = 1 ]; then
        echo "kept $BENCH_DIR" >&2
    else
        rm -rf "$BENCH_DIR"
    fi
    BENCH_DIR=
}

COMMON_CONF="track_commit_timestamp = on"

bench_start_cluster <<EOF
$COMMON_CONF
shared_preload_libraries = 'pgq'
$OURS_CONF
EOF
trap cleanup_all EXIT
settings=$(bench_settings_line)
run_stream
read -r ours_p50 ours_p95 ours_max ours_stream <<<"$STREAM"
run_backlog
read -r ours_rate ours_ticks <<<"$BACKLOG"
# The same backlog again with bigger batches (see the header).
bench_psql -c "ALTER SYSTEM SET pgq.ticker_coalesce = off" >/dev/null
bench_psql -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
run_backlog
read -r nc_rate nc_ticks <<<"$BACKLOG"
stop_worker leaf
stop_worker root
ours_versions=$(versions)
stop_cluster

PGBIN=$(make_original_tree)
[ -x "$PGBIN/postgres" ] || bench_die "could not make the tree of the original stack"
bench_start_cluster <<EOF
$COMMON_CONF
EOF
cat >"$BENCH_DIR/pgqd.ini" <<EOF
[pgqd]
logfile = $BENCH_DIR/pgqd.log
pidfile = $BENCH_DIR/pgqd.pid
base_connstr = host=127.0.0.1 port=$BENCH_PORT user=postgres
initial_database = postgres
EOF
trap cleanup_all EXIT
bench_start_pgqd "$BENCH_DIR/pgqd.ini"
run_stream
read -r orig_p50 orig_p95 orig_max orig_stream <<<"$STREAM"
run_backlog
read -r orig_rate orig_ticks <<<"$BACKLOG"
stop_worker leaf
stop_worker root
orig_versions=$(versions)
bench_stop_pgqd
stop_cluster

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}

echo "londiste root -> leaf benchmark (python3-londiste worker, loop_delay=$LOOP_DELAY, queue ticker_max_lag='$MAX_LAG')"
echo "$settings, track_commit_timestamp=on"
echo "stream: pgbench $RATE tx/s for $SECONDS_RUN s (1 insert + 1 update each); backlog: $BACKLOG_TX x $BACKLOG_ROWS inserts"
echo "ours:     $ours_versions, in-server ticker${OURS_CONF:+ ($OURS_CONF)}"
echo "original: $orig_versions, pgqd (ticker_period 1 s)"
echo
printf '%-28s %10s %10s %10s %11s %14s %7s\n' stack 'lag p50' 'lag p95' 'lag max' 'stream rows' 'backlog rows/s' 'ticks'
printf '%-28s %7s ms %7s ms %7s ms %11s %14s %7s\n' ours "$ours_p50" "$ours_p95" "$ours_max" "$ours_stream" "$ours_rate" "$ours_ticks"
printf '%-28s %10s %10s %10s %11s %14s %7s\n' "ours, ticker_coalesce=off" - - - - "$nc_rate" "$nc_ticks"
printf '%-28s %7s ms %7s ms %7s ms %11s %14s %7s\n' original "$orig_p50" "$orig_p95" "$orig_max" "$orig_stream" "$orig_rate" "$orig_ticks"
echo
echo "ours / original: lag p50 $(ratio "$ours_p50" "$orig_p50") (target <= 0.25), lag p95 $(ratio "$ours_p95" "$orig_p95"), backlog throughput $(ratio "$ours_rate" "$orig_rate") (target >= 1), with pgq.ticker_coalesce=off $(ratio "$nc_rate" "$orig_rate")"
