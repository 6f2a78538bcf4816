# ALTER EXTENSION pgq_node UPDATE from Debian's pgq_node 3.5.
#
# A database where the original pgq_node 3.5 was created and used (a root
# with a subscriber, a consumer, locations) is switched to our packages as
# a package upgrade does and updated.  It must then hold exactly the
# catalog of a fresh CREATE EXTENSION pgq_node (functions with all their
# attributes, settings and privileges, tables, constraints, dump
# configuration), keep every row, and work.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use ExtensionCatalog;
use OriginalStack;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'Debian packages of the originals not available (set PGQ_ORIGINAL_DEBS)'
  unless original_debs();

my $tree_dir = PostgreSQL::Test::Utils::tempdir();
my $node =
  PostgreSQL::Test::Cluster->new('update', install_path => make_tree($tree_dir));
$node->init;
$node->start;

$node->safe_psql('postgres', 'create database updated');
$node->safe_psql(
	'updated', q{
create extension pgq;
create extension pgq_node;
select * from pgq_node.register_location('cq', 'n1', 'dbname=n1', false);
select * from pgq_node.register_location('cq', 'n2', 'dbname=n2', false);
select * from pgq_node.register_location('cq', 'n3', 'dbname=n3', true);
select * from pgq_node.create_node('cq', 'root', 'n1', 'w1', null, null, null);
select * from pgq_node.register_subscriber('cq', 'n2', 'w2', null);
select * from pgq_node.register_consumer('cq', 'c1', 'n1', 1);
select * from pgq_node.set_consumer_error('cq', 'c1', 'boom');
select * from pgq_node.set_node_attrs('cq', 'sync_watermark=n2');
});
is( $node->safe_psql('updated',
		q{select extversion from pg_extension where extname = 'pgq_node'}),
	'3.5',
	'the original pgq_node 3.5 is installed');

my $rows = q{
select 'location', queue_name, node_name, node_location, dead::text, null, null, null
  from pgq_node.node_location
union all
select 'info', queue_name, node_type, node_name, worker_name, combined_queue, node_attrs, null
  from pgq_node.node_info
union all
select 'state', queue_name, consumer_name, provider_node, last_tick_id::text,
       cur_error, paused::text, uptodate::text
  from pgq_node.local_state
union all
select 'subscriber', queue_name, subscriber_node, worker_name, watermark_name, null, null, null
  from pgq_node.subscriber_info
order by 1, 2, 3, 4
};
my $rows_before = $node->safe_psql('updated', $rows);

$node->stop;
switch_to_ours($tree_dir);
$node->start;

$node->safe_psql('updated',
	'alter extension pgq update; alter extension pgq_node update');
is( $node->safe_psql('updated',
		q{select extversion from pg_extension where extname = 'pgq_node'}),
	'4.0',
	'updated to 4.0');
is($node->safe_psql('updated', $rows), $rows_before, 'every row is kept');

$node->safe_psql('postgres', 'create database fresh');
$node->safe_psql('fresh', 'create extension pgq_node cascade');
is( extension_catalog($node, 'updated', 'pgq_node'),
	extension_catalog($node, 'fresh', 'pgq_node'),
	'the updated catalog is that of a fresh install');

# The updated functions run against the kept state.
is( $node->safe_psql(
		'updated', q{
select ret_code, node_type, node_name, worker_name, node_attrs, provider_location
  from pgq_node.get_node_info('cq')}),
	'100|root|n1|w1|sync_watermark=n2|dbname=n1',
	'get_node_info works after the update');
is( $node->safe_psql(
		'updated', q{
select ret_code, ret_note from pgq_node.set_consumer_completed('cq', 'c1', 1)}),
	'100|Consumer c1 completed tick = 1',
	'set_consumer_completed works after the update');
is( $node->safe_psql(
		'updated', q{
select ret_code from pgq_node.set_global_watermark('cq', null);
select ev_type, ev_extra1 from pgq.event_1 where ev_type = 'pgq.global-watermark'}),
	"200\npgq.global-watermark|cq",
	'set_global_watermark publishes after the update');

$node->stop;
done_testing();
