# The source commits that libpgq makes without waiting for the WAL flush
# (doc/libpgq.md, "The batch loop"), lost for real: the source server is
# stopped with "immediate" while the commit is still in its WAL buffers,
# and the consumer must neither lose nor double an event after that.
#   PLAIN takes its batch that way: after the crash the batch is no longer
#   open, and is taken and applied again (at least once, as always).
#   SERIAL finishes its batch that way (its take waits for the flush):
#   after the crash the batch is open again, the target's pgq_ext tick
#   says it was applied, and it is only finished.
#   LOCAL the same, with the tracking file in place of the target's tick.
# The source keeps the WAL of such a commit in memory: no ticker, no
# autovacuum, no background writer, and the WAL writer stopped (SIGSTOP)
# from the start of the server; the crash is that WAL writer's SIGKILL.

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
autovacuum = off
bgwriter_lru_maxpages = 0
});

# Start the source with its WAL writer stopped: async commits then stay in
# the WAL buffers until a synchronous commit writes them, or a crash.
my $wal_writer;

sub start_source
{
	$src->start;
	$wal_writer = $src->safe_psql('postgres',
		"select pid from pg_stat_activity where backend_type = 'walwriter'");
	kill 'STOP', $wal_writer or die "could not stop the WAL writer $wal_writer: $!";
	return;
}

# Killing a server process makes the postmaster end all others at once
# (restart_after_crash is off in test clusters): what has not been
# written from the WAL buffers is lost.
sub crash_source
{
	kill 'KILL', $wal_writer;
	# the postmaster removes its pid file last (whoever reaps it, later)
	poll_until(sub { !-e $src->data_dir . '/postmaster.pid' })
	  or die "the source did not go down";
	# pg_ctl finds no server; this brings the node's state up to date
	$src->stop('immediate', fail_ok => 1);
	return;
}

start_source();
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

# A consumer NAME of FLAVOUR registered, with five events (FIRST..) in
# one new batch; returns its ini, start tick and batch end tick.
sub new_consumer
{
	my ($name, $flavour, $first, %keys) = @_;
	my $ini = write_ini($dst, $dir, $name, src_db => $src->connstr('src'),
		dst_db => $dst->connstr('dst'), event_delay => '0.2', %keys);
	my ($rc, $out, $err) = run_probe($flavour, '--register', $ini);
	is($rc, 0, "$name: --register") or diag $err;
	my ($start_tick) = split /\|/, consumer_info($name);
	produce($src, 'ev', $first, $first + 4);
	tick();
	return ($ini, $start_tick, $src->safe_psql('src', 'select max(tick_id) from pgq.tick'));
}

# Crash the source while the consumer is where $stop_at leaves it;
# $stop_at returns what to undo after the crash.
sub crash_source_in_batch
{
	my ($name, $flavour, $ini, $stop_at) = @_;
	my $h = start_probe($flavour, $ini);
	ok(wait_source_session($name, 'idle in transaction', '%get_batch_cursor%'),
		"$name: the consumer is inside its batch");
	my $cleanup = $stop_at->();
	crash_source();
	kill_probe($h);
	$cleanup->();
	start_source();
	return;
}

# Let the consumer finish its batch and hold its next pgq.next_batch_custom
# on a lock of pgq.tick (it reads the ticks after locking the
# subscription): the finish is then done, and the consumer does nothing
# more before the crash.  $recorded gives the tick the record holds.
sub after_finish
{
	my ($name, $batch_tick, $recorded) = @_;
	return sub {
		my $locker = IPC::Run::start(
			[
				'psql', '-X', '-q', '-d', $src->connstr('src'), '-c',
				'begin; lock table pgq.tick in access exclusive mode; select pg_sleep(600)'
			],
			'<', \undef, '>', \my $lock_out, '2>', \my $lock_err);
		ok(wait_blocked($src, 'src', $name, '%next_batch_custom%'),
			"$name: the batch is finished and the next one waits");
		is($recorded->(), $batch_tick, "$name: the batch is recorded");
		return sub { $locker->finish; };
	};
}

# After the crash: the consumer, started again, has finished the batch
# and applied each of its events once.
sub recovers
{
	my ($name, $flavour, $ini, $batch_tick) = @_;
	my $h = start_probe($flavour, $ini);
	ok(wait_applied($dst, "applied_$name", 5), "$name: the batch is applied");
	ok( $src->poll_query_until('src',
			"select current_batch is null and last_tick = $batch_tick from pgq.get_consumer_info('q', '$name')"
		),
		"$name: and finished after the crash");
	kill_probe($h);
	return;
}

#### PLAIN: the batch is taken without a flush

my ($ini, $start_tick, $batch_tick) = new_consumer('plain', 'plain', 1);
crash_source_in_batch('plain', 'plain', $ini,
	sub { is(consumer_info('plain'), "$start_tick|t", 'plain: the batch is open'); sub { } });
is(consumer_info('plain'), "$start_tick|f",
	'plain: the crash lost the commit that took the batch');
recovers('plain', 'plain', $ini, $batch_tick);
is($dst->safe_psql('dst', 'select count(distinct ev_id) from applied_plain'),
	5, 'plain: every event arrived');

#### SERIAL: the batch is finished without a flush

($ini, $start_tick, $batch_tick) = new_consumer('serial', 'serial', 11);
crash_source_in_batch('serial', 'serial', $ini,
	after_finish('serial', $batch_tick,
		sub { $dst->safe_psql('dst', "select pgq_ext.get_last_tick('serial')") }));
is(consumer_info('serial'), "$start_tick|t",
	'serial: the crash lost the commit that finished the batch');
recovers('serial', 'serial', $ini, $batch_tick);
like(slurp("$dir/serial.log"), qr/batch \d+ \(ticks $start_tick\.\.$batch_tick\) was already applied, finishing it/,
	'serial: as a batch already applied');
is(applied_stats($dst, 'applied_serial'), '5 5', 'serial: every event once');

#### LOCAL: the same, with the tracking file

($ini, $start_tick, $batch_tick) = new_consumer('local', 'local', 21,
	local_tracking_file => "$dir/local.tick");
crash_source_in_batch('local', 'local', $ini,
	after_finish('local', $batch_tick, sub { slurp("$dir/local.tick") =~ s/\s+$//r }));
is(consumer_info('local'), "$start_tick|t",
	'local: the crash lost the commit that finished the batch');
recovers('local', 'local', $ini, $batch_tick);
like(slurp("$dir/local.log"), qr/Tracking out of sync: queue=$start_tick local=$batch_tick\.  Repositioning on queue/,
	'local: the file moved the queue past the batch');
is(applied_stats($dst, 'applied_local'), '5 5', 'local: every event once');

# the source's shutdown at the end waits for its WAL writer
kill 'CONT', $wal_writer;

done_testing();
