# pg_dump and restore of a database using pgq (quirk Q9), and pgq_ext's
# consumer positions.
#
# The queue rows, ticks, subscriptions and retry events are extension
# configuration tables and the event tables are ordinary tables, so a dump
# carries the whole queue state.  The serial sequences of pgq.queue,
# pgq.consumer and pgq.subscription are dumped too: after the restore a new
# queue must not get the id of an existing one, and a consumer must go on
# from where it was.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->start;

$node->safe_psql('postgres', 'create database source');
$node->safe_psql(
	'source', q{
	create extension pgq;
	select pgq.create_queue('dump_a');
	select pgq.create_queue('dump_b');
	select pgq.set_queue_config('dump_a', 'ticker_max_count', '1');
	select pgq.register_consumer('dump_a', 'reader');
	select pgq.insert_event('dump_a', 'ev', 'before dump ' || i)
	  from generate_series(1, 3) i;
	select pgq.ticker('dump_a');
	select pgq.event_retry_raw('dump_a', 'reader', now() + interval '1 hour',
	                           null, now(), 0, 'ev', 'waiting in retry',
	                           null, null, null, null);
	create extension pgq_ext;
	select pgq_ext.set_batch_done('reader', 5);
	select pgq_ext.set_last_tick('reader', 'sub', 7);
	select pgq_ext.set_event_done('reader', 9, 100);
});
my $queue_ids_before = $node->safe_psql('source',
	'select string_agg(queue_name || queue_id, \',\' order by queue_id) from pgq.queue'
);

my $dump = PostgreSQL::Test::Utils::tempdir . '/source.dump';
$node->command_ok(
	[ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('source') ],
	'pg_dump of a database with queues');
$node->safe_psql('postgres', 'create database target');
$node->command_ok(
	[
		'pg_restore', '--exit-on-error', '-d',
		$node->connstr('target'), $dump
	],
	'pg_restore into an empty database');

is( $node->safe_psql(
		'target',
		'select string_agg(queue_name || queue_id, \',\' order by queue_id) from pgq.queue'
	),
	$queue_ids_before,
	'queues keep their ids');
is($node->safe_psql('target', 'select count(*) from pgq.retry_queue'),
	'1', 'the retry event survived');
is( $node->safe_psql(
		'target',
		"select pgq_ext.is_batch_done('reader', 5), pgq_ext.get_last_tick('reader', 'sub'),"
		  . " pgq_ext.is_event_done('reader', 9, 100), pgq_ext.set_batch_done('reader', 5)"),
	't|7|t|f',
	'pgq_ext positions survived');

# A new queue takes a fresh id and fresh per-queue objects.
is($node->safe_psql('target', "select pgq.create_queue('dump_c')"),
	'1', 'a new queue can be created after the restore');
is( $node->safe_psql(
		'target',
		"select count(distinct queue_id) from pgq.queue"),
	'3',
	'the new queue did not reuse an existing id');

# The consumer reads the events it had not consumed before the dump, and a
# new event afterwards, in order.
$node->safe_psql('target',
	"select pgq.insert_event('dump_a', 'ev', 'after restore'); select pgq.ticker('dump_a');"
);
my $events = '';
while ((my $batch = $node->safe_psql('target',
			"select pgq.next_batch('dump_a', 'reader')")) ne '')
{
	$events .= $node->safe_psql('target',
		"select string_agg(ev_data, ',' order by ev_id) from pgq.get_batch_events($batch)"
	) . ';';
	$node->safe_psql('target', "select pgq.finish_batch($batch)");
}
is( $events,
	'before dump 1,before dump 2,before dump 3;after restore;',
	'the consumer continues where it was');

# A second registration gets a subscription id of its own.
$node->safe_psql('target', "select pgq.register_consumer('dump_b', 'other')");
is( $node->safe_psql(
		'target', 'select count(distinct sub_id) from pgq.subscription'),
	'2',
	'a new subscription did not reuse an existing id');

$node->stop;
done_testing();
