# walmgr receive, which also drives the frame's
# daemon mode: a supervised pg_receivewal with a replication slot fills the
# archive; killing pg_receivewal makes the supervisor start another, killing
# "walmgr receive" itself loses nothing (the slot kept the WAL) once it is
# started again; segments delivered by both receive and xarchive end up
# once, identical, with no conflict, also when both store compressed with
# different algorithms; -s stops it.

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
my $pgdata = $primary->data_dir;

# pg_receivewal starts 2 s late, so that the first segment is complete
# before it connects: the slot must have kept that WAL from the moment
# "walmgr receive" said it was up.
my ($pg_bindir) = grep { -x "$_/pg_receivewal" } split /:/, $ENV{PATH};
mkdir "$dir/bin";
write_file("$dir/bin/pg_receivewal",
	"#!/bin/sh\nsleep 2\nexec '$pg_bindir/pg_receivewal' \"\$@\"\n");
chmod 0755, "$dir/bin/pg_receivewal";

my $ini = "$dir/wal-slave.ini";
write_file($ini, <<"INI");
[walmgr]
walmgr_data = $dir/walshipping
slave_bin = $dir/bin
primary_conninfo = @{[ $primary->connstr('postgres') ]}
receive_slot = walmgr_receive
pidfile = $dir/receive.pid
logfile = $dir/receive.log
loop_delay = 0.1
receive_restart_delay = 0.1
INI

# a segment switch; returns the name of the segment it completed
sub switch
{
	my $seg = $primary->safe_psql('postgres',
		'insert into t values (1); select pg_walfile_name(pg_current_wal_lsn()); select pg_switch_wal()');
	return (split /\n/, $seg)[0];
}

sub receivewal_pids
{
	my @pids = slurp("$dir/receive.log") =~ /started pg_receivewal \(pid (\d+)\)/g;
	return @pids;
}

$primary->safe_psql('postgres', 'create table t (x int)');
my $r = walmgr('-d', $ini, 'receive');
is($r->{rc}, 0, 'receive -d: the parent exits 0 once the daemon is up') or diag($r->{stderr});
ok(-s "$dir/receive.pid", 'pidfile written');
my $daemon = slurp("$dir/receive.pid") =~ s/\s+//gr;
is($primary->safe_psql('postgres',
		"select count(*) from pg_replication_slots where slot_name = 'walmgr_receive'"),
	'1', 'the replication slot was created');

my $seg = switch();
ok(poll_until(sub { -e "$complete/$seg" }), "receive delivered $seg (no archive_command yet)");
ok(slurp("$complete/$seg") eq slurp("$pgdata/pg_wal/$seg"), 'identical to pg_wal');

# kill pg_receivewal: the supervisor starts another
my ($first) = receivewal_pids();
kill 'KILL', $first;
ok(poll_until(sub { receivewal_pids() >= 2 }), 'a new pg_receivewal is started');
like(slurp("$dir/receive.log"), qr/pg_receivewal \(pid $first\) was terminated by signal 9/,
	'the death is logged');
$seg = switch();
ok(poll_until(sub { -e "$complete/$seg" }), "$seg delivered after the restart");

# kill walmgr receive itself: its pg_receivewal goes too, the slot keeps WAL
my $child = (receivewal_pids())[-1];
kill 'KILL', $daemon;
ok(poll_until(sub { !kill(0, $daemon) && !kill(0, $child) }),
	'walmgr receive and its pg_receivewal are gone');
my $while_down = switch();
ok(!-e "$complete/$while_down", "$while_down not delivered while receive is down");
$r = walmgr('-d', $ini, 'receive');
is($r->{rc}, 0, 'receive started again over the stale pidfile');
ok(poll_until(sub { -e "$complete/$while_down" }), "$while_down delivered from the slot after the restart");

# both channels: archive_command through walmgr into the same archive
write_file("$dir/master.ini", "[walmgr]\nmaster_db = " . $primary->connstr('postgres')
	  . "\nmaster_data = $pgdata\nslave = local\nwalmgr_data = $dir/walshipping\n");
is(walmgr("$dir/master.ini", 'setup')->{rc}, 0, 'archiving set up too');
$primary->restart;
my @both = map { switch() } 1 .. 3;
ok( poll_until(
		sub {
			!grep { !-e "$complete/$_" || -e "$pgdata/pg_wal/archive_status/$_.ready" } @both;
		}),
	'segments delivered by both channels');
is($primary->safe_psql('postgres', 'select failed_count from pg_stat_archiver'), '0',
	'xarchive never failed (identical content accepted)');
is_deeply([ listdir("$complete/.tmp/conflict") ], [], 'no conflicts');
ok(slurp("$complete/$_") eq slurp("$pgdata/pg_wal/$_"), "$_ identical") foreach @both;

# stop
$daemon = slurp("$dir/receive.pid") =~ s/\s+//gr;
$child = (receivewal_pids())[-1];
$r = walmgr('-s', $ini);
is($r->{rc}, 0, '-s exits 0');
ok(poll_until(sub { !kill(0, $daemon) && !kill(0, $child) }), 'receive and pg_receivewal stopped');
ok(!-e "$dir/receive.pid", 'pidfile removed');
like(slurp("$dir/receive.log"), qr/INFO stopping$/m, 'the stop is logged');

# both channels again, storing compressed: receive with zstd, xarchive with
# gzip; whichever comes second finds the other's copy identical
$r = walmgr('-d', '--set', 'compression=zstd', $ini, 'receive');
is($r->{rc}, 0, 'receive started with compression = zstd') or diag($r->{stderr});
write_file("$dir/master.ini", slurp("$dir/master.ini") . "compression = gzip\n");
my @compressed = map { switch() } 1 .. 3;
my $stored = sub { my $s = shift; grep { /^$s(\.gz|\.zst)?$/ } listdir($complete) };
ok( poll_until(
		sub {
			!grep { $stored->($_) != 1 || -e "$pgdata/pg_wal/archive_status/$_.ready" } @compressed;
		}),
	'compressed: segments delivered by both channels, each stored once');
ok(!grep({ -e "$complete/$_" } @compressed), 'compressed: none stored plain');
is($primary->safe_psql('postgres', 'select failed_count from pg_stat_archiver'), '0',
	'compressed: xarchive never failed');
is_deeply([ listdir("$complete/.tmp/conflict") ], [], 'compressed: no conflicts');
foreach my $s (@compressed)
{
	my $x = walmgr($ini, 'xrestore', $s, "$dir/restored");
	ok($x->{rc} == 0 && slurp("$dir/restored") eq slurp("$pgdata/pg_wal/$s"),
		"compressed: $s restores identical to pg_wal");
}
$daemon = slurp("$dir/receive.pid") =~ s/\s+//gr;
is(walmgr('-s', $ini)->{rc}, 0, 'compressed: receive stopped');
ok(poll_until(sub { !kill(0, $daemon) }), 'compressed: and gone');

$primary->stop;
done_testing();
