# londiste3's worker: sequences and the queue position switches.
#
# The root's worker publishes its sequences (londiste.root_check_seqs) and
# the leaf's worker moves its copy ahead of them.  "worker --rewind" moves
# the provider's position of the consumer back to the node's completed
# tick, "worker --reset" the node's completed tick to the provider's
# position, as python3-pgq's switches do.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use LondisteTest;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

ok(-x '/usr/bin/londiste', 'londiste is installed')
  or die "this test needs the Debian package python3-londiste";

my $node = preloaded_node('seqs', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;
foreach my $db ('root', 'leaf')
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql($db, 'create table t (id int primary key, v text); create sequence s1;');
}

my (%py, %c);
foreach my $name ('root', 'leaf')
{
	$py{$name} = londiste_member(
		node => $node, db => $name, name => "${name}node", dir => $dir);
	$c{$name} = { %{ $py{$name} }, program => 'londiste3' };
}
londiste_ok($py{root}, 'create-root', 'rootnode', $py{root}{connstr});
tune_queue($py{root});
londiste_ok($py{leaf}, 'create-leaf', 'leafnode', $py{leaf}{connstr},
	"--provider=$py{root}{connstr}");
londiste_ok($py{root}, 'add-table', 'public.t');
londiste_ok($py{leaf}, 'add-table', 'public.t', '--expect-sync');
londiste_ok($py{root}, 'add-seq', 'public.s1');
londiste_ok($py{leaf}, 'add-seq', 'public.s1');
start_worker($c{$_}) for ('root', 'leaf');

sub wait_until
{
	my ($cond) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		return 1 if $cond->();
		usleep(100_000);
	}
	return 0;
}

# sequences: the leaf's stays ahead of what the root hands out
$node->safe_psql('root', 'select setval(\'s1\', 50000)');
ok( wait_until(
		sub {
			$node->safe_psql('leaf', 'select last_value from s1') >= 50000;
		}),
	"the leaf's sequence moves past the root's value");

my $n = 0;
sub write_rows
{
	$n++;
	$node->safe_psql('root',
		"insert into t select i, 'w$n' from generate_series($n * 100, $n * 100 + 9) i");
	return;
}
write_rows();
ok(wait_tables_equal($py{root}, [ $py{leaf} ], 'public.t'), 'rows reach the leaf');

sub completed
{
	return $node->safe_psql('leaf',
		"select completed_tick from pgq_node.get_consumer_state('replika', 'leafnode')");
}

sub provider_pos
{
	return $node->safe_psql('root',
		"select last_tick from pgq.get_consumer_info('replika', 'leafnode')");
}

sub last_root_tick
{
	return $node->safe_psql('root',
		"select max(tick_id) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue"
		  . " where queue_name = 'replika'");
}

# --rewind: the provider was moved ahead; the leaf would have lost events
stop_worker($c{leaf});
my $done = completed();
write_rows();
my $ahead = last_root_tick();
wait_until(sub { last_root_tick() > $ahead }) or die 'no tick';
$ahead = last_root_tick();
$node->safe_psql('root', "select pgq.register_consumer_at('replika', 'leafnode', $ahead)");
londiste_ok($c{leaf}, 'worker', '--rewind');
is(provider_pos(), $done, '--rewind moves the provider back to the completed tick');
start_worker($c{leaf});
ok(wait_tables_equal($py{root}, [ $py{leaf} ], 'public.t'),
	'after --rewind no event is lost');

# --reset: the node takes the provider's position
stop_worker($c{leaf});
wait_until(sub { last_root_tick() > completed() }) or die 'no tick';
my $pos = last_root_tick();
$node->safe_psql('root', "select pgq.register_consumer_at('replika', 'leafnode', $pos)");
cmp_ok(completed(), '<', $pos, 'the provider is ahead of the node');
londiste_ok($c{leaf}, 'worker', '--reset');
is(completed(), $pos, '--reset stores the provider position as completed');
start_worker($c{leaf});
write_rows();
ok(wait_tables_equal($py{root}, [ $py{leaf} ], 'public.t'), 'and the worker goes on');

stop_worker($c{$_}) for ('root', 'leaf');
is(log_problems(values %py), '', 'no errors in the logs');

done_testing();
