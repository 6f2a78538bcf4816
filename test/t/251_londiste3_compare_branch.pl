# londiste3 compare and repair with a branch as the copy source: root ->
# branch -> leaf (Python's workers replay), compare and repair run on the
# leaf.
#
# python3-londiste pauses the branch's worker and then waits for a tick
# the paused branch never makes, so its compare gives up after
# lock_timeout ("Consumer lagging too much"); ours waits until the leaf
# has reached the branch's last tick and succeeds.  The branch worker must
# be running again afterwards, and a worker paused by the operator must
# stay paused.

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

my $node = preloaded_node('branchsrc', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;
foreach my $db ('root', 'branch', 'leaf')
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql($db, 'create table plain (id int primary key, v text)');
}
$node->safe_psql('root',
	"insert into plain select i, 'v' || i from generate_series(1, 50) i");

my %m;
$m{$_} = londiste_member(node => $node, db => $_, name => "${_}node", dir => $dir)
  for ('root', 'branch', 'leaf');
my ($root, $branch, $leaf) = @m{ 'root', 'branch', 'leaf' };
londiste_ok($root, 'create-root', 'rootnode', $root->{connstr});
tune_queue($root);
londiste_ok($branch, 'create-branch', 'branchnode', $branch->{connstr},
	"--provider=$root->{connstr}");
londiste_ok($leaf, 'create-leaf', 'leafnode', $leaf->{connstr},
	"--provider=$branch->{connstr}");
start_worker($_) for ($root, $branch, $leaf);
londiste_ok($_, 'add-table', 'public.plain') for ($root, $branch, $leaf);
londiste_ok($_, 'wait-sync') for ($branch, $leaf);
ok(wait_tables_equal($root, [ $branch, $leaf ], 'public.plain'),
	'the rows reached branch and leaf');

my $c_leaf = { %$leaf, program => 'londiste3' };

sub paused_flag
{
	return $branch->{node}->safe_psql('branch',
		"select paused from pgq_node.get_consumer_state('replika', 'branchnode')");
}

my ($py_rc) = londiste_run($leaf, 'compare', '--set=lock_timeout=3');
is($py_rc, 1, 'python\'s compare against a branch gives up');
like(slurp_file($leaf->{log}), qr/Consumer lagging too much, exiting/,
	'python says the consumer lags');
is(paused_flag(), 'f', 'python resumed the branch worker');

$root->{node}->safe_psql('root', "insert into plain values (1000, 'more')");
my $our_log = "$dir/ours.log";
my ($rc, undef, $err) = londiste_run($c_leaf, 'compare', '--set=lock_timeout=30',
	"--set=logfile=$our_log");
is($rc, 0, 'our compare against a branch finds the tables equal')
  or diag($err);
my $log = slurp_file($our_log);
like($log, qr/Provider: branchnode \(branch\).*Pausing upstream worker: branchnode.*Syncing public\.plain.*Resuming upstream worker: branchnode.*srcdb: (\d+) rows, checksum=\S+\n.*dstdb: \1 rows/s,
	'compare paused the branch worker, synced, resumed, counted');
is(paused_flag(), 'f', 'the branch worker runs again');

# A difference on the leaf is found and repaired against the branch.
$leaf->{node}->safe_psql('leaf',
	"set session_replication_role = replica; delete from plain where id = 5");
($rc, undef, $err) = londiste_run($c_leaf, 'compare');
is($rc, 1, 'compare finds the deleted row');
($rc, undef, $err) = londiste_run($c_leaf, 'repair', '--apply');
is($rc, 0, 'repair --apply exits 0') or diag($err);
like(slurp_file($leaf->{log}), qr/finished public\.plain: src: \d+ rows, dst: \d+ rows, missed: 1 inserts, 0 updates, 0 deletes/,
	'repair found the missing row');
($rc, undef, $err) = londiste_run($c_leaf, 'compare');
is($rc, 0, 'after the repair compare finds the tables equal');

# A branch worker the operator paused stays paused; the leaf catches up
# to what the branch holds, which is enough.
londiste_ok($branch, 'pause');
($rc, undef, $err) = londiste_run($c_leaf, 'compare');
is($rc, 0, 'compare with the branch worker paused beforehand');
is(paused_flag(), 't', 'the branch worker stays paused');
londiste_ok($branch, 'resume');

$root->{node}->safe_psql('root', "insert into plain values (1001, 'last')");
ok(wait_tables_equal($root, [ $branch, $leaf ], 'public.plain'),
	'replication goes on');

done_testing();
