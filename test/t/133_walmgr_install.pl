# Where "make install" puts the client programs: into CLIENT_BINDIR
# (default /usr/local/bin, on every user's PATH), not into PostgreSQL's
# bindir, which no PATH has on Debian; CLIENT_PREFIX and CLIENT_BINDIR
# move them, DESTDIR is honoured, "make uninstall" removes them.  The
# sample ini names the same place.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../lib";
use PostgreSQL::Test::Utils;
use Test::More;
use WalmgrTest;

my $dir = PostgreSQL::Test::Utils::tempdir;
my $pg_bindir = `pg_config --bindir`;
chomp $pg_bindir;

# a make of its own, not part of the "make installcheck" running this, and
# with the defaults, whatever this tree was installed with
delete local @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL CLIENT_PREFIX CLIENT_BINDIR)};

sub make_in_tree
{
	my @args = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ 'make', '-s', '-C', $ENV{TESTDIR}, 'PG_CONFIG=pg_config', @args ],
		'>', \$out, '2>', \$err);
	diag($err) unless $ok;
	return $ok;
}

ok(make_in_tree('install', "DESTDIR=$dir/default"), 'make install with DESTDIR');
ok(-x "$dir/default/usr/local/bin/walmgr", 'walmgr goes to /usr/local/bin by default');
ok(!-e "$dir/default$pg_bindir/walmgr", '... not to PostgreSQL\'s bindir');
ok(-e "$dir/default" . `pg_config --sharedir` =~ s/\n//r . '/extension/pgq.control',
	'the extension still goes where PostgreSQL looks for it');

ok(make_in_tree('install', "DESTDIR=$dir/prefix", 'CLIENT_PREFIX=/opt/pgq'), 'CLIENT_PREFIX=/opt/pgq');
ok(-x "$dir/prefix/opt/pgq/bin/walmgr", '... puts walmgr in /opt/pgq/bin');

ok(make_in_tree('install', "DESTDIR=$dir/bindir", 'CLIENT_BINDIR=/usr/bin'), 'CLIENT_BINDIR=/usr/bin');
ok(-x "$dir/bindir/usr/bin/walmgr", '... puts walmgr in /usr/bin');

ok(make_in_tree('uninstall', "DESTDIR=$dir/default"), 'make uninstall');
ok(!-e "$dir/default/usr/local/bin/walmgr", '... removes walmgr');

my $r = walmgr('--ini');
like($r->{stdout}, qr{^# remote_walmgr = /usr/local/bin/walmgr$}m,
	'the sample ini names the default install location');

done_testing();
