# londiste3 execute on a cascade root -> branch -> leaf whose workers are
# Python's londiste: the files run on the root in one transaction, the
# EXECUTE events carry them to the other nodes, which decide by the same
# header attributes (so ours must encode them as Python's londiste reads
# them).  A file runs once; a non-root refuses (401); attributes that all
# match run the file, none skip it, a mix is an error that rolls back
# everything; @name@ becomes the quoted local name; the statement splitter
# keeps quotes, dollar quotes and comments whole.

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

my $node = preloaded_node('execute', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;

my (%py, %our);
foreach my $role ('root', 'branch', 'leaf')
{
	$node->safe_psql('postgres', "create database $role");
	$node->safe_psql(
		$role, q{
create table plain (id int primary key, v text);
create table "Odd Name" (a int primary key);
create table leafonly (id int primary key);
create sequence seq1;
});
	my %args = (node => $node, db => $role, name => "${role}node", dir => $dir);
	$py{$role}  = londiste_member(%args);
	$our{$role} = londiste_member(%args, program => 'londiste3');
}
my ($root, $branch, $leaf) = @py{ 'root', 'branch', 'leaf' };
londiste_ok($root, 'create-root', 'rootnode', $root->{connstr});
tune_queue($root);
londiste_ok($branch, 'create-branch', 'branchnode', $branch->{connstr},
	"--provider=$root->{connstr}");
londiste_ok($leaf, 'create-leaf', 'leafnode', $leaf->{connstr},
	"--provider=$branch->{connstr}");
start_worker($_) for ($root, $branch, $leaf);
londiste_ok($root, 'add-table', 'plain', 'public.Odd Name');
londiste_ok($root, 'add-seq', 'seq1');
londiste_ok($branch, 'add-table', 'plain', 'public.Odd Name');
londiste_ok($branch, 'add-seq', 'seq1');
londiste_ok($branch, 'wait-sync');

my $n = 0;
sub sql_file
{
	my ($name, $text) = @_;
	my $f = "$dir/$name";
	append_to_file($f, $text);
	return $f;
}

sub on
{
	my ($m, $sql) = @_;
	return $m->{node}->safe_psql($m->{db}, $sql);
}

# wait until the node has applied the file (or skipped it: the row is
# stored either way)
sub applied
{
	my ($m, $file) = @_;
	return $m->{node}->poll_query_until($m->{db},
		"select count(*) = 1 from londiste.applied_execute"
		  . " where execute_file = '$file'");
}

sub log_of
{
	my ($err) = @_;
	$err =~ s/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ //mg;
	return $err;
}

#
# A file without attributes, with everything a naive splitter gets wrong
#
my $tricky = sql_file('tricky.sql', <<'EOF');
-- a comment; with a semicolon
/* a block comment; still the comment */
create table exec_t (id int primary key, v text);
insert into exec_t values (1, 'semi;colon'), (2, E'back\'slash;'),
    (3, 'it''s; quoted');
create function exec_f(i int) returns text language plpgsql as $body$
begin
    -- inside the body; still the body
    return 'f;' || i::text || $$;$$;
end;
$body$;
create table "exec;name" (id int);
insert into exec_t values (4, exec_f(4))
EOF
my ($rc, $out, $err) = londiste_run($our{root}, 'execute', $tricky);
is($rc, 0, 'execute on the root') or diag($err);
like(log_of($err), qr/^INFO Executing: tricky\.sql$/m, 'execute_start note');
like(log_of($err), qr/^INFO tricky\.sql: executing sql$/m, 'the file runs');
foreach my $m ($root, $branch, $leaf)
{
	ok(applied($m, 'tricky.sql'), "tricky.sql applied on $m->{name}");
	is( on($m, "select string_agg(id || '=' || v, ' ' order by id) from exec_t"),
		q{1=semi;colon 2=back'slash; 3=it's; quoted 4=f;4;},
		"the statements were split right on $m->{name}");
	is(on($m, q{select count(*) from "exec;name"}), '0',
		"quoted identifier with a semicolon on $m->{name}");
}
is(on($root, q{select execute_attrs from londiste.applied_execute
  where execute_file = 'tricky.sql'}), '', 'no attributes: empty text');

($rc, $out, $err) = londiste_run($our{root}, 'execute', $tricky);
is($rc, 0, 'the same file again exits 0');
like(log_of($err), qr/^WARNING Skipping execution of 'tricky\.sql'$/m,
	'the same file again is skipped');
is(on($root, 'select count(*) from exec_t'), '4', 'and did not run again');

($rc, $out, $err) = londiste_run($our{branch}, 'execute',
	sql_file('branch.sql', "create table on_branch (id int);\n"));
is($rc, 1, 'execute on a branch exits 1');
like(log_of($err), qr/^ERROR .*Node is not root node: replika$/m,
	'execute on a branch: 401');
is(on($branch, "select count(*) from pg_class where relname = 'on_branch'"),
	'0', 'and ran nothing');

#
# Attributes
#
my $match = sql_file('match.sql', <<'EOF');
--*-- Local-Table: plain,
--*--    public.Odd Name
--*-- Local-Sequence: seq1
alter table @plain@ add column c1 text;
alter table @public.Odd Name@ add column c2 text;
select setval('@seq1@', 100);
EOF
($rc, $out, $err) = londiste_run($our{root}, 'execute', $match);
is($rc, 0, 'all attributes match') or diag($err);
is( on($root, q{select execute_attrs from londiste.applied_execute
  where execute_file = 'match.sql'}),
	'local-table=plain%2cpublic.Odd+Name&local-sequence=seq1',
	'attributes as stored (the EXECUTE event carries them)');
ok(applied($_, 'match.sql'), "match.sql reached $_->{name}") for ($branch, $leaf);
foreach my $m ($root, $branch)
{
	is( on($m, q{select count(*) from information_schema.columns
  where (table_name, column_name) in (('plain', 'c1'), ('Odd Name', 'c2'))}),
		'2', "\@name\@ replaced by the quoted names on $m->{name}");
}
is( on($leaf, q{select count(*) from information_schema.columns
  where column_name in ('c1', 'c2')}),
	'0', 'the leaf has neither table: skipped there');

# The same attributes from Python's londiste, for the stored text
my $match_py = sql_file('match_py.sql', slurp_file($match) =~ s/c1/c3/r =~ s/c2/c4/r);
londiste_ok($root, 'execute', $match_py);
is( on($root, q{select a.execute_attrs = b.execute_attrs
  from londiste.applied_execute a, londiste.applied_execute b
  where a.execute_file = 'match.sql' and b.execute_file = 'match_py.sql'}),
	't', 'the attributes are stored as Python stores them');

my $none = sql_file('none.sql', <<'EOF');
--*-- Local-Table: leafonly
create table none_marker (id int);
EOF
($rc, $out, $err) = londiste_run($our{root}, 'execute', $none);
is($rc, 0, 'no attribute matches: exit 0') or diag($err);
like(log_of($err), qr/^INFO none\.sql: This SQL does not need to run on this node\.$/m,
	'no attribute matches: skipped');
is(on($root, "select count(*) from pg_class where relname = 'none_marker'"),
	'0', 'the skipped file did not run');
is(on($root, q{select count(*) from londiste.applied_execute
  where execute_file = 'none.sql'}), '1', 'but is recorded as applied');

my $need = sql_file('need.sql', <<'EOF');
--*-- Need-Table: plain
--*-- Need-Sequence: seq1
create table need_marker (id int);
EOF
($rc, $out, $err) = londiste_run($our{root}, 'execute', $need);
is($rc, 0, 'Need-* attributes that exist') or diag($err);
is(on($root, "select count(*) from pg_class where relname = 'need_marker'"),
	'1', 'the file ran');

my $mixed = sql_file('mixed.sql', <<'EOF');
--*-- Local-Table: plain, leafonly
create table mixed_marker (id int);
EOF
my $first = sql_file('first.sql', "create table first_marker (id int);\n");
($rc, $out, $err) = londiste_run($our{root}, 'execute', $first, $mixed);
is($rc, 1, 'mixed matches: exit 1');
like( log_of($err),
	qr/^ERROR mixed\.sql: SQL only partially matches local setup: matches=\['plain'\] misses=\['leafonly'\]$/m,
	'mixed matches: the error');
is( on($root, q{select count(*) from pg_class
  where relname in ('mixed_marker', 'first_marker')}),
	'0', 'nothing of either file ran');
is( on($root, q{select count(*) from londiste.applied_execute
  where execute_file in ('mixed.sql', 'first.sql')}),
	'0', 'neither file is recorded');

($rc, $out, $err) = londiste_run($our{root}, 'execute',
	sql_file('badkey.sql', "--*-- Local-Tabel: plain\nselect 1;\n"));
is($rc, 1, 'unknown attribute key: exit 1');
like(log_of($err), qr/^ERROR badkey\.sql: Invalid key: Local-Tabel$/m,
	'unknown attribute key: the error');

($rc, $out, $err) = londiste_run($our{root}, 'execute',
	sql_file('parens.sql', "create table paren_t (id int;\n"));
is($rc, 1, 'unbalanced parenthesis: exit 1');
like(log_of($err), qr/unbalanced parenthesis/, 'unbalanced parenthesis: the error');

($rc, $out, $err) = londiste_run($our{root}, 'execute',
	sql_file('failing.sql', "create table fail_t (id int);\nselect 1/0;\n"));
is($rc, 1, 'a failing statement: exit 1');
like(log_of($err), qr/^ERROR failing\.sql: statement 2 failed: ERROR:  division by zero/m,
	'a failing statement: the error');
is(on($root, "select count(*) from pg_class where relname = 'fail_t'"), '0',
	'the failing file left nothing');

($rc, $out, $err) = londiste_run($our{root}, 'execute', "$dir/nosuch.sql");
is($rc, 1, 'a missing file: exit 1');
like(log_of($err), qr/^ERROR could not open file ".*nosuch\.sql"/m,
	'a missing file: the error');

# What Python's statement splitter does not know (nested comments, BEGIN
# ATOMIC bodies): run with the workers stopped, as the Python workers would
# fail on the EXECUTE event, and checked on the root.
stop_worker($_) for ($root, $branch, $leaf);
($rc, $out, $err) = londiste_run($our{root}, 'execute',
	sql_file('server_syntax.sql', <<'EOF'));
/* nested /* comment; */ still the comment; */
create function exec_atomic(i int) returns int language sql
begin atomic
    select case when i > 0 then i + 1 else 0 end;
end;
create table t$x$ (n int);
prepare ins(int) as insert into t$x$ values ($1);
execute ins(length(E'a\\'));
deallocate ins;
create table atomic_t as select exec_atomic(4) as v, $q$;$q$ as w
EOF
is($rc, 0, 'nested comments and BEGIN ATOMIC bodies') or diag($err);
is(on($root, "select v || w from atomic_t"), '5;',
	'nested comments and BEGIN ATOMIC bodies: statements split right');
is(on($root, 'select n from t$x$'), '2',
	'dollars inside a name and parameters are no dollar quotes');

$node->stop;
done_testing();
