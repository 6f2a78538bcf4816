# londiste3's table and sequence commands against python3-londiste's.
#
# Two equal cascades root -> branch -> leaf (A and B) on one cluster, each
# node's worker Python's londiste.  Every table and sequence command runs
# with the same arguments on A with Python's londiste and on B with ours:
# the exit codes, the output (stdout, byte for byte), the log messages and
# what the command left in the database (table_info with table_attrs as
# text, seq_info, the triggers) must be the same.  Error cases are among
# them, each with its exit code.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use LondisteTest;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

ok(-x '/usr/bin/londiste', 'londiste is installed')
  or die "this test needs the Debian package python3-londiste";

my $node = preloaded_node('tables', $LondisteTest::SERVER_CONF);
my %dir = (A => PostgreSQL::Test::Utils::tempdir,
	B => PostgreSQL::Test::Utils::tempdir);

my $schema = q{
create table plain (id int primary key, v text);
create table other (id int primary key, v text);
create table nopk (x int);
create schema s2;
create table s2.t1 (id serial primary key);
create table s2.t2 (id int primary key);
create table s2.other_copy (id int primary key, v text);
create table "Odd Name" (a int primary key, "B" text);
create table leafless (id int primary key);
create table lockme (id int primary key);
create sequence seq1;
create sequence seq2;
};
my %cmd;	# $cmd{A}{root}: member running the commands
my %wrk;	# $wrk{A}{root}: member running the worker (Python everywhere)
foreach my $c ('A', 'B')
{
	foreach my $role ('root', 'branch', 'leaf')
	{
		my $db = lc($c) . "_$role";
		$node->safe_psql('postgres', "create database $db");
		$node->safe_psql($db, $schema);
		$node->safe_psql($db, 'drop table leafless') if $role eq 'leaf';
		$node->safe_psql($db, q{
create table rootonly (id int primary key, v text not null default 'x' unique,
                       n numeric(10, 2) check (n > 0));
create index rootonly_n on rootonly (n);
create sequence rootseq increment 5 start 100;
})
		  if $role eq 'root';
		$node->safe_psql($db,
			"insert into plain select i, 'v' || i from generate_series(1, 50) i;"
			  . "insert into other select i, 'o' || i from generate_series(1, 20) i;"
			  . "insert into s2.t2 select generate_series(1, 5);")
		  if $role eq 'root';
		my %args = (node => $node, db => $db, name => "${role}node",
			dir => $dir{$c});
		$wrk{$c}{$role} = londiste_member(%args);
		$cmd{$c}{$role} = londiste_member(%args,
			program => $c eq 'A' ? 'python' : 'londiste3');
	}
	my ($r, $b, $l) = @{ $wrk{$c} }{ 'root', 'branch', 'leaf' };
	londiste_ok($r, 'create-root', 'rootnode', $r->{connstr});
	tune_queue($r);
	londiste_ok($b, 'create-branch', 'branchnode', $b->{connstr},
		"--provider=$r->{connstr}");
	londiste_ok($l, 'create-leaf', 'leafnode', $l->{connstr},
		"--provider=$b->{connstr}");
	start_worker($_) for ($r, $b, $l);
}

# log lines without time and pid; ret_code errors without the code, which
# londiste3 logs in front of the note
sub messages
{
	my ($text) = @_;
	$text =~ s/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ //mg;
	$text =~ s/^ERROR \d{3} /ERROR /mg;
	return $text;
}

# What a node's table commands leave behind; the copy state and the
# indexes only on demand (they depend on how far the worker got).
# python3-londiste's --create-full fails on serial columns (it attaches the
# sequence before making it), so the tables it creates here have none.
sub node_state
{
	my ($m, $with_state) = @_;
	my $state = $with_state ? "coalesce(merge_state, 'NULL')" : "''";
	# a copy drops the indexes for a while
	my $indexes = $with_state ? '' : 'and false';
	return $m->{node}->safe_psql(
		$m->{db}, qq{
select table_name, local, $state, coalesce(table_attrs, 'NULL'),
       coalesce(dest_table, 'NULL')
  from londiste.table_info order by table_name;
select seq_name, local from londiste.seq_info order by seq_name;
select tgrelid::regclass, pg_get_triggerdef(oid)
  from pg_trigger where not tgisinternal order by 1, 2;
select table_schema, table_name, column_name, data_type,
       coalesce(column_default, '-'), is_nullable
  from information_schema.columns where table_schema in ('public', 's2')
  order by 1, 2, ordinal_position;
select pg_get_indexdef(indexrelid)
  from pg_index i join pg_class c on c.oid = i.indrelid
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname in ('public', 's2') $indexes order by 1;
select sequence_schema, sequence_name, start_value, increment
  from information_schema.sequences order by 1, 2;
});
}

# Run the command on A (Python) and B (ours) and compare.  $want_rc is the
# exit code both must return; $opts{logs} = 0 skips comparing the log
# messages where they differ by design.
sub both
{
	my ($role, $what, $want_rc, $args, %opts) = @_;
	my ($rca, $outa, $erra) = londiste_run($cmd{A}{$role}, @$args);
	my ($rcb, $outb, $errb) = londiste_run($cmd{B}{$role}, @$args);
	is($rca, $want_rc, "$what: Python's londiste exits $want_rc")
	  or diag($erra);
	is($rcb, $want_rc, "$what: londiste3 exits $want_rc") or diag($errb);
	is($outb, $outa, "$what: same output");
	is(messages($errb), messages($erra), "$what: same messages")
	  if $opts{logs} // 1;
	is(node_state($cmd{B}{$role}, $opts{with_state}),
		node_state($cmd{A}{$role}, $opts{with_state}),
		"$what: same state on $role");
	return (messages($errb), $outb);
}

# Wait until the worker of $role has replayed the table and sequence
# registrations of $provider in both cascades, so that the commands find
# the same lists on A and B.
sub wait_registered
{
	my ($role, $provider) = @_;
	my $q = "select (select string_agg(table_name, ',' order by table_name)"
	  . " from londiste.table_info) || ' ' || coalesce((select"
	  . " string_agg(seq_name, ',' order by seq_name) from londiste.seq_info), '')";
	foreach my $c ('A', 'B')
	{
		my ($m, $p) = ($cmd{$c}{$role}, $cmd{$c}{$provider});
		my $want = $p->{node}->safe_psql($p->{db}, $q);
		ok($m->{node}->poll_query_until($m->{db}, "$q = '$want'", 't'),
			"$c: $role has the tables and sequences of $provider");
	}
	return;
}

sub wait_synced
{
	my ($role) = @_;
	foreach my $c ('A', 'B')
	{
		my ($rc, $out, $err) = londiste_run($cmd{$c}{$role}, 'wait-sync');
		is($rc, 0, "$c: wait-sync on $role") or diag($err);
		like(messages($err), qr/^INFO All done$/m, "$c: wait-sync on $role is done");
	}
	return;
}

#
# The root
#
both('root', 'missing on root', 0, ['missing']);
my ($log) = both('root', 'no primary key', 1, [ 'add-table', 'nopk' ]);
like($log, qr/^ERROR Primary key missing on table: public\.nopk$/m,
	'no primary key: the error');
($log) = both('root', 'unknown table', 1, [ 'add-table', 'nosuch' ]);
like($log, qr/public\.nosuch not available.*Cannot proceed/s,
	'unknown table: the error');
both('root', 'unknown table with --force', 1,
	[ 'add-table', 'nosuch', '--force' ]);
both('root', 'glob with a handler', 0,
	[ 'add-table', 'p*', '--handler=londiste', '--handler-arg=encoding=utf8' ]);
($log) = both('root', 'adding twice', 0, [ 'add-table', 'plain' ]);
like($log, qr/public\.plain already processed.*what to do \?/s,
	'adding twice: nothing to do');
both('root', 'attrs and trigger switches', 0,
	[ 'add-table', 'other', '--skip-truncate', '--max-parallel-copy=3',
		'--trigger-flags=IUD', '--trigger-arg=backup' ]);
both('root', 'schema glob and a quoted name', 0,
	[ 'add-table', 's2.t*', 'public.Odd Name' ]);
both('root', 'no triggers', 0, [ 'add-table', 'leafless', '--no-triggers' ]);
both('root', '--dest-table with two tables', 1,
	[ 'add-table', 'nosuch1', 'nosuch2', '--force', '--dest-table=x' ]);
both('root', 'unknown --copy-node', 1,
	[ 'add-table', 'nopk', '--copy-node=nosuch' ]);
both('root', 'itself as --copy-node', 1,
	[ 'add-table', 'nopk', '--copy-node=rootnode' ]);

# Python crashes with a traceback where londiste3 logs the reason
foreach my $case (
	[ 'bad handler argument', '--handler=londiste',
		qr/^ERROR Invalid handler argument: \['bogus'\]$/m, '--handler-arg=bogus=1' ],
	[ 'unknown handler', '--handler=nosuch', qr/unknown handler: nosuch/ ],
	[ 'handler with parentheses', '--handler=londiste(a=1)',
		qr/invalid handler name: londiste\(a=1\)/ ],
	[ 'handler argument twice', '--handler=londiste',
		qr/multiple handler arguments: encoding/,
		'--handler-arg=encoding=utf8', '--handler-arg=encoding=x' ])
{
	my ($what, $switch, $re, @more) = @$case;
	($log) = both('root', $what, 1, [ 'add-table', 'nopk', $switch, @more ],
		logs => 0);
	like($log, $re, "$what: londiste3's message");
}

both('root', 'show-handlers', 0, ['show-handlers']);
($log) = both('root', 'show-handlers of an unknown one', 1,
	[ 'show-handlers', 'nosuch' ], logs => 0);
like($log, qr/^ERROR unknown handler: nosuch$/m,
	'show-handlers of an unknown one: londiste3 says so');
both('root', 'tables', 0, ['tables'], with_state => 1);
both('root', 'tables --names-only', 0, [ 'tables', '--names-only' ]);
both('root', 'add-seq', 0, [ 'add-seq', 'seq1', 'seq2', 'rootseq' ]);
both('root', 'add-table of a table only the root has', 0,
	[ 'add-table', 'rootonly' ]);
both('root', 'add-seq unknown', 1, [ 'add-seq', 'nosuchseq' ]);
($log) = both('root', 'add-seq --force, missing here', 1,
	[ 'add-seq', 'nosuchseq', '--force' ]);
like($log, qr/^ERROR Sequence 'public\.nosuchseq' missing on local node$/m,
	'add-seq --force, missing here: the error');
both('root', 'add-seq --force --skip-non-existing', 0,
	[ 'add-seq', 'nosuchseq', '--force', '--skip-non-existing' ]);
both('root', 'seqs', 0, ['seqs']);
both('root', 'missing after adding', 0, ['missing']);
both('root', 'remove-seq', 0, [ 'remove-seq', 'seq2' ]);
both('root', 'remove-seq unknown', 1, [ 'remove-seq', 'nosuchseq' ]);

both('root', 'change-handler away', 0, [ 'change-handler', 'plain' ]);
both('root', 'change-handler unchanged', 0, [ 'change-handler', 'plain' ]);
both('root', 'change-handler to a handler', 0,
	[ 'change-handler', 'plain', '--handler=londiste',
		'--handler-arg=ignore_truncate=1' ]);
both('root', 'change-handler unknown table', 1,
	[ 'change-handler', 'nosuch' ]);
both('root', 'change-handler without a table', 1, ['change-handler'],
	logs => 0);
both('root', 'remove-table', 0, [ 'remove-table', 'leafless' ]);
both('root', 'remove-table unknown', 1, [ 'remove-table', 'nosuch' ]);
both('root', 'remove-table nothing', 0, ['remove-table']);
both('root', 'add-table again', 0, [ 'add-table', 'leafless' ]);

# Python's londiste sets the root's table to state NULL, for good: the
# subscribers never copy it then.  Ours refuses.
my ($rc, $out, $err) = londiste_run($cmd{B}{root}, 'resync', 'other');
is($rc, 1, 'resync on the root exits 1');
like(messages($err), qr/^ERROR resync on the root node/m,
	'resync on the root: the error');
is(node_state($cmd{B}{root}, 1), node_state($cmd{A}{root}, 1),
	'resync on the root changed nothing');
both('root', 'tables at the end', 0, ['tables'], with_state => 1);

# --copy-condition is no switch of python3-londiste 3.11 (the shard
# handler computes its condition from its own arguments)
both('root', '--copy-condition is no switch', 2,
	[ 'add-table', 'lockme', '--copy-condition=id > 1' ], logs => 0);

# add-table waits for the table's lock at most lock_timeout seconds
my $locker = londiste_member(node => $node, db => 'b_root',
	name => 'rootnode_lock', dir => $dir{B}, program => 'londiste3',
	extra => "lock_timeout = 1\n");
my ($lock_in, $lock_out) =
  ("begin; lock table lockme in access exclusive mode; select 'locked';\n", '');
my $lock = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('b_root') ],
	'<', \$lock_in, '>', \$lock_out,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$lock->pump until $lock_out =~ /locked/;
($rc, $out, $err) = londiste_run($locker, 'add-table', 'lockme');
is($rc, 1, 'add-table on a locked table gives up');
like($err, qr/canceling statement due to statement timeout/,
	'add-table on a locked table: statement_timeout from lock_timeout');
$lock_in .= "rollback;\n";
$lock->finish;
is($node->safe_psql('b_root',
	"select count(*) from londiste.table_info where table_name = 'public.lockme'"),
	'0', 'the timed-out add-table left nothing');

#
# The branch: its list of tables follows the root's
#
wait_registered('branch', 'root');
both('branch', 'missing on the branch', 0, ['missing']);
both('branch', 'table not on the root', 1, [ 'add-table', 'nopk' ]);
both('branch', 'add-table', 0,
	[ 'add-table', 'plain', 'other', 's2.t1', '--max-parallel-copy=2' ]);
both('branch', 'add-table --expect-sync', 0,
	[ 'add-table', 'public.Odd Name', '--expect-sync', '--skip-truncate' ]);
both('branch', 'merge-all with no-merge', 1,
	[ 'add-table', 's2.t2', '--merge-all', '--no-merge' ]);
both('branch', 'add-table --copy-node', 0,
	[ 'add-table', 's2.t2', '--copy-node=rootnode' ]);
both('branch', 'add-seq', 0, [ 'add-seq', 'seq1' ]);
both('branch', 'add-seq --create', 0, [ 'add-seq', 'rootseq', '--create' ]);
# (create.c logs the objects it makes in an order and spelling of its own)
both('branch', 'add-table --create-full', 0,
	[ 'add-table', 'rootonly', '--create-full' ], logs => 0);
both('branch', 'seqs', 0, ['seqs']);
wait_synced('branch');
both('branch', 'tables when copied', 0, ['tables'], with_state => 1);
both('branch', 'resync', 0, [ 'resync', 'plain' ]);
wait_synced('branch');
both('branch', 'resync --find-copy-node', 0,
	[ 'resync', 's2.t1', '--find-copy-node' ]);
wait_synced('branch');

#
# The leaf, below the branch
#
wait_registered('leaf', 'branch');
both('leaf', 'table not local on the provider', 1,
	[ 'add-table', 'leafless' ]);
both('leaf', 'not local on the provider, skipped', 0,
	[ 'add-table', 'leafless', '--skip-non-existing' ]);
both('leaf', 'not here, skipped', 0,
	[ 'add-table', 'leafless', '--skip-non-existing', '--copy-node=rootnode' ]);
both('leaf', '--dest-table', 0,
	[ 'add-table', 'other', '--dest-table=s2.other_copy' ]);
both('leaf', '--find-copy-node', 0,
	[ 'add-table', 'plain', '--find-copy-node' ]);
both('leaf', 'no triggers, no merge', 0,
	[ 'add-table', 's2.t1', '--no-triggers', '--no-merge' ]);
($log) = both('leaf', 'resync of a table not replicated here', 0,
	[ 'resync', 'leafless' ]);
like($log, qr/^INFO public\.leafless already processed$/m,
	'resync of a table not replicated here: nothing done');
both('leaf', 'add-table --wait-sync', 0,
	[ 'add-table', 's2.t2', '--wait-sync' ], logs => 0);
wait_synced('leaf');
both('leaf', 'tables', 0, ['tables'], with_state => 1);
both('leaf', 'missing', 0, ['missing']);
both('leaf', 'add-seq', 0, [ 'add-seq', 'seq1' ]);
# (python3-londiste logs the provider's name of the table it creates)
both('leaf', 'add-table --create', 0,
	[ 'add-table', 'rootonly', '--create', '--dest-table=s2.rootonly_copy' ],
	logs => 0);
both('leaf', 'add-seq --create', 0,
	[ 'add-seq', 'rootseq', '--create' ]);

# check and fkeys do nothing in Python's londiste; ours print nothing
# either while all is well
both('leaf', 'check', 0, ['check']);
both('leaf', 'fkeys', 0, ['fkeys']);
both('root', 'check on the root', 0, ['check'], logs => 0);
$node->safe_psql('b_leaf',
	'alter table s2.other_copy alter column v type varchar(10)');
($rc, $out, $err) = londiste_run($cmd{B}{leaf}, 'check');
is($rc, 1, 'check finds a column of another type');
like( messages($err),
	qr/^ERROR Table public\.other: column v is character varying\(10\) on this node, text on the provider$/m,
	'check names the column');
$node->safe_psql('b_leaf', 'alter table s2.other_copy drop column v');
($rc, $out, $err) = londiste_run($cmd{B}{leaf}, 'check');
is($rc, 1, 'check finds a missing column');
like(messages($err), qr/^ERROR Table public\.other: column v is missing on this node$/m,
	'check names the missing column');
$node->safe_psql('b_leaf', q{
alter table s2.other_copy add column v text;
insert into londiste.pending_fkeys values ('public.a', 'public.b', 'a_fk',
  'alter table only public.a add constraint a_fk foreign key (b) references public.b(id)');
});
($rc, $out, $err) = londiste_run($cmd{B}{leaf}, 'fkeys');
is($rc, 0, 'fkeys with a pending foreign key');
is($out, <<'EOF', 'fkeys lists it');
Pending foreign keys on node
from_table       to_table         fkey_name        fkey_def
---------------  ---------------  ---------------  -------------------------------------------------------------------------------------
public.a         public.b         a_fk             alter table only public.a add constraint a_fk foreign key (b) references public.b(id)


EOF
$node->safe_psql('b_leaf', 'delete from londiste.pending_fkeys');
($rc, $out, $err) = londiste_run($cmd{B}{leaf}, 'check');
is($rc, 0, 'check is content again') or diag($err);

# The root drops a table while the leaves' workers stand still: add-table
# on a leaf brings its list in line with the branch's, and says so.
stop_worker($wrk{$_}{leaf}) foreach ('A', 'B');
both('root', 'remove-table on the root', 0, [ 'remove-table', 'leafless' ]);
wait_registered('branch', 'root');
both('leaf', 'list follows the branch', 0, ['add-table']);
start_worker($wrk{$_}{leaf}) foreach ('A', 'B');

# --find-copy-node --create: python3-londiste stops with "Cannot find node
# <?>"; ours creates the table from the first node up the cascade that
# replicates it.
$node->safe_psql('b_root', 'create table late_t (id int primary key, v text)');
londiste_ok($cmd{B}{root}, 'add-table', 'late_t');
ok( $node->poll_query_until('b_leaf',
		"select count(*) = 1 from londiste.table_info where table_name = 'public.late_t'"),
	'the leaf knows late_t');
($rc, $out, $err) = londiste_run($cmd{B}{leaf}, 'add-table', 'late_t',
	'--find-copy-node', '--create');
is($rc, 0, '--find-copy-node --create') or diag($err);
like( messages($err),
	qr/Node branchnode does not have all tables\n.*Node rootnode seems good source, using it\n.*Table added: public\.late_t/s,
	'--find-copy-node --create: the root is the source');
is( $node->safe_psql('b_leaf',
		"select string_agg(column_name, ',' order by ordinal_position)"
		  . " from information_schema.columns where table_name = 'late_t'"),
	'id,v', '--find-copy-node --create: the table was created');

foreach my $c ('A', 'B')
{
	stop_worker($_) foreach values %{ $wrk{$c} };
}
$node->stop;
done_testing();
