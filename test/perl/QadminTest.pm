# Helpers for the qadmin TAP tests (test/t/17x_qadmin*.pl): find the
# installed program and run it against a cluster.

package QadminTest;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Utils;
use TestFiles;

our @EXPORT = qw($QADMIN qadmin);

# qadmin from the PATH (CLIENT_BINDIR), not from PostgreSQL's bindir,
# which "make installcheck" puts first.
our $QADMIN = installed_program('qadmin');

# Run qadmin on database $db of cluster $node with @args (and stdin text
# $opts->{stdin} if given).  Returns (exit status, stdout, stderr).
sub qadmin
{
	my $opts = ref $_[0] eq 'HASH' ? shift : {};
	my ($node, $db, @args) = @_;
	my ($stdout, $stderr) = ('', '');
	my $stdin = $opts->{stdin} // '';
	my @conn = defined $db ? ('-h', $node->host, '-p', $node->port, '-d', $db) : ();

	IPC::Run::run([ $QADMIN, @conn, @args ],
		'<', \$stdin, '>', \$stdout, '2>', \$stderr,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	my $status = $?;
	return (($status & 127) ? -1 : $status >> 8, $stdout, $stderr);
}

1;
