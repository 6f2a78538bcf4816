# londiste3's worker applying big batches (worker/apply.c): consecutive
# inserts and deletes of a table go as multi-row statements, and the
# pipeline's parts are sent without waiting for the ones before.
#
# Checked on root -> leaf, every worker ours: one root transaction of
# 3,000 inserts, updates and deletes on a one-key and a two-key table (runs
# of every length, NULLs, quotes, a key deleted twice, rows updated twice
# in a row, updates of jsonb, array, varchar(5), date and numeric columns)
# arrives equal.  A
# row the leaf holds already makes the next such batch fail whole, whatever
# part of the pipeline the failing row is in: nothing of the batch is
# applied, the position stays, the error is logged once per attempt (not
# the "current transaction is aborted" of the parts sent after it), and
# the batch applies once the conflicting row is gone.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use LondisteTest;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = preloaded_node('apply', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;

my %m;
foreach my $name ('root', 'leaf')
{
	$node->safe_psql('postgres', "create database $name");
	$node->safe_psql($name, q{
create table t (id int primary key, v text, n numeric);
create table "Two Key" (a int, "B" text, v text, primary key (a, "B"));
create table types (id bigint primary key, j jsonb, a int[], ts timestamptz,
  c varchar(5), d date, "Mixed Case" numeric(10,2));
});
	$m{$name} = londiste_member(
		node => $node, db => $name, name => $name, dir => $dir,
		program => 'londiste3');
}
londiste_ok($m{root}, 'create-root', 'root', $node->connstr('root'));
londiste_ok($m{leaf}, 'create-leaf', 'leaf', $node->connstr('leaf'),
	'--provider=' . $node->connstr('root'));
tune_queue($m{root});
foreach my $t ('public.t', 'public.Two Key', 'public.types')
{
	londiste_ok($m{root}, 'add-table', $t);
	londiste_ok($m{leaf}, 'add-table', $t, '--expect-sync');
}
start_worker($_) for values %m;
my @tables = ('public.t', 'public."Two Key"', 'public.types');

$node->safe_psql('root', q{
begin;
insert into t select i, 'v''' || i || E'\\\\', case when i % 5 = 0 then null else i / 7.0 end
  from generate_series(1, 2000) i;
insert into "Two Key" select i % 50, 'k "' || i, null from generate_series(1, 437) i;
update t set v = null where id % 3 = 0;
delete from t where id between 101 and 164;
delete from t where id between 101 and 105;
delete from "Two Key" where a = 7;
insert into t values (101, 'back', 1);
delete from t where id % 11 = 0;
insert into "Two Key" values (7, 'again', 'x');
update t set n = coalesce(n, 0) + 1, v = E'u\\t''' || id where id between 1 and 100;
update t set n = n + 1 where id between 50 and 150;
update "Two Key" set v = 'u' || a where a < 10;
insert into types select i, jsonb_build_object('k', i, 's', 'x"y'), array[i, null, 3],
  '2026-01-02 03:04:05+00'::timestamptz + i * interval '1 day', 'c' || i % 100, date '2026-01-01' + i, i / 3.0
  from generate_series(1, 300) i;
update types set j = j || '{"u": [1, null]}', a = a || 4, ts = ts + interval '1 s',
  c = 'ab''\\', d = null, "Mixed Case" = "Mixed Case" * 2 where id % 2 = 0;
update types set c = null where id % 3 = 0;
commit;
});
ok(wait_tables_equal($m{root}, [ $m{leaf} ], @tables),
	'a 3,000-row transaction of runs of every length arrives equal');

# rows updated twice in one run of updates: no statement may touch a row
# twice (of its two new rows the server would take the first, in the
# nested loop it plans for a few rows)
$node->safe_psql('root', q{
begin;
update t set v = 'first' where id in (5, 6);
update t set v = 'second' where id in (5, 6);
commit;
});
ok(wait_tables_equal($m{root}, [ $m{leaf} ], @tables),
	'rows updated twice in a run end with their second update');
is($node->safe_psql('leaf', "select string_agg(v, ',' order by id) from t where id in (5, 6)"),
	'second,second', '... both of them');

# the next batch: a row the leaf holds already, in the first of the
# pipeline's parts (2,000 single-row updates make the next four)
stop_worker($m{leaf});
my $txid = $node->safe_psql('root', q{
begin;
select txid_current();
insert into t select i, 'second', null from generate_series(3001, 5000) i;
update t set v = 'updated' where id between 3001 and 5000;
delete from t where id between 3001 and 3100;
commit;
});
# (past the leaf's deny trigger, as an admin would)
$node->safe_psql('leaf',
	"set session_replication_role = replica; insert into t values (4321, 'in the way', null)");
my $before = table_digest($m{leaf}, 'public.t');
start_worker($m{leaf});
ok($node->poll_query_until('leaf',
		"select pg_catalog.pg_read_file('$m{leaf}{log}') ~ 'applying events failed: ERROR:  duplicate key value violates unique constraint'"),
	'the conflicting row fails the batch, with the error logged');
sleep 1;
is(table_digest($m{leaf}, 'public.t'), $before, 'nothing of the failed batch is applied');
my $batch_end = $node->safe_psql('root',
	"select min(tick_id) from pgq.tick where txid_visible_in_snapshot($txid, tick_snapshot)");
ok($batch_end ne '' && $node->safe_psql('leaf',
		"select completed_tick < $batch_end from pgq_node.get_consumer_state('replika', 'leaf')") eq 't',
	'the position stays before the failed batch');
my $log = slurp_file($m{leaf}{log});
unlike($log, qr/current transaction is aborted/,
	'the parts sent after the failing one are not reported');
my $attempts = () = $log =~ /failed event|batch failed|applying events failed/g;
cmp_ok($attempts, '>=', 1, 'the failure is logged');

$node->safe_psql('leaf',
	'set session_replication_role = replica; delete from t where id = 4321');
ok(wait_tables_equal($m{root}, [ $m{leaf} ], @tables),
	'with the conflict gone the batch applies whole');

stop_worker($_) for values %m;
$node->stop;
done_testing();
