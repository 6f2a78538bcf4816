# walmgr restore to a point in time: with
# a segment the recovery needs unreadable, xrestore's exit 255 makes the
# server stop with FATAL instead of ending recovery early and promoting at
# the wrong point; once it is readable again, recovery reaches the target
# time, the copy has exactly the rows committed before it, runs on a new
# timeline, and archives the new .history and its WAL into the same archive
# without conflict.  (PostgreSQL archives a .partial of the old timeline
# only when that segment is in pg_wal; here it came from the archive.)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalmgrTest;

my $dir = PostgreSQL::Test::Utils::tempdir;
my $complete = "$dir/walshipping/logs.complete";

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
my $ini = "$dir/walmgr.ini";
write_file($ini, "[walmgr]\nmaster_db = " . $primary->connstr('postgres')
	  . "\nmaster_data = " . $primary->data_dir . "\nslave = local\nwalmgr_data = $dir/walshipping\n");
is(walmgr($ini, 'setup')->{rc}, 0, 'archiving set up');
$primary->restart;
is(walmgr($ini, 'backup')->{rc}, 0, 'backup');

$primary->safe_psql('postgres', 'create table t (x int); insert into t select generate_series(1, 10)');
my $needed = $primary->safe_psql('postgres',
	'select pg_walfile_name(pg_current_wal_lsn()); select pg_switch_wal()');
$needed = (split /\n/, $needed)[0];
my $target = $primary->safe_psql('postgres', 'select now()');
$primary->safe_psql('postgres', 'insert into t select generate_series(11, 20)');
my $last = $primary->safe_psql('postgres',
	'select pg_walfile_name(pg_current_wal_lsn()); select pg_switch_wal()');
$last = (split /\n/, $last)[0];
ok(poll_until(sub { -e "$complete/$last" }), 'WAL past the target archived');
$primary->stop;

my $copy = PostgreSQL::Test::Cluster->new('copy');
my $data = $copy->data_dir;
my $cini = "$dir/copy.ini";
write_file($cini, "[walmgr]\nwalmgr_data = $dir/walshipping\nslave_data = $data\n"
	  . "logfile = $dir/copy-walmgr.log\n");
my $r = walmgr($cini, 'restore', "--target-time=$target", '--target-action=promote');
is($r->{rc}, 0, 'restore to a time') or diag($r->{stderr});
$copy->append_conf('postgresql.conf', "port = " . $copy->port . "\n");

#### test 31: an unreadable segment stops recovery instead of cutting it short

chmod 0, "$complete/$needed" or die;
ok(!$copy->start(fail_ok => 1), '31: the server does not come up');
my $log = slurp($copy->logfile);
like($log, qr/FATAL: .*could not restore file "$needed" from archive/,
	'31: FATAL because restore_command failed with 255');
unlike($log, qr/selected new timeline ID/, '31: no promotion at the wrong point');
ok(-e "$data/recovery.signal", '31: still a recovery to finish');

chmod 0600, "$complete/$needed" or die;
$copy->start;
ok($copy->poll_query_until('postgres', 'select not pg_is_in_recovery()'),
	'31: with the segment readable again recovery completes');

#### test 21: the target time, a new timeline, archived without conflict

is($copy->safe_psql('postgres', 'select count(*), max(x) from t'), '10|10',
	'21: exactly the rows committed before the target time');
my $tli = $copy->safe_psql('postgres', 'select timeline_id from pg_control_checkpoint()');
is($tli, '2', '21: on timeline 2');
ok(poll_until(sub { -e "$complete/00000002.history" }), '21: 00000002.history archived');
my $tl2 = $copy->safe_psql('postgres',
	'insert into t values (0); select pg_walfile_name(pg_current_wal_lsn()); select pg_switch_wal()');
$tl2 = (split /\n/, $tl2)[0];
like($tl2, qr/^00000002/, '21: the copy writes timeline 2');
ok(poll_until(sub { -e "$complete/$tl2" }), '21: its WAL goes into the same archive');
is($copy->safe_psql('postgres', 'select failed_count from pg_stat_archiver'), '0',
	'21: no conflict: archiving never failed');
is_deeply([ grep { $_ ne 'conflict' } listdir("$complete/.tmp") ], [], '21: no leftovers');
ok(!-e "$complete/.tmp/conflict", '21: no conflict copies');

$copy->stop;
done_testing();
