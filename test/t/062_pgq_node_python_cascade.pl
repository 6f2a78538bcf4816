# Debian's python3-pgq runs a cascade on pgq_node: its CascadeAdmin creates
# a root and a branch, its CascadedWorkers copy events (keeping their ids)
# and ticks from the root to the branch and move the watermarks both ways,
# and its takeover swaps the two nodes through demote_root and
# promote_branch, after which events flow the other way.
#
# The in-server ticker ticks the root.  The workers run in the replica
# role, as londiste's do: a branch's queue takes inserts only in that role
# (as in PgQ 3.5), and a worker must be able to go on after a takeover.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use FindBin;
use lib "$FindBin::RealBin/../perl";

use IPC::Run;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# System interpreter, isolated from the current directory (see
# 010_python_consumer.pl).
my @python = ('/usr/bin/python3', '-I');
my $script = abs_path(dirname(__FILE__) . '/../client/python_cascade.py');

ok(run_log([ @python, '-c', 'import pgq.cascade.admin' ]),
	'python3-pgq is importable')
  or die "this test needs the Debian package python3-pgq";

my $node = preloaded_node('cascade');
my $dir  = PostgreSQL::Test::Utils::tempdir;
my %ini;
foreach my $name ('n1', 'n2')
{
	$node->safe_psql('postgres', "create database $name");
	$ini{$name} = "$dir/$name.ini";
	my $connstr = $node->connstr($name);
	append_to_file($ini{$name}, <<"EOF");
[cascade]
job_name = w_$name
queue_name = cq
db = $connstr
logfile = $dir/$name.log
pidfile = $dir/$name.pid
loop_delay = 0.2
global_wm_publish_period = 1
local_wm_publish_period = 1
EOF
}

sub admin
{
	my ($name, @args) = @_;
	return run_log([ @python, $script, 'admin', $ini{$name}, @args ]);
}

# The data events of a node's queue as "ev_id:ev_data", in id order.
sub data_events
{
	my ($name) = @_;
	return $node->safe_psql($name,
		q{select string_agg(ev_id || ':' || ev_data, ',' order by ev_id)
		    from pgq.event_template where ev_type = 'data'});
}

# Insert $count events into the root $from; true once $to has $total data
# events and they are the root's, ids included.
sub flows
{
	my ($from, $to, $prefix, $count, $total) = @_;
	$node->safe_psql($from,
		"select pgq.insert_event('cq', 'data', '$prefix' || i) from generate_series(1, $count) i"
	);
	return $node->poll_query_until($to,
		"select count(*) = $total from pgq.event_template where ev_type = 'data'")
	  && data_events($to) eq data_events($from);
}

ok(admin('n1', 'create-root', 'n1', $node->connstr('n1')), 'create-root');
ok( admin(
		'n2', 'create-branch', 'n2', $node->connstr('n2'),
		'--provider=' . $node->connstr('n1')),
	'create-branch');
is( $node->safe_psql(
		'n2', q{select node_type, provider_node, worker_name
		          from pgq_node.get_node_info('cq')}),
	'branch|n1|w_n2',
	'the branch knows its provider and worker');

my %worker;
{
	local $ENV{PGOPTIONS} = '-c session_replication_role=replica';
	foreach my $name ('n1', 'n2')
	{
		my ($out, $err) = ('', '');
		$worker{$name} =
		  IPC::Run::start([ @python, $script, 'worker', $ini{$name} ],
			'>', \$out, '2>', \$err);
	}
}

ok(flows('n1', 'n2', 'a', 10, 10),
	'the branch worker copies the events with their ids');
ok( $node->poll_query_until(
		'n1', q{select last_tick > 1 from pgq.get_consumer_info('cq', '.n2.watermark')}),
	"the branch's watermark reaches the root");
ok( $node->poll_query_until(
		'n2', q{select last_tick > 1 from pgq.get_consumer_info('cq', '.global_watermark')}),
	'the global watermark reaches the branch');

ok(admin('n2', 'takeover', 'n1'), 'takeover');
is( $node->safe_psql('n2',
		q{select node_type, provider_node from pgq_node.get_node_info('cq')}),
	'root|n2', 'the branch is the root');
is( $node->safe_psql('n1',
		q{select node_type, provider_node from pgq_node.get_node_info('cq')}),
	'branch|n2', 'the root is its branch');

ok(flows('n2', 'n1', 'b', 5, 15), 'events flow from the new root');

my ($status, $status_err) = ('', '');
IPC::Run::run([ @python, $script, 'admin', $ini{'n1'}, 'status' ],
	'>', \$status, '2>', \$status_err);
like($status, qr/n2 \(root\).*n1 \(branch\)/s, 'status shows the new layout');
unlike($status, qr/ERR:/, 'and no worker error');
note "status:\n$status$status_err";

$_->kill_kill foreach values %worker;
$node->stop;
done_testing();
