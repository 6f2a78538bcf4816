# The program frame of the consumer library (pgq_program_main) with the
# test consumer test/libpgq/libpgq_probe, as tools.md 5.3 tests 5-7 ask:
# -s in the middle of a batch finishes that batch and exits 0 without the
# pidfile, -k exits 1 after the batch; the stats line after each batch;
# -q and -v; the database stopped under a running consumer ("crashed",
# retried every exception_sleep, resumed without a restart once it is
# back); connection_lifetime makes a fresh connection.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LibpgqTest;

ok(-x $probe, 'libpgq_probe is built') or die "run make first";

my $node = libpgq_node('frame');
my $dir = PostgreSQL::Test::Utils::tempdir;
my $prefix = qr/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ (?:DEBUG|INFO|WARNING|ERROR|CRITICAL) /;

sub in_batch
{
	my ($app) = @_;
	return $node->poll_query_until('src', qq{
select count(*) > 0 from pg_stat_activity
 where application_name = '$app' and state = 'idle in transaction'});
}

sub current_batch
{
	my ($name) = @_;
	return $node->safe_psql('src',
		"select coalesce(current_batch::text, 'none') from pgq.get_consumer_info('q', '$name')");
}

#### -s and -k in the middle of a batch

foreach my $case ([ 'stop1', '-s', 0 ], [ 'kill1', '-k', 1 ])
{
	my ($name, $switch, $want) = @$case;
	my $ini = write_ini($node, $dir, $name, event_delay => '0.1');
	run_probe('plain', '--register', $ini);
	my $h = start_probe('plain', $ini);
	probe_pid("$dir/$name.pid");
	produce($node, 'ev', 1, 20);
	ok(in_batch($name), "$name: the consumer is inside a batch");
	isnt(current_batch($name), 'none', "$name: ... which is open on the queue");
	my ($rc) = run_probe('plain', $switch, $ini);
	is($rc, 0, "$name: $switch sent the signal");
	$h->finish;
	is($h->result(0), $want, "$name: the consumer exited with $want");
	is(applied_stats($node, "applied_$name"), '20 20', "$name: the whole batch was applied");
	is(current_batch($name), 'none', "$name: and finished on the queue");
	ok(!-e "$dir/$name.pid", "$name: the pidfile is removed");
}
my ($rc, $out, $err) = run_probe('plain', '-s', "$dir/stop1.ini");
is($rc, 1, '-s with nothing running exits 1');
like(slurp("$dir/stop1.log"), qr/no pidfile .*process not running/, '... and says so');

#### the stats line and the log levels

my $log = slurp("$dir/stop1.log");
my @lines = split /\n/, $log;
is(scalar(grep { !/^$prefix/ } @lines), 0, 'every log line has the Skytools format');
like($log, qr/^$prefix\{count: 20, duration: [\d.]+, idle: [\d.]+, applied: 20\}$/m,
	'a stats line follows the batch');

my $ini = write_ini($node, $dir, 'levels', loop_delay => 0);
run_probe('plain', '--register', $ini);
# a tick after the last run, so that a single run (loop_delay = 0) has a
# batch: PgQ hands out one tick interval per batch, empty or not
sub ticked_events
{
	my ($from) = @_;
	produce($node, 'ev', $from, $from + 4);
	wait_tick($node);
	return;
}
ticked_events(1);
($rc, $out, $err) = run_probe('plain', '-q', $ini);
is($rc, 0, 'a single run (loop_delay = 0) exits 0');
unlike($err, qr/ INFO | DEBUG /, '-q hides INFO');
ticked_events(6);
($rc, $out, $err) = run_probe('plain', $ini);
like($err, qr/^$prefix\{count: \d+, duration: /m, 'INFO shows by default, on stderr too');
unlike($err, qr/ DEBUG /, '... DEBUG does not');
ticked_events(11);
($rc, $out, $err) = run_probe('plain', '-v', $ini);
like($err, qr/ DEBUG batch \d+: ticks /, '-v shows DEBUG');

#### the error loop

$ini = write_ini($node, $dir, 'errloop');
run_probe('plain', '--register', $ini);
my $h = start_probe('plain', $ini);
my $pid = probe_pid("$dir/errloop.pid");
produce($node, 'ev', 1, 10);
ok(wait_applied($node, 'applied_errloop', 10), 'error loop: the consumer runs');
$node->stop;
ok(poll_until(sub { my @c = slurp("$dir/errloop.log") =~ /ERROR Job errloop crashed: /g; @c >= 3 }),
	'with the database stopped the consumer logs "crashed" again and again');
like(slurp("$dir/errloop.log"), qr/INFO Job errloop: trying again in 0\.5 s/,
	'... retrying after exception_sleep');
$node->start;
produce($node, 'ev', 11, 20);
ok(wait_applied($node, 'applied_errloop', 20), 'once the database is back the consumer goes on');
is(probe_pid("$dir/errloop.pid"), $pid, '... in the same process');
is(applied_stats($node, 'applied_errloop'), '20 20', '... each event once');
run_probe('plain', '-s', $ini);
$h->finish;
is($h->result(0), 0, 'error loop: stopped');

#### connection_lifetime

$ini = write_ini($node, $dir, 'lifetime', connection_lifetime => 1);
run_probe('plain', '--register', $ini);
$h = start_probe('plain', $ini);
my $start_q = "select backend_start from pg_stat_activity where application_name = 'lifetime' and datname = 'src'";
ok($node->poll_query_until('src', "select count(*) = 1 from pg_stat_activity where application_name = 'lifetime' and datname = 'src'"),
	'the consumer is connected with application_name = job name');
my $first = $node->safe_psql('src', $start_q);
ok($node->poll_query_until('src', "select count(*) = 1 from ($start_q) s where backend_start > '$first'"),
	'after connection_lifetime it connects anew');
run_probe('plain', '-s', $ini);
$h->finish;
is($h->result(0), 0, 'stopped');

$node->stop;
done_testing();
