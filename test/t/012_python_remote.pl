# Debian's python3-pgq RemoteConsumer and SerialConsumer, reading a queue in
# one database and applying its events to another that has pgq_ext, killed
# between the commit in the target and pgq.finish_batch() and restarted.
#
# The client (test/client/python_remote_consumer.py) sends itself SIGKILL
# right after the target transaction of its third batch with events has
# committed.  The test checks that the kill landed there - the batch is
# still open on the queue database while the target has its rows and
# pgq_ext records it as applied (RemoteConsumer: the batch id; Serial-
# Consumer: the batch's tick) - and that after a restart, which gets the
# same batch again, every event is in the target exactly once.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Isolated mode keeps the tree's own pgq.so off the module path (see
# 010_python_consumer.pl).
my @python = ('/usr/bin/python3', '-I');
my $script =
  abs_path(dirname(__FILE__) . '/../client/python_remote_consumer.py');

my $event_count = 1000;
my $chunk_size  = 100;
my $kill_after  = 3;

ok(run_log([ @python, '-c', 'import pgq' ]), 'python3-pgq is importable')
  or die "this test needs the Debian package python3-pgq";

my $node = PostgreSQL::Test::Cluster->new('remote');
$node->init;
$node->start;

$node->safe_psql('postgres', 'create database target');
$node->safe_psql(
	'target', q{
	create extension pgq_ext cascade;
	create table remote_done (ev_id bigint, ev_data text, batch_id bigint);
	create table serial_done (ev_id bigint, ev_data text, batch_id bigint);
});

# The test ticks by hand, one tick per chunk of events, so that the
# consumers see one batch with events per chunk.
$node->safe_psql(
	'postgres', q{
	create extension pgq;
	select pgq.create_queue('remq');
	select pgq.set_queue_config('remq', 'ticker_max_count', '50');
});

my $dir = PostgreSQL::Test::Utils::tempdir;

sub write_ini
{
	my ($kind) = @_;
	my $ini = "$dir/$kind.ini";
	my $src = $node->connstr('postgres');
	my $dst = $node->connstr('target');
	append_to_file($ini, <<"EOF");
[python_remote_consumer]
job_name = ${kind}_consumer
db = $src
dst_db = $dst
queue_name = remq
consumer_name = ${kind}_c
consumer_class = $kind
result_table = ${kind}_done
loop_delay = 0.1
EOF
	return $ini;
}

my %ini = map { $_ => write_ini($_) } qw(remote serial);
foreach my $kind (qw(remote serial))
{
	command_ok([ @python, $script, $ini{$kind}, '--register' ],
		"$kind consumer registers with --register");
}

for (my $first = 1; $first <= $event_count; $first += $chunk_size)
{
	my $last = $first + $chunk_size - 1;
	$node->safe_psql('postgres',
		"select pgq.insert_event('remq', 'test', i::text) from generate_series($first, $last) i"
	);
	$node->safe_psql('postgres', "select pgq.ticker('remq')");
}

foreach my $kind (qw(remote serial))
{
	my $consumer  = "${kind}_c";
	my $table     = "${kind}_done";
	my $kill_file = "$dir/$kind.killed";

	# First run: dies by its own SIGKILL after the third applied batch.
	my ($out, $ret) = ('');
	{
		local $ENV{PGQ_TEST_KILL_AFTER_BATCH} = $kill_after;
		local $ENV{PGQ_TEST_KILL_FILE}        = $kill_file;
		my $h = IPC::Run::start([ @python, $script, $ini{$kind} ],
			'>&', \$out, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
		$h->finish;
		$ret = $h->full_result(0);
	}
	note "$kind first run:\n$out";
	is($ret & 127, 9, "$kind consumer was killed with SIGKILL");
	ok(-e $kill_file, "$kind consumer reached the kill point")
	  or next;
	my ($batch, $tick) = split ' ', slurp_file($kill_file);

	is( $node->safe_psql(
			'postgres',
			"select current_batch from pgq.get_consumer_info('remq', '$consumer')"),
		$batch,
		"$kind: the batch is still open on the queue database");
	is( $node->safe_psql(
			'target', "select count(*) from $table where batch_id = $batch"),
		$chunk_size,
		"$kind: the target has that batch's rows");
	is( $node->safe_psql('target', "select count(*) from $table"),
		$kill_after * $chunk_size,
		"$kind: and those of the batches before it, no more");
	if ($kind eq 'remote')
	{
		is( $node->safe_psql(
				'target', "select pgq_ext.is_batch_done('$consumer', $batch)"),
			't',
			'remote: pgq_ext has the batch as done');
	}
	else
	{
		is( $node->safe_psql(
				'target', "select pgq_ext.get_last_tick('$consumer')"),
			$tick,
			'serial: pgq_ext has the batch\'s tick as done');
	}

	# Second run: gets the same batch again, must skip it and go on.
	$out = '';
	my $h = IPC::Run::start([ @python, $script, $ini{$kind} ], '>&', \$out);
	ok( $node->poll_query_until(
			'postgres', qq{
select current_batch is null and pending_events = 0
  from pgq.get_consumer_info('remq', '$consumer')}),
		"$kind: the restarted consumer caught up with the queue");
	$h->signal('INT');
	$h->finish;
	is($h->result(0), 0, "$kind: the restarted consumer stopped cleanly");
	note "$kind second run:\n$out";

	is( $node->safe_psql(
			'target', qq{
select count(*), count(distinct ev_id), count(distinct ev_data),
       min(ev_data::int), max(ev_data::int)
  from $table}),
		"$event_count|$event_count|$event_count|1|$event_count",
		"$kind: every event was applied exactly once");
}

$node->stop;
done_testing();
