# scriptmgr over temp skytools.ini files whose config_list points at temp
# job configs, with test/framework/framework_probe as the job program
# (tools.md 5.3, tests 8-10):
#   - discovery: globs (with a $VAR), service matching by section name,
#     scriptmgr's own config skipped, "Cannot find service", service- and
#     job-level disabled, duplicate job names reported;
#   - status and info in scriptmgr3's format, sorted by service then job;
#   - start -a starts every enabled job once, a second start says "seems
#     running", a failing startup gives "startup failed" and exit 1;
#   - stop -w returns only after the process is gone, restart of a job slow
#     to stop, reload delivers SIGHUP (also to a user= job), -t by type,
#     unknown jobs, exec in the foreground, list, check;
#   - no pidfile of scriptmgr's own: two runs at once both work.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use IPC::Run;
use PostgreSQL::Test::Utils;
use TestFiles;
use Test::More;

my $sm = "$ENV{TESTDIR}/src/scriptmgr/scriptmgr";
my $probe = "$ENV{TESTDIR}/test/framework/framework_probe";
ok(-x $sm, 'scriptmgr is built') or die "run make first";
ok(-x $probe, 'framework_probe is built') or die "run make first";

my $dir = PostgreSQL::Test::Utils::tempdir;
my $me = getpwuid($<);
mkdir "$dir/$_" for qw(conf more run bad);
$ENV{SM_MORE} = "$dir/more";

# Jobs of a second service type: the probe only reads [framework_probe],
# so this wrapper (run as "/bin/sh FILE", a script of several words as
# Skytools allowed) hands it a copy of the job config with that section.
write_file("$dir/other_probe.sh", <<"EOF");
config=\$1
shift
copy=\$(basename "\$config").probe
sed 's/^\\[other_probe\\]/[framework_probe]/' "\$config" > "\$copy"
exec $probe "\$copy" "\$@"
EOF

# Run scriptmgr; returns (exit status, stdout, stderr).
sub sm
{
	my ($stdout, $stderr) = ('', '');
	IPC::Run::run([ $sm, @_ ], '<', \undef, '>', \$stdout, '2>', \$stderr);
	return ($? >> 8, $stdout, $stderr);
}

# whatever happens, no job outlives the test
END
{
	for my $pidfile (glob("$dir/run/*.pid"))
	{
		my $pid = pid_of($pidfile);
		kill 'KILL', $pid if $pid && slurp("/proc/$pid/cmdline") =~ /framework_probe/;
	}
}

sub skytools_ini
{
	my ($name, $config_list, $extra) = @_;
	my $ini = "$dir/$name";
	write_file($ini, <<"EOF");
[scriptmgr]
job_name = mgr
logfile = $dir/mgr.log
pidfile = $dir/mgr.pid
config_list = $config_list

[DEFAULT]
cwd = $dir

[framework_probe]
script = $probe

[other_probe]
script = /bin/sh $dir/other_probe.sh
args = -v
user = $me

[off_svc]
disabled = 1
$extra
EOF
	return $ini;
}

sub job_ini
{
	my ($path, $text) = @_;
	write_file($path, $text);
}

# the pid recorded in a pidfile, or 0
sub pid_of
{
	my ($pidfile) = @_;
	my $text = slurp($pidfile);
	return $text =~ /^(\d+)/ ? $1 : 0;
}

# a process that exited but was not reaped yet (a zombie) counts as gone
sub alive
{
	my ($pid) = @_;
	return 0 unless $pid > 0 && kill(0, $pid);
	return slurp("/proc/$pid/stat") !~ /\) Z /;
}

# pids that did a job's work, as its log shows: one per start
sub log_pids
{
	my ($log) = @_;
	my %pids = map { $_ => 1 } (slurp($log) =~ /^\S+ \S+ (\d+) INFO work marker=/mg);
	return scalar keys %pids;
}

#### discovery, status and info
job_ini("$dir/conf/alpha.ini",
	"[framework_probe]\npidfile = run/alpha.pid\nlogfile = $dir/run/alpha.log\n");
job_ini("$dir/conf/beta.ini",
	"[framework_probe]\njob_name = beta_job\npidfile = $dir/run/beta.pid\n");
job_ini("$dir/conf/nopid.ini", "[framework_probe]\nloop_delay = 1\n");
job_ini("$dir/conf/off.ini", "[framework_probe]\ndisabled = 1\npidfile = run/off.pid\n");
job_ini("$dir/conf/onjob.ini", "[framework_probe]\ndisabled = no\npidfile = run/onjob.pid\n");
job_ini("$dir/conf/offjob.ini", "[off_svc]\npidfile = run/offjob.pid\n");
job_ini("$dir/conf/stray.ini", "[no_such_service]\npidfile = run/stray.pid\n");
job_ini("$dir/conf/self.ini", "[scriptmgr]\nconfig_list = /nonexistent/*.ini\n");
job_ini("$dir/more/gamma.ini", "[other_probe]\npidfile = ~/gamma.pid\n");
job_ini("$dir/more/notini.txt", "[framework_probe]\npidfile = run/notini.pid\n");

my $disc = skytools_ini('disc.ini', "$dir/conf/*.ini, \$SM_MORE/*.ini");
my ($rc, $out, $err) = sm($disc, 'status');
is($rc, 0, 'status: exit 0');
my $home = (getpwuid($<))[7];
is($out, <<"EOF", 'status: scriptmgr3 format, sorted by service then job');
 STOPPED  [framework_probe] alpha
 STOPPED  [framework_probe] beta_job
 pidfile? [framework_probe] nopid
 STOPPED  [framework_probe] off  (disabled)
 STOPPED  [framework_probe] onjob
 STOPPED  [off_svc] offjob  (disabled)
 STOPPED  [other_probe] gamma
EOF
like($err, qr/WARNING Cannot find service for \Q$dir\E\/conf\/stray\.ini/,
	'file without a known service: warning');
unlike($err, qr/self\.ini/, 'scriptmgr\'s own config is skipped silently');
unlike($err, qr/notini/, 'only files the globs match');
ok(!-e "$dir/mgr.pid", 'scriptmgr writes no pidfile of its own');

($rc, $out, $err) = sm($disc, 'info', 'alpha', 'off', 'onjob', 'offjob', 'gamma');
is($rc, 0, 'info: exit 0');
is($out, <<"EOF", 'info: the job dicts as scriptmgr3 printed them');
{'disabled': 0, 'user': '', 'service': 'framework_probe', 'script': '$probe', 'args': '', 'config': '$dir/conf/alpha.ini', 'cwd': '$dir', 'pidfile': '$dir/run/alpha.pid', 'job_name': 'alpha'}
{'disabled': True, 'user': '', 'service': 'framework_probe', 'script': '$probe', 'args': '', 'config': '$dir/conf/off.ini', 'cwd': '$dir', 'pidfile': '$dir/run/off.pid', 'job_name': 'off'}
{'disabled': False, 'user': '', 'service': 'framework_probe', 'script': '$probe', 'args': '', 'config': '$dir/conf/onjob.ini', 'cwd': '$dir', 'pidfile': '$dir/run/onjob.pid', 'job_name': 'onjob'}
{'disabled': True, 'user': '', 'service': 'off_svc', 'script': '/disabled', 'args': '', 'config': '$dir/conf/offjob.ini', 'cwd': '$dir', 'pidfile': '$dir/run/offjob.pid', 'job_name': 'offjob'}
{'disabled': 0, 'user': '$me', 'service': 'other_probe', 'script': '/bin/sh $dir/other_probe.sh', 'args': '-v', 'config': '$dir/more/gamma.ini', 'cwd': '$dir', 'pidfile': '$home/gamma.pid', 'job_name': 'gamma'}
EOF

($rc, $out, $err) = sm($disc, 'status', '-t', 'other_probe');
is($out, " STOPPED  [other_probe] gamma\n", 'status -t: one service type');
($rc, $out, $err) = sm($disc, 'status', 'nosuch');
is($rc, 1, 'status of an unknown job: exit 1');
like($err, qr/ERROR Unknown job: nosuch/, 'status of an unknown job: error');

# duplicate job names: reported, the first one kept
job_ini("$dir/more/alpha.ini", "[framework_probe]\npidfile = run/alpha2.pid\n");
($rc, $out, $err) = sm($disc, 'info', 'alpha');
is($rc, 1, 'duplicate job name: exit 1');
like($err,
	qr/job name "alpha" of \[framework_probe\] in \Q$dir\E\/more\/alpha\.ini is already used by \[framework_probe\] in \Q$dir\E\/conf\/alpha\.ini/,
	'duplicate job name: both files named');
like($out, qr/'pidfile': '\Q$dir\E\/run\/alpha\.pid'/, 'duplicate job name: the first is kept');
unlink "$dir/more/alpha.ini";

#### usage
($rc, $out, $err) = sm($disc);
is($rc, 2, 'no command: exit 2');
($rc, $out, $err) = sm($disc, 'frobnicate', '-a');
is($rc, 2, 'unknown command: exit 2');
like($err, qr/unknown command: frobnicate/, 'unknown command: named');
($rc, $out, $err) = sm($disc, 'start', '-a', 'alpha');
is($rc, 2, '-a with job names: exit 2');
($rc, $out, $err) = sm($disc, 'start');
is($rc, 1, 'start without targets: exit 1');
like($err, qr/no jobs given\?/, 'start without targets: says so');
($rc, $out, $err) = sm('--help');
is($rc, 0, '--help: exit 0');
like($out, qr/exec JOB/, '--help lists the commands');
($rc, $out, $err) = sm('--version');
like($out, qr/^scriptmgr \(pgq\) \S+$/, '--version');
($rc, $out, $err) = sm('-d', $disc, 'status');
is($rc, 2, '-d: usage error');
like($err, qr/do not apply to scriptmgr/, '-d: says why');
($rc, $out, $err) = sm('--ini', '--set', "logfile=$dir/ini.log", '--set',
	"config_list=$dir/none/*.ini");
is($rc, 0, '--ini: exit 0');
write_file("$dir/template.ini", $out);
($rc, $out, $err) = sm("$dir/template.ini", 'status');
is($rc, 0, '--ini: the template is a working skytools.ini');
is($out, '', '--ini template: no jobs');

#### running jobs
# alpha runs, beta is slow to stop (work that signals do not cut short),
# gamma is of another type and has user= set to ourselves, off is disabled
my $rundir = "$dir/runjobs";
mkdir $rundir;
mkdir "$rundir/$_" for qw(a b);
sub probe_ini
{
	my ($name, $extra, $loop_delay) = @_;
	$loop_delay //= 0.1;
	job_ini("$rundir/$name.ini",
		"[framework_probe]\npidfile = run/$name.pid\nlogfile = $dir/run/$name.log\n"
		  . "loop_delay = $loop_delay\nmarker = $name\n$extra");
}
probe_ini('alpha', '');
probe_ini('beta', "work_seconds = 1\n");
probe_ini('off', "disabled = 1\n");
job_ini("$rundir/gamma.ini",
	"[other_probe]\npidfile = run/gamma.pid\nlogfile = $dir/run/gamma.log\nloop_delay = 0.1\n"
	  . "work_seconds = 1\n");
my $run = skytools_ini('run.ini', "$rundir/*.ini");
my %pidfile = map { $_ => "$dir/run/$_.pid" } qw(alpha beta gamma off);
my %log = map { $_ => "$dir/run/$_.log" } qw(alpha beta gamma);

($rc, $out, $err) = sm($run, 'start', '-a');
is($rc, 0, 'start -a: exit 0');
like($err, qr/INFO Skipping off/, 'start -a: the disabled job is skipped');
my %pid = map { $_ => pid_of($pidfile{$_}) } qw(alpha beta gamma);
ok(alive($pid{$_}), "start -a: $_ runs") for qw(alpha beta gamma);
ok(poll_until(sub { log_pids($log{$_}) >= 1 }), "start -a: $_ is at work")
  for qw(alpha beta gamma);
ok(!-e $pidfile{off}, 'start -a: the disabled job does not run');

($rc, $out, $err) = sm($run, 'start', '-a');
is($rc, 0, 'second start -a: exit 0');
like($err, qr/WARNING Script $_ seems running/, "second start: $_ seems running")
  for qw(alpha beta gamma);
is(pid_of($pidfile{$_}), $pid{$_}, "second start: $_ keeps its process")
  for qw(alpha beta gamma);
is(log_pids($log{$_}), 1, "start -a twice: $_ started once") for qw(alpha beta gamma);

($rc, $out, $err) = sm($run, 'status');
is($out, <<"EOF", 'status of running jobs');
 OK       [framework_probe] alpha
 OK       [framework_probe] beta
 STOPPED  [framework_probe] off  (disabled)
 OK       [other_probe] gamma
EOF

($rc, $out, $err) = sm($run, 'list');
is($rc, 0, 'list: exit 0');
like($out, qr/^alpha\tframework_probe\trunning\t$pid{alpha}\t\Q$rundir\E\/alpha\.ini\t\Q$pidfile{alpha}\E$/m,
	'list: a running job');
like($out, qr/^off\tframework_probe\tdisabled\t0\t/m, 'list: a disabled job');

# reload: SIGHUP, also through user=; the jobs keep running
($rc, $out, $err) = sm($run, 'reload', 'alpha', 'gamma');
is($rc, 0, 'reload: exit 0');
ok(poll_until(sub { slurp($log{$_}) =~ /Config reloaded/ }), "reload: $_ logs Config reloaded")
  for qw(alpha gamma);
ok(alive($pid{$_}), "reload: $_ still runs (SIGHUP, not SIGTERM)") for qw(alpha gamma);
unlike(slurp($log{beta}), qr/Config reloaded/, 'reload: other jobs untouched');

# stop -t: only that type; -w waits for the slow job to finish its work
ok(poll_until(sub { slurp($log{gamma}) =~ /work marker=/ }), 'gamma is at work');
($rc, $out, $err) = sm($run, 'stop', '-t', 'other_probe', '-w');
is($rc, 0, 'stop -t -w: exit 0');
ok(!alive($pid{gamma}), 'stop -w: returned after the process was gone');
like(slurp($log{gamma}), qr/work done/, 'stop: the work in progress was finished');
ok(alive($pid{alpha}) && alive($pid{beta}), 'stop -t: jobs of other types still run');
($rc, $out, $err) = sm($run, 'stop', 'gamma');
is($rc, 0, 'stop of a stopped job: exit 0');
like($err, qr/WARNING Job gamma not running/, 'stop of a stopped job: warning');

# two scriptmgr runs at once: a restart waiting for beta, and a status
ok(poll_until(sub { slurp($log{beta}) =~ /work marker=/ }), 'beta is at work');
my ($rout, $rerr) = ('', '');
my $restart = IPC::Run::start([ $sm, $run, 'restart', 'beta' ],
	'<', \undef, '>', \$rout, '2>', \$rerr);
ok(poll_until(sub { $restart->pump_nb; $rerr =~ /Stopping beta/ }), 'restart: beta signalled');
($rc, $out, $err) = sm($run, 'status', 'alpha');
is($rc, 0, 'a second scriptmgr while another runs: exit 0');
is($out, " OK       [framework_probe] alpha\n", 'a second scriptmgr while another runs: works');
$restart->finish;
is($restart->result(0), 0, 'restart of a slow job: exit 0');
like($rerr, qr/INFO Stopping beta.*INFO Starting beta/s, 'restart: stop, then start');
my $newbeta = pid_of($pidfile{beta});
ok(!alive($pid{beta}), 'restart: the old process is gone');
ok(alive($newbeta) && $newbeta != $pid{beta}, 'restart: a new process runs');
# the new beta logs its first work some time after scriptmgr returned
ok(poll_until(sub { log_pids($log{beta}) >= 2 }), 'restart: the new beta is at work');
is(log_pids($log{beta}), 2, 'restart: started once more');

# unknown jobs and types
($rc, $out, $err) = sm($run, 'start', 'nosuch');
is($rc, 1, 'start of an unknown job: exit 1');
like($err, qr/ERROR Unknown job: nosuch/, 'start of an unknown job: error');
($rc, $out, $err) = sm($run, 'stop', 'nosuch');
is($rc, 1, 'stop of an unknown job: exit 1');
($rc, $out, $err) = sm($run, 'stop', '-t', 'nosuch_type');
is($rc, 1, 'stop -t of an unknown type: exit 1');
like($err, qr/Unknown service type: nosuch_type/, 'stop -t of an unknown type: error');

# a crashed job leaves a stale pidfile: not "OK", and start replaces it
kill 'KILL', $pid{alpha};
ok(poll_until(sub { !alive($pid{alpha}) }), 'alpha killed');
($rc, $out, $err) = sm($run, 'status', 'alpha');
is($out, " STOPPED  [framework_probe] alpha\n", 'status: a stale pidfile is STOPPED');
($rc, $out, $err) = sm($run, 'list', 'alpha');
like($out, qr/^alpha\tframework_probe\tstale\t0\t/, 'list: stale');
($rc, $out, $err) = sm($run, 'start', 'alpha');
is($rc, 0, 'start over a stale pidfile: exit 0');
like($err, qr/Ignoring stale pidfile for alpha/, 'start over a stale pidfile: says so');
ok(alive(pid_of($pidfile{alpha})), 'start over a stale pidfile: runs');

($rc, $out, $err) = sm($run, 'stop', '-a', '-w');
is($rc, 0, 'stop -a -w: exit 0');
ok(!alive(pid_of($pidfile{$_})) && !-e $pidfile{$_}, "stop -a -w: $_ gone")
  for qw(alpha beta);

#### a job that fails at startup
probe_ini('broken', "fail_startup = 1\n");
($rc, $out, $err) = sm($run, 'start', 'broken', 'alpha');
is($rc, 1, 'failing startup: exit 1');
like($err, qr/ERROR startup failed: broken/, 'failing startup: startup failed');
like($err, qr/startup failed as configured/, 'failing startup: the job\'s own error shows');
ok(alive(pid_of($pidfile{alpha})), 'failing startup: the other job started');
($rc, $out, $err) = sm($run, 'stop', 'alpha', '-w');
unlink "$rundir/broken.ini";

#### exec: the job replaces scriptmgr, in the foreground, in cwd
probe_ini('once', '', 0);
my $child = open(my $fh, '-|', $sm, $run, 'exec', 'once') or die "could not run scriptmgr: $!";
my $exec_out = join('', <$fh>);
close $fh;
is($? >> 8, 0, 'exec: the job\'s exit status');
like(slurp("$dir/run/once.log"), qr/^\S+ \S+ $child INFO work marker=once/m,
	'exec: the job runs in scriptmgr\'s process (no fork, no -d)');
ok(!-e "$dir/run/once.pid", 'exec: the job removed its pidfile (relative to cwd) at exit');
($rc, $out, $err) = sm($run, 'exec', 'off');
is($rc, 1, 'exec of a disabled job: exit 1');
($rc, $out, $err) = sm($run, 'exec', 'alpha', 'beta');
is($rc, 2, 'exec of two jobs: usage error');
unlink "$rundir/once.ini";

#### check
($rc, $out, $err) = sm($run, 'check');
is($rc, 0, 'check of good configs: exit 0');
is($out, "4 jobs, 0 problems\n", 'check: summary');
job_ini("$dir/bad/broken.ini", "[framework_probe]\npidfile = run/b.pid\njust words\n");
job_ini("$dir/bad/nopid.ini", "[framework_probe]\nloop_delay = 1\n");
job_ini("$dir/bad/odd.ini", "[nosvc]\n");
my $bad = skytools_ini('bad.ini', "$dir/bad/*.ini",
	"\n[missing_script]\nscript = $dir/no/such/program\n");
job_ini("$dir/bad/ms.ini", "[missing_script]\npidfile = run/ms.pid\n");
($rc, $out, $err) = sm($bad, 'check');
is($rc, 1, 'check with a broken config: exit 1');
like($err, qr/ERROR .*\Q$dir\E\/bad\/broken\.ini/, 'check: the broken file is named');
like($err, qr/job nopid .*no pidfile/, 'check: a job without pidfile');
like($err, qr/service \[missing_script\]: script "\Q$dir\E\/no\/such\/program" is not an executable/,
	'check: a missing script');
like($err, qr/WARNING Cannot find service for \Q$dir\E\/bad\/odd\.ini/, 'check: odd file warned about');
is($out, "2 jobs, 3 problems\n", 'check: summary counts the problems');

($rc, $out, $err) = sm($bad, 'status');
is($rc, 1, 'status with a broken job config: exit 1');
like($out, qr/\[missing_script\] ms/, 'status with a broken job config: the other jobs still show');

done_testing();
