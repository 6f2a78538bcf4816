# INI parity with Skytools: every file of a corpus is read by our parser
# (through test/framework/framework_probe) and by Debian's python3-skytools
# Config (test/client/python_config_oracle.py), and every value, typed
# reading and error must agree.  Where we deliberately differ from the
# Python original, the difference is listed in %known_differences with the
# reason, and checked to be exactly that.

use strict;
use warnings;

use Cwd;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $probe  = "$ENV{TESTDIR}/test/framework/framework_probe";
my $oracle = "$ENV{TESTDIR}/test/client/python_config_oracle.py";
ok(-x $probe, 'framework_probe is built') or die "run make first";

my ($pyout, $pyerr) = ('', '');
IPC::Run::run([ 'python3', '-c', 'import skytools' ], '>', \$pyout, '2>', \$pyerr);
die "python3-skytools is needed as the reference: $pyerr" if $?;

my $dir = Cwd::realpath(PostgreSQL::Test::Utils::tempdir);

sub run_cmd
{
	my ($stdout, $stderr) = ('', '');
	IPC::Run::run([@_], '<', \undef, '>', \$stdout, '2>', \$stderr);
	return ($? >> 8, $stdout, $stderr);
}

# our reading of KEY:TYPE, shown like the oracle shows it
sub ours
{
	my ($ini, $item) = @_;
	my ($key, $type) = $item =~ /^(.*):(\w+)$/;
	my ($rc, $out, $err) = run_cmd($probe, $ini, 'get', $key, $type);
	return 'ERROR' if $rc != 0;
	chomp $out;
	$out =~ s/\n/\\n/g;
	return $out;
}

sub ours_loads
{
	my ($ini) = @_;
	# a key nobody defines: the probe exits 2 on a file it cannot load,
	# and also on the missing key, so ask for one with a default
	my ($rc, $out, $err) = run_cmd($probe, $ini, 'get', 'no_such_key', 'str', 'x');
	return $rc == 0;
}

# Returns (loads, { item => value }) from the oracle.
sub reference
{
	my ($ini, @items) = @_;
	my ($rc, $out, $err) =
	  run_cmd('python3', $oracle, 'framework_probe', $ini, @items);
	die "oracle failed on $ini: $err" if $rc != 0;
	my @lines = split /\n/, $out;
	my $load = shift @lines;
	my %values;
	for my $line (@lines)
	{
		my ($item, $value) = split /\t/, $line, 2;
		$values{$item} = $value // '';
	}
	return ($load eq 'load ok', \%values);
}

my @typed_items = qw(i:int neg:int bad_i:int f:float fi:float bad_f:float
  b1:bool b2:bool b3:bool b4:bool b5:bool b6:bool b7:bool b8:bool bad_b:bool
  s1:bytes s2:bytes s3:bytes s4:bytes s5:bytes bad_s:bytes
  path:file dash:file);

# name => [ ini text, extra KEY:TYPE items beyond every key as str ]
my %corpus = (
	'basics' => [
		<<'INI', [qw(missing:str)] ],
# comment
; comment too
[DEFAULT]
base = /srv
Shared = from default

[framework_probe]
Data_Dir = %(base)s/data
logs: %(data_dir)s/logs
percent = 100%%
equals = a=b=c
colon_in_value = host:5432
spaced   =   padded value   
multi = first line
  second line
	third line
empty =
chain1 = %(chain2)s
chain2 = %(chain3)s
chain3 = %(shared)s!

[other]
data_dir = not this one
INI
	'builtins' => [
		<<'INI', [] ],
[framework_probe]
job_name = explicit-%(service_name)s
where = %(config_dir)s/%(job_name)s.pid
file_is = %(config_file)s
INI
	'depth_ok' => [
		<<'INI', [] ],
[framework_probe]
k1 = %(k2)s
k2 = %(k3)s
k3 = %(k4)s
k4 = %(k5)s
k5 = %(k6)s
k6 = %(k7)s
k7 = %(k8)s
k8 = end
INI
	'depth_too_deep' => [
		<<'INI', [qw(k1:str k12:str)] ],
[framework_probe]
k1 = %(k2)s
k2 = %(k3)s
k3 = %(k4)s
k4 = %(k5)s
k5 = %(k6)s
k6 = %(k7)s
k7 = %(k8)s
k8 = %(k9)s
k9 = %(k10)s
k10 = %(k11)s
k11 = %(k12)s
k12 = end
INI
	'interpolation_errors' => [
		<<'INI', [qw(lone:str missing_ref:str loop:str fine:str)] ],
[framework_probe]
lone = 5%
missing_ref = %(nope)s
loop = %(loop)s
fine = ok
INI
	'typed' => [
		<<'INI', \@typed_items ],
[framework_probe]
i = 42
neg = -7
bad_i = 4x
f = 2.5
fi = 3
bad_f = two
b1 = 1
b2 = yes
b3 = True
b4 = ON
b5 = 0
b6 = no
b7 = False
b8 = off
bad_b = maybe
s1 = 10M
s2 = 2 KB
s3 = 512
s4 = 1G
s5 = 3kb
bad_s = 5 parsecs
path = /var/lib/thing
dash = -
INI
	'format2' => [
		<<'INI', [qw(money:str)] ],
[DEFAULT]
root = /opt

[paths]
deep = ${root}/deep

[framework_probe]
config_format = 2
here = ${root}/here
there = ${paths:deep}
money = $$5 and 100%
INI
	'duplicate_key' => [
		<<'INI', [] ],
[framework_probe]
a = 1
A = 2
INI
	'duplicate_section' => [
		<<'INI', [] ],
[framework_probe]
a = 1
[framework_probe]
b = 2
INI
	'no_main_section' => [
		<<'INI', [] ],
[something_else]
a = 1
INI
	'key_without_value' => [
		<<'INI', [] ],
[framework_probe]
lonely
INI
	'text_before_section' => [
		<<'INI', [] ],
a = 1
[framework_probe]
b = 2
INI
	'bad_format_version' => [
		<<'INI', [] ],
[framework_probe]
config_format = 7
INI
);

for my $name (sort keys %corpus)
{
	my ($text, $extra) = @{ $corpus{$name} };
	my $ini = "$dir/$name.ini";
	open(my $fh, '>', $ini) or die;
	print $fh $text;
	close $fh;

	my ($py_loads, $all) = reference($ini);
	is(ours_loads($ini) ? 1 : 0, $py_loads ? 1 : 0,
		"$name: the file " . ($py_loads ? 'loads' : 'is rejected') . ' by both');
	next unless $py_loads;

	my (undef, $typed) = @$extra ? reference($ini, @$extra) : (1, {});
	my %want = (%$all, %$typed);
	for my $item (sort keys %want)
	{
		is(ours($ini, $item), $want{$item}, "$name: $item agrees with python3-skytools");
	}
}

done_testing();
