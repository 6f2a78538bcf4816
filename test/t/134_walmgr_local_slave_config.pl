# A local archive with an ini of its own: "slave = local" and slave_config
# in the primary's ini.  Everything about the archive then comes from the
# archive's ini, as it does on another host: where it is (walmgr_data),
# how segments are stored (compression), how many backups stay
# (keep_backups), where backups come from (primary_conninfo).  Earlier,
# setup ignored slave_config and made the archive at the primary ini's
# default walmgr_data.  A slave_config naming the primary's own ini means
# that ini describes the archive too.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalmgrTest;

my $dir = PostgreSQL::Test::Utils::tempdir;
# "~" in the inis, and the default walmgr_data ~/walshipping, are in $dir
local $ENV{HOME} = $dir;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;

write_file("$dir/wal-slave.ini", <<"INI");
[walmgr]
walmgr_data = $dir/archive
primary_conninfo = @{[ $primary->connstr('postgres') ]}
compression = gzip
keep_backups = 2
logfile = $dir/slave.log
INI
my $master_ini = "$dir/wal-master.ini";
write_file($master_ini, <<"INI");
[walmgr]
master_db = @{[ $primary->connstr('postgres') ]}
master_data = @{[ $primary->data_dir ]}
slave = local
slave_config = ~/wal-slave.ini
logfile = $dir/master.log
INI

my $r = walmgr($master_ini, 'setup');
is($r->{rc}, 0, 'setup exits 0') or diag($r->{stderr});
ok(-e "$dir/archive/ARCHIVE_ID", 'the archive is where the archive\'s ini says');
ok(!-e "$dir/walshipping", 'not at the default walmgr_data of the primary\'s ini');

$primary->restart;
$primary->safe_psql('postgres',
	'create table t (x int); insert into t values (1); select pg_switch_wal()');
ok( poll_until(sub { grep { /^[0-9A-F]{24}\.gz$/ } listdir("$dir/archive/logs.complete") }),
	'archive_command stores segments as the archive\'s ini says (compression = gzip)');
is($primary->safe_psql('postgres', 'select failed_count from pg_stat_archiver'),
	'0', 'no archiving failed');

foreach my $n (1, 2)
{
	$r = walmgr($master_ini, 'backup');
	is($r->{rc}, 0, "backup $n from the primary's ini exits 0") or diag($r->{stderr});
}
ok(-d "$dir/archive/data.master" && -d "$dir/archive/data.master.0",
	'backups in the archive, rotated by the archive\'s keep_backups = 2');
like(slurp("$dir/slave.log"), qr/running pg_basebackup/,
	'the backup ran with the archive\'s ini (its logfile)');

$r = walmgr($master_ini, 'status');
is($r->{rc}, 0, 'status exits 0') or diag($r->{stderr});
like($r->{stdout}, qr/^archive: \Q$dir\E\/archive$/m, 'status shows the archive of the archive\'s ini');

# slave_config naming this very ini: it is the archive's ini as well
my $self_ini = "$dir/self.ini";
write_file($self_ini, <<"INI");
[walmgr]
master_db = @{[ $primary->connstr('postgres') ]}
master_data = @{[ $primary->data_dir ]}
slave = local
slave_config = $self_ini
walmgr_data = $dir/self-archive
INI
$r = walmgr($self_ini, 'status');
is($r->{rc}, 0, 'slave_config naming the primary\'s own ini: status exits 0') or diag($r->{stderr});
like($r->{stdout}, qr/^archive: \Q$dir\E\/self-archive$/m, '... with this ini\'s archive');

$primary->stop;
done_testing();
