# The in-server ticker does pgq_node's maintenance as pgqd does: at each
# maintenance round it calls pgq_node.maint_watermark for every root queue
# (pgq.maint_operations() lists them), which publishes the global watermark
# once .global_watermark lags 5 minutes or more; branches and leaves are
# left alone.
#
# The lag is made by moving the time of the tick .global_watermark stands
# on back by 10 minutes, as if it had been made then.  Whether the function
# was called is read from pg_stat_user_functions (track_functions = all),
# against the calls of pgq.maint_operations, which show that rounds ran
# and that the worker's statistics arrived.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = preloaded_node('node_ticker',
	"pgq.maint_period = 1\ntrack_functions = all\n");
my $db = 'cascade';
$node->safe_psql('postgres', "create database $db");

# Calls of a function in schema pgq or pgq_node so far, as the server's
# statistics have them (every psql session reads them afresh).
sub calls
{
	my ($function) = @_;
	return $node->safe_psql(
		$db, qq{
select coalesce(sum(calls), 0) from pg_stat_user_functions
 where schemaname || '.' || funcname = '$function'});
}

# The tick .global_watermark stands on in queue $queue.
sub global_watermark
{
	my ($queue) = @_;
	return $node->safe_psql($db,
		"select last_tick from pgq.get_consumer_info('$queue', '.global_watermark')"
	);
}

# A branch and a leaf, whose .global_watermark (the branch's) lags.
$node->safe_psql(
	$db, q{
create extension pgq_node cascade;
select pgq_node.register_location(q, n, 'dbname=' || n, false)
  from unnest(array['bq', 'lq']) q, unnest(array['r1', 'b1']) n;
select pgq_node.create_node('bq', 'branch', 'b1', 'w_b', 'r1', 5, null);
select pgq_node.create_node('lq', 'leaf', 'b1', 'w_l', 'r1', 5, null);
update pgq.tick set tick_time = tick_time - interval '10 minutes';
});
is( $node->safe_psql($db,
		q{select count(*) from pgq.maint_operations() where func_name like 'pgq_node.%'}),
	'0',
	'no pgq_node maintenance is listed for a branch and a leaf');

my $rounds = calls('pgq.maint_operations');
ok( $node->poll_query_until(
		$db, qq{
select sum(calls) >= $rounds + 3 from pg_stat_user_functions
 where schemaname = 'pgq' and funcname = 'maint_operations'}),
	'the ticker runs maintenance rounds');
is(calls('pgq_node.maint_watermark'),
	'0', 'maint_watermark is not called for a branch or a leaf');
is(global_watermark('bq'), '5', "the branch's global watermark stays");

# A root whose global watermark was last published 10 minutes ago, with a
# newer tick to move it to.
$node->safe_psql(
	$db, q{
select pgq_node.register_location('rq', 'r1', 'dbname=r1', false);
select pgq_node.create_node('rq', 'root', 'r1', 'w_r', null, null, null);
update pgq.tick t set tick_time = t.tick_time - interval '10 minutes'
  from pgq.queue q where q.queue_id = t.tick_queue and q.queue_name = 'rq';
select pgq.insert_event('rq', 'data', 'one');
});
is($node->safe_psql($db, q{select func_name, func_arg from pgq.maint_operations()
                            where func_name like 'pgq_node.%'}),
	'pgq_node.maint_watermark|rq', 'the root is listed for maintenance');
my $before = global_watermark('rq');

ok( $node->poll_query_until(
		$db, qq{
select last_tick > $before
  from pgq.get_consumer_info('rq', '.global_watermark')}),
	"the ticker moves the root's global watermark");
is( $node->safe_psql(
		$db, q{
select ev_data::bigint = (select last_tick from pgq.get_consumer_info('rq', '.global_watermark'))
  from pgq.event_template e
 where e.ev_type = 'pgq.global-watermark' and e.ev_extra1 = 'rq'
 order by e.ev_id desc limit 1}),
	't',
	'and publishes it downstream');
ok($node->poll_query_until($db, qq{
select calls > 0 from pg_stat_user_functions
 where schemaname = 'pgq_node' and funcname = 'maint_watermark'}),
	'through pgq_node.maint_watermark');
is(global_watermark('bq'), '5', "the branch's global watermark still stays");

# Published, the watermark no longer lags: the next rounds leave it.
my $published = $node->safe_psql($db,
	q{select count(*) from pgq.event_template where ev_type = 'pgq.global-watermark'});
$rounds = calls('pgq.maint_operations');
ok( $node->poll_query_until(
		$db, qq{
select sum(calls) >= $rounds + 3 from pg_stat_user_functions
 where schemaname = 'pgq' and funcname = 'maint_operations'}),
	'more maintenance rounds run');
is( $node->safe_psql($db,
		q{select count(*) from pgq.event_template where ev_type = 'pgq.global-watermark'}),
	$published,
	'no new global watermark while it does not lag');

$node->stop;
done_testing();
