# walmgr synch-standby: synchronous_standby_names through
# ALTER SYSTEM, accepted only when it names a connected standby (FIRST/ANY
# lists, quoted and plain names, *), --force to set it anyway, '' to turn
# it off.
# walmgr syncdaemon: "sync" every loop_delay as a daemon, through the remote
# xpartialsync, not sending an unchanged segment again; stopped with -s and
# by "walmgr stop".

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
$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby1');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup('standby1');

my $slave_ini = "$dir/wal-slave.ini";
write_file($slave_ini, <<"INI");
[walmgr]
walmgr_data = $dir/walshipping
logfile = $dir/slave.log
INI
write_fake_ssh("$dir/ssh");
my $master_ini = "$dir/wal-master.ini";
write_file($master_ini, <<"INI");
[walmgr]
master_db = @{[ $primary->connstr('postgres') ]}
master_data = @{[ $primary->data_dir ]}
slave = archive-host
slave_config = $slave_ini
ssh_command = $dir/ssh
remote_walmgr = $WALMGR
logfile = $dir/master.log
pidfile = $dir/syncdaemon.pid
loop_delay = 0.2
INI

sub ssn { $primary->safe_psql('postgres', 'show synchronous_standby_names') }

# the reload reaches new sessions once the postmaster has handled it
sub ssn_becomes
{
	my ($want, $label) = @_;
	ok(poll_until(sub { ssn() eq $want }), $label) or diag('got: ' . ssn());
}

#### synch-standby
my $r = walmgr($master_ini, 'synch-standby', 'FIRST 1 (standby1, other)');
is($r->{rc}, 0, 'synch-standby with a connected standby') or diag($r->{stderr});
ssn_becomes('FIRST 1 (standby1, other)', 'synchronous_standby_names set');
like(slurp($primary->data_dir . '/postgresql.auto.conf'), qr/synchronous_standby_names/,
	'through ALTER SYSTEM');
ok( poll_until(
		sub {
			$primary->safe_psql('postgres',
				"select sync_state from pg_stat_replication where application_name = 'standby1'")
			  eq 'sync';
		}),
	'the standby becomes synchronous');
$primary->safe_psql('postgres', 'create table t (x int); insert into t values (1)');
is($standby->safe_psql('postgres', 'select count(*) from t'), '1',
	'a commit waited for the standby');

$r = walmgr($master_ini, 'synch-standby', 'nosuchstandby, "STANDBY1"');
is($r->{rc}, 1, 'names no connected standby has are refused');
like($r->{stderr}, qr/no connected standby is named in 'nosuchstandby, "STANDBY1"'/,
	'... saying why (a quoted name matches exactly)');
is(ssn(), 'FIRST 1 (standby1, other)', 'the value is unchanged');
$r = walmgr($master_ini, 'synch-standby', 'ANY 1 (x, "standby1")');
is($r->{rc}, 0, 'a quoted name in an ANY list') or diag($r->{stderr});
ssn_becomes('ANY 1 (x, "standby1")', '... is set');
$r = walmgr($master_ini, 'synch-standby', 'STANDBY1');
is($r->{rc}, 0, 'a plain name matches regardless of case') or diag($r->{stderr});
ssn_becomes('STANDBY1', '... is set');
$r = walmgr($master_ini, 'synch-standby', '*');
is($r->{rc}, 0, '* matches any standby') or diag($r->{stderr});
ssn_becomes('*', '... is set');

$r = walmgr($master_ini, '--force', 'synch-standby', 'nosuchstandby');
is($r->{rc}, 0, '--force sets it anyway') or diag($r->{stderr});
like($r->{stderr}, qr/WARNING no connected standby is named in 'nosuchstandby'/, '... with a warning');
ssn_becomes('nosuchstandby', 'forced value in effect');

$r = walmgr($master_ini, 'synch-standby', '');
is($r->{rc}, 0, "synch-standby '' turns it off") or diag($r->{stderr});
ssn_becomes('', 'synchronous_standby_names empty');
$primary->safe_psql('postgres', 'insert into t values (2)');

$r = walmgr($master_ini, 'synch-standby');
is($r->{rc}, 2, 'synch-standby without NAMES is a usage error');

$r = walmgr($slave_ini, 'synch-standby', 'standby1');
is($r->{rc}, 2, 'synch-standby needs the primary ini');

#### syncdaemon
$r = walmgr($master_ini, 'setup');
is($r->{rc}, 0, 'archive set up') or diag($r->{stderr});
$r = walmgr($master_ini, '-v', '-d', 'syncdaemon');
is($r->{rc}, 0, 'syncdaemon started in the background') or diag($r->{stderr});
ok(-s "$dir/syncdaemon.pid", 'it wrote its pidfile');

my $seg = $primary->safe_psql('postgres', 'select pg_walfile_name(pg_current_wal_flush_lsn())');
my $partial = "$dir/walshipping/logs.partial/$seg.partial";
ok(poll_until(sub { -s $partial }), 'the segment being written reaches logs.partial');
like(slurp("$dir/ssh.args"), qr/ 'xpartialsync' '$seg\.partial' /m,
	'through xpartialsync on the archive host');

# the daemon keeps going: new rows end up in the partial copy
$primary->safe_psql('postgres', "insert into t select 1000 + g from generate_series(1, 50) g");
my $lsn = $primary->safe_psql('postgres', 'select pg_current_wal_flush_lsn()');
my $off = $primary->safe_psql('postgres',
	"select file_offset from pg_walfile_name_offset('$lsn')");
my $seg2 = $primary->safe_psql('postgres', "select pg_walfile_name('$lsn')");
is($seg2, $seg, 'still the same segment');
ok( poll_until(
		sub {
			my $data = slurp($partial);
			length($data) > $off && substr($data, $off - 8, 8) ne "\0" x 8;
		}),
	'later WAL is copied by a later loop');

ok(poll_until(sub { slurp("$dir/master.log") =~ /has not changed since the last sync/ }),
	'an unchanged segment is not sent again');

$r = walmgr($master_ini, '-s');
is($r->{rc}, 0, 'walmgr -s stops it') or diag($r->{stderr});
ok(poll_until(sub { !-e "$dir/syncdaemon.pid" }), 'the daemon is gone');
like(slurp("$dir/master.log"), qr/\Q$seg.partial\E copied/, 'its syncs are logged');

# "stop" (archiving) stops a running syncdaemon too
$r = walmgr($master_ini, '-d', 'syncdaemon');
is($r->{rc}, 0, 'syncdaemon started again') or diag($r->{stderr});
$r = walmgr($master_ini, 'stop');
is($r->{rc}, 0, 'stop') or diag($r->{stderr});
like($r->{stderr}, qr/syncdaemon \(process \d+\) asked to stop/, 'stop asks the syncdaemon to stop');
ok(poll_until(sub { !-e "$dir/syncdaemon.pid" }), 'and it is gone');
is($primary->safe_psql('postgres', 'show archive_command'), '(disabled)', 'archiving stopped');

$standby->stop;
$primary->stop;
done_testing();
