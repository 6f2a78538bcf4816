# londiste3's worker copies tables: root -> branch -> leaf, tables with
# rows added on branch and leaf without --expect-sync.
#
# The worker starts one "copy TABLE" process per table (parallel_copies
# allows several at once); each copies its table, catches up on the
# events written meanwhile and hands the table back to the worker.  A
# foreign key between two of the tables is dropped for the copy and
# restored once both are in sync; one table is copied by several writer
# sessions (threaded_copy_tables).  The root gets writes all along.

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

my @tables = ('public.parent', 'public.child', 'public.big', 'public."Odd Name"');
my $node = preloaded_node('copy', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;

foreach my $db ('root', 'branch', 'leaf')
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql(
		$db, q{
create table parent (id int primary key, v text);
create table child (id int primary key, parent_id int references parent on delete cascade, v text);
create index child_parent on child (parent_id);
create table big (id int primary key, v text, t timestamptz default now());
create table "Odd Name" (a int, "Key Part" text, primary key (a, "Key Part"));
});
}
$node->safe_psql(
	'root', q{
insert into parent select i, 'p' || i from generate_series(1, 200) i;
insert into child select i, i % 200 + 1, 'c' || i from generate_series(1, 1000) i;
insert into big select i, repeat('b', i % 50) from generate_series(1, 20000) i;
insert into "Odd Name" select i, 'k''' || i from generate_series(1, 50) i;
});

my (%py, %c);
foreach my $name ('root', 'branch', 'leaf')
{
	$py{$name} = londiste_member(
		node => $node, db => $name, name => "${name}node", dir => $dir,
		extra => "threaded_copy_tables = public.big\nthreaded_copy_pool_size = 2\n");
	$c{$name} = { %{ $py{$name} }, program => 'londiste3' };
}
londiste_ok($py{root}, 'create-root', 'rootnode', $py{root}{connstr});
tune_queue($py{root});
londiste_ok($py{branch}, 'create-branch', 'branchnode', $py{branch}{connstr},
	"--provider=$py{root}{connstr}");
londiste_ok($py{leaf}, 'create-leaf', 'leafnode', $py{leaf}{connstr},
	"--provider=$py{branch}{connstr}");
start_worker($c{$_}) for ('root', 'branch', 'leaf');

londiste_ok($py{root}, 'add-table', '--all');

# writes on the root while the copies run
my $writer_round = 0;
sub write_on_root
{
	$writer_round++;
	my $b = 100000 + $writer_round * 100;
	$node->safe_psql(
		'root', qq{
insert into parent values ($b, 'new');
insert into child select i, $b, 'nc' from generate_series($b, $b + 9) i;
update big set v = v || 'u' where id % 97 = $writer_round % 97;
delete from big where id % 89 = $writer_round % 89;
insert into big select i, 'nb' from generate_series($b, $b + 19) i;
delete from parent where id = $writer_round;
insert into "Odd Name" values ($b, 'new');
});
	return;
}

# Poll (every 0.2 s, for 120 s at most) until $sql counts 0 rows on both
# branch and leaf, writing on the root every 4 s so that batches come.
sub zero_on_branch_and_leaf
{
	my ($sql) = @_;
	foreach my $poll (1 .. 600)
	{
		write_on_root() if $poll % 20 == 0;
		return 1 unless grep { $node->safe_psql($_, $sql) ne '0' } ('branch', 'leaf');
		select(undef, undef, undef, 0.2);
	}
	return 0;
}

londiste_ok($py{branch}, 'add-table', '--all');
write_on_root();
londiste_ok($py{leaf}, 'add-table', '--all');
write_on_root();

# the leaf waits for the branch's copies: a table must be ok on the
# provider before it is copied from there
ok( zero_on_branch_and_leaf(
		"select count(*) from londiste.table_info where local and merge_state is distinct from 'ok'"),
	'every table reached state ok on branch and leaf');
write_on_root();
ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
	'copied tables with the writes made during the copy are equal');

# The worker restores a dropped key at the start of a batch once both of
# its tables are ok and have let go of their copy snapshot, which takes
# some batches after "ok" (worker/sync.c); the writes bring batches.
ok(zero_on_branch_and_leaf('select count(*) from londiste.pending_fkeys'),
	'the dropped foreign keys were restored on branch and leaf');

foreach my $name ('branch', 'leaf')
{
	is($node->safe_psql($name,
			"select count(*) from pg_constraint where conrelid = 'child'::regclass and contype = 'f'"),
		'1', "$name: the foreign key of child is back");
	is($node->safe_psql($name,
			"select count(*) from pg_indexes where indexname = 'child_parent'"),
		'1', "$name: the index of child is back");
	is($node->safe_psql($name,
			"select count(*) from pgq_node.local_state where consumer_name like '%.copy.%'"),
		'0', "$name: the copy consumers are unregistered");
}
my @copy_pids = glob("$dir/*.copy.*");
my @alive = grep { my $p = `cat $_`; $p =~ /(\d+)/ && kill(0, $1) } @copy_pids;
is(scalar(@alive), 0, 'no copy process is left running');

like(slurp_file($py{leaf}{log}), qr/Launching copy process/,
	'the leaf worker launched copy processes');

# resync: the table is copied again
londiste_ok($py{leaf}, 'resync', 'public.big');
write_on_root();
my $back = 0;
foreach (1 .. 600)
{
	$back = $node->safe_psql('leaf',
		"select merge_state = 'ok' from londiste.table_info where table_name = 'public.big'") eq 't';
	last if $back;
	select(undef, undef, undef, 0.2);
}
ok($back, 'a resynced table is copied again');
write_on_root();
ok(wait_tables_equal($py{root}, [ $py{branch}, $py{leaf} ], @tables),
	'tables are equal after the resync');

stop_worker($c{$_}) for ('root', 'branch', 'leaf');
is(log_problems(values %py), '', 'no errors in the logs');

done_testing();
