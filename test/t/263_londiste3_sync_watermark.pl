# londiste3's worker on branches with the node attribute sync_watermark
# (create-branch --sync-watermark=b1,b2): root -> b1 -> l1 and
# root -> b2 -> l2, every worker ours.
#
# A branch with the attribute publishes its own position to its provider
# (not the lowest one of its subtree), so the root's global watermark does
# not wait for a stopped leaf below it; in exchange the branch sets its
# global watermark to the lowest local watermark of the listed nodes (and
# never above the root's), so that its queue keeps every event the other
# listed branch's subtree still needs.  With l2 stopped, the root's global
# watermark must pass l2's position while b1's stops exactly there, and
# move on once l2 runs again.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use LondisteTest;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = preloaded_node('syncwm', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;

my %m;
foreach my $name ('root', 'b1', 'b2', 'l1', 'l2')
{
	$node->safe_psql('postgres', "create database $name");
	$node->safe_psql($name, 'create table t (id int primary key, v text)');
	$m{$name} = londiste_member(
		node => $node, db => $name, name => $name, dir => $dir,
		program => 'londiste3');
}
sub connstr { return $node->connstr($_[0]); }

londiste_ok($m{root}, 'create-root', 'root', connstr('root'));
foreach my $b ('b1', 'b2')
{
	londiste_ok($m{$b}, 'create-branch', $b, connstr($b),
		'--provider=' . connstr('root'), '--sync-watermark=b1,b2');
}
londiste_ok($m{l1}, 'create-leaf', 'l1', connstr('l1'), '--provider=' . connstr('b1'));
londiste_ok($m{l2}, 'create-leaf', 'l2', connstr('l2'), '--provider=' . connstr('b2'));
tune_queue($_) for ($m{root}, $m{b1}, $m{b2});
londiste_ok($m{root}, 'add-table', 't');
londiste_ok($m{$_}, 'add-table', 't', '--expect-sync') for ('b1', 'b2', 'l1', 'l2');
start_worker($_) for values %m;

sub info
{
	my ($name, $what) = @_;
	return $node->safe_psql($name, "select $what from pgq_node.get_node_info('replika')");
}

# everyone moves, so that l2's position is well behind the root later on
my $id = 0;
sub write_root
{
	$node->safe_psql('root',
		"insert into t select i, 'x' from generate_series($id + 1, $id + 10) i");
	$id += 10;
	return;
}
write_root();
ok(wait_tables_equal($m{root}, [ @m{ 'b1', 'b2', 'l1', 'l2' } ], 'public.t'),
	'rows reach every node');

# l2 stops: b2's local watermark (the lowest position of l2's consumers
# on b2: its batch position and the watermark it published) stays
stop_worker($m{l2});
my $l2_pos = info('b2', 'local_watermark');
ok($l2_pos > 0, "l2 stopped, b2's local watermark stays at tick $l2_pos");

# the root goes on past l2: b2 publishes its own position, not l2's
my $passed = 0;
foreach (1 .. 600)
{
	write_root();
	$passed = info('root', "global_watermark > $l2_pos") eq 't';
	last if $passed;
	select(undef, undef, undef, 0.2);
}
ok($passed, 'the root\'s global watermark passes the stopped leaf below b2')
  or diag('root: ' . info('root', 'global_watermark'));

# b1 moves on too, but its global watermark stops at b2's local watermark
ok( $node->poll_query_until('b1',
			"select local_watermark > $l2_pos and global_watermark = $l2_pos "
			  . "from pgq_node.get_node_info('replika')"),
	'b1 is past the stopped leaf, its global watermark is held at its position')
  or diag('b1: ' . info('b1', "local_watermark || ' ' || global_watermark"));
is(info('b2', 'local_watermark'), $l2_pos, 'b2\'s local watermark stayed');
ok(info('b2', "global_watermark <= $l2_pos") eq 't',
	'b2\'s global watermark does not pass it either');

# the events l2 still needs are kept on b1 as well: l2 can move there
start_worker($m{l2});
write_root();
ok( $node->poll_query_until('b1',
			"select global_watermark > $l2_pos from pgq_node.get_node_info('replika')"),
	'once l2 runs again, b1\'s global watermark moves on');
ok(wait_tables_equal($m{root}, [ @m{ 'b1', 'b2', 'l1', 'l2' } ], 'public.t'),
	'every node has every row');

stop_worker($_) for values %m;
is(log_problems(values %m), '', 'no errors in the logs');
$node->stop;
done_testing();
