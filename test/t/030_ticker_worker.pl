# The in-server ticker (pgq in shared_preload_libraries) on one server:
# discovery of the databases that have pgq, ticking and maintenance with
# no external process, wakeups by producers, notifications, the settings,
# and the good-citizen cases (DROP EXTENSION, DROP DATABASE, switched off).
#
# The periodic pg_database scan is set to an hour, so every prompt reaction
# here has to come from the commit-time notices of backends; and while the
# wakeup tests run, pgq.ticker_period is an hour too, so a tick can only
# come from a producer's wakeup or from a deadline the worker computed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = preloaded_node(
	'ticker', q{
pgq.maint_period = 1
pgq.retry_period = 1
pgq.discovery_period = 3600
autovacuum = off
});

sub tick_count
{
	my ($db, $queue) = @_;
	return $node->safe_psql($db,
		"select count(*) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where q.queue_name = '$queue'"
	);
}

sub ticker_databases
{
	return $node->safe_psql('postgres',
		"select coalesce(string_agg(datname, ',' order by datname), '') from pg_stat_activity where backend_type = 'pgq ticker'"
	);
}

#
# Two databases with pgq and one without: events flow in both with nothing
# but the server running, and only they get a worker.
#
is( $node->safe_psql(
		'postgres',
		"select count(*) from pg_stat_activity where backend_type = 'pgq launcher'"
	),
	'1',
	'the launcher runs');

$node->safe_psql('postgres', 'create database db1');
$node->safe_psql('postgres', 'create database db2');
$node->safe_psql('postgres', 'create database noext');
setup_consumer($node, 'db1', 'q', 'c');
setup_consumer($node, 'db2', 'q', 'c');
produce($node, 'db1', 'q', 1, 20);
produce($node, 'db2', 'q', 1, 30);
ok(drain_until($node, 'db1', 'q', 'c', 20), 'events flow in db1');
ok(drain_until($node, 'db2', 'q', 'c', 30), 'events flow in db2');
is(exactly_once($node, 'db1', 'q', 'c', 20), 't', 'db1: each event once');
is(exactly_once($node, 'db2', 'q', 'c', 30), 't', 'db2: each event once');

ok( $node->poll_query_until(
		'postgres',
		"select coalesce(string_agg(datname, ',' order by datname), '') = 'db1,db2' from pg_stat_activity where backend_type = 'pgq ticker'"
	),
	'workers run in db1 and db2 only');
is( $node->safe_psql(
		'db1', q{
select string_agg(format('%s %s %s %s', datname, pid is not null,
                         last_tick_time is not null, last_error is null), ','
                  order by datname)
  from pgq.ticker_status()}),
	'db1 t t t,db2 t t t',
	'pgq.ticker_status() lists both databases');
is( $node->safe_psql(
		'db1',
		"select application_name from pg_stat_activity where backend_type = 'pgq ticker' and datname = 'db1'"
	),
	'pgq ticker',
	'workers show in pg_stat_activity');

#
# Wakeups.  With pgq.ticker_period at an hour the worker looks at the
# queues only when a producer wakes it or a deadline it computed comes.
#
$node->append_conf('postgresql.conf', "pgq.ticker_period = '1h'");
$node->reload;
$node->safe_psql(
	'db1', q{
select pgq.create_queue('count_q');
select pgq.set_queue_config('count_q', 'ticker_max_count', '10');
select pgq.set_queue_config('count_q', 'ticker_max_lag', '1 hour');
select pgq.set_queue_config('count_q', 'ticker_idle_period', '1 hour');
select pgq.register_consumer('count_q', 'c');
select pgq.insert_event('count_q', 'test', 'first');
});
# max_lag and the idle period are an hour: only the count can make a tick,
# and only because a consumer waits for it (see 038_ticker_coalesce.pl)
my $count_ticks = tick_count('db1', 'count_q');
my $started = time;
$node->safe_psql('db1',
	"select pgq.insert_event('count_q', 'test', i::text) from generate_series(2, 11) i"
);
ok( $node->poll_query_until(
		'db1',
		"select count(*) > $count_ticks from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where q.queue_name = 'count_q'"
	),
	'reaching queue_ticker_max_count wakes the worker');
my $elapsed = time - $started;
cmp_ok($elapsed, '<', 10, "count_q ticked $elapsed s after the commit");

$node->safe_psql(
	'db1', q{
select pgq.create_queue('lag_q');
select pgq.set_queue_config('lag_q', 'ticker_max_lag', '10 ms');
select pgq.set_queue_config('lag_q', 'ticker_idle_period', '1 hour');
select pgq.register_consumer('lag_q', 'c');
});
my $lag_ticks = tick_count('db1', 'lag_q');
$started = time;
$node->safe_psql('db1', "select pgq.insert_event('lag_q', 'test', '1')");
ok( $node->poll_query_until(
		'db1',
		"select pgq_test_drain('lag_q', 'c') = 1",
		't'),
	'an event on a 10 ms queue is delivered without any periodic look');
$elapsed = time - $started;
cmp_ok($elapsed, '<', 10, "lag_q event delivered $elapsed s after the commit");

# A LISTENing consumer is told about each tick: channel = queue name,
# payload = tick id.  The DO block polls until the tick exists; psql prints
# the notification after the command that was running when it came.
my $listen_out = $node->safe_psql(
	'db1', q{
listen lag_q;
select pgq.insert_event('lag_q', 'test', '2');
do $$
declare
    v_last bigint := (select max(tick_id) from pgq.tick t join pgq.queue q
                       on q.queue_id = t.tick_queue where q.queue_name = 'lag_q');
begin
    for i in 1 .. 3000 loop
        exit when (select max(tick_id) from pgq.tick t join pgq.queue q
                    on q.queue_id = t.tick_queue where q.queue_name = 'lag_q') > v_last;
        perform pg_sleep(0.01);
    end loop;
end
$$;
select 'done';
});
like(
	$listen_out,
	qr/Asynchronous notification "lag_q" with payload "\d+" received/,
	'a tick notifies the channel named like the queue');

$node->append_conf('postgresql.conf', "pgq.ticker_period = '1s'");
$node->reload;

#
# Maintenance with only the in-server ticker: rotation (both steps), the
# retry queue, per-queue extra maintenance with the repeat protocol, and
# VACUUM (autovacuum is off here, so pgq.maint_tables_to_vacuum() lists
# the bookkeeping tables).  Paused and externally ticked queues must be
# left alone meanwhile.
#
my $offset = log_offset($node);
$node->safe_psql(
	'db2', q{
select pgq.create_queue('paused_q');
select pgq.set_queue_config('paused_q', 'ticker_paused', 'true');
select pgq.insert_event('paused_q', 'test', 'never ticked');
select pgq.create_queue('ext_q');
select pgq.set_queue_config('ext_q', 'external_ticker', 'true');
select pgq.insert_event('ext_q', 'test', 'never ticked either');

select pgq.create_queue('rotate_q');
select pgq.set_queue_config('rotate_q', 'rotation_period', '1 second');
select pgq.insert_event('rotate_q', 'test', 'in the first table');

create table extra_maint_calls (left_to_do int);
insert into extra_maint_calls values (3);
-- the worker calls it as pgq.ticker_role, pgq_admin by default
grant select, update on extra_maint_calls to pgq_admin;
-- runs under search_path = pg_catalog, pg_temp, so it names its table fully
create function extra_maint(i_queue text) returns int language sql as $$
    update public.extra_maint_calls set left_to_do = greatest(left_to_do - 1, 0)
    returning left_to_do
$$;
update pgq.queue set queue_extra_maint = array['public.extra_maint']
 where queue_name = 'rotate_q';

select pgq.create_queue('retry_q');
select pgq.register_consumer('retry_q', 'c');
select pgq.insert_event('retry_q', 'test', 'retry me');
});
my $paused_ticks = tick_count('db2', 'paused_q');
my $ext_ticks = tick_count('db2', 'ext_q');

my $rotate_table_0 = $node->safe_psql('db2',
	"select queue_data_pfx || '_0' from pgq.queue where queue_name = 'rotate_q'"
);
ok( $node->poll_query_until(
		'db2', qq{
	select queue_cur_table = 0 and not exists (select 1 from $rotate_table_0)
	from pgq.get_queue_info('rotate_q')}),
	'event tables rotate (three rotations, each confirmed by step 2)');
ok( $node->poll_query_until(
		'db2', 'select left_to_do = 0 from extra_maint_calls'),
	'queue_extra_maint functions are called again while they return non-zero'
);
ok( $node->poll_query_until(
		'db2',
		"select last_vacuum is not null from pg_stat_user_tables where schemaname = 'pgq' and relname = 'tick'"
	),
	'tables from pgq.maint_tables_to_vacuum() are vacuumed');

# Take batches of retry_q until one holds "retry me"; returns the batch,
# left open, and "ev_id|ev_retry".
sub wait_for_retry_event
{
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		my $batch =
		  $node->safe_psql('db2', "select pgq.next_batch('retry_q', 'c')");
		if ($batch eq '')
		{
			usleep(100_000);
			next;
		}
		my $event = $node->safe_psql('db2',
			"select ev_id, ev_retry from pgq.get_batch_events($batch) where ev_data = 'retry me'"
		);
		return ($batch, $event) if $event ne '';
		$node->safe_psql('db2', "select pgq.finish_batch($batch)");
	}
	return;
}

my ($batch, $event) = wait_for_retry_event();
ok(defined $batch, 'the event to retry is delivered');
my ($ev_id, $ev_retry) = split /\|/, $event // '', -1;
is($ev_retry, '', 'first delivery has no retry count');
$node->safe_psql('db2',
	"select pgq.event_retry($batch, $ev_id, 0); select pgq.finish_batch($batch);"
);
ok($node->poll_query_until('db2', 'select count(*) = 0 from pgq.retry_queue'),
	'the retried event leaves the retry queue');
($batch, $event) = wait_for_retry_event();
is($event, "$ev_id|1", 'the retried event comes back with retry count 1');
$node->safe_psql('db2', "select pgq.finish_batch($batch)") if $batch;

is(tick_count('db2', 'paused_q'), $paused_ticks, 'a paused queue is not ticked');
is(tick_count('db2', 'ext_q'), $ext_ticks,
	'a queue with an external ticker is not ticked');
ok( $node->safe_psql(
		'db2',
		"select last_maint_time is not null and last_retry_time is not null from pgq.ticker_status() where datname = 'db2'"
	),
	'pgq.ticker_status() shows maintenance and retry times');
is(pgq_log_problems(log_since($node, $offset)), '',
	'maintenance logged no problems');

#
# DROP EXTENSION and DROP DATABASE while the workers run, and a new
# database getting pgq.
#
$offset = log_offset($node);
$node->safe_psql('db2', 'drop extension pgq cascade');
ok( $node->poll_query_until(
		'postgres',
		"select count(*) = 0 from pg_stat_activity where backend_type = 'pgq ticker' and datname = 'db2'"
	),
	'the worker leaves a database whose pgq was dropped');

$started = time;
$node->safe_psql('postgres', 'drop database db1');
$elapsed = time - $started;
pass("DROP DATABASE of a ticked database succeeds ($elapsed s)");
cmp_ok($elapsed, '<', 5,
	'DROP DATABASE does not wait for its own timeout on our worker');
is(ticker_databases(), '', 'no worker is left');

$node->safe_psql('postgres', 'create database db3');
$started = time;
setup_consumer($node, 'db3', 'q', 'c');
$node->safe_psql('db3', q{
select pgq.set_queue_config('q', 'ticker_max_lag', '0');
select pgq.insert_event('q', 'test', '1');
});
ok(drain_until($node, 'db3', 'q', 'c', 1),
	'CREATE EXTENSION in a new database is served without a rescan');
$elapsed = time - $started;
cmp_ok($elapsed, '<', 10, "first event delivered $elapsed s after CREATE EXTENSION");
is(ticker_databases(), 'db3', 'only db3 has a worker now');
is($node->safe_psql('postgres', "select count(*) from pg_stat_activity where datname = 'noext'"),
	'0', 'the database without pgq never kept a worker');
is(pgq_log_problems(log_since($node, $offset)), '',
	'dropping and creating logged no problems');

#
# Processes terminated by hand come back: a worker at once, the launcher
# after its restart time, replacing the workers it can no longer watch.
#
my $worker = worker_pids($node, 'db3');
$node->safe_psql('postgres', "select pg_terminate_backend($worker)");
ok( $node->poll_query_until(
		'postgres',
		"select count(*) = 1 from pg_stat_activity where backend_type = 'pgq ticker' and datname = 'db3' and pid <> $worker"
	),
	'a terminated worker is replaced');
my $launcher = $node->safe_psql('postgres',
	"select pid from pg_stat_activity where backend_type = 'pgq launcher'");
$worker = worker_pids($node, 'db3');
$node->safe_psql('postgres', "select pg_terminate_backend($launcher)");
ok( $node->poll_query_until(
		'postgres',
		"select count(*) = 1 from pg_stat_activity where backend_type = 'pgq launcher' and pid <> $launcher"
	),
	'a terminated launcher comes back');
ok( $node->poll_query_until(
		'postgres',
		"select count(*) = 1 from pg_stat_activity where backend_type = 'pgq ticker' and datname = 'db3' and pid <> $worker"
	),
	'and runs a worker of its own');
produce($node, 'db3', 'q', 2, 5);
ok(drain_until($node, 'db3', 'q', 'c', 5), 'events still flow');

#
# Settings: pgq.ticker_databases limits the served databases and
# pgq.ticker_enabled = off stops the ticker, both on reload.
#
$node->append_conf('postgresql.conf', "pgq.ticker_databases = 'postgres, noext'");
$node->reload;
ok($node->poll_query_until('postgres', "select count(*) = 0 from pg_stat_activity where backend_type = 'pgq ticker'"),
	'a database left out of pgq.ticker_databases loses its worker');
$node->append_conf('postgresql.conf', "pgq.ticker_databases = ''");
$node->reload;
ok( $node->poll_query_until(
		'postgres',
		"select count(*) = 1 from pg_stat_activity where backend_type = 'pgq ticker' and datname = 'db3'"
	),
	'and gets it back when the list is emptied');

$node->append_conf('postgresql.conf', 'pgq.ticker_enabled = off');
$node->reload;
ok($node->poll_query_until('postgres', "select count(*) = 0 from pg_stat_activity where backend_type = 'pgq ticker'"),
	'pgq.ticker_enabled = off stops the workers');
is($node->safe_psql('db3', 'select count(*) from pgq.ticker_status()'),
	'0', 'and pgq.ticker_status() is empty');
my $ticks = tick_count('db3', 'q');
$node->safe_psql('db3', "select pgq.set_queue_config('q', 'ticker_max_lag', '0')");
$node->safe_psql('db3', "select pgq.insert_event('q', 'test', 'waits')");
is(ticker_databases(), '', 'a producer does not bring a worker back');
is(tick_count('db3', 'q'), $ticks, 'nothing ticks while switched off');

$node->append_conf('postgresql.conf', 'pgq.ticker_enabled = on');
$node->reload;
ok($node->poll_query_until('db3', "select count(*) > $ticks from pgq.tick"),
	'switched on again, ticking resumes');

# The launcher and the workers stop promptly and quietly.
$offset = log_offset($node);
$started = time;
$node->stop('fast');
$elapsed = time - $started;
cmp_ok($elapsed, '<', 10, "fast shutdown takes $elapsed s");
is(pgq_log_problems(log_since($node, $offset)), '', 'shutdown logged no problems');
is(pgq_log_problems(slurp_file($node->logfile)), '', 'no pgq process logged a problem during the whole test');

done_testing();
