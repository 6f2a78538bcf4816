# londiste3 takeover between branches: a switchover with --all, a
# failover with --dead-branch where the new node hangs below the dead one
# (python3-londiste 3.11 fails there with "Unknown node"), and --dead=NODE,
# which treats a node as dead for one command only.
#
# Cascade root -> b1 -> {b2, leaf} made by londiste3; Python's workers on
# root and b1, londiste3's on b2 and leaf.

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

my $node = preloaded_node('branches', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;

my %m;
foreach my $name ('root', 'b1', 'b2', 'leaf')
{
	$node->safe_psql('postgres', "create database $name");
	$node->safe_psql($name, 'create table plain (id int primary key, v text)');
	$m{$name} = londiste_member(
		node    => $node,
		db      => $name,
		name    => $name,
		dir     => $dir,
		program => 'londiste3');
}
my ($root, $b1, $b2, $leaf) = @m{qw(root b1 b2 leaf)};

my %worker_program = (root => 'python', b1 => 'python', b2 => 'londiste3', leaf => 'londiste3');
sub worker
{
	my ($m) = @_;
	return { %$m, program => $worker_program{ $m->{name} } };
}

sub python
{
	my ($m) = @_;
	return { %$m, program => 'python' };
}

sub node_info
{
	my ($m) = @_;
	return $m->{node}->safe_psql($m->{db},
		"select node_type || ' ' || coalesce(provider_node, '-') "
		  . "from pgq_node.get_node_info('replika')");
}

my $round = 0;
sub write_and_check
{
	my ($what, @targets) = @_;
	$round++;
	$root->{node}->safe_psql('root',
		"insert into plain select i, 'r$round' from generate_series($round * 100, $round * 100 + 49) i");
	ok(wait_tables_equal($root, \@targets, 'public.plain'), $what);
	return;
}

londiste_ok($root, 'create-root', 'root', $root->{connstr});
tune_queue($root);
londiste_ok($b1, 'create-branch', 'b1', $b1->{connstr}, "--provider=$root->{connstr}");
londiste_ok($b2, 'create-branch', 'b2', $b2->{connstr}, "--provider=$b1->{connstr}");
londiste_ok($leaf, 'create-leaf', 'leaf', $leaf->{connstr}, "--provider=$b1->{connstr}");
start_worker(worker($_)) for ($root, $b1, $b2, $leaf);
londiste_ok(python($_), 'add-table', 'public.plain') for ($root, $b1, $b2, $leaf);
londiste_ok(python($_), 'wait-sync') for ($b1, $b2, $leaf);
write_and_check('rows reach every node', $b1, $b2, $leaf);

# switchover: b2 takes b1's place, --all brings b1's other subscriber along
londiste_ok($b2, 'takeover', 'b1', '--all');
is(node_info($b2),   'branch root', 'b2 moved up to the root');
is(node_info($b1),   'branch b2',   'b1 moved below b2');
is(node_info($leaf), 'leaf b2',     '--all moved the leaf below b2 too');
like(londiste_ok($leaf, 'status'),
	qr/^root \(root\)\n.*\n.*\n  \+--: b2 \(branch\)\n.*\n.*\n     \+--: b1 \(branch\)\n.*\n.*\n     \+--: leaf \(leaf\)$/m,
	'status shows the new tree');
write_and_check('rows reach every node after the switchover', $b1, $b2, $leaf);

# without --all the other subscribers stay: b1 takes b2's place back
londiste_ok($b1, 'takeover', 'b2');
is(node_info($b1),   'branch root', 'b1 moved up again');
is(node_info($b2),   'branch b1',   'b2 moved below b1');
is(node_info($leaf), 'leaf b2',     'without --all the leaf stays on b2');
write_and_check('rows reach every node after the second switchover', $b1, $b2, $leaf);

# --dead=NODE: only this command treats b2 as dead
my $status = londiste_ok($leaf, 'status', '--dead=b2');
like($status, qr/^b2 \(dead\)\n  \+--: leaf \(leaf\)$/m,
	'status --dead=b2 shows b2 dead, with the leaf it feeds');
is( $leaf->{node}->safe_psql('leaf',
		"select dead from pgq_node.get_queue_locations('replika') where node_name = 'b2'"),
	'f', '--dead changed nothing in the cascade');

# failover: b1 dies; b2, below it, takes its place
stop_worker(worker($b1));
londiste_ok($b2, 'takeover', 'b1', '--dead-branch');
is(node_info($b2),   'branch root', 'b2 moved to the dead node\'s provider');
is(node_info($leaf), 'leaf b2',     'the leaf stays on b2');
foreach my $m ($root, $b2, $leaf)
{
	is( $m->{node}->safe_psql($m->{db},
			"select dead from pgq_node.get_queue_locations('replika') where node_name = 'b1'"),
		't', "b1 is tagged dead on $m->{name}");
}
like(londiste_ok($leaf, 'status'), qr/^b1 \(dead\)$/m, 'status shows b1 dead');
write_and_check('rows reach the nodes left', $b2, $leaf);

stop_worker(worker($_)) for ($root, $b2, $leaf);
$node->stop;
done_testing();
