# Mixed cascades: our londiste3 worker and Debian's Python londiste drive
# members of one cascade, root -> b1 -> b2 -> leaf, each worker above and
# below the other: b1 (ours) feeds b2 (Python's), which feeds the leaf
# (ours).  Under a steady write load on the root, then:
#   - b1 switches from our worker to Python's and back, and the leaf from
#     ours to Python's and back, each time with the same ini file (job and
#     consumer name): no table is copied again (every table stays "ok",
#     no copy consumer appears) and no change is lost or applied twice
#     (LondisteSoak's op_log);
#   - the tables end up equal on every member.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use LondisteSoak;
use LondisteTest;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

ok(-x '/usr/bin/londiste', 'python3-londiste is installed')
  or die "this test mixes Debian's londiste with ours";

# Which program drives each member at the start.
my %program = (
	root => 'python',
	b1   => 'londiste3',
	b2   => 'python',
	leaf => 'londiste3');

my @tables = ('public.items', 'public."Two Key"');
my $node = preloaded_node('mixed', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;

my %m;
foreach my $db ('root', 'b1', 'b2', 'leaf')
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql(
		$db, q{
create table items (id int primary key, v text, n numeric, b bytea, a int[]);
create table "Two Key" ("K 1" int, "k""2" text, val jsonb, primary key ("K 1", "k""2"));
});
	$m{$db} = londiste_member(
		node    => $node,
		db      => $db,
		name    => "${db}node",
		dir     => $dir,
		program => $program{$db});
	install_op_log($m{$db}, @tables);
}
my @all = @m{ 'root', 'b1', 'b2', 'leaf' };
my ($root, $b1, $b2, $leaf) = @all;

my $script = "$dir/load.sql";
append_to_file($script, <<'EOF');
\set k random(1, 200)
\set d random(1, 600)
\set q random(1, 1000)
begin;
insert into items values (:k, format(E'v''%s\\ \u00e9', :q),
  case when :q % 5 = 0 then null else :q / 7.0 end,
  case when :q % 3 = 0 then null else decode(md5(:q::text), 'hex') end,
  array[:q, null])
on conflict (id) do update set v = excluded.v, n = excluded.n, b = excluded.b, a = excluded.a;
delete from items where id = :d;
insert into "Two Key" values (:q % 20, format('k "%s"', :k % 3), jsonb_build_object('q', :q))
on conflict ("K 1", "k""2") do update set val = excluded.val;
end;
EOF

$root->{node}->safe_psql('root',
	"insert into items select i, 'seed ' || i from generate_series(1, 100) i");

londiste_ok($root, 'create-root', 'rootnode', $root->{connstr});
tune_queue($root);
my $provider = $root;
foreach my $m ($b1, $b2)
{
	londiste_ok($m, 'create-branch', $m->{name}, $m->{connstr},
		"--provider=$provider->{connstr}");
	$provider = $m;
}
londiste_ok($leaf, 'create-leaf', 'leafnode', $leaf->{connstr},
	"--provider=$b2->{connstr}");
start_worker($_) for @all;
londiste_ok($_, 'add-table', 'public.items', 'public.Two Key') for @all;
londiste_ok($_, 'wait-sync') for ($b1, $b2, $leaf);
ok(wait_tables_equal($root, [ $b1, $b2, $leaf ], @tables),
	'the initial copies reached every member');

# From here on every change must reach every member exactly once, and no
# table may be copied again.
reset_op_log(@all);
my $load = start_load($root, $script, 40);

sub tables_ok
{
	my ($m) = @_;
	return $m->{node}->safe_psql($m->{db},
		"select string_agg(table_name || '=' || coalesce(merge_state, 'NULL'), ' ' order by table_name)"
		  . " from londiste.get_table_list('replika')");
}

sub copy_consumers
{
	my ($m) = @_;
	return $m->{node}->safe_psql($m->{db},
		"select count(*) from pgq.get_consumer_info() where consumer_name like '%.copy.%'");
}

# Stop $m's worker, let it run with $program, with the load going on.
sub switch_worker
{
	my ($m, $program) = @_;
	wait_load_progress($root, 40);
	stop_worker($m);
	wait_load_progress($root, 20);
	$m->{program} = $program;
	start_worker($m);
	wait_load_progress($root, 40);
	is(tables_ok($m), 'public.Two Key=ok public.items=ok',
		"$m->{name} runs $program without copying anything again");
	return;
}

my %other = (python => 'londiste3', londiste3 => 'python');
foreach my $m ($b1, $leaf)
{
	my $was = $m->{program};
	switch_worker($m, $other{$was});
	switch_worker($m, $was);
}

stop_load($load);
$root->{node}->safe_psql('root', "insert into items values (-1, 'marker')");
ok(wait_tables_equal($root, [ $b1, $b2, $leaf ], @tables),
	'after the switches the tables are equal on every member');
is(copy_consumers($_), 0, "no copy consumer on $_->{name}") for ($root, $b1, $b2);
check_op_logs(@all);

my $problems = join '', grep { /duplicate key|violates|Traceback/i }
  split /^/m, log_problems(@all);
is($problems, '', 'no constraint errors in the workers\' logs');

stop_worker($_) for @all;
$node->stop;
done_testing();
