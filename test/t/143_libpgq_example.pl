# The example consumer of doc/libpgq.md (doc/examples/libpgq_count.c)
# builds against the INSTALLED libpgq with pkg-config, linked with the
# shared library and once with the static one (pkg-config --static), and
# both builds consume a queue.

use strict;
use warnings;

use File::Basename;
use FindBin;
use lib "$FindBin::RealBin/../perl";

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LibpgqTest;

my $source = "$FindBin::RealBin/../../doc/examples/libpgq_count.c";
ok(-f $source, 'the example is there');

# The library is installed beside the client programs (CLIENT_PREFIX).
if (system('pkg-config --exists libpgq') != 0)
{
	my ($walmgr) = grep { -x "$_/walmgr" } split(/:/, $ENV{PATH});
	$ENV{PKG_CONFIG_PATH} = dirname($walmgr) . '/lib/pkgconfig'
	  . (defined $ENV{PKG_CONFIG_PATH} ? ":$ENV{PKG_CONFIG_PATH}" : '')
	  if defined $walmgr;
}
ok(system('pkg-config --exists libpgq') == 0, 'pkg-config finds the installed libpgq')
  or BAIL_OUT('libpgq is not installed');
chomp(my $libdir = `pkg-config --variable=libdir libpgq`);
chomp(my $includedir = `pkg-config --variable=includedir libpgq`);
ok(-f "$includedir/libpgq.h", 'the header is installed');
ok(-l "$libdir/libpgq.so" && -f "$libdir/libpgq.so.4" && -f "$libdir/libpgq.a",
	'the libraries are installed');
my ($soname) = `objdump -p $libdir/libpgq.so.4` =~ /SONAME\s+(\S+)/;
is($soname, 'libpgq.so.4', 'the shared library has soname libpgq.so.4');
my @exported = grep { /\bpgq_/ } split /\n/, `nm -D --defined-only $libdir/libpgq.so.4`;
my @others = grep { !/ pgq_\w+\@\@LIBPGQ_4$/ && !/ LIBPGQ_4$/ } split /\n/,
  `nm -D --defined-only $libdir/libpgq.so.4`;
ok(@exported > 30, 'the pgq_* functions are exported');
is(join(',', @others), '', '... and nothing else');

my $dir = PostgreSQL::Test::Utils::tempdir;

sub sh
{
	my ($cmd) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'sh', '-c', $cmd ], '<', \undef, '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

my ($rc, $out, $err) = sh("cc -Wall -Werror -o $dir/count_shared $source \$(pkg-config --cflags --libs libpgq)");
is($rc, 0, 'the example builds with pkg-config --cflags --libs') or diag($err);
($rc, $out, $err) = sh("cc -Wall -Werror -o $dir/count_static $source \$(pkg-config --static --cflags libpgq) "
	  . "\$(pkg-config --static --libs libpgq | sed 's/-lpgq /-l:libpgq.a /')");
my $static_ok = $rc == 0;
SKIP:
{
	skip "libpq's private libraries are not installed (libkrb5-dev, libldap-dev): $err", 2
	  if !$static_ok && $err =~ /cannot find -l(gssapi_krb5|ldap)/;
	is($rc, 0, 'the example builds with pkg-config --static') or diag($err);
	unlike(`ldd $dir/count_static`, qr/libpgq/, '... without libpgq.so');
}
$ENV{LD_LIBRARY_PATH} = $libdir . (defined $ENV{LD_LIBRARY_PATH} ? ":$ENV{LD_LIBRARY_PATH}" : '');

my $node = libpgq_node('example');
my @builds = ('count_shared');
push @builds, 'count_static' if $static_ok;
foreach my $build (@builds)
{
	my $prog = "$dir/$build";
	($rc, $out) = sh("$prog --version");
	like($out, qr/^libpgq_count \(pgq\) \S+, libpgq 4\.0$/, "$build: --version");
	my $ini = "$dir/$build.ini";
	append_to_file($ini, "[libpgq_count]\nsrc_db = " . $node->connstr('src')
		  . "\nqueue_name = q\nloop_delay = 0.1\nlogfile = $dir/$build.log\n");
	($rc, $out, $err) = sh("$prog --register $ini");
	is($rc, 0, "$build: --register");
	$node->safe_psql('src', q{
begin;
select pgq.insert_event('q', 'I:public.t', 'a=1&b=x+y');
select pgq.insert_event('q', 'U:public.t', 'a=2&b&c=');
select pgq.insert_event('q', 'D:public.t', 'a=%zz');
select pgq.insert_event('q', 'note', 'hello');
commit;
});
	my ($o, $e) = ('', '');
	my $h = IPC::Run::start([ $prog, $ini ], '<', \undef, '>', \$o, '2>', \$e);
	ok(poll_until(sub { slurp("$dir/$build.log") =~ /count: 4,/ }), "$build: consumes the events");
	$h->signal('INT');
	$h->finish;
	is($h->result(0), 0, "$build: stops on SIGINT with exit 0");
	my $log = slurp("$dir/$build.log");
	like($log, qr/INFO \{count: 4, duration: [\d.]+, idle: [\d.]+, bytes: 27, fields: 5, retry-events: 1\}/,
		"$build: the batch's stats: events, bytes, decoded fields, one retry");
	like($log, qr/WARNING event \d+: bad ev_data, retrying later/, "$build: the bad event is reported");
	($rc) = sh("$prog --unregister $ini");
	is($rc, 0, "$build: --unregister");
}

$node->stop;
done_testing();
