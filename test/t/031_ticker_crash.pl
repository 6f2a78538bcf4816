# Crashes of the in-server ticker and of the server: kill -9 of a ticker
# worker, kill -9 of the launcher (both make the postmaster reinitialise
# shared memory and restart every process), an immediate shutdown, and
# kill -9 of the postmaster itself, each followed by a restart.  After each
# one, ticking resumes by itself, and a consumer that finishes every batch
# in the transaction that records its events (pgq_test_drain) sees each
# committed event exactly once - including a batch it had open at the
# moment of the crash - and never an event whose transaction was cut off.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# The node name is also its cluster_name, which shows in process titles.
my $node = preloaded_node('pgq_crash', "restart_after_crash = on\n");
$node->safe_psql('postgres', 'create database db');

setup_consumer($node, 'db', 'q', 'c');
$node->safe_psql('db',
	"select pgq.set_queue_config('q', 'ticker_max_lag', '50 ms')");
my $produced = 0;

# Produce 50 events and let the consumer open a batch without finishing
# it, then crash with $crash; afterwards everything must arrive once.
sub crash_and_recover
{
	my ($what, $crash) = @_;

	produce($node, 'db', 'q', $produced + 1, $produced + 50);
	$produced += 50;
	ok( $node->poll_query_until(
			'db', "select pgq.next_batch('q', 'c') is not null"),
		"$what: a batch is open when it happens");

	# a producer transaction the crash cuts off
	my $open_tx = $node->background_psql('db', on_error_stop => 0);
	$open_tx->query_safe(
		"begin; select pgq.insert_event('q', 'test', 'never committed')");

	my $old_workers = worker_pids($node, 'db');
	$crash->();

	ok( poll_query_after_crash(
			$node, 'postgres', qq{
select count(*) = 1 from pg_stat_activity
 where backend_type = 'pgq ticker' and datname = 'db'
   and pid::text <> all (string_to_array('$old_workers', ' '))}),
		"$what: a new worker runs");
	eval { $open_tx->quit; };

	produce($node, 'db', 'q', $produced + 1, $produced + 50);
	$produced += 50;
	ok(drain_until($node, 'db', 'q', 'c', $produced),
		"$what: all $produced events are delivered");
	is(exactly_once($node, 'db', 'q', 'c', $produced),
		't', "$what: each exactly once");
	return;
}

# Whether a server process of this node still runs (they show the node
# name, which is also the cluster_name, in their process titles).
sub children_left
{
	foreach my $cmdline (glob('/proc/[0-9]*/cmdline'))
	{
		open(my $fh, '<', $cmdline) or next;
		my $title = <$fh> // '';
		close($fh);
		return 1 if $title =~ /^postgres: pgq_crash: /;
	}
	return 0;
}

produce($node, 'db', 'q', 1, 20);
$produced = 20;
ok(drain_until($node, 'db', 'q', 'c', $produced), 'events flow before any crash');

crash_and_recover(
	'kill -9 of the ticker worker',
	sub {
		my $pid = worker_pids($node, 'db');
		kill 'KILL', $pid;
	});

crash_and_recover(
	'kill -9 of the launcher',
	sub {
		my $pid = $node->safe_psql('postgres',
			"select pid from pg_stat_activity where backend_type = 'pgq launcher'"
		);
		kill 'KILL', $pid;
	});

crash_and_recover(
	'immediate shutdown and restart',
	sub {
		$node->stop('immediate');
		$node->start;
	});

crash_and_recover(
	'kill -9 of the postmaster and restart',
	sub {
		my $postmaster = $node->{_pid};
		$node->kill9;
		# the children notice the postmaster's death and exit; the data
		# directory is usable once no process is attached any more
		my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
		while (kill(0, $postmaster) || children_left())
		{
			last if time() > $deadline;
			select(undef, undef, undef, 0.1);
		}
		$node->start;
	});

is( $node->safe_psql(
		'db',
		"select count(*) from pgq_test_seen where ev_data = 'never committed'"),
	'0',
	'events of transactions cut off by a crash are never delivered');

$node->stop;
done_testing();
