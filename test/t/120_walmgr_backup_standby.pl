# walmgr base backups and standbys against PostgreSQL 15: verified backups
# with rotation, the backup lock, WAL purge across timelines, a backup
# failing while archiving is broken, a standby fed only from the archive
# catching up with the same table contents, and its promotion.

use strict;
use warnings;

use File::Copy;
use POSIX ();
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalmgrTest;

my $dir = PostgreSQL::Test::Utils::tempdir;
my $bindir = `pg_config --bindir`;
chomp $bindir;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
my $pgdata = $primary->data_dir;

my $slave_conf = <<"INI";
[walmgr]
walmgr_data = $dir/walshipping
logfile = $dir/slave.log
primary_conninfo = @{[ $primary->connstr('postgres') ]}
keep_backups = 2
INI
my $slave_ini = "$dir/wal-slave.ini";
write_file($slave_ini, $slave_conf);
my $complete = "$dir/walshipping/logs.complete";

write_fake_ssh("$dir/ssh-ok");
write_file("$dir/ssh-down", "#!/bin/sh\nexit 255\n");
chmod 0755, "$dir/ssh-down";
symlink("$dir/ssh-ok", "$dir/ssh") or die;
sub archive_host_up
{
	my ($up) = @_;
	unlink("$dir/ssh");
	symlink($up ? "$dir/ssh-ok" : "$dir/ssh-down", "$dir/ssh") or die;
}

my $master_ini = "$dir/wal-master.ini";
write_file($master_ini, <<"INI");
[walmgr]
master_db = @{[ $primary->connstr('postgres') ]}
master_data = $pgdata
slave = archive-host
slave_config = $slave_ini
ssh_command = $dir/ssh
remote_walmgr = $WALMGR
walmgr_data = $dir/walshipping
INI

my $r = walmgr($master_ini, 'setup');
is($r->{rc}, 0, 'archiving set up') or diag($r->{stderr});
$primary->restart;
$primary->safe_psql('postgres',
	'create table t (x int primary key, v text); insert into t select g, md5(g::text) from generate_series(1, 1000) g');

#### test 18: verified backup, listed with start and stop WAL

$r = walmgr($master_ini, 'backup');
is($r->{rc}, 0, '18: backup (run on the archive host through ssh_command) exits 0');
my $bk = "$dir/walshipping/data.master";
ok(-f "$bk/backup_manifest" && -f "$bk/backup_label", '18: backup has backup_label and backup_manifest');
like(slurp("$dir/slave.log"), qr/running pg_verifybackup/, '18: walmgr verified it');
my ($vrc) = IPC::Run::run([ "$bindir/pg_verifybackup", '-i', 'walmgr.info', '-w', $complete, $bk ],
	'>', \my $vo, '2>', \my $ve);
ok($vrc, '18: pg_verifybackup accepts the backup (with WAL from the archive)') or diag($ve);
$r = walmgr($slave_ini, 'listbackups');
is($r->{rc}, 0, '18: listbackups exits 0');
like($r->{stdout}, qr/^data\.master\s+\S.*\s[0-9A-F]{24}\s+[0-9A-F]{24}\s+yes\s+walmgr-\d+$/m,
	'18: listbackups shows the backup with start and stop WAL');
$r = walmgr($master_ini, 'listbackups');
like($r->{stdout}, qr/^data\.master\s/m, '18: listbackups from the primary\'s ini too');

# a backup while archiving is broken fails after backup_archive_timeout
archive_host_up(0);
write_file($slave_ini, $slave_conf . "backup_archive_timeout = 3\n");
my $before = slurp("$bk/backup_label");
$r = walmgr($slave_ini, 'backup');
isnt($r->{rc}, 0, '18: backup with archiving broken fails');
like($r->{stderr}, qr/did not finish within 3 s/, '18: ... after backup_archive_timeout');
is(slurp("$bk/backup_label"), $before, '13: the previous backup is still in place');
ok(!-e "$bk.incomplete", '18: the failed backup is not left behind');
$r = walmgr($slave_ini, 'listbackups');
is(scalar(() = $r->{stdout} =~ /^data\.master/mg), 1, '18: the failed backup is not listed');
ok(!-e "$dir/walshipping/flags/BACKUPLOCK", '18: the lock is released after a failure');
archive_host_up(1);
write_file($slave_ini, $slave_conf);

#### test 14: backup lock

write_file("$dir/walshipping/flags/BACKUPLOCK", "$$\n");
$r = walmgr($slave_ini, 'backup');
is($r->{rc}, 1, '14: backup with the lock held by a live process exits 1');
like($r->{stderr}, qr/another backup is running: the backup lock .* is held by process $$/,
	'14: ... with a clear message');
my $dead = fork();
POSIX::_exit(0) if $dead == 0;    # no END blocks: they would stop the nodes
waitpid($dead, 0);
write_file("$dir/walshipping/flags/BACKUPLOCK", "$dead\n");
$r = walmgr($slave_ini, 'backup');
is($r->{rc}, 0, '14: a lock held by a dead process is taken over') or diag($r->{stderr});
like($r->{stderr}, qr/taking over the backup lock .* of process $dead/, '14: ... and says so');
is(walmgr($slave_ini, 'xlock')->{rc}, 0, '14: xlock takes the lock');
$r = walmgr($slave_ini, 'xlock');
is($r->{rc}, 1, '14: a second xlock fails while the holder lives');
is(walmgr($slave_ini, 'xrelease')->{rc}, 0, '14: xrelease releases it');
ok(!-e "$dir/walshipping/flags/BACKUPLOCK", '14: lock file gone');

#### test 13: rotation keeps keep_backups, expire command failure stops it

$r = walmgr($slave_ini, 'backup');
is($r->{rc}, 0, '13: third backup');
ok(-d "$bk" && -d "$bk.0" && !-e "$bk.1", '13: keep_backups = 2 keeps two backups');
write_file($slave_ini, $slave_conf . "backup_expire_command = test ! -d \$BACKUPDIR/base\n");
$r = walmgr($slave_ini, 'backup');
is($r->{rc}, 1, '13: failing backup_expire_command makes backup exit 1');
ok(-d "$bk" && -d "$bk.0" && -d "$bk.1", '13: ... and nothing was removed');
write_file($slave_ini, $slave_conf . "backup_expire_command = touch $dir/expired-\$(basename \$BACKUPDIR)\n");
$r = walmgr($slave_ini, 'xrotate');
is($r->{rc}, 0, '13: xrotate applies keep_backups');
ok(-d "$bk.0" && !-e "$bk.1", '13: ... removing the oldest');
ok(-e "$dir/expired-data.master.1", '13: backup_expire_command ran with $BACKUPDIR');
write_file($slave_ini, $slave_conf);

#### test 12: purge across timelines, .history kept

my ($start_wal) = slurp("$bk.0/backup_label") =~ /START WAL LOCATION: .* \(file ([0-9A-F]{24})\)/;
my $segno = hex(substr($start_wal, 8, 16) =~ s/^0{8}//r);
my @fake;
foreach my $tli (1, 2)
{
	# names around the oldest kept backup's start, on two timelines
	foreach my $delta (-2, -1, 0, 1)
	{
		my $name = sprintf('%08X%s%08X', $tli, substr($start_wal, 8, 8),
			hex(substr($start_wal, 16, 8)) + $delta);
		next if -e "$complete/$name";
		write_file("$complete/$name", 'x');
		push @fake, [ $name, $delta ];
	}
}
write_file("$complete/00000002.history", "1\t0/1000000\tno recovery target specified\n");
write_file("$complete/00000003.history", "1\t0/1000000\tno recovery target specified\n");
my @below_real = grep { /^[0-9A-F]{24}$/ && substr($_, 8) lt substr($start_wal, 8) } listdir($complete);
cmp_ok(scalar(@below_real), '>', 0, '12: there are segments below the oldest backup');
$r = walmgr($slave_ini, 'xpurgewals');
is($r->{rc}, 0, '12: xpurgewals exits 0');
foreach my $f (@fake)
{
	my ($name, $delta) = @$f;
	if ($delta < 0)
	{
		ok(!-e "$complete/$name", "12: $name (below the backup's start) purged");
	}
	else
	{
		ok(-e "$complete/$name", "12: $name (at or above the start) kept");
		unlink "$complete/$name";
	}
}
ok(-e "$complete/00000002.history" && -e "$complete/00000003.history", '12: .history files kept');
ok(-e "$complete/$start_wal", '12: the start segment of the oldest backup kept');
is(scalar(grep { /^[0-9A-F]{24}$/ && substr($_, 8) lt substr($start_wal, 8) } listdir($complete)),
	0, '12: nothing below the oldest backup remains');
unlink "$complete/00000002.history", "$complete/00000003.history";

#### test 19: a standby fed only from the archive catches up

my $standby = PostgreSQL::Test::Cluster->new('standby');
my $standby_ini = "$dir/standby.ini";
write_file($standby_ini, <<"INI");
[walmgr]
walmgr_data = $dir/walshipping
slave_data = @{[ $standby->data_dir ]}
slave_db = @{[ $standby->connstr('postgres') ]}
logfile = $dir/standby.log
INI
my $backups_before = walmgr($slave_ini, 'listbackups')->{stdout};
$r = walmgr($standby_ini, 'restore', 'data.master.0');
is($r->{rc}, 0, '19: restore of the older (purge-surviving) backup exits 0');
is(walmgr($slave_ini, 'listbackups')->{stdout}, $backups_before,
	'13: restore copies: the backup is still listed');
ok(-e $standby->data_dir . '/standby.signal', '19: standby.signal written');
my $auto = slurp($standby->data_dir . '/postgresql.auto.conf');
like($auto, qr/^restore_command = '.*xrestore %f "%p" %r'$/m, '19: restore_command set');
unlike($auto, qr/primary_conninfo/, '19: no primary_conninfo: archive only');
$standby->append_conf('postgresql.conf', "port = " . $standby->port . "\n");
$standby->start;

$primary->safe_psql('postgres',
	'insert into t select g, md5(g::text) from generate_series(1001, 50000) g');
foreach (1 .. 3)
{
	$primary->safe_psql('postgres',
		'update t set v = md5(v) where x % 7 = 0; select pg_switch_wal()');
}
my $target = $primary->safe_psql('postgres', 'select pg_current_wal_lsn(); select pg_switch_wal()');
$target = (split /\n/, $target)[0];
ok( $standby->poll_query_until('postgres',
		"select pg_last_wal_replay_lsn() >= '$target'::pg_lsn"),
	'19: the standby replays up to the primary\'s switch point');
my $sum = "select md5(string_agg(x || ':' || v, ',' order by x)) from t";
is($standby->safe_psql('postgres', $sum), $primary->safe_psql('postgres', $sum),
	'19: table contents match');
is($standby->safe_psql('postgres', 'select pg_is_in_recovery()'), 't', '19: still a standby');

#### boot: promote

$r = walmgr($standby_ini, 'boot');
is($r->{rc}, 0, 'boot exits 0');
is($standby->safe_psql('postgres', 'select pg_is_in_recovery()'), 'f', 'boot: promoted');
unlike(slurp($standby->data_dir . '/postgresql.auto.conf'), qr/restore_command/,
	'boot: walmgr\'s recovery settings are gone from postgresql.auto.conf');
$standby->safe_psql('postgres', 'insert into t values (0, \'after promotion\')');

$standby->stop;
$primary->stop;
done_testing();
