# londiste3's initial copy (src/londiste3/copy/: copy.c, fkeys.c, snapshot.c),
# driven through the test program test/londiste3/copy/ld_copy_probe on a root
# and a leaf set up with Debian's londiste: what "londiste3 worker" runs
# for a table in state in-copy.
#
# Checked: the snapshot parser and visibility test; a copy in one
# transaction that drops and re-creates indexes, constraints, rules and
# inheritance and leaves the table catching-up with the source snapshot;
# foreign keys dropped into pending_fkeys and restored lazily; a column
# subset with warnings and quoted names; skip_truncate; a copy condition;
# the parallel writers with big rows; and a copy process killed with -9
# in the middle, which must leave the table in-copy with its old rows.

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

# --- the snapshot, as txid_current_snapshot() prints it
my ($rc, $out, $err) = run_probe('snapshot', '10:20:12,15', 9, 10, 12, 13, 15, 19, 20, 25);
is($out, "9 visible\n10 visible\n12 invisible\n13 visible\n15 invisible\n"
	  . "19 visible\n20 invisible\n25 invisible\n",
	'below xmin visible, in progress or from xmax on not');
($rc, $out) = run_probe('snapshot', '7:7:', 6, 7);
is($out, "6 visible\n7 invisible\n", 'a snapshot without transactions in progress');
($rc, $out) = run_probe('snapshot', '10:20:12,12', 12);
is($out, "12 invisible\n", 'a repeated txid is taken, as the server does');
foreach my $bad ('', 'x', '10:20', '20:10:', '10:20:15,12', '10:20:25',
	'10:20:9', '10:20:12,', '-1:2:', '10:20:12;13', '99999999999999999999:1:')
{
	($rc, $out) = run_probe('snapshot', $bad);
	is($out, "malformed\n", "'$bad' is malformed");
}

# --- a root and a leaf with the same tables
my $node = preloaded_node('copy', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;

my $schema = q{
create table base (created int);
create table parent (id int primary key, name text);
create table child (
	id int primary key,
	parent_id int references parent (id),
	val text not null,
	note text,
	constraint val_short check (length(val) < 100)
) inherits (base);
create index child_val_idx on child (val);
create unique index child_note_uq on child (note) where note is not null;
alter table child cluster on child_val_idx;
create rule child_keep as on delete to child where old.id < 0 do instead nothing;
create table evens (id int primary key, v text);
create table big (id int primary key, payload text);
create table slow (id int primary key, v text);
};
foreach my $db ('root', 'leaf')
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql($db, $schema);
}
$node->safe_psql('root',
	q{create table "Odd ""Name""" ("Key" int primary key, "some col" text, extra_src text)});
$node->safe_psql('leaf',
	q{create table "Odd ""Name""" ("Key" int primary key, "some col" text, extra_dst text default 'dflt')});
$node->safe_psql(
	'root', q{
insert into parent select i, 'p' || i from generate_series(1, 100) i;
insert into child select i % 7, i, 1 + i % 100, 'v' || i, case when i % 3 = 0 then 'n' || i end
  from generate_series(1, 1000) i;
insert into "Odd ""Name""" select i, 'it''s \ "' || i, 'src' from generate_series(1, 50) i;
insert into evens select i, 'e' || i from generate_series(1, 100) i;
insert into big select i, repeat(md5(i::text), 160) from generate_series(1, 2000) i;
insert into big values (0, repeat('y', 20 * 1024 * 1024));
insert into slow select i, repeat('s', 20000) from generate_series(1, 200) i;
});
# rows the copy must replace, or keep with skip_truncate
$node->safe_psql(
	'leaf', q{
insert into parent values (1, 'old');
insert into child (id, parent_id, val) values (5000, 1, 'stale');
insert into "Odd ""Name""" values (1000, 'local only', 'x');
insert into slow select i, 'old' from generate_series(1001, 1005) i;
});

my @tables = ('public.parent', 'public.child', 'public.Odd "Name"',
	'public.evens', 'public.big', 'public.slow');
my $root = londiste_member(node => $node, db => 'root', name => 'rootnode', dir => $dir);
my $leaf = londiste_member(node => $node, db => 'leaf', name => 'leafnode', dir => $dir);
londiste_ok($root, 'create-root', 'rootnode', $root->{connstr});
londiste_ok($leaf, 'create-leaf', 'leafnode', $leaf->{connstr},
	"--provider=$root->{connstr}");
londiste_ok($root, 'add-table', @tables);
londiste_ok($leaf, 'add-table', @tables);

my $src = $root->{connstr};
my $dst = $leaf->{connstr};

sub set_state
{
	my ($table, $state) = @_;
	$node->safe_psql('leaf',
		"select * from londiste.local_set_table_state('replika', '$table', null, "
		  . (defined $state ? "'$state'" : 'null') . ')');
	return;
}

sub table_row
{
	my ($table) = @_;
	return $node->safe_psql('leaf',
		"select merge_state, custom_snapshot is not null, coalesce(dropped_ddl, '-')"
		  . " from londiste.get_table_list('replika') where table_name = '$table'");
}

sub copy_table
{
	my ($table, @opts) = @_;
	set_state($table, 'in-copy');
	return run_probe('copy', $src, $dst, 'replika', $table, $table, @opts);
}

# What the copy drops and must bring back, on the leaf.
my $structure_sql = q{
select string_agg(x, E'\n' order by x) from (
  select 'con ' || conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated
    from pg_constraint where conrelid = 'child'::regclass
  union all
  select 'idx ' || pg_get_indexdef(indexrelid) || ' ' || indisclustered
    from pg_index where indrelid = 'child'::regclass
  union all
  select 'rule ' || pg_get_ruledef(oid) from pg_rewrite where ev_class = 'child'::regclass
  union all
  select 'inherits ' || inhparent::regclass from pg_inherits where inhrelid = 'child'::regclass
) s(x)};
my $structure_before = $node->safe_psql('leaf', $structure_sql);
like($structure_before, qr/con child_parent_id_fkey FOREIGN KEY/,
	'the leaf table has its foreign key before the copy');

# --- one transaction: parent, then child (whose copy drops the fkey)
($rc, $out, $err) = copy_table('public.parent');
is($rc, 0, 'parent copied') or diag($err);
like($out, qr/^\d+:\d+:[\d,]*$/, 'the copy returns the source snapshot');
my ($snap) = $out =~ /^(\S+)/;
is($node->safe_psql('leaf',
		"select merge_state || ' ' || custom_snapshot from londiste.get_table_list('replika') where table_name = 'public.parent'"),
	"catching-up $snap", 'parent is catching-up with that snapshot stored');
is(table_digest($leaf, 'parent'), table_digest($root, 'parent'),
	'parent has the root\'s rows (the old one replaced)');
like($err, qr/Dropping fkey: child_parent_id_fkey/,
	'the foreign key to parent was dropped before the copy');
is($node->safe_psql('leaf', 'select from_table || \' \' || fkey_name from londiste.pending_fkeys'),
	'public.child child_parent_id_fkey', 'and kept in pending_fkeys');

($rc, $out, $err) = copy_table('public.child');
is($rc, 0, 'child copied') or diag($err);
is(table_digest($leaf, 'child'), table_digest($root, 'child'), 'child has the root\'s rows');
like($err, qr/Dropping child_val_idx.*Creating child_val_idx/s,
	'the index was dropped and made again');
like($err, qr/child: truncating/, 'the table was truncated');
like($err, qr/child: copy finished: \d+ bytes, 1000 rows/, 'the copy counted the rows');
my $without_fkey = join("\n", grep { !/fkey/ } split(/\n/, $structure_before));
is($node->safe_psql('leaf', $structure_sql), $without_fkey,
	'indexes, constraints, clustering, rule and inheritance are back; the fkey is pending');
is(table_row('public.child'), 'catching-up|t|-', 'child is catching-up, no DDL left over');

# the worker restores the key once both tables are in sync
($rc, $out, $err) = run_probe('restore-fkeys', $dst, 'replika');
is($node->safe_psql('leaf', 'select count(*) from londiste.pending_fkeys'), '1',
	'no key is restored while its tables are catching up');
set_state('public.parent', 'ok');
set_state('public.child', 'ok');
($rc, $out, $err) = run_probe('restore-fkeys', $dst, 'replika');
is($rc, 0, 'restore-fkeys ran') or diag($err);
like($err, qr/Creating fkey: child_parent_id_fkey \(public\.child --> public\.parent\)/,
	'the key was restored');
is($node->safe_psql('leaf', $structure_sql), $structure_before,
	'the structure is what it was, the key validated');
is($node->safe_psql('leaf', 'select count(*) from londiste.pending_fkeys'), '0',
	'nothing is pending');

# --- column subset, quoted names, skip_truncate
($rc, $out, $err) = copy_table('public.Odd "Name"', '--skip-truncate');
is($rc, 0, 'the quoted table copied') or diag($err);
like($err, qr/column extra_src does not exist on subscriber/,
	'warning for the source\'s column the leaf lacks');
like($err, qr/column extra_dst does not exist on provider/,
	'warning for the leaf\'s column the source lacks');
like($err, qr/skipping truncate/, 'skip_truncate is logged');
is($node->safe_psql('leaf',
		q{select count(*), count(*) filter (where extra_dst = 'dflt'), min("Key"), max("Key") from "Odd ""Name"""}),
	'51|50|1|1000', 'common columns copied, defaults filled, the local row kept');
is($node->safe_psql('leaf', q{select "some col" from "Odd ""Name""" where "Key" = 7}),
	q{it's \ "7}, 'quotes and backslashes arrive intact');

# --- a copy condition (a handler's, such as shard's)
($rc, $out, $err) = copy_table('public.evens', '--condition=id % 2 = 0');
is($rc, 0, 'copy with a condition') or diag($err);
is($node->safe_psql('leaf', 'select count(*), sum(id % 2) from evens'), '50|0',
	'only the rows of the condition were copied');

# --- parallel writers and big rows
($rc, $out, $err) = copy_table('public.big', '--writers=3');
is($rc, 0, 'threaded copy') or diag($err);
like($err, qr/big: start threaded copy/, 'the parallel writers were used');
is(table_digest($leaf, 'big'), table_digest($root, 'big'),
	'every row arrived, the 20 MB one too');
is($node->safe_psql('leaf', 'select count(distinct xmin::text) from big'), '3',
	'the rows were written by three transactions');
is($node->safe_psql('leaf',
		"select count(*) from pg_index where indrelid = 'big'::regclass and indisprimary"),
	'1', 'the primary key is back');
is(table_row('public.big'), 'catching-up|t|-', 'big is catching-up, the kept DDL cleared');

# --- kill -9 in the middle of the copy
my ($pout, $perr) = ('', '');
set_state('public.slow', 'in-copy');
my $h = IPC::Run::start(
	[ $probe, 'copy', $src, $dst, 'replika', 'public.slow', 'public.slow',
		'--condition=pg_sleep(0.1) is not null' ],
	'<', \undef, '>', \$pout, '2>', \$perr);
# each row takes 0.1 s on the source and is big enough to be sent at once
ok( $node->poll_query_until('leaf',
		"select count(*) > 0 from pg_stat_activity where pid <> pg_backend_pid() and query like 'COPY %slow% FROM stdin'"
	),
	'the copy is writing');
kill 'KILL', $h->{KIDS}[0]{PID};
eval { $h->finish };
is($h->full_result(0) & 127, 9, 'the copy process died of SIGKILL');
ok( $node->poll_query_until('leaf',
		"select count(*) = 0 from pg_stat_activity where pid <> pg_backend_pid() and query like 'COPY%slow%'"
	),
	'the killed copy\'s sessions are gone');
is(table_row('public.slow'), 'in-copy|f|-', 'the table is in-copy again');
is($node->safe_psql('leaf', "select count(*), min(v), max(v) from slow"), '5|old|old',
	'the truncate and the copied rows were rolled back');
is($node->safe_psql('leaf',
		"select count(*) from pg_index where indrelid = 'slow'::regclass"),
	'1', 'the dropped primary key is back too');
($rc, $out, $err) = copy_table('public.slow');
is($rc, 0, 'the copy runs again') or diag($err);
is(table_digest($leaf, 'slow'), table_digest($root, 'slow'), 'and brings the rows');

# --- a table not on the provider
$node->safe_psql('leaf', 'create table lonely (id int primary key)');
$node->safe_psql('leaf',
	"insert into londiste.table_info (queue_name, table_name, local) values ('replika', 'public.lonely', true)");
($rc, $out, $err) = copy_table('public.lonely');
is($rc, 1, 'a table the provider lacks fails');
like($err, qr/table public\.lonely not available on provider/, 'with the reason');
is(table_row('public.lonely'), 'in-copy|f|-', 'and stays in-copy');

$node->stop;
done_testing();
