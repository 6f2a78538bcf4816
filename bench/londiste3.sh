#!/bin/bash
# bench/londiste3.sh - one root, one leaf: how fast a replica applies and
# how far behind it is, for three replicators of the same tables fed by the
# same root, in one cluster and one run:
#   ours      the londiste3 worker on a londiste leaf
#   python    Debian's python3-londiste worker on a second londiste leaf
#             (both leaves consume the root's queue, each as its own
#             consumer; admin commands are Python's for both, so only the
#             worker differs)
#   logical   PostgreSQL's built-in logical replication: a publication of
#             the tables on the root, a subscription in a third database
#             (slot made beforehand, as within one cluster it must be)
# Our pgq with the in-server ticker, pgq_node and londiste serve both
# londiste leaves.
#
# Two measurements per load, each replicator alone (the others stopped or
# disabled, so they do not share the two cores):
#   backlog  every replicator catches up and stops, the root writes BACKLOG_TX
#            transactions (the load below) and a marker row; then each
#            replicator in turn is started and its rows/s is the number of
#            row changes divided by the time from its start to the
#            arrival of the marker row on its leaf (the marker's "arrived"
#            column, see below; the time includes the start of the
#            process: 0.3 s or so for Python's); the backlog is in a tick
#            before the first replicator starts
#   stream   pgbench at STREAM_RATE transactions per second for
#            STREAM_SECONDS on the root, one replicator running; every
#            inserted row carries sent = clock_timestamp() from the root,
#            the leaf's copy of the table has one more column, arrived,
#            defaulting to clock_timestamp() (filled in by the apply's own
#            INSERT, no trigger and no extra statement); lag = arrived -
#            sent, p50 / p95 / max over the rows of the stream
# Loads:
#   insert   backlog: transactions of 1,000 inserted rows; stream: one
#            insert per transaction
#   mixed    backlog: transactions of 400 inserts, 400 updates, 200
#            deletes (of rows inserted earlier); stream: one insert, one
#            update and one delete per transaction
#
# The queue's ticker_max_lag and the londiste workers' loop_delay are set
# low (LD_BENCH_MAX_LAG, LD_BENCH_LOOP_DELAY) so that a tick and a poll do
# not dominate the lag; the in-server ticker then ticks the waiting
# consumer's queue at most every 10 ms.
#
# Usage: bench/londiste3.sh   (as root or postgres; needs "make install"
#   of this tree where PGBIN's pg_config points, londiste3 on the PATH and
#   python3-londiste)
# Environment: LD_BENCH_BACKLOG_TX (100), LD_BENCH_STREAM_RATE (200 tx/s),
#   LD_BENCH_STREAM_SECONDS (15), LD_BENCH_MAX_LAG ('20 ms'),
#   LD_BENCH_LOOP_DELAY (0.02), LD_BENCH_LOADS ("insert mixed"),
#   LD_BENCH_REPLICATORS ("ours python logical"), LONDISTE3 (our program,
#   default: londiste3 on the PATH), LD_BENCH_CONF (more postgresql.conf
#   lines, e.g. "log_min_duration_statement = 0" to see where a worker's
#   round trips go, with PGQ_BENCH_KEEP=1); PGQ_BENCH_PORT (default 5495),
#   PGQ_BENCH_KEEP=1, PGBIN.

set -euo pipefail
BENCH_SCRIPT=$(readlink -f "$0")
. "$(dirname "$BENCH_SCRIPT")/lib.sh"

bench_become_postgres "$@"
bench_require_pgq

BACKLOG_TX=${LD_BENCH_BACKLOG_TX:-100}
STREAM_RATE=${LD_BENCH_STREAM_RATE:-200}
STREAM_SECONDS=${LD_BENCH_STREAM_SECONDS:-15}
MAX_LAG=${LD_BENCH_MAX_LAG:-20 ms}
LOOP_DELAY=${LD_BENCH_LOOP_DELAY:-0.02}
LOADS=${LD_BENCH_LOADS:-insert mixed}
REPLICATORS=${LD_BENCH_REPLICATORS:-ours python logical}
PYTHON_LONDISTE=/usr/bin/londiste
OUR_LONDISTE=${LONDISTE3:-$(command -v londiste3 || true)}
QUEUE=replika
ROOT_DB=$BENCH_DB

[ -x "$PYTHON_LONDISTE" ] || bench_die "$PYTHON_LONDISTE not found (apt-get install python3-londiste)"
case " $REPLICATORS " in
*" ours "*)
    [ -n "$OUR_LONDISTE" ] && [ -x "$OUR_LONDISTE" ] ||
        bench_die "londiste3 not found on the PATH (make install, or set LONDISTE3)"
    ;;
esac

connstr() {
    echo "host=127.0.0.1 port=$BENCH_PORT user=postgres dbname=$1"
}

leaf_db() {
    echo "leaf_$1"
}

# The londiste job of a replicator (root, ours, python): ini file, log,
# pidfile in the cluster's directory.
write_ini() {
    local job=$1 db=$2
    cat >"$BENCH_DIR/$job.ini" <<EOF
[londiste]
job_name = ${job}node
db = $(connstr "$db")
queue_name = $QUEUE
logfile = $BENCH_DIR/$job.log
pidfile = $BENCH_DIR/$job.pid
loop_delay = $LOOP_DELAY
EOF
}

# Admin commands are Python's for every job; the worker is the job's own.
londiste_admin() {
    local job=$1
    shift
    (cd "$BENCH_DIR" && "$PYTHON_LONDISTE" "$BENCH_DIR/$job.ini" "$@") \
        >>"$BENCH_DIR/admin.out" 2>&1 ||
        bench_die "londiste $job $* failed, see $BENCH_DIR/admin.out"
}

worker_program() {
    case $1 in
    ours) echo "$OUR_LONDISTE" ;;
    *) echo "$PYTHON_LONDISTE" ;;
    esac
}

start_londiste() {
    local job=$1 i
    (cd "$BENCH_DIR" && "$(worker_program "$job")" "$BENCH_DIR/$job.ini" worker -d) \
        >>"$BENCH_DIR/admin.out" 2>&1 || bench_die "the $job worker did not start, see $BENCH_DIR/admin.out"
    for ((i = 0; i < 200; i++)); do
        [ -s "$BENCH_DIR/$job.pid" ] && return 0
        sleep 0.05
    done
    bench_die "the $job worker wrote no pidfile, see $BENCH_DIR/$job.log"
}

stop_londiste() {
    local pidfile=$BENCH_DIR/$1.pid pid
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

start_replicator() {
    case $1 in
    logical)
        bench_psql_db "$(leaf_db logical)" -c "ALTER SUBSCRIPTION bench_sub ENABLE" >/dev/null ;;
    *) start_londiste "$1" ;;
    esac
}

stop_replicator() {
    case $1 in
    logical)
        bench_psql_db "$(leaf_db logical)" -c "ALTER SUBSCRIPTION bench_sub DISABLE" >/dev/null
        # the apply worker exits at its next look at the catalog
        wait_until postgres "SELECT count(*) = 0 FROM pg_stat_subscription WHERE subname = 'bench_sub' AND pid IS NOT NULL" 30 ||
            bench_die "the subscription's apply worker did not stop"
        ;;
    *) stop_londiste "$1" ;;
    esac
}

wait_until() {
    local db=$1 sql=$2 limit=$3 i
    for ((i = 0; i < limit * 20; i++)); do
        [ "$(bench_psql_db "$db" -c "$sql")" = t ] && return 0
        sleep 0.05
    done
    return 1
}

ROOT_TABLES="
CREATE TABLE bench_ins (id bigserial PRIMARY KEY,
    sent timestamptz NOT NULL DEFAULT clock_timestamp(), payload text);
CREATE TABLE bench_upd (k int PRIMARY KEY, v bigint NOT NULL, payload text);
CREATE TABLE bench_marker (id int PRIMARY KEY);"
LEAF_TABLES="$ROOT_TABLES
ALTER TABLE bench_ins ADD COLUMN arrived timestamptz DEFAULT clock_timestamp();
ALTER TABLE bench_marker ADD COLUMN arrived timestamptz DEFAULT clock_timestamp();"
UPD_ROWS=10000

setup() {
    local r db
    bench_psql -c "$ROOT_TABLES" >/dev/null
    bench_psql -c "INSERT INTO bench_upd SELECT i, 0, repeat('u', 100) FROM generate_series(1, $UPD_ROWS) i" >/dev/null
    write_ini root "$ROOT_DB"
    londiste_admin root create-root rootnode "$(connstr "$ROOT_DB")"
    bench_psql -c "SELECT pgq.set_queue_config('$QUEUE', 'ticker_max_lag', '$MAX_LAG')" >/dev/null
    start_londiste root
    londiste_admin root add-table public.bench_ins public.bench_upd public.bench_marker
    for r in $REPLICATORS; do
        db=$(leaf_db "$r")
        bench_psql_db postgres -c "CREATE DATABASE $db" >/dev/null
        bench_psql_db "$db" -c "$LEAF_TABLES" >/dev/null
        bench_psql_db "$db" -c "INSERT INTO bench_upd SELECT i, 0, repeat('u', 100) FROM generate_series(1, $UPD_ROWS) i" >/dev/null
        case $r in
        logical)
            bench_psql -c "CREATE PUBLICATION bench_pub FOR TABLE bench_ins, bench_upd, bench_marker" >/dev/null
            bench_psql -c "SELECT pg_create_logical_replication_slot('bench_sub', 'pgoutput')" >/dev/null
            bench_psql_db "$db" -c "CREATE SUBSCRIPTION bench_sub CONNECTION '$(connstr "$ROOT_DB")'
                PUBLICATION bench_pub WITH (create_slot = false, slot_name = 'bench_sub',
                copy_data = false, enabled = false)" >/dev/null
            ;;
        *)
            write_ini "$r" "$db"
            londiste_admin "$r" create-leaf "${r}node" "$(connstr "$db")" --provider="$(connstr "$ROOT_DB")"
            londiste_admin "$r" add-table --expect-sync public.bench_ins public.bench_upd public.bench_marker
            ;;
        esac
    done
}

# Write the marker row that ends a measured piece of load.
write_marker() {
    bench_psql -c "INSERT INTO bench_marker SELECT coalesce(max(id), 0) + 1 FROM bench_marker" >/dev/null
}

# A tick of the queue after everything written so far: started then, a
# replicator's backlog rate is that of applying, not of waiting for the
# queue's next tick (up to pgq.ticker_period while no consumer waits).
tick_backlog() {
    local last
    last=$(bench_psql -c "SELECT coalesce(max(t.tick_id), 0) FROM pgq.tick t
                            JOIN pgq.queue q ON q.queue_id = t.tick_queue WHERE q.queue_name = '$QUEUE'")
    bench_psql -c "SELECT pgq.force_tick('$QUEUE')" >/dev/null
    wait_until "$ROOT_DB" "SELECT EXISTS (SELECT FROM pgq.tick t JOIN pgq.queue q ON q.queue_id = t.tick_queue
                                          WHERE q.queue_name = '$QUEUE' AND t.tick_id > $last)" 60 ||
        bench_die "the queue did not tick"
}

# Wait until replicator $1 has the root's latest marker; prints the time
# the marker was written on its leaf, in nanoseconds (its commit timestamp
# would not do: logical replication keeps the root's).
wait_marker() {
    local db marker
    db=$(leaf_db "$1")
    marker=$(bench_psql -c "SELECT max(id) FROM bench_marker")
    wait_until "$db" "SELECT EXISTS (SELECT FROM bench_marker WHERE id = $marker)" 600 ||
        bench_die "$1 did not apply marker $marker"
    bench_psql_db "$db" -c "SELECT (extract(epoch FROM arrived) * 1e9)::bigint
                              FROM bench_marker WHERE id = $marker"
}

# The backlog of load $1; prints the number of row changes.
write_backlog() {
    local load=$1 i
    for ((i = 0; i < BACKLOG_TX; i++)); do
        case $load in
        insert)
            echo "INSERT INTO bench_ins (payload) SELECT repeat('b', 100) FROM generate_series(1, 1000);"
            ;;
        mixed)
            echo "BEGIN;
INSERT INTO bench_ins (payload) SELECT repeat('m', 100) FROM generate_series(1, 400);
UPDATE bench_upd SET v = v + 1, payload = md5(v::text) WHERE k BETWEEN $(((i * 400) % UPD_ROWS + 1)) AND $(((i * 400) % UPD_ROWS + 400));
DELETE FROM bench_ins WHERE id IN (SELECT id FROM bench_ins ORDER BY id LIMIT 200);
COMMIT;"
            ;;
        esac
    done | bench_psql >/dev/null
    echo $((BACKLOG_TX * 1000))
}

# Rows per second of replicator $1 applying $2 row changes waiting for it.
apply_backlog() {
    local r=$1 changes=$2 started ended
    bench_psql -c "CHECKPOINT" >/dev/null
    started=$(bench_now_ns)
    start_replicator "$r"
    ended=$(wait_marker "$r")
    awk -v n="$changes" -v ns=$((ended - started)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }'
}

# pgbench stream of load $1 with replicator $2 running (and caught up);
# prints "p50 p95 max" of the lag in milliseconds.
stream() {
    local load=$1 r=$2 from to db
    db=$(leaf_db "$r")
    {
        echo "INSERT INTO bench_ins (payload) VALUES (repeat('s', 100));"
        if [ "$load" = mixed ]; then
            echo "\\set k random(1, $UPD_ROWS)"
            echo "UPDATE bench_upd SET v = v + 1 WHERE k = :k;"
            echo "DELETE FROM bench_ins WHERE id = (SELECT min(id) FROM bench_ins);"
        fi
    } >"$BENCH_DIR/stream.sql"
    from=$(bench_psql -c "SELECT coalesce(max(id), 0) FROM bench_ins")
    "$PGBIN/pgbench" -n -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -c 1 \
        -R "$STREAM_RATE" -T "$STREAM_SECONDS" -f "$BENCH_DIR/stream.sql" "$ROOT_DB" \
        >"$BENCH_DIR/pgbench.out" 2>&1 || bench_die "pgbench failed, see $BENCH_DIR/pgbench.out"
    to=$(bench_psql -c "SELECT max(id) FROM bench_ins")
    write_marker
    wait_marker "$r" >/dev/null
    bench_psql_db "$db" -F ' ' -c "
        SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
               round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 1),
               round(max(ms)::numeric, 1)
          FROM (SELECT extract(epoch FROM arrived - sent) * 1000 AS ms
                  FROM bench_ins WHERE id > $from AND id <= $to) s"
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}

bench_start_cluster <<EOF
shared_preload_libraries = 'pgq'
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
${LD_BENCH_CONF:-}
EOF
# bench_start_cluster's exit trap stops the server; the workers first,
# or a failed run leaves them retrying against it.
stop_all_londiste() {
    local status=$?
    local job
    for job in ours python root; do stop_londiste "$job"; done
    (exit "$status")
    bench_cleanup
}
trap stop_all_londiste EXIT
settings=$(bench_settings_line)
setup

declare -A RATE P50 P95 MAX
for load in $LOADS; do
    # each starts the backlog caught up, without a tail of earlier ticks
    write_marker
    for r in $REPLICATORS; do
        start_replicator "$r"
        wait_marker "$r" >/dev/null
        stop_replicator "$r"
    done
    changes=$(write_backlog "$load")
    write_marker
    tick_backlog
    for r in $REPLICATORS; do
        RATE[$load,$r]=$(apply_backlog "$r" "$changes")
        stop_replicator "$r"
    done
    for r in $REPLICATORS; do
        start_replicator "$r"
        write_marker
        wait_marker "$r" >/dev/null
        read -r "P50[$load,$r]" "P95[$load,$r]" "MAX[$load,$r]" < <(stream "$load" "$r")
        stop_replicator "$r"
    done
done
stop_londiste root

echo "londiste3 root -> leaf: ours vs python3-londiste vs logical replication"
echo "$settings"
echo "queue ticker_max_lag='$MAX_LAG', londiste loop_delay=$LOOP_DELAY; backlog: $BACKLOG_TX transactions of 1000 row changes; stream: $STREAM_RATE tx/s for $STREAM_SECONDS s"
echo
printf '%-7s %-8s %12s %10s %10s %10s\n' load worker 'backlog r/s' 'lag p50' 'lag p95' 'lag max'
for load in $LOADS; do
    for r in $REPLICATORS; do
        printf '%-7s %-8s %12s %7s ms %7s ms %7s ms\n' "$load" "$r" "${RATE[$load,$r]}" \
            "${P50[$load,$r]}" "${P95[$load,$r]}" "${MAX[$load,$r]}"
    done
done
echo
has() {
    case " $REPLICATORS " in *" $1 "*) return 0 ;; esac
    return 1
}

for load in $LOADS; do
    line="$load:"
    if has ours && has python; then
        line="$line ours/python rows/s $(ratio "${RATE[$load,ours]}" "${RATE[$load,python]}") (target >= 5),"
    fi
    if has ours && has logical; then
        line="$line ours/logical rows/s $(ratio "${RATE[$load,ours]}" "${RATE[$load,logical]}") (target >= 0.8),"
    fi
    if has python && has logical; then
        line="$line python/logical rows/s $(ratio "${RATE[$load,python]}" "${RATE[$load,logical]}"),"
    fi
    if has ours; then
        line="$line ours lag p50 ${P50[$load,ours]} ms (target < 50)"
    fi
    echo "${line%,}"
done
