# Floors under the in-server ticker's tick spacing, and queue settings too
# large to add to a timestamp.
#
# A pgq_admin member can set ticker_max_lag = 0 and ticker_idle_period = 0;
# the worker must still not tick an idle queue more often than
# pgq.ticker_period (pgqd's cadence).  A lag of 300,000 years overflows a
# timestamp; it must mean "never", not a tick at every look.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = preloaded_node('spacing', "pgq.ticker_period = 1000\n");
$node->safe_psql(
	'postgres', q{
create extension pgq;
select pgq.create_queue('q_zero');
select pgq.create_queue('q_huge');
update pgq.queue
   set queue_ticker_max_lag = '0', queue_ticker_idle_period = '0'
 where queue_name = 'q_zero';
update pgq.queue
   set queue_ticker_max_lag = '300000 years',
       queue_ticker_idle_period = '300000 years',
       queue_ticker_max_count = 1000
 where queue_name = 'q_huge';
});

sub tick_count
{
	my ($queue) = @_;
	return $node->safe_psql('postgres',
		"select count(*) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue"
		  . " where q.queue_name = '$queue'");
}

# Let the worker see the new settings and settle, then count the ticks of
# the idle queue over a few seconds, and of the other queue after an event.
ok( $node->poll_query_until(
		'postgres',
		"select last_tick_time is not null from pgq.ticker_status()"),
	'the worker is ticking');
sleep(2);
$node->safe_psql('postgres', "select pgq.insert_event('q_huge', 'test', 'x')");
my $zero_before = tick_count('q_zero');
my $huge_before = tick_count('q_huge');
my $window = 4;
sleep($window);
my $zero_ticks = tick_count('q_zero') - $zero_before;
my $huge_ticks = tick_count('q_huge') - $huge_before;

# One tick per pgq.ticker_period, with some slack for a late look.
cmp_ok($zero_ticks, '<=', $window + 2,
	"an idle queue with zero lag and idle period is ticked at most once per second ($zero_ticks ticks in ${window}s)"
);
cmp_ok($zero_ticks, '>=', 1, 'but it is still ticked');
is($huge_ticks, 0,
	'a queue whose lag is too large for a timestamp is not ticked for one event');

is(pgq_log_problems(slurp_file($node->logfile)),
	'', 'the worker logged no problems');

$node->stop;
done_testing();
