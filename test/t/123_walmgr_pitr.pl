# walmgr restore with a recovery target: from one
# backup and the archive, recover to a named restore point and to an LSN;
# each copy ends with exactly the rows committed before the target and is
# promoted on a new timeline; then "boot" on a promoted copy only removes
# walmgr's settings, those a reload can remove, so that no error is logged.

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
my $ini = "$dir/walmgr.ini";
my $conf = <<"INI";
[walmgr]
master_db = @{[ $primary->connstr('postgres') ]}
master_data = @{[ $primary->data_dir ]}
slave = local
walmgr_data = $dir/walshipping
logfile = $dir/walmgr.log
INI
write_file($ini, $conf);
is(walmgr($ini, 'setup')->{rc}, 0, 'archiving set up');
$primary->restart;
my $r = walmgr($ini, 'backup');
is($r->{rc}, 0, 'backup taken') or diag($r->{stderr});

$primary->safe_psql('postgres', 'create table t (x int); insert into t select generate_series(1, 10)');
my $lsn = $primary->safe_psql('postgres', 'select pg_current_wal_insert_lsn()');
$primary->safe_psql('postgres', "select pg_create_restore_point('before_more')");
$primary->safe_psql('postgres', 'insert into t select generate_series(11, 20)');
my $last = $primary->safe_psql('postgres',
	'select pg_walfile_name(pg_current_wal_lsn()); select pg_switch_wal()');
$last = (split /\n/, $last)[0];
ok(poll_until(sub { -e "$dir/walshipping/logs.complete/$last" }), 'WAL up to the targets archived');

foreach my $case ([ 'name', '--target-name=before_more' ], [ 'lsn', "--target-lsn=$lsn" ])
{
	my ($what, $opt) = @$case;
	my $node = PostgreSQL::Test::Cluster->new("pitr_$what");
	my $data = $node->data_dir;
	my $nini = "$dir/$what.ini";
	write_file($nini, "[walmgr]\nwalmgr_data = $dir/walshipping\nslave_data = $data\n"
		  . "slave_db = " . $node->connstr('postgres') . "\n");
	$r = walmgr($nini, 'restore', $opt, '--target-action=promote');
	is($r->{rc}, 0, "$what: restore with a target exits 0") or diag($r->{stderr});
	ok(-e "$data/recovery.signal" && !-e "$data/standby.signal", "$what: recovery.signal, not standby.signal");
	like(slurp("$data/postgresql.auto.conf"), qr/^recovery_target_action = 'promote'$/m,
		"$what: target action written");
	# a copy must not archive into the primary's archive
	$node->append_conf('postgresql.conf', "port = " . $node->port . "\narchive_mode = off\n");
	$node->start;
	ok($node->poll_query_until('postgres', 'select not pg_is_in_recovery()'),
		"$what: recovery stops at the target and promotes");
	is($node->safe_psql('postgres', 'select count(*), max(x) from t'), '10|10',
		"$what: exactly the rows before the target");
	isnt($node->safe_psql('postgres', 'select timeline_id from pg_control_checkpoint()'),
		'1', "$what: on a new timeline") if $what eq 'name';
	my $log = log_of_reload($node, sub { $r = walmgr($nini, 'boot') });
	is($r->{rc}, 0, "$what: boot on a promoted copy exits 0");
	ok(defined $log, "$what: boot made the server reload its configuration");
	unlike($log, qr/contains errors|cannot be changed without restarting/,
		"$what: ... which has no errors");
	like($r->{stderr}, qr/already promoted/, "$what: ... and only cleans up");
	my $auto = slurp("$data/postgresql.auto.conf");
	unlike($auto, qr/restore_command/, "$what: restore_command removed");
	like($auto, qr/^recovery_target_action = 'promote'$/m,
		"$what: the target settings stay: only a restart could remove them");
	like($r->{stderr}, qr/recovery_target_action stays in postgresql\.auto\.conf/, "$what: ... as boot says");
	$node->stop;
}

$r = walmgr("$dir/name.ini", 'restore', '--target-lsn=0/1', '--target-name=x');
is($r->{rc}, 2, 'two targets are a usage error');

$primary->stop;
done_testing();
