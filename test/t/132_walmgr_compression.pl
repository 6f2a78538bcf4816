# Compressed storage:
# for gzip, lz4 and zstd, xarchive stores NAME.gz/.lz4/.zst that the
# standard tools read; identical checks compare decompressed content (the
# same segment archived again plain or with another algorithm is
# "identical", different content is exit 3 with the archived file kept);
# xrestore decompresses, byte-identical, and answers 255 for a damaged
# file; verify, the restartpoint cleanup and xpurgewals know the names; a
# remote xarchive stores with the primary's algorithm and skips a file
# already there.  Last, a standby restored from a backup catches up from a
# zstd-compressed archive.

use strict;
use warnings;

use File::Copy;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use WalmgrTest;

my $dir = PostgreSQL::Test::Utils::tempdir;
my ($node, @segs) = make_segments('src', 4, "$dir/wal");
$node->stop;
my ($seg1, $seg2, $seg3, $seg4) = @segs;

# a valid segment with other content under seg1's name
my $changed = "$dir/changed";
copy("$dir/wal/$seg1", $changed) or die;
open(my $fh, '+<', $changed) or die;
seek($fh, 100_000, 0);
print $fh 'different bytes';
close $fh;

my %tool = (gzip => 'gzip', lz4 => 'lz4', zstd => 'zstd');
my %suffix = (gzip => '.gz', lz4 => '.lz4', zstd => '.zst');

foreach my $alg (qw(gzip lz4 zstd))
{
	my $ini = "$dir/$alg.ini";
	my $complete = "$dir/$alg/logs.complete";
	my $sfx = $suffix{$alg};
	write_file($ini, <<"INI");
[walmgr]
walmgr_data = $dir/$alg
compression = $alg
INI
	my $r = walmgr($ini, 'setup');
	is($r->{rc}, 0, "$alg: setup") or diag($r->{stderr});

	$r = walmgr($ini, 'xarchive', "$dir/wal/$seg1", $seg1);
	is($r->{rc}, 0, "$alg: segment archived") or diag($r->{stderr});
	ok(-f "$complete/$seg1$sfx" && !-e "$complete/$seg1", "$alg: stored as $seg1$sfx only");
	ok(-s "$complete/$seg1$sfx" < 16 * 1024 * 1024 / 2, "$alg: and smaller");
	my $plain = `$tool{$alg} -dc '$complete/$seg1$sfx'`;
	is($?, 0, "$alg: the standard tool reads it");
	ok($plain eq slurp("$dir/wal/$seg1"), "$alg: to the original bytes");

	# test 10 for compressed storage
	$r = walmgr($ini, 'xrestore', $seg1, "$dir/$alg-restored");
	is($r->{rc}, 0, "$alg 10: xrestore exits 0") or diag($r->{stderr});
	ok(slurp("$dir/$alg-restored") eq slurp("$dir/wal/$seg1"),
		"$alg 10: restored content byte-identical");
	my $t0 = time;
	$r = walmgr($ini, 'xrestore', $seg2, "$dir/$alg-missing");
	my $elapsed = time - $t0;
	is($r->{rc}, 1, "$alg 10: missing segment exits 1");
	ok($elapsed < 1, "$alg 10: at once (${elapsed}s)");
	ok(!-e "$dir/$alg-missing", "$alg 10: %p not created");

	# identical content: archived again plain, or with another algorithm
	utime(1_000_000, 1_000_000, "$complete/$seg1$sfx");
	my @before = (stat("$complete/$seg1$sfx"))[ 1, 7, 9 ];
	foreach my $other ('none', grep { $_ ne $alg } sort keys %tool)
	{
		$r = walmgr($ini, '--set', "compression=$other", 'xarchive', "$dir/wal/$seg1", $seg1);
		is($r->{rc}, 0, "$alg: same segment archived again with compression $other is identical")
		  or diag($r->{stderr});
		like($r->{stderr}, qr/\Q$seg1$sfx\E is already archived with identical content/,
			"$alg: ... and says so");
	}
	is_deeply([ (stat("$complete/$seg1$sfx"))[ 1, 7, 9 ] ], \@before,
		"$alg: archived file untouched (inode, size, mtime)");
	is_deeply([ grep { /^$seg1/ } listdir($complete) ], ["$seg1$sfx"],
		"$alg: still one file for the segment");

	# different content: conflict, for a compressed and an uncompressed new copy
	foreach my $other ($alg, 'none')
	{
		$r = walmgr($ini, '--set', "compression=$other", 'xarchive', $changed, $seg1);
		is($r->{rc}, 3, "$alg: different content stored with $other exits 3");
		like($r->{stderr},
			qr/\Q$seg1$sfx\E is already archived with different content: archived sha256 [0-9a-f]{64}, new sha256 [0-9a-f]{64}/,
			"$alg: ... naming the file and both checksums");
	}
	is_deeply([ (stat("$complete/$seg1$sfx"))[ 1, 7, 9 ] ], \@before,
		"$alg: archived file untouched after the conflicts");
	is(scalar(listdir("$complete/.tmp/conflict")), 2, "$alg: conflict copies kept");

	# a plain file already there is compared the same way
	copy("$dir/wal/$seg2", "$complete/$seg2") or die;
	$r = walmgr($ini, 'xarchive', "$dir/wal/$seg2", $seg2);
	is($r->{rc}, 0, "$alg: a plain archived file is identical to the compressed new copy");
	ok(!-e "$complete/$seg2$sfx", "$alg: no second copy");
	$r = walmgr($ini, 'xarchive', "$dir/wal/$seg3", $seg3);
	is($r->{rc}, 0, "$alg: third segment archived") or diag($r->{stderr});

	# verify: continuity over compressed and plain names
	$r = walmgr($ini, 'verify');
	is($r->{rc}, 0, "$alg: verify accepts compressed and plain segments") or diag($r->{stderr});
	rename("$complete/$seg2", "$dir/$alg-hidden") or die;
	$r = walmgr($ini, 'verify');
	is($r->{rc}, 1, "$alg: verify notices a missing segment");
	like($r->{stderr}, qr/WAL segment $seg2 is missing/, "$alg: ... and names it");
	rename("$dir/$alg-hidden", "$complete/$seg2") or die;

	# a damaged compressed file is an error, not "not found"
	my $good = slurp("$complete/$seg3$sfx");
	write_file("$complete/$seg3$sfx", substr($good, 0, length($good) - 20));
	$r = walmgr($ini, 'xrestore', $seg3, "$dir/$alg-cut");
	is($r->{rc}, 255, "$alg 10: truncated compressed file exits 255");
	ok(!-e "$dir/$alg-cut", "$alg 10: %p removed");
	write_file("$complete/$seg3$sfx", $good . 'junk');
	$r = walmgr($ini, 'xrestore', $seg3, "$dir/$alg-junk");
	is($r->{rc}, 255, "$alg 10: trailing garbage exits 255");
	ok(!-e "$dir/$alg-junk", "$alg 10: %p removed");
	write_file("$complete/$seg3$sfx", $good);

	# restartpoint cleanup removes compressed names below %r
	$r = walmgr($ini, '--set', 'archive_cleanup=restartpoint', '--set', "slave_data=$dir/none",
		'xrestore', $seg3, "$dir/$alg-rp", $seg2);
	is($r->{rc}, 0, "$alg: xrestore with a restart point") or diag($r->{stderr});
	is_deeply([ grep { /^[0-9A-F]{24}/ } listdir($complete) ], [ $seg2, "$seg3$sfx" ],
		"$alg: segments below the restart point are gone, compressed or not");
}

#### xpurgewals: compressed names below the oldest backup go
{
	my $ini = "$dir/zstd.ini";
	my $complete = "$dir/zstd/logs.complete";
	my $r = walmgr($ini, 'xarchive', "$dir/wal/$seg4", $seg4);
	is($r->{rc}, 0, 'purge: fourth segment archived') or diag($r->{stderr});
	mkdir "$dir/zstd/data.master";
	write_file("$dir/zstd/data.master/backup_label",
		"START WAL LOCATION: 0/0 (file $seg4)\nSTART TIME: 2026-01-01 00:00:00 UTC\nLABEL: fake\n");
	$r = walmgr($ini, 'xpurgewals');
	is($r->{rc}, 0, 'purge: xpurgewals') or diag($r->{stderr});
	is_deeply([ grep { /^[0-9A-F]{24}/ } listdir($complete) ], ["$seg4.zst"],
		'purge: compressed and plain segments below the backup are removed');
}

#### remote: the primary's algorithm, HAVE for a file already there
{
	write_fake_ssh("$dir/ssh");
	my $slave_ini = "$dir/remote-slave.ini";
	write_file($slave_ini, "[walmgr]\nwalmgr_data = $dir/remote\n");
	my $master_ini = "$dir/remote-master.ini";
	write_file($master_ini, <<"INI");
[walmgr]
master_data = $dir/nowhere
slave = archive-host
slave_config = $slave_ini
ssh_command = $dir/ssh
remote_walmgr = $WALMGR
compression = lz4
INI
	my $r = walmgr($slave_ini, 'setup');
	is($r->{rc}, 0, 'remote: archive host set up');
	$r = walmgr($master_ini, 'xarchive', "$dir/wal/$seg1", $seg1);
	is($r->{rc}, 0, 'remote: xarchive') or diag($r->{stderr});
	ok(-f "$dir/remote/logs.complete/$seg1.lz4", 'remote: stored with the primary\'s lz4');
	like(slurp("$dir/ssh.args"), qr/--set compression=lz4/, 'remote: passed with --set');
	$r = walmgr($master_ini, '--set', 'compression=none',
		'xarchive', "$dir/wal/$seg1", $seg1);
	is($r->{rc}, 0, 'remote: the same segment again, uncompressed') or diag($r->{stderr});
	like($r->{stderr}, qr/\Q$seg1.lz4\E is already archived with identical content/,
		'remote: answered from the compressed copy without sending');
	$r = walmgr($master_ini, 'xarchive', $changed, $seg1);
	is($r->{rc}, 3, 'remote: different content exits 3');
}

#### compression = something else is a configuration error
{
	my $ini = "$dir/bad.ini";
	write_file($ini, "[walmgr]\nwalmgr_data = $dir/zstd\ncompression = bzip2\n");
	my $r = walmgr($ini, 'xarchive', "$dir/wal/$seg1", $seg1);
	is($r->{rc}, 1, 'compression = bzip2: xarchive fails (PostgreSQL retries)');
	like($r->{stderr}, qr/compression = bzip2 is not supported/, '... saying why');
}

#### a standby catches up from a zstd archive
{
	my $primary = PostgreSQL::Test::Cluster->new('primary');
	$primary->init(allows_streaming => 1);
	$primary->start;
	my $arch_ini = "$dir/c-archive.ini";
	my $standby = PostgreSQL::Test::Cluster->new('standby');
	write_file($arch_ini, <<"INI");
[walmgr]
walmgr_data = $dir/c
compression = zstd
primary_conninfo = @{[ $primary->connstr('postgres') ]}
INI
	# the standby's ini has no primary_conninfo: it is fed from the archive only
	my $standby_ini = "$dir/c-standby.ini";
	write_file($standby_ini, <<"INI");
[walmgr]
walmgr_data = $dir/c
slave_data = @{[ $standby->data_dir ]}
INI
	my $master_ini = "$dir/c-master.ini";
	write_file($master_ini, <<"INI");
[walmgr]
master_db = @{[ $primary->connstr('postgres') ]}
master_data = @{[ $primary->data_dir ]}
walmgr_data = $dir/c
compression = zstd
INI
	my $r = walmgr($master_ini, 'setup');
	is($r->{rc}, 0, 'cluster: setup') or diag($r->{stderr});
	$primary->restart;
	$primary->safe_psql('postgres', 'create table t (x int); insert into t select generate_series(1, 1000)');
	$r = walmgr($arch_ini, 'backup');
	is($r->{rc}, 0, 'cluster: backup with WAL archived compressed') or diag($r->{stderr});
	like($r->{stderr}, qr/holds compressed WAL/, 'cluster: pg_verifybackup told not to parse it');
	$primary->safe_psql('postgres', 'insert into t select generate_series(1001, 2000)');
	my $lsn = $primary->safe_psql('postgres', 'select pg_switch_wal()');
	my $last = $primary->safe_psql('postgres', "select pg_walfile_name('$lsn')");
	ok(poll_until(sub { -f "$dir/c/logs.complete/$last.zst" }), 'cluster: WAL archived as .zst');
	ok(!grep({ /^[0-9A-F]{24}$/ } listdir("$dir/c/logs.complete")), 'cluster: no plain segment');

	$r = walmgr($standby_ini, 'restore');
	is($r->{rc}, 0, 'cluster: standby restored') or diag($r->{stderr});
	$standby->append_conf('postgresql.conf', "port = " . $standby->port . "\n");
	$standby->start;
	ok( poll_until(
			sub {
				my $out = '';
				my $rc = $standby->psql('postgres', 'select count(*) from t', stdout => \$out);
				$rc == 0 && $out eq '2000';
			}),
		'cluster: the standby replayed the compressed WAL');
	$r = walmgr($arch_ini, 'verify');
	is($r->{rc}, 0, 'cluster: verify OK on the compressed archive') or diag($r->{stderr});
	$standby->stop;
	$primary->stop;
}

done_testing();
