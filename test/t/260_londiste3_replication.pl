# londiste replication correctness under a steady write load (INSERT,
# UPDATE, DELETE, TRUNCATE on tables with composite keys, quoted names and
# every type class the triggers encode) across root -> branch -> leaf, our
# worker on the branch and the leaf, through faults:
#   - SIGKILL of the leaf's worker and copy processes during an initial
#     copy (the copy waits for a lock on its table), then resync of the
#     tables the dead copies left in-copy,
#   - SIGKILL of the branch's and the leaf's worker during replay (the
#     apply waits for a row lock),
#   - SIGKILL of the branch's and the leaf's worker after the local commit
#     of a batch and before pgq.finish_batch on the provider (the local
#     commit waits on pgq_node.local_state, then finish_batch waits on the
#     provider's subscription row),
#   - an immediate shutdown and restart of the root's cluster,
#   - a takeover of the root by the branch, the load moving along.
# At the end every table is equal on all nodes and each node applied every
# change made anywhere exactly once (LondisteSoak's op_log).
#
# Root runs on one cluster, branch and leaf on another, so that restarting
# the root's cluster restarts the branch's provider only.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use LondisteSoak;
use LondisteTest;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

ok(-x '/usr/bin/londiste', 'python3-londiste is installed')
  or die "this test runs Debian's londiste on the root";

# Which program drives each member: ours on branch and leaf
# (LD260_PROGRAM=python|londiste3 makes
# every member run that one).
my %program = (root => 'python', branch => 'londiste3', leaf => 'londiste3');
$program{$_} = $ENV{LD260_PROGRAM} for grep { $ENV{LD260_PROGRAM} } keys %program;

my @tables = ('public.kv', 'public."Order Lines"', '"Sales"."Ledger"', 'public.wiped');
my @add_args = ('public.kv', 'public.Order Lines', 'Sales.Ledger', 'public.wiped');

my $up   = preloaded_node('up',   $LondisteTest::SERVER_CONF);
my $down = preloaded_node('down', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;

my %m;
foreach my $where ([ $up, 'root' ], [ $down, 'branch' ], [ $down, 'leaf' ])
{
	my ($node, $db) = @$where;
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql(
		$db, q{
create schema "Sales";
create table kv (id int primary key, n numeric, t text, b bytea,
	ts timestamptz, tsl timestamp, arr text[], ints int[], j json, jb jsonb);
create table "Order Lines" ("Order Id" int, "line#" int, qty int not null,
	descr text, primary key ("Order Id", "line#"));
create table "Sales"."Ledger" (k bigint, sub text, amount numeric(14, 2),
	primary key (k, sub));
create table wiped (id int primary key, v text);
});
	$m{$db} = londiste_member(
		node    => $node,
		db      => $db,
		name    => "${db}node",
		dir     => $dir,
		program => $program{$db});
	install_op_log($m{$db}, @tables);
}
my ($root, $branch, $leaf) = @m{ 'root', 'branch', 'leaf' };

# The load: one transaction touching every table, values of every type
# class (quotes, backslashes, non-ASCII text, bytea with NUL and
# backslash bytes, numeric NaN, timestamps, arrays with NULLs and commas,
# json) and NULLs; keys from small ranges so that inserts, updates and
# deletes meet existing rows.
my $script = "$dir/load.sql";
append_to_file($script, <<'EOF');
\set k random(1, 300)
\set u random(1, 300)
\set d random(1, 900)
\set o random(1, 40)
\set l random(1, 5)
\set q random(1, 1000)
begin;
insert into kv (id, n, t, b, ts, tsl, arr, ints, j, jb)
values (:k,
  case when :q % 11 = 0 then null when :q % 17 = 0 then 'NaN'
       else round((:q * 1.25 + random() * 1000)::numeric, 6) end,
  case when :q % 9 = 0 then null
       else format(E'it''s "%s" \\ back\\\\slash \u00fc\u20ac\u65e5 \t tab\nline', :q) end,
  case when :q % 10 = 0 then null else decode(md5(:q::text), 'hex') || '\x005c27ff'::bytea end,
  clock_timestamp(),
  timestamp '2001-02-03 04:05:06.789' + :q * interval '1 minute 1.5 s',
  array[format('a,b%s', :q), E'q"uo\\te', null, '{}', ''],
  case when :q % 7 = 0 then null else array[:q, null, -:q] end,
  json_build_object('k', :k, 's', E'q"\\\n', 'u', E'\u00fc', 'n', null),
  jsonb_build_object('q', :q, 'arr', jsonb_build_array(1, 'x', null)))
on conflict (id) do update
  set n = excluded.n, t = excluded.t, b = excluded.b, ts = excluded.ts,
      ints = excluded.ints, j = excluded.j;
update kv set t = t || '+', jb = jsonb_set(coalesce(jb, '{}'), '{u}', to_jsonb(:q)) where id = :u;
delete from kv where id = :d;
insert into "Order Lines" values (:o, :l, :q % 60, E'line ''%'' \\ \u00fc')
on conflict ("Order Id", "line#") do update set qty = "Order Lines".qty + excluded.qty;
delete from "Order Lines" where "Order Id" = :o and "line#" = :l and qty > 150;
insert into "Sales"."Ledger" values (:q % 50, format('sub %s', :l), :q * 1.01)
on conflict (k, sub) do update set amount = "Ledger".amount + excluded.amount;
insert into wiped values (:k, format('w%s', :q)) on conflict (id) do nothing;
end;
EOF
my $rate = 40;

$root->{node}->safe_psql(
	'root', q{
insert into kv (id, t) select i, 'seed ' || i from generate_series(1, 200) i;
insert into "Order Lines" select i / 5, i % 5, i, 'seed' from generate_series(5, 199) i;
});

londiste_ok($root, 'create-root', 'rootnode', $root->{connstr});
tune_queue($root);
londiste_ok($branch, 'create-branch', 'branchnode', $branch->{connstr},
	"--provider=$root->{connstr}");
londiste_ok($leaf, 'create-leaf', 'leafnode', $leaf->{connstr},
	"--provider=$branch->{connstr}");
start_worker($_) for ($root, $branch, $leaf);
londiste_ok($root, 'add-table', @add_args);

my $load = start_load($root, $script, $rate);
wait_load_progress($root, 50);

# The branch copies its tables while the root is written to.
londiste_ok($branch, 'add-table', @add_args);
londiste_ok($branch, 'wait-sync');

# Kill the leaf's worker while a copy process waits for its table: the
# tables are added with the worker stopped (add-table's trigger needs the
# lock too), the worker starts its copies against the held lock.
{
	stop_worker($leaf);
	londiste_ok($leaf, 'add-table', @add_args);
	my $lock = hold_lock($leaf, 'lock table kv in share row exclusive mode');
	start_worker($leaf);
	my $blocked = wait_blocked_by($lock);
	my $state = $leaf->{node}->safe_psql('leaf',
		"select merge_state from londiste.get_table_list('replika') where table_name = 'public.kv'"
	);
	isnt($state, 'ok', "the copy of public.kv is unfinished ($state) while it waits");
	my $copies = kill_worker_and_copies($leaf);
	note("killed the leaf's worker and $copies copy processes at: $blocked");
	terminate_blocked($lock);
	release_lock($lock);
	# A table whose copy process died stays in its copy state (nothing
	# relaunches a copy on its own, londiste.md 3.3): resync it, before the
	# worker starts copies of the tables not begun yet.
	my @stuck = split /\n/, $leaf->{node}->safe_psql('leaf',
		"select table_name from londiste.get_table_list('replika') where merge_state <> 'ok'"
	);
	ok(scalar(grep { $_ eq 'public.kv' } @stuck), 'the killed copy of public.kv stays unfinished');
	londiste_ok($leaf, 'resync', @stuck);
	start_worker($leaf);
	londiste_ok($leaf, 'wait-sync');
}

# Stop the load and wait for the last change everywhere: a marker row
# that only the last batch brings.
my $marker = 0;
sub settle
{
	my ($src, $what) = @_;
	stop_load($load);
	$marker++;
	$src->{node}->safe_psql($src->{db},
		"insert into wiped values (-$marker, 'marker $marker')");
	ok(wait_tables_equal($src, [ grep { $_ != $src } ($root, $branch, $leaf) ],
			@tables),
		$what);
	return;
}

settle($root, 'after the initial copies the tables are equal');
# The member the load writes to.
my $writer = $root;
# From here on every change must reach every node exactly once.
reset_op_log($root, $branch, $leaf);
$load = start_load($root, $script, $rate);

# Kill the worker of $m while its apply waits for a row lock.
sub kill_during_replay
{
	my ($m) = @_;
	wait_load_progress($writer, 30);
	my $lock = hold_lock($m, 'lock table "Order Lines" in share row exclusive mode');
	my $blocked = wait_blocked_by($lock);
	kill_worker_and_copies($m);
	note("killed $m->{name}'s worker during replay at: $blocked");
	terminate_blocked($lock);
	release_lock($lock);
	start_worker($m);
	return;
}

# Kill the worker of $m after it committed a batch locally and before the
# batch is finished on $provider.
sub kill_before_finish
{
	my ($m, $provider) = @_;
	wait_load_progress($writer, 30);
	my $local = hold_lock($m, 'lock table pgq_node.local_state in exclusive mode');
	wait_blocked_by($local);
	my $sub = hold_lock($provider, qq{
select s.sub_batch
  from pgq.subscription s
  join pgq.consumer c on c.co_id = s.sub_consumer
  join pgq.queue q on q.queue_id = s.sub_queue
 where c.co_name = '$m->{name}' and q.queue_name = 'replika'
   for update of s});
	release_lock($local);
	my $blocked = wait_blocked_by($sub);
	my ($done, $next) = (
		$m->{node}->safe_psql($m->{db},
			"select last_tick_id from pgq_node.local_state where consumer_name = '$m->{name}'"),
		$provider->{node}->safe_psql($provider->{db},
			"select sub_next_tick from pgq.subscription s join pgq.consumer c"
			  . " on c.co_id = s.sub_consumer where c.co_name = '$m->{name}'"));
	is($done, $next,
		"$m->{name} committed its batch locally and waits before finishing it");
	kill_worker_and_copies($m);
	note("killed $m->{name}'s worker before finish_batch at: $blocked");
	terminate_blocked($sub);
	release_lock($sub);
	start_worker($m);
	return;
}

kill_during_replay($leaf);
kill_during_replay($branch);
$root->{node}->safe_psql('root', 'truncate wiped');
kill_before_finish($leaf, $branch);
kill_before_finish($branch, $root);

# The branch's provider goes down hard and comes back.
stop_load($load);
$up->stop('immediate');
$up->start;
$load = start_load($root, $script, $rate);
wait_load_progress($root, 30);
$root->{node}->safe_psql('root', 'truncate wiped');
wait_load_progress($root, 30);
settle($root, 'after the faults the tables are equal');

# Takeover: the branch becomes the root; the load moves with it.
londiste_ok($branch, 'takeover', 'rootnode');
tune_queue($branch);
is( $branch->{node}->safe_psql('branch',
		"select node_type from pgq_node.get_node_info('replika')"),
	'root', 'the branch took over as root');
$writer = $branch;
$load = start_load($branch, $script, $rate);
wait_load_progress($branch, 60);
$branch->{node}->safe_psql('branch', 'truncate wiped');
kill_during_replay($leaf);
wait_load_progress($branch, 30);
settle($branch, 'after the takeover the tables are equal');

foreach my $t (@tables)
{
	my $want = table_digest($branch, $t);
	is(table_digest($_, $t), $want, "$t on $_->{name} equals the new root's")
	  for ($root, $leaf);
}
check_op_logs($root, $branch, $leaf);

my $problems = join '', grep { /duplicate key|violates|Traceback|assert/i }
  split /^/m, log_problems($root, $branch, $leaf);
is($problems, '', 'no constraint errors in the workers\' logs');

stop_worker($_) for ($root, $branch, $leaf);
$up->stop;
$down->stop;
done_testing();
