# The source commits that libpgq makes without waiting for the WAL flush
# (doc/libpgq.md, "The batch loop"), lost for real: the source server is
# stopped with "immediate" while the commit is still in its WAL buffers,
# and the consumer must neither lose nor double an event after that.
#   PLAIN takes its batch that way: after the crash the batch is no longer
#   open, and is taken and applied again (at least once, as always).
#   SERIAL finishes its batch that way: after the crash the batch is open
#   again, the target's pgq_ext tick says it was applied, and it is only
#   finished.
# The source keeps the WAL of such a commit in memory: no ticker, no
# autovacuum, no background writer, and the WAL writer only every 10 s.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LibpgqTest;

ok(-x $probe, 'libpgq_probe is built') or die "run make first";

my $dir = PostgreSQL::Test::Utils::tempdir;

my $src = PostgreSQL::Test::Cluster->new('async_src');
$src->init;
# wal_level = replica: with the test clusters' minimal, a sequence created
# in the transaction of pgq.create_queue() loses its state in the crash.
$src->append_conf('postgresql.conf', q{
wal_level = replica
wal_writer_delay = '10s'
autovacuum = off
bgwriter_lru_maxpages = 0
});
$src->start;
$src->safe_psql('postgres', 'create database src');
$src->safe_psql('src', q{
create extension pgq;
select pgq.create_queue('q');
select pgq.set_queue_config('q', 'ticker_max_count', '1');
});

my $dst = PostgreSQL::Test::Cluster->new('async_dst');
$dst->init;
$dst->start;
$dst->safe_psql('postgres', 'create database dst');
$dst->safe_psql('dst', 'create extension pgq_ext cascade');

sub consumer_info
{
	my ($name) = @_;
	return $src->safe_psql('src',
		"select last_tick, current_batch is not null from pgq.get_consumer_info('q', '$name')");
}

# The probe's source session, in the state and statement given
sub wait_source_session
{
	my ($name, $state, $like) = @_;
	return $src->poll_query_until('src', qq{
select count(*) > 0 from pg_stat_activity
 where application_name = '$name' and state = '$state' and query like '$like'});
}

sub kill_probe
{
	my ($h) = @_;
	$h->signal('KILL');
	$h->finish;
	return;
}

sub tick
{
	$src->safe_psql('src', "select pgq.ticker('q')");
	return;
}

#### PLAIN: the batch is taken without a flush

my $ini = write_ini($dst, $dir, 'plain', src_db => $src->connstr('src'),
	dst_db => $dst->connstr('dst'), event_delay => '0.2');
my ($rc, $out, $err) = run_probe('plain', '--register', $ini);
is($rc, 0, 'plain: --register') or diag $err;
my ($start_tick) = split /\|/, consumer_info('plain');
produce($src, 'ev', 1, 5);
tick();

my $h = start_probe('plain', $ini);
ok(wait_source_session('plain', 'idle in transaction', '%get_batch_cursor%'),
	'plain: the consumer is inside its batch');
is(consumer_info('plain'), "$start_tick|t", 'plain: the batch is open');
$src->stop('immediate');
kill_probe($h);
$src->start;
is(consumer_info('plain'), "$start_tick|f",
	'plain: the crash lost the commit that took the batch');

$h = start_probe('plain', $ini);
ok(wait_applied($dst, 'applied_plain', 5), 'plain: the batch is applied after the crash');
ok( $src->poll_query_until('src',
		"select current_batch is null and last_tick > $start_tick from pgq.get_consumer_info('q', 'plain')"),
	'plain: and finished');
kill_probe($h);
is($dst->safe_psql('dst', 'select count(distinct ev_id) from applied_plain'),
	5, 'plain: every event arrived');

#### SERIAL: the batch is finished without a flush

# The next pgq.next_batch_custom waits for this lock (it reads pgq.tick
# after locking the subscription), so that no later commit of the consumer
# flushes the finish before the crash.
$ini = write_ini($dst, $dir, 'serial', src_db => $src->connstr('src'),
	dst_db => $dst->connstr('dst'), event_delay => '0.2');
($rc, $out, $err) = run_probe('serial', '--register', $ini);
is($rc, 0, 'serial: --register') or diag $err;
($start_tick) = split /\|/, consumer_info('serial');
produce($src, 'ev', 11, 15);
tick();
my $batch_tick = $src->safe_psql('src', 'select max(tick_id) from pgq.tick');

$h = start_probe('serial', $ini);
ok(wait_source_session('serial', 'idle in transaction', '%get_batch_cursor%'),
	'serial: the consumer is inside its batch');
my $locker = IPC::Run::start(
	[
		'psql', '-X', '-q', '-d', $src->connstr('src'), '-c',
		'begin; lock table pgq.tick in access exclusive mode; select pg_sleep(600)'
	],
	'<', \undef, '>', \my $lock_out, '2>', \my $lock_err);
ok(wait_blocked($src, 'src', 'serial', '%next_batch_custom%'),
	'serial: the batch is finished and the next one waits');
is($dst->safe_psql('dst', "select pgq_ext.get_last_tick('serial')"),
	$batch_tick, 'serial: the target has recorded the batch');
$src->stop('immediate');
kill_probe($h);
$locker->finish;
$src->start;
is(consumer_info('serial'), "$start_tick|t",
	'serial: the crash lost the commit that finished the batch');

$h = start_probe('serial', $ini);
ok( $src->poll_query_until('src',
		"select current_batch is null and last_tick = $batch_tick from pgq.get_consumer_info('q', 'serial')"
	),
	'serial: the batch is finished after the crash');
kill_probe($h);
like(slurp("$dir/serial.log"), qr/batch \d+ \(ticks $start_tick\.\.$batch_tick\) was already applied, finishing it/,
	'serial: as a batch already applied');
is($dst->safe_psql('dst', "select count(*) || ' ' || count(distinct ev_id) from applied_serial"),
	'5 5', 'serial: every event once');

done_testing();
