# walmgr xarchive under faults: the order of
# fsync, publish and directory fsync seen with strace, locally and on the
# xreceive side; fsync failing with EIO and write failing with ENOSPC
# injected with fiu-run; SIGKILL at each crash point.

use strict;
use warnings;

use File::Copy;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PostgreSQL::Test::Utils;
use Test::More;
use WalmgrTest;

foreach my $tool ('strace', 'fiu-run')
{
	my $found = grep { -x "$_/$tool" } split(/:/, $ENV{PATH});
	ok($found, "$tool is installed")
	  or die "this test needs $tool (Debian packages strace, fiu-utils)";
}

my $dir = PostgreSQL::Test::Utils::tempdir;
my ($node, @segs) = make_segments('src', 6, "$dir/wal");
$node->stop;

my $ini = "$dir/archive.ini";
write_file($ini, "[walmgr]\nwalmgr_data = $dir/arch\n");
my $complete = "$dir/arch/logs.complete";
is(walmgr($ini, 'setup')->{rc}, 0, 'archive set up');

# Parse an strace -f -y log into a list of [syscall, args, result] in order.
sub trace_calls
{
	my ($file) = @_;
	my @calls;
	foreach my $line (split /\n/, slurp($file))
	{
		next unless $line =~ /^(?:\d+\s+)?(\w+)\((.*)\)\s+=\s+(\S+)/
		  || $line =~ /^(?:\d+\s+)?(exit_group)\((\d+)\)/;
		push @calls, [ $1, $2, $3 // '' ];
	}
	return @calls;
}

# Index of the first call after $from matching syscall $name and args $re.
sub find_call
{
	my ($calls, $from, $name, $re) = @_;
	for my $i ($from .. $#$calls)
	{
		return $i if $calls->[$i][0] eq $name && $calls->[$i][1] =~ $re;
	}
	return -1;
}

my @strace = ('strace', '-f', '-y', '-o', "$dir/trace",
	'-e', 'trace=fsync,fdatasync,link,linkat,rename,renameat,renameat2,exit_group');

#### test 1: file fsync -> publish -> directory fsync -> exit(0)

my $seg = $segs[0];
my $r = walmgr({ prefix => \@strace }, $ini, 'xarchive', "$dir/wal/$seg", $seg);
is($r->{rc}, 0, '1: xarchive under strace exits 0');
my @calls = trace_calls("$dir/trace");
my $i_fsync = find_call(\@calls, 0, 'fsync', qr{\.tmp/$seg\.});
my $i_pub = find_call(\@calls, 0, 'renameat2', qr{\.tmp/$seg\..*"\Q$complete\E/$seg".*RENAME_NOREPLACE});
my $i_dirsync = find_call(\@calls, 0, 'fsync', qr{<\Q$complete\E>});
my $i_exit = find_call(\@calls, 0, 'exit_group', qr{^0$});
ok($i_fsync >= 0 && $i_pub > $i_fsync, '1: the temporary file is fsynced before it is published')
  or diag(slurp("$dir/trace"));
ok($i_dirsync > $i_pub, '1: the directory is fsynced after publishing');
ok($i_exit > $i_dirsync, '1: exit(0) comes last');
is(find_call(\@calls, 0, 'exit_group', qr{.}), $i_exit, '1: no earlier exit');

# the same order on the archive host, and the sender exits after it
my $slave_ini = "$dir/slave.ini";
write_file($slave_ini, "[walmgr]\nwalmgr_data = $dir/remote\n");
my $rcomplete = "$dir/remote/logs.complete";
is(walmgr($slave_ini, 'setup')->{rc}, 0, 'remote archive set up');
write_fake_ssh("$dir/fake-ssh");
my $master_conf = "[walmgr]\nmaster_data = $dir/nowhere\nslave = archive-host\n"
  . "slave_config = $slave_ini\nremote_walmgr = $WALMGR\nssh_command = $dir/fake-ssh\n";
write_file("$dir/master.ini", $master_conf);
$r = walmgr({ prefix => \@strace }, "$dir/master.ini", 'xarchive', "$dir/wal/$seg", $seg);
is($r->{rc}, 0, '1: remote xarchive under strace exits 0');
@calls = trace_calls("$dir/trace");
$i_fsync = find_call(\@calls, 0, 'fsync', qr{\.tmp/$seg\.});
$i_pub = find_call(\@calls, 0, 'renameat2', qr{"\Q$rcomplete\E/$seg".*RENAME_NOREPLACE});
$i_dirsync = find_call(\@calls, 0, 'fsync', qr{<\Q$rcomplete\E>});
ok($i_fsync >= 0 && $i_pub > $i_fsync && $i_dirsync > $i_pub,
	'1: xreceive side: file fsync, publish, directory fsync')
  or diag(slurp("$dir/trace"));
my @exits = grep { $calls[$_][0] eq 'exit_group' } 0 .. $#calls;
ok(@exits && $exits[0] > $i_dirsync, '1: no process exits before the directory fsync');
is($calls[ $exits[-1] ][1], '0', '1: the sender exits 0, last');

# a far side that never says OK: the sender must not report success
write_file("$dir/mute-ssh",
	"#!/bin/sh\n# reads the data, answers SEND and nothing more\necho SEND\ncat >/dev/null\n");
chmod 0755, "$dir/mute-ssh";
write_file("$dir/master.ini", $master_conf =~ s/fake-ssh/mute-ssh/r);
$r = walmgr("$dir/master.ini", 'xarchive', "$dir/wal/$segs[1]", $segs[1]);
is($r->{rc}, 1, '1: no OK from the archive host: exit 1');

#### test 2: fsync fails with EIO

$seg = $segs[1];
$r = walmgr({ prefix => [ 'fiu-run', '-x', '-c', 'enable name=posix/io/sync/fsync,failinfo=5' ] },
	$ini, 'xarchive', "$dir/wal/$seg", $seg);
isnt($r->{rc}, 0, '2: fsync EIO: non-zero exit');
cmp_ok($r->{rc}, '<', 126, '2: ... below 126 (PostgreSQL retries, archiver not restarted)');
like($r->{stderr}, qr/could not fsync/, '2: ... with a message');
ok(!-e "$complete/$seg", '2: no file under the final name');
is_deeply([ grep { $_ ne 'conflict' } listdir("$complete/.tmp") ], [], '2: temporary file removed');

#### test 3: ENOSPC at a write

$r = walmgr({ prefix => [ 'fiu-run', '-x', '-c', 'enable name=posix/io/rw/write,failinfo=28' ] },
	$ini, 'xarchive', "$dir/wal/$seg", $seg);
isnt($r->{rc}, 0, '3: ENOSPC on the first write: non-zero exit');
ok(!-e "$complete/$seg", '3: final name absent');
is_deeply([ grep { $_ ne 'conflict' } listdir("$complete/.tmp") ], [], '3: temporary file removed');

# at a random write: either the whole file is there or nothing is
my %outcome;
foreach my $try (1 .. 12)
{
	my $s = $segs[ 2 + $try % 3 ];
	unlink "$complete/$s";
	$r = walmgr(
		{ prefix => [ 'fiu-run', '-x', '-c', 'enable_random name=posix/io/rw/write,probability=0.08,failinfo=28' ] },
		$ini, 'xarchive', "$dir/wal/$s", $s);
	if ($r->{rc} == 0)
	{
		$outcome{ok}++ if slurp("$complete/$s") eq slurp("$dir/wal/$s");
		$outcome{bad}++ if slurp("$complete/$s") ne slurp("$dir/wal/$s");
	}
	else
	{
		$outcome{failed}++;
		$outcome{bad}++ if -e "$complete/$s";
	}
}
ok(!$outcome{bad}, '3: random ENOSPC: every run left a complete file or none')
  or diag(explain \%outcome);

# ENOSPC while re-archiving over an existing file: it stays as it was
my $existing = slurp("$complete/$segs[0]");
$r = walmgr({ prefix => [ 'fiu-run', '-x', '-c', 'enable name=posix/io/rw/write,failinfo=28' ] },
	$ini, 'xarchive', "$dir/wal/$segs[0]", $segs[0]);
is(slurp("$complete/$segs[0]"), $existing, '3: an existing file is unchanged after ENOSPC');

#### test 4: crash at each point

foreach my $point ('after-write', 'after-fsync', 'after-publish', 'before-dirsync')
{
	$seg = $segs[5];
	unlink "$complete/$seg";
	$r = walmgr({ env => { WALMGR_TEST_CRASH_AT => $point } },
		$ini, 'xarchive', "$dir/wal/$seg", $seg);
	is($r->{signal}, 9, "4: $point: the process died of SIGKILL");
	ok(!-e "$complete/$seg" || slurp("$complete/$seg") eq slurp("$dir/wal/$seg"),
		"4: $point: final name absent or complete");
	if (!-e "$complete/$seg")
	{
		my $x = walmgr($ini, 'xrestore', $seg, "$dir/RECOVERYXLOG");
		is($x->{rc}, 1, "4: $point: xrestore does not serve the temporary file");
	}
	$r = walmgr($ini, 'xarchive', "$dir/wal/$seg", $seg);
	is($r->{rc}, 0, "4: $point: re-running xarchive succeeds");
	is(slurp("$complete/$seg"), slurp("$dir/wal/$seg"), "4: $point: content correct");
	is_deeply([ grep { $_ ne 'conflict' } listdir("$complete/.tmp") ], [],
		"4: $point: stale temporary files cleaned");
	my $x = walmgr($ini, 'xrestore', $seg, "$dir/RECOVERYXLOG");
	is($x->{rc}, 0, "4: $point: xrestore serves the file");
	is(slurp("$dir/RECOVERYXLOG"), slurp("$dir/wal/$seg"), "4: $point: restored content correct");
}

#### tests 1 and 4 for compressed storage: the same order, the same outcome

$seg = $segs[4];
unlink "$complete/$seg", "$complete/$seg.zst";    # test 2 may have archived it
$r = walmgr({ prefix => \@strace }, $ini, '--set', 'compression=zstd', 'xarchive',
	"$dir/wal/$seg", $seg);
is($r->{rc}, 0, '1 zstd: xarchive under strace exits 0');
@calls = trace_calls("$dir/trace");
$i_fsync = find_call(\@calls, 0, 'fsync', qr{\.tmp/$seg\.zst\.});
$i_pub = find_call(\@calls, 0, 'renameat2',
	qr{\.tmp/$seg\.zst\..*"\Q$complete\E/$seg\.zst".*RENAME_NOREPLACE});
$i_dirsync = find_call(\@calls, 0, 'fsync', qr{<\Q$complete\E>});
$i_exit = find_call(\@calls, 0, 'exit_group', qr{^0$});
ok($i_fsync >= 0 && $i_pub > $i_fsync, '1 zstd: the compressed file is fsynced before it is published')
  or diag(slurp("$dir/trace"));
ok($i_dirsync > $i_pub, '1 zstd: the directory is fsynced after publishing');
ok($i_exit > $i_dirsync, '1 zstd: exit(0) comes last');

foreach my $point ('after-write', 'after-fsync', 'after-publish', 'before-dirsync')
{
	my $stored = "$complete/$seg.lz4";
	unlink "$complete/$seg", "$complete/$seg.zst", $stored;
	$r = walmgr({ env => { WALMGR_TEST_CRASH_AT => $point } },
		$ini, '--set', 'compression=lz4', 'xarchive', "$dir/wal/$seg", $seg);
	is($r->{signal}, 9, "4 lz4: $point: the process died of SIGKILL");
	if (-e $stored)
	{
		my $x = walmgr($ini, 'xrestore', $seg, "$dir/RECOVERYXLOG");
		is($x->{rc}, 0, "4 lz4: $point: a published file is complete");
	}
	else
	{
		my $x = walmgr($ini, 'xrestore', $seg, "$dir/RECOVERYXLOG");
		is($x->{rc}, 1, "4 lz4: $point: xrestore does not serve the temporary file");
	}
	$r = walmgr($ini, '--set', 'compression=lz4', 'xarchive', "$dir/wal/$seg", $seg);
	is($r->{rc}, 0, "4 lz4: $point: re-running xarchive succeeds");
	ok(-e $stored && !-e "$complete/$seg", "4 lz4: $point: stored compressed, once");
	is_deeply([ grep { $_ ne 'conflict' } listdir("$complete/.tmp") ], [],
		"4 lz4: $point: stale temporary files cleaned");
	my $x = walmgr($ini, 'xrestore', $seg, "$dir/RECOVERYXLOG");
	is($x->{rc}, 0, "4 lz4: $point: xrestore serves the file");
	ok(slurp("$dir/RECOVERYXLOG") eq slurp("$dir/wal/$seg"),
		"4 lz4: $point: restored content correct");
}

done_testing();
