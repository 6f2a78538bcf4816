# londiste3's remote_extra_connstr: the string is appended to every connect
# string of another node, those read from the cascade and those given on
# the command line (the public connect string, --provider).
#
# One cluster, a cascade root -> leaf (londiste3) and a second leaf made by
# Python's londiste.  The public locations name the role "ghost", which may
# not log in; the ini files add "user=replicator application_name=ld_extra"
# through remote_extra_connstr, and only that makes the nodes reachable.
# Each command runs twice: from a copy of the ini file without the key, where
# it must fail with the server's refusal of "ghost" and change nothing, and
# from the ini file with it, where it must work.  The worker and its copy
# process must reach the provider as "replicator" with the extra
# application_name.  Python's londiste must behave the same.

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

my $node = preloaded_node('extra', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;
my $extra = 'user=replicator application_name=ld_extra';
my $refused = qr/role "ghost" is not permitted to log in/;

$node->safe_psql(
	'postgres', q{
create role replicator login superuser;
create role ghost nologin;
});
foreach my $db ('root', 'leaf', 'pleaf')
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql($db, 'create table t (id int primary key, v text)');
}
$node->safe_psql('root', "insert into t select i, 'r' || i from generate_series(1, 50) i");

my %m;
foreach my $name ('root', 'leaf', 'pleaf')
{
	$m{$name} = londiste_member(
		node    => $node,
		db      => $name,
		name    => $name,
		dir     => $dir,
		program => $name eq 'pleaf' ? 'python' : 'londiste3',
		extra   => "remote_extra_connstr = $extra\n");
	# how the other nodes reach this one, short of a user that can log in
	$m{$name}{public} = "$m{$name}{connstr} user=ghost";
}
my ($root, $leaf, $pleaf) = @m{qw(root leaf pleaf)};

# The same member with an ini file that lacks remote_extra_connstr.
sub bare
{
	my ($m) = @_;
	my $ini = "$m->{dir}/$m->{name}-bare.ini";
	my $text = slurp_file($m->{ini});
	$text =~ s/^remote_extra_connstr = .*\n//m or die "no key in $m->{ini}";
	open my $fh, '>', $ini or die "writing $ini: $!";
	print $fh $text;
	close $fh;
	return { %$m, ini => $ini };
}

# A command that must fail without the key because "ghost" is refused.
sub refused_without_extra
{
	my ($m, @args) = @_;
	my ($rc, $out, $err) = londiste_run(bare($m), @args);
	isnt($rc, 0, "$m->{name}: @args fails without remote_extra_connstr");
	like($err, $refused, "$m->{name}: @args says the public location's user cannot log in")
	  or diag($err);
	return $err;
}

sub locations
{
	my ($m) = @_;
	return $m->{node}->safe_psql($m->{db},
		"select string_agg(node_name, ',' order by node_name) from pgq_node.get_queue_locations('replika')");
}

# --- create-root: the public connect string is checked over the extra ----

refused_without_extra($root, 'create-root', 'root', $root->{public});
my $made = $node->safe_psql('root',
	"select count(*) from pg_extension where extname = 'pgq_node'");
$made = $node->safe_psql('root',
	"select count(node_type) from pgq_node.get_node_info('replika')")
  if $made;
is($made, '0', 'the failed create-root made no node');
londiste_ok($root, 'create-root', 'root', $root->{public});
tune_queue($root);
londiste_ok($root, 'add-table', 'public.t');

# --- create-leaf: --provider and the root's location get the extra -------

my $err = refused_without_extra($leaf, 'create-leaf', 'leaf', $leaf->{public},
	"--provider=$root->{public}");
unlike($err, qr/replicator/, 'without the key no connect string names the extra user');
is(locations($root), 'root', 'the failed create-leaf registered nothing on the root');
londiste_ok($leaf, 'create-leaf', 'leaf', $leaf->{public}, "--provider=$root->{public}");
is(locations($root), 'leaf,root', 'create-leaf registered the leaf on the root');

# The worker's locations stay the public ones; only the connecting adds to
# them.
is( $node->safe_psql('leaf',
		"select node_location from pgq_node.get_queue_locations('replika') where node_name = 'root'"),
	$root->{public},
	'the cascade keeps the public location as given');

# --- status: every member is probed over its location plus the extra ----

my ($rc, $out);
($rc, $out, $err) = londiste_run(bare($leaf), 'status');
like($out, qr/^Node 'root' failure: .*ghost/m, 'status without the key: the root is unreachable');
like($out, qr/^root \(dead\)/m, 'status without the key shows the root as unreachable');
my $status = londiste_ok($leaf, 'status');
like($status, qr/^root \(root\)\n.*\n.*\n  \+--: leaf \(leaf\)\n/m,
	'status with the key shows the whole tree')
  or diag($status);
unlike($status, qr/failure/, 'status with the key reaches every member');

# --- add-table on the leaf reads the provider over the extra -------------

refused_without_extra($leaf, 'add-table', 'public.t');
is($node->safe_psql('leaf',
		"select count(*) from londiste.get_table_list('replika') where local"),
	'0', 'the failed add-table subscribed nothing');
londiste_ok($leaf, 'add-table', 'public.t');

# --- the worker and its copy process -------------------------------------

# Without the key the worker keeps failing to reach its provider and copies
# nothing.
my $leaf_bare = bare($leaf);
start_worker($leaf_bare);
my $seen = 0;
foreach (1 .. $PostgreSQL::Test::Utils::timeout_default * 10)
{
	last if $seen = (-e $leaf->{log} && slurp_file($leaf->{log}) =~ $refused);
	select(undef, undef, undef, 0.1);
}
ok($seen, 'the worker without the key is refused by the provider');
stop_worker($leaf_bare);
is($node->safe_psql('leaf', 'select count(*) from t'), '0',
	'the worker without the key copied nothing');

my $log_start = length(slurp_file($leaf->{log}));
start_worker($leaf);
ok(wait_tables_equal($root, [$leaf], 'public.t'),
	'the worker with the key copies the table');
$node->safe_psql('root', "insert into t values (51, 'late'); update t set v = 'u' where id = 1");
ok(wait_tables_equal($root, [$leaf], 'public.t'), 'and replays changes');
is( $node->safe_psql('root',
		q{select string_agg(distinct usename || '/' || application_name, ',')
		    from pg_stat_activity where datname = 'root' and pid <> pg_backend_pid()
		     and application_name = 'ld_extra'}),
	'replicator/ld_extra',
	'the worker is connected to its provider as the extra string says');
is( join('', grep { /\b(ERROR|CRITICAL)\b/ }
		  split /^/m, substr(slurp_file($leaf->{log}), $log_start)),
	'', 'the worker with the key logs no error');

# --- Python's londiste: the same key, the same outcome -------------------

refused_without_extra($pleaf, 'create-leaf', 'pleaf', $pleaf->{public},
	"--provider=$root->{public}");
is(locations($root), 'leaf,root', 'Python\'s failed create-leaf registered nothing');
londiste_ok($pleaf, 'create-leaf', 'pleaf', $pleaf->{public}, "--provider=$root->{public}");
my $ours = londiste_ok({ %$pleaf, program => 'londiste3' }, 'status');
my $theirs = londiste_ok($pleaf, 'status');
is(mask_output($ours), mask_output($theirs),
	'status over the extra string: londiste3 prints what Python\'s londiste prints');
like($ours, qr/\+--: pleaf \(leaf\)/, 'the tree has the leaf Python made');

stop_worker($leaf);
done_testing();
