# shellcheck shell=bash
# bench/lib.sh - helpers shared by the pgq benchmark scripts (sourced, not
# run): a throwaway PostgreSQL cluster owned by the postgres user in a
# temporary directory, reachable on 127.0.0.1 at a port of its own, removed
# again when the script exits.
#
# The sourcing script sets BENCH_SCRIPT to its own absolute path first.
#
# Environment:
#   PGBIN             PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
#   PGQ_BENCH_PORT    port of the throwaway cluster (default 5495)
#   PGQ_BENCH_KEEP=1  keep the temporary directory (server log, scripts)

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
BENCH_PORT=${PGQ_BENCH_PORT:-5495}
BENCH_DB=bench
BENCH_DIR=

bench_die() {
    echo "$(basename "$BENCH_SCRIPT"): $*" >&2
    exit 1
}

# PostgreSQL refuses to run as root, so a script started by root runs again
# as postgres; everything it creates then belongs to that user.
bench_become_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        cd /
        exec runuser -u postgres -- bash "$BENCH_SCRIPT" "$@"
    fi
    [ "$(id -un)" = postgres ] ||
        echo "$(basename "$BENCH_SCRIPT"): running as $(id -un), not postgres" >&2
}

# Fail early, with a hint, when the extension has not been installed into
# the server these binaries belong to.
bench_require_pgq() {
    local sharedir pkglibdir
    sharedir=$("$PGBIN/pg_config" --sharedir)
    pkglibdir=$("$PGBIN/pg_config" --pkglibdir)
    if [ ! -f "$sharedir/extension/pgq.control" ] || [ ! -f "$pkglibdir/pgq.so" ]; then
        bench_die "the pgq extension is not installed in $sharedir (run \"make install\" as root first)"
    fi
}

# Debian's original server packages, for the benchmarks that measure
# against them.  PGQ_ORIGINAL_DEBS names a directory holding their .debs;
# started by root without it, the script downloads them into a temporary
# directory (apt needs root, so call this before bench_become_postgres),
# which bench_remove_original_debs deletes at the end.
BENCH_ORIGINAL_PACKAGES="postgresql-15-pgq3 postgresql-15-pgq-node postgresql-15-londiste-sql"
bench_original_debs() {
    if [ "$(id -u)" -eq 0 ] && [ -z "${PGQ_ORIGINAL_DEBS:-}" ]; then
        PGQ_ORIGINAL_DEBS=$(mktemp -d /tmp/pgq-bench-debs.XXXXXX)
        chown _apt "$PGQ_ORIGINAL_DEBS" 2>/dev/null || true
        (cd "$PGQ_ORIGINAL_DEBS" && apt-get download -q $BENCH_ORIGINAL_PACKAGES >/dev/null) || {
            rm -rf "$PGQ_ORIGINAL_DEBS"
            bench_die "apt-get download of the original packages failed"
        }
        chown -R postgres: "$PGQ_ORIGINAL_DEBS"
        PGQ_BENCH_OWN_DEBS=1
        export PGQ_ORIGINAL_DEBS PGQ_BENCH_OWN_DEBS
    fi
}

# The .deb of original package $1.
bench_original_deb() {
    local deb
    deb=$(ls "${PGQ_ORIGINAL_DEBS:-/nonexistent}/$1"_*.deb 2>/dev/null | head -1 || true)
    [ -n "$deb" ] || bench_die "no $1 .deb: set PGQ_ORIGINAL_DEBS to a directory holding it, or run as root to download it"
    echo "$deb"
}

bench_remove_original_debs() {
    if [ "${PGQ_BENCH_OWN_DEBS:-0}" = 1 ]; then
        rm -rf "$PGQ_ORIGINAL_DEBS"
    fi
}

bench_cleanup() {
    local status=$?
    bench_stop_pgqd
    bench_remove_original_debs
    if [ -n "$BENCH_DIR" ] && [ -d "$BENCH_DIR" ]; then
        if [ -f "$BENCH_DIR/data/postmaster.pid" ]; then
            "$PGBIN/pg_ctl" -D "$BENCH_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        fi
        if [ "${PGQ_BENCH_KEEP:-0}" = 1 ] || [ "$status" -ne 0 ]; then
            echo "kept $BENCH_DIR (server log: $BENCH_DIR/server.log)" >&2
        else
            rm -rf "$BENCH_DIR"
        fi
    fi
    exit "$status"
}

# Start the cluster with the settings every benchmark shares; the caller's
# extra postgresql.conf lines come on stdin.  Settings that differ from the
# defaults:
#   shared_buffers = 256MB   the whole data set of a run (about 200 MB for
#                            the consumer's million events) stays in shared
#                            memory, so the figures measure CPU, not reads
#   max_wal_size = 8GB,      no checkpoint starts inside a measured run; the
#   checkpoint_timeout=30min scripts issue CHECKPOINT between runs instead
# fsync, synchronous_commit, wal_level and the rest stay at their defaults.
bench_start_cluster() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$BENCH_PORT") 2>/dev/null; then
        bench_die "port $BENCH_PORT on 127.0.0.1 is in use (set PGQ_BENCH_PORT)"
    fi
    BENCH_DIR=$(mktemp -d /tmp/pgq-bench.XXXXXX)
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    cd "$BENCH_DIR" || exit 1
    "$PGBIN/initdb" -D "$BENCH_DIR/data" -U postgres --auth=trust -E UTF8 \
        --locale=C >"$BENCH_DIR/initdb.log" 2>&1 ||
        bench_die "initdb failed, see $BENCH_DIR/initdb.log"
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $BENCH_PORT"
        echo "unix_socket_directories = '$BENCH_DIR'"
        echo "shared_buffers = 256MB"
        echo "max_wal_size = 8GB"
        echo "checkpoint_timeout = 30min"
        cat
    } >>"$BENCH_DIR/data/postgresql.conf"
    "$PGBIN/pg_ctl" -D "$BENCH_DIR/data" -l "$BENCH_DIR/server.log" -w start >/dev/null ||
        bench_die "the server did not start, see $BENCH_DIR/server.log"
    bench_psql_db postgres -c "CREATE DATABASE $BENCH_DB" >/dev/null
    if ! bench_psql -c "CREATE EXTENSION pgq" >"$BENCH_DIR/create_extension.log" 2>&1; then
        cat "$BENCH_DIR/create_extension.log" >&2
        bench_die "CREATE EXTENSION pgq failed (is a complete build installed? run \"make install\")"
    fi
}

bench_psql_db() {
    local db=$1
    shift
    "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -d "$db" "$@"
}

bench_psql() {
    bench_psql_db "$BENCH_DB" "$@"
}

# One line describing the server and the settings that matter here.
bench_settings_line() {
    bench_psql -F ' ' -c "
        SELECT 'PostgreSQL ' || current_setting('server_version')
            || ', shared_buffers=' || current_setting('shared_buffers')
            || ', fsync=' || current_setting('fsync')
            || ', synchronous_commit=' || current_setting('synchronous_commit')
            || ', wal_level=' || current_setting('wal_level')
            || ', jit=' || current_setting('jit')
            || ', max_wal_size=' || current_setting('max_wal_size')"
}

# Median of the numbers given as arguments.
bench_median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Current time in nanoseconds, for timing whole client programs.
bench_now_ns() {
    date +%s%N
}

# bench_load_batches QUEUE BATCHES EVENTS TYPE DATA [EXTRA1]: BATCHES
# transactions of EVENTS events each, each followed by a tick, so that every
# future batch holds exactly one of them.  No other ticker may run.
bench_load_batches() {
    local queue=$1 batches=$2 events=$3 type=$4 data=$5 extra1=${6:+"'$6'"} i tick
    for ((i = 0; i < batches; i++)); do
        bench_psql -c "SELECT count(pgq.insert_event('$queue', '$type', '$data', ${extra1:-null}, null, null, null))
                         FROM generate_series(1, $events)" >/dev/null
        tick=$(bench_psql -c "SELECT pgq.ticker('$queue')")
        [ -n "$tick" ] || bench_die "pgq.ticker('$queue') made no tick after a load"
    done
}

# bench_drain_consumer QUEUE CONSUMER: read every open batch of CONSUMER in
# the server.  A first read sets the hint bits of fresh event rows, so that
# the first measured reader does not pay for them.
bench_drain_consumer() {
    bench_psql >/dev/null <<SQL
DO \$\$
DECLARE
    batch bigint;
BEGIN
    LOOP
        batch := pgq.next_batch('$1', '$2');
        EXIT WHEN batch IS NULL;
        PERFORM count(*) FROM pgq.get_batch_events(batch);
        PERFORM pgq.finish_batch(batch);
    END LOOP;
END
\$\$;
SQL
}

# Average transaction latency in microseconds of each script of a pgbench
# run made with --log --log-prefix=$1, one line per script in the order the
# scripts were given.  The per-transaction log has microsecond resolution;
# the summary pgbench prints rounds each average to a microsecond, too
# coarse for transactions that take only a few dozen.
bench_script_latencies() {
    cat "$1".* | awk '
        { sum[$4] += $3; n[$4]++; if ($4 > last) last = $4 }
        END { for (s = 0; s <= last; s++) printf "%.3f\n", sum[s] / n[s] }'
}

# pgqd, for the benchmarks that compare the in-server ticker with it.
PGQD=${PGQD:-/usr/bin/pgqd}
PGQD_PID=

bench_require_pgqd() {
    [ -x "$PGQD" ] || bench_die "$PGQD not found (apt-get install pgqd, or set PGQD)"
}

# Start pgqd on the given ini file; it is stopped by bench_stop_pgqd, and at
# exit by bench_cleanup.
bench_start_pgqd() {
    "$PGQD" "$1" >"$BENCH_DIR/pgqd.stdout" 2>&1 &
    PGQD_PID=$!
}

bench_stop_pgqd() {
    if [ -n "$PGQD_PID" ]; then
        kill "$PGQD_PID" 2>/dev/null || true
        wait "$PGQD_PID" 2>/dev/null || true
        PGQD_PID=
    fi
}
