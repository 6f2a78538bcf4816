# The shared client frame (src/framework), driven through the test-only
# program test/framework/framework_probe: INI compatibility with Skytools
# (Python 3 configparser rules), --set and --ini, the log line format,
# levels and rotation by size, daemon mode with a readiness report, the
# locked pidfile, and the control switches -r/-s/-k with log reopening.

use strict;
use warnings;

use Cwd;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use IPC::Run;
use PostgreSQL::Test::Utils;
use TestFiles;
use Test::More;

my $probe = "$ENV{TESTDIR}/test/framework/framework_probe";
ok(-x $probe, 'framework_probe is built') or die "run make first";

my $dir = PostgreSQL::Test::Utils::tempdir;

# Run the probe; returns (exit status, stdout, stderr).
sub probe
{
	my ($stdout, $stderr) = ('', '');
	IPC::Run::run([ $probe, @_ ], '<', \undef, '>', \$stdout, '2>', \$stderr);
	return ($? >> 8, $stdout, $stderr);
}

sub get_value
{
	my ($ini, $key, @rest) = @_;
	my ($rc, $out, $err) = probe($ini, 'get', $key, @rest);
	chomp $out;
	return $rc == 0 ? $out : "ERROR($rc): $err";
}

#### INI parsing

my $ini = "$dir/my-job.ini";
write_file($ini, <<'INI');
# full-line comment
; another comment
[DEFAULT]
base = /srv
shared = from default

[framework_probe]
Data_Dir = %(base)s/data
logs: %(data_dir)s/logs
percent = 100%%
multi = first line
  second line

  third line
semicolon = value ;not a comment
chain1 = %(chain2)s
chain2 = %(chain3)s
chain3 = end
loop1 = %(loop2)s
loop2 = %(loop1)s
lone = 5%
missing_ref = %(nope)s
homefile = ~/sub/file
otherfile = -
num = 42
bad_num = 4x
ratio = 2.5
flag_yes = Yes
flag_off = off
flag_bad = maybe
size_m = 10M
size_kb = 2 KB
size_plain = 512
size_bad = 5 parsecs
empty =

[other]
data_dir = not this one
INI

is(get_value($ini, 'data_dir'), '/srv/data',
	'interpolation from [DEFAULT], keys case-insensitive');
is(get_value($ini, 'DATA_DIR'), '/srv/data', 'lookup is case-insensitive too');
is(get_value($ini, 'logs'), '/srv/data/logs', 'colon separator and nested interpolation');
is(get_value($ini, 'percent'), '100%', '%% is a literal percent sign');
is(get_value($ini, 'multi'), "first line\nsecond line\n\nthird line",
	'continuation lines, blank line inside a value kept');
is(get_value($ini, 'shared'), 'from default', '[DEFAULT] keys are visible');
is(get_value($ini, 'chain1'), 'end', 'chained references');
is(get_value($ini, 'empty'), '', 'empty value');
is(get_value($ini, 'job_name'), 'my-job',
	'built-in job_name is the file name without extension');
is(get_value($ini, 'service_name'), 'framework_probe', 'built-in service_name');
is(get_value($ini, 'config_dir'), Cwd::realpath($dir), 'built-in config_dir');
is(get_value($ini, 'config_file'), Cwd::realpath($ini), 'built-in config_file');

my ($rc, $out, $err) = probe($ini, 'get', 'semicolon');
is($out, "value ;not a comment\n", 'inline ";" stays in the value (Python 3 rule)');
like($err, qr/WARNING .*";" in the value of "semicolon" is part of the value/,
	'... with a warning');

like(get_value($ini, 'loop1'), qr/ERROR\(2\).*too deeply/s,
	'reference loop hits the depth limit');
like(get_value($ini, 'lone'), qr/ERROR\(2\).*must be followed by/s,
	'a lone % is an error when read');
like(get_value($ini, 'missing_ref'),
	qr/ERROR\(2\).*refers to "nope", which is not set/s,
	'reference to a missing key');
like(get_value($ini, 'no_such_key'),
	qr/ERROR\(2\).*required key "no_such_key" is not set in section \[framework_probe\]/s,
	'missing key without default names the key');
is(get_value($ini, 'no_such_key', 'str', 'fallback'), 'fallback', 'missing key with default');

{
	local $ENV{HOME} = '/home/tester';
	is(get_value($ini, 'homefile', 'file'), '/home/tester/sub/file', '~ expanded in file values');
	is(get_value($ini, 'otherfile', 'file'), '-', '"-" passes through as a file value');
	is(get_value($ini, 'homefile'), '~/sub/file', '~ kept in plain string values');
}

is(get_value($ini, 'num', 'int'), '42', 'int getter');
like(get_value($ini, 'bad_num', 'int'), qr/ERROR\(2\).*not an integer/s,
	'int getter rejects garbage');
is(get_value($ini, 'ratio', 'float'), '2.5', 'float getter');
is(get_value($ini, 'flag_yes', 'bool'), 'true', 'bool getter: Yes');
is(get_value($ini, 'flag_off', 'bool'), 'false', 'bool getter: off');
like(get_value($ini, 'flag_bad', 'bool'), qr/ERROR\(2\).*not a boolean/s,
	'bool getter rejects garbage');

is(get_value($ini, 'size_m', 'bytes'), 10 * 1024 * 1024, 'bytes getter: 10M');
is(get_value($ini, 'size_kb', 'bytes'), 2048, 'bytes getter: 2 KB');
is(get_value($ini, 'size_plain', 'bytes'), 512, 'bytes getter: plain number');
like(get_value($ini, 'size_bad', 'bytes'), qr/ERROR\(2\).*not a size/s, 'bytes getter rejects garbage');

($rc, $out, $err) = probe('--set', 'base=/override', $ini, 'get', 'logs');
is($out, "/override/data/logs\n", '--set wins over the file and feeds interpolation');
($rc, $out, $err) = probe('--set', 'NUM=7', $ini, 'get', 'num', 'int');
is($out, "7\n", '--set overrides a key of the main section, case-insensitively');

# errors in the file itself
my %bad = (
	dupkey       => "[framework_probe]\na = 1\nA = 2\n",
	dupsection   => "[framework_probe]\na = 1\n[framework_probe]\nb = 2\n",
	nosection    => "a = 1\n[framework_probe]\n",
	noseparator  => "[framework_probe]\njust words\n",
	wrongsection => "[something_else]\na = 1\n",);
my %expect = (
	dupkey       => qr/key "a" in section "framework_probe" already exists/,
	dupsection   => qr/section "framework_probe" already exists/,
	nosection    => qr/file contains no section headers/,
	noseparator  => qr/cannot parse line: just words/,
	wrongsection => qr/no section \[framework_probe\]/,);
foreach my $case (sort keys %bad)
{
	my $f = "$dir/$case.ini";
	write_file($f, $bad{$case});
	($rc, $out, $err) = probe($f, 'get', 'a');
	is($rc, 2, "$case: exit status 2");
	like($err, $expect{$case}, "$case: message");
}
($rc, $out, $err) = probe("$dir/does-not-exist.ini", 'get', 'a');
like($err, qr/could not open config file/, 'missing config file is an error');

# config_format = 2: ${key}, ${section:key}, $$; % is plain
my $ini2 = "$dir/format2.ini";
write_file($ini2, <<'INI');
[DEFAULT]
root = /opt

[paths]
base = ${root}/paths
deep = ${base}/deep

[framework_probe]
config_format = 2
here = ${root}/here
there = ${paths:deep}
money = $$5 and 100%
bad = $oops
missing = ${paths:nope}
INI
is(get_value($ini2, 'here'), '/opt/here', 'format 2: ${key} with [DEFAULT]');
is(get_value($ini2, 'there'), '/opt/paths/deep', 'format 2: ${section:key}, resolved in that section');
is(get_value($ini2, 'money'), '$5 and 100%', 'format 2: $$ is a dollar sign, % is literal');
like(get_value($ini2, 'bad'), qr/ERROR\(2\).*must be followed by/s, 'format 2: a lone $ is an error');
like(get_value($ini2, 'missing'), qr/ERROR\(2\).*refers to "nope"/s, 'format 2: missing reference');

#### --ini

($rc, $out, $err) = probe('--ini', '--set', 'marker=from-set', '--set', 'extra=1');
is($rc, 0, '--ini exits 0');
like($out, qr/^marker = from-set$/m,
	'--ini replaces the commented sample line with the --set value');
like($out, qr/^extra = 1$/m, '--ini adds keys the sample lacks');
like($out, qr/^# marker goes into every work line$/m,
	'--ini keeps a comment that only starts with the key\'s name');
my $printed = "$dir/printed.ini";
write_file($printed, $out);
is(get_value($printed, 'marker'), 'from-set', 'the printed sample parses');

#### logging format and levels

my $logini = "$dir/log.ini";
write_file($logini, "[framework_probe]\nloop_delay = 0\nmarker = once\n");
($rc, $out, $err) = probe($logini, 'loop');
is($rc, 0, 'single run with loop_delay = 0');
like($err,
	qr/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ INFO work marker=once/m,
	'log line format: date time,msec pid LEVEL message');
($rc, $out, $err) = probe('-q', $logini, 'loop');
unlike($err, qr/INFO/, '-q hides INFO');
($rc, $out, $err) = probe('-v', $logini, 'loop');
like($err, qr/INFO work/, '-v shows INFO as well');

#### daemon mode, pidfile, signals, log reopen

my $pidfile = "$dir/probe.pid";
my $logfile = "$dir/probe.log";
my $dini    = "$dir/daemon.ini";
my $dconf   = "[framework_probe]\npidfile = $pidfile\nlogfile = $logfile\nloop_delay = 0.05\n";
write_file($dini, $dconf . "marker = first\n");

my $nopid = "$dir/nopid.ini";
write_file($nopid, "[framework_probe]\nloop_delay = 1\n");
($rc, $out, $err) = probe('-d', $nopid, 'loop');
is($rc, 1, '-d without pidfile exits 1');
like($err, qr/daemon mode needs a pidfile/, '... and says why');

($rc, $out, $err) = probe('-s', $dini);
is($rc, 1, '-s with nothing running exits 1');
like($err, qr/no pidfile .*process not running/, '... with the Skytools message');

($rc, $out, $err) = probe('-d', $dini, 'loop');
is($rc, 0, 'daemon start: parent exits 0');
ok(-s $pidfile, 'the pidfile exists as soon as the parent returned');
my $pid = slurp($pidfile);
chomp $pid;
ok(kill(0, $pid), 'the daemon runs');
ok(poll_until(sub { slurp($logfile) =~ /work marker=first/ }),
	'the daemon works and logs to logfile');

($rc, $out, $err) = probe('-d', $dini, 'loop');
is($rc, 1, 'second start exits 1');
like($err, qr/already running/, '... already running');

# reload: new marker, log file renamed away first (logrotate style)
rename($logfile, "$logfile.1") or die;
write_file($dini, $dconf . "marker = second\n");
($rc, $out, $err) = probe('-r', $dini);
is($rc, 0, '-r exits 0 when the process runs');
ok( poll_until(
		sub {
			my $l = slurp($logfile);
			$l =~ /Config reloaded/ && $l =~ /work marker=second/;
		}),
	'after -r the log file is reopened and the new config is used');
unlike(slurp("$logfile.1"), qr/marker=second/, 'the renamed log file gets no new lines');

($rc, $out, $err) = probe('-s', $dini);
is($rc, 0, '-s exits 0');
ok(poll_until(sub { !kill(0, $pid) }), 'the daemon stops after -s');
ok(!-e $pidfile, 'the pidfile is removed at exit');
like(slurp($logfile), qr/INFO stopping/, 'the stop is logged');

# a stale pidfile naming a live, unrelated process (pid 1) is no lock
write_file($pidfile, "1\n");
($rc, $out, $err) = probe('-d', $dini, 'loop');
is($rc, 0, 'start over a stale pidfile works');
$pid = slurp($pidfile);
chomp $pid;
isnt($pid, '1', 'the pidfile now names the new process');
like(slurp($logfile), qr/ignoring stale pidfile .* \(pid 1\)/, 'the stale pidfile is reported');
($rc, $out, $err) = probe('-k', $dini);
is($rc, 0, '-k exits 0');
ok(poll_until(sub { !kill(0, $pid) }), 'the daemon stops after -k (SIGTERM)');
like(slurp($logfile), qr/terminated by signal/, 'the termination is logged');

# rotation by size: log_count old files, never more
my $rini = "$dir/rotate.ini";
my $rlog = "$dir/rotate.log";
write_file($rini, "[framework_probe]\npidfile = $dir/rotate.pid\nlogfile = $rlog\n"
	  . "loop_delay = 0.01\nlog_size = 2K\nlog_count = 2\nmarker = rotating\n");
($rc, $out, $err) = probe('-d', $rini, 'loop');
is($rc, 0, 'rotation: daemon started');
ok(poll_until(sub { -e "$rlog.2" }), 'rotation: the log was rotated twice');
my $rpid = slurp("$dir/rotate.pid");
chomp $rpid;
($rc, $out, $err) = probe('-s', $rini);
ok(poll_until(sub { !kill(0, $rpid) }), 'rotation: daemon stopped');
ok(!-e "$rlog.3", 'rotation: no more than log_count old files');
cmp_ok(-s "$rlog.1", '<', 4096, 'rotation: rotated files stay near log_size');
like(slurp("$rlog.1"), qr/work marker=rotating/, 'rotation: rotated files hold log lines');

# a daemon that fails after detaching: the parent reports the failure
my $failini = "$dir/fail.ini";
write_file($failini,
	"[framework_probe]\npidfile = $dir/fail.pid\nlogfile = $dir/fail.log\nfail_startup = 1\n");
($rc, $out, $err) = probe('-d', $failini, 'loop');
is($rc, 2, 'startup failure in the child makes the parent exit non-zero');
like($err, qr/startup failed as configured/, 'the child\'s startup error reaches the terminal');
ok(!-e "$dir/fail.pid", 'no pidfile is left behind');

done_testing();
