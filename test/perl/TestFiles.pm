# Small helpers shared by the TAP tests of the client programs: files,
# waiting, and finding an installed program.

package TestFiles;

use strict;
use warnings;

use Cwd qw(realpath);
use Exporter 'import';
use File::Spec;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep);

our @EXPORT = qw(write_file slurp poll_until installed_program);

sub write_file
{
	my ($f, $text) = @_;
	open(my $fh, '>', $f) or die "could not write $f: $!";
	print $fh $text;
	close $fh;
}

# The contents of $f, or '' if it does not exist (yet, or any more).
sub slurp
{
	my ($f) = @_;
	return -e $f ? PostgreSQL::Test::Utils::slurp_file($f) : '';
}

# Wait until $cond returns true; false after the default timeout.
sub poll_until
{
	my ($cond) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		return 1 if $cond->();
		usleep(20_000);
	}
	return 0;
}

# The path of client program $name as a user finds it: the one "make
# install" put on the PATH (CLIENT_BINDIR).  "make installcheck" puts
# PostgreSQL's bindir first on the PATH, which is on no user's PATH on
# Debian and where earlier builds installed programs; it is passed over,
# so that a leftover copy there is never tested in place of the installed one.
sub installed_program
{
	my ($name) = @_;
	my $pg_bindir = `pg_config --bindir`;

	chomp $pg_bindir;
	$pg_bindir = realpath($pg_bindir) // $pg_bindir;
	my ($found) =
	  grep { -f && -x }
	  map { File::Spec->catfile($_, $name) }
	  grep { (realpath($_) // $_) ne $pg_bindir } File::Spec->path;
	die "$name is not on the PATH: run \"make install\" and put its CLIENT_BINDIR "
	  . "(default /usr/local/bin) on the PATH\n"
	  unless defined $found;
	return $found;
}

1;
