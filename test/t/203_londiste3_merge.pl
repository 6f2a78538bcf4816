# londiste3 create-leaf --merge: two partition queues merged into one
# combined queue in a target database, made once with londiste3 and once
# with Python's londiste.  The nodes must be the same, and londiste3 must
# print node-info, node-status, members and status as Python does.

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

my $node = preloaded_node('merge', $LondisteTest::SERVER_CONF);
my $base = PostgreSQL::Test::Utils::tempdir;

my %set;
foreach my $prog ('c', 'p')
{
	my $dir = "$base/$prog";
	mkdir $dir or die "mkdir $dir: $!";
	foreach my $db ("${prog}_part1", "${prog}_part2", "${prog}_target")
	{
		$node->safe_psql('postgres', "create database $db");
	}
	my $program = $prog eq 'c' ? 'londiste3' : 'python';
	my %m;
	foreach my $p (1, 2)
	{
		$m{"part$p"} = londiste_member(
			node => $node, db => "${prog}_part$p", name => "part$p",
			queue => "q$p", dir => $dir, program => $program);
		$m{"leaf$p"} = londiste_member(
			node => $node, db => "${prog}_target", name => "leaf$p",
			queue => "q$p", dir => $dir, program => $program);
	}
	$m{combined} = londiste_member(
		node => $node, db => "${prog}_target", name => 'combined',
		queue => 'combined', dir => $dir, program => $program);
	$set{$prog} = \%m;

	londiste_ok($m{combined}, 'create-root', 'combined', $m{combined}{connstr});
	foreach my $p (1, 2)
	{
		londiste_ok($m{"part$p"}, 'create-root', "part$p", $m{"part$p"}{connstr});
		londiste_ok($m{"leaf$p"}, 'create-leaf', "leaf$p", $m{"leaf$p"}{connstr},
			'--provider=' . $m{"part$p"}{connstr}, '--merge=combined');
	}
}

sub node_state
{
	my ($m) = @_;
	return $m->{node}->safe_psql(
		$m->{db}, qq{
select node_type, node_name, provider_node, worker_name, combined_queue,
       combined_type, array_to_string(target_for, ',')
  from pgq_node.get_node_info('$m->{queue}');
select node_name, dead from pgq_node.get_queue_locations('$m->{queue}') order by 1;
});
}

foreach my $name ('combined', 'part1', 'part2', 'leaf1', 'leaf2')
{
	is(node_state($set{c}{$name}), node_state($set{p}{$name}),
		"$name: londiste3 made the same node as Python");
}
like(node_state($set{c}{leaf1}), qr/^leaf\|leaf1\|part1\|leaf1\|combined\|root\|$/m,
	'the leaf merges into the combined root');
like(node_state($set{c}{combined}), qr/^root\|combined\|combined\|combined\|\|\|q1,q2$/m,
	'the combined root knows both partition queues');

sub masked
{
	my ($text) = @_;
	$text = mask_output($text);
	$text =~ s/(dbname='?)[cp]_/$1X_/g;
	return $text;
}

foreach my $name ('leaf1', 'combined')
{
	my $m = $set{c}{$name};
	foreach my $cmd ('node-info', 'node-status', 'members', 'status')
	{
		my $ours = masked(londiste_ok($m, $cmd));
		my $theirs = masked(londiste_ok({ %$m, program => 'python' }, $cmd));
		is($ours, $theirs, "$name $cmd: same output as Python's");
	}
}
like(londiste_ok($set{c}{leaf1}, 'node-info'),
	qr/^Combined Queue: combined  \(node type: root\)$/m,
	'node-info names the combined queue');

my ($rc, $out, $err) = londiste_run($set{c}{part1}, 'create-branch', 'x',
	$set{c}{part1}{connstr}, '--provider=' . $set{c}{part2}{connstr}, '--merge=combined');
is($rc, 1, '--merge on a branch is refused');
like($err, qr/--merge can be used only for leafs/, 'with the reason');

$node->stop;
done_testing();
