# londiste3's worker killed with SIGKILL at the points of londiste.md 3.7,
# on a cascade root -> branch -> leaf (set up with python3-londiste, our
# workers on every node).
#
# A test session holds a lock on the table the worker writes next at the
# point in question, waits until the worker blocks on it, kills the worker
# and checks what was left behind; then the lock goes, the worker starts
# again and every row must arrive exactly once (a row applied twice would
# stop the worker on a primary key, one lost would leave the tables
# different):
#
#   leaf, before the local commit      lock on the replicated table
#   leaf, after it, before finish_batch   ... and on the branch's pgq.subscription
#   branch, after it, before its tick  lock on the branch's pgq.tick
#   EXECUTE before the local commit    lock on the table it alters
#   foreign keys dropped, in-copy not yet stored   lock on londiste.table_info
#   copy process killed during its copy  lock on the table; then resync

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use LondisteTest;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

ok(-x '/usr/bin/londiste', 'londiste is installed')
  or die "this test needs the Debian package python3-londiste";

my @tables = ('public.t1', 'public."Odd Name"');
my $node = preloaded_node('crash', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;

foreach my $db ('root', 'branch', 'leaf')
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql(
		$db, q{
create table t1 (id int primary key, v text);
create table "Odd Name" (a int, "Key Part" text, primary key (a, "Key Part"));
create table p (id int primary key);
create table ch (id int primary key, p_id int references p);
create table big (id int primary key, v text);
});
}
$node->safe_psql(
	'root', q{
insert into p select generate_series(1, 100);
insert into ch select i, i % 100 + 1 from generate_series(1, 300) i;
insert into big select i, 'b' || i from generate_series(1, 5000) i;
});

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
londiste_ok($py{root}, 'add-table', 'public.t1', 'public.Odd Name', 'public.p',
	'public.ch', 'public.big');
londiste_ok($py{$_}, 'add-table', 'public.t1', 'public.Odd Name', '--expect-sync')
  for ('branch', 'leaf');
start_worker($c{$_}) for ('root', 'branch', 'leaf');

sub wait_until
{
	my ($what, $cond) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		return 1 if $cond->();
		usleep(100_000);
	}
	diag("timed out waiting: $what");
	return 0;
}

# Is a session of database $db running a statement that matches regular
# expression $re waiting for a lock?  (application_name cannot tell the
# worker's sessions apart: the test framework sets PGAPPNAME.)
sub blocked
{
	my ($db, $re) = @_;
	return $node->safe_psql('postgres',
		"select count(*) from pg_stat_activity where datname = '$db'"
		  . " and backend_type = 'client backend' and wait_event_type = 'Lock'"
		  . " and query ~* '$re'") > 0;
}

# kill -9 the worker of member $m (or process $pid of it) and end its
# session blocked in database $db on statement $re, as the loss of the
# connection does for idle ones (a session blocked on a lock would
# otherwise go on with its statement once the lock is free)
sub crash
{
	my ($m, $db, $re, $pid) = @_;
	if (defined $pid)
	{
		kill 'KILL', $pid;
		wait_until('process gone', sub { !kill(0, $pid) });
	}
	else
	{
		kill_worker($m);
	}
	$node->safe_psql('postgres',
		"select pg_terminate_backend(pid) from pg_stat_activity"
		  . " where datname = '$db' and backend_type = 'client backend'"
		  . " and wait_event_type = 'Lock' and query ~* '$re'");
	wait_until('session gone', sub { !blocked($db, $re) });
	return;
}

my $round = 0;
sub write_on_root
{
	$round++;
	my $b = $round * 1000;
	$node->safe_psql(
		'root', qq{
insert into t1 select i, 'r$round' from generate_series($b, $b + 49) i;
update t1 set v = v || '+' where id % 3 = 0 and id < $b;
delete from t1 where id % 7 = $round % 7 and id < $b;
insert into "Odd Name" values ($round, 'k $round');
});
	return $round;
}

sub rows_of_round
{
	my ($db, $r) = @_;
	return $node->safe_psql($db, "select count(*) from t1 where v like 'r$r%'");
}

sub completed_tick
{
	my ($db, $consumer) = @_;
	return $node->safe_psql($db,
		"select completed_tick from pgq_node.get_consumer_state('replika', '$consumer')");
}

write_on_root();
ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
	'the cascade replicates before any crash');

# 1. leaf, killed before its local commit: nothing of the batch stays
my $apply_re = 'into "public"."t1"';
{
	my $lock = $node->background_psql('leaf');
	$lock->query_safe('begin; lock table t1 in exclusive mode');
	my $r = write_on_root();
	ok(wait_until('leaf worker blocked', sub { blocked('leaf', $apply_re) }),
		'leaf worker waits to apply the rows');
	crash($c{leaf}, 'leaf', $apply_re);
	$lock->query_safe('rollback');
	$lock->quit;
	is(rows_of_round('leaf', $r), '0', 'killed before commit: none of the rows stayed');
	start_worker($c{leaf});
	ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
		'restarted, the leaf applies the batch again, once');
}

# 2. leaf, killed after its commit, before finish_batch on the branch
{
	my $lock = $node->background_psql('leaf');
	$lock->query_safe('begin; lock table t1 in exclusive mode');
	my $r = write_on_root();
	ok(wait_until('leaf worker blocked', sub { blocked('leaf', $apply_re) }),
		'leaf worker waits to apply the rows');
	my $plock = $node->background_psql('branch');
	$plock->query_safe('begin; lock table pgq.subscription in exclusive mode');
	$lock->query_safe('commit');
	$lock->quit;
	my $finish_re = 'finish_batch|set_subscriber_watermark';
	ok(wait_until('leaf worker blocked on the branch', sub { blocked('branch', $finish_re) }),
		'leaf worker committed and waits on the branch');
	crash($c{leaf}, 'branch', $finish_re);
	$plock->query_safe('rollback');
	$plock->quit;
	is(rows_of_round('leaf', $r), '50', 'killed after commit: the rows are there');
	my $done = completed_tick('leaf', 'leafnode');
	my $finished = $node->safe_psql('branch',
		"select last_tick from pgq.get_consumer_info('replika', 'leafnode')");
	cmp_ok($finished, '<', $done, 'the batch was not finished on the branch');
	start_worker($c{leaf});
	ok(wait_until('batch finished', sub {
		$node->safe_psql('branch',
			"select last_tick from pgq.get_consumer_info('replika', 'leafnode')") >= $done }),
		'restarted, the leaf skips the applied batch and finishes it');
	write_on_root();
	ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
		'no row twice, none lost');
}

# 3. branch, killed after its commit, before it ticks its queue
{
	my $lock = $node->background_psql('branch');
	$lock->query_safe('begin; lock table pgq.tick in exclusive mode');
	write_on_root();
	ok(wait_until('branch worker blocked', sub { blocked('branch', 'pgq.ticker') }),
		'branch worker waits to tick');
	crash($c{branch}, 'branch', 'pgq.ticker');
	$lock->query_safe('rollback');
	$lock->quit;
	my $done = completed_tick('branch', 'branchnode');
	my $last = $node->safe_psql('branch',
		"select max(tick_id) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue"
		  . " where queue_name = 'replika'");
	cmp_ok($last, '<', $done, "the branch's queue misses the tick of its applied batch");
	start_worker($c{branch});
	ok(wait_until('tick made', sub {
		$node->safe_psql('branch',
			"select count(*) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue"
			  . " where queue_name = 'replika' and tick_id = $done") == 1 }),
		'restarted, the branch makes the missing tick');
	ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
		'the leaf gets the events of that tick, once');
}

# 4. EXECUTE: file, SQL and tick in one transaction
{
	my $ddl = "$dir/crash_ddl.sql";
	append_to_file($ddl, "alter table t1 add column extra text;\n");
	my $lock = $node->background_psql('leaf');
	$lock->query_safe('begin; lock table t1 in access share mode');
	londiste_ok($py{root}, 'execute', $ddl);
	ok(wait_until('leaf worker blocked', sub { blocked('leaf', 'alter table t1') }),
		'leaf worker waits to run the file');
	crash($c{leaf}, 'leaf', 'alter table t1');
	$lock->query_safe('rollback');
	$lock->quit;
	is($node->safe_psql('leaf',
			"select count(*) from information_schema.columns where table_name = 't1' and column_name = 'extra'"),
		'0', 'killed before commit: the DDL did not stay');
	is($node->safe_psql('leaf', 'select count(*) from londiste.applied_execute'),
		'0', '... nor the applied_execute row');
	start_worker($c{leaf});
	$node->safe_psql('root', "insert into t1 values (999999, 'x', 'extra')");
	ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
		'restarted, the leaf runs the file and gets the new column');
	is($node->safe_psql('leaf', 'select count(*) from londiste.applied_execute'),
		'1', 'the file is recorded once');
}

# 5. branch, killed after dropping a foreign key for a copy, before storing in-copy
{
	stop_worker($c{branch});
	londiste_ok($py{branch}, 'add-table', 'public.p', 'public.ch');
	my $lock = $node->background_psql('branch');
	$lock->query_safe('begin; lock table londiste.table_info in exclusive mode');
	start_worker($c{branch});
	ok(wait_until('branch worker blocked', sub { blocked('branch', 'local_set_table_state') }),
		'branch worker waits to store in-copy');
	crash($c{branch}, 'branch', 'local_set_table_state');
	$lock->query_safe('rollback');
	$lock->quit;
	is($node->safe_psql('branch', 'select count(*) from londiste.pending_fkeys'),
		'1', 'the dropped foreign key is kept pending');
	is($node->safe_psql('branch',
			"select count(*) from londiste.table_info where merge_state is null and local"),
		'2', 'both tables still wait for their copy');
	start_worker($c{branch});
	ok(wait_until('copied', sub {
		$node->safe_psql('branch',
			"select count(*) from londiste.table_info where merge_state = 'ok' and table_name in ('public.p', 'public.ch')") == 2 }),
		'restarted, the branch copies both tables');
	ok(wait_until('fkey back', sub {
		$node->safe_psql('branch', 'select count(*) from londiste.pending_fkeys') == 0 }),
		'and restores the foreign key');
	ok(wait_tables_equal($py{root}, [ $py{branch} ], 'public.p', 'public.ch'),
		'the copied tables are equal');
}

# 6. a copy process killed during its copy: the table waits for resync
{
	my $lock = $node->background_psql('branch');
	$lock->query_safe('begin; lock table big in access share mode');
	londiste_ok($py{branch}, 'add-table', 'public.big');
	my $pidfile = "$c{branch}{pidfile}.copy.public.big";
	ok(wait_until('copy blocked', sub { -e $pidfile && blocked('branch', 'lock table') }),
		'the copy process waits for the table');
	my ($pid) = slurp_file($pidfile) =~ /(\d+)/;
	crash($c{branch}, 'branch', 'lock table', $pid);
	ok(!kill(0, $pid), 'the copy process is killed');
	$lock->query_safe('rollback');
	$lock->quit;
	my $r = write_on_root();
	ok(wait_until('branch past the crash', sub { rows_of_round('branch', $r) == 50 }),
		'the branch worker goes on');
	is($node->safe_psql('branch',
			"select merge_state from londiste.table_info where table_name = 'public.big'"),
		'in-copy', 'the table of the dead copy stays in-copy');
	londiste_ok($py{branch}, 'resync', 'public.big');
	ok(wait_until('copied again', sub {
		$node->safe_psql('branch',
			"select merge_state from londiste.table_info where table_name = 'public.big'") eq 'ok' }),
		'after resync the table is copied');
	write_on_root();
	ok(wait_tables_equal($py{root}, [ $py{branch} ], 'public.big'),
		'the table is equal after the resync');
}

write_on_root();
ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
	'the cascade replicates after all crashes');
stop_worker($c{$_}) for ('root', 'branch', 'leaf');
is(log_problems(values %py), '', 'no errors in the logs');

done_testing();
