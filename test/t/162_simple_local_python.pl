# simple_local_consumer and a Python pgq.LocalConsumer doing the same job
# (test/client/python_simple_local_consumer.py, on Debian's python3-pgq)
# take turns on one queue with one config file, hence one consumer name
# and one tracking file: each reads the tick the other wrote, so every
# event is applied exactly once and the position never jumps.  This is
# what moving an installation from simple_local_consumer3 to the C
# program, or back, does to the file.

use strict;
use warnings;

use Cwd qw(abs_path);
use FindBin;
use lib "$FindBin::RealBin/../perl";

use PostgreSQL::Test::Utils;
use SimpleConsumerTest;
use Test::More;
use TestFiles;

# Isolated mode keeps the current directory off the module path (see
# 010_python_consumer.pl).
my @python = ('/usr/bin/python3', '-I');
my $script =
  abs_path("$FindBin::RealBin/../client/python_simple_local_consumer.py");
my ($rc, $out, $err) = run_prog(@python, '-c', 'import pgq, skytools, psycopg2');
is($rc, 0, 'python3-pgq is importable')
  or die "this test needs the Debian package python3-pgq";

my $dir  = PostgreSQL::Test::Utils::tempdir;
my $node = setup_simple('pylocal');
mkdir "$dir/state" or die;
my $job   = 'turns';
my $ini   = "$dir/$job.ini";
my $track = "$dir/state/$job.tick";
write_file($ini,
	simple_ini($node, 'simple_local_consumer3',
		"local_tracking_file = $dir/state/%(job_name)s.tick\n"));

my %consumer = (
	c      => [ 'simple_local_consumer', $ini ],
	python => [ @python, $script, $ini ]);

($rc, $out, $err) = run_prog(@{ $consumer{python} }, '--register');
is($rc, 0, 'Python registers the consumer') or diag($err);

# Six rounds, alternating; each produces one batch and lets one consumer
# apply it.  Both start by comparing the file with the queue.
my @order = qw(python c python c c python);
my %ticks;
foreach my $round (1 .. @order)
{
	my $who = $order[ $round - 1 ];
	$node->safe_psql('postgres',
		"select pgq.insert_event('sq', 'I:id', 'id=' || i || '&name=r$round-' || i, 'public.data', null, null, null) from generate_series(1, 3) i;"
		  . "select pgq.insert_event('sq', 'other', 'x', null, null, null, null)");
	my $tick = tick($node);
	($rc, $out, $err) = run_prog(@{ $consumer{$who} });
	is($rc, 0, "round $round: $who applies the batch") or diag($err);
	unlike($err, qr/Tracking out of sync|Lost position/,
		"round $round: $who finds the file in line with the queue");
	is(slurp($track) =~ s/\s+$//r, $tick, "round $round: the file holds the batch's tick");
	is(consumer_tick($node, $job), $tick, "round $round: the queue position too");
}
is( $node->safe_psql(
		'dst',
		'select count(*), count(distinct ev_id), count(distinct tick_id) from applied'),
	'18|18|6',
	'every row change applied exactly once, in six batches');
is($node->safe_psql('dst', "select count(*) from applied where name not like 'r_-_'"),
	'0', 'the data keys arrived through both');

# Both consumers fill every column from the same keys: the rows that each
# wrote match the events in the queue.
is( $node->safe_psql(
		'dst', 'select ev_id, ev_time, ev_type, ev_data, ev_extra1 from applied order by ev_id'),
	$node->safe_psql(
		'postgres',
		"select ev_id, ev_time, ev_type, ev_data, ev_extra1 from pgq.event_template where ev_type = 'I:id' order by ev_id"
	),
	'the pgq.* keys are the same from both');

$node->stop;
done_testing();
