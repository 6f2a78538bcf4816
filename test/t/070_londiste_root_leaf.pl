# Debian's londiste (python3-londiste 3.11) replicates from a root to a leaf
# database served by the installation under test, ticked by the in-server
# ticker alone.
#
# Tables with data are added after the nodes exist (initial copy), one with
# a composite primary key and a name that needs quoting; a sequence is
# added too.  Then inserts, updates, deletes and a truncate on the root
# must reach the leaf, "londiste compare" must find the tables equal, and
# the "status", "members" and "tables" output must be what the same set-up
# prints on Debian's original stack (PgQ 3.5, pgq_node 3.5, londiste 3.8
# ticked by pgqd), built in the same run.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use LondisteTest;
use OriginalStack;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

ok(-x '/usr/bin/londiste', 'londiste is installed')
  or die "this test needs the Debian package python3-londiste";

my @tables = ('public.plain', 'public."Odd Name"');

# Two databases with the same empty tables; the root's get rows before they
# are added to replication.
sub make_databases
{
	my ($node) = @_;
	foreach my $db ('root', 'leaf')
	{
		$node->safe_psql('postgres', "create database $db");
		$node->safe_psql(
			$db, q{
create table plain (id int primary key, v text);
create table "Odd Name" (a int, b text, "Some Value" text, primary key (a, b));
create sequence s1;
});
	}
	$node->safe_psql(
		'root', q{
insert into plain select i, 'v' || i from generate_series(1, 200) i;
insert into "Odd Name" select i % 10, 'k' || i, 'x' from generate_series(1, 50) i;
select nextval('s1') from generate_series(1, 5);
});
	return;
}

# Make root + leaf nodes of databases made by make_databases on $node, with
# ini files in $dir; returns both members.
sub build_root_leaf
{
	my ($node, $dir, $label) = @_;
	my $root = londiste_member(
		node => $node, db => 'root', name => 'rootnode', dir => $dir);
	my $leaf = londiste_member(
		node => $node, db => 'leaf', name => 'leafnode', dir => $dir);

	londiste_ok($root, 'create-root', 'rootnode', $root->{connstr});
	tune_queue($root);
	londiste_ok($leaf, 'create-leaf', 'leafnode', $leaf->{connstr},
		"--provider=$root->{connstr}");
	start_worker($_) for ($root, $leaf);

	londiste_ok($root, 'add-table', 'public.plain', 'public.Odd Name');
	londiste_ok($root, 'add-seq', 'public.s1');
	londiste_ok($leaf, 'add-table', 'public.plain', 'public.Odd Name');
	londiste_ok($leaf, 'add-seq', 'public.s1');
	londiste_ok($leaf, 'wait-sync');
	ok(wait_tables_equal($root, [$leaf], @tables),
		"$label: initial copy brought the root's rows to the leaf");
	return ($root, $leaf);
}

# What the admin commands print on the members; the order is the one
# compared with the originals.
sub admin_outputs
{
	my ($root, $leaf) = @_;
	my %out;
	foreach my $m ($root, $leaf)
	{
		foreach my $cmd ('status', 'members', 'tables', 'seqs')
		{
			my ($rc, $stdout) = londiste_run($m, $cmd);
			# Sequence values move with the ticker; only names matter.
			$stdout =~ s/^(public\.\S+\s+\S+\s+)\d+$/$1N/mg if $cmd eq 'seqs';
			$out{"$m->{name} $cmd"} = "exit $rc\n" . mask_output($stdout);
		}
	}
	return \%out;
}

my $node = preloaded_node('ours', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;
make_databases($node);
my ($root, $leaf) = build_root_leaf($node, $dir, 'ours');

# Row changes of every kind, in separate transactions and in one.
$node->safe_psql(
	'root', q{
insert into plain select i, 'new' || i from generate_series(201, 300) i;
update plain set v = v || '-upd' where id % 3 = 0;
delete from plain where id % 7 = 0;
insert into "Odd Name" values (1, 'it''s', 'quote'), (2, 'back\slash', null);
update "Odd Name" set "Some Value" = 'changed' where a = 3;
delete from "Odd Name" where a = 4;
begin;
update plain set v = 'in-tx' where id between 10 and 20;
delete from "Odd Name" where b = 'k5';
insert into plain values (1000, null);
commit;
});
ok(wait_tables_equal($root, [$leaf], @tables),
	'inserts, updates and deletes reached the leaf');

$node->safe_psql('root',
	"truncate plain; insert into plain values (1, 'after truncate');");
ok(wait_tables_equal($root, [$leaf], @tables), 'truncate reached the leaf');
is($node->safe_psql('leaf', 'select v from plain'),
	'after truncate', 'the leaf has only the row written after the truncate');

# The root worker publishes sequence values it finds moved.
my $seq = $node->safe_psql('root', "select nextval('s1') from generate_series(1, 10) offset 9");
ok( $node->poll_query_until(
		'leaf', "select last_value >= $seq from s1"),
	'the sequence reached the leaf');

my ($rc, $out, $err) = londiste_run($leaf, 'compare');
is($rc, 0, 'londiste compare exits 0');
like($err, qr/Counting public\.plain\n.*srcdb: 1 rows, checksum=/,
	'compare counted plain');
like($err, qr/Counting public\.Odd Name\n.*srcdb: \d+ rows, checksum=/,
	'compare counted "Odd Name"');
unlike($err, qr/do not match/, 'compare found no difference');

# A difference made behind londiste's back must be found.
$node->safe_psql('leaf',
	"set session_replication_role = replica; update plain set v = 'drift'");
($rc, $out, $err) = londiste_run($leaf, 'compare', 'public.plain');
is($rc, 1, 'compare exits with the number of differing tables');
like($err, qr/Results do not match/, 'compare reports the difference');
$node->safe_psql('leaf',
	"set session_replication_role = replica; update plain set v = 'after truncate'");

my $ours = admin_outputs($root, $leaf);
like($ours->{'leafnode status'}, qr/^ +\+--: leafnode \(leaf\)$/m,
	'status shows the leaf under the root');
like($ours->{'leafnode tables'}, qr/^public\.Odd Name +ok/m,
	'tables lists the quoted table as ok');
is(log_problems($root, $leaf), '', 'the workers logged no errors');

stop_worker($_) for ($root, $leaf);
$node->stop;

SKIP:
{
	skip 'original packages not available (PGQ_ORIGINAL_DEBS)', 1
	  unless original_debs();

	my $treedir = PostgreSQL::Test::Utils::tempdir;
	my $orig = PostgreSQL::Test::Cluster->new('orig',
		install_path => make_tree($treedir));
	$orig->init;
	$orig->append_conf('postgresql.conf', $LondisteTest::SERVER_CONF);
	$orig->start;
	my $odir = PostgreSQL::Test::Utils::tempdir;
	make_databases($orig);
	my $pgqd = start_pgqd($orig, $odir, 'root', 'leaf');
	my ($oroot, $oleaf) = build_root_leaf($orig, $odir, 'originals');
	is($orig->safe_psql('root',
			"select extversion from pg_extension where extname = 'londiste'"),
		'3.8', 'the comparison runs on the original londiste');

	# Same changes as on ours, so that the outputs can match.
	$orig->safe_psql('root',
		"truncate plain; insert into plain values (1, 'after truncate');");
	ok(wait_tables_equal($oroot, [$oleaf], @tables), 'originals replicated too');

	my $theirs = admin_outputs($oroot, $oleaf);
	foreach my $key (sort keys %$theirs)
	{
		is($ours->{$key}, $theirs->{$key},
			"$key prints what it prints on the originals");
	}
	stop_worker($_) for ($oroot, $oleaf);
	stop_pgqd($pgqd);
	$orig->stop;
}

done_testing();
