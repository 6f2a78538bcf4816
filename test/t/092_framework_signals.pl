# Stopping and reloading a program of the shared frame in the middle of its
# work (test/framework/framework_probe with work_seconds, a unit of work
# that does not let signals cut it short):
#   - SIGINT (-s) lets the work finish, then exits 0;
#   - a second SIGINT within a second exits at once;
#   - SIGTERM (-k) lets the work finish but exits 1, and gives up waiting
#     after stop_timeout;
#   - reload rebuilds the config from scratch: a key removed from the file
#     falls back to its default, --set values stay;
#   - a reload the program refuses leaves the old config in force;
#   - keys nothing reads (old Python-only keys, typos) get a DEBUG note.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use IPC::Run;
use PostgreSQL::Test::Utils;
use TestFiles;
use Test::More;
use Time::HiRes qw(usleep);

my $probe = "$ENV{TESTDIR}/test/framework/framework_probe";
ok(-x $probe, 'framework_probe is built') or die "run make first";

my $dir = PostgreSQL::Test::Utils::tempdir;

# Start the probe in the foreground on a config; returns (harness, log path).
my $n = 0;
sub start_probe
{
	my ($conf, @switches) = @_;
	$n++;
	my $log = "$dir/run$n.log";
	my $ini = "$dir/run$n.ini";
	write_file($ini, "[framework_probe]\nlogfile = $log\npidfile = $dir/run$n.pid\n$conf");
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ $probe, @switches, $ini, 'loop' ],
		'<', \undef, '>', \$out, '2>', \$err);
	return ($h, $log, $ini);
}

sub finish_status
{
	my ($h) = @_;
	$h->finish;
	return $h->result(0);
}

# the work has begun once its first line is in the log
sub wait_work_started
{
	my ($log) = @_;
	return poll_until(sub { slurp($log) =~ /work marker=/ });
}

#### SIGINT mid-work: the work finishes, exit 0
{
	my ($h, $log) = start_probe("work_seconds = 2\nloop_delay = 0.1\n");
	ok(wait_work_started($log), 'SIGINT case: work started');
	$h->signal('INT');
	is(finish_status($h), 0, 'SIGINT mid-work: exit status 0');
	my $text = slurp($log);
	like($text, qr/work done.*\n.*INFO stopping/s,
		'SIGINT mid-work: the work is finished before stopping');
	is(() = $text =~ /work marker=/g, 1, 'SIGINT mid-work: no new work is started');
}

#### two SIGINTs within a second: exit at once
{
	my ($h, $log) = start_probe("work_seconds = 600\n");
	ok(wait_work_started($log), 'double SIGINT case: work started');
	$h->signal('INT');
	usleep(100_000);
	$h->signal('INT');
	is(finish_status($h), 1, 'double SIGINT: exit status 1');
	unlike(slurp($log), qr/work done/, 'double SIGINT: the work was cut short');
}

#### SIGTERM mid-work that ends in time: finished, exit 1
{
	my ($h, $log) = start_probe("work_seconds = 1\nstop_timeout = 600\n");
	ok(wait_work_started($log), 'SIGTERM case: work started');
	$h->signal('TERM');
	is(finish_status($h), 1, 'SIGTERM: exit status 1 (not an orderly stop)');
	like(slurp($log), qr/work done.*terminated by signal/s,
		'SIGTERM: the work is finished first');
}

#### SIGTERM mid-work that does not end: given up after stop_timeout
{
	my ($h, $log) = start_probe("work_seconds = 600\nstop_timeout = 0.5\n");
	ok(wait_work_started($log), 'stop_timeout case: work started');
	$h->signal('TERM');
	is(finish_status($h), 1, 'stop_timeout: exit status 1');
	my $text = slurp($log);
	like($text, qr/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ ERROR did not stop within stop_timeout \(0\.5 s\) after SIGTERM/m,
		'stop_timeout: the forced exit is logged in the usual line format');
	unlike($text, qr/work done/, 'stop_timeout: the work was abandoned');
}

#### reload rebuilds the config: removed keys fall back, --set stays
{
	my ($h, $log, $ini) = start_probe(
		"loop_delay = 9\nmarker = from-file\n",
		'--set', 'loop_delay=0.05');
	ok(poll_until(sub { slurp($log) =~ /work marker=from-file loop_delay=0.05/ }),
		'reload case: running with the file values');
	my $pidfile = $ini =~ s/\.ini$/.pid/r;
	write_file($ini, "[framework_probe]\nlogfile = $log\npidfile = $pidfile\n");
	my ($out, $err) = ('', '');
	IPC::Run::run([ $probe, '-r', $ini ], '<', \undef, '>', \$out, '2>', \$err);
	is($? >> 8, 0, 'reload case: -r exits 0');
	ok( poll_until(sub { slurp($log) =~ /Config reloaded.*work marker=none loop_delay=0\.05\b/s }),
		'after reload, keys removed from the file take their defaults and --set stays');
	$h->signal('INT');
	is(finish_status($h), 0, 'reload case: stopped');
}

#### a reload the program refuses leaves the old config in force
{
	my ($h, $log, $ini) = start_probe("loop_delay = 0.05\nmarker = first\n");
	ok(poll_until(sub { slurp($log) =~ /work marker=first/ }), 'refused reload case: running');
	my $pidfile = $ini =~ s/\.ini$/.pid/r;
	write_file($ini, "[framework_probe]\nlogfile = $log\npidfile = $pidfile\n"
		  . "loop_delay = 0.05\nmarker = second\nrefuse_reload = 1\n");
	my ($out, $err) = ('', '');
	IPC::Run::run([ $probe, '-r', $ini ], '<', \undef, '>', \$out, '2>', \$err);
	ok(poll_until(sub { slurp($log) =~ /config reload refused, keeping the old config/ }),
		'the refusal is logged');
	my $size = length(slurp($log));
	ok(poll_until(sub { substr(slurp($log), $size) =~ /work marker=first/ }),
		'after the refusal the old config is still used');
	unlike(slurp($log), qr/work marker=second/, 'the refused config was never used');
	$h->signal('INT');
	is(finish_status($h), 0, 'refused reload case: stopped');
}

#### keys nothing reads are noted at DEBUG, and only those
{
	my ($h, $log) = start_probe("loop_delay = 0\nmarker = used\nuse_skylog = 1\n", '-v', '--set', 'typo_key=1');
	is(finish_status($h), 0, 'unused keys: single run');
	my $text = slurp($log);
	like($text, qr/DEBUG config key "use_skylog" \(line 6\) is not used by framework_probe/,
		'a key nothing reads gets a DEBUG note with its line');
	like($text, qr/DEBUG --set key "typo_key" is not used/, 'so does an unused --set key');
	unlike($text, qr/"(marker|loop_delay|logfile|pidfile)".* not used/,
		'keys that were read get no note');
}

done_testing();
