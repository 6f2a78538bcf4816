# walmgr boot --finish: a standby fed only from
# the archive loses its primary; the segment the primary was writing was
# copied to logs.partial with "walmgr sync" (while it ran, and again after
# it crashed, then finding the end of WAL from pg_controldata and the
# segment headers); "boot --finish" lets the standby replay it and promotes
# it, so the last committed rows survive, and walmgr's recovery settings
# are gone afterwards, without an error in the server log.  (A cleanly
# stopped primary archives its last segment itself; a crashed one cannot.)

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
my $pgdata = $primary->data_dir;

my $slave_ini = "$dir/wal-slave.ini";
write_file($slave_ini, <<"INI");
[walmgr]
walmgr_data = $dir/walshipping
logfile = $dir/slave.log
primary_conninfo = @{[ $primary->connstr('postgres') ]}
INI
write_fake_ssh("$dir/ssh");
my $master_ini = "$dir/wal-master.ini";
write_file($master_ini, <<"INI");
[walmgr]
master_db = @{[ $primary->connstr('postgres') ]}
master_data = $pgdata
slave = archive-host
slave_config = $slave_ini
ssh_command = $dir/ssh
remote_walmgr = $WALMGR
INI

my $r = walmgr($master_ini, 'setup');
is($r->{rc}, 0, 'archiving set up') or diag($r->{stderr});
$primary->restart;
$primary->safe_psql('postgres', 'create table t (x int primary key)');
$r = walmgr($slave_ini, 'backup');
is($r->{rc}, 0, 'backup taken') or diag($r->{stderr});

my $standby = PostgreSQL::Test::Cluster->new('standby');
my $standby_ini = "$dir/standby.ini";
write_file($standby_ini, <<"INI");
[walmgr]
walmgr_data = $dir/walshipping
slave_data = @{[ $standby->data_dir ]}
slave_db = @{[ $standby->connstr('postgres') ]}
logfile = $dir/standby.log
INI
$r = walmgr($standby_ini, 'restore');
is($r->{rc}, 0, 'standby restored from the backup') or diag($r->{stderr});
$standby->append_conf('postgresql.conf',
	"port = " . $standby->port . "\nwal_retrieve_retry_interval = 100ms\n");
$standby->start;

$primary->safe_psql('postgres', 'insert into t select generate_series(1, 1000); select pg_switch_wal()');
ok($standby->poll_query_until('postgres', 'select count(*) = 1000 from t'),
	'the standby follows the archive');

# rows in the segment being written: never archived as a whole segment
$primary->safe_psql('postgres', 'insert into t select generate_series(1001, 1100)');
$r = walmgr($master_ini, 'sync');
is($r->{rc}, 0, 'sync with the primary running') or diag($r->{stderr});
$primary->safe_psql('postgres', 'insert into t select generate_series(1101, 1200)');
my $expected = $primary->safe_psql('postgres', 'select count(*), sum(x) from t');
$primary->stop('immediate');

$r = walmgr($master_ini, 'sync');
is($r->{rc}, 0, 'sync after the primary crashed (end of WAL from pg_controldata and headers)')
  or diag($r->{stderr});
my @partial = grep { /^[0-9A-F]{24}\.partial$/ } listdir("$dir/walshipping/logs.partial");
is(scalar(@partial), 1, 'one segment in logs.partial');
ok(!-e "$dir/walshipping/logs.complete/" . substr($partial[0], 0, 24), '... that logs.complete does not have');
is($standby->safe_psql('postgres', 'select count(*) from t'), '1000',
	'without --finish the standby does not see the partial segment');

my $log = log_of_reload($standby, sub { $r = walmgr($standby_ini, 'boot', '--finish') });
is($r->{rc}, 0, 'boot --finish exits 0') or diag($r->{stderr});
ok(defined $log, 'boot made the server reload its configuration');
unlike($log, qr/contains errors|cannot be changed without restarting/,
	'... which has no errors: nothing removed that only a restart can change');
like(slurp("$dir/standby.log"), qr/served the partial segment/, 'xrestore served the partial segment');
is($standby->safe_psql('postgres', 'select pg_is_in_recovery()'), 'f', 'the standby is promoted');
is($standby->safe_psql('postgres', 'select count(*), sum(x) from t'), $expected,
	'the last committed rows of the lost primary are there');
unlike(slurp($standby->data_dir . '/postgresql.auto.conf'), qr/restore_command/,
	'walmgr\'s recovery settings are gone from postgresql.auto.conf');
ok(!-e "$dir/walshipping/flags/FINISH", 'the FINISH flag is removed');
$standby->safe_psql('postgres', 'insert into t values (0)');

$standby->stop;
done_testing();
