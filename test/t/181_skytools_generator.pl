# skytools-generator run into temp dirs over a corpus of skytools.ini files
# (tools.md 5.3, test 11, the part that needs no systemd as PID 1):
#   - one drop-in (User=, WorkingDirectory=) and one skytools.target.wants
#     link per enabled job, nothing for disabled services or jobs;
#   - job names escaped as systemd-escape does it, % doubled in values;
#   - files matching no service, broken job configs (syntax, a value that
#     is no boolean, a broken interpolation), duplicate job names
#     and services whose cwd is relative cost only their own job, logged to
#     the kernel log (here a file given by SKYTOOLS_KMSG), exit 0;
#   - no skytools.ini: exit 0 and no units; an output dir that cannot be
#     written: exit 1; no argument: usage, exit 2;
#   - systemd-analyze verify accepts the units with the generated drop-ins.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use File::Find;
use IPC::Run;
use PostgreSQL::Test::Utils;
use TestFiles;
use Test::More;

my $gen = "$ENV{TESTDIR}/src/systemd/skytools-generator";
my $unitsrc = "$ENV{TESTDIR}/src/systemd";
ok(-x $gen, 'skytools-generator is built') or die "run make first";

my $dir = PostgreSQL::Test::Utils::tempdir;
my $me = getpwuid($<);
mkdir "$dir/$_" for qw(conf srv);

# Run the generator into a fresh directory; returns (exit status, stderr,
# kernel log lines, directory).
my $runs = 0;
sub generate
{
	my ($ini, @args) = @_;
	my $out = "$dir/out" . ++$runs;
	my $kmsg = "$dir/kmsg$runs";
	my $stderr = '';

	mkdir $out;
	write_file($kmsg, '');
	local $ENV{SKYTOOLS_INI} = $ini;
	local $ENV{SKYTOOLS_KMSG} = $kmsg;
	IPC::Run::run([ $gen, @args ? @args : ($out, "$out.early", "$out.late") ],
		'<', \undef, '>', \my $stdout, '2>', \$stderr);
	return ($? >> 8, $stderr, slurp($kmsg), $out);
}

# Everything under a directory: "path" for files, "path -> target" for links.
sub tree
{
	my ($root) = @_;
	my @entries;
	find(
		{
			no_chdir => 1,
			wanted => sub {
				my $rel = substr($File::Find::name, length($root) + 1);
				return if $rel eq '';
				if (-l $File::Find::name)
				{
					push @entries, "$rel -> " . readlink($File::Find::name);
				}
				elsif (-f _)
				{
					push @entries, $rel;
				}
			}
		},
		$root);
	return join("\n", sort @entries) . "\n";
}

write_file("$dir/skytools.ini", <<"EOF");
[scriptmgr]
job_name = mgr
config_list = $dir/conf/*.ini, $dir/missing/*.ini, $dir/none.ini

[DEFAULT]
cwd = $dir/srv

[mover]
script = /bin/sleep
user = $me

[plain]
script = /bin/sleep

[off]
script = /bin/sleep
disabled = 1

[relative]
script = /bin/sleep
cwd = srv
EOF
write_file("$dir/conf/a.ini", "[mover]\njob_name = mover_a\n");
write_file("$dir/conf/b.ini", "[mover]\ndisabled = 1\n");
write_file("$dir/conf/c.ini", "[off]\n");
# "%%" in an INI value is one "%": the job name holds "%%"
write_file("$dir/conf/odd.ini",
	"[plain]\njob_name = -odd name/with.dots:colon%%%%percent\n");
write_file("$dir/conf/.hidden.ini", "[plain]\n");
write_file("$dir/conf/dotname.ini", "[plain]\njob_name = .dot\n");
write_file("$dir/conf/dup1.ini", "[plain]\njob_name = twice\n");
write_file("$dir/conf/dup2.ini", "[mover]\njob_name = twice\n");
write_file("$dir/conf/nothing.ini", "[unknown_service]\n");
write_file("$dir/conf/broken.ini", "[plain]\njob_name = broken\nno equals sign here\n");
write_file("$dir/conf/rel.ini", "[relative]\n");
write_file("$dir/conf/maybe.ini", "[plain]\ndisabled = maybe\n");
write_file("$dir/conf/interp.ini", "[plain]\njob_name = %(no_such_key)s\n");
write_file("$dir/conf/own.ini", "[scriptmgr]\n[plain]\n");
write_file("$dir/conf/both.ini", "[mover]\njob_name = both\n[plain]\njob_name = both_plain\n");

my ($rc, $stderr, $kmsg, $out) = generate("$dir/skytools.ini");
is($rc, 0, 'generator exits 0 despite broken jobs');
is($stderr, '', 'nothing on stderr when the kernel log is writable');

my $odd = '\x2dodd\x20name-with.dots:colon\x25\x25percent';
my @units = sort('skytools@mover_a.service', "skytools\@$odd.service", 'skytools@\x2edot.service',
	'skytools@twice.service', 'skytools@both.service',
	'skytools@both_plain.service');
my $expected = join('',
	map { "$_.d/50-skytools.conf\nskytools.target.wants/$_ -> ../$_\n" } @units);
$expected = join("\n", sort split /\n/, $expected) . "\n";
is(tree($out), $expected,
	'one drop-in and one wants-link per enabled job, none for disabled ones');

like(slurp("$out/skytools\@mover_a.service.d/50-skytools.conf"),
	qr/^\[Service\]\nUser=$me\nGroup=\nWorkingDirectory=\Q$dir\E\/srv\n\z/m,
	'drop-in of a service with user: User=, Group= reset, WorkingDirectory=');
my $plain = slurp("$out/skytools\@$odd.service.d/50-skytools.conf");
unlike($plain, qr/^User=/m, 'no User= for a service without user');
like($plain, qr/^# .*job -odd name\/with\.dots:colon%%percent of \[plain\]/m,
	'the drop-in names its job and service');
like(slurp("$out/skytools\@twice.service.d/50-skytools.conf"),
	qr/dup1\.ini/, 'of two jobs named alike, the first one keeps the name');

SKIP:
{
	my ($escaped, $err);
	skip 'systemd-escape cannot run here', 1
	  unless eval {
		IPC::Run::run([ 'systemd-escape', '--', '-odd name/with.dots:colon%%percent' ],
			'>', \$escaped, '2>', \$err);
	  };
	chomp $escaped;
	is($escaped, $odd, 'job names are escaped as systemd-escape does');
}

like($kmsg, qr/Cannot find service for \Q$dir\E\/conf\/nothing\.ini/,
	'a file matching no service is reported to the kernel log');
like($kmsg, qr/broken\.ini/, 'a broken job config is reported');
like($kmsg, qr/job name "twice".*already used/, 'a duplicate job name is reported');
like($kmsg, qr/maybe\.ini.*value of "disabled" is not a boolean: "maybe"/,
	'a job whose disabled is not a boolean is reported and skipped');
like($kmsg, qr/interp\.ini.*no_such_key/,
	'a job whose job_name does not interpolate is reported and skipped');
like($kmsg, qr/job "rel" .* skipped: the cwd of its service is not an absolute path/,
	'a relative cwd skips only that job');
unlike($kmsg, qr/missing|none\.ini/, 'config_list globs matching nothing are no error');

# the kernel log cannot be opened: stderr instead
{
	local $ENV{SKYTOOLS_INI} = "$dir/skytools.ini";
	local $ENV{SKYTOOLS_KMSG} = "$dir/no/such/kmsg";
	mkdir "$dir/out_stderr";
	IPC::Run::run([ $gen, "$dir/out_stderr" ], '<', \undef, '>', \my $o, '2>', \my $e);
	is($? >> 8, 0, 'without a kernel log: exit 0');
	like($e, qr/Cannot find service/, 'without a kernel log: messages on stderr');
}

# a second run over the same directory (daemon-reload into a kept dir)
{
	local $ENV{SKYTOOLS_INI} = "$dir/skytools.ini";
	local $ENV{SKYTOOLS_KMSG} = "$dir/kmsg1";
	IPC::Run::run([ $gen, $out ], '<', \undef, '>', \my $o, '2>', \my $e);
	is($? >> 8, 0, 'a second run over the same output exits 0');
	is(tree($out), $expected, 'and leaves the same files');
}

# no skytools.ini at all: nothing to do
($rc, $stderr, $kmsg, my $empty) = generate("$dir/no-such.ini");
is($rc, 0, 'no skytools.ini: exit 0');
is(tree($empty), "\n", 'no skytools.ini: no units');

# skytools.ini that cannot be parsed, or without config_list
write_file("$dir/bad.ini", "[scriptmgr\nconfig_list = x\n");
($rc, $stderr, $kmsg, $empty) = generate("$dir/bad.ini");
is($rc, 0, 'unparsable skytools.ini: exit 0');
like($kmsg, qr/bad\.ini/, 'unparsable skytools.ini: reported');
write_file("$dir/nolist.ini", "[scriptmgr]\njob_name = x\n");
($rc, $stderr, $kmsg, $empty) = generate("$dir/nolist.ini");
is($rc, 0, 'skytools.ini without config_list: exit 0');
like($kmsg, qr/config_list/, 'skytools.ini without config_list: reported');

# the output directory cannot be written, and usage
($rc, $stderr, $kmsg) = generate("$dir/skytools.ini", "$dir/no/such/dir");
is($rc, 1, 'an output directory that cannot be written: exit 1');
like($kmsg, qr/could not create directory/, 'and says why');
($rc, $stderr) = generate("$dir/skytools.ini", '--help');
is($rc, 2, 'no output directory: usage, exit 2');
like($stderr, qr/Usage: skytools-generator NORMAL-DIR/, 'usage text');

# The units as built, with the generated drop-ins, through systemd's own
# checker: its warnings (unknown keys, bad values) fail the test.
my $built = slurp("$unitsrc/skytools\@.service");
like($built, qr{^ExecStart=/\S+/scriptmgr /etc/skytools\.ini exec %I$}m,
	'the built template runs scriptmgr from the install prefix');
SKIP:
{
	my $units = "$dir/units";
	mkdir $units;
	my $template = $built;
	# the check wants ExecStart's program to exist; the installed one may not
	$template =~ s{^ExecStart=\S+}{ExecStart=$ENV{TESTDIR}/src/scriptmgr/scriptmgr}m;
	write_file("$units/skytools\@.service", $template);
	write_file("$units/skytools.target", slurp("$unitsrc/skytools.target"));
	IPC::Run::run([ 'cp', '-a', "$out/.", "$units/" ]) or die "cp failed";

	my ($vout, $verr) = ('', '');
	my $ran = eval {
		local $ENV{SYSTEMD_UNIT_PATH} = "$units:";
		local $ENV{SYSTEMD_LOG_LEVEL} = 'warning';
		IPC::Run::run([ 'systemd-analyze', 'verify', '--man=no',
				"$units/skytools.target" ],
			'<', \undef, '>', \$vout, '2>', \$verr,
			IPC::Run::timeout(120));
		1;
	};
	skip "systemd-analyze cannot run here: " . ($@ || $verr), 2
	  if !$ran || $verr =~ /Failed to (?:initialize|create|set up)|not supported|No such file or directory.*systemd-analyze/i;
	is($? >> 8, 0, 'systemd-analyze verify accepts the units');
	is($verr, '', 'systemd-analyze verify has nothing to say about them')
	  or diag($verr);
}

done_testing();
