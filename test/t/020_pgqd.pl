# Debian's pgqd (PgQ 3.5 ticker daemon) drives this extension.
#
# With pgq not preloaded nothing but pgqd ticks or maintains queues here, so
# everything that moves is pgqd's doing: ticks on an idle queue, table
# rotation through pgq.maint_operations, and the retry queue being flushed
# back into the event tables by pgq.maint_retry_events.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $pgqd = '/usr/bin/pgqd';
ok(-x $pgqd, 'pgqd is installed')
  or die "this test needs the Debian package pgqd";

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->start;

$node->safe_psql(
	'postgres', q{
	create extension pgq;
	select pgq.create_queue('idle_q');
	select pgq.create_queue('rotate_q');
	select pgq.set_queue_config('rotate_q', 'rotation_period', '1 second');
	select pgq.insert_event('rotate_q', 'test', 'in the first table');
	select pgq.create_queue('retry_q');
	select pgq.register_consumer('retry_q', 'c');
	select pgq.insert_event('retry_q', 'test', 'retry me');
});
is( $node->safe_psql(
		'postgres', "select last_tick_id from pgq.get_queue_info('idle_q')"),
	'1',
	'idle queue has only its first tick before pgqd starts');
my $rotate_table_0 = $node->safe_psql('postgres',
	"select queue_data_pfx || '_0' from pgq.queue where queue_name = 'rotate_q'"
);
is($node->safe_psql('postgres', "select count(*) from $rotate_table_0"),
	'1', 'the event to be rotated away is in table 0');

my $dir     = PostgreSQL::Test::Utils::tempdir;
my $ini     = "$dir/pgqd.ini";
my $log     = "$dir/pgqd.log";
my $host    = $node->host;
my $port    = $node->port;
append_to_file($ini, <<"EOF");
[pgqd]
logfile = $log
pidfile = $dir/pgqd.pid
base_connstr = host=$host port=$port
initial_database = postgres
database_list = postgres
syslog = 0
check_period = 1
ticker_period = 1
maint_period = 1
retry_period = 1
stats_period = 5
EOF

my $pgqd_h = IPC::Run::start([ $pgqd, $ini ],
	'>', "$dir/pgqd.stdout", '2>&1');

# Idle queue: pgqd ticks it anyway, with growing spacing (pgq-api 4.8).
ok( $node->poll_query_until(
		'postgres',
		"select last_tick_id >= 3 from pgq.get_queue_info('idle_q')"),
	'pgqd ticks an idle queue');

# Rotation: three rotations bring table 0 back as the current table, and it
# must have been truncated on the way.  Each rotation after the first needs
# step 2 of the previous one, so this shows both steps running.
ok( $node->poll_query_until(
		'postgres', qq{
	select queue_cur_table = 0 and not exists (select 1 from $rotate_table_0)
	from pgq.get_queue_info('rotate_q')}),
	'pgqd rotates event tables');

# Take batches of retry_q as consumer "c" until one holds an event matching
# $condition (SQL on the event columns).  Returns the batch id, left open,
# and "ev_id|ev_retry" of the event, or nothing on timeout.  Batches without
# the event are finished.
sub wait_for_event
{
	my ($condition) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;

	while (time() < $deadline)
	{
		my $batch = $node->safe_psql('postgres',
			"select pgq.next_batch('retry_q', 'c')");
		if ($batch eq '')
		{
			usleep(100_000);
			next;
		}
		my $event = $node->safe_psql('postgres',
			"select ev_id, ev_retry from pgq.get_batch_events($batch) where $condition"
		);
		return ($batch, $event) if $event ne '';
		$node->safe_psql('postgres', "select pgq.finish_batch($batch)");
	}
	return;
}

my ($batch, $event) = wait_for_event("ev_data = 'retry me'");
ok(defined $batch, 'the event to retry is delivered');
my ($ev_id, $ev_retry) = split /\|/, $event // '', -1;
is($ev_retry, '', 'first delivery has no retry count');

$node->safe_psql('postgres',
	"select pgq.event_retry($batch, $ev_id, 0); select pgq.finish_batch($batch);"
);
ok( $node->poll_query_until(
		'postgres', 'select count(*) = 0 from pgq.retry_queue'),
	'pgqd moves the retried event out of the retry queue');

($batch, $event) = wait_for_event("ev_data = 'retry me'");
ok(defined $batch, 'the retried event is delivered again');
is($event, "$ev_id|1", 'it keeps its id and has retry count 1');
$node->safe_psql('postgres', "select pgq.finish_batch($batch)") if $batch;

$pgqd_h->kill_kill;
my $pgqd_log = slurp_file($log);
note "pgqd log:\n$pgqd_log";
unlike($pgqd_log, qr/\b(ERROR|FATAL)\b/, 'pgqd logged no errors');

$node->stop;
done_testing();
