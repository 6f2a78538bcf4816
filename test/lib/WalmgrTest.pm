# Helpers shared by the walmgr TAP tests (test/t/1*_walmgr_*.pl).
#
# The tests run walmgr the way a user does: the one "make install" put on
# the PATH (TestFiles' installed_program).

package WalmgrTest;

use strict;
use warnings;

use Exporter 'import';
use File::Copy;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use TestFiles;
use Test::More;

our @EXPORT = qw(
  $WALMGR walmgr write_file slurp poll_until make_segments
  write_fake_ssh listdir log_of_reload
);

our $WALMGR = installed_program('walmgr');


# Run walmgr with the given arguments.  Returns a hash: rc (exit status,
# -1 if killed), signal, stdout, stderr.  Options in a leading hash ref:
# env (extra environment), prefix (command words before walmgr, e.g.
# strace or fiu-run), stdin.
sub walmgr
{
	my $opts = ref $_[0] eq 'HASH' ? shift : {};
	my ($stdout, $stderr) = ('', '');
	my $stdin = $opts->{stdin} // '';
	local %ENV = (%ENV, %{ $opts->{env} // {} });
	IPC::Run::run([ @{ $opts->{prefix} // [] }, $WALMGR, @_ ],
		'<', \$stdin, '>', \$stdout, '2>', \$stderr);
	my $status = $?;
	return {
		rc     => ($status & 127) ? -1 : $status >> 8,
		signal => $status & 127,
		stdout => $stdout,
		stderr => $stderr,
	};
}

# Run $code, which makes $node reload its configuration, and return what
# the server logged up to the end of that reload (undef if none happened).
# The postmaster logs a file's errors before it takes new connections, and
# a new session's pg_conf_load_time is the postmaster's last reload.
sub log_of_reload
{
	my ($node, $code) = @_;
	my $offset = -s $node->logfile;
	my $before = $node->safe_psql('postgres', 'select pg_conf_load_time()');

	$code->();
	poll_until(
		sub {
			$node->safe_psql('postgres', "select pg_conf_load_time() > '$before'") eq 't';
		}) or return undef;
	return substr(slurp($node->logfile), $offset);
}

# Sorted names in a directory, without . and ..
sub listdir
{
	my ($d) = @_;
	opendir(my $dh, $d) or return ();
	my @names = sort grep { $_ ne '.' && $_ ne '..' } readdir($dh);
	closedir $dh;
	return @names;
}

# Start a throwaway cluster that archives with cp, produce $n full WAL
# segments and copy them into $dest.  Returns (node, list of segment names
# in order).  The node is left running for the caller to use or stop.
sub make_segments
{
	my ($name, $n, $dest) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(has_archiving => 1, allows_streaming => 1);
	$node->start;
	$node->safe_psql('postgres', 'create table t (x int)');
	for (1 .. $n)
	{
		$node->safe_psql('postgres',
			"insert into t select generate_series(1, 100); select pg_switch_wal()");
	}
	my $archive = $node->archive_dir;
	my @segs;
	# each switch completes one segment, and PostgreSQL archives it
	poll_until(
		sub {
			@segs = grep { /^[0-9A-F]{24}$/ } listdir($archive);
			@segs >= $n;
		}) or die "segments were not archived";
	@segs = @segs[ 0 .. $n - 1 ];
	mkdir $dest;
	copy("$archive/$_", "$dest/$_") or die "copy: $!" foreach @segs;
	return ($node, @segs);
}

# A stand-in for ssh: "fake-ssh HOST COMMAND" runs COMMAND with /bin/sh
# here, as sshd would run it on HOST.  $filter, if given, is a shell
# pipeline stage the data on stdin goes through first (to damage it).
sub write_fake_ssh
{
	my ($path, $filter) = @_;
	my $body = "#!/bin/sh\n# test stand-in for ssh: ignore options and host, run the command here\n"
	  . "echo \"\$@\" >>\"\$0.args\"\n"
	  . "while [ \"\${1#-}\" != \"\$1\" ]; do shift; done\nshift\n";
	$body .= defined $filter ? "$filter | /bin/sh -c \"\$1\"\n" : "exec /bin/sh -c \"\$1\"\n";
	write_file($path, $body);
	chmod 0755, $path;
}

1;
