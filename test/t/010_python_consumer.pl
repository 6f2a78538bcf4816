# Debian's python3-pgq consumes a queue served by this extension.
#
# A pgq.Consumer subclass (test/client/python_consumer.py) reads events in
# several batches through pgq.get_batch_cursor and FETCH, sends one event
# back with pgq.event_retry, and stops once that event has come back.  The
# test plays the ticker daemon (pgq.ticker and pgq.maint_retry_events) and
# then checks the consumer's record: every event exactly once, the retried
# one exactly once more, with its id kept and ev_retry set.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

# python3-pgq is packaged for the system interpreter only.  Isolated mode
# keeps the current directory off the module path: the tree's own pgq.so
# would otherwise shadow the pgq package.
my @python = ('/usr/bin/python3', '-I');
my $consumer_script =
  abs_path(dirname(__FILE__) . '/../client/python_consumer.py');

my $event_count = 1000;
my $chunk_size  = 100;
my $retry_data  = '500';

ok(run_log([ @python, '-c', 'import pgq' ]), 'python3-pgq is importable')
  or die "this test needs the Debian package python3-pgq";

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->start;

# A small ticker_max_count makes every chunk of produced events a tick of its
# own; a short max lag lets the single retried event get its tick quickly.
$node->safe_psql(
	'postgres', q{
	create extension pgq;
	select pgq.create_queue('pyq');
	select pgq.set_queue_config('pyq', 'ticker_max_count', '50');
	select pgq.set_queue_config('pyq', 'ticker_max_lag', '0.5 seconds');
});

my $dir         = PostgreSQL::Test::Utils::tempdir;
my $result_file = "$dir/deliveries";
my $ini         = "$dir/python_consumer.ini";
my $connstr     = $node->connstr('postgres');
append_to_file($ini, <<"EOF");
[python_consumer]
job_name = python_consumer_test
db = $connstr
queue_name = pyq
consumer_name = pyconsumer
loop_delay = 0.1
pgq_lazy_fetch = 30
result_file = $result_file
expected_events = $event_count
retry_event_data = $retry_data
EOF

command_ok([ @python, $consumer_script, $ini, '--register' ],
	'consumer registers with --register');
is( $node->safe_psql(
		'postgres',
		"select count(*) from pgq.get_consumer_info('pyq', 'pyconsumer')"),
	'1',
	'consumer is registered on the queue');

my $ticks = 0;
for (my $first = 1; $first <= $event_count; $first += $chunk_size)
{
	my $last = $first + $chunk_size - 1;
	$node->safe_psql('postgres',
		"select pgq.insert_event('pyq', 'test', i::text) from generate_series($first, $last) i"
	);
	$ticks++
	  if $node->safe_psql('postgres', "select pgq.ticker('pyq')") ne '';
}
is($ticks, $event_count / $chunk_size, 'every chunk of events was ticked');

my ($stdout, $stderr) = ('', '');
my $consumer = IPC::Run::start([ @python, $consumer_script, $ini ],
	'>', \$stdout, '2>', \$stderr);

# Act as the ticker daemon until the consumer is done: the retried event only
# comes back after maint_retry_events has moved it and a tick covers it.
my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
while ($consumer->pumpable && time() < $deadline)
{
	$node->safe_psql('postgres',
		'select pgq.ticker(); select pgq.maint_retry_events();');
	$consumer->pump_nb;
	usleep(100_000);
}
my $finished = !$consumer->pumpable;
if ($finished)
{
	$consumer->finish;
}
else
{
	$consumer->kill_kill;
}
ok($finished, 'consumer saw every event before the timeout');
is($consumer->full_result(0), 0, 'consumer exited cleanly');
note "consumer output:\n$stdout$stderr";

# One line per delivery: "batch_id ev_id ev_retry ev_type ev_data".
my (%first, %again, %batches);
if (open(my $fh, '<', $result_file))
{
	while (my $line = <$fh>)
	{
		chomp $line;
		my ($batch, $ev_id, $retry, $type, $data) = split / /, $line, 5;
		$batches{$batch} = 1;
		my $deliveries = $retry eq '-' ? \%first : \%again;
		push @{ $deliveries->{$data} },
		  { batch => $batch, id => $ev_id, retry => $retry };
	}
	close $fh;
}

is_deeply(
	[ sort { $a <=> $b } keys %first ],
	[ 1 .. $event_count ],
	'every event was delivered');
is_deeply([ grep { @{ $first{$_} } != 1 } sort keys %first ],
	[], 'no event was delivered twice');
is_deeply([ sort keys %again ], [$retry_data],
	'only the retried event was delivered again');

my @original = @{ $first{$retry_data} // [] };
my @repeated = @{ $again{$retry_data} // [] };
is(scalar @repeated, 1, 'the retried event came back exactly once');
SKIP:
{
	skip 'the retried event did not come back exactly once', 3
	  unless @original == 1 && @repeated == 1;
	is($repeated[0]{id}, $original[0]{id}, 'the retried event keeps its id');
	is($repeated[0]{retry}, 1, 'the retried event has ev_retry 1');
	cmp_ok($repeated[0]{batch}, '>', $original[0]{batch},
		'the retried event came in a later batch');
}
cmp_ok(scalar keys %batches, '>', $event_count / $chunk_size,
	'events arrived in one batch per tick plus the retry batch');

is($node->safe_psql('postgres', 'select count(*) from pgq.retry_queue'),
	'0', 'retry queue is empty');

# Nothing may be left over for the consumer: tick once more and read on to
# the end of the queue.
$node->safe_psql('postgres',
	"select pgq.force_tick('pyq'); select pgq.ticker('pyq');");
my $leftover = 0;
while (
	(my $batch = $node->safe_psql(
			'postgres', "select pgq.next_batch('pyq', 'pyconsumer')")) ne '')
{
	$leftover += $node->safe_psql('postgres',
		"select count(*) from pgq.get_batch_events($batch)");
	$node->safe_psql('postgres', "select pgq.finish_batch($batch)");
}
is($leftover, 0, 'no events remain for the consumer');

command_ok([ @python, $consumer_script, $ini, '--unregister' ],
	'consumer unregisters with --unregister');
is($node->safe_psql('postgres', "select count(*) from pgq.get_consumer_info('pyq')"),
	'0', 'no consumer is left on the queue');

$node->stop;
done_testing();
