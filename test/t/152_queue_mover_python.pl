# queue_mover next to python3-pgq (tools.md 5.3, test 17): one source
# queue and one consumer name, moved alternately by our queue_mover and by
# a SerialConsumer doing the same move (test/client/python_queue_mover.py),
# both reading the same ini file and keeping the same pgq_ext tracking.
# Each hands over to the other in a clean stop, after a SIGKILL between
# its target commit and finish_batch (the other must skip the batch), and
# after a SIGKILL before its target commit (the other must apply it).  At
# the end every event is in the target exactly once, in order, and
# pgq_ext and the source agree on the position.

use strict;
use warnings;

use Cwd qw(abs_path);
use FindBin;
use lib "$FindBin::RealBin/../perl";
use IPC::Run;
use PostgreSQL::Test::Utils;
use QueueMoverTest;
use Test::More;

# Isolated mode keeps the tree's own pgq.so off the module path (see
# 010_python_consumer.pl).
my @python = ('/usr/bin/python3', '-I');
my $script = abs_path("$FindBin::RealBin/../client/python_queue_mover.py");

ok(run_log([ @python, '-c', 'import pgq' ]), 'python3-pgq is importable')
  or die "this test needs the Debian package python3-pgq";

my $dir  = PostgreSQL::Test::Utils::tempdir;
my $node = mover_node('mover_py', postgres => ['srcq'], target => ['dstq']);

my $ours = new_job(
	program   => 'queue_mover',
	dir       => $dir,
	name      => 'mover',
	src       => [ $node, 'postgres' ],
	dst       => [ $node, 'target' ],
	queue     => 'srcq',
	ini_extra => "dst_queue_name = dstq\n");
my $py = { %$ours, command => [ @python, $script ], name => 'mover' };

my ($rc, $out, $err) = run_job($py, $py->{ini}, '--register');
is($rc, 0, 'python mover: --register') or diag $err;

my $next = 1;
sub produce_batches
{
	my ($n) = @_;
	for (1 .. $n)
	{
		produce($node, 'postgres', 'srcq', $next, $next + 9);
		$next += 10;
	}
}

sub run_until_caught_up
{
	my ($job, $who) = @_;
	start_job($job);
	ok(wait_caught_up($job), "$who caught up");
	is(stop_job($job), 0, "$who stopped cleanly");
}

sub check_consistent
{
	my ($what) = @_;
	is(queue_rows($node, 'target', 'dstq'),
		queue_rows($node, 'postgres', 'srcq'),
		"$what: every event is in the target once, in order");
	my ($tick) = split /\|/, consumer_info($node, 'postgres', 'srcq', 'mover');
	is($node->safe_psql('target', "select pgq_ext.get_last_tick('mover')"),
		$tick, "$what: pgq_ext and the source agree on the position");
}

# Clean hand-overs, both ways.
produce_batches(2);
run_until_caught_up($ours, 'queue_mover');
produce_batches(2);
run_until_caught_up($py, 'python mover');
produce_batches(2);
run_until_caught_up($ours, 'queue_mover');
check_consistent('clean hand-overs');

# Python dies between its target commit and finish_batch; ours skips
# the batch.
produce_batches(3);
my $kill_file = "$dir/python.killed";
{
	local $ENV{PGQ_TEST_KILL_AFTER_BATCH} = 1;
	local $ENV{PGQ_TEST_KILL_FILE}        = $kill_file;
	start_job($py);
	$py->{handle}->finish;
	is($py->{handle}->full_result(0) & 127, 9, 'python mover killed itself');
	delete $py->{handle};
}
my ($batch, $tick) = split ' ', slurp_file($kill_file);
is((split /\|/, consumer_info($node, 'postgres', 'srcq', 'mover'))[1],
	$batch, 'its batch is still open on the source');
is($node->safe_psql('target', "select pgq_ext.get_last_tick('mover')"),
	$tick, 'and applied on the target');
run_until_caught_up($ours, 'queue_mover after the python kill');
check_consistent('python killed after its target commit');

# Ours dies at the same point; python skips the batch.
produce_batches(2);
crash_after_target_commit($ours);
run_until_caught_up($py, 'python mover after the queue_mover kill');
check_consistent('queue_mover killed after its target commit');

# Ours dies before its target commit; python applies the batch.
produce_batches(2);
crash_before_target_commit($ours);
run_until_caught_up($py, 'python mover after the second queue_mover kill');
check_consistent('queue_mover killed before its target commit');

# Our --reset and --rewind act on the tracking python reads: after
# --reset python treats the target as new, after --rewind from an earlier
# tick ours re-reads from there, both without duplicates as long as the
# target tick is right.
($rc, $out, $err) = run_job($ours, $ours->{ini}, '--reset');
is($rc, 0, 'queue_mover --reset') or diag $err;
is($node->safe_psql('target', "select pgq_ext.get_last_tick('mover') is null"),
	't', 'the tracking is gone');
produce_batches(1);
run_until_caught_up($py, 'python mover after --reset');
check_consistent('python after our --reset');

($rc, $out, $err) = run_job($py, $py->{ini}, '--unregister');
is($rc, 0, 'python mover: --unregister') or diag $err;
is( $node->safe_psql('target',
		"select count(*) from pgq_ext.completed_tick where consumer_id = 'mover'"),
	0, 'python --unregister cleared the pgq_ext tracking');
($rc, $out, $err) = run_job($ours, $ours->{ini}, '--register');
is($rc, 0, 'queue_mover: --register after python --unregister') or diag $err;
my $from = $next;
produce_batches(2);
run_until_caught_up($ours, 'queue_mover after re-registering');
is(queue_rows($node, 'target', 'dstq', "ev_data ~ '^data [0-9]+:' and substring(ev_data from '^data ([0-9]+):')::int >= $from"),
	queue_rows($node, 'postgres', 'srcq', "substring(ev_data from '^data ([0-9]+):')::int >= $from"),
	'the new registration moved the new events once');

done_testing();
