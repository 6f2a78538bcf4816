# The consumer library's flavours against a real queue ticked by the
# in-server ticker, through the test consumer test/libpgq/libpgq_probe
# (which records every event it applies in a table of database "dst"):
# PLAIN with retries, filters and lazy fetch sizes; SERIAL, REMOTE and
# LOCAL with their tracking, --register/--unregister/--rewind/--reset, and
# a kill -9 at the two points that matter - before the batch's work is
# committed (nothing may be lost) and after it was recorded but before
# pgq.finish_batch (nothing may be applied twice), each made deterministic
# by a lock the consumer's next statement needs; "Lost position"; COOP
# with two subconsumers.

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

my $node = libpgq_node('flavours');
my $dir = PostgreSQL::Test::Utils::tempdir;

sub consumer_tick
{
	my ($name) = @_;
	return $node->safe_psql('src',
		"select last_tick from pgq.get_consumer_info('q', '$name')");
}

sub stop_probe
{
	my ($h, $name) = @_;
	my ($rc) = run_probe('plain', '-s', "$dir/$name.ini");
	$h->finish;
	return $h->result(0);
}

#### PLAIN: retries, stats, register/unregister

my $ini = write_ini($node, $dir, 'plain1', retry_type => 'again');
my ($rc, $out, $err) = run_probe('plain', '--set', 'loop_delay=0', $ini);
is($rc, 1, 'a single run of an unregistered consumer fails');
like(slurp("$dir/plain1.log"), qr/ERROR Job plain1 crashed: error on connection 'src_db': ERROR:  consumer "plain1" is not registered/,
	'... saying why');
($rc, $out, $err) = run_probe('plain', '--register', $ini);
is($rc, 0, '--register succeeds');
isnt(consumer_tick('plain1'), '', '... and the consumer is on the queue');
($rc, $out, $err) = run_probe('plain', '--register', $ini);
is($rc, 0, '--register again is fine');
like($err, qr/already registered/, '... and says so');
($rc, $out, $err) = run_probe('plain', '--rewind', $ini);
is($rc, 2, '--rewind is a usage error for a consumer without tracking');

produce($node, 'ev', 1, 40);
produce($node, 'again', 41, 41);
my $h = start_probe('plain', $ini);
ok(wait_applied($node, 'applied_plain1', 41), 'PLAIN applies every event, the retried one too');
is(applied_stats($node, 'applied_plain1'), '41 41', '... each once');
is(stop_probe($h, 'plain1'), 0, '-s stops the consumer with exit 0');
my $log = slurp("$dir/plain1.log");
# The retried event may share a batch with the others or come alone,
# depending on when the ticker ticked; either way one line counts it.
like($log, qr/INFO \{count: \d+, duration: [\d.]+(?:, [\w-]+: [\d.]+)*, retry-events: 1[,}]/,
	'the stats line counts the batch and the retry');
like($log, qr/INFO \{count: 1, duration: [\d.]+(, idle: [\d.]+)?, applied: 1\}/,
	'the retried event came back in a batch of its own');
ok(!-e "$dir/plain1.pid", 'the pidfile is gone');
is($node->safe_psql('src', "select ev_retry from pgq.event_template where false"), '',
	'(queue tables are readable)');

($rc, $out, $err) = run_probe('plain', '--unregister', $ini);
is($rc, 0, '--unregister succeeds');
is(consumer_tick('plain1'), '', '... and the consumer is gone from the queue');

#### PLAIN: filters and lazy fetch sizes

my %filter_cases = (
	tfilt => [ { table_filter => 't1, other.t3' }, 40 ],
	cfilt => [ { consumer_filter => "ev_data::int %% 2 = 0" }, 30 ],
	both => [ { table_filter => 't1', consumer_filter => "ev_data::int <= 110" }, 10 ],
	lazy0 => [ { pgq_lazy_fetch => 0 }, 60 ],
	lazy1 => [ { pgq_lazy_fetch => 1 }, 60 ],
	lazy7 => [ { pgq_lazy_fetch => 7 }, 60 ],
	lazy60 => [ { pgq_lazy_fetch => 60 }, 60 ],
	lazy0f => [ { pgq_lazy_fetch => 0, table_filter => 'public.t2' }, 20 ],
	lazy7f => [ { pgq_lazy_fetch => 7, table_filter => 'public.t2' }, 20 ],
	# the program takes the source connection in mid-batch, while the
	# library reads ahead on it: the read is settled first, nothing lost
	lazy0s => [ { pgq_lazy_fetch => 0, source_query => 'select 1' }, 60 ],
	lazy7s => [ { pgq_lazy_fetch => 7, source_query => 'select 1' }, 60 ],
	lazy0fs => [ { pgq_lazy_fetch => 0, table_filter => 'public.t2', source_query => 'select 1' }, 20 ],
	# ... or before its first event, while the batch's first read (the
	# cursor's opening, or the stream) is still on its way
	lazy0s0 => [ { pgq_lazy_fetch => 0, source_query => 'select 1', source_query_at => 0 }, 60 ],
	lazy7s0 => [ { pgq_lazy_fetch => 7, source_query => 'select 1', source_query_at => 0 }, 60 ],
	lazy300s0 => [ { source_query => 'select 1', source_query_at => 0 }, 60 ],
);
foreach my $name (sort keys %filter_cases)
{
	write_ini($node, $dir, $name, %{ $filter_cases{$name}[0] });
	run_probe('plain', '--register', "$dir/$name.ini");
}
# a consumer_filter that fails only once rows are read
write_ini($node, $dir, 'badfilt', consumer_filter => '1 / (ev_id - ev_id) = 0');
run_probe('plain', '--register', "$dir/badfilt.ini");
my $badfilt_tick = consumer_tick('badfilt');
produce($node, 'ev', 101, 120, 'public.t1');
produce($node, 'ev', 121, 140, 'public.t2');
produce($node, 'ev', 141, 160, 'other.t3');
# every consumer stops at the last tick it sees: it must cover all 60
ok(wait_tick($node), 'a tick covers the 60 filter events');
foreach my $name (sort keys %filter_cases)
{
	my $want = $filter_cases{$name}[1];
	# a marker event after the others shows the consumer is through
	$h = start_probe('plain', "$dir/$name.ini");
	ok(poll_until(sub { consumer_tick($name) eq $node->safe_psql('src', "select max(tick_id) from pgq.tick") && consumer_tick($name) ne '' }),
		"$name: consumer reached the last tick");
	is(stop_probe($h, $name), 0, "$name: stopped");
	is(applied_stats($node, "applied_$name"), "$want $want", "$name: $want events applied once");
	like(slurp("$dir/$name.log"), qr/, source_queries: 1[,}]/, "$name: source_query ran in mid-batch")
	  if $filter_cases{$name}[0]{source_query};
}
is($node->safe_psql('dst', 'select min(ev_data::int) || \'-\' || max(ev_data::int) from applied_tfilt'),
	'101-160', 'table_filter matched "t1" as public.t1 and other.t3 as given');

# The error of the batch's first read, which is on its way before the
# program runs, fails the batch: nothing applied, the batch not finished.
$h = start_probe('plain', "$dir/badfilt.ini");
ok(poll_until(sub { slurp("$dir/badfilt.log") =~ /ERROR Job badfilt crashed: .*division by zero/ }),
	'badfilt: the failed cursor read is the error of the batch');
is(stop_probe($h, 'badfilt'), 0, 'badfilt: stopped');
is($node->safe_psql('dst', 'select count(*) from applied_badfilt'), '0', 'badfilt: nothing applied');
is(consumer_tick('badfilt'), $badfilt_tick, 'badfilt: the batch was not finished');

#### the tracked flavours

# Kill -9 while the consumer waits for a lock its next statement needs:
#  "apply": before the batch's work committed (on the apply table's lock);
#  "finish": after the batch is recorded, at pgq.finish_batch (on a lock of
#  the consumer's subscription row).  Then restart and check that every
#  event is applied exactly once.
sub kill_test
{
	my ($flavour, $name, $point, $from, $to) = @_;
	my $ini = "$dir/$name.ini";
	my $n = $to - $from + 1;
	my $before = $node->safe_psql('dst', "select count(*) from applied_$name");

	my $dst_lock = $node->background_psql('dst');
	$dst_lock->query_safe("begin; lock table applied_$name in exclusive mode");
	my $h = start_probe($flavour, $ini);
	my $pid = probe_pid("$dir/$name.pid");
	produce($node, 'ev', $from, $to);
	ok(wait_blocked($node, 'dst', $name, 'insert into%'),
		"$name/$point: consumer waits to apply the batch");
	my $src_lock;
	if ($point eq 'finish')
	{
		$src_lock = $node->background_psql('src');
		$src_lock->query_safe(qq{begin;
select 1 from pgq.subscription s join pgq.consumer c on c.co_id = s.sub_consumer
 where c.co_name = '$name' for update of s});
		$dst_lock->query_safe('commit');
		ok(wait_blocked($node, 'src', $name, '%finish_batch%'),
			"$name/$point: consumer recorded the batch and waits in finish_batch");
		is($node->safe_psql('dst', "select count(*) from applied_$name"), $before + $n,
			"$name/$point: the batch's work is committed");
	}
	kill 'KILL', $pid;
	$h->finish;
	unlink "$dir/$name.pid";
	if ($point eq 'finish')
	{
		$src_lock->query_safe('rollback');
		$src_lock->quit;
	}
	else
	{
		is($node->safe_psql('dst', "select count(*) from applied_$name"), $before,
			"$name/$point: nothing of the batch is applied yet");
		$dst_lock->query_safe('commit');
	}
	$dst_lock->quit;

	$h = start_probe($flavour, $ini);
	ok(wait_applied($node, "applied_$name", $before + $n),
		"$name/$point: after a restart the batch is applied");
	# After "finish" the rows were there before the restart: the consumer
	# must have come to the batch before it is stopped.  LOCAL sees the
	# file ahead of the queue already at startup.
	ok(poll_until(sub {
				slurp("$dir/$name.log") =~
				  /already applied, finishing it|Tracking out of sync: queue=\d+ local=\d+\.  Repositioning on queue/
			}),
		"$name/$point: the recorded batch was recognised") if $point eq 'finish';
	is(stop_probe($h, $name), 0, "$name/$point: stopped");
	is(applied_stats($node, "applied_$name"), ($before + $n) . ' ' . ($before + $n),
		"$name/$point: every event exactly once");
	return;
}

foreach my $flavour (qw(serial remote local))
{
	my $name = "${flavour}1";
	my %extra = $flavour eq 'local' ? (local_tracking_file => "$dir/$name.tick") : ();
	$ini = write_ini($node, $dir, $name, %extra);
	($rc, $out, $err) = run_probe($flavour, '--register', $ini);
	is($rc, 0, "$flavour: --register");
	$h = start_probe($flavour, $ini);
	produce($node, 'ev', 1, 30);
	ok(wait_applied($node, "applied_$name", 30), "$flavour: applies the events");
	is(stop_probe($h, $name), 0, "$flavour: stopped");
	my $tick = consumer_tick($name);
	if ($flavour eq 'serial')
	{
		is($node->safe_psql('dst', "select pgq_ext.get_last_tick('$name')"), $tick,
			'serial: the target holds the consumer\'s tick');
	}
	elsif ($flavour eq 'remote')
	{
		is($node->safe_psql('dst', "select count(*) from pgq_ext.completed_batch where consumer_id = '$name'"),
			'1', 'remote: the target holds the last batch');
	}
	else
	{
		like(slurp("$dir/$name.tick"), qr/^$tick\n?$/, 'local: the file holds the consumer\'s tick');
	}

	kill_test($flavour, $name, 'apply', 31, 50);
	kill_test($flavour, $name, 'finish', 51, 70);
}

#### SERIAL: rewind, reset, lost position, unregister

my $tick = consumer_tick('serial1');
my $earlier = $node->safe_psql('src', "select max(tick_id) from pgq.tick where tick_id < $tick");
$node->safe_psql('dst', "select pgq_ext.set_last_tick('serial1', $earlier)");
($rc, $out, $err) = run_probe('serial', '--rewind', "$dir/serial1.ini");
is($rc, 0, 'serial: --rewind');
is(consumer_tick('serial1'), $earlier, '... moved the queue position to the target\'s tick');

$node->safe_psql('dst', "select pgq_ext.set_last_tick('serial1', 1)");
produce($node, 'ev', 71, 72);
($rc, $out, $err) = run_probe('serial', "$dir/serial1.ini");
is($rc, 1, 'serial: a foreign tick on the target stops the consumer with exit 1');
like(slurp("$dir/serial1.log"), qr/ERROR Lost position: batch \d+\.\.\d+, dst has 1/,
	'... saying "Lost position"');

($rc, $out, $err) = run_probe('serial', '--reset', "$dir/serial1.ini");
is($rc, 0, 'serial: --reset');
is($node->safe_psql('dst', "select pgq_ext.get_last_tick('serial1') is null"), 't',
	'... removed the target\'s tick');
($rc, $out, $err) = run_probe('serial', '--rewind', "$dir/serial1.ini");
is($rc, 1, 'serial: --rewind without a target tick fails');
$node->safe_psql('dst', "select pgq_ext.set_last_tick('serial1', 5)");
($rc, $out, $err) = run_probe('serial', '--unregister', "$dir/serial1.ini");
is($rc, 0, 'serial: --unregister');
is(consumer_tick('serial1'), '', '... left the queue');
is($node->safe_psql('dst', "select pgq_ext.get_last_tick('serial1') is null"), 't',
	'... and cleared the target\'s tick');

#### LOCAL: startup repositioning, rewind, reset

$tick = consumer_tick('local1');
my $file = "$dir/local1.tick";
unlink $file;
$h = start_probe('local', "$dir/local1.ini");
ok(poll_until(sub { slurp("$dir/local1.log") =~ /Local tick missing, storing queue tick $tick/ }),
	'local: a missing file gets the queue tick');
is(stop_probe($h, 'local1'), 0, 'local: stopped');
$tick = consumer_tick('local1');
like(slurp($file), qr/^$tick\n$/, '... and the file follows the consumer');

$earlier = $node->safe_psql('src', "select max(tick_id) from pgq.tick where tick_id < $tick");
append_to_file("$file.x", "$earlier\n");
rename "$file.x", $file;
$h = start_probe('local', "$dir/local1.ini");
ok(poll_until(sub { slurp("$dir/local1.log") =~ /Tracking out of sync: queue=$tick local=$earlier\.  Rewinding queue/ }),
	'local: a file behind the queue rewinds the queue');
is(stop_probe($h, 'local1'), 0, 'local: stopped');

($rc, $out, $err) = run_probe('local', '--rewind', "$dir/local1.ini");
is($rc, 0, 'local: --rewind');
my $ftick = slurp($file); chomp $ftick;
is(consumer_tick('local1'), $ftick, '... moved the queue to the file\'s tick');
($rc, $out, $err) = run_probe('local', '--reset', "$dir/local1.ini");
is($rc, 0, 'local: --reset');
ok(!-e $file, '... removed the file');
($rc, $out, $err) = run_probe('local', '--rewind', "$dir/local1.ini");
is($rc, 1, 'local: --rewind without a file fails');
append_to_file($file, "garbage\n");
($rc, $out, $err) = run_probe('local', "$dir/local1.ini");
is($rc, 1, 'local: a damaged file stops the consumer');
like(slurp("$dir/local1.log"), qr/does not hold a tick id/, '... with a clear error');
unlink $file;
($rc, $out, $err) = run_probe('local', '--unregister', "$dir/local1.ini");
is($rc, 0, 'local: --unregister');

#### retries are refused where they could be lost

$ini = write_ini($node, $dir, 'serial2', retry_type => 'again');
run_probe('serial', '--register', $ini);
produce($node, 'again', 1, 1);
($rc, $out, $err) = run_probe('serial', $ini);
is($rc, 1, 'serial: an event retry stops the consumer');
like(slurp("$dir/serial2.log"), qr/event retry is not possible/, '... and says why');

#### COOP: two subconsumers share the work

foreach my $s (qw(s1 s2))
{
	write_ini($node, $dir, "coop_$s", consumer_name => 'coopc',
		subconsumer_name => $s, apply_table => 'applied_coop', event_delay => '0.01');
	($rc) = run_probe('coop', '--register', "$dir/coop_$s.ini");
	is($rc, 0, "coop: --register $s");
}
is($node->safe_psql('src', "select count(*) from pgq.get_consumer_info('q') where consumer_name like 'coopc.%'"),
	'2', 'coop: both subconsumers are registered');
my @coop = map { start_probe('coop', "$dir/coop_$_.ini") } qw(s1 s2);
foreach my $i (0 .. 9)
{
	produce($node, 'ev', $i * 10 + 1, $i * 10 + 10);
	select(undef, undef, undef, 0.3);
}
ok(wait_applied($node, 'applied_coop', 100), 'coop: every event applied');
is(stop_probe($coop[0], 'coop_s1'), 0, 'coop: s1 stopped');
is(stop_probe($coop[1], 'coop_s2'), 0, 'coop: s2 stopped');
is(applied_stats($node, 'applied_coop'), '100 100', 'coop: each once');
($rc) = run_probe('coop', '--unregister', "$dir/coop_s2.ini");
is($rc, 0, 'coop: --unregister s2');
is($node->safe_psql('src', "select count(*) from pgq.get_consumer_info('q') where consumer_name = 'coopc.s2'"),
	'0', '... is gone');

$node->stop;
done_testing();
