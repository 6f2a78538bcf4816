# add-table/add-seq --create and --create-full of londiste3
# (src/londiste3/tables/create.c, through test/londiste3/copy/ld_copy_probe) against
# Debian's londiste doing the same from the same provider: the tables and
# sequences made must be alike, catalog entry for catalog entry.
#
# The provider's table has every kind of object --create-full makes: a
# serial column, defaults, check and unique constraints, a partial index,
# a clustered index, a trigger, a rule, grants with and without grant
# option, another owner; names that need quoting.  Also checked: renamed
# destination tables, a missing schema, a table or sequence the provider
# lacks (skipped), a table that exists (left alone), and a serial column's
# sequence missing locally (made, where Python fails).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use IPC::Run;
use LondisteTest;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $probe = "$ENV{TESTDIR}/test/londiste3/copy/ld_copy_probe";
ok(-x $probe, 'ld_copy_probe is built') or die "run make first";
ok(-x '/usr/bin/londiste', 'londiste is installed')
  or die "this test needs the Debian package python3-londiste";

sub run_probe
{
	my ($stdout, $stderr) = ('', '');
	IPC::Run::run([ $probe, @_ ], '<', \undef, '>', \$stdout, '2>', \$stderr);
	return ($? >> 8, $stdout, $stderr);
}

my $node = preloaded_node('create', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;

$node->safe_psql('postgres', q{
create role app_owner;
create role app_reader;
create role "App Writer";
});
my $noop = q{
create function public.touch() returns trigger language plpgsql
  as $$ begin return new; end $$;
};
foreach my $db ('root', 'pyleaf', 'ourleaf')
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql($db, $noop);
}
$node->safe_psql(
	'root', q{
create schema shop;
create table shop.items (
	id serial primary key,
	code text not null,
	price numeric(10, 2) default 0 check (price >= 0),
	tags text[],
	created timestamptz default now(),
	"Weird Col" int,
	constraint items_code_uq unique (code)
);
create index items_price_idx on shop.items (price) where price > 0;
create index items_created_idx on shop.items (created);
alter table shop.items cluster on items_created_idx;
create rule items_no_negative as on insert to shop.items where new.price < 0 do instead nothing;
create trigger items_touch before insert or update on shop.items
  for each row execute function public.touch();
grant select on shop.items to app_reader;
grant insert, update on shop.items to "App Writer" with grant option;
alter table shop.items owner to app_owner;
insert into shop.items (code, price) select 'c' || i, i from generate_series(1, 10) i;
create table public."Mixed Case" ("Id" int primary key, "Val" varchar(20) not null default 'x', n int unique);
create index mixed_n_idx on public."Mixed Case" (n);
create sequence shop.counter increment by 5 minvalue 3 maxvalue 1000000 start 3 cache 10 cycle;
select nextval('shop.counter') from generate_series(1, 3);
create sequence public.plain_seq;
});

my $root = londiste_member(node => $node, db => 'root', name => 'rootnode', dir => $dir);
my $pyleaf = londiste_member(node => $node, db => 'pyleaf', name => 'pyleaf', dir => $dir);
my $ourleaf = londiste_member(node => $node, db => 'ourleaf', name => 'ourleaf', dir => $dir);
londiste_ok($root, 'create-root', 'rootnode', $root->{connstr});
foreach my $m ($pyleaf, $ourleaf)
{
	londiste_ok($m, 'create-leaf', $m->{name}, $m->{connstr},
		"--provider=$root->{connstr}");
}
londiste_ok($root, 'add-table', 'shop.items', 'public.Mixed Case');
londiste_ok($root, 'add-seq', 'shop.items_id_seq', 'shop.counter', 'public.plain_seq');

# Python: sequences first (its --create-full only attaches a serial
# column's sequence, and it makes no schema for a sequence), then the
# tables.  Ours makes the schema with the first sequence.
$node->safe_psql('pyleaf', 'create schema shop');
londiste_ok($pyleaf, 'add-seq', '--create', 'shop.items_id_seq', 'shop.counter',
	'public.plain_seq');
londiste_ok($pyleaf, 'add-table', '--create-full', 'shop.items');
londiste_ok($pyleaf, 'add-table', '--create', 'public.Mixed Case');

my $src = $root->{connstr};
my $dst = $ourleaf->{connstr};
my ($rc, $out, $err);
foreach my $seq ('shop.items_id_seq', 'shop.counter', 'public.plain_seq')
{
	($rc, $out, $err) = run_probe('create', $src, $dst, $seq, 'S');
	is("$rc $out", "0 done\n", "$seq created") or diag($err);
}
($rc, $out, $err) = run_probe('create', $src, $dst, 'shop.items', 'r', '--full');
is("$rc $out", "0 done\n", 'shop.items created with --create-full') or diag($err);
like($err, qr/Creating items_code_uq/, 'the objects are logged as they are made');
($rc, $out, $err) = run_probe('create', $src, $dst, 'public.Mixed Case', 'r');
is("$rc $out", "0 done\n", '"Mixed Case" created with --create') or diag($err);

# One line per catalog entry of a table: what both must have made alike.
sub describe_table
{
	my ($db, $table) = @_;
	return $node->safe_psql(
		$db, qq{
with t as (select '$table'::regclass as oid)
select string_agg(x, E'\\n' order by x) from (
  select 'col ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || ' notnull=' || a.attnotnull
         || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
    from t, pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
   where a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped
  union all
  select 'con ' || conname || ' ' || pg_get_constraintdef(c.oid)
    from t, pg_constraint c where c.conrelid = t.oid
  union all
  select 'idx ' || pg_get_indexdef(i.indexrelid) || ' clustered=' || i.indisclustered
    from t, pg_index i where i.indrelid = t.oid
  union all
  select 'trg ' || pg_get_triggerdef(g.oid)
    from t, pg_trigger g
   where g.tgrelid = t.oid and not g.tgisinternal and g.tgname not like '_londiste%'
  union all
  select 'rule ' || pg_get_ruledef(r.oid) from t, pg_rewrite r where r.ev_class = t.oid
  union all
  select 'acl ' || e.grantee::regrole || ' ' || e.privilege_type || ' ' || e.is_grantable
    from t, pg_class c, aclexplode(c.relacl) e where c.oid = t.oid
  union all
  select 'owner ' || c.relowner::regrole from t, pg_class c where c.oid = t.oid
  union all
  select 'serial ' || a.attname || ' ' || pg_get_serial_sequence('$table', a.attname)
    from t, pg_attribute a
   where a.attrelid = t.oid and a.attnum > 0
     and pg_get_serial_sequence('$table', a.attname) is not null
) s(x)});
}

sub describe_seq
{
	my ($db, $seq) = @_;
	return $node->safe_psql($db,
		"select seqtypid::regtype, seqstart, seqincrement, seqmax, seqmin, seqcache, seqcycle"
		  . " from pg_sequence where seqrelid = '$seq'::regclass");
}

foreach my $table ('shop.items', 'public."Mixed Case"')
{
	my $python = describe_table('pyleaf', $table);
	my $ours   = describe_table('ourleaf', $table);
	is($ours, $python, "$table is made as Python's londiste makes it");
}
like(describe_table('ourleaf', 'shop.items'), qr/acl "App Writer" INSERT true/,
	'the grant option came along');
unlike(describe_table('ourleaf', 'public."Mixed Case"'), qr/mixed_n_idx|_n_key/,
	'--create makes only the columns and the primary key');
foreach my $seq ('shop.items_id_seq', 'shop.counter', 'public.plain_seq')
{
	is(describe_seq('ourleaf', $seq), describe_seq('pyleaf', $seq),
		"sequence $seq has Python's options");
}
is($node->safe_psql('ourleaf', "select nextval('shop.counter')"),
	$node->safe_psql('root', "select nextval('shop.counter')"),
	'the sequence continues where the provider\'s is');

# An existing table is left alone, a missing one skipped.
($rc, $out, $err) = run_probe('create', $src, $dst, 'shop.items', 'r', '--full');
is("$rc $out", "0 done\n", 'an existing table is fine');
like($err, qr/Table shop\.items already exist, not touching/, 'and left alone');
($rc, $out, $err) = run_probe('create', $src, $dst, 'public.nowhere', 'r');
is("$rc $out", "0 skipped\n", 'a table missing on the provider is skipped');
like($err, qr/Table public\.nowhere missing on provider, cannot create, skipping/,
	'with Python\'s warning');
($rc, $out, $err) = run_probe('create', $src, $dst, 'public.noseq', 'S');
is("$rc $out", "0 skipped\n", 'a sequence missing on the provider is skipped');

# Renamed into a new schema: the schema is made, names of indexes that
# would clash get a suffix, the rule and trigger follow the table.
$node->safe_psql('ourleaf', 'create schema other');
($rc, $out, $err) = run_probe('create', $src, $dst, 'shop.items', 'r', 'copy2.items', '--full');
is("$rc $out", "0 done\n", 'renamed copy in a new schema') or diag($err);
($rc, $out, $err) = run_probe('create', $src, $dst, 'shop.items', 'r', 'shop.items2', '--full');
is("$rc $out", "0 done\n", 'renamed copy beside the original') or diag($err);
is($node->safe_psql('ourleaf',
		"select string_agg(indexrelid::regclass::text, ' ' order by indexrelid::regclass::text) from pg_index where indrelid = 'shop.items2'::regclass"),
	'shop.items_code_uq_1 shop.items_created_idx_1 shop.items_pkey_1 shop.items_price_idx_1',
	'index names that clash get a suffix');
is($node->safe_psql('ourleaf',
		"select count(*) from pg_rewrite where ev_class = 'shop.items2'::regclass"),
	'1', 'the rule is on the renamed table');
is($node->safe_psql('ourleaf',
		"select count(*) from pg_trigger where tgrelid = 'copy2.items'::regclass and tgname = 'items_touch'"),
	'1', 'the trigger is on the table in the new schema');

# The same through londiste3's own add-seq/add-table on a third leaf.
$node->safe_psql('postgres', 'create database c3leaf');
$node->safe_psql('c3leaf', $noop);
my $c3leaf = londiste_member(node => $node, db => 'c3leaf', name => 'c3leaf', dir => $dir);
londiste_ok($c3leaf, 'create-leaf', 'c3leaf', $c3leaf->{connstr},
	"--provider=$root->{connstr}");
$c3leaf->{program} = 'londiste3';
londiste_ok($c3leaf, 'add-seq', '--create', 'shop.items_id_seq', 'shop.counter');
londiste_ok($c3leaf, 'add-table', '--create-full', 'shop.items');
londiste_ok($c3leaf, 'add-table', '--create', 'public.Mixed Case');
foreach my $table ('shop.items', 'public."Mixed Case"')
{
	is(describe_table('c3leaf', $table), describe_table('pyleaf', $table),
		"londiste3 add-table makes $table as Python's londiste does");
}
is($node->safe_psql('c3leaf',
		"select string_agg(table_name, ',' order by table_name) from londiste.get_table_list('replika') where local"),
	'public.Mixed Case,shop.items', 'and registers the tables');
# the provider's counter moved on since pyleaf's was made: not the start
my ($ours_opts, $python_opts) = map {
	(my $d = describe_seq($_, 'shop.counter')) =~ s/^(\w+)\|\d+\|/$1|/;
	$d
} ('c3leaf', 'pyleaf');
is($ours_opts, $python_opts, 'londiste3 add-seq --create makes the sequence as Python does');

# A serial column whose sequence is missing here: made first.
$node->safe_psql('postgres', 'create database fresh');
$node->safe_psql('fresh', "create extension pgq; create extension pgq_node; create extension londiste; $noop");
($rc, $out, $err) = run_probe('create', $src, $node->connstr('fresh'), 'shop.items', 'r', '--full');
is("$rc $out", "0 done\n", 'a serial column without its sequence') or diag($err);
is($node->safe_psql('fresh', "select pg_get_serial_sequence('shop.items', 'id')"),
	'shop.items_id_seq', 'gets the sequence, made like the provider\'s');

$node->stop;
done_testing();
