#!/bin/bash
# bench/libpgq.sh - consumer library throughput: the same batches read by
#   consume.c         the raw libpq reader (next_batch, get_batch_events,
#                     finish_batch): the floor of what a C client costs
#   libpgq            bench/libpgq_count.c, a plain consumer on our library
#                     that counts events, built against the installed
#                     library with pkg-config
#   python3-pgq       bench/python_count.py, a pgq.Consumer doing the same
# each with pgq_lazy_fetch = 300 (python3-pgq's default: a cursor fetched
# 300 rows at a time) and 0 (the whole batch at once, what consume.c does).
# consume.c also reads through a cursor of its own, 300 rows a FETCH, in
# text and in binary format: what the FETCH format would change.
#
# The load is consumer.sh's: ten transactions of 100,000 ~100 byte events,
# a tick after each, so every reader gets the same ten batches.  A
# server-side pass reads them first, so that no reader pays for setting
# the hint bits of the fresh rows.  Figures are whole-loop times of each
# reader (connecting included), the CPU its process used (user + system:
# what the consumer costs its host apart from the server) and the CPU of
# the server process of its connection, each the best of PGQ_BENCH_RUNS
# runs (default 3).  A reader cannot finish before its server process has
# done its work, so a reader's server CPU bounds how far it can pass
# python3-pgq.
#
# Usage: bench/libpgq.sh   (as root or postgres; needs "make install")
# Environment: PKG_CONFIG_PATH if libpgq.pc is not where pkg-config looks
# (make install puts it in /usr/local/lib/pkgconfig); PGQ_BENCH_PORT
# (default 5495), PGQ_BENCH_KEEP=1, PGBIN, PGQ_BENCH_RUNS.

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
RUNS=${PGQ_BENCH_RUNS:-3}
PAYLOAD='id=1234567&name=benchmark+customer&email=bench%40example.org&amount=1234.56&currency=EUR&state=new'

pkg-config --exists libpgq ||
    bench_die "pkg-config does not know libpgq (run \"make install\", or set PKG_CONFIG_PATH)"

bench_start_cluster </dev/null
started_at=$(bench_now_ns)

cc -O2 -Wall -I"$("$PGBIN/pg_config" --includedir)" -o "$BENCH_DIR/consume" \
    "$BENCH_SRC/consume.c" -L"$("$PGBIN/pg_config" --libdir)" -lpq ||
    bench_die "could not build consume.c (is libpq-dev installed?)"
# shellcheck disable=SC2046
cc -O2 -Wall -o "$BENCH_DIR/libpgq_count" "$BENCH_SRC/libpgq_count.c" \
    $(pkg-config --cflags --libs libpgq) \
    -Wl,-rpath,"$(pkg-config --variable=libdir libpgq)" ||
    bench_die "could not build libpgq_count.c against the installed libpgq"

CONNINFO="host=127.0.0.1 port=$BENCH_PORT user=postgres dbname=$BENCH_DB"
READERS="raw raw_text raw_binary libpgq_300 libpgq_0 python_300 python_0"
readers=()
for ((run = 1; run <= RUNS; run++)); do
    for reader in $READERS; do
        readers+=("${reader}_$run")
    done
done

bench_psql >/dev/null <<SQL
SELECT pgq.create_queue('$QUEUE');
SELECT pgq.register_consumer('$QUEUE', 'bench_warm');
SELECT pgq.register_consumer('$QUEUE', name)
  FROM unnest(string_to_array('${readers[*]}', ' ')) AS name;
SQL

bench_load_batches "$QUEUE" "$BATCHES" "$BATCH_EVENTS" bench "$PAYLOAD"
bench_psql -c "CHECKPOINT" >/dev/null
bench_drain_consumer "$QUEUE" bench_warm
bench_psql -c "CHECKPOINT" >/dev/null

# run READER CONSUMER: prints "WALL CPU SERVER_CPU", the seconds of one
# whole read, the user + system CPU seconds the reader process spent on it
# and those its server process spent
run_reader() {
    local reader=$1 consumer=$2 out batches events seconds cpu server_cpu
    local TIMEFORMAT='%U %S'
    case $reader in
    raw) cmd=("$BENCH_DIR/consume" "$CONNINFO" "$QUEUE" "$consumer") ;;
    raw_*) cmd=("$BENCH_DIR/consume" "$CONNINFO" "$QUEUE" "$consumer" "${reader#raw_}") ;;
    libpgq_*) cmd=("$BENCH_DIR/libpgq_count" "$CONNINFO" "$QUEUE" "$consumer" "${reader#libpgq_}") ;;
    python_*) cmd=(python3 "$BENCH_SRC/python_count.py" "$CONNINFO" "$QUEUE" "$consumer" "${reader#python_}") ;;
    esac
    { time "${cmd[@]}" >"$BENCH_DIR/out" 2>>"$BENCH_DIR/readers.log"; } 2>"$BENCH_DIR/cpu" ||
        bench_die "$reader failed, see $BENCH_DIR/readers.log"
    out=$(cat "$BENCH_DIR/out")
    cpu=$(awk '{ print $1 + $2 }' "$BENCH_DIR/cpu")
    batches=$(sed -n 's/.*batches=\([0-9]*\).*/\1/p' <<<"$out")
    events=$(sed -n 's/.*events=\([0-9]*\).*/\1/p' <<<"$out")
    seconds=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$out")
    server_cpu=$(sed -n 's/.* server_cpu=\([0-9.]*\).*/\1/p' <<<"$out")
    if [ "$batches" != "$BATCHES" ] || [ "$events" != "$TOTAL_EVENTS" ]; then
        bench_die "$reader read $events events in $batches batches, expected $TOTAL_EVENTS in $BATCHES"
    fi
    [ -n "$server_cpu" ] || bench_die "$reader could not read its server process's CPU time"
    echo "$seconds $cpu $server_cpu"
}

# keep_lowest ARRAY KEY VALUE: ARRAY[KEY] becomes VALUE if that is lower
keep_lowest() {
    local -n lowest=$1
    if [ -z "${lowest[$2]:-}" ] || awk -v a="$3" -v b="${lowest[$2]}" 'BEGIN { exit !(a < b) }'; then
        lowest[$2]=$3
    fi
}

declare -A best best_cpu best_server
for ((run = 1; run <= RUNS; run++)); do
    for reader in $READERS; do
        read -r s c sc < <(run_reader "$reader" "${reader}_$run")
        keep_lowest best "$reader" "$s"
        keep_lowest best_cpu "$reader" "$c"
        keep_lowest best_server "$reader" "$sc"
    done
done

rate() { awk -v n="$TOTAL_EVENTS" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }

echo "consumer library benchmark: $TOTAL_EVENTS events in $BATCHES batches of $BATCH_EVENTS, ~100 byte ev_data, best of $RUNS"
bench_settings_line
echo
printf '%-40s %9s %11s %12s %12s\n' reader seconds events/s "client CPU s" "server CPU s"
line() {
    printf '%-40s %9.3f %11s %12.2f %12.2f\n' "$1" "${best[$2]}" "$(rate "${best[$2]}")" \
        "${best_cpu[$2]}" "${best_server[$2]}"
}
line "consume.c (raw libpq, whole batch)" raw
line "consume.c, own cursor, text FETCH 300" raw_text
line "consume.c, own cursor, binary FETCH 300" raw_binary
for fetch in 300 0; do
    line "libpgq plain consumer, lazy_fetch=$fetch" "libpgq_$fetch"
    line "python3-pgq Consumer, lazy_fetch=$fetch" "python_$fetch"
done
echo
for fetch in 300 0; do
    echo "lazy_fetch=$fetch: libpgq / python3-pgq = $(ratio "${best[libpgq_$fetch]}" "${best[python_$fetch]}")x events/s" \
        "(target >= 5), $(ratio "${best_cpu[libpgq_$fetch]}" "${best_cpu[python_$fetch]}")x less client CPU;" \
        "libpgq / consume.c = $(ratio "${best[libpgq_$fetch]}" "${best[raw]}") (target >= 0.8)"
done
echo "consume.c's cursor: binary / text FETCH = $(ratio "${best[raw_binary]}" "${best[raw_text]}")x events/s"
# python3-pgq's wall time split into its own CPU and the time it waited
# for the server (its work, the transfer and the round trips).  And libpgq
# waits for its server process at least as long as that process works, so
# python3-pgq's time over libpgq's server CPU is the most libpgq can be
# ahead of it at the server cost it has.
echo
for fetch in 300 0; do
    awk -v f="$fetch" -v w="${best[python_$fetch]}" -v c="${best_cpu[python_$fetch]}" \
        -v s="${best_server[libpgq_$fetch]}" -v p="${best_server[python_$fetch]}" \
        'BEGIN { printf "lazy_fetch=%s: python3-pgq %.3f s = %.3f s client CPU + %.3f s waiting for the server\n",
                        f, w, c, w - c
                 printf "lazy_fetch=%s: server CPU %.2f s for libpgq (%.2f s for python3-pgq): libpgq / python3-pgq <= %.3f / %.2f = %.2fx\n",
                        f, s, p, w, s, w / s }'
done
echo
echo "total $(( ($(bench_now_ns) - started_at) / 1000000000 )) s; the targets are for information only"
