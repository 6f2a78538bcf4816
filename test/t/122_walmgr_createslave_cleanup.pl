# walmgr createslave (a streaming standby straight from the primary with
# pg_basebackup -X stream and a replication slot, configured and started by
# walmgr) and cleanup --force (which removes the archive and the data
# directories restore kept, and only with --force).

use strict;
use warnings;

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
$primary->safe_psql('postgres',
	"select pg_create_physical_replication_slot('walmgr_standby');"
	  . 'create table t (x int); insert into t select generate_series(1, 100)');

my $standby = PostgreSQL::Test::Cluster->new('standby');
my $sdata = $standby->data_dir;
my $port = $standby->port;
my $ini = "$dir/standby.ini";
write_file($ini, <<"INI");
[walmgr]
walmgr_data = $dir/walshipping
slave_data = $sdata
slave_db = @{[ $standby->connstr('postgres') ]}
primary_conninfo = @{[ $primary->connstr('postgres') ]} application_name=walmgr_standby
primary_slot_name = walmgr_standby
slave_start_cmd = $bindir/pg_ctl -D $sdata -l $dir/standby.log -o "-p $port" -w start
slave_stop_cmd = $bindir/pg_ctl -D $sdata -m fast -w stop
INI
is(walmgr($ini, 'setup')->{rc}, 0, 'archive side set up');

# something in the way: createslave keeps it as slave_data.0
mkdir $sdata;
write_file("$sdata/old-file", "from before\n");

my $r = walmgr($ini, 'createslave');
is($r->{rc}, 0, 'createslave exits 0') or diag($r->{stderr});
is(slurp("$sdata.0/old-file"), "from before\n", 'the old data directory was kept as slave_data.0');
ok(-e "$sdata/standby.signal", 'standby.signal written');
ok( $primary->poll_query_until('postgres',
		"select state = 'streaming' from pg_stat_replication where application_name = 'walmgr_standby'"),
	'the standby streams from the primary');
is($primary->safe_psql('postgres', "select active from pg_replication_slots where slot_name = 'walmgr_standby'"),
	't', 'through the replication slot');
$primary->safe_psql('postgres', 'insert into t select generate_series(101, 200)');
my $lsn = $primary->safe_psql('postgres', 'select pg_current_wal_lsn()');
ok($standby->poll_query_until('postgres', "select pg_last_wal_replay_lsn() >= '$lsn'"),
	'the standby catches up');
is($standby->safe_psql('postgres', 'select count(*) from t'), '200', 'with the new rows');

# a second createslave stops the running standby first (slave_stop_cmd)
$r = walmgr($ini, 'createslave');
is($r->{rc}, 0, 'createslave over a running standby exits 0') or diag($r->{stderr});
like($r->{stderr}, qr/running slave_stop_cmd/, '... after stopping it');
ok(-d "$sdata.1", '... keeping the previous one as slave_data.1');
ok($standby->poll_query_until('postgres', 'select count(*) = 200 from t'), 'the new standby runs');
$r = walmgr($ini, 'boot');
is($r->{rc}, 0, 'boot');
is($standby->safe_psql('postgres', 'select pg_is_in_recovery()'), 'f', 'promoted');
unlike(slurp("$sdata/postgresql.auto.conf"), qr/primary_conninfo|restore_command/,
	'recovery settings removed');
$standby->stop;

#### cleanup

$r = walmgr($ini, 'cleanup');
is($r->{rc}, 1, 'cleanup without --force exits 1');
like($r->{stderr}, qr/would remove "\Q$dir\E\/walshipping"/, '... and lists the archive');
like($r->{stderr}, qr/would remove "\Q$sdata\E\.0"/, '... and the kept data directories');
ok(-d "$dir/walshipping" && -d "$sdata.0", '... removing nothing');
$r = walmgr($ini, 'cleanup', '--force');
is($r->{rc}, 0, 'cleanup --force exits 0');
ok(!-e "$dir/walshipping" && !-e "$sdata.0" && !-e "$sdata.1", 'the archive and the kept directories are gone');
ok(-d $sdata, 'the live data directory is left alone');

$primary->stop;
done_testing();
