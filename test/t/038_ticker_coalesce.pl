# The in-server ticker cuts a tick early (by queue_ticker_max_count or
# queue_ticker_max_lag) only when a consumer is waiting for it, i.e. some
# subscription has taken everything ticked so far.  While every consumer
# is behind, or the queue has none, it ticks a queue with waiting events at
# most once per pgq.ticker_period, as pgqd does, so that a backlog reaches
# a consumer in a few large batches rather than many small ones.  A
# consumer that catches up gets its next tick at once.
#
# pgq.ticker_period is 30 s here, so a tick that comes sooner than that
# after the previous one was cut for a waiting consumer, and the bursts
# (about a second each) fit into one period.  Timings are only checked
# against generous upper bounds.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $period = 30;
my $node = preloaded_node(
	'coalesce', qq{
pgq.ticker_period = ${period}s
pgq.maint_period = 3600
pgq.retry_period = 3600
});

# Only the count rule matters: lag and idle ticks would come after minutes.
setup_consumer($node, 'postgres', 'q', 'c');
$node->safe_psql(
	'postgres', q{
select pgq.create_queue('q_none');
update pgq.queue
   set queue_ticker_max_count = 100,
       queue_ticker_max_lag = '10 min',
       queue_ticker_idle_period = '1 hour'
 where queue_name in ('q', 'q_none');
});

sub last_tick
{
	my ($queue) = @_;
	return $node->safe_psql('postgres',
		"select coalesce(max(tick_id), 0) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue"
		  . " where q.queue_name = '$queue'");
}

sub ticks_since
{
	my ($queue, $tick_id) = @_;
	return $node->safe_psql('postgres',
		"select count(*) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue"
		  . " where q.queue_name = '$queue' and t.tick_id > $tick_id");
}

# Seconds until $queue has a tick after $tick_id, or undef.
sub wait_for_tick
{
	my ($queue, $tick_id) = @_;
	my $started = time();

	return undef
	  unless $node->poll_query_until('postgres',
		"select count(*) > 0 from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue"
		  . " where q.queue_name = '$queue' and t.tick_id > $tick_id");
	return time() - $started;
}

# $batches transactions of 100 events into each of @queues, 0.1 s apart;
# returns the seconds it took.
sub burst
{
	my ($batches, @queues) = @_;
	my $sql = '';
	my $started = time();

	for my $i (1 .. $batches)
	{
		$sql .=
		  "select pgq.insert_event('$_', 'test', g::text) from generate_series(1, 100) g;\n"
		  for @queues;
		$sql .= "select pg_sleep(0.1);\n";
	}
	$node->safe_psql('postgres', $sql);
	return sprintf('%.1f', time() - $started);
}

# Let the worker make the queues' first ticks and settle.
ok( $node->poll_query_until(
		'postgres',
		"select last_tick_time is not null from pgq.ticker_status()"),
	'the worker is ticking');
$node->safe_psql('postgres', "select pgq_test_drain('q', 'c')");

#
# A consumer at the head (it has taken every tick): max_count events are
# ticked at once, as before.
#
my $start = last_tick('q');
burst(1, 'q');
my $waited = wait_for_tick('q', $start);
ok(defined $waited && $waited < $period / 3,
	'with a consumer at the head, max_count events are ticked promptly ('
	  . ($waited // 'never') . ' s)');

#
# Now the consumer is behind (it has not taken that tick).  A burst of ten
# times max_count events is not cut into ten ticks, neither on its queue nor
# on a queue without consumers.
#
$start = last_tick('q');
my $none_start = last_tick('q_none');
my $elapsed = burst(10, 'q', 'q_none');
my $bound = 1 + int($elapsed / $period);
my $ticks = ticks_since('q', $start);
cmp_ok($ticks, '<=', $bound,
	"with the consumer behind, 10 x max_count events in ${elapsed}s make at most $bound tick(s)"
);
$ticks = ticks_since('q_none', $none_start);
cmp_ok($ticks, '<=', $bound,
	"on a queue without consumers, at most $bound tick(s) as well");

# An external ticker is not affected: pgq.ticker() follows the queue's rules.
isnt($node->safe_psql('postgres', "select pgq.ticker('q_none')"),
	'', 'pgq.ticker(queue) still ticks a queue nobody waits for');

#
# The consumer catches up: once it has taken the batch that ends at the
# latest tick, the worker notices and ticks the events that wait, long
# before pgq.ticker_period has passed since the previous tick.
#
$node->safe_psql('postgres',
	"select pgq.insert_event('q', 'test', g::text) from generate_series(1, 100) g");
my $prev = last_tick('q');
$node->safe_psql('postgres', "select pgq_test_drain('q', 'c')");
$waited = wait_for_tick('q', $prev);
ok(defined $waited && $waited < $period / 3,
	'a consumer that caught up gets the next tick promptly ('
	  . ($waited // 'never') . ' s)');
is( $node->safe_psql(
		'postgres',
		"select count(*) from pgq.subscription where sub_last_tick = $prev"),
	'1',
	'the consumer had caught up with the tick before it');

#
# A pgq_coop group: a member taking a batch moves the group's own
# subscription, so the group is at the head once its members have taken
# every tick, and behind as long as they have not.
#
$node->safe_psql(
	'postgres', q{
create extension pgq_coop;
select pgq.create_queue('cq');
update pgq.queue
   set queue_ticker_max_count = 100,
       queue_ticker_max_lag = '10 min',
       queue_ticker_idle_period = '1 hour'
 where queue_name = 'cq';
select pgq_coop.register_subconsumer('cq', 'g', 'm1');
create function coop_drain() returns void language plpgsql as $$
declare
    v_batch bigint;
begin
    loop
        v_batch := pgq_coop.next_batch('cq', 'g', 'm1');
        exit when v_batch is null;
        perform pgq_coop.finish_batch(v_batch);
    end loop;
end
$$;
});
$start = last_tick('cq');
burst(1, 'cq');
$waited = wait_for_tick('cq', $start);
ok(defined $waited && $waited < $period / 3,
	'a coop group at the head gets max_count events ticked promptly ('
	  . ($waited // 'never') . ' s)');
$start = last_tick('cq');
$elapsed = burst(10, 'cq');
$bound = 1 + int($elapsed / $period);
$ticks = ticks_since('cq', $start);
cmp_ok($ticks, '<=', $bound,
	"with the group behind, 10 x max_count events in ${elapsed}s make at most $bound tick(s)"
);
$node->safe_psql('postgres',
	"select pgq.insert_event('cq', 'test', g::text) from generate_series(1, 100) g");
$prev = last_tick('cq');
$node->safe_psql('postgres', "select coop_drain()");
$waited = wait_for_tick('cq', $prev);
ok(defined $waited && $waited < $period / 3,
	'once its member has taken every batch, the group gets the next tick promptly ('
	  . ($waited // 'never') . ' s)');

#
# pgq.ticker_coalesce = off restores ticking by max_count for consumers
# that are behind (the consumer has not taken the latest tick).
#
$node->append_conf('postgresql.conf', "pgq.ticker_coalesce = off\n");
$node->reload;
$node->poll_query_until('postgres',
	"select current_setting('pgq.ticker_coalesce', true) = 'off'");
$start = last_tick('q');
$elapsed = burst(10, 'q');
$ticks = ticks_since('q', $start);
cmp_ok($ticks, '>=', 3,
	"with pgq.ticker_coalesce off, 10 x max_count events in ${elapsed}s make several ticks ($ticks)"
);

is(pgq_log_problems(slurp_file($node->logfile)),
	'', 'the worker logged no problems');

$node->stop;
done_testing();
