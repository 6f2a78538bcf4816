# walmgr verify: OK on a healthy archive with two timelines; non-zero after
# deleting a segment in the middle, after removing a .history file, and
# after flipping a byte in a backup file.  On the way, PITR from the old
# backup to a time on the new timeline.

use strict;
use warnings;

use File::Copy;
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
write_file($ini, <<"INI");
[walmgr]
master_db = @{[ $primary->connstr('postgres') ]}
master_data = @{[ $primary->data_dir ]}
slave = local
walmgr_data = $dir/walshipping
keep_backups = 2
INI
is(walmgr($ini, 'setup')->{rc}, 0, 'archiving set up');
$primary->restart;
is(walmgr($ini, 'backup')->{rc}, 0, 'backup');
$primary->safe_psql('postgres', 'create table t (x int)');
foreach (1 .. 4)
{
	$primary->safe_psql('postgres', 'insert into t values (1); select pg_switch_wal()');
}
my $last = $primary->safe_psql('postgres',
	'insert into t values (2); select pg_walfile_name(pg_current_wal_lsn()); select pg_switch_wal()');
$last = (split /\n/, $last)[0];
ok(poll_until(sub { -e "$complete/$last" }), 'WAL archived');

my $r = walmgr($ini, 'verify');
is($r->{rc}, 0, 'verify: healthy archive') or diag($r->{stderr});
like($r->{stderr}, qr/WAL complete on timeline 1/, 'verify: says so');

# a second timeline: a copy recovered to the end and promoted archives into
# the same archive (as a promoted standby would)
my $copy = PostgreSQL::Test::Cluster->new('copy');
my $cini = "$dir/copy.ini";
write_file($cini, "[walmgr]\nwalmgr_data = $dir/walshipping\nslave_data = " . $copy->data_dir . "\n");
is(walmgr($cini, 'restore', '--no-standby')->{rc}, 0, 'copy restored for recovery to the end');
$primary->stop;
$copy->append_conf('postgresql.conf', "port = " . $copy->port . "\n");
$copy->start;
ok($copy->poll_query_until('postgres', 'select not pg_is_in_recovery()'), 'the copy promoted');
ok(poll_until(sub { -e "$complete/00000002.history" }), 'timeline 2 history archived');
$copy->safe_psql('postgres', 'insert into t values (3)');
my $t2 = $copy->safe_psql('postgres', 'select now()');
my $tl2 = $copy->safe_psql('postgres',
	'insert into t values (4); select pg_walfile_name(pg_current_wal_lsn()); select pg_switch_wal()');
$tl2 = (split /\n/, $tl2)[0];
like($tl2, qr/^00000002/, 'the copy writes timeline 2');
ok(poll_until(sub { -e "$complete/$tl2" }), 'timeline 2 WAL archived');
$copy->stop;

$r = walmgr($ini, 'verify');
is($r->{rc}, 0, 'verify: healthy across a timeline switch') or diag($r->{stderr});
like($r->{stderr}, qr/WAL complete on timeline 2/, 'verify: follows timeline 2');

# test 24: from the backup taken on timeline 1, recover to a time on
# timeline 2 (recovery_target_timeline = latest follows the history)
my $pitr = PostgreSQL::Test::Cluster->new('pitr');
my $pini = "$dir/pitr.ini";
write_file($pini, "[walmgr]\nwalmgr_data = $dir/walshipping\nslave_data = " . $pitr->data_dir . "\n");
$r = walmgr($pini, 'restore', "--target-time=$t2", '--target-action=promote');
is($r->{rc}, 0, '24: restore of the timeline 1 backup to a time on timeline 2') or diag($r->{stderr});
$pitr->append_conf('postgresql.conf', "port = " . $pitr->port . "\narchive_mode = off\n");
$pitr->start;
ok($pitr->poll_query_until('postgres', 'select not pg_is_in_recovery()'), '24: recovery reached the target');
is($pitr->safe_psql('postgres', 'select count(*) filter (where x = 3), count(*) filter (where x = 4) from t'),
	'1|0', '24: rows of timeline 2 up to the target, none after');
is($pitr->safe_psql('postgres', 'select timeline_id from pg_control_checkpoint()'), '3',
	'24: promoted onto timeline 3');
$pitr->stop;

# a segment in the middle missing
my @tl1 = grep { /^00000001[0-9A-F]{16}$/ } listdir($complete);
my $middle = $tl1[ int(@tl1 / 2) ];
move("$complete/$middle", "$dir/$middle") or die;
$r = walmgr($ini, 'verify');
is($r->{rc}, 1, 'verify: missing segment exits 1');
like($r->{stderr}, qr/WAL segment $middle is missing/, 'verify: names the segment');
move("$dir/$middle", "$complete/$middle") or die;
is(walmgr($ini, 'verify')->{rc}, 0, 'verify: healthy again');

# a history file missing
move("$complete/00000002.history", "$dir/00000002.history") or die;
$r = walmgr($ini, 'verify');
is($r->{rc}, 1, 'verify: missing .history exits 1');
like($r->{stderr}, qr/timeline 2 has no history file/, 'verify: names the timeline');
move("$dir/00000002.history", "$complete/00000002.history") or die;

# a byte flipped in a backup file
my $pgver = "$dir/walshipping/data.master/PG_VERSION";
my $orig = slurp($pgver);
write_file($pgver, $orig =~ s/1/9/r);
$r = walmgr($ini, 'verify');
is($r->{rc}, 1, 'verify: damaged backup exits 1');
like($r->{stderr}, qr/failed verification/, 'verify: names the backup');
write_file($pgver, $orig);
is(walmgr($ini, 'verify')->{rc}, 0, 'verify: healthy after repair');

done_testing();
