# Debian's londiste keeps a leaf exact through crashes, with the in-server
# ticker on the root's cluster.
#
# Root and leaf are separate clusters.  A steady pgbench load on the root
# updates counters and inserts and deletes ledger rows.  Meanwhile the
# leaf's worker is killed with SIGKILL and started again, and later the
# root's postmaster is killed with SIGKILL and restarted (its ticker must
# come back by itself).  Once the load has stopped and the leaf has caught
# up, both tables must be equal on both sides: no row lost, none applied
# twice (a twice-applied counter update changes the sum; a twice-applied
# ledger insert would stop the worker on the primary key).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use IPC::Run;
use LondisteTest;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

ok(-x '/usr/bin/londiste', 'londiste is installed')
  or die "this test needs the Debian package python3-londiste";

my @tables = ('public.counters', 'public.ledger');
my $rnode = preloaded_node('londiste_kill_root', $LondisteTest::SERVER_CONF);
my $lnode = preloaded_node('londiste_kill_leaf', $LondisteTest::SERVER_CONF);
my $dir   = PostgreSQL::Test::Utils::tempdir;

foreach my $n ($rnode, $lnode)
{
	$n->safe_psql('postgres', 'create database db');
	$n->safe_psql(
		'db', q{
create table counters (k int primary key, v bigint not null);
create table ledger (id bigserial primary key, k int not null, note text);
});
}
$rnode->safe_psql('db',
	'insert into counters select i, 0 from generate_series(1, 200) i');

my $root = londiste_member(
	node => $rnode, db => 'db', name => 'rootnode', dir => $dir);
my $leaf = londiste_member(
	node => $lnode, db => 'db', name => 'leafnode', dir => $dir);
londiste_ok($root, 'create-root', 'rootnode', $root->{connstr});
tune_queue($root);
londiste_ok($leaf, 'create-leaf', 'leafnode', $leaf->{connstr},
	"--provider=$root->{connstr}");
start_worker($_) for ($root, $leaf);
londiste_ok($_, 'add-table', @tables) for ($root, $leaf);
londiste_ok($leaf, 'wait-sync');

# One transaction per pgbench run of the script: bump a counter, add a
# ledger row and sometimes delete an older one.
my $script = "$dir/load.sql";
append_to_file($script, <<'EOF');
\set k random(1, 200)
begin;
update counters set v = v + 1 where k = :k;
insert into ledger (k, note) values (:k, 'tx');
delete from ledger where id = (select min(id) from ledger where k = :k) and :k % 3 = 0;
end;
EOF

# pgbench against the root for $seconds at a fixed rate; returns its
# handle.  Its clients give up when the root goes away, which is fine.
sub start_load
{
	my ($seconds) = @_;
	return IPC::Run::start(
		[
			'pgbench', '-n', '-c', '2', '-R', '100', '-T', $seconds,
			'-f', $script, '-h', $rnode->host, '-p', $rnode->port, 'db'
		],
		'>', "$dir/pgbench.out", '2>', "$dir/pgbench.err");
}

sub committed
{
	return $rnode->safe_psql('db', 'select sum(v) from counters');
}

my $load = start_load(6);
sleep 2;
my $old_pid = kill_worker($leaf);
sleep 1;
my $new_pid = start_worker($leaf);
isnt($new_pid, $old_pid, 'the leaf worker runs again after SIGKILL');
$load->finish;
cmp_ok(committed(), '>', 0, 'the load committed transactions');

$load = start_load(8);
sleep 2;
my $before_crash = committed();
kill9_postmaster($rnode);
$load->finish;
$rnode->start;
ok( $rnode->poll_query_until(
		'db',
		"select count(*) > 0 from pg_stat_activity where backend_type = 'pgq ticker'"),
	'the ticker is back after the root restarted');
my $tick = $rnode->safe_psql('db',
	"select last_tick_id from pgq.get_queue_info('replika')");
ok( $rnode->poll_query_until(
		'db',
		"select last_tick_id > $tick from pgq.get_queue_info('replika')"),
	'the restarted root ticks again');

$load = start_load(4);
$load->finish;
cmp_ok(committed(), '>', $before_crash, 'the load went on after the restart');

ok(wait_tables_equal($root, [$leaf], @tables),
	'the leaf caught up with the root');
is( $lnode->safe_psql('db', 'select sum(v) from counters'),
	committed(), 'every committed counter update was applied once');
is( $lnode->safe_psql('db',
		'select count(*) || \'/\' || max(id) from ledger'),
	$rnode->safe_psql('db',
		'select count(*) || \'/\' || max(id) from ledger'),
	'ledger rows and the last id match');

my ($rc, $out, $err) = londiste_run($leaf, 'compare');
is($rc, 0, 'londiste compare finds the tables equal') or diag($err);

stop_worker($_) for ($root, $leaf);
$rnode->stop;
$lnode->stop;
done_testing();
