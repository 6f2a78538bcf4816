# Running out of worker slots: when max_worker_processes has no room for
# another ticker worker, or pgq.max_workers databases are served already,
# the launcher says so once in the log, shows the waiting database in
# pgq.ticker_status(), keeps trying, and serves it as soon as there is
# room.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Three background workers in all: the launcher and two ticker workers.
# log_min_messages = debug1 shows the launcher's silent retries.
my $node = preloaded_node(
	'limits', q{
max_worker_processes = 3
max_logical_replication_workers = 0
log_min_messages = debug1
});

for my $db ('db_a', 'db_b', 'db_c')
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql($db, 'create extension pgq');
}

ok( $node->poll_query_until(
		'db_a',
		"select count(*) = 1 from pgq.ticker_status() where state = 'waiting for a background worker slot' and pid is null"
	),
	'the third database waits for a background worker slot');
my $waiting =
  $node->safe_psql('db_a',
	"select datname from pgq.ticker_status() where pid is null");
is( $node->safe_psql(
		'postgres',
		"select count(*) from pg_stat_activity where backend_type = 'pgq ticker'"),
	'2',
	'the other two are served');

# Two silent retries later the shortage has still been reported only once.
my $retry_line =
  qr/pgq launcher DEBUG:  pgq launcher: still no free background worker slot for database "$waiting"/;
my $offset = $node->wait_for_log($retry_line, 0);
$node->wait_for_log($retry_line, $offset);
pass('the launcher keeps trying');
my $log = slurp_file($node->logfile);
my @reports = ($log =~ /LOG:  could not start pgq ticker for database "[^"]+": no free background worker slot/g);
is(scalar(@reports), 1, 'the shortage is logged once');
like($log, qr/HINT:  Raise max_worker_processes \(currently 3\)\./,
	'with a hint');

# Dropping a served database makes room.
my $served = $node->safe_psql('db_a',
	"select datname from pgq.ticker_status() where pid is not null and datname <> 'db_a' limit 1"
);
$served = 'db_b' if $served eq '';
$node->safe_psql('postgres', "drop database $served");
ok( $node->poll_query_until(
		'postgres',
		"select count(*) = 1 from pg_stat_activity where backend_type = 'pgq ticker' and datname = '$waiting'"
	),
	'the waiting database gets its worker once there is room');

# pgq.max_workers: one database at a time, reported once.
$node->append_conf(
	'postgresql.conf', q{
max_worker_processes = 8
pgq.max_workers = 1
});
$node->restart;
ok( $node->poll_query_until(
		'postgres',
		"select count(*) = 1 from pg_stat_activity where backend_type = 'pgq ticker'"
	),
	'with pgq.max_workers = 1 one database is served');
# Meanwhile the databases without pgq have been probed one at a time
# through the single slot; the last probe ran with db_a waiting.
ok( $node->poll_query_until(
		'postgres',
		"select count(*) = 0 from pg_stat_activity where backend_type = 'pgq ticker' and datname = 'postgres'"
	),
	'probing went on through the one slot');
$log = slurp_file($node->logfile);
@reports = ($log =~ /LOG:  pgq ticker limit of 1 databases reached/g);
is(scalar(@reports), 1, 'the pgq.max_workers limit is logged once');
like($log, qr/HINT:  Raise pgq\.max_workers\./, 'with a hint');

$node->stop;
done_testing();
