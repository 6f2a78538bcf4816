# "make install" refuses to overwrite files that belong to a Debian package
# (src/tools/check-not-packaged.sh, run by the Makefile before anything is
# installed).  dpkg's database is faked: DPKG_QUERY points at a script that
# answers "dpkg-query -S" from a list of owned paths, so that no Debian
# package needs to be installed on the test machine.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $top = $ENV{TESTDIR};
my $tmp = PostgreSQL::Test::Utils::tempdir;

sub run_cmd
{
	my ($stdout, $stderr) = ('', '');
	IPC::Run::run([@_], '<', \undef, '>', \$stdout, '2>', \$stderr);
	return ($? >> 8, $stdout, $stderr);
}

my (undef, $sharedir) = run_cmd('pg_config', '--sharedir');
my (undef, $pkglibdir) = run_cmd('pg_config', '--pkglibdir');
chomp($sharedir, $pkglibdir);
my $control = "$sharedir/extension/pgq.control";
my $node_sql = "$sharedir/extension/pgq_node--4.0.sql";
my $library = "$pkglibdir/pgq.so";

# The fake answers like dpkg-query -S: "pkg[, pkg]: path" on stdout for an
# owned path, an error on stderr and exit 1 for any unowned one.
my $owners = "$tmp/owners";
my $fake = "$tmp/dpkg-query";
open(my $fh, '>', $fake) or die;
print $fh <<"SH";
#!/bin/sh
[ "\$1" = -S ] || exit 2
shift
status=0
for path; do
	if grep -F ": \$path" '$owners'; then :; else
		echo "dpkg-query: no path found matching pattern \$path" >&2
		status=1
	fi
done
exit \$status
SH
close($fh);
chmod(0755, $fake) or die;

sub owners
{
	open(my $fh, '>', $owners) or die;
	print $fh map { "$_\n" } @_;
	close($fh);
}

sub make_target
{
	my ($target, @vars) = @_;
	return run_cmd('make', '-s', '-C', $top, $target, 'PG_CONFIG=pg_config',
		"DPKG_QUERY=$fake", @vars);
}

# nothing owned: silent success
owners();
my ($rc, $out, $err) = make_target('check-not-packaged');
is($rc, 0, 'no file of a package: the check passes');
is($err, '', '... silently');

# Debian's postgresql-15-pgq3 owns pgq.control and the library
owners("postgresql-15-pgq3: $control", "postgresql-15-pgq3: $library",
	"postgresql-15-pgq-node, postgresql-15-pgq3: $node_sql");
($rc, $out, $err) = make_target('check-not-packaged');
isnt($rc, 0, 'files of a package: the check fails');
like($err, qr/refusing to overwrite files that belong to the Debian package\(s\) postgresql-15-pgq-node postgresql-15-pgq3:/,
	'... naming the packages once each');
like($err, qr/^  postgresql-15-pgq3: \Q$control\E$/m, '... and the control file');
like($err, qr/^  postgresql-15-pgq3: \Q$library\E$/m, '... and the library');
like($err, qr/FORCE_INSTALL=1/, '... and saying how to go ahead anyway');

# without -s, so that make echoes every command it runs
($rc, $out, $err) = run_cmd('make', '-C', $top, 'install', 'PG_CONFIG=pg_config',
	"DPKG_QUERY=$fake");
isnt($rc, 0, 'make install is refused');
like($err, qr/refusing to overwrite .*postgresql-15-pgq3/, '... by the check, before installing');
unlike($out . $err, qr{/install\b|\bmkdir -p\b|\bln -s},
	'... nothing was installed');

($rc, $out, $err) = make_target('check-not-packaged', 'FORCE_INSTALL=1');
is($rc, 0, 'FORCE_INSTALL=1 lets the installation go ahead');
like($err, qr/warning: FORCE_INSTALL=1: overwriting files of Debian packages:\n  postgresql-15-pgq3: \Q$control\E/,
	'... with a warning listing the files');

($rc, $out, $err) = make_target('check-not-packaged', "DESTDIR=$tmp/stage");
is($rc, 0, 'a staged install (DESTDIR) is not checked');

# a diverted file is reported by dpkg-query -S as "diversion by ..." only
owners("diversion by local-pgq from: $control");
($rc, $out, $err) = make_target('check-not-packaged');
is($rc, 0, 'a diversion line alone is not ownership');

# no dpkg at all (another distribution): nothing to protect
($rc, $out, $err) = run_cmd('make', '-s', '-C', $top, 'check-not-packaged',
	'PG_CONFIG=pg_config', "DPKG_QUERY=$tmp/no-such-dpkg-query");
is($rc, 0, 'without dpkg-query the check passes');

done_testing();
