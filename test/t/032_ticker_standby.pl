# A hot standby made with pg_basebackup from a primary that preloads pgq
# has the same settings, but nothing of the ticker may run or write there:
# the launcher is registered to start only once recovery has finished.  On
# promotion it starts without a restart, and the promoted server ticks and
# delivers events, including those that reached it through replication.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = preloaded_node('primary');
$primary->safe_psql('postgres', 'create database db');
setup_consumer($primary, 'db', 'q', 'c');
produce($primary, 'db', 'q', 1, 10);
ok(drain_until($primary, 'db', 'q', 'c', 10), 'the primary ticks');

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

# events the standby receives by replication but must not tick itself
produce($primary, 'db', 'q', 11, 20);
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'show shared_preload_libraries'),
	'pgq', 'the standby preloads pgq too');
is( $standby->safe_psql(
		'postgres',
		"select count(*) from pg_stat_activity where backend_type like 'pgq%'"),
	'0',
	'no launcher and no ticker run on the standby');
is($standby->safe_psql('db', 'select count(*) from pgq.ticker_status()'),
	'0', 'pgq.ticker_status() is empty on the standby');
# a standby cannot assign the txid that the primary takes before reading
# the queue row, but can still say which table is current
is( $standby->safe_psql(
		'db', q{select pgq.current_event_table('q') ~ '^pgq\.event_\d+_\d+$'}),
	't',
	'pgq.current_event_table() answers on the standby');

# The standby's pgq.tick is the primary's, replayed: stop the primary and
# check that nothing on the standby moves or complains.
$primary->stop;
my $ticks = $standby->safe_psql('db', 'select count(*) from pgq.tick');
my $standby_log = slurp_file($standby->logfile);
unlike($standby_log, qr/read-only transaction|pgq (launcher|ticker)/,
	'nothing of pgq tried to run or write on the standby');

my $offset = log_offset($standby);
$standby->promote;
ok( $standby->poll_query_until(
		'postgres',
		"select count(*) = 1 from pg_stat_activity where backend_type = 'pgq ticker' and datname = 'db'"
	),
	'after promotion a ticker worker starts without a restart');
ok( $standby->poll_query_until(
		'db', "select count(*) > $ticks from pgq.tick"),
	'the promoted server ticks');
produce($standby, 'db', 'q', 21, 30);
ok(drain_until($standby, 'db', 'q', 'c', 30),
	'events from before and after the promotion are delivered');
is(exactly_once($standby, 'db', 'q', 'c', 30), 't', 'each exactly once');
is(pgq_log_problems(log_since($standby, $offset)), '',
	'the promoted server logged no pgq problems');

$standby->stop;
done_testing();
