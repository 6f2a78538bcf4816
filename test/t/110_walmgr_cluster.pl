# walmgr against a running PostgreSQL 15 primary: setup through ALTER
# SYSTEM, stop with and without --discard, status, the archive flow through
# ssh_command (a local stand-in for ssh) including a failing
# archive host, and re-archiving after a crash between xarchive's success
# and PostgreSQL recording it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalmgrTest;

my $dir = PostgreSQL::Test::Utils::tempdir;

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init;
$node->append_conf('postgresql.conf', "wal_keep_size = 1GB\n");
$node->start;
my $pgdata = $node->data_dir;

my $slave_ini = "$dir/wal-slave.ini";
write_file($slave_ini, <<"INI");
[walmgr]
walmgr_data = $dir/walshipping
completed_wals = %(walmgr_data)s/logs.complete
logfile = $dir/slave.log
INI
my $complete = "$dir/walshipping/logs.complete";

write_fake_ssh("$dir/ssh-ok");
write_file("$dir/ssh-down", "#!/bin/sh\n# the archive host is unreachable\nexit 255\n");
chmod 0755, "$dir/ssh-down";
# ssh_command is a symlink so that the test can switch the archive host
# off and on under a running server
symlink("$dir/ssh-ok", "$dir/ssh") or die;

my $master_ini = "$dir/wal-master.ini";
my $connstr = $node->connstr('postgres');
write_file($master_ini, <<"INI");
[walmgr]
master_db = $connstr
master_data = $pgdata
slave = archive-host
slave_config = $slave_ini
ssh_command = $dir/ssh
remote_walmgr = $WALMGR
walmgr_data = $dir/walshipping
logfile = $dir/master.log
INI

#### test 15 (part): --dry-run changes nothing

my $autoconf = slurp("$pgdata/postgresql.auto.conf");
my $r = walmgr('--dry-run', $master_ini, 'setup');
is($r->{rc}, 0, '15: setup --dry-run exits 0');
like($r->{stderr}, qr/dry run: would set archive_mode = 'on'/, '15: says what it would do');
is(slurp("$pgdata/postgresql.auto.conf"), $autoconf, '15: postgresql.auto.conf unchanged');
ok(!-e "$dir/walshipping", '15: no archive tree created');

#### test 16: setup through ALTER SYSTEM, restart reported, idempotent

$r = walmgr($master_ini, 'setup');
is($r->{rc}, 0, '16: setup exits 0');
like($r->{stderr}, qr/set archive_mode = 'on'/, '16: archive_mode set');
like($r->{stderr}, qr/set wal_level = 'replica'/, '16: wal_level raised from minimal');
like($r->{stderr}, qr/restart pending/, '16: says a restart is needed');
my $auto = slurp("$pgdata/postgresql.auto.conf");
like($auto, qr/^archive_command = '\Q$WALMGR\E \Q$master_ini\E xarchive %p %f'$/m,
	'16: archive_command written to postgresql.auto.conf');
like(slurp("$dir/walshipping/ARCHIVE_ID"), qr/system_identifier = \d+/,
	'16: the archive host recorded the cluster');

$r = walmgr($master_ini, 'setup');
is($r->{rc}, 0, '16: second setup exits 0');
unlike($r->{stderr}, qr/ set /, '16: second setup changes nothing');
like($r->{stderr}, qr/archive_command is already/, '16: ... and says so');
like($r->{stderr}, qr/restart pending/, '16: restart still pending');
is(slurp("$pgdata/postgresql.auto.conf"), $auto, '16: postgresql.auto.conf unchanged');

$node->restart;
$r = walmgr($master_ini, 'setup');
is($r->{rc}, 0, '16: setup after the restart exits 0');
unlike($r->{stderr}, qr/restart pending/, '16: no restart pending any more');
is($node->safe_psql('postgres', 'show archive_mode'), 'on', '16: archive_mode is on');
is($node->safe_psql('postgres', 'show archive_command'),
	"$WALMGR $master_ini xarchive %p %f", '16: archive_command is active');

#### test 17: archive flow, failing archive host, nothing skipped

$node->safe_psql('postgres', 'create table t (x int); insert into t values (1)');
my $seg = $node->safe_psql('postgres',
	'select pg_walfile_name(pg_current_wal_lsn()); select pg_switch_wal()');
$seg = (split /\n/, $seg)[0];
ok(poll_until(sub { -f "$complete/$seg" }), "17: $seg reached logs.complete after pg_switch_wal()");
is($node->safe_psql('postgres', 'select failed_count from pg_stat_archiver'),
	'0', '17: no failed archive attempts');

unlink("$dir/ssh") or die;
symlink("$dir/ssh-down", "$dir/ssh") or die;
my @during;
foreach (1 .. 3)
{
	$node->safe_psql('postgres', 'insert into t values (2)');
	push @during, $node->safe_psql('postgres', 'select pg_walfile_name(pg_current_wal_lsn())');
	$node->safe_psql('postgres', 'select pg_switch_wal()');
}
ok( $node->poll_query_until('postgres',
		'select failed_count > 0 from pg_stat_archiver'),
	'17: archiving fails while the archive host is down');
ok(!-e "$complete/$during[0]", '17: nothing archived meanwhile');
my $ready = () = grep { /\.ready$/ } listdir("$pgdata/pg_wal/archive_status");
cmp_ok($ready, '>=', 1, '17: PostgreSQL keeps the segments (.ready)');

unlink("$dir/ssh") or die;
symlink("$dir/ssh-ok", "$dir/ssh") or die;
ok(poll_until(sub { -f "$complete/$during[-1]" }), '17: archiving resumes when the host is back');
my @archived = grep { /^[0-9A-F]{24}$/ } listdir($complete);
my @expected = map { sprintf('%08X%08X%08X', 1, 0, $_) } (hex(substr($archived[0], 16))
	.. hex(substr($archived[-1], 16)));
is_deeply(\@archived, \@expected, '17: no segment skipped');
is(slurp("$complete/$_"), slurp("$pgdata/pg_wal/$_"), "17: $_ identical to pg_wal")
  foreach @during;

#### test 27: re-archive after a crash before PostgreSQL recorded .done

my $victim = $during[0];
ok(-e "$pgdata/pg_wal/archive_status/$victim.done", "27: $victim is marked archived");
my @st = (stat("$complete/$victim"))[ 1, 9 ];
my $archived_before = $node->safe_psql('postgres', 'select archived_count from pg_stat_archiver');
$node->stop('immediate');
rename("$pgdata/pg_wal/archive_status/$victim.done", "$pgdata/pg_wal/archive_status/$victim.ready")
  or die;
$node->start;
ok(poll_until(sub { -e "$pgdata/pg_wal/archive_status/$victim.done" }),
	'27: PostgreSQL archives the segment again');
is($node->safe_psql('postgres', 'select failed_count from pg_stat_archiver'),
	'0', '27: xarchive returned 0 (no failure counted after the restart)');
is_deeply([ (stat("$complete/$victim"))[ 1, 9 ] ], \@st, '27: archived file not rewritten');
like(slurp("$dir/slave.log"), qr/$victim is already archived with identical content/,
	'27: the archive host saw identical content');

#### stop and status (part of test 28)

$r = walmgr($master_ini, 'status');
is($r->{rc}, 0, 'status exits 0') or diag($r->{stderr});
like($r->{stdout}, qr/^archiving: by walmgr/m, 'status: archiving by walmgr');
like($r->{stdout}, qr/^failed: 0,/m, 'status: no failures');
like($r->{stdout}, qr/^archived segments: \d+$/m, 'status: the archive host\'s part is there');

$r = walmgr($master_ini, 'stop');
is($r->{rc}, 0, 'stop exits 0');
like(walmgr($master_ini, 'status')->{stdout}, qr/^archiving: stopped/m, 'status: archiving stopped');
$node->safe_psql('postgres', 'insert into t values (3)');
my $kept = $node->safe_psql('postgres', 'select pg_walfile_name(pg_current_wal_lsn()); select pg_switch_wal()');
$kept = (split /\n/, $kept)[0];
ok(poll_until(sub { -e "$pgdata/pg_wal/archive_status/$kept.ready" }),
	'after stop the switched segment waits as .ready');
ok(!-e "$complete/$kept", '... and is not archived');
$r = walmgr($master_ini, 'setup');
is($r->{rc}, 0, 'setup again');
ok(poll_until(sub { -f "$complete/$kept" }), 'the kept segment is archived after setup');

$r = walmgr($master_ini, 'stop', '--discard');
is($r->{rc}, 0, 'stop --discard exits 0');
like($r->{stderr}, qr/WARNING .*WAL will be thrown away/, 'stop --discard warns');
like(walmgr($master_ini, 'status')->{stdout}, qr/^archiving: DISCARDING WAL/m,
	'status shows WAL being discarded');

$node->stop;
done_testing();
