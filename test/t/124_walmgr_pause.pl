# walmgr pause / continue: through SQL they change
# pg_is_wal_replay_paused(); without a connection the PAUSE flag makes
# xrestore answer "not found" at once, which holds back archive replay
# without blocking, and is refused in targeted recovery.

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
write_file("$dir/master.ini", <<"INI");
[walmgr]
master_db = @{[ $primary->connstr('postgres') ]}
master_data = @{[ $primary->data_dir ]}
slave = local
walmgr_data = $dir/walshipping
INI
is(walmgr("$dir/master.ini", 'setup')->{rc}, 0, 'archiving set up');
$primary->restart;
my $r = walmgr("$dir/master.ini", 'backup');
is($r->{rc}, 0, 'backup') or diag($r->{stderr});

my $standby = PostgreSQL::Test::Cluster->new('standby');
my $conf = "[walmgr]\nwalmgr_data = $dir/walshipping\nslave_data = " . $standby->data_dir
  . "\nlogfile = $dir/standby.log\n";
write_file("$dir/standby.ini", $conf . "slave_db = " . $standby->connstr('postgres') . "\n");
# the same standby, but its server unreachable for walmgr: forces the flag path
write_file("$dir/noconn.ini", $conf . "slave_db = host=/nonexistent port=1 dbname=postgres\n");
is(walmgr("$dir/standby.ini", 'restore')->{rc}, 0, 'standby restored');
$standby->append_conf('postgresql.conf',
	"port = " . $standby->port . "\nwal_retrieve_retry_interval = 100ms\n");
$standby->start;
$primary->safe_psql('postgres', 'create table t (x int); insert into t values (1); select pg_switch_wal()');
ok($standby->poll_query_until('postgres', 'select count(*) = 1 from t'), 'the standby follows');

#### SQL path

$r = walmgr("$dir/standby.ini", 'pause');
is($r->{rc}, 0, 'pause exits 0');
ok($standby->poll_query_until('postgres', "select pg_get_wal_replay_pause_state() = 'paused'"),
	'replay is paused');
$primary->safe_psql('postgres', 'insert into t values (2); select pg_switch_wal()');
is($standby->safe_psql('postgres', 'select pg_is_wal_replay_paused()'), 't', 'still paused');
$r = walmgr("$dir/standby.ini", 'continue');
is($r->{rc}, 0, 'continue exits 0');
ok($standby->poll_query_until('postgres', 'select count(*) = 2 from t'), 'replay resumed');

#### flag path

$r = walmgr("$dir/noconn.ini", 'pause');
is($r->{rc}, 0, 'pause without a connection uses the flag');
ok(-e "$dir/walshipping/flags/PAUSE", 'PAUSE flag set');
my $seg = $primary->safe_psql('postgres',
	'insert into t values (3); select pg_walfile_name(pg_current_wal_lsn()); select pg_switch_wal()');
$seg = (split /\n/, $seg)[0];
ok(poll_until(sub { -e "$dir/walshipping/logs.complete/$seg" }), 'the next segment is archived');
ok(poll_until(sub { slurp("$dir/standby.log") =~ /replay paused: not restoring $seg/ }),
	'xrestore answers "not found" for it while paused');
is($standby->safe_psql('postgres', 'select count(*) from t'), '2', 'the standby does not replay it');
is($standby->safe_psql('postgres', 'select pg_is_in_recovery()'), 't', 'and stays a standby');
$r = walmgr("$dir/noconn.ini", 'continue');
is($r->{rc}, 0, 'continue without a connection removes the flag');
ok($standby->poll_query_until('postgres', 'select count(*) = 3 from t'), 'replay goes on');

# targeted recovery: the flag would end recovery, so pause refuses
$standby->stop;
rename($standby->data_dir . '/standby.signal', $standby->data_dir . '/recovery.signal') or die;
$r = walmgr("$dir/noconn.ini", 'pause');
is($r->{rc}, 1, 'pause through the flag is refused with recovery.signal');
like($r->{stderr}, qr/refusing to pause/, '... with the reason');
ok(!-e "$dir/walshipping/flags/PAUSE", 'no flag set');

$primary->stop;
done_testing();
