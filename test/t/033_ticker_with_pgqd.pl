# Debian's pgqd and the in-server ticker on the same database at the same
# time, with producers and a consumer busy meanwhile.  Both call the same
# tick code, which serialises ticks per queue on the queue row, so the
# ticks of each queue must form one chain - ids, times and snapshots all
# increasing together - and every event must be delivered exactly once.
# Maintenance and retry run from both sides as well.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use IPC::Run;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pgqd = '/usr/bin/pgqd';
ok(-x $pgqd, 'pgqd is installed')
  or die "this test needs the Debian package pgqd";

my $node = preloaded_node(
	'both', q{
pgq.maint_period = 1
pgq.retry_period = 1
});
$node->safe_psql('postgres', 'create database db');

# one queue ticked within 10 ms of each event, one by count, one with the
# defaults (3 s lag, where pgqd's one-second loop often comes first)
my @queues = ('fast_q', 'count_q', 'default_q');
setup_consumer($node, 'db', $_, 'c') for @queues;
$node->safe_psql(
	'db', q{
select pgq.set_queue_config('fast_q', 'ticker_max_lag', '10 ms');
select pgq.set_queue_config('count_q', 'ticker_max_count', '5');
select pgq.set_queue_config('default_q', 'rotation_period', '2 seconds');
});

my $dir = PostgreSQL::Test::Utils::tempdir;
my $ini = "$dir/pgqd.ini";
my $log = "$dir/pgqd.log";
my $host = $node->host;
my $port = $node->port;
append_to_file(
	$ini, qq{[pgqd]
logfile = $log
pidfile = $dir/pgqd.pid
base_connstr = host=$host port=$port
initial_database = postgres
database_list = db
syslog = 0
check_period = 1
ticker_period = 1
maint_period = 1
retry_period = 1
stats_period = 1
});
my $pgqd_h = IPC::Run::start([ $pgqd, $ini ], '>', "$dir/pgqd.stdout", '2>&1');

# Sixty rounds of 25 events per queue, each in its own transaction, the
# consumer draining in between, while default_q rotates every 2 seconds.
my $produced = 0;
for my $round (1 .. 60)
{
	for my $queue (@queues)
	{
		produce($node, 'db', $queue, $produced + 1, $produced + 25);
	}
	$produced += 25;
	$node->safe_psql('db', "select pgq_test_drain('$_', 'c')") for @queues;
}
ok(drain_until($node, 'db', $_, 'c', $produced), "$_: all $produced events delivered")
  for @queues;
is(exactly_once($node, 'db', $_, 'c', $produced), 't', "$_: each exactly once")
  for @queues;

# pgqd has ticked too: its stats lines count the queues its pgq.ticker()
# calls ticked
ok( $node->poll_query_until(
		'postgres', "select pg_read_file('$log') ~ 'ticks: [1-9]'"),
	'pgqd made ticks as well');
ok( $node->safe_psql(
		'db',
		"select last_tick_time is not null from pgq.ticker_status() where datname = 'db'"
	),
	'the in-server ticker made ticks');

# One chain per queue: ordered by id, each tick's snapshot sees all the
# previous one saw (xmin and xmax do not go back, and nothing visible to
# the previous tick is in progress for the next), and time does not go
# back either.
is( $node->safe_psql(
		'db', q{
with t as (
    select tick_queue, tick_id, tick_time, tick_snapshot,
           lag(tick_time) over w as prev_time,
           lag(tick_snapshot) over w as prev_snapshot
      from pgq.tick
    window w as (partition by tick_queue order by tick_id))
select count(*)
  from t
 where prev_snapshot is not null
   and (tick_time < prev_time
        or txid_snapshot_xmin(tick_snapshot) < txid_snapshot_xmin(prev_snapshot)
        or txid_snapshot_xmax(tick_snapshot) < txid_snapshot_xmax(prev_snapshot)
        or exists (select 1 from txid_snapshot_xip(tick_snapshot) x
                    where txid_visible_in_snapshot(x, prev_snapshot)))}),
	'0',
	'ticks of each queue are strictly ordered: ids, times and snapshots');
cmp_ok(
	$node->safe_psql('db', 'select count(*) from pgq.tick'),
	'>', 20, 'many ticks were checked');

$pgqd_h->kill_kill;
my $pgqd_log = slurp_file($log);
unlike($pgqd_log, qr/\b(ERROR|FATAL)\b/, 'pgqd logged no errors');
is(pgq_log_problems(slurp_file($node->logfile)), '',
	'the in-server ticker logged no problems');

$node->stop;
done_testing();
