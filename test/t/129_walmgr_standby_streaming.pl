# walmgr restore with primary_conninfo: the
# standby first replays what the archive holds, then streams from the
# primary; pg_stat_replication shows it streaming and the lag goes to 0.

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
write_file("$dir/master.ini", "[walmgr]\nmaster_db = " . $primary->connstr('postgres')
	  . "\nmaster_data = " . $primary->data_dir . "\nslave = local\nwalmgr_data = $dir/walshipping\n");
is(walmgr("$dir/master.ini", 'setup')->{rc}, 0, 'archiving set up');
$primary->restart;
is(walmgr("$dir/master.ini", 'backup')->{rc}, 0, 'backup');

# WAL the standby can only get from the archive: written and switched before it exists
$primary->safe_psql('postgres', 'create table t (x int); insert into t select generate_series(1, 5000)');
my $seg = $primary->safe_psql('postgres',
	'select pg_walfile_name(pg_current_wal_lsn()); select pg_switch_wal()');
$seg = (split /\n/, $seg)[0];
ok(poll_until(sub { -e "$dir/walshipping/logs.complete/$seg" }), 'archived');

my $standby = PostgreSQL::Test::Cluster->new('standby');
write_file("$dir/standby.ini", "[walmgr]\nwalmgr_data = $dir/walshipping\nslave_data = "
	  . $standby->data_dir . "\nlogfile = $dir/standby.log\nprimary_conninfo = "
	  . $primary->connstr('postgres') . " application_name=walmgr_standby\n");
my $r = walmgr("$dir/standby.ini", 'restore');
is($r->{rc}, 0, 'restore with primary_conninfo') or diag($r->{stderr});
like(slurp($standby->data_dir . '/postgresql.auto.conf'), qr/^primary_conninfo = '.*walmgr_standby'$/m,
	'primary_conninfo written');
$standby->append_conf('postgresql.conf', "port = " . $standby->port . "\n");
$standby->start;

ok( $primary->poll_query_until('postgres',
		"select state = 'streaming' from pg_stat_replication where application_name = 'walmgr_standby'"),
	'the standby streams');
like(slurp("$dir/standby.log"), qr/restored $seg/, 'after restoring archived WAL through xrestore');
$primary->safe_psql('postgres', 'insert into t select generate_series(5001, 6000)');
my $lsn = $primary->safe_psql('postgres', 'select pg_current_wal_lsn()');
ok( $primary->poll_query_until('postgres',
		"select replay_lsn >= '$lsn' from pg_stat_replication where application_name = 'walmgr_standby'"),
	'the replay lag goes to 0');
is($standby->safe_psql('postgres', 'select count(*) from t'), '6000', 'the standby has every row');

$standby->stop;
$primary->stop;
done_testing();
