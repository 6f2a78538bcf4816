# queue_splitter (tools.md 5.3, test 13): each event goes to the target
# queue named by its queue_field (default extra1, also type), fields kept
# and in order, all of a batch in one target transaction with its tick in
# pgq_ext.  The crash points of queue_mover (SIGKILL after and before the
# target commit) neither duplicate nor lose events; an event naming a
# queue that does not exist, or none at all, holds its whole batch back
# without losing it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use PostgreSQL::Test::Utils;
use QueueMoverTest;
use Test::More;

my $dir = PostgreSQL::Test::Utils::tempdir;

my $node = mover_node(
	'splitter',
	postgres => ['srcq'],
	target   => [qw(q_a q_b q_c t_ins t_upd)]);

{
	my ($rc, $out) = run_job({ program => 'queue_splitter' }, '--ini');
	is($rc, 0, '--ini exits 0');
	like($out, qr/^\[queue_splitter3\]$/m, '--ini prints the main section');
	like($out, qr/queue_field/, '--ini names queue_field');
	($rc) = run_job({ program => 'queue_splitter3' }, '--version');
	is($rc, 0, 'queue_splitter3 is installed too');
}

my $by_extra1 = new_job(
	program => 'queue_splitter',
	dir     => $dir,
	name    => 'split_extra1',
	src     => [ $node, 'postgres' ],
	dst     => [ $node, 'target' ],
	queue   => 'srcq');
my $by_type = new_job(
	program   => 'queue_splitter',
	section   => 'queue_splitter',
	dir       => $dir,
	name      => 'split_type',
	src       => [ $node, 'postgres' ],
	dst       => [ $node, 'target' ],
	queue     => 'srcq',
	ini_extra => "queue_field = ev_type\n");

# A bad queue_field is refused at start.
write_job_ini($by_type, "queue_field = ev_id\n");
my ($rc, $out, $err) = run_job($by_type, $by_type->{ini});
is($rc, 1, 'queue_field = ev_id is refused');
like(slurp_file($by_type->{log}) . $err, qr/bad queue_field "ev_id"/,
	'the error names the field');
write_job_ini($by_type, "queue_field = ev_type\n");

foreach my $job ($by_extra1, $by_type)
{
	($rc, $out, $err) = run_job($job, $job->{ini}, '--register');
	is($rc, 0, "$job->{name}: --register") or diag $err;
}

my @abc = qw(q_a q_b q_c);
my $route_extra1 = sub { $abc[ $_[0] % 3 ] };
my $route_type   = sub { $_[0] % 2 ? 't_ins' : 't_upd' };
sub batch_of
{
	my ($from, $to) = @_;
	produce($node, 'postgres', 'srcq', $from, $to,
		extra1 => $route_extra1, type => $route_type);
}

# The source events that belong in $queue when routed by $field
sub expected
{
	my ($field, $queue) = @_;
	return queue_rows($node, 'postgres', 'srcq', "$field = '$queue'");
}

sub check_all
{
	my ($what) = @_;
	foreach my $q (@abc)
	{
		is(queue_rows($node, 'target', $q), expected('ev_extra1', $q),
			"$what: $q has its events once, fields and order kept");
	}
	foreach my $q (qw(t_ins t_upd))
	{
		is(queue_rows($node, 'target', $q), expected('ev_type', $q),
			"$what: $q has its events once, fields and order kept");
	}
}

batch_of(1,  20);
batch_of(21, 30);
foreach my $job ($by_extra1, $by_type)
{
	start_job($job);
	ok(wait_caught_up($job), "$job->{name} caught up");
	is(stop_job($job), 0, "$job->{name} stopped");
}
check_all('routing');
my ($tick) = split /\|/, consumer_info($node, 'postgres', 'srcq', 'split_extra1');
is($node->safe_psql('target', "select pgq_ext.get_last_tick('split_extra1')"),
	$tick, 'pgq_ext has the last tick');

# Events larger than the writer's 64 kB streaming pieces, routed to
# alternating queues: each is sent as soon as it is added, so the open COPY
# changes queue with every event.
$node->safe_psql(
	'postgres', q{
select pgq.insert_event('srcq', case when i % 2 = 1 then 't_ins' else 't_upd' end,
                        repeat(md5(i::text), 3000), (array['q_a', 'q_b', 'q_c'])[i % 3 + 1],
                        null, null, null)
  from generate_series(1, 9) i;
select pgq.ticker('srcq');
});
foreach my $job ($by_extra1, $by_type)
{
	start_job($job);
	ok(wait_caught_up($job), "$job->{name} caught up with the large events");
	is(stop_job($job), 0, "$job->{name} stopped");
}
check_all('large events streamed');

# The crash points
batch_of(31, 50);
foreach my $job ($by_extra1, $by_type)
{
	my ($t) = split /\|/, crash_after_target_commit($job);
	is($node->safe_psql('target', "select pgq_ext.get_last_tick('$job->{name}')"),
		$t, "$job->{name}: killed with the batch applied on the target");
	start_job($job);
	ok(wait_caught_up($job), "$job->{name} restarted and caught up");
	is(stop_job($job), 0, "$job->{name} stopped");
}
check_all('kill after the target commit');

batch_of(51, 60);
foreach my $job ($by_extra1, $by_type)
{
	crash_before_target_commit($job);
	start_job($job);
	ok(wait_caught_up($job), "$job->{name} restarted and caught up");
	is(stop_job($job), 0, "$job->{name} stopped");
}
check_all('kill before the target commit');

# A batch with one event for a queue that does not exist yet, and one
# whose routing field is NULL.
batch_of(61, 70);
produce($node, 'postgres', 'srcq', 71, 72,
	extra1 => sub { $_[0] == 71 ? 'q_late' : 'q_a' },
	type   => sub { $_[0] == 72 ? undef : 't_ins' });
($tick) = split /\|/, consumer_info($node, 'postgres', 'srcq', 'split_extra1');
my ($tick_type) = split /\|/, consumer_info($node, 'postgres', 'srcq', 'split_type');
foreach my $job ($by_extra1, $by_type)
{
	start_job($job);
}
ok(wait_log($by_extra1, qr/ERROR .*q_late/, 2),
	'unknown target queue: the error is logged, the batch retried');
ok(wait_log($by_type, qr/ERROR event \d+ has no target queue: its ev_type is NULL/, 2),
	'NULL routing field: the error is logged, the batch retried');
ok( $node->poll_query_until(
		'postgres',
		"select last_tick > $tick from pgq.get_consumer_info('srcq', 'split_extra1')"),
	'the good batch before went through');
is( $node->safe_psql('postgres',
		"select current_batch is not null from pgq.get_consumer_info('srcq', 'split_extra1')"),
	't', 'the bad batch is held open');
is(queue_count($node, 'target', 'q_a', "ev_data ~ '^data 72:'"),
	0, 'nothing of the bad batch was applied');

create_queue($node, 'target', 'q_late');
ok(wait_caught_up($by_extra1), 'once the queue exists the batch goes through');
is(stop_job($by_extra1), 0, 'split_extra1 stopped');
is(queue_rows($node, 'target', 'q_late'), expected('ev_extra1', 'q_late'),
	'q_late got its event');
foreach my $q (@abc)
{
	is(queue_rows($node, 'target', $q), expected('ev_extra1', $q),
		"after the held batch: $q has its events once");
}

# The NULL type is a bad event for ever: the splitter keeps failing on it
# without applying anything of its batch.
is(queue_count($node, 'target', 't_ins', "ev_data ~ '^data 71:'"),
	0, 'split_type applied nothing of the batch with the NULL type');
is((split /\|/, consumer_info($node, 'postgres', 'srcq', 'split_type'))[0] > $tick_type,
	1, 'split_type finished the good batch before it');
is(stop_job($by_type), 0, 'split_type stopped');

done_testing();
