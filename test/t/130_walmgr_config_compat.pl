# walmgr configuration compatibility and --dry-run:
# ini files in walmgr3's sample layout load unchanged (%(walmgr_data)s, ~,
# old and now meaningless keys, compression = 0, host: prefixes), the role
# follows master_data, --set overrides, and --dry-run leaves every file tree
# and postgresql.auto.conf byte-identical.

use strict;
use warnings;

use Digest::SHA;
use File::Find;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalmgrTest;

my $dir = PostgreSQL::Test::Utils::tempdir;
local $ENV{HOME} = $dir;

# Both files follow walmgr3's samples key for key; comments are ours.
my $master_sample = <<'INI';
[walmgr]
job_name             = wal-master
logfile              = ~/log/%(job_name)s.log
pidfile              = ~/pid/%(job_name)s.pid
use_skylog           = 1

master_db            = dbname=template1
master_data          = /var/lib/postgresql/8.3/main
master_config        = /etc/postgresql/8.3/main/postgresql.conf
master_bin           = /usr/lib/postgresql/8.3/bin

# restarts are allowed during setup and stop only when this is set
#master_restart_cmd   = /etc/init.d/postgresql-8.3 restart

slave = slave-host
slave_config = /var/lib/postgresql/conf/wal-slave.ini

walmgr_data          = ~/walshipping
completed_wals       = %(slave)s:%(walmgr_data)s/logs.complete
partial_wals         = %(walmgr_data)s/logs.partial
full_backup          = %(walmgr_data)s/data.master
config_backup        = %(walmgr_data)s/config.backup

loop_delay           = 10.0
use_xlog_functions   = 0
compression          = 0
keep_symlinks        = 1
#hot_standby          = 1
#command_interval     = 600
#periodic_command     = /var/lib/postgresql/walshipping/periodic.sh
INI

my $slave_sample = <<'INI';
[walmgr]
job_name             = wal-slave
logfile              = ~/log/%(job_name)s.log
use_skylog           = 1

slave_data           = /var/lib/postgresql/8.3/main
slave_bin            = /usr/lib/postgresql/8.3/bin
slave_stop_cmd       = /etc/init.d/postgresql-8.3 stop
slave_start_cmd      = /etc/init.d/postgresql-8.3 start
slave_config_dir     = /etc/postgresql/8.3/main

walmgr_data          = ~/walshipping
completed_wals       = %(walmgr_data)s/logs.complete
partial_wals         = %(walmgr_data)s/logs.partial
full_backup          = %(walmgr_data)s/data.master
config_backup        = %(walmgr_data)s/config.backup

backup_datadir       = yes
keep_backups         = 0
archive_command      =

# primary_conninfo     = host=master port=5432 user=postgres
INI

mkdir "$dir/log";
write_file("$dir/wal-master.ini", $master_sample);
write_file("$dir/wal-slave.ini", $slave_sample);

#### the samples load as they are

my $r = walmgr("$dir/wal-slave.ini", 'setup');
is($r->{rc}, 0, 'slave sample: setup works');
unlike($r->{stderr}, qr/WARNING|ERROR/, 'slave sample: no warnings');
ok(-d "$dir/walshipping/logs.complete", 'slave sample: ~ and %(walmgr_data)s resolved');
ok(-s "$dir/log/wal-slave.log", 'slave sample: logfile with %(job_name)s written');
$r = walmgr("$dir/wal-slave.ini", 'status');
like($r->{stdout}, qr/^role: archive host$/m, 'slave sample: no master_data, so archive host');
like($r->{stdout}, qr/^archive: \Q$dir\E\/walshipping$/m, 'slave sample: walmgr_data');

$r = walmgr('--dry-run', "$dir/wal-master.ini", 'xarchive', "$dir/nothing", '000000010000000000000001');
like($r->{stderr}, qr/could not open/, 'master sample: loads (xarchive gets as far as the file)');
unlike($r->{stderr}, qr/config/, 'master sample: no config complaint');
$r = walmgr('-v', "$dir/wal-master.ini", 'xarchive', "$dir/nothing", '000000010000000000000001');
like($r->{stderr}, qr/ignoring use_xlog_functions/, 'old key use_xlog_functions noted');
like($r->{stderr}, qr/ignoring keep_symlinks/, 'old key keep_symlinks noted');

$r = walmgr("$dir/wal-slave.ini", 'xrotate');
is($r->{rc}, 0, 'slave sample: keep_backups = 0 and an empty old-style archive_command are accepted');

# compression: 0 and 1 are walmgr3's values, gzip, lz4 and zstd storage
# compression (passed on to the archive host), anything else is refused
write_fake_ssh("$dir/fake-ssh");
my $remote_conf = "[walmgr]\nmaster_data = $dir/x\nslave = archive-host\nslave_config = $dir/wal-slave.ini\n"
  . "remote_walmgr = $WALMGR\nssh_command = $dir/fake-ssh\n";
write_file("$dir/remote.ini", $remote_conf . "compression = 1\n");
$r = walmgr("$dir/remote.ini", 'listbackups');
is($r->{rc}, 0, 'listbackups runs on the archive host') or diag($r->{stderr});
like(slurp("$dir/fake-ssh.args"), qr/^-C archive-host /m, 'compression = 1 means ssh -C');
write_file("$dir/remote.ini", $remote_conf . "compression = gzip\n");
$r = walmgr("$dir/remote.ini", 'listbackups');
is($r->{rc}, 0, 'compression = gzip is accepted') or diag($r->{stderr});
like(slurp("$dir/fake-ssh.args"), qr/--set compression=gzip/, '... and passed to the archive host');
write_file("$dir/remote.ini", $remote_conf . "compression = bzip2\n");
$r = walmgr("$dir/remote.ini", 'listbackups');
is($r->{rc}, 2, 'compression = bzip2 is refused as a config error');
like($r->{stderr}, qr/compression = bzip2 is not supported/, '... with a message');

#### role, --set, and --dry-run against a live primary

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 1);
$node->start;
my $pgdata = $node->data_dir;
# The sample's slave_config names the archive's ini on its slave host; with
# it emptied, this ini describes the local archive as well.
my @set = (
	'--set', "master_db=" . $node->connstr('postgres'),
	'--set', "master_data=$pgdata",
	'--set', 'slave=local',
	'--set', 'slave_config=',
	'--set', "walmgr_data=$dir/arch");
$r = walmgr(@set, "$dir/wal-master.ini", 'status');
is($r->{rc}, 0, 'master sample with --set: status works') or diag($r->{stderr});
like($r->{stdout}, qr/^role: primary$/m, 'master_data makes it a primary ini');
like($r->{stdout}, qr/^archive: \Q$dir\E\/arch$/m, '--set walmgr_data wins and feeds %(walmgr_data)s');

# PostgreSQL runs "walmgr INI xarchive", so the live setup needs the values
# in the file itself: the sample with this cluster's values filled in.
my $live = $master_sample;
my $connstr = $node->connstr('postgres');
$live =~ s/^master_db .*$/master_db = $connstr/m;
$live =~ s/^master_data .*$/master_data = $pgdata/m;
$live =~ s/^slave = .*$/slave = local/m;
$live =~ s/^slave_config = .*$/slave_config =/m;
$live =~ s/^walmgr_data .*$/walmgr_data = $dir\/arch/m;
write_file("$dir/live-master.ini", $live);
@set = ();

# a realistic tree: archive with WAL and a backup, a standby data dir
is(walmgr("$dir/live-master.ini", 'setup')->{rc}, 0, 'setup for real');
$node->restart;
$node->safe_psql('postgres', 'create table t (x int); insert into t values (1); select pg_switch_wal()');
ok(poll_until(sub { grep { /^[0-9A-F]{24}$/ } listdir("$dir/arch/logs.complete") }), 'WAL archived')
  or die "archiving does not work";
my $slave_ini = "$dir/arch-slave.ini";
write_file($slave_ini, "[walmgr]\nwalmgr_data = $dir/arch\nslave_data = $dir/standby\n"
	. "primary_conninfo = " . $node->connstr('postgres') . "\nkeep_backups = 1\n");
is(walmgr($slave_ini, 'backup')->{rc}, 0, 'a backup for real');
is(walmgr($slave_ini, 'restore')->{rc}, 0, 'a restore for real');

sub snapshot
{
	my %files;
	foreach my $root (@_)
	{
		find(
			{
				no_chdir => 1,
				wanted   => sub {
					my @st = lstat($_);
					$files{$_} = -f _ ? Digest::SHA->new(256)->addfile($_)->hexdigest . " $st[9] $st[2]"
					  : -l _ ? 'link ' . readlink($_) : "dir $st[2]";
				}
			},
			$root);
	}
	return \%files;
}
$node->safe_psql('postgres', 'checkpoint');
my @trees = ("$dir/arch", "$dir/standby", "$pgdata/postgresql.auto.conf", "$pgdata/pg_wal/archive_status");
my $before = snapshot(@trees);
my $autoconf = slurp("$pgdata/postgresql.auto.conf");
my $seg = (grep { /^[0-9A-F]{24}$/ } listdir("$pgdata/pg_wal"))[-1];

foreach my $cmd (
	[ "$dir/live-master.ini", 'setup' ],
	[ "$dir/live-master.ini", 'stop' ],
	[ "$dir/live-master.ini", 'stop', '--discard' ],
	[ "$dir/live-master.ini", 'xarchive', "$pgdata/pg_wal/$seg", $seg ],
	[ '--set', 'command_interval=1', '--set', "periodic_command=touch $dir/arch/x",
		"$dir/live-master.ini", 'periodic' ],
	[ $slave_ini, 'setup' ],
	[ $slave_ini, 'backup' ],
	[ $slave_ini, 'restore' ],
	[ $slave_ini, 'createslave' ],
	[ $slave_ini, 'xpurgewals' ],
	[ $slave_ini, 'xrotate' ],
	[ $slave_ini, 'xlock' ],
	[ $slave_ini, 'xrelease' ],
	[ $slave_ini, 'cleanup', '--force' ],)
{
	my $res = walmgr('--dry-run', @$cmd);
	my $name = join(' ', grep { !/^--set$/ && !/=/ } @$cmd[ 0 .. $#$cmd ]);
	$name =~ s/\Q$dir\E\///g;
	is($res->{rc}, 0, "--dry-run $name exits 0") or diag($res->{stderr});
}
is_deeply(snapshot(@trees), $before, '--dry-run: every file tree byte-identical');
is(slurp("$pgdata/postgresql.auto.conf"), $autoconf, '--dry-run: postgresql.auto.conf byte-identical');
ok(!-e "$dir/arch/x", '--dry-run: periodic_command not run');

$node->stop;
done_testing();
