# Small file and waiting helpers shared by the TAP tests of the client
# programs (test/t/09*_framework_*.pl, the walmgr tests through
# test/lib/WalmgrTest.pm).

package TestFiles;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep);

our @EXPORT = qw(write_file slurp poll_until);

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

1;
