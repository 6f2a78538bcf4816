# Debian's python3-pgq CoopConsumer, three subconsumers in three processes,
# against pgq_coop, with the in-server ticker and events produced while
# they run.
#
# Each member (test/client/python_coop_consumer.py) records the events it
# processes in a table of the queue database, in the transaction of its
# pgq_coop.finish_batch(), and rolls back if the finish finds its batch
# gone.  So a row exists exactly when a member's processing closed the
# event's batch, and the check is exact: every event once.  Member c1 stops
# in the middle of its third batch, with the batch's rows written but not
# committed, and is killed with SIGKILL; the others, which ask with a
# subconsumer_timeout, must take its batch over and process it.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use FindBin;
use lib "$FindBin::RealBin/../perl";

use IPC::Run;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

# Isolated mode keeps the tree's own pgq.so off the module path (see
# 010_python_consumer.pl).
my @python = ('/usr/bin/python3', '-I');
my $script = abs_path(dirname(__FILE__) . '/../client/python_coop_consumer.py');

my $event_count = 3000;
my $chunk_size  = 50;
my @members     = qw(c1 c2 c3);

ok(run_log([ @python, '-c', 'import pgq' ]), 'python3-pgq is importable')
  or die "this test needs the Debian package python3-pgq";

my $node = preloaded_node('coop');
$node->safe_psql(
	'postgres', q{
	create extension pgq_coop cascade;
	select pgq.create_queue('coopq');
	select pgq.set_queue_config('coopq', 'ticker_max_count', '100');
	select pgq.set_queue_config('coopq', 'ticker_max_lag', '0.2 seconds');
	create table coop_done
	    (ev_id bigint, ev_data text, batch_id bigint, subconsumer text);
});

my $dir        = PostgreSQL::Test::Utils::tempdir;
my $stall_file = "$dir/stalled";
my $connstr    = $node->connstr('postgres');
my %ini;
foreach my $member (@members)
{
	my $stall = $member eq 'c1' ? 3 : 0;
	$ini{$member} = "$dir/$member.ini";
	append_to_file($ini{$member}, <<"EOF");
[python_coop_consumer]
job_name = coop_$member
db = $connstr
queue_name = coopq
consumer_name = grp
subconsumer_name = $member
subconsumer_timeout = 3 seconds
loop_delay = 0.1
pgq_lazy_fetch = 20
result_table = coop_done
stall_on_batch = $stall
stall_file = $stall_file
EOF
	command_ok([ @python, $script, $ini{$member}, '--register' ],
		"subconsumer $member registers with --register");
}
is( $node->safe_psql(
		'postgres',
		"select string_agg(consumer_name, ',' order by consumer_name) from pgq.get_consumer_info('coopq')"
	),
	'grp,grp.c1,grp.c2,grp.c3',
	'the consumer and its three members are registered');

my (%proc, %out);
foreach my $member (@members)
{
	$out{$member} = '';
	$proc{$member} = IPC::Run::start([ @python, $script, $ini{$member} ],
		'>&', \$out{$member});
}

# Produce while the members run; kill c1 as soon as it reports its stall.
my ($stalled_batch, $stalled_pid);

sub kill_stalled
{
	return if defined $stalled_batch || !-e $stall_file;
	($stalled_batch, $stalled_pid) = split ' ', slurp_file($stall_file);

	# The kill must land in the middle of the batch: still open on c1, its
	# rows not committed.
	is( $node->safe_psql(
			'postgres',
			"select current_batch from pgq.get_consumer_info('coopq', 'grp.c1')"),
		$stalled_batch,
		'c1 holds the batch it stalled in');
	is( $node->safe_psql(
			'postgres',
			"select count(*) from coop_done where batch_id = $stalled_batch"),
		'0',
		'none of that batch is recorded yet');
	kill 'KILL', $stalled_pid;
	return;
}

for (my $first = 1; $first <= $event_count; $first += $chunk_size)
{
	my $last = $first + $chunk_size - 1;
	$node->safe_psql('postgres',
		"select pgq.insert_event('coopq', 'test', i::text) from generate_series($first, $last) i"
	);
	kill_stalled();
	usleep(20_000);
}
my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
while (!defined $stalled_batch && time() < $deadline)
{
	usleep(100_000);
	kill_stalled();
}
ok(defined $stalled_batch, 'c1 stalled in its third batch and was killed');
$proc{c1}->finish;
note "c1 output:\n$out{c1}";

ok( $node->poll_query_until(
		'postgres',
		"select count(*) > 0 from coop_done where batch_id = $stalled_batch"),
	'the killed member\'s batch was processed');
is( $node->safe_psql(
		'postgres',
		"select string_agg(distinct subconsumer, ',') in ('c2', 'c3') from coop_done where batch_id = $stalled_batch"
	),
	't',
	'by one of the live members');
is( $node->safe_psql(
		'postgres',
		"select count(distinct batch_id) from coop_done where subconsumer = 'c1'"
	),
	'2',
	'c1 recorded only its two finished batches');

# Wait until every event is recorded and nothing is left for the group: the
# consumer's position has reached the last tick and no member holds a batch.
ok( $node->poll_query_until(
		'postgres', qq{
select (select count(*) from coop_done) >= $event_count
   and (select pending_events = 0 from pgq.get_consumer_info('coopq', 'grp'))
   and (select count(current_batch) = 0 from pgq.get_consumer_info('coopq'))}),
	'the group caught up with the queue');

foreach my $member (qw(c2 c3))
{
	$proc{$member}->signal('INT');
	$proc{$member}->finish;
	is($proc{$member}->result(0), 0, "$member stopped cleanly on SIGINT");
	note "$member output:\n$out{$member}";
}

is( $node->safe_psql(
		'postgres', qq{
select count(*), count(distinct ev_id), count(distinct ev_data),
       min(ev_data::int), max(ev_data::int)
  from coop_done}),
	"$event_count|$event_count|$event_count|1|$event_count",
	'every event was processed exactly once');
is( $node->safe_psql(
		'postgres',
		"select count(*) from pgq.get_consumer_info('coopq', 'grp.c1')"),
	'0',
	'the dead member was removed from the group');

$node->stop;
done_testing();
