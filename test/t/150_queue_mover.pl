# queue_mover (tools.md 5.3, test 12): events move from a queue into a
# queue of another database, every field but ev_id kept and in order, the
# batch's tick recorded in pgq_ext in the same target transaction.  A
# SIGKILL after the target commit must not duplicate the batch, one before
# it must not lose it; an unrelated target tick stops the job with "Lost
# position"; a missing target queue holds the batch back until the queue
# exists; --rewind, --reset and --unregister act on pgq_ext as documented.
# Runs with the target in another database of the same cluster and in
# another cluster, the latter as a daemon (-d, stopped with -s).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use PostgreSQL::Test::Utils;
use QueueMoverTest;
use TestFiles;
use Test::More;

my $dir = PostgreSQL::Test::Utils::tempdir;

# Source queue srcq in "postgres"; target queue dstq in database "target"
# of the same cluster and in "postgres" of a second cluster.
my $node  = mover_node('mover_a', postgres => ['srcq'], target => ['dstq']);
my $other = mover_node('mover_b', postgres => ['dstq']);

# The command line
{
	my ($rc, $out, $err) = run_job({ program => 'queue_mover' }, '--help');
	is($rc, 0, '--help exits 0');
	like($out, qr/queue_mover/, '--help names the program');
	($rc, $out) = run_job({ program => 'queue_mover' }, '--version');
	like($out, qr/^queue_mover/, '--version');
	($rc, $out) = run_job({ program => 'queue_mover' }, '--ini');
	is($rc, 0, '--ini exits 0');
	like($out, qr/^\[queue_mover3\]$/m, '--ini prints the main section');
	like($out, qr/^dst_queue_name = /m, '--ini names dst_queue_name');
	($rc, $out, $err) = run_job({ program => 'queue_mover3' }, '--version');
	is($rc, 0, 'queue_mover3 is installed too');
}

my $job = new_job(
	program => 'queue_mover',
	dir     => $dir,
	name    => 'mover',
	src     => [ $node, 'postgres' ],
	dst     => [ $node, 'target' ],
	queue   => 'srcq',
	ini_extra => "dst_queue_name = dstq\n");

# A config without dst_queue_name is refused.
write_job_ini($job, '');
my ($rc, $out, $err) = run_job($job, $job->{ini});
is($rc, 1, 'no dst_queue_name: exit 1');
like(slurp_file($job->{log}) . $err, qr/dst_queue_name/, 'the error names the key');
write_job_ini($job, "dst_queue_name = dstq\n");

# Nor is one that moves the source queue into itself.
my $loop = new_job(
	program   => 'queue_mover',
	dir       => $dir,
	name      => 'loop',
	src       => [ $node, 'postgres' ],
	dst       => [ $node, 'postgres' ],
	queue     => 'srcq',
	ini_extra => "dst_queue_name = srcq\n");
($rc, $out, $err) = run_job($loop, $loop->{ini});
is($rc, 1, 'a queue moved into itself: exit 1');
like(slurp_file($loop->{log}), qr/dst_queue_name "srcq" in dst_db is the source queue itself/,
	'the error says why');

($rc, $out, $err) = run_job($job, $job->{ini}, '--register');
is($rc, 0, '--register') or diag $err;
is( $node->safe_psql('postgres',
		"select count(*) from pgq.get_consumer_info('srcq', 'mover')"),
	1, 'the consumer is registered on the source');

# Target ids must differ from source ids: give the target queue a head start.
$node->safe_psql('target',
	"select pgq.insert_event('dstq', 'old', 'x') from generate_series(1, 7)");

# Three batches, moved by one run.
produce($node, 'postgres', 'srcq', 1,  10);
produce($node, 'postgres', 'srcq', 11, 25);
produce($node, 'postgres', 'srcq', 26, 30);
start_job($job, '-v');
ok(wait_caught_up($job), 'the mover caught up with three batches');
is(stop_job($job), 0, 'SIGINT stops the mover with exit 0');

is(queue_rows($node, 'target', 'dstq', "ev_type is distinct from 'old'"),
	queue_rows($node, 'postgres', 'srcq'),
	'every field but ev_id arrived, in order');
is( $node->safe_psql(
		'target',
		"select min(ev_id) > 7 from " . $node->safe_psql('target',
			"select queue_data_pfx from pgq.queue where queue_name = 'dstq'")
		  . " where ev_type is distinct from 'old'"),
	't', 'the target queue numbered the events itself');
my ($last_tick) = split /\|/, consumer_info($node, 'postgres', 'srcq', 'mover');
is($node->safe_psql('target', "select pgq_ext.get_last_tick('mover')"),
	$last_tick, 'pgq_ext has the last tick of the source position');
like(slurp_file($job->{log}), qr/INFO \{count: 15, /,
	'the stats line counts the events of a batch');

# SIGKILL between the target commit and finish_batch: the restarted mover
# finds the batch's tick in pgq_ext and skips it.
produce($node, 'postgres', 'srcq', 31, 50);
my ($tick, $batch) = split /\|/, crash_after_target_commit($job);
is(consumer_info($node, 'postgres', 'srcq', 'mover'),
	"$last_tick|$batch", 'after the kill the batch is still open on the source');
is($node->safe_psql('target', "select pgq_ext.get_last_tick('mover')"),
	$tick, 'and pgq_ext has its tick');
is(queue_count($node, 'target', 'dstq', "ev_data ~ '^data (3[1-9]|4.|50):'"),
	20, 'and the target has its events');
start_job($job);
ok(wait_caught_up($job), 'the restarted mover finished the batch');
is(stop_job($job), 0, 'and stopped');
is(queue_rows($node, 'target', 'dstq', "ev_type is distinct from 'old'"),
	queue_rows($node, 'postgres', 'srcq'),
	'no event was copied twice');

# SIGKILL before the target commit: nothing of the batch is in the
# target, the restarted mover applies it.
produce($node, 'postgres', 'srcq', 51, 60);
$batch = crash_before_target_commit($job);
like($batch, qr/^\d+$/, 'the batch was open when the mover died');
is(queue_count($node, 'target', 'dstq', "ev_data ~ '^data (5[1-9]|60):'"),
	0, 'the target has none of its events');
start_job($job);
ok(wait_caught_up($job), 'the restarted mover applied the batch');
is(stop_job($job), 0, 'and stopped');
is(queue_rows($node, 'target', 'dstq', "ev_type is distinct from 'old'"),
	queue_rows($node, 'postgres', 'srcq'),
	'no event was lost');

# An unrelated tick in pgq_ext: "Lost position", exit 1, nothing moved.
produce($node, 'postgres', 'srcq', 61, 65);
my $position = consumer_info($node, 'postgres', 'srcq', 'mover');
($last_tick) = split /\|/, $position;
$node->safe_psql('target', "select pgq_ext.set_last_tick('mover', 999999)");
start_job($job);
$job->{handle}->finish;
is($job->{handle}->result(0), 1, 'Lost position: exit 1');
like(slurp_file($job->{log}), qr/Lost position: batch \d+\.\.\d+, dst has 999999/,
	'the log says "Lost position"');
is(queue_count($node, 'target', 'dstq', "ev_data ~ '^data 6[1-5]:'"),
	0, 'nothing was moved');
is((split /\|/, consumer_info($node, 'postgres', 'srcq', 'mover'))[0],
	$last_tick, 'the source position did not move');

# --rewind moves the source position to the target's tick (an earlier
# tick here), --reset forgets the target's tick.
my $earlier = $node->safe_psql('postgres',
	"select max(tick_id) from pgq.tick where tick_id < $last_tick");
$node->safe_psql('target', "select pgq_ext.set_last_tick('mover', $earlier)");
($rc, $out, $err) = run_job($job, $job->{ini}, '--rewind');
is($rc, 0, '--rewind') or diag $err;
is((split /\|/, consumer_info($node, 'postgres', 'srcq', 'mover'))[0],
	$earlier, '--rewind set the source position to the target tick');
($rc, $out, $err) = run_job($job, $job->{ini}, '--reset');
is($rc, 0, '--reset') or diag $err;
is( $node->safe_psql('target',
		"select pgq_ext.get_last_tick('mover') is null"),
	't', '--reset cleared the tick in pgq_ext');

# Back on track: set the target tick to the real position again.
$node->safe_psql('target', "select pgq_ext.set_last_tick('mover', $last_tick)");
$node->safe_psql('postgres',
	"select pgq.register_consumer_at('srcq', 'mover', $last_tick)");

# A missing target queue: the batch fails and is retried, nothing is
# applied and the source position stays; once the queue exists the batch
# goes through once.
write_job_ini($job, "dst_queue_name = lateq\n");
start_job($job);
ok(wait_log($job, qr/ERROR .*lateq/, 2), 'missing target queue: error logged and retried');
is((split /\|/, consumer_info($node, 'postgres', 'srcq', 'mover'))[0],
	$last_tick, 'the source position did not move');
is($node->safe_psql('target', "select pgq_ext.get_last_tick('mover')"),
	$last_tick, 'nor did the tick in pgq_ext');
create_queue($node, 'target', 'lateq');
ok(wait_caught_up($job), 'once the queue exists the batch goes through');
is(stop_job($job), 0, 'and the mover stops');
is(queue_rows($node, 'target', 'lateq'),
	queue_rows($node, 'postgres', 'srcq', "ev_data ~ '^data 6[1-5]:'"),
	'the held batch arrived once, whole');

# --unregister drops the consumer and its pgq_ext tracking.
($rc, $out, $err) = run_job($job, $job->{ini}, '--unregister');
is($rc, 0, '--unregister') or diag $err;
is( $node->safe_psql('postgres',
		"select count(*) from pgq.get_consumer_info('srcq', 'mover')"),
	0, '--unregister removed the consumer from the source');
is( $node->safe_psql('target',
		"select count(*) from pgq_ext.completed_tick where consumer_id = 'mover'"),
	0, '--unregister removed the tracking in pgq_ext');

# Another cluster as the target, as a daemon with the [queue_mover]
# section name.
my $far = new_job(
	program   => 'queue_mover',
	section   => 'queue_mover',
	dir       => $dir,
	name      => 'far_mover',
	src       => [ $node,  'postgres' ],
	dst       => [ $other, 'postgres' ],
	queue     => 'srcq',
	ini_extra => "dst_queue_name = dstq\n");
($rc, $out, $err) = run_job($far, $far->{ini}, '--register');
is($rc, 0, 'far mover: --register') or diag $err;
produce($node, 'postgres', 'srcq', 71, 90);
produce($node, 'postgres', 'srcq', 91, 95);
($rc, $out, $err) = run_job($far, '-d', $far->{ini});
is($rc, 0, 'far mover: -d starts the daemon') or diag $err;
ok(-e $far->{pidfile}, 'the daemon wrote its pidfile');
ok(wait_caught_up($far), 'the daemon caught up');
($rc, $out, $err) = run_job($far, '-s', $far->{ini});
is($rc, 0, '-s signals the daemon') or diag $err;
ok(poll_until(sub { !-e $far->{pidfile} }), 'the daemon stopped and removed its pidfile');
is(queue_rows($other, 'postgres', 'dstq'),
	queue_rows($node, 'postgres', 'srcq', "ev_data ~ '^data (7.|8.|9.):'"),
	'far mover: every event arrived once, fields and order kept');

# Crash points across clusters as well.
produce($node, 'postgres', 'srcq', 101, 110);
crash_after_target_commit($far);
produce($node, 'postgres', 'srcq', 111, 120);
start_job($far);
ok(wait_caught_up($far), 'far mover: restarted after the kill and caught up');
is(stop_job($far), 0, 'far mover: stopped');
is(queue_rows($other, 'postgres', 'dstq'),
	queue_rows($node, 'postgres', 'srcq', "ev_data ~ '^data (7.|8.|9.|1..):'"),
	'far mover: no duplicate after the kill');

# Without superuser rights: the source needs pgq_reader, pgq_ext needs
# pgq_writer, and writing the target queue's event table directly needs
# pgq_admin on the target.  Lacking it is an error like any other target
# error: the batch waits, nothing is lost.
$node->safe_psql('postgres',
	'create role mover_user login in role pgq_reader, pgq_writer');
create_queue($node, 'target', 'plainq');
my $plain = new_job(
	program   => 'queue_mover',
	dir       => $dir,
	name      => 'plain_mover',
	user      => 'mover_user',
	src       => [ $node, 'postgres' ],
	dst       => [ $node, 'target' ],
	queue     => 'srcq',
	ini_extra => "dst_queue_name = plainq\n");
($rc, $out, $err) = run_job($plain, $plain->{ini}, '--register');
is($rc, 0, 'plain_mover: --register as a pgq_reader') or diag $err;
produce($node, 'postgres', 'srcq', 121, 130);
start_job($plain);
ok(wait_log($plain, qr/crashed: target queue "plainq": .*permission denied/, 2),
	'without pgq_admin on the target: permission denied, retried');
is($node->safe_psql('target', "select pgq_ext.get_last_tick('plain_mover') is null"),
	't', 'nothing recorded in pgq_ext');
$node->safe_psql('postgres', 'grant pgq_admin to mover_user');
ok(wait_caught_up($plain), 'with pgq_admin the batch goes through');

# Batches larger than the writer's 8 MB buffer are written in several
# COPYs of one transaction, with values longer than a COPY message.
$node->safe_psql(
	'postgres', q{
select pgq.insert_event('srcq', 'big', repeat(md5(i::text) || E'\t\\\n', 30000))
  from generate_series(1, 12) i;
select pgq.ticker('srcq');
});
ok(wait_caught_up($plain), 'a batch of 12 MB went through');

# Reload (-r): a config without dst_queue_name is refused and the old
# target stays; a new dst_queue_name applies from the next batch.
write_job_ini($plain, '');
($rc, $out, $err) = run_job($plain, '-r', $plain->{ini});
is($rc, 0, '-r signals the mover') or diag $err;
ok(wait_log($plain, qr/ERROR config key dst_queue_name is missing/),
	'the reloaded config without dst_queue_name is refused');
produce($node, 'postgres', 'srcq', 131, 135);
ok(wait_caught_up($plain), 'the mover goes on');
is(queue_count($node, 'target', 'plainq', "ev_data ~ '^data 13[1-5]:'"),
	5, 'into the old target queue');
create_queue($node, 'target', 'plainq2');
write_job_ini($plain, "dst_queue_name = plainq2\n");
run_job($plain, '-r', $plain->{ini});
ok(wait_log($plain, qr/INFO Config reloaded/), 'the new config is taken');
produce($node, 'postgres', 'srcq', 136, 140);
ok(wait_caught_up($plain), 'the mover goes on');
is(queue_rows($node, 'target', 'plainq2'),
	queue_rows($node, 'postgres', 'srcq', "ev_data ~ '^data 1(3[6-9]|40):'"),
	'into the new target queue');
is(stop_job($plain), 0, 'plain_mover stopped');
is(queue_digest($node, 'target', 'plainq'),
	queue_digest($node, 'postgres', 'srcq', "ev_type = 'big' or ev_data ~ '^data (12[1-9]|13[0-5]):'"),
	'the batches arrived once, whole');
like(slurp_file($plain->{log}), qr/INFO \{count: 12, /, 'the big batch was one batch');

# A target database in another encoding: the events are sent in the
# source's encoding and converted (produce() puts an e-acute in ev_data).
$node->safe_psql('postgres',
	"create database latin1 encoding 'LATIN1' locale 'C' template template0");
$node->safe_psql('latin1', 'create extension pgq; create extension pgq_ext');
create_queue($node, 'latin1', 'latinq');
my $latin = new_job(
	program   => 'queue_mover',
	dir       => $dir,
	name      => 'latin_mover',
	src       => [ $node, 'postgres' ],
	dst       => [ $node, 'latin1' ],
	queue     => 'srcq',
	ini_extra => "dst_queue_name = latinq\n");
($rc, $out, $err) = run_job($latin, $latin->{ini}, '--register');
is($rc, 0, 'latin_mover: --register') or diag $err;
produce($node, 'postgres', 'srcq', 141, 145);
start_job($latin);
ok(wait_caught_up($latin), 'latin_mover caught up');
is(stop_job($latin), 0, 'latin_mover stopped');
{
	local $ENV{PGCLIENTENCODING} = 'UTF8';
	is(queue_rows($node, 'latin1', 'latinq'),
		queue_rows($node, 'postgres', 'srcq', "ev_data ~ '^data 14[1-5]:'"),
		'the LATIN1 target has the same text');
	is( $node->safe_psql('latin1',
			"select count(*) from pgq.event_template where ev_data like E'%\\u00e9 end'"),
		5, 'converted, not stored as UTF-8 bytes');
}

# ev_time goes to the target as binary COPY, read from the ISO text the
# source prints in the mover's session time zone: every offset form (whole
# hours, minutes, the seconds of local mean time), BC years, years past
# 9999, fractions and both infinities must arrive as the same instant,
# whatever that zone is.
create_queue($node, 'postgres', 'timeq');
create_queue($node, 'target',   'timeq');
my @times = (
	'infinity', '-infinity', '4714-11-24 00:00:00+00 BC',
	'0044-03-15 12:00:00.5+00 BC', '0001-01-01 00:00:00+00',
	'1850-06-01 12:00:00+00', '1900-01-01 00:00:00.000001+00',
	'1999-12-31 23:59:59.999999+00', '2000-01-01 00:00:00+00',
	'2000-02-29 12:34:56.12+00', '2026-03-29 01:30:00+00',
	'2026-10-25 03:30:00.1+00', '10000-01-01 00:00:00+00',
	'200000-06-01 00:00:00+00');
$node->safe_psql('postgres',
	join(";\n",
		(map { "select pgq.insert_event_raw('timeq', null, '$times[$_]', null, null, 't', '$_', null, null, null, null)" } 0 .. $#times),
		"select pgq.ticker('timeq')"));
$node->append_conf('postgresql.conf', "log_statement = 'all'");
$node->reload;
foreach my $zone ('Asia/Kathmandu', 'America/St_Johns')
{
	(my $name = lc "time_$zone") =~ s/\W/_/g;
	my $tz_job = new_job(
		program   => 'queue_mover',
		dir       => $dir,
		name      => $name,
		src       => [ $node, 'postgres' ],
		dst       => [ $node, 'target' ],
		queue     => 'timeq',
		ini_extra => "dst_queue_name = timeq\n");
	local $ENV{PGTZ} = $zone;
	($rc, $out, $err) = run_job($tz_job, $tz_job->{ini}, '--register');
	is($rc, 0, "$name: --register") or diag $err;
	$node->safe_psql('postgres',
		"select pgq.register_consumer_at('timeq', '$name', 1)");
	# the first zone's events go, so that both runs compare all of them
	$node->safe_psql('target',
		"select pgq.ticker('timeq'); truncate "
		  . $node->safe_psql('target',
			"select queue_data_pfx from pgq.queue where queue_name = 'timeq'"));
	my $log_offset = -s $node->logfile;
	start_job($tz_job);
	ok(wait_caught_up($tz_job), "$name: caught up");
	is(stop_job($tz_job), 0, "$name: stopped");
	is(queue_rows($node, 'target', 'timeq'),
		queue_rows($node, 'postgres', 'timeq'),
		"$name: every ev_time arrived as the same instant");
	like(slurp_file($node->logfile, $log_offset),
		qr/copy "pgq"\."event_\d+_\d+" \(ev_time, .*\) from stdin \(format binary\)/,
		"$name: written with a binary COPY");
}
$node->append_conf('postgresql.conf', "log_statement = 'none'");
$node->reload;

done_testing();
