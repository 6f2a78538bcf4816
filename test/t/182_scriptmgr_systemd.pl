# scriptmgr where systemd runs the jobs (tools.md 5.2, 5.3 test 11), with a
# fake systemctl that records its calls and a fake /run/systemd/system:
#   - start, stop, restart and reload of a job that skytools-generator gave
#     a unit become "systemctl VERB skytools@JOB.service", the job name
#     unit-escaped and passed as one argument;
#   - a job without a generated unit (added since the last daemon-reload)
#     and every job with --no-systemd, or without systemd, are forked and
#     signalled as before;
#   - status adds the unit's is-active state to the pidfile's;
#   - a failing or missing systemctl is an error, exit 1.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use IPC::Run;
use PostgreSQL::Test::Utils;
use TestFiles;
use Test::More;

my $sm = "$ENV{TESTDIR}/src/scriptmgr/scriptmgr";
my $gen = "$ENV{TESTDIR}/src/systemd/skytools-generator";
my $probe = "$ENV{TESTDIR}/test/framework/framework_probe";
ok(-x $sm && -x $gen && -x $probe, 'scriptmgr, generator and probe are built')
  or die "run make first";

my $dir = PostgreSQL::Test::Utils::tempdir;
mkdir "$dir/$_" for qw(conf run systemd gen);

# whatever happens, no forked job outlives the test
END
{
	for my $pidfile (glob("$dir/run/*.pid"))
	{
		my ($pid) = slurp($pidfile) =~ /^(\d+)/;
		kill 'KILL', $pid if $pid && slurp("/proc/$pid/cmdline") =~ /framework_probe/;
	}
}

# The fake systemctl: one line per call, arguments separated by "|";
# is-active prints the state in $dir/state; a file "fail" fails the call.
write_file("$dir/systemctl", <<"EOF");
#!/bin/sh
verb=\$1
shift
{ printf '%s' "\$verb"; for a in "\$@"; do printf '|%s' "\$a"; done; echo; } >> $dir/calls
if [ -e $dir/fail ]; then echo "fake systemctl failed" >&2; exit 1; fi
if [ "\$verb" = is-active ]; then
	state=\$(cat $dir/state)
	echo "\$state"
	[ "\$state" = active ] || exit 3
fi
exit 0
EOF
chmod 0755, "$dir/systemctl";
write_file("$dir/state", "active\n");

$ENV{SKYTOOLS_SYSTEMD_DIR} = "$dir/systemd";
$ENV{SKYTOOLS_GENERATOR_DIR} = "$dir/gen";
$ENV{SKYTOOLS_SYSTEMCTL} = "$dir/systemctl";

my $ini = "$dir/skytools.ini";
write_file($ini, <<"EOF");
[scriptmgr]
job_name = mgr
config_list = $dir/conf/*.ini

[DEFAULT]
cwd = $dir

[framework_probe]
script = $probe
EOF
write_file("$dir/conf/unit.ini",
	"[framework_probe]\npidfile = run/unit.pid\nloop_delay = 0.1\n");
write_file("$dir/conf/odd.ini",
	"[framework_probe]\njob_name = odd name-1\npidfile = run/odd.pid\n");
write_file("$dir/conf/off.ini",
	"[framework_probe]\ndisabled = 1\npidfile = run/off.pid\n");

# the generated units, as at boot; then a job that came later
{
	local $ENV{SKYTOOLS_INI} = $ini;
	local $ENV{SKYTOOLS_KMSG} = "$dir/kmsg";
	my ($o, $e);
	IPC::Run::run([ $gen, "$dir/gen" ], '<', \undef, '>', \$o, '2>', \$e)
	  or die "generator failed: $e";
}
ok(-e "$dir/gen/skytools\@unit.service.d/50-skytools.conf", 'generator made the units');
write_file("$dir/conf/late.ini",
	"[framework_probe]\npidfile = run/late.pid\nloop_delay = 0.1\n");

sub sm
{
	my ($stdout, $stderr) = ('', '');
	IPC::Run::run([ $sm, @_ ], '<', \undef, '>', \$stdout, '2>', \$stderr);
	return ($? >> 8, $stdout, $stderr);
}

# the calls since the last look
sub calls
{
	my $calls = slurp("$dir/calls");
	unlink "$dir/calls";
	return $calls;
}

sub alive
{
	my ($pidfile) = @_;
	my ($pid) = slurp($pidfile) =~ /^(\d+)/;
	return $pid && kill(0, $pid) && slurp("/proc/$pid/stat") !~ /\) Z /;
}

my ($rc, $out, $err);
for my $verb (qw(start stop restart reload))
{
	($rc, $out, $err) = sm($ini, $verb, 'unit');
	is($rc, 0, "$verb of a job with a unit: exit 0");
	is(calls(), "$verb|skytools\@unit.service\n", "$verb: systemctl $verb skytools\@unit.service");
}
ok(!-e "$dir/run/unit.pid", 'scriptmgr forked nothing for those');

($rc, $out, $err) = sm($ini, 'reload', 'odd name-1');
is(calls(), "reload|skytools\@odd\\x20name\\x2d1.service\n",
	'an odd job name is unit-escaped, one argument');

($rc, $out, $err) = sm($ini, 'status');
is($rc, 0, 'status: exit 0');
is($out, <<'EOF', 'status: pidfile state, then the unit and its state');
 STOPPED  [framework_probe] late
 STOPPED  [framework_probe] odd name-1  (skytools@odd\x20name\x2d1.service active)
 STOPPED  [framework_probe] off  (disabled)
 STOPPED  [framework_probe] unit  (skytools@unit.service active)
EOF
is(calls(), "is-active|skytools\@odd\\x20name\\x2d1.service\nis-active|skytools\@unit.service\n",
	'status asks systemctl is-active, only for the jobs with units');
write_file("$dir/state", "failed\n");
($rc, $out, $err) = sm($ini, 'status', 'unit');
is($out, " STOPPED  [framework_probe] unit  (skytools\@unit.service failed)\n",
	'status shows a failed unit');
calls();

# -a: the units through systemctl, the late job forked, the disabled skipped
($rc, $out, $err) = sm($ini, 'start', '-a');
is($rc, 0, 'start -a: exit 0');
is(calls(), "start|skytools\@odd\\x20name\\x2d1.service\nstart|skytools\@unit.service\n",
	'start -a: systemctl for the jobs with units');
ok(alive("$dir/run/late.pid"), 'start -a: the job without a unit is forked');
like($err, qr/Skipping off/, 'start -a: the disabled job is skipped');
($rc, $out, $err) = sm($ini, 'stop', '-a', '-w');
is($rc, 0, 'stop -a -w: exit 0');
is(calls(), "stop|skytools\@odd\\x20name\\x2d1.service\nstop|skytools\@unit.service\n",
	'stop -a: systemctl for the jobs with units');
ok(!-e "$dir/run/late.pid", 'stop -a -w: the forked job is gone');

# --no-systemd, and no systemd at all: always forked
($rc, $out, $err) = sm('--no-systemd', $ini, 'start', 'unit');
is($rc, 0, '--no-systemd start: exit 0');
ok(alive("$dir/run/unit.pid"), '--no-systemd start: forked');
($rc, $out, $err) = sm('--no-systemd', $ini, 'status', 'unit');
is($out, " OK       [framework_probe] unit\n", '--no-systemd status: no unit state');
($rc, $out, $err) = sm('--no-systemd', $ini, 'stop', '-w', 'unit');
is($rc, 0, '--no-systemd stop: exit 0');
ok(!-e "$dir/run/unit.pid", '--no-systemd stop: the job is gone');
is(calls(), '', '--no-systemd: systemctl never called');
{
	local $ENV{SKYTOOLS_SYSTEMD_DIR} = "$dir/no-systemd-here";
	($rc, $out, $err) = sm($ini, 'start', 'unit');
	ok(alive("$dir/run/unit.pid"), 'without systemd: forked');
	($rc, $out, $err) = sm($ini, 'stop', '-w', 'unit');
	ok(!-e "$dir/run/unit.pid", 'without systemd: stopped by signal');
	is(calls(), '', 'without systemd: systemctl never called');
}

# systemctl failing, or missing
write_file("$dir/fail", '');
($rc, $out, $err) = sm($ini, 'start', 'unit');
is($rc, 1, 'systemctl fails: exit 1');
like($err, qr/systemctl start skytools\@unit\.service failed for job unit/,
	'systemctl fails: said so');
unlink "$dir/fail";
calls();
{
	local $ENV{SKYTOOLS_SYSTEMCTL} = "$dir/no-such-systemctl";
	($rc, $out, $err) = sm($ini, 'reload', 'unit');
	is($rc, 1, 'systemctl missing: exit 1');
	like($err, qr/could not run .*no-such-systemctl/, 'systemctl missing: said so');
	($rc, $out, $err) = sm($ini, 'status', 'unit');
	is($out, " STOPPED  [framework_probe] unit  (skytools\@unit.service unknown)\n",
		'systemctl missing: status says the unit state is unknown');
}

done_testing();
