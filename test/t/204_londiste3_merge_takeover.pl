# londiste3 takeover of a combined root that merge leaves feed: two
# partition queues q1 and q2, each merged into queue "combined" in two
# target databases (root c1 in t1, branch c2 in t2).  When c2 takes over,
# the merge workers in t1 are paused until those in t2 have reached the
# same positions, and resumed afterwards; a node without the same merge
# leaves cannot take over (Inconsistent targets), and nothing changes.

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

my $node = preloaded_node('mergetakeover', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;

$node->safe_psql('postgres', "create database $_") for ('part1', 'part2', 't1', 't2', 't3');

my %m;
sub member
{
	my ($name, $db, $queue) = @_;
	$m{$name} = londiste_member(
		node => $node, db => $db, name => $name, queue => $queue,
		dir => $dir, program => 'londiste3');
	return $m{$name};
}
member('part1', 'part1', 'q1');
member('part2', 'part2', 'q2');
member('c1', 't1', 'combined');
member('c2', 't2', 'combined');
member('c3', 't3', 'combined');
foreach my $p (1, 2)
{
	member("p${p}t$_", "t$_", "q$p") for (1, 2);
}

sub python
{
	my ($m) = @_;
	return { %$m, program => 'python' };
}

sub connstr { return $node->connstr($_[0]); }

londiste_ok($m{part1}, 'create-root', 'part1', connstr('part1'));
londiste_ok($m{part2}, 'create-root', 'part2', connstr('part2'));
londiste_ok($m{c1}, 'create-root', 'c1', connstr('t1'));
londiste_ok($m{c2}, 'create-branch', 'c2', connstr('t2'), '--provider=' . connstr('t1'));
londiste_ok($m{c3}, 'create-branch', 'c3', connstr('t3'), '--provider=' . connstr('t1'));
foreach my $p (1, 2)
{
	foreach my $t (1, 2)
	{
		londiste_ok($m{"p${p}t$t"}, 'create-leaf', "p${p}t$t", connstr("t$t"),
			'--provider=' . connstr("part$p"), '--merge=combined');
	}
}
tune_queue($_) for ($m{part1}, $m{part2}, $m{c1});
start_worker(python($_)) for values %m;

sub node_info
{
	my ($m) = @_;
	return $m->{node}->safe_psql($m->{db},
		"select node_type || ' ' || coalesce(provider_node, '-') "
		  . "|| case when worker_paused then ' paused' else '' end "
		  . "|| coalesce(' ' || nullif(array_to_string(target_for, ','), ''), '') "
		  . "from pgq_node.get_node_info('$m->{queue}')");
}

is(node_info($m{c1}), 'root c1 q1,q2', 'c1 is the combined root both queues merge into');
is(node_info($m{c2}), 'branch c1 q1,q2', 'c2 is its branch, with merge leaves of both queues');
is(node_info($m{c3}), 'branch c1', 'c3 is a branch without merge leaves');

# the partitions move on, so that the merge positions mean something
foreach my $p (1, 2)
{
	$node->safe_psql("part$p",
		"select pgq.insert_event('q$p', 'x', 'event $_') from generate_series(1, 20)");
}
ok( $node->poll_query_until('t2',
			"select (select worker_last_tick from pgq_node.get_node_info('q1')) > 1 "
		  . "and (select worker_last_tick from pgq_node.get_node_info('q2')) > 1"),
	'the merge leaves in t2 have processed ticks');

my $before = join '|', map { node_info($m{$_}) } ('c1', 'c2', 'c3');
my ($rc, $out, $err) = londiste_run($m{c3}, 'takeover', 'c1');
is($rc, 1, 'a node without the same merge leaves cannot take over');
like($err, qr/Inconsistent targets: old-node=\{q1,q2\} new-node=/, 'and says why');
is(join('|', map { node_info($m{$_}) } ('c1', 'c2', 'c3')), $before,
	'the refused takeover changed nothing');

($rc, $out, $err) = londiste_run($m{c2}, 'takeover', 'c1');
is($rc, 0, 'c2 takes over the combined root') or diag($err);
like($err, qr/c1: pausing merge workers/, 'the old root\'s merge workers were paused');
like($err, qr/c2: waiting for merge position to catch up/, 'until the new ones caught up');
like($err, qr/c1: merge workers resumed/, 'and resumed after the switch');
is(node_info($m{c2}), 'root c2 q1,q2', 'c2 is the combined root');
is(node_info($m{c1}), 'branch c2 q1,q2', 'c1 is its branch');
foreach my $p (1, 2)
{
	is($node->safe_psql('t1', "select worker_paused from pgq_node.get_node_info('q$p')"),
		'f', "the merge worker of q$p in t1 runs again");
}
my $status = londiste_ok($m{c3}, 'status');
like($status, qr/^c2 \(root\)$/m, 'status shows the new combined root');
is(mask_output($status), mask_output(londiste_ok(python($m{c3}), 'status')),
	'Python reads the same status');

stop_worker(python($_)) for values %m;
$node->stop;
done_testing();
