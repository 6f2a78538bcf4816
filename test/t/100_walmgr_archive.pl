# walmgr xarchive / xrestore: the archive contract at the command level,
# locally and through ssh_command with the xreceive protocol.  Real WAL
# segments come from a throwaway cluster.

use strict;
use warnings;

use File::Copy;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use WalmgrTest;

my $dir = PostgreSQL::Test::Utils::tempdir;

# the command line, PostgreSQL style
my $r = walmgr('--help');
is($r->{rc}, 0, '--help exits 0');
like($r->{stdout}, qr/^Usage:\n  walmgr \[OPTION\]\.\.\. INI COMMAND/m, '--help prints the usage');
$r = walmgr('--version');
like($r->{stdout}, qr/^walmgr \(pgq\) \d/, '--version');
$r = walmgr('--no-such-option');
is($r->{rc}, 2, 'unknown option exits 2');
like($r->{stderr}, qr/Try "walmgr --help" for more information/, '... with a hint');
$r = walmgr();
is($r->{rc}, 2, 'no config file exits 2');
write_file("$dir/min.ini", "[walmgr]\nwalmgr_data = $dir/min\n");
$r = walmgr("$dir/min.ini", 'no-such-command');
is($r->{rc}, 2, 'unknown command exits 2');
$r = walmgr('--ini');
is($r->{rc}, 0, '--ini exits 0');
like($r->{stdout}, qr/^\[walmgr\]$/m, '--ini prints a [walmgr] sample');

my ($node, @segs) = make_segments('src', 4, "$dir/wal");
$node->stop;
my ($seg1, $seg2, $seg3, $seg4) = @segs;

# a first segment of a different cluster
my $other = PostgreSQL::Test::Cluster->new('other');
$other->init;
my $foreign = "$dir/foreign";
copy($other->data_dir . '/pg_wal/000000010000000000000001', $foreign) or die;

my $ini = "$dir/archive.ini";
write_file($ini, <<"INI");
[walmgr]
walmgr_data = $dir/arch
slave_data = $dir/standby
INI
my $complete = "$dir/arch/logs.complete";

$r = walmgr($ini, 'setup');
is($r->{rc}, 0, 'setup on the archive side');
ok(-d $complete && -d "$dir/arch/flags", 'setup created the archive tree');

$r = walmgr($ini, 'xarchive', "$dir/wal/$seg1", $seg1);
is($r->{rc}, 0, 'first segment archived');
is(slurp("$complete/$seg1"), slurp("$dir/wal/$seg1"), 'archived content is identical');
like(slurp("$dir/arch/ARCHIVE_ID"), qr/system_identifier = \d+/,
	'the first segment recorded the cluster in ARCHIVE_ID');

#### test 5: identical re-archive succeeds, file untouched

my @before = (stat("$complete/$seg1"))[ 1, 9 ];
sleep 1 if int(time) == $before[1];    # make an mtime change visible
$r = walmgr($ini, 'xarchive', "$dir/wal/$seg1", $seg1);
is($r->{rc}, 0, '5: identical re-archive exits 0');
my @after = (stat("$complete/$seg1"))[ 1, 9 ];
is_deeply(\@after, \@before, '5: inode and mtime unchanged');
like($r->{stderr}, qr/already archived with identical content/, '5: says so');

#### test 6: different content under an existing name

my $changed = "$dir/changed";
copy("$dir/wal/$seg1", $changed) or die;
open(my $fh, '+<', $changed) or die;
seek($fh, 100_000, 0);
print $fh 'different bytes';
close $fh;
my $orig = slurp("$complete/$seg1");
$r = walmgr($ini, 'xarchive', $changed, $seg1);
is($r->{rc}, 3, '6: conflicting content exits 3');
is(slurp("$complete/$seg1"), $orig, '6: archived file byte-identical to before');
like($r->{stderr}, qr/$seg1 is already archived with different content: archived sha256 [0-9a-f]{64}, new sha256 [0-9a-f]{64}/,
	'6: message names the file and both checksums');
my @conflicts = listdir("$complete/.tmp/conflict");
is(scalar(@conflicts), 1, '6: conflict copy kept');
is(slurp("$complete/.tmp/conflict/$conflicts[0]"), slurp($changed),
	'6: conflict copy holds the new content');

#### test 7: two concurrent xarchive of the same name

foreach my $round (1 .. 3)
{
	my $name = $round == 1 ? $seg2 : $round == 2 ? $seg3 : $seg4;
	my @h;
	my @out;
	foreach my $i (0, 1)
	{
		$out[$i] = '';
		$h[$i] = IPC::Run::start([ $WALMGR, $ini, 'xarchive', "$dir/wal/$name", $name ],
			'>', \my $o, '2>', \$out[$i]);
	}
	my @rc = map { $_->finish; $_->result(0) } @h;
	is_deeply(\@rc, [ 0, 0 ], "7: concurrent xarchive of $name: both exit 0");
	is(slurp("$complete/$name"), slurp("$dir/wal/$name"), "7: one file with the right content");
}
is_deeply([ grep { !/^conflict$/ } listdir("$complete/.tmp") ], [],
	'7: no temporary files left');

#### test 8: name validation

my @listing = listdir($complete);
foreach my $bad ('../x', '00000001000000000000000G', '', '0000000100000000000000011',
	'000000010000000000000001.history', 'abcdef01.history', "$seg1/../$seg1",
	'0000000100000000000000010000000000000001', '00000001.HISTORY')
{
	$r = walmgr($ini, 'xarchive', "$dir/wal/$seg1", $bad);
	is($r->{rc}, 4, "8: name \"$bad\" exits 4");
}
is_deeply([ listdir($complete) ], \@listing, '8: nothing written for bad names');

write_file("$dir/00000002.history", "1\t0/3000000\tno recovery target specified\n");
$r = walmgr($ini, 'xarchive', "$dir/00000002.history", '00000002.history');
is($r->{rc}, 0, '8: .history accepted');
my $backupname = "$seg2.00000028.backup";
write_file("$dir/$backupname", "START WAL LOCATION: 0/2000028 (file $seg2)\n");
$r = walmgr($ini, 'xarchive', "$dir/$backupname", $backupname);
is($r->{rc}, 0, '8: .backup accepted');
$r = walmgr($ini, 'xarchive', "$dir/wal/$seg4", "$seg4.partial");
is($r->{rc}, 0, '8: .partial accepted');
is(slurp("$complete/$seg4.partial"), slurp("$dir/wal/$seg4"), '8: .partial stored');

#### test 9: size, magic, system identifier, position

my $short = "$dir/short";
open($fh, '>', $short) or die;
print $fh substr(slurp("$dir/wal/$seg3"), 0, 8 * 1024 * 1024);
close $fh;
my $badmagic = "$dir/badmagic";
copy("$dir/wal/$seg3", $badmagic) or die;
open($fh, '+<', $badmagic) or die;
print $fh "\x00\x00";
close $fh;
my $newname = '000000010000000000000042';
my %cases = (
	'wrong size'            => [ $short,            $newname, qr/file size 8388608 differs/ ],
	'wrong page magic'      => [ $badmagic,         $newname, qr/WAL page magic/ ],
	'other cluster'         => [ $foreign,          '000000010000000000000001', qr/WAL is from database system \d+, the archive belongs to \d+/ ],
	'name/position mismatch' => [ "$dir/wal/$seg3", $newname, qr/does not match the name/ ],
	'timeline in header newer than name' => [ "$dir/wal/$seg3", '00000000' . substr($seg3, 8), qr/timeline/ ],);
foreach my $case (sort keys %cases)
{
	my ($file, $name, $msg) = @{ $cases{$case} };
	$r = walmgr($ini, 'xarchive', $file, $name);
	is($r->{rc}, 4, "9: $case exits 4");
	like($r->{stderr}, $msg, "9: $case message");
	ok(!-e "$complete/$name" || $name eq '000000010000000000000001' && slurp("$complete/$name") ne slurp($file),
		"9: $case not archived");
}

#### test 10: xrestore

my $dest = "$dir/RECOVERYXLOG";
# A missing segment is answered at once: recovery asks for it again and
# again, so walmgr must not wait for it.  Checked by what it does (strace
# sees no sleep), not by a clock that a busy machine slows down.
my $sleeps = "$dir/xrestore-missing.strace";
$r = walmgr(
	{
		prefix => [
			'strace', '-f', '-qq', '-o', $sleeps,
			'-e', 'trace=nanosleep,clock_nanosleep,pause,select,pselect6,poll,ppoll'
		]
	},
	$ini, 'xrestore', '0000000100000000000000AA', $dest);
is($r->{rc}, 1, '10: missing segment exits 1');
is(slurp($sleeps), '', '10: ... without sleeping or waiting');
ok(!-e $dest, '10: ... and %p is not created');
$r = walmgr($ini, 'xrestore', '00000009.history', $dest);
is($r->{rc}, 1, '10: missing .history exits 1');

$r = walmgr($ini, 'xrestore', $seg2, $dest, $seg1);
is($r->{rc}, 0, '10: present segment exits 0');
is(slurp($dest), slurp("$dir/wal/$seg2"), '10: restored content byte-identical');
$r = walmgr($ini, 'xrestore', '00000002.history', $dest);
is($r->{rc}, 0, '10: present .history exits 0');
is(slurp($dest), slurp("$dir/00000002.history"), '10: .history restored');
unlink $dest;

# damage archived files: truncated, wrong magic, unreadable
copy("$complete/$seg3", "$dir/keep3") or die;
truncate("$complete/$seg3", 4 * 1024 * 1024) or die;
write_file($dest, 'left over from an earlier attempt');
$r = walmgr($ini, 'xrestore', $seg3, $dest);
is($r->{rc}, 255, '10: truncated archived segment exits 255');
ok(!-e $dest, '10: ... and %p is removed');
copy($badmagic, "$complete/$seg3") or die;
$r = walmgr($ini, 'xrestore', $seg3, $dest);
is($r->{rc}, 255, '10: archived segment with a bad header exits 255');
copy("$dir/keep3", "$complete/$seg3") or die;
chmod 0, "$complete/$seg3";
$r = walmgr($ini, 'xrestore', $seg3, $dest);
is($r->{rc}, 255, '10: unreadable archived segment exits 255, not "not found"');
chmod 0600, "$complete/$seg3";
ok(!-e $dest, '10: no %p after errors');

$r = walmgr($ini, 'xrestore', 'not-a-wal-name', $dest);
is($r->{rc}, 255, '10: invalid name exits 255');
rename($complete, "$complete.away") or die;
$r = walmgr($ini, 'xrestore', $seg2, $dest);
is($r->{rc}, 255, '10: missing archive directory is an error, not "not found"');
rename("$complete.away", $complete) or die;

my $nf_ini = "$dir/notfound.ini";
write_file($nf_ini, slurp($ini) . "restore_error_exit = notfound\n");
truncate("$complete/$seg3", 1000) or die;
$r = walmgr($nf_ini, 'xrestore', $seg3, $dest);
is($r->{rc}, 1, '10: restore_error_exit = notfound turns errors into 1 (walmgr3 behaviour)');
copy("$dir/keep3", "$complete/$seg3") or die;

# a config error in restore_command is fatal too
$r = walmgr("$dir/no-such.ini", 'xrestore', $seg2, $dest);
is($r->{rc}, 255, '10: missing config file exits 255 in xrestore');
$r = walmgr("$dir/no-such.ini", 'xarchive', "$dir/wal/$seg1", $seg1);
is($r->{rc}, 1, 'missing config file exits 1 in xarchive (PostgreSQL retries)');

#### remote archive through ssh_command (xreceive protocol)

my $slave_ini = "$dir/slave.ini";
write_file($slave_ini, <<"INI");
[walmgr]
walmgr_data = $dir/remote
INI
my $rcomplete = "$dir/remote/logs.complete";
write_fake_ssh("$dir/fake-ssh");
write_fake_ssh("$dir/broken-ssh", 'head -c 100000');
my $master_ini = "$dir/master.ini";
my $master_conf = <<"INI";
[walmgr]
master_data = $dir/nowhere
slave = archive-host
slave_config = $slave_ini
remote_walmgr = $WALMGR
ssh_command = $dir/fake-ssh
walmgr_data = /not/used/here
INI
write_file($master_ini, $master_conf);

$r = walmgr($slave_ini, 'setup');
is($r->{rc}, 0, 'remote: archive host set up');
$r = walmgr($master_ini, 'xarchive', "$dir/wal/$seg1", $seg1);
is($r->{rc}, 0, 'remote: segment archived through ssh_command');
is(slurp("$rcomplete/$seg1"), slurp("$dir/wal/$seg1"), 'remote: content identical');
ok(!-e '/not/used/here', 'remote: nothing written locally');

@before = (stat("$rcomplete/$seg1"))[ 1, 9 ];
$r = walmgr($master_ini, 'xarchive', "$dir/wal/$seg1", $seg1);
is($r->{rc}, 0, 'remote: identical re-archive exits 0');
like($r->{stderr}, qr/already archived with identical content/, 'remote: HAVE fast path taken');
is_deeply([ (stat("$rcomplete/$seg1"))[ 1, 9 ] ], \@before, 'remote: file untouched');

$r = walmgr($master_ini, 'xarchive', $changed, $seg1);
is($r->{rc}, 3, 'remote: conflicting content exits 3');
is(slurp("$rcomplete/$seg1"), slurp("$dir/wal/$seg1"), 'remote: archived file unchanged');

$r = walmgr($master_ini, 'xarchive', $foreign, '000000010000000000000001');
is($r->{rc}, 4, 'remote: segment of another cluster refused by the archive host (exit 4)');
$r = walmgr($master_ini, 'xarchive', "$dir/wal/$seg1", '../x');
is($r->{rc}, 4, 'remote: bad name refused before connecting');

write_file($master_ini, $master_conf =~ s/fake-ssh/broken-ssh/r);
$r = walmgr($master_ini, 'xarchive', "$dir/wal/$seg2", $seg2);
is($r->{rc}, 1, 'remote: transfer cut short exits 1');
ok(!-e "$rcomplete/$seg2", 'remote: nothing published after a short transfer');

write_file($master_ini, $master_conf =~ s/ssh_command = .*/ssh_command = false/r);
$r = walmgr($master_ini, 'xarchive', "$dir/wal/$seg2", $seg2);
is($r->{rc}, 1, 'remote: unreachable archive host exits 1');

write_file($master_ini, $master_conf);
$r = walmgr($master_ini, 'xarchive', "$dir/wal/$seg2", $seg2);
is($r->{rc}, 0, 'remote: works again once the transport is back');

done_testing();
