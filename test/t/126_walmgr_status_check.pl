# walmgr status --check: Nagios-style exit codes
# for a failing archive_command, archiving stopped with WAL waiting too
# long, and no (recent) backup; the archive host's part comes through
# ssh_command.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalmgrTest;

my $dir = PostgreSQL::Test::Utils::tempdir;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
my $pgdata = $primary->data_dir;

my $slave_ini = "$dir/wal-slave.ini";
write_file($slave_ini, "[walmgr]\nwalmgr_data = $dir/walshipping\n"
	  . "primary_conninfo = " . $primary->connstr('postgres') . "\ncheck_backup_age = 3600\n");
write_fake_ssh("$dir/ssh-ok");
write_file("$dir/ssh-down", "#!/bin/sh\nexit 255\n");
chmod 0755, "$dir/ssh-down";
symlink("$dir/ssh-ok", "$dir/ssh") or die;
sub archive_host_up
{
	unlink("$dir/ssh");
	symlink($_[0] ? "$dir/ssh-ok" : "$dir/ssh-down", "$dir/ssh") or die;
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
check_archive_age = 600
INI

sub check
{
	my $r = walmgr(@_, 'status', '--check');
	chomp $r->{stdout};
	return ($r->{rc}, $r->{stdout});
}

is(walmgr($master_ini, 'setup')->{rc}, 0, 'archiving set up');
$primary->restart;
my ($rc, $out) = check($master_ini);
is($rc, 2, 'no backup yet: CRITICAL');
like($out, qr/^WALMGR CRITICAL - .*no backup/, '... says why, from the archive host');
is(walmgr($slave_ini, 'backup')->{rc}, 0, 'backup');
($rc, $out) = check($master_ini);
is($rc, 0, 'all fine: OK');
like($out, qr/^WALMGR OK - /, '... one line');

# the archive host goes away: archive_command fails
archive_host_up(0);
$primary->safe_psql('postgres', 'create table t (x int); select pg_switch_wal()');
ok($primary->poll_query_until('postgres', 'select failed_count > 0 from pg_stat_archiver'),
	'archiving fails');
($rc, $out) = check($master_ini);
is($rc, 2, 'failing archiver: CRITICAL');
like($out, qr/archive_command failing/, '... says so');
archive_host_up(1);
ok( $primary->poll_query_until('postgres',
		'select last_archived_time > last_failed_time from pg_stat_archiver'),
	'archiving recovers');
($rc, $out) = check($master_ini);
is($rc, 0, 'recovered: OK') or diag($out);

# archiving stopped, WAL waiting for too long
is(walmgr($master_ini, 'stop')->{rc}, 0, 'archiving stopped');
my $seg = $primary->safe_psql('postgres',
	'insert into t values (1); select pg_walfile_name(pg_current_wal_lsn()); select pg_switch_wal()');
$seg = (split /\n/, $seg)[0];
my $ready = "$pgdata/pg_wal/archive_status/$seg.ready";
ok(poll_until(sub { -e $ready }), 'a segment waits');
($rc, $out) = check($master_ini);
is($rc, 1, 'archiving stopped: WARNING');
like($out, qr/archiving stopped/, '... says so');
unlike($out, qr/waiting/, '... the fresh .ready file is not old yet');
my $past = time - 7200;
utime($past, $past, $ready) or die;
($rc, $out) = check($master_ini);
like($out, qr/1 WAL files waiting, the oldest for \d+ s/, 'a .ready file older than check_archive_age is reported');
is(walmgr($master_ini, 'setup')->{rc}, 0, 'archiving set up again');
ok(poll_until(sub { !-e $ready }), 'the waiting segment is archived');

# backups: too old, then none
my $info = "$dir/walshipping/data.master/walmgr.info";
utime($past, $past, $info) or die;
($rc, $out) = check($slave_ini);
is($rc, 1, 'old backup: WARNING (archive host ini)');
like($out, qr/newest backup is \d+ s old/, '... says how old');
($rc, $out) = check($master_ini);
is($rc, 1, 'old backup: WARNING also from the primary');
rename("$dir/walshipping/data.master", "$dir/away") or die;
($rc, $out) = check($slave_ini);
is($rc, 2, 'no backup: CRITICAL');

archive_host_up(0);
($rc, $out) = check($master_ini);
is($rc, 2, 'archive host unreachable: CRITICAL');
like($out, qr/archive host not reachable/, '... says so');

($rc, $out) = check("$dir/no-such.ini");
is($rc, 3, 'config error: UNKNOWN (3)');

$primary->stop;
done_testing();
