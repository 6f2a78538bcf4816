# londiste3 moves nodes of a running cascade: change-provider of a leaf,
# switchover of root and branch both ways, all under writes, then a
# failover with --dead-root after the root's cluster stopped, and the old
# root's resurrect.
#
# The root is on cluster A, branch and leaf on cluster B, so that the
# root can really die.  The cascade is made by londiste3; the replay
# workers are mixed: Python's londiste on the root, londiste3's on branch
# and leaf (the node commands must work on whatever worker a node runs),
# and Python's status must read the state londiste3 leaves as londiste3
# does.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use IPC::Run;
use LondisteTest;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

ok(-x '/usr/bin/londiste', 'londiste is installed')
  or die "this test needs the Debian package python3-londiste";

my $cluster_a = preloaded_node('takeover_a', $LondisteTest::SERVER_CONF);
my $cluster_b = preloaded_node('takeover_b', $LondisteTest::SERVER_CONF);
my $dir = PostgreSQL::Test::Utils::tempdir;

my %m;
foreach my $name ('root', 'branch', 'leaf')
{
	my $node = $name eq 'root' ? $cluster_a : $cluster_b;
	$node->safe_psql('postgres', "create database $name");
	$node->safe_psql($name, 'create table plain (id int primary key, v text)');
	$m{$name} = londiste_member(
		node    => $node,
		db      => $name,
		name    => $name,
		dir     => $dir,
		program => 'londiste3');
}
my ($root, $branch, $leaf) = @m{qw(root branch leaf)};
$root->{node}->safe_psql('root',
	"insert into plain select i, 'initial' from generate_series(1, 100) i");

# The member run by Python's londiste: the table commands, which are
# not this test's subject, and the root's worker.
sub python
{
	my ($m) = @_;
	return { %$m, program => 'python' };
}

# The member as its replay worker runs.
my %worker_program = (root => 'python', branch => 'londiste3', leaf => 'londiste3');
sub worker
{
	my ($m) = @_;
	return { %$m, program => $worker_program{ $m->{name} } };
}

londiste_ok($root, 'create-root', 'root', $root->{connstr});
tune_queue($root);
londiste_ok($branch, 'create-branch', 'branch', $branch->{connstr},
	"--provider=$root->{connstr}");
londiste_ok($leaf, 'create-leaf', 'leaf', $leaf->{connstr},
	"--provider=$branch->{connstr}");
start_worker(worker($_)) for ($root, $branch, $leaf);
londiste_ok(python($_), 'add-table', 'public.plain') for ($root, $branch, $leaf);
londiste_ok(python($_), 'wait-sync') for ($branch, $leaf);
ok(wait_tables_equal($root, [ $branch, $leaf ], 'public.plain'),
	'the initial copy reached branch and leaf');

# Node type and provider of a member as pgq_node sees them.
sub node_info
{
	my ($m) = @_;
	return $m->{node}->safe_psql($m->{db},
		"select node_type || ' ' || coalesce(provider_node, '-') "
		  . "|| case when worker_paused then ' paused' else '' end "
		  . "from pgq_node.get_node_info('replika')");
}

# Insert rows $from .. $from + $count - 1 on $m, one transaction each, in
# the background.  A row that fails (its node stopped being the root
# halfway) is skipped: it is then nowhere, so the tables stay comparable.
my $writer_round = 0;
sub start_writer
{
	my ($m, $from, $count) = @_;
	$writer_round++;
	my $to = $from + $count - 1;
	my $sql = qq{
do \$\$
begin
  for i in $from .. $to loop
    begin
      insert into plain values (i, 'w$writer_round');
    exception when others then
      null;
    end;
    commit;
    perform pg_sleep(0.005);
  end loop;
end
\$\$;};
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $m->{connstr}, '-c', $sql ],
		'<', \undef, '>', \$out, '2>', \$err);
	return { h => $h, err => \$err, m => $m };
}

sub finish_writer
{
	my ($w) = @_;
	$w->{h}->finish;
	is($w->{h}->result(0), 0, "the writer on $w->{m}{name} ran to its end")
	  or diag(${ $w->{err} });
	return;
}

# Status as londiste3 and as Python print it, lags and ticks masked.
sub same_status
{
	my ($m, $what) = @_;
	my $ours = mask_output(londiste_ok($m, 'status'));
	my $theirs = mask_output(londiste_ok(python($m), 'status'));
	is($ours, $theirs, "$what: Python's status reads the same");
	return $ours;
}

# --- change-provider of the leaf, under writes -----------------------------

my $w = start_writer($root, 1000, 400);
londiste_ok($leaf, 'change-provider', '--provider=root');
is(node_info($leaf), 'leaf root', 'change-provider moved the leaf to the root');
like(same_status($leaf, 'leaf under the root'), qr/^  \+--: leaf \(leaf\)$/m,
	'status shows the leaf right under the root');
londiste_ok($leaf, 'change-provider', '--provider=branch');
is(node_info($leaf), 'leaf branch', 'change-provider moved the leaf back');
finish_writer($w);
ok(wait_tables_equal($root, [ $branch, $leaf ], 'public.plain'),
	'rows written during both moves reached branch and leaf once');
like((londiste_run($leaf, 'change-provider', '--provider=branch'))[2],
	qr/Consumer 'leaf' at node 'leaf' has already 'branch' as provider/,
	'a change to the current provider does nothing');

# --- switchover: the branch takes over the root, under writes --------------

$w = start_writer($root, 2000, 400);
londiste_ok($branch, 'takeover', 'root');
finish_writer($w);
is(node_info($branch), 'root branch', 'after takeover the branch is the root');
is(node_info($root), 'branch branch', 'the old root is a branch of the new root');
is(node_info($leaf), 'leaf branch', 'the leaf stays on the new root');
tune_queue($branch);
my $status = same_status($leaf, 'after the switchover');
like($status, qr/^branch \(root\)\n.*\n.*\n  \+--: leaf \(leaf\)\n.*\n.*\n  \+--: root \(branch\)$/m,
	'status shows the new tree');
$w = start_writer($branch, 3000, 200);
finish_writer($w);
ok(wait_tables_equal($branch, [ $root, $leaf ], 'public.plain'),
	'writes on the old and the new root all reached every node once');

# and back, writes on the current root
$w = start_writer($branch, 4000, 400);
londiste_ok($root, 'takeover', 'branch');
finish_writer($w);
is(node_info($root), 'root root', 'the second takeover made the root the root again');
is(node_info($branch), 'branch root', 'and the branch its branch');
is(node_info($leaf), 'leaf branch', 'the leaf stays on the branch');
$w = start_writer($root, 5000, 200);
finish_writer($w);
ok(wait_tables_equal($root, [ $branch, $leaf ], 'public.plain'),
	'writes before, during and after the switch back reached every node');
is(log_problems($root, $branch, $leaf), '', 'the workers logged no errors so far');

# --- failover: the root's cluster dies -------------------------------------

# The branch stops reading, the root gets rows nobody else will see, then
# its cluster stops.
stop_worker(worker($branch));
my $branch_tick = $branch->{node}->safe_psql('branch',
	"select worker_last_tick from pgq_node.get_node_info('replika')");
$root->{node}->safe_psql('root',
	"insert into plain select i, 'lost' from generate_series(9001, 9010) i");
ok( $root->{node}->poll_query_until('root',
		"select last_tick_id > $branch_tick + 1 from pgq.get_queue_info('replika')"),
	'the root ticked the rows the branch will never get');
stop_worker(worker($root));
$cluster_a->stop;

start_worker(worker($branch));
londiste_ok($branch, 'takeover', 'root', '--dead-root');
is(node_info($branch), 'root branch', 'failover made the branch the root');
is(node_info($leaf), 'leaf branch', 'the leaf stays on the new root');
is( $branch->{node}->safe_psql('branch',
		"select dead from pgq_node.get_queue_locations('replika') where node_name = 'root'"),
	't', 'the old root is tagged dead on the new root');
is( $leaf->{node}->safe_psql('leaf',
		"select dead from pgq_node.get_queue_locations('replika') where node_name = 'root'"),
	't', 'and on the leaf');
is( $branch->{node}->safe_psql('branch',
		"select count(*) from pgq.get_consumer_info('replika', 'root.gravestone')"),
	'1', 'the old root\'s place is held by its gravestone consumer');
like(londiste_ok($leaf, 'status'), qr/^root \(dead\)$/m,
	'status shows the dead root');
tune_queue($branch);
$w = start_writer($branch, 6000, 100);
finish_writer($w);
ok(wait_tables_equal($branch, [$leaf], 'public.plain'),
	'writes on the new root reach the leaf');

# --- the old root comes back ------------------------------------------------

$cluster_a->start;
my ($rc, $out, $err) = londiste_run($root, 'resurrect');
is($rc, 0, 'resurrect on the old root') or diag($err);
like($err, qr/Found gravestone on node: branch/, 'resurrect found the gravestone');
is(node_info($root), 'branch branch paused',
	'the old root is a paused branch of the new root');
my $dump = slurp_file("$dir/resurrect-lost-events.json");
my @lost = ($dump =~ /"ev_type": "I:id", "ev_data": "id=9\d\d\d&v=lost"/g);
is(scalar(@lost), 10, 'the dump holds the ten lost rows');
($rc, $out, $err) = londiste_run($root, 'resurrect');
is($rc, 1, 'a second resurrect refuses to overwrite the dump');
like($err, qr/Dump file exists, cannot perform resurrection/, 'and says why');

# the operator decides about the lost rows (here: away with them), marks
# the node alive and resumes it
$root->{node}->safe_psql('root',
	"set session_replication_role = replica; delete from plain where v = 'lost'");
londiste_ok($branch, 'tag-alive', 'root');
is( $leaf->{node}->safe_psql('leaf',
		"select dead from pgq_node.get_queue_locations('replika') where node_name = 'root'"),
	'f', 'tag-alive told the leaf');
start_worker(worker($root));
londiste_ok($root, 'resume');
is(node_info($root), 'branch branch', 'the old root runs again as a branch');
$w = start_writer($branch, 7000, 100);
finish_writer($w);
ok(wait_tables_equal($branch, [ $root, $leaf ], 'public.plain'),
	'after resurrect every node has the same rows');
$status = same_status($leaf, 'after resurrect');
like($status, qr/^branch \(root\)$/m, 'the branch is the root in status');

stop_worker(worker($_)) for ($root, $branch, $leaf);
$cluster_a->stop;
$cluster_b->stop;
done_testing();
