#!/bin/bash
# bench/londiste_sql.sh - the londiste SQL a replication worker runs for
# every batch, ours against Debian's londiste 3.8 in the same run:
#   get_table_list      select * from londiste.get_table_list(q), 40 tables,
#                       4 of them being copied (so _coordinate_copy runs)
#   replication_role    begin; select londiste.set_session_replication_role
#                       ('replica', true); commit - the EXECUTE path and what
#                       every reconnect does
#   coordinate_copy     select * from londiste._coordinate_copy(q, t) for a
#                       table being copied from two of three merged queues
# The python worker runs no londiste function per event (events become
# plain INSERT/UPDATE/DELETE), so these are the whole per-batch cost.
#
# Both sides live in one cluster: database "bench" has our extension,
# database "bench38" 3.8's londiste loaded from the package's
# contrib/londiste.sql (the same functions, without the extension wrapper;
# both on the pgq_node installed in the tree).  Each workload runs
# PGQ_BENCH_ROUNDS rounds of a pgbench run per side, 1 client,
# -M prepared, the side that starts alternating; figures are medians of
# transactions per second, the ratio is ours/3.8 (above 1: we are faster).
#
# Usage: bench/londiste_sql.sh   (as root or postgres; needs "make install")
# The original's .deb comes from PGQ_ORIGINAL_DEBS, or is downloaded when
# run as root without it.
# Environment: PGQ_BENCH_ROUNDS (default 3), PGQ_BENCH_SECONDS (pgbench run
# length, default 5), PGQ_BENCH_PORT (default 5495), PGQ_BENCH_KEEP=1, PGBIN.

set -euo pipefail
BENCH_SCRIPT=$(readlink -f "$0")
. "$(dirname "$BENCH_SCRIPT")/lib.sh"
bench_original_debs
bench_become_postgres "$@"
bench_require_pgq

ROUNDS=${PGQ_BENCH_ROUNDS:-3}
RUN_SECONDS=${PGQ_BENCH_SECONDS:-5}
deb=$(bench_original_deb postgresql-15-londiste-sql)
[ -f "$("$PGBIN/pg_config" --sharedir)/extension/pgq_node.control" ] ||
    bench_die "no pgq_node is installed in $("$PGBIN/pg_config" --sharedir)"

bench_start_cluster </dev/null
dpkg-deb -x "$deb" "$BENCH_DIR/deb"
original_sql=$(find "$BENCH_DIR/deb" -path '*/contrib/londiste.sql' | head -1)
[ -n "$original_sql" ] || bench_die "no contrib/londiste.sql in $deb"

# The same nodes, tables and states on both sides.
setup_sql() {
    cat <<'SQL'
SET client_min_messages = warning;
SELECT pgq_node.register_location('q', 'root', 'dbname=x', false);
SELECT pgq_node.create_node('q', 'root', 'root', 'q_worker', NULL, NULL, NULL);
SELECT pgq_node.register_location('total', 'hub', 'dbname=x', false);
SELECT pgq_node.create_node('total', 'root', 'hub', 'total_worker', NULL, NULL, NULL);
SELECT pgq_node.register_location(p, p || '_src', 'dbname=' || p, false),
       pgq_node.register_location(p, p || '_hub', 'dbname=x', false)
  FROM unnest(ARRAY['part1', 'part2', 'part3']) p;
SELECT pgq_node.create_node(p, 'leaf', p || '_hub', p || '_worker', p || '_src', 1, 'total')
  FROM unnest(ARRAY['part1', 'part2', 'part3']) p;
SELECT format('CREATE TABLE t%s (id int PRIMARY KEY, v text)', i) FROM generate_series(1, 40) i
\gexec
SELECT londiste.local_add_table('q', 't' || i) FROM generate_series(1, 40) i;
UPDATE londiste.table_info SET merge_state = 'in-copy'
 WHERE queue_name = 'q' AND table_name IN ('public.t1', 'public.t2', 'public.t3', 'public.t4');
SELECT londiste.global_add_table(p, 'merged') FROM unnest(ARRAY['part1', 'part2', 'part3']) p;
UPDATE londiste.table_info SET local = true, merge_state = 'in-copy'
 WHERE table_name = 'public.merged' AND queue_name IN ('part1', 'part2');
SQL
}
bench_psql -c "SET client_min_messages = warning" -c "CREATE EXTENSION londiste CASCADE" >/dev/null
setup_sql | bench_psql >/dev/null
bench_psql_db postgres -c "CREATE DATABASE bench38" >/dev/null
bench_psql_db bench38 -c "SET client_min_messages = warning" \
    -c "CREATE EXTENSION pgq" -c "CREATE EXTENSION pgq_node" -f "$original_sql" >/dev/null
setup_sql | bench_psql_db bench38 >/dev/null
for db in bench bench38; do
    [ "$(bench_psql_db $db -c "SELECT count(*) FROM londiste.get_table_list('q') WHERE copy_role IS NULL AND merge_state = 'in-copy'")" = 4 ] ||
        bench_die "unexpected setup in $db"
done

cat >"$BENCH_DIR/get_table_list.sql" <<'SQL'
SELECT * FROM londiste.get_table_list('q');
SQL
cat >"$BENCH_DIR/replication_role.sql" <<'SQL'
BEGIN;
SELECT londiste.set_session_replication_role('replica', true);
COMMIT;
SQL
cat >"$BENCH_DIR/coordinate_copy.sql" <<'SQL'
SELECT * FROM londiste._coordinate_copy('part2', 'public.merged');
SQL

# Transactions per second of one pgbench run.
tps_of() {
    local db=$1 script=$2 out
    out=$("$PGBIN/pgbench" -n -M prepared -h 127.0.0.1 -p "$BENCH_PORT" -U postgres \
        -c 1 -j 1 -T "$RUN_SECONDS" -f "$BENCH_DIR/$script.sql" "$db" 2>&1) ||
        { echo "$out" >&2; bench_die "pgbench failed ($script on $db)"; }
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out"
}

echo "londiste per-batch SQL: ours (4.0) vs Debian's londiste 3.8, transactions per second"
echo "$(bench_settings_line); 1 client, ${RUN_SECONDS}s runs, median of $ROUNDS rounds"
printf '%-18s %12s %12s %8s\n' workload ours 3.8 ratio
for workload in get_table_list replication_role coordinate_copy; do
    ours=() orig=()
    for ((round = 0; round < ROUNDS; round++)); do
        if ((round % 2 == 0)); then
            ours+=("$(tps_of bench $workload)")
            orig+=("$(tps_of bench38 $workload)")
        else
            orig+=("$(tps_of bench38 $workload)")
            ours+=("$(tps_of bench $workload)")
        fi
    done
    o=$(bench_median "${ours[@]}")
    r=$(bench_median "${orig[@]}")
    printf '%-18s %12.0f %12.0f %8.2f\n' "$workload" "$o" "$r" "$(awk -v a="$o" -v b="$r" 'BEGIN { print a / b }')"
done
