#!/bin/bash
# bench/queue_mover.sh - queue_mover throughput: events per second moved
# from one queue into another, by our queue_mover and by a python3-pgq
# SerialConsumer doing the same move (test/client/python_queue_mover.py,
# one COPY per batch with pgq.bulk_insert_events, as Skytools'
# queue_mover3), in the same run on the same data.
#
# The source queue gets EVENTS events (~100 byte ev_data, ev_extra1 set) in
# BATCHES transactions with a pgq.ticker() after each, so that every batch
# holds one of them.  Four consumers per run (ours and python's, for each
# target) are registered before the load, and each moves all batches once
# into a queue of its own:
#   same cluster    target queue in another database of the same cluster
#   two clusters    target queue in a second cluster on this host (TCP)
# A plain SQL reader goes through the batches first (hint bits).
# Each mover runs in the foreground until its consumer has finished the
# last batch; two figures per run, the best of PGQ_BENCH_RUNS runs:
#   wall      from the start of the process until the queue position shows
#             the last batch finished (polled every 10 ms over one open
#             connection; includes startup)
#   batches   the sum of the per-batch "duration" of the program's own
#             stats lines (fetch, copy, pgq_ext, finish), without startup
#
# Usage: bench/queue_mover.sh   (as root or postgres; needs "make install",
# queue_mover on PATH or in QUEUE_MOVER, and python3-pgq)
# Environment: PGQ_BENCH_EVENTS (default 100000), PGQ_BENCH_BATCHES (10),
# PGQ_BENCH_RUNS (3), PGQ_BENCH_PORT (default 5495; the second cluster
# uses the next port),
# PGQ_BENCH_KEEP=1, PGBIN, QUEUE_MOVER.

set -euo pipefail
BENCH_SCRIPT=$(readlink -f "$0")
BENCH_SRC=$(dirname "$BENCH_SCRIPT")
. "$BENCH_SRC/lib.sh"
bench_become_postgres "$@"
bench_require_pgq

EVENTS=${PGQ_BENCH_EVENTS:-100000}
BATCHES=${PGQ_BENCH_BATCHES:-10}
BATCH_EVENTS=$((EVENTS / BATCHES))
EVENTS=$((BATCH_EVENTS * BATCHES))
ROUNDS=${PGQ_BENCH_RUNS:-3}
TARGET_RATIO=5
QUEUE=src_q
PAYLOAD='id=1234567&name=benchmark+customer&email=bench%40example.org&amount=1234.56&currency=EUR&state=new'
QUEUE_MOVER=${QUEUE_MOVER:-$(command -v queue_mover || true)}
PYTHON_MOVER="$BENCH_SRC/../test/client/python_queue_mover.py"
FAR_PORT=$((BENCH_PORT + 1))

[ -n "$QUEUE_MOVER" ] && [ -x "$QUEUE_MOVER" ] ||
    bench_die "queue_mover not found (put it on PATH or set QUEUE_MOVER)"
/usr/bin/python3 -I -c 'import pgq' 2>/dev/null ||
    bench_die "python3-pgq is not installed (apt-get install python3-pgq)"
if (exec 3<>"/dev/tcp/127.0.0.1/$FAR_PORT") 2>/dev/null; then
    bench_die "port $FAR_PORT on 127.0.0.1 is in use (set PGQ_BENCH_PORT)"
fi

bench_start_cluster </dev/null
started_at=$(bench_now_ns)

# The second cluster, stopped before lib.sh's cleanup (which sees the
# script's exit status) stops the first and removes the directory.
cleanup_both() {
    local status=$?
    if [ -f "$BENCH_DIR/far/postmaster.pid" ]; then
        "$PGBIN/pg_ctl" -D "$BENCH_DIR/far" -m fast -w stop >/dev/null 2>&1 || true
    fi
    (exit "$status")
    bench_cleanup
}
trap cleanup_both EXIT
"$PGBIN/initdb" -D "$BENCH_DIR/far" -U postgres --auth=trust -E UTF8 --locale=C \
    >"$BENCH_DIR/initdb_far.log" 2>&1 || bench_die "initdb of the second cluster failed"
tail -n +1 "$BENCH_DIR/data/postgresql.conf" | grep -E '^(shared_buffers|max_wal_size|checkpoint_timeout|listen_addresses)' \
    >>"$BENCH_DIR/far/postgresql.conf"
{
    echo "port = $FAR_PORT"
    echo "unix_socket_directories = '$BENCH_DIR'"
} >>"$BENCH_DIR/far/postgresql.conf"
"$PGBIN/pg_ctl" -D "$BENCH_DIR/far" -l "$BENCH_DIR/server_far.log" -w start >/dev/null ||
    bench_die "the second cluster did not start, see $BENCH_DIR/server_far.log"

far_psql() {
    "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$FAR_PORT" -U postgres -d postgres "$@"
}

SAME_DB=bench_dst
bench_psql_db postgres -c "CREATE DATABASE $SAME_DB" >/dev/null
MOVERS="ours_same python_same ours_far python_far"
RUNS=
for ((round = 1; round <= ROUNDS; round++)); do
    for mover in $MOVERS; do
        RUNS="$RUNS ${mover}_$round"
    done
done
target_sql="CREATE EXTENSION pgq; CREATE EXTENSION pgq_ext;"
for run in $RUNS; do
    target_sql="$target_sql SELECT pgq.create_queue('dst_$run');"
done
bench_psql_db "$SAME_DB" -c "$target_sql" >/dev/null
far_psql -c "$target_sql" >/dev/null

bench_psql -c "SELECT pgq.create_queue('$QUEUE')" >/dev/null
for run in warmup $RUNS; do
    bench_psql -c "SELECT pgq.register_consumer('$QUEUE', '$run')" >/dev/null
done
bench_load_batches "$QUEUE" "$BATCHES" "$BATCH_EVENTS" I:id "$PAYLOAD" public.orders
bench_drain_consumer "$QUEUE" warmup
bench_psql -c "CHECKPOINT" >/dev/null
last_tick=$(bench_psql -c "SELECT max(tick_id) FROM pgq.tick t JOIN pgq.queue q ON q.queue_id = t.tick_queue
                            WHERE q.queue_name = '$QUEUE'")

SRC_CONN="host=127.0.0.1 port=$BENCH_PORT user=postgres dbname=$BENCH_DB"
declare -A wall batch_sum

# The position is polled over one connection kept open: a psql started for
# every poll (a new backend each time) would take the CPU of the movers it
# times.  A failed query ends the psql, and the poll with it.
coproc POLLER {
    "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$BENCH_PORT" \
        -U postgres -d "$BENCH_DB" 2>&1
}
poll_position() {
    local answer
    echo "$1;" >&"${POLLER[1]}"
    read -t 10 -r answer <&"${POLLER[0]}" || bench_die "the polling connection did not answer"
    echo "$answer"
}

# One measured run: $1 = consumer (and target queue suffix), $2 = target
# connect string, $3... = the command
move() {
    local run=$1 dst=$2 started pid caught ini="$BENCH_DIR/$1.ini" log="$BENCH_DIR/$1.log"
    shift 2
    cat >"$ini" <<EOF
[queue_mover3]
job_name = $run
src_db = $SRC_CONN
dst_db = $dst
queue_name = $QUEUE
dst_queue_name = dst_$run
logfile = $log
loop_delay = 0.05
EOF
    # Each run starts from a checkpoint on both clusters: its WAL goes into
    # recycled segments, not into new ones created and zeroed in the run.
    bench_psql -c "CHECKPOINT" >/dev/null
    far_psql -c "CHECKPOINT" >/dev/null
    started=$(bench_now_ns)
    "$@" "$ini" >"$BENCH_DIR/$run.stderr" 2>&1 &
    pid=$!
    while :; do
        caught=$(poll_position "SELECT last_tick = $last_tick AND current_batch IS NULL
                                  FROM pgq.get_consumer_info('$QUEUE', '$run')")
        [ "$caught" = t ] && break
        kill -0 "$pid" 2>/dev/null || bench_die "$run exited early, see $BENCH_DIR/$run.stderr and $log"
        sleep 0.01
    done
    wall[$run]=$(awk -v ns="$(($(bench_now_ns) - started))" 'BEGIN { printf "%.3f", ns / 1e9 }')
    kill -INT "$pid"
    wait "$pid" || true
    batch_sum[$run]=$(grep -o 'count: [0-9]*, duration: [0-9.]*' "$log" |
        awk '$2 > 0 { s += $4 } END { printf "%.3f", s }')
}

check_moved() {
    local run=$1 n
    if [[ $run == *_same_* ]]; then
        n=$(bench_psql_db "$SAME_DB" -c "SELECT count(*) FROM pgq.event_template e
              JOIN pgq.queue q ON e.tableoid::regclass::text LIKE q.queue_data_pfx || '\\_%'
             WHERE q.queue_name = 'dst_$run'")
    else
        n=$(far_psql -c "SELECT count(*) FROM pgq.event_template e
              JOIN pgq.queue q ON e.tableoid::regclass::text LIKE q.queue_data_pfx || '\\_%'
             WHERE q.queue_name = 'dst_$run'")
    fi
    [ "$n" -eq "$EVENTS" ] || bench_die "$run moved $n events, expected $EVENTS"
}

SAME_CONN="host=127.0.0.1 port=$BENCH_PORT user=postgres dbname=$SAME_DB"
FAR_CONN="host=127.0.0.1 port=$FAR_PORT user=postgres dbname=postgres"
declare -A best_wall best_batches
for ((round = 1; round <= ROUNDS; round++)); do
    move "ours_same_$round" "$SAME_CONN" "$QUEUE_MOVER"
    move "python_same_$round" "$SAME_CONN" /usr/bin/python3 -I "$PYTHON_MOVER"
    move "ours_far_$round" "$FAR_CONN" "$QUEUE_MOVER"
    move "python_far_$round" "$FAR_CONN" /usr/bin/python3 -I "$PYTHON_MOVER"
    for mover in $MOVERS; do
        run=${mover}_$round
        check_moved "$run"
        if [ -z "${best_wall[$mover]:-}" ] || awk -v a="${wall[$run]}" -v b="${best_wall[$mover]}" 'BEGIN { exit !(a < b) }'; then
            best_wall[$mover]=${wall[$run]}
        fi
        if [ -z "${best_batches[$mover]:-}" ] || awk -v a="${batch_sum[$run]}" -v b="${best_batches[$mover]}" 'BEGIN { exit !(a < b) }'; then
            best_batches[$mover]=${batch_sum[$run]}
        fi
    done
done

rate() {
    awk -v n="$EVENTS" -v s="$1" 'BEGIN { printf "%.0f", n / s }'
}

echo "queue_mover benchmark: $EVENTS events in $BATCHES batches of $BATCH_EVENTS, ~100 byte ev_data, best of $ROUNDS"
bench_settings_line
echo "ours: $QUEUE_MOVER (COPY per batch); python: python3-pgq SerialConsumer, pgq.bulk_insert_events (COPY) per batch"
echo
printf '%-14s %-8s %9s %11s %9s %11s\n' target mover wall_s events/s batches_s events/s
for where in same far; do
    label=$([ "$where" = same ] && echo "same cluster" || echo "two clusters")
    for who in ours python; do
        run=${who}_$where
        printf '%-14s %-8s %9s %11s %9s %11s\n' "$label" "$who" "${best_wall[$run]}" "$(rate "${best_wall[$run]}")" \
            "${best_batches[$run]}" "$(rate "${best_batches[$run]}")"
    done
done
echo
for where in same far; do
    label=$([ "$where" = same ] && echo "same cluster" || echo "two clusters")
    awk -v l="$label" -v pw="${best_wall[python_$where]}" -v ow="${best_wall[ours_$where]}" \
        -v pb="${best_batches[python_$where]}" -v ob="${best_batches[ours_$where]}" -v t="$TARGET_RATIO" \
        'BEGIN { printf "%s: ours/python %.1fx (wall), %.1fx (batches); target >= %dx: %s\n",
                 l, pw / ow, pb / ob, t, (pb / ob >= t) ? "met" : "below" }'
done
echo
echo "total $(( ($(bench_now_ns) - started_at) / 1000000000 )) s"
