#!/bin/bash
# bench/libpgq.sh - consumer throughput of the consumer library: the same
# queue read by three consumers that only count the events, in one run:
#   libpgq        doc/examples/libpgq_count.c built against the installed
#                 libpgq (PLAIN flavour, cursor fetch of pgq_lazy_fetch =
#                 300 rows, and once with pgq_lazy_fetch = 0)
#   python3-pgq   a pgq.Consumer subclass counting the events of each
#                 batch (Debian's python3-pgq, default lazy fetch)
#   consume.c     bench/consume.c, the raw libpq reader (next_batch,
#                 get_batch_events, finish_batch)
# Each reads BATCHES batches of BATCH_EVENTS ~100 byte events, produced in
# one transaction per batch with a pgq.ticker() call after each; no other
# ticker runs.  The daemons (libpgq, python) run until the queue shows
# their consumer at the last tick, then stop on SIGINT; their time is the
# sum of the "duration" of their per-batch stats lines, which both measure
# from before next_batch to after finish_batch (so neither start-up nor
# the idle polling counts).  consume.c times its whole loop.  Figures and
# ratios are printed; the
# targets (libpgq >= 5x python3-pgq, >= 0.8x consume.c) are for
# information only.
#
# Usage: bench/libpgq.sh   (as root or postgres; needs "make install" with
# the library in CLIENT_PREFIX, default /usr/local, or PKG_CONFIG_PATH set)
# Environment: BATCHES (10), BATCH_EVENTS (50000), PGQ_BENCH_PORT, PGBIN,
# PGQ_BENCH_KEEP=1.

set -euo pipefail
BENCH_SCRIPT=$(readlink -f "$0")
BENCH_SRC=$(dirname "$BENCH_SCRIPT")
. "$BENCH_SRC/lib.sh"
bench_become_postgres "$@"
bench_require_pgq

QUEUE=bench_q
BATCHES=${BATCHES:-10}
BATCH_EVENTS=${BATCH_EVENTS:-50000}
TOTAL_EVENTS=$((BATCHES * BATCH_EVENTS))
PAYLOAD='id=1234567&name=benchmark+customer&email=bench%40example.org&amount=1234.56&currency=EUR&state=new'
CONSUMERS="bench_libpgq bench_libpgq_eager bench_python bench_libpq"

pkg-config --exists libpgq || bench_die "pkg-config does not find libpgq (make install; set PKG_CONFIG_PATH)"
bench_start_cluster </dev/null
CONNSTR="host=127.0.0.1 port=$BENCH_PORT user=postgres dbname=$BENCH_DB"

cc -O2 -Wall -I"$("$PGBIN/pg_config" --includedir)" -o "$BENCH_DIR/consume" \
    "$BENCH_SRC/consume.c" -L"$("$PGBIN/pg_config" --libdir)" -lpq ||
    bench_die "could not build consume.c"
cc -O2 -Wall -o "$BENCH_DIR/libpgq_count" "$BENCH_SRC/../doc/examples/libpgq_count.c" \
    $(pkg-config --cflags --libs libpgq) -Wl,-rpath,"$(pkg-config --variable=libdir libpgq)" ||
    bench_die "could not build doc/examples/libpgq_count.c against libpgq"
cat >"$BENCH_DIR/pycount.py" <<'PY'
import sys
import pgq

class Count(pgq.Consumer):
    def process_batch(self, db, batch_id, ev_list):
        n = 0
        for ev in ev_list:
            n += 1
        self.stat_increase('events', n)

Count('pycount', 'src_db', sys.argv[1:]).start()
PY

bench_psql >/dev/null <<SQL
SELECT pgq.create_queue('$QUEUE');
SELECT pgq.register_consumer('$QUEUE', name)
  FROM unnest(string_to_array('$CONSUMERS', ' ')) AS name;
SQL
for ((i = 0; i < BATCHES; i++)); do
    bench_psql -c "SELECT count(pgq.insert_event('$QUEUE', 'bench', '$PAYLOAD'))
                     FROM generate_series(1, $BATCH_EVENTS)" >/dev/null
    tick=$(bench_psql -c "SELECT pgq.ticker('$QUEUE')")
    [ -n "$tick" ] || bench_die "pgq.ticker('$QUEUE') made no tick after a load"
done
bench_psql -c "CHECKPOINT" >/dev/null
# one reader first, so that all measured ones find the hint bits set
"$BENCH_DIR/consume" "$CONNSTR" "$QUEUE" bench_libpq >/dev/null
bench_psql -c "SELECT pgq.register_consumer_at('$QUEUE', 'bench_libpq',
                 (SELECT min(tick_id) FROM pgq.tick))" >/dev/null
last_tick=$(bench_psql -c "SELECT max(tick_id) FROM pgq.tick")

# Run a daemon consumer until its consumer reaches the last tick; prints
# the sum of the batch durations it logged.
run_daemon() {
    local consumer=$1 pid
    shift
    "$@" >"$BENCH_DIR/$consumer.out" 2>&1 &
    pid=$!
    until [ "$(bench_psql -c "SELECT last_tick FROM pgq.get_consumer_info('$QUEUE', '$consumer')")" = "$last_tick" ]; do
        kill -0 "$pid" 2>/dev/null || bench_die "$consumer exited early, see $BENCH_DIR/$consumer.out"
        sleep 0.2
    done
    kill -INT "$pid"
    wait "$pid" || true
    grep -o 'duration: [0-9.]*' "$BENCH_DIR/$consumer.log" | awk '{ s += $2 } END { printf "%.6f", s }'
}

write_ini() {
    local section=$1 consumer=$2 extra=${3:-}
    printf '[%s]\nsrc_db = %s\nqueue_name = %s\nconsumer_name = %s\nloop_delay = 0.1\nlogfile = %s\n%s\n' \
        "$section" "$CONNSTR" "$QUEUE" "$consumer" "$BENCH_DIR/$consumer.log" "$extra" \
        >"$BENCH_DIR/$consumer.ini"
}

write_ini libpgq_count bench_libpgq
write_ini libpgq_count bench_libpgq_eager "pgq_lazy_fetch = 0"
write_ini pycount bench_python

libpgq_s=$(run_daemon bench_libpgq "$BENCH_DIR/libpgq_count" "$BENCH_DIR/bench_libpgq.ini")
eager_s=$(run_daemon bench_libpgq_eager "$BENCH_DIR/libpgq_count" "$BENCH_DIR/bench_libpgq_eager.ini")
python_s=$(cd "$BENCH_DIR" && run_daemon bench_python /usr/bin/python3 -I "$BENCH_DIR/pycount.py" "$BENCH_DIR/bench_python.ini")
consume_out=$("$BENCH_DIR/consume" "$CONNSTR" "$QUEUE" bench_libpq)
IFS=' =' read -r _ libpq_batches _ libpq_events _ _ _ libpq_s _ _ <<<"$consume_out"
[ "$libpq_events" -eq "$TOTAL_EVENTS" ] || bench_die "consume.c read $libpq_events events, expected $TOTAL_EVENTS"

counted=$(grep -o 'count: [0-9]*' "$BENCH_DIR/bench_libpgq.log" | awk '{ s += $2 } END { print s + 0 }')
[ "$counted" -eq "$TOTAL_EVENTS" ] || bench_die "libpgq counted $counted events, expected $TOTAL_EVENTS"
pycounted=$(grep -o 'events: [0-9]*' "$BENCH_DIR/bench_python.log" | awk '{ s += $2 } END { print s + 0 }')
[ "$pycounted" -eq "$TOTAL_EVENTS" ] || bench_die "python3-pgq counted $pycounted events, expected $TOTAL_EVENTS"

rate() { awk -v n="$TOTAL_EVENTS" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }

echo "libpgq consumer benchmark: $TOTAL_EVENTS events in $BATCHES batches of $BATCH_EVENTS, ~100 byte ev_data"
bench_settings_line
echo
printf '%-40s %9s %11s\n' consumer seconds events/s
printf '%-40s %9.3f %11s\n' "libpgq (pgq_lazy_fetch = 300)" "$libpgq_s" "$(rate "$libpgq_s")"
printf '%-40s %9.3f %11s\n' "libpgq (pgq_lazy_fetch = 0)" "$eager_s" "$(rate "$eager_s")"
printf '%-40s %9.3f %11s\n' "python3-pgq Consumer" "$python_s" "$(rate "$python_s")"
printf '%-40s %9.3f %11s\n' "consume.c (raw libpq)" "$libpq_s" "$(rate "$libpq_s")"
echo
echo "libpgq vs python3-pgq: $(ratio "$libpgq_s" "$python_s")x (target >= 5)"
echo "libpgq vs consume.c:   $(ratio "$libpgq_s" "$libpq_s")x, with pgq_lazy_fetch = 0: $(ratio "$eager_s" "$libpq_s")x (target >= 0.8)"
echo "(daemons: sum of their per-batch durations; consume.c: its whole loop)"
