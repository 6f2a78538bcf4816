#!/bin/bash
# bench/walmgr.sh - walmgr xarchive and xrestore throughput against plain
# cp followed by one sync, on the same files in the same run.
#
# A throwaway cluster produces the segments (each a real, full 16 MB WAL
# segment, since xarchive checks headers); it is stopped before anything is
# measured.  Then, with the source files in the page cache:
#
#   archive:  cp of every segment into a directory, then one sync
#             vs. walmgr xarchive of every segment into a local archive
#             (each one fsynced, published, directory fsynced)
#   restore:  cp of every archived segment to one RECOVERYXLOG path, then sync
#             vs. walmgr xrestore of every segment to that path
#
# Each program is started once per segment, as PostgreSQL would start it.
# The ratio is walmgr's segments/s divided by cp's.
#
# Usage: bench/walmgr.sh   (as root or postgres; no installation needed)
# Environment: WALMGR_BENCH_SEGMENTS (default 200), WALMGR (the binary;
# default the build tree's src/walmgr/walmgr, else the one on the PATH),
# PGQ_BENCH_PORT (default 5495), PGQ_BENCH_KEEP=1, PGBIN.

set -euo pipefail
BENCH_SCRIPT=$(readlink -f "$0")
. "$(dirname "$BENCH_SCRIPT")/lib.sh"
bench_become_postgres "$@"

N=${WALMGR_BENCH_SEGMENTS:-200}
if [ -z "${WALMGR:-}" ]; then
    WALMGR=$(dirname "$BENCH_SCRIPT")/../src/walmgr/walmgr
    [ -x "$WALMGR" ] || WALMGR=$(command -v walmgr || true)
fi
[ -x "$WALMGR" ] || bench_die "no walmgr binary at $WALMGR (run make, or set WALMGR)"
WALMGR=$(readlink -f "$WALMGR")

BENCH_DIR=$(mktemp -d /tmp/walmgr-bench.XXXXXX)
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
cd "$BENCH_DIR"

"$PGBIN/initdb" -D "$BENCH_DIR/data" -U postgres --auth=trust >"$BENCH_DIR/initdb.log" 2>&1 ||
    bench_die "initdb failed, see $BENCH_DIR/initdb.log"
mkdir "$BENCH_DIR/src"
cat >>"$BENCH_DIR/data/postgresql.conf" <<EOF
listen_addresses = ''
port = $BENCH_PORT
unix_socket_directories = '$BENCH_DIR'
max_wal_size = 8GB
archive_mode = on
archive_command = 'cp %p $BENCH_DIR/src/%f'
EOF
"$PGBIN/pg_ctl" -D "$BENCH_DIR/data" -l "$BENCH_DIR/server.log" -w start >/dev/null ||
    bench_die "the server did not start, see $BENCH_DIR/server.log"

echo "producing $N WAL segments ..."
"$PGBIN/psql" -X -q -h "$BENCH_DIR" -p "$BENCH_PORT" -d postgres -v ON_ERROR_STOP=1 <<EOF
create table t (x int);
do \$\$
begin
    for i in 1..$N loop
        insert into t values (i);
        perform pg_switch_wal();
    end loop;
end
\$\$;
EOF
while [ "$(find "$BENCH_DIR/src" -name '????????????????????????' | wc -l)" -lt "$N" ]; do
    sleep 0.2
done
"$PGBIN/pg_ctl" -D "$BENCH_DIR/data" -m fast -w stop >/dev/null
mapfile -t SEGS < <(cd "$BENCH_DIR/src" && ls | grep -E '^[0-9A-F]{24}$' | head -n "$N")
cat "$BENCH_DIR"/src/* >/dev/null    # both sides read from the page cache

elapsed() {    # seconds between two bench_now_ns values
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}
rate() {
    awk -v n="$N" -v s="$1" 'BEGIN { printf "%.1f", n / s }'
}

cat >"$BENCH_DIR/archive.ini" <<EOF
[walmgr]
walmgr_data = $BENCH_DIR/arch
logfile = $BENCH_DIR/walmgr.log
EOF
"$WALMGR" -q "$BENCH_DIR/archive.ini" setup
mkdir "$BENCH_DIR/cp" "$BENCH_DIR/restore"
sync

# archive
t0=$(bench_now_ns)
for s in "${SEGS[@]}"; do
    cp "$BENCH_DIR/src/$s" "$BENCH_DIR/cp/$s"
done
sync
t1=$(bench_now_ns)
cp_archive=$(elapsed "$t0" "$t1")

t0=$(bench_now_ns)
for s in "${SEGS[@]}"; do
    "$WALMGR" -q "$BENCH_DIR/archive.ini" xarchive "$BENCH_DIR/src/$s" "$s"
done
t1=$(bench_now_ns)
wm_archive=$(elapsed "$t0" "$t1")
cmp -s "$BENCH_DIR/src/${SEGS[-1]}" "$BENCH_DIR/arch/logs.complete/${SEGS[-1]}" ||
    bench_die "archived content differs"
rm -rf "$BENCH_DIR/cp"
sync

# restore
t0=$(bench_now_ns)
for s in "${SEGS[@]}"; do
    cp "$BENCH_DIR/arch/logs.complete/$s" "$BENCH_DIR/restore/RECOVERYXLOG"
done
sync
t1=$(bench_now_ns)
cp_restore=$(elapsed "$t0" "$t1")

t0=$(bench_now_ns)
for s in "${SEGS[@]}"; do
    "$WALMGR" -q "$BENCH_DIR/archive.ini" xrestore "$s" "$BENCH_DIR/restore/RECOVERYXLOG"
done
t1=$(bench_now_ns)
wm_restore=$(elapsed "$t0" "$t1")
cmp -s "$BENCH_DIR/src/${SEGS[-1]}" "$BENCH_DIR/restore/RECOVERYXLOG" ||
    bench_die "restored content differs"

echo
echo "$N segments of 16 MB, $(nproc) CPUs, $("$PGBIN/postgres" --version)"
printf '%-10s %-22s %10s %12s\n' operation method seconds segments/s
printf '%-10s %-22s %10s %12s\n' archive "cp + sync" "$cp_archive" "$(rate "$cp_archive")"
printf '%-10s %-22s %10s %12s\n' archive "walmgr xarchive" "$wm_archive" "$(rate "$wm_archive")"
printf '%-10s %-22s %10s %12s\n' restore "cp + sync" "$cp_restore" "$(rate "$cp_restore")"
printf '%-10s %-22s %10s %12s\n' restore "walmgr xrestore" "$wm_restore" "$(rate "$wm_restore")"
awk -v a="$cp_archive" -v b="$wm_archive" -v c="$cp_restore" -v d="$wm_restore" 'BEGIN {
    printf "ratio walmgr/cp (segments/s): archive %.2f, restore %.2f\n", a / b, c / d }'
