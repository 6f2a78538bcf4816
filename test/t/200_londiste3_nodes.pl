# londiste3's node commands against python3-londiste's.
#
# Two cascades root -> branch -> leaf on one cluster: one made with
# londiste3 (databases c_*), the other with Python's londiste (p_*), with
# the same node names, tables and config.  Both must end in the same
# pgq_node and londiste state; on each cascade, londiste3 and Python must
# print the same members, status, status --compact, node-status and
# node-info (only lags, tick ids, hosts, ports and the c_/p_ database
# prefix masked).  Then every error case: an existing node, a bad or
# missing provider, wrong arity, unknown nodes, a public connect string
# that leads elsewhere, options given to the wrong node type; none may
# change anything.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use LondisteTest;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

ok(-x '/usr/bin/londiste', 'londiste is installed')
  or die "this test needs the Debian package python3-londiste";

my $node = preloaded_node('nodes', $LondisteTest::SERVER_CONF);
my $base = PostgreSQL::Test::Utils::tempdir;

# The same member set-up for both programs; the branch skips one table
# and one sequence (register_skip_*), the leaf registers only one table.
my %extra = (
	root   => '',
	branch => "register_skip_tables = public.skipped\n"
	  . "register_skip_seqs = public.skipped_seq\n",
	leaf => "register_only_tables = public.plain\n",
);

my %cascade;
foreach my $prog ('c', 'p')
{
	my $dir = "$base/$prog";
	mkdir $dir or die "mkdir $dir: $!";
	foreach my $name ('root', 'branch', 'leaf', 'spare')
	{
		my $db = "${prog}_$name";
		$node->safe_psql('postgres', "create database $db");
		$node->safe_psql(
			$db, q{
create table plain (id int primary key, v text);
create table skipped (id int primary key);
create sequence plain_seq;
create sequence skipped_seq;
});
		# the spare database is no node, but has the extensions, so that
		# its state can be read before and after the failing commands
		$node->safe_psql($db, 'create extension londiste cascade')
		  if $name eq 'spare';
		$cascade{$prog}{$name} = londiste_member(
			node    => $node,
			db      => $db,
			name    => $name,
			dir     => $dir,
			program => $prog eq 'c' ? 'londiste3' : 'python',
			extra   => $extra{$name} // '');
	}
}
my ($croot, $cbranch, $cleaf, $cspare) = @{ $cascade{c} }{qw(root branch leaf spare)};
my ($proot, $pbranch, $pleaf, $pspare) = @{ $cascade{p} }{qw(root branch leaf spare)};

# The same member run by the other program.
sub with_program
{
	my ($m, $program) = @_;
	return { %$m, program => $program };
}

# --- creating the cascades -----------------------------------------------

foreach my $prog ('c', 'p')
{
	my ($root, $branch, $leaf) = @{ $cascade{$prog} }{qw(root branch leaf)};
	my ($rc, $stdout, $err) =
	  londiste_run($root, 'create-root', 'root', $root->{connstr});
	is($rc, 0, "$prog: create-root");
	like($err, qr/Installing pgq\b/, "$prog: create-root creates the missing extensions");
	like($err, qr/Installing londiste\b/, "$prog: create-root creates londiste too");
	tune_queue($root);

	# tables and sequences on the root before the others join: a new node
	# learns them from its provider
	python_ok($root, 'add-table', 'public.plain', 'public.skipped');
	python_ok($root, 'add-seq', 'public.plain_seq', 'public.skipped_seq');

	($rc, $stdout, $err) = londiste_run($branch, 'create-branch', 'branch',
		$branch->{connstr}, "--provider=$root->{connstr}",
		'--sync-watermark=branch');
	is($rc, 0, "$prog: create-branch") or diag($err);
	($rc, $stdout, $err) = londiste_run($leaf, 'create-leaf', 'leaf',
		$leaf->{connstr}, "--provider=$branch->{connstr}");
	is($rc, 0, "$prog: create-leaf") or diag($err);
}

# londiste_run with Python's londiste, whatever the member runs
sub python_ok
{
	my ($m, @args) = @_;
	return londiste_ok(with_program($m, 'python'), @args);
}

# The state a cascade keeps, without what differs between two equal
# cascades made at different times.
sub node_state
{
	my ($m) = @_;
	return $m->{node}->safe_psql(
		$m->{db}, q{
select 'info', node_type, node_name, provider_node, worker_name,
       combined_queue, node_attrs, worker_paused
  from pgq_node.get_node_info('replika');
select 'loc', node_name, dead, regexp_replace(node_location, '.*dbname=.._', 'dbname=')
  from pgq_node.get_queue_locations('replika') order by 2;
select 'sub', node_name, worker_name from pgq_node.get_subscriber_info('replika') order by 2;
select 'cons', consumer_name, provider_node from pgq_node.get_consumer_info('replika') order by 2;
select 'tbl', table_name, local, merge_state from londiste.get_table_list('replika') order by 2;
select 'seq', seq_name, local from londiste.get_seq_list('replika') order by 2;
});
}

foreach my $name ('root', 'branch', 'leaf')
{
	is(node_state($cascade{c}{$name}), node_state($cascade{p}{$name}),
		"$name: londiste3 made the same node as Python's londiste");
}
like(node_state($cbranch), qr/^tbl\|public\.plain\|f\|$/m,
	'the branch learnt the provider\'s table');
unlike(node_state($cbranch), qr/public\.skipped\b/,
	'register_skip_tables and register_skip_seqs keep objects out');
like(node_state($cbranch), qr/^seq\|public\.plain_seq\|f$/m,
	'the branch learnt the provider\'s sequence');
unlike(node_state($cleaf), qr/public\.skipped/,
	'register_only_tables keeps the other table out');
like(node_state($cbranch), qr/^info\|branch\|branch\|root\|branch\|\|sync_watermark=branch\|f$/m,
	'--sync-watermark set the node attribute');

# --- output compared with Python's ----------------------------------------

# status and members output with the differences of two runs and of the
# two cascades masked
sub masked
{
	my ($text) = @_;
	$text = mask_output($text);
	$text =~ s/(dbname='?)[cp]_/$1X_/g;
	return $text;
}

# The output of a command run by londiste3 and by Python on one member.
sub compare_output
{
	my ($m, $what, @args) = @_;
	my ($rc3, $out3, $err3) = londiste_run(with_program($m, 'londiste3'), @args);
	my ($rcp, $outp, $errp) = londiste_run(with_program($m, 'python'), @args);
	is($rc3, $rcp, "$what: same exit code ($rcp)") or diag("londiste3: $err3\npython: $errp");
	is(masked($out3), masked($outp), "$what: same output as Python's");
	return masked($out3);
}

foreach my $prog ('c', 'p')
{
	foreach my $name ('root', 'branch', 'leaf')
	{
		my $m = $cascade{$prog}{$name};
		compare_output($m, "$prog/$name members", 'members');
		compare_output($m, "$prog/$name node-status", 'node-status');
		compare_output($m, "$prog/$name node-info", 'node-info');
	}
	compare_output($cascade{$prog}{leaf}, "$prog status", 'status');
	compare_output($cascade{$prog}{branch}, "$prog status --compact", 'status', '--compact');
}
my $status = compare_output($cleaf, 'status once more', 'status');
is($status, <<'EOF', 'status shows the tree with the attribute and table counts');
Queue: replika   Local node: leaf

root (root)
  |                           Tables: 2/0/0
  |                           Lag: L, Tick: T, NOT UPTODATE
  +--: branch (branch)
     |                        Tables: 0/0/1
     |                        Lag: L, Tick: T, NOT UPTODATE
     |                        Attr: sync_watermark=branch
     +--: leaf (leaf)
                              Tables: 0/0/1
                              Lag: L, Tick: T, NOT UPTODATE
EOF
is( masked(londiste_ok($cleaf, 'members')),
	masked(londiste_ok($pleaf, 'members')),
	'members of both cascades are the same');

# The replay workers: Python's on root and branch, londiste3's on the leaf
# (node commands must work with either).
sub worker_of
{
	my ($m) = @_;
	return with_program($m, $m->{name} eq 'leaf' ? 'londiste3' : 'python');
}

# pause and resume need the worker to answer
start_worker(worker_of($_)) for ($croot, $cbranch, $cleaf);
londiste_ok($cleaf, 'pause');
like($cleaf->{node}->safe_psql($cleaf->{db},
		"select worker_paused from pgq_node.get_node_info('replika')"),
	qr/^t$/, 'pause paused the worker');
compare_output($cleaf, 'paused leaf node-status', 'node-status');
like(londiste_ok($cleaf, 'status'), qr/^\s+Lag: \S+, Tick: \d+, PAUSED$/m,
	'status shows the paused worker');
compare_output($cleaf, 'paused leaf node-info', 'node-info');
londiste_ok($cleaf, 'resume');
is($cleaf->{node}->safe_psql($cleaf->{db},
		"select worker_paused from pgq_node.get_node_info('replika')"),
	'f', 'resume resumed the worker');
londiste_ok($cleaf, 'wait-provider');
londiste_ok($cleaf, 'wait-root');
like((londiste_run($croot, 'wait-root'))[2], qr/Current node is root, no need to wait/,
	'wait-root on the root has nothing to wait for');

# --- errors -----------------------------------------------------------------

my $before = join '', map { node_state($cascade{c}{$_}) } ('root', 'branch', 'leaf', 'spare');

# A failing command: exit code, error message, and Python's exit code for
# the same command on the Python cascade.
sub fails
{
	my ($args, $pattern, $what, $exit) = @_;
	my ($rc, $out, $err) = londiste_run($cspare, @$args);
	is($rc, $exit // 1, "$what: exit code") or diag("stdout: $out\nstderr: $err");
	like($err . $out, $pattern, "$what: message");
	my ($prc) = londiste_run($pspare, map { s/\bc_/p_/gr } @$args);
	is($prc, $exit // 1, "$what: Python's exit code is the same");
	return;
}

my $spare_loc = $cspare->{connstr};
fails([ 'create-leaf', 'leaf', $spare_loc, "--provider=$cbranch->{connstr}" ],
	qr/Node 'leaf' already exists/, 'an existing node name');
fails([ 'create-leaf', 'spare', $spare_loc, '--provider=dbname=c_nosuchdb host=' . $node->host . ' port=' . $node->port ],
	qr/c_nosuchdb/, 'a provider that does not exist');
fails([ 'create-leaf', 'spare', $spare_loc, "--provider=$cspare->{connstr}" ],
	qr/Root node not initialized|not set up/, 'a provider that is no node');
fails([ 'create-leaf', 'spare', $spare_loc ], qr/Please specify --provider/,
	'no provider');
fails([ 'create-root', 'spare', $spare_loc, 'x' ],
	qr/Too many args, only node name and public connect string allowed/,
	'create-root with three arguments');
fails([ 'create-root', 'spare', $cleaf->{connstr} ],
	qr/Public connect string points to different database than local connect string \(fail=1\)/,
	'a public connect string to another database');
fails([ 'create-root', 'spare' ],
	qr/Node public location must be given either in command line or config/,
	'no public connect string');
fails([ 'tag-dead' ], qr/command 'tag-dead' got 0 args, but expects 1: dead_node_name/,
	'tag-dead without a node');
fails([ 'takeover', 'a', 'b' ], qr/command 'takeover' got 2 args, but expects 1: old_node_name/,
	'takeover with two nodes');
fails([ 'drop-node' ], qr/command 'drop-node' got 0 args, but expects 1: node_name/,
	'drop-node without a node');
fails([ 'members', 'x' ], qr/command 'members' got 1 args, but expects 0$/m,
	'members with an argument');
fails([ 'create-branch', 'spare', $spare_loc, "--provider=$croot->{connstr}", '--merge=other' ],
	qr/--merge can be used only for leafs/, '--merge on a branch');

# on the uninitialized spare database every node command fails cleanly
my ($rc, $out, $err) = londiste_run($cspare, 'status');
is($rc, 1, 'status on an uninitialized node fails');
like($err, qr/not initialized for queue replika/, 'and says why');

# unknown nodes (Python's tag-dead accepts any name, and tag-alive is
# missing there: these compare only londiste3)
foreach my $case (
	[ [ 'takeover', 'nosuch' ],                    'takeover of an unknown node' ],
	[ [ 'tag-dead', 'nosuch' ],                    'tag-dead of an unknown node' ],
	[ [ 'tag-alive', 'nosuch' ],                   'tag-alive of an unknown node' ],
	[ [ 'change-provider', '--provider=nosuch' ],  'change-provider to an unknown node' ])
{
	my ($args, $what) = @$case;
	($rc, $out, $err) = londiste_run($cleaf, @$args);
	is($rc, 1, "$what: exit code");
	like($err, qr/Unknown node: nosuch/, "$what: message");
}
($rc, $out, $err) = londiste_run($cleaf, 'change-provider');
is($rc, 1, 'change-provider without --provider fails');
like($err, qr/Please give --provider/, 'and asks for it');
($rc, $out, $err) = londiste_run($cleaf, 'change-provider', '--provider=leaf');
like($err, qr/cannot subscribe to itself/, 'change-provider to itself is refused');
($rc, $out, $err) = londiste_run($cleaf, 'rename-node', 'leaf', 'leaf2');
is($rc, 1, 'rename-node is refused');
like($err, qr/rename-node is not supported/, 'and says so');
($rc, $out, $err) = londiste_run($cleaf, 'create-leaf', 'leaf', $cleaf->{connstr},
	"--provider=$cbranch->{connstr}", '--sync-watermark=leaf');
is($rc, 1, '--sync-watermark on a leaf is refused');
like($err, qr/--sync-watermark can be used only for branch nodes/, 'with the reason');

is(join('', map { node_state($cascade{c}{$_}) } ('root', 'branch', 'leaf', 'spare')),
	$before, 'the failed commands changed nothing');

# a node already made: nothing to do, exit 0, as Python
($rc, $out, $err) = londiste_run($cbranch, 'create-branch', 'branch', $cbranch->{connstr},
	"--provider=$croot->{connstr}");
is($rc, 0, 'create-branch on the branch again exits 0');
like($err, qr/Node is already initialized as branch/, 'and says what the node is');

# a public connect string without host: a warning; --nocheck skips the check
($rc, $out, $err) = londiste_run($cspare, 'create-root', 'spare',
	'dbname=c_spare', '--nocheck');
is($rc, 0, 'create-root --nocheck with a host-less public connect string');
like($err, qr/WARNING No host= in public connect string, bad idea/, 'warns about the missing host');

# tag-dead / tag-alive reach every live node
londiste_ok($cbranch, 'tag-dead', 'leaf');
foreach my $m ($croot, $cbranch)
{
	is($m->{node}->safe_psql($m->{db},
			"select dead from pgq_node.get_queue_locations('replika') where node_name = 'leaf'"),
		't', "tag-dead marked the leaf dead on $m->{name}");
}
like(londiste_ok($cbranch, 'status'), qr/^leaf \(dead\)$/m,
	'status shows the dead leaf (Python 3.11 crashes here)');
compare_output($cbranch, 'members with a dead node', 'members');
londiste_ok($cbranch, 'tag-alive', 'leaf');
foreach my $m ($croot, $cbranch)
{
	is($m->{node}->safe_psql($m->{db},
			"select dead from pgq_node.get_queue_locations('replika') where node_name = 'leaf'"),
		'f', "tag-alive marked the leaf alive on $m->{name}");
}

# a cascaded consumer's error: its first line in status, as Python shows it
stop_worker(worker_of($cleaf));
$cleaf->{node}->safe_psql($cleaf->{db},
	"select * from pgq_node.set_consumer_error('replika', 'leaf', E'apply failed\\nsecond line')");
my $err_status = compare_output($cbranch, 'status with a consumer error', 'status');
like($err_status, qr/^\s+ERR: leaf: apply failed$/m,
	'status shows the first line of the error');

# an unreachable member shows as dead, after a failure line
$node->safe_psql($croot->{db},
	"update pgq_node.node_location set node_location = 'dbname=c_gone host=" . $node->host
	  . ' port=' . $node->port . "' where node_name = 'leaf'");
my $st = londiste_ok($croot, 'status');
like($st, qr/^Node 'leaf' failure: .*c_gone/m, 'status names the unreachable member');
like($st, qr/^leaf \(dead\)$/m, 'and shows it as dead');

# with more than eight members several threads probe them; the failures
# come in member order all the same, the tree is unchanged
$node->safe_psql($croot->{db},
	"insert into pgq_node.node_location (queue_name, node_name, node_location, dead) "
	  . "select 'replika', 'zfake' || i, 'dbname=c_gone' || i || ' host=" . $node->host
	  . ' port=' . $node->port . "', false from generate_series(1, 6) i");
my $many = londiste_ok($croot, 'status');
my @failed = ($many =~ /^Node '(\w+)' failure: /mg);
is("@failed", 'leaf zfake1 zfake2 zfake3 zfake4 zfake5 zfake6',
	'status with nine members reports every failure, in member order');
my $tree = $many =~ s/^Node .*\n//mgr;
$tree =~ s/^zfake\d \(dead\)\n//mg;
is(mask_output($tree), mask_output($st =~ s/^Node .*\n//mgr),
	'and prints the same tree');
$node->safe_psql($croot->{db},
	"delete from pgq_node.node_location where node_name like 'zfake%'");

# drop-node: refused while subscribers remain, then removes the leaf
($rc, $out, $err) = londiste_run($cleaf, 'drop-node', 'branch');
is($rc, 1, 'drop-node of a node with subscribers is refused');
like($err, qr/node still has subscribers/, 'with the reason');
stop_worker(worker_of($cleaf));
londiste_ok($cbranch, 'drop-node', 'leaf');
foreach my $m ($croot, $cbranch)
{
	is($m->{node}->safe_psql($m->{db},
			"select count(*) from pgq_node.get_queue_locations('replika') where node_name = 'leaf'"),
		'0', "drop-node removed the leaf from $m->{name}");
}
is($cleaf->{node}->safe_psql($cleaf->{db},
		"select node_type is null from pgq_node.get_node_info('replika')"),
	't', 'drop-node removed the node state of the leaf itself');

is(log_problems($croot, $cbranch), '', 'the workers logged no errors');
stop_worker(worker_of($_)) for ($croot, $cbranch);
$node->stop;
done_testing();
