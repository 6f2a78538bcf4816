# Debian's londiste on a cascade root -> branch -> leaf served by the
# installation under test and ticked by the in-server ticker.
#
# Rows written on the root reach both other nodes through the branch,
# whose worker copies the events into its own queue and ticks it.  Then the
# leaf moves to the root as provider and back (change-provider), the branch
# takes over as root (switchover: writes go on on the new root and reach
# the old root, now a branch, and the leaf), and a DDL file run with
# "londiste execute" on the new root adds a column on every node.

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

my @tables = ('public.plain', 'public."Odd Name"');
my $node = preloaded_node('cascade', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;

foreach my $db ('root', 'branch', 'leaf')
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql(
		$db, q{
create table plain (id int primary key, v text);
create table "Odd Name" (a int, b text, "Some Value" text, primary key (a, b));
});
}
$node->safe_psql(
	'root', q{
insert into plain select i, 'v' || i from generate_series(1, 100) i;
insert into "Odd Name" select i % 10, 'k' || i, 'x' from generate_series(1, 30) i;
});

my %m;
$m{$_} = londiste_member(
	node => $node, db => $_, name => "${_}node", dir => $dir)
  for ('root', 'branch', 'leaf');
my ($root, $branch, $leaf) = @m{ 'root', 'branch', 'leaf' };

londiste_ok($root, 'create-root', 'rootnode', $root->{connstr});
tune_queue($root);
londiste_ok($branch, 'create-branch', 'branchnode', $branch->{connstr},
	"--provider=$root->{connstr}");
londiste_ok($leaf, 'create-leaf', 'leafnode', $leaf->{connstr},
	"--provider=$branch->{connstr}");
start_worker($_) for ($root, $branch, $leaf);

foreach my $m ($root, $branch, $leaf)
{
	londiste_ok($m, 'add-table', 'public.plain', 'public.Odd Name');
}
londiste_ok($_, 'wait-sync') for ($branch, $leaf);
ok(wait_tables_equal($root, [ $branch, $leaf ], @tables),
	'initial copy reached branch and leaf');

# Node type and provider of a member as pgq_node sees them.
sub node_info
{
	my ($m) = @_;
	return $m->{node}->safe_psql($m->{db},
		"select node_type || ' ' || coalesce(provider_node, '-') "
		  . "from pgq_node.get_node_info('replika')");
}

# Write on $m, then wait until the tables are equal on every member.
my $round = 0;
sub write_and_check
{
	my ($src, $what) = @_;
	$round++;
	$src->{node}->safe_psql(
		$src->{db}, qq{
insert into plain select i, 'r$round' from generate_series($round * 1000, $round * 1000 + 49) i;
update plain set v = v || '+$round' where id % 5 = $round % 5;
delete from plain where id % 11 = $round % 11;
insert into "Odd Name" values ($round, 'round $round', 'n');
update "Odd Name" set "Some Value" = 'u$round' where a = $round % 10;
});
	ok(wait_tables_equal($src, [ grep { $_ != $src } ($root, $branch, $leaf) ],
			@tables),
		$what);
	return;
}

is(node_info($branch), 'branch rootnode', 'branch is subscribed to the root');
is(node_info($leaf), 'leaf branchnode', 'leaf is subscribed to the branch');
write_and_check($root, 'root writes reach branch and leaf');

londiste_ok($leaf, 'change-provider', '--provider=rootnode');
is(node_info($leaf), 'leaf rootnode', 'change-provider moved the leaf to the root');
like(londiste_ok($leaf, 'status'), qr/^  \+--: leafnode \(leaf\)$/m,
	'status shows the leaf right under the root');
write_and_check($root, 'root writes reach the leaf directly');

londiste_ok($leaf, 'change-provider', '--provider=branchnode');
is(node_info($leaf), 'leaf branchnode', 'change-provider moved the leaf back');
write_and_check($root, 'root writes reach the leaf through the branch again');

# Switchover: the branch becomes the root, the old root its branch.
londiste_ok($branch, 'takeover', 'rootnode');
like(node_info($branch), qr/^root /, 'after takeover the branch is the root');
is(node_info($root), 'branch branchnode',
	'after takeover the old root is a branch of the new root');
is(node_info($leaf), 'leaf branchnode', 'the leaf stays on the new root');
tune_queue($branch);
write_and_check($branch, 'writes on the new root reach the old root and the leaf');

my $ddl = "$dir/add_column.sql";
append_to_file($ddl, "alter table plain add column extra text;\n");
londiste_ok($branch, 'execute', $ddl);
foreach my $m ($root, $branch, $leaf)
{
	ok( $m->{node}->poll_query_until(
			$m->{db},
			"select count(*) = 1 from information_schema.columns "
			  . "where table_name = 'plain' and column_name = 'extra'"),
		"execute added the column on $m->{name}");
}
$branch->{node}->safe_psql($branch->{db},
	"insert into plain values (99999, 'with extra', 'extra value')");
ok(wait_tables_equal($branch, [ $root, $leaf ], @tables),
	'rows with the new column reach every node');

my ($rc, $out, $err) = londiste_run($leaf, 'compare');
is($rc, 0, 'compare on the leaf finds the tables equal') or diag($err);

is(log_problems($root, $branch, $leaf), '', 'the workers logged no errors');

stop_worker($_) for ($root, $branch, $leaf);
$node->stop;
done_testing();
