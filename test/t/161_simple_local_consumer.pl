# simple_local_consumer (spec tools.md 5.3, test 15): the tracking file
# advances per batch, written to FILE.new, fsync'd and renamed (seen with
# strace); a crash after the queries but before the file is written, and a
# kill in the middle of a batch, re-apply only that batch; a file ahead of
# or behind the queue repositions the queue; a deleted file is re-seeded
# from the queue; --rewind and --reset; a failing fsync or a full disk
# under the tracking file is an error that loses nothing; a missing
# tracking directory is a clear error; sql_retry survives a lost target
# connection.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use IPC::Run;
use PostgreSQL::Test::Utils;
use SimpleConsumerTest;
use Test::More;
use TestFiles;

foreach my $tool ('strace', 'fiu-run')
{
	my $found = grep { -x "$_/$tool" } split(/:/, $ENV{PATH});
	ok($found, "$tool is installed")
	  or die "this test needs $tool (Debian packages strace, fiu-utils)";
}

my $prog = 'simple_local_consumer';
my $dir  = PostgreSQL::Test::Utils::tempdir;
my $node = setup_simple('local');
mkdir "$dir/state" or die;
my $job   = 'local_job';
my $ini   = "$dir/$job.ini";
my $track = "$dir/state/$job.tick";
write_file($ini,
	simple_ini($node, 'simple_local_consumer3',
		"local_tracking_file = $dir/state/%(job_name)s.tick\n"));

sub tracked
{
	return -e $track ? (slurp_file($track) =~ s/\s+$//r) : '<none>';
}

# Count of rows in applied per value of name, as "name=count ...".
sub applied_counts
{
	my ($like) = @_;
	return $node->safe_psql('dst',
		"select string_agg(name || '=' || n, ' ' order by name) from "
		  . "(select name, count(*) n from applied where name like '$like' group by name) s");
}

sub produce
{
	my ($prefix, $count) = @_;
	$node->safe_psql('postgres',
		"select pgq.insert_event('sq', 'I:id', 'id=' || i || '&name=$prefix-' || i, 'public.data', null, null, null) from generate_series(1, $count) i"
	);
	return tick($node);
}

my ($rc, $out, $err);

#### --ini and the compatibility name

($rc, $out, $err) = run_prog('simple_local_consumer3', '--ini');
is($rc, 0, 'simple_local_consumer3 --ini exits 0');
like($out, qr/^\[simple_local_consumer3\]$/m, '--ini: the main section');
like($out, qr/^local_tracking_file = .*%\(job_name\)s/m, '--ini: local_tracking_file');
like($out, qr/^#sql_retry = 0$/m, '--ini: the sql_retry keys');

#### the tracking directory must exist

write_file("$dir/nodir.ini",
	simple_ini($node, 'simple_local_consumer',
		"local_tracking_file = $dir/no/such/dir/x.tick\n"));
($rc, $out, $err) = run_prog($prog, "$dir/nodir.ini");
is($rc, 1, 'missing tracking directory: exit 1');
like($err, qr{\Q$dir\E/no/such/dir}, 'missing tracking directory: the path is named');

#### registration seeds the file; each batch advances it

($rc, $out, $err) = run_prog($prog, $ini, '--register');
is($rc, 0, '--register exits 0') or diag($err);
my $reg_tick = consumer_tick($node, $job);
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 0, 'first run without a batch: exit 0') or diag($err);
like($err, qr/Local tick missing, storing queue tick $reg_tick/,
	'first run: the file is seeded from the queue');
is(tracked(), $reg_tick, 'first run: the file holds the queue tick');

my $t1 = produce('a', 3);
my $t2 = produce('b', 3);
($rc, $out, $err) = run_prog('strace', '-f', '-y', '-o', "$dir/trace",
	'-e', 'trace=openat,write,fsync,fdatasync,rename,renameat,renameat2',
	$prog, $ini);
is($rc, 0, 'batch 1 under strace: exit 0') or diag($err);
is(tracked(), $t1, 'batch 1: the file holds its tick');
is(applied_counts('a-%'), 'a-1=1 a-2=1 a-3=1', 'batch 1 applied once');
is(applied_counts('b-%'), '', 'batch 2 not yet applied');

# The order of the system calls on the tracking file.
my @calls = grep { /\Q$track\E/ } split /\n/, slurp_file("$dir/trace");
my @kinds = map {
		/openat\(.*\Q$track\E\.new.*O_CREAT/ ? 'create'
	  : /write\(\d+<\Q$track\E\.new>/          ? 'write'
	  : /fsync\(\d+<\Q$track\E\.new>/          ? 'fsync'
	  : /rename\w*\(.*\Q$track\E\.new.*\Q$track\E"/ ? 'rename'
	  :                                          ()
} @calls;
is_deeply(\@kinds, [ 'create', 'write', 'fsync', 'rename' ],
	'the tick goes to FILE.new, is fsync\'d, then renamed over FILE')
  or diag(join("\n", @calls));
my ($dirsync) = grep { /fsync\(\d+<\Q$dir\E\/state>\)/ } split /\n/,
  slurp_file("$dir/trace");
ok($dirsync, 'the directory is fsync\'d after the rename');

($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 0, 'batch 2: exit 0') or diag($err);
like($err, qr/Ticks match: Queue=$t1 Local=$t1/, 'batch 2: the ticks match at startup');
is(tracked(), $t2, 'batch 2: the file holds its tick');
is(applied_counts('b-%'), 'b-1=1 b-2=1 b-3=1', 'batch 2 applied once');

#### file ahead of the queue: the queue follows the file

$node->safe_psql('postgres', "select pgq.register_consumer_at('sq', '$job', $t1)");
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 0, 'file ahead: exit 0') or diag($err);
like($err, qr/Tracking out of sync: queue=$t1 local=$t2\.  Repositioning on queue/,
	'file ahead: reported');
is(consumer_tick($node, $job), $t2, 'file ahead: the queue position moved to the file\'s tick');
is(applied_counts('b-%'), 'b-1=1 b-2=1 b-3=1', 'file ahead: batch 2 not applied again');

#### file behind the queue: the queue is rewound to it

write_file($track, "$t1\n");
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 0, 'file behind: exit 0') or diag($err);
like($err, qr/Tracking out of sync: queue=$t2 local=$t1\.  Rewinding queue/,
	'file behind: reported');
is(tracked(), $t2, 'file behind: the batch after the file\'s tick was applied');
is(applied_counts('b-%'), 'b-1=2 b-2=2 b-3=2', 'file behind: batch 2 applied again');
is(applied_counts('a-%'), 'a-1=1 a-2=1 a-3=1', 'file behind: batch 1 not applied again');

#### a file but no registration: registered at the file's tick

$node->safe_psql('postgres', "select pgq.unregister_consumer('sq', '$job')");
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 0, 'not registered: exit 0') or diag($err);
like($err, qr/Registering consumer at tick $t2/, 'not registered: registered at the file\'s tick');
is(consumer_tick($node, $job), $t2, 'not registered: the queue position is the file\'s tick');
is(applied_counts('b-%'), 'b-1=2 b-2=2 b-3=2', 'not registered: nothing applied again');

#### a deleted file is re-seeded from the queue

unlink $track;
my $t3 = produce('c', 2);
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 0, 'deleted file: exit 0') or diag($err);
like($err, qr/Local tick missing, storing queue tick $t2/, 'deleted file: re-seeded');
is(tracked(), $t3, 'deleted file: then the next batch applied');
is(applied_counts('c-%'), 'c-1=1 c-2=1', 'deleted file: nothing applied twice');
is(applied_counts('b-%'), 'b-1=2 b-2=2 b-3=2', 'deleted file: nothing old applied again');

#### --rewind and --reset

write_file($track, "$t2\n");
($rc, $out, $err) = run_prog($prog, $ini, '--rewind');
is($rc, 0, '--rewind exits 0') or diag($err);
is(consumer_tick($node, $job), $t2, '--rewind moves the queue to the file\'s tick');
is(tracked(), $t2, '--rewind leaves the file');
($rc, $out, $err) = run_prog($prog, $ini, '--reset');
is($rc, 0, '--reset exits 0') or diag($err);
ok(!-e $track, '--reset removes the file');
is(consumer_tick($node, $job), $t2, '--reset leaves the queue position');
($rc, $out, $err) = run_prog($prog, $ini, '--rewind');
is($rc, 1, '--rewind without a file: exit 1');
like($err, qr/rewind/i, '--rewind without a file: reported');
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 0, 'after --reset: exit 0') or diag($err);
is(tracked(), $t3, 'after --reset: seeded, then the next batch applied');
is(applied_counts('c-%'), 'c-1=2 c-2=2', 'after --rewind and --reset: batch 3 applied again');

#### crash after the queries, before the file is written

# strace kills the program at its first fsync: the one of the new
# tracking file, after every query of the batch has run.
my $t4 = produce('d', 3);
($rc, $out, $err) = run_prog('strace', '-f', '-o', '/dev/null',
	'-e', 'trace=fsync', '-e', 'inject=fsync:signal=KILL', $prog, $ini);
isnt($rc, 0, 'killed at the tracking fsync');
is(applied_counts('d-%'), 'd-1=1 d-2=1 d-3=1', 'killed at the fsync: the queries had run');
is(tracked(), $t3, 'killed at the fsync: the file still holds the previous tick');
is(consumer_tick($node, $job), $t3, 'killed at the fsync: the batch is not finished');
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 0, 'restart after the kill: exit 0') or diag($err);
is(tracked(), $t4, 'restart: the file holds the batch\'s tick');
ok(!-e "$track.new", 'restart: no FILE.new left behind');
is(applied_counts('d-%'), 'd-1=2 d-2=2 d-3=2', 'restart: that batch applied again');
is(applied_counts('c-%'), 'c-1=2 c-2=2', 'restart: earlier batches not applied again');

#### kill -9 in the middle of a batch

# A trigger on applied makes the insert of "block" wait for an advisory
# lock this test holds; the consumer is killed while it waits.
$node->safe_psql('dst', q{
create function wait_for_test() returns trigger language plpgsql as $$
begin
    if new.name like 'block%' then
        perform pg_advisory_xact_lock(4242);
    end if;
    return new;
end $$;
create trigger wait_for_test before insert on applied
    for each row execute function wait_for_test();
});
my $locker = $node->background_psql('dst');
$locker->query_safe('select pg_advisory_lock(4242)');
$node->safe_psql('postgres', q{
select pgq.insert_event('sq', 'I:id', 'id=1&name=e-1', 'public.data', null, null, null);
select pgq.insert_event('sq', 'I:id', 'id=2&name=block-2', 'public.data', null, null, null);
select pgq.insert_event('sq', 'I:id', 'id=3&name=e-3', 'public.data', null, null, null);
});
my $t5 = tick($node);
write_file("$dir/kill.ini",
	slurp_file($ini) . "pidfile = $dir/state/kill.pid\nconsumer_name = $job\njob_name = $job\n");
my ($kout, $kerr) = ('', '');
my $h = IPC::Run::start([ $prog, "$dir/kill.ini" ], '<', \undef, '>', \$kout, '2>', \$kerr);
ok( $node->poll_query_until(
		'dst',
		"select count(*) > 0 from pg_stat_activity where wait_event_type = 'Lock' and wait_event = 'advisory' and application_name = '$job'"
	),
	'the consumer waits in the middle of the batch');
my $pid = slurp_file("$dir/state/kill.pid") =~ s/\s+$//r;
kill 'KILL', $pid;
$h->finish;
# The backend of the killed consumer still waits: end it before the lock
# goes, so that the insert it waits in is not committed.
$node->safe_psql('dst',
	"select pg_terminate_backend(pid) from pg_stat_activity where application_name = '$job' and datname = 'dst'");
ok( $node->poll_query_until(
		'dst',
		"select count(*) = 0 from pg_stat_activity where application_name = '$job'"),
	'the killed consumer\'s backend is gone');
$locker->query_safe('select pg_advisory_unlock(4242)');
is(applied_counts('e-%') . '|' . applied_counts('block-%'), 'e-1=1|',
	'killed mid-batch: only the events before the wait were applied');
is(tracked(), $t4, 'killed mid-batch: the file still holds the previous tick');
($rc, $out, $err) = run_prog($prog, "$dir/kill.ini");
is($rc, 0, 'restart after kill -9 (stale pidfile): exit 0') or diag($err);
is(tracked(), $t5, 'restart: the file holds the batch\'s tick');
is(applied_counts('e-%') . '|' . applied_counts('block-%'), 'e-1=2 e-3=1|block-2=1',
	'restart: that batch applied again from its first event');
is(applied_counts('d-%'), 'd-1=2 d-2=2 d-3=2', 'restart: earlier batches not applied again');

#### sql_retry: the target connection is lost during a query

$locker->query_safe('select pg_advisory_lock(4242)');
my $t6 = produce('block-retry', 2);
write_file("$dir/retry.ini",
	slurp_file("$dir/kill.ini")
	  . "sql_retry = 1\nsql_retry_formula_a = 1\nsql_retry_formula_b = 0\n");
($kout, $kerr) = ('', '');
$h = IPC::Run::start([ $prog, "$dir/retry.ini" ], '<', \undef, '>', \$kout, '2>', \$kerr);
ok( $node->poll_query_until(
		'dst',
		"select count(*) > 0 from pg_stat_activity where wait_event = 'advisory' and application_name = '$job'"
	),
	'sql_retry: the consumer waits in a query');
$node->safe_psql('dst',
	"select pg_terminate_backend(pid) from pg_stat_activity where wait_event = 'advisory' and application_name = '$job'");
$locker->query_safe('select pg_advisory_unlock(4242)');
$h->finish;
is($h->result(0), 0, 'sql_retry: the batch succeeded after the lost connection')
  or diag($kerr);
like($kerr, qr/Retry #1 in 1 seconds/, 'sql_retry: the retry is logged');
is(tracked(), $t6, 'sql_retry: the file holds the batch\'s tick');
is(applied_counts('block-retry-%'), 'block-retry-1=1 block-retry-2=1',
	'sql_retry: each event applied once');

# A stop request ends the wait for a retry: the batch fails and is kept.
$locker->query_safe('select pg_advisory_lock(4242)');
my $t6b = produce('block-stop', 1);
($kout, $kerr) = ('', '');
$h = IPC::Run::start(
	[
		$prog, "$dir/retry.ini", '--set', 'sql_retry_formula_a=3600',
		'--set', 'sql_retry_formula_cap=3600', '--set', 'loop_delay=0.1'
	],
	'<', \undef, '>', \$kout, '2>', \$kerr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
ok( $node->poll_query_until(
		'dst',
		"select count(*) > 0 from pg_stat_activity where wait_event = 'advisory' and application_name = '$job'"
	),
	'stop during a retry wait: the consumer waits in a query');
$node->safe_psql('dst',
	"select pg_terminate_backend(pid) from pg_stat_activity where wait_event = 'advisory' and application_name = '$job'");
ok(poll_until(sub { $h->pump_nb; $kerr =~ /Retry #1 in 3600 seconds/ }),
	'stop during a retry wait: the consumer waits to retry')
  or diag($kerr);
($rc, $out, $err) = run_prog($prog, "$dir/retry.ini", '-s');
is($rc, 0, 'stop during a retry wait: -s signalled') or diag($err);
ok(eval { $h->finish; 1 }, 'stop during a retry wait: the consumer exits')
  or $h->kill_kill;
$locker->query_safe('select pg_advisory_unlock(4242)');
is(tracked(), $t6, 'stop during a retry wait: the file keeps the previous tick');
is(applied_counts('block-stop-%'), '', 'stop during a retry wait: nothing applied');
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 0, 'stop during a retry wait: the next run applies the batch') or diag($err);
is(applied_counts('block-stop-%'), 'block-stop-1=1', 'stop during a retry wait: applied once');
is(tracked(), $t6b, 'stop during a retry wait: then the file holds the batch\'s tick');

# Without sql_retry the lost connection fails the batch.
$locker->query_safe('select pg_advisory_lock(4242)');
my $t7 = produce('block-noretry', 1);
($kout, $kerr) = ('', '');
$h = IPC::Run::start([ $prog, "$dir/kill.ini" ], '<', \undef, '>', \$kout, '2>', \$kerr);
ok( $node->poll_query_until(
		'dst',
		"select count(*) > 0 from pg_stat_activity where wait_event = 'advisory' and application_name = '$job'"
	),
	'no sql_retry: the consumer waits in a query');
$node->safe_psql('dst',
	"select pg_terminate_backend(pid) from pg_stat_activity where wait_event = 'advisory' and application_name = '$job'");
$locker->query_safe('select pg_advisory_unlock(4242)');
$h->finish;
is($h->result(0), 1, 'no sql_retry: the lost connection fails the batch');
is(tracked(), $t6b, 'no sql_retry: the file keeps the previous tick');
$locker->quit;
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 0, 'no sql_retry: the next run applies the batch') or diag($err);
is(tracked(), $t7, 'no sql_retry: then the file holds the batch\'s tick');

#### faults under the tracking file

# fsync fails with EIO: a clear error, the file keeps the previous tick,
# the batch is not finished; the next run applies that batch again.
my $t8 = produce('f', 2);
($rc, $out, $err) = run_prog('fiu-run', '-x', '-c',
	'enable name=posix/io/sync/fsync,failinfo=5', $prog, $ini);
is($rc, 1, 'fsync EIO: exit 1');
like($err, qr/could not sync tracking file "\Q$track\E\.new": Input\/output error/,
	'fsync EIO: a clear error') or diag($err);
is(tracked(), $t7, 'fsync EIO: the file keeps the previous tick');
ok(!-e "$track.new", 'fsync EIO: FILE.new removed');
is(consumer_tick($node, $job), $t7, 'fsync EIO: the batch is not finished');
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 0, 'after fsync EIO: exit 0') or diag($err);
is(tracked(), $t8, 'after fsync EIO: the file holds the batch\'s tick');
is(applied_counts('f-%'), 'f-1=2 f-2=2',
	'after fsync EIO: that batch applied again, nothing lost');

# A full disk: every write(2) fails with ENOSPC, the log's too, so only the
# outcome can be checked.
my $t9 = produce('g', 2);
($rc, $out, $err) = run_prog('fiu-run', '-x', '-c',
	'enable name=posix/io/rw/write,failinfo=28', $prog, $ini);
is($rc, 1, 'ENOSPC: exit 1');
is(tracked(), $t8, 'ENOSPC: the file keeps the previous tick, whole');
ok(!-e "$track.new", 'ENOSPC: FILE.new removed');
is(consumer_tick($node, $job), $t8, 'ENOSPC: the batch is not finished');
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 0, 'after ENOSPC: exit 0') or diag($err);
is(tracked(), $t9, 'after ENOSPC: the file holds the batch\'s tick');
is(applied_counts('g-%'), 'g-1=2 g-2=2', 'after ENOSPC: that batch applied again, nothing lost');
is(applied_counts('f-%'), 'f-1=2 f-2=2', 'after ENOSPC: earlier batches not applied again');

#### a file that does not hold a tick

write_file($track, "garbage\n");
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 1, 'garbage in the file: exit 1');
like($err, qr/does not hold a tick id/, 'garbage in the file: reported');
is(consumer_tick($node, $job), $t9, 'garbage in the file: the queue position is kept');

#### --unregister forgets the file too

write_file($track, "$t9\n");
($rc, $out, $err) = run_prog($prog, $ini, '--unregister');
is($rc, 0, '--unregister exits 0') or diag($err);
is(consumer_tick($node, $job), '', '--unregister removes the consumer');
ok(!-e $track, '--unregister removes the tracking file');

$node->stop;
done_testing();
