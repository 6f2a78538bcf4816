# londiste3's worker replays a cascade root -> branch -> leaf.
#
# The nodes are set up with Debian's londiste (python3-londiste), the
# tables added with --expect-sync on branch and leaf; our worker runs on
# all three nodes.  Rows written on the root by the three trigger kinds
# (logutriga, sqltriga, jsontriga), with values that need quoting, reach
# the branch (which copies the events into its own queue and ticks it)
# and the leaf behind it; a TRUNCATE, an EXECUTE file and a table added
# later on the root reach them too.  Then Python's worker and ours take
# turns on the leaf, on the same consumer, with no resync.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use LondisteTest;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

ok(-x '/usr/bin/londiste', 'londiste is installed')
  or die "this test needs the Debian package python3-londiste";

my @tables = ('public.logt', 'public.sqlt', 'public.jsont', 'public."Odd Name"');
my $node = preloaded_node('worker', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;

foreach my $db ('root', 'branch', 'leaf')
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql(
		$db, q{
create table logt (id int primary key, v text, b bool);
create table sqlt (id int primary key, v text);
create table jsont (id int primary key, v text, b bool, n numeric, at timestamptz, tags text[]);
create table "Odd Name" (a int, "Key Part" text, "Some Value" text, primary key (a, "Key Part"));
create table later (id int primary key, v text);
});
}

# Admin commands run Python's londiste; the workers are ours.
my (%py, %c);
foreach my $name ('root', 'branch', 'leaf')
{
	$py{$name} = londiste_member(
		node => $node, db => $name, name => "${name}node", dir => $dir);
	$c{$name} = { %{ $py{$name} }, program => 'londiste3' };
}

londiste_ok($py{root}, 'create-root', 'rootnode', $py{root}{connstr});
tune_queue($py{root});
londiste_ok($py{branch}, 'create-branch', 'branchnode', $py{branch}{connstr},
	"--provider=$py{root}{connstr}");
londiste_ok($py{leaf}, 'create-leaf', 'leafnode', $py{leaf}{connstr},
	"--provider=$py{branch}{connstr}");

# one trigger kind per table: logutriga (default), sqltriga, jsontriga
my %flags = (
	'public.logt' => [],
	'public.sqlt' => ['--trigger-flags=Q'],
	'public.jsont' => ['--trigger-flags=J'],
	'public.Odd Name' => []);
foreach my $name ('root', 'branch', 'leaf')
{
	foreach my $t (sort keys %flags)
	{
		londiste_ok($py{$name}, 'add-table', $t, @{ $flags{$t} },
			$name eq 'root' ? () : ('--expect-sync'));
	}
}

start_worker($c{$_}) for ('root', 'branch', 'leaf');

my $round = 0;
sub write_on_root
{
	$round++;
	my $b = $round * 1000;
	$py{root}{node}->safe_psql(
		'root', qq{
insert into logt select i, 'v' || i, i % 2 = 0 from generate_series($b, $b + 39) i;
insert into logt values ($b + 100, E'quote '' back\\\\slash tab\\t nl\\n', null),
  ($b + 101, 'ünïcödé €', true), ($b + 102, null, false), ($b + 103, '', true);
update logt set v = v || '+' where id % 3 = 0 and id between $b and $b + 39;
delete from logt where id % 7 = 0 and id between $b and $b + 39;
insert into sqlt select i, E'sql''s \\\\ ' || i from generate_series($b, $b + 29) i;
update sqlt set v = null where id % 4 = 0 and id between $b and $b + 29;
delete from sqlt where id % 5 = 0 and id between $b and $b + 29;
insert into jsont select i, E'json "q" \\\\ ' || i, i % 2 = 1, i / 3.0, '2024-05-06 07:08:09+00'::timestamptz + i * interval '1 hour', array['a', 'b c', i::text]
  from generate_series($b, $b + 29) i;
update jsont set b = not b, n = n * 2, v = null where id % 3 = 0 and id between $b and $b + 29;
delete from jsont where id % 4 = 0 and id between $b and $b + 29;
insert into "Odd Name" select i % 10, 'k ' || i || '"', 'x' from generate_series($b, $b + 19) i;
update "Odd Name" set "Some Value" = 'u$round' where a = $round % 10;
delete from "Odd Name" where a = ($round + 5) % 10;
});
	return;
}

write_on_root();
ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
	'rows of logutriga, sqltriga and jsontriga reach branch and leaf');

# The branch ticked its own queue at the root's ticks: the leaf's batches
# come from the branch's queue, whose ticks carry the root's tick ids.
# (the branch first: the root may tick again between the two reads)
my $branch_last = $node->safe_psql('branch',
	"select max(tick_id) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where queue_name = 'replika'");
my $root_ticks = $node->safe_psql('root',
	"select array_agg(tick_id order by tick_id) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where queue_name = 'replika'");
like($root_ticks, qr/\b$branch_last\b/, "the branch's last tick ($branch_last) is a root tick");
my $leaf_done = $node->safe_psql('leaf',
	"select completed_tick from pgq_node.get_consumer_state('replika', 'leafnode')");
cmp_ok($leaf_done, '>', 1, 'the leaf completed ticks of the branch');

# TRUNCATE replays on both (sqltriga's truncate trigger), then new rows
$node->safe_psql('root', 'truncate logt');
write_on_root();
ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
	'a truncate and the rows after it reach branch and leaf');
cmp_ok($node->safe_psql('leaf', 'select count(*) from logt'), '<', 50,
	'the truncate emptied the leaf table');

# EXECUTE: a DDL file run on the root runs once on every node
my $ddl = "$dir/add_col.sql";
append_to_file($ddl, "alter table sqlt add column extra text;\n");
londiste_ok($py{root}, 'execute', $ddl);
$node->safe_psql('root', "insert into sqlt values (99999, 'with extra', 'e')");
ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
	'rows after an EXECUTE reach branch and leaf');
is($node->safe_psql('leaf', "select execute_file from londiste.applied_execute"),
	'add_col.sql', 'the leaf remembers the applied file');

# EXECUTE files with attributes: run where the table is local, with its
# @name@ replaced; skipped where it is not
my $attr_ddl = "$dir/attr_col.sql";
append_to_file($attr_ddl,
	"--*-- Local-Table: public.sqlt\nalter table \@public.sqlt\@ add column attr_col text;\n");
my $skip_ddl = "$dir/skip_me.sql";
append_to_file($skip_ddl,
	"--*-- Local-Table: public.nosuch\ncreate table must_not_exist (i int);\n");
londiste_ok($py{root}, 'execute', $attr_ddl, $skip_ddl);
$node->safe_psql('root', "insert into sqlt values (99998, 'attr', 'e', 'a')");
ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
	'rows after EXECUTE files with attributes reach branch and leaf');
foreach my $db ('branch', 'leaf')
{
	is($node->safe_psql($db,
			"select count(*) from londiste.applied_execute where execute_file in ('attr_col.sql', 'skip_me.sql')"),
		'2', "$db: both files are recorded");
	is($node->safe_psql($db, "select to_regclass('must_not_exist') is null"),
		't', "$db: the file for a table it does not have did not run");
}

# a table added on the root later: its add-table event registers it below
londiste_ok($py{root}, 'add-table', 'public.later');
my $registered = 0;
foreach (1 .. 300)
{
	$registered = $node->safe_psql('leaf',
		"select count(*) from londiste.table_info where table_name = 'public.later'");
	last if $registered;
	select(undef, undef, undef, 0.1);
}
is($registered, 1, 'londiste.add-table reached the leaf through the branch');
londiste_ok($py{$_}, 'add-table', 'public.later', '--expect-sync') for ('branch', 'leaf');
$node->safe_psql('root', "insert into later select i, 'l' || i from generate_series(1, 10) i");
ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], 'public.later'),
	'rows of the later table reach branch and leaf');

# Take turns on the leaf: Python's worker, then ours again.
stop_worker($c{leaf});
start_worker($py{leaf});
write_on_root();
ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
	"Python's worker goes on where ours stopped");
stop_worker($py{leaf});
start_worker($c{leaf});
write_on_root();
ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
	"ours goes on where Python's stopped");

# and on the branch
stop_worker($c{branch});
start_worker($py{branch});
write_on_root();
ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
	"Python's branch worker goes on where ours stopped");
stop_worker($py{branch});
start_worker($c{branch});
write_on_root();
ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
	"our branch worker goes on where Python's stopped");

stop_worker($c{$_}) for ('root', 'branch', 'leaf');
is(log_problems(values %py), '', 'no errors in the logs');

done_testing();
