# qadmin, the PgQ admin console, in script mode: every statement through
# -c and through -f against a live database with pgq, its companions and
# londiste, checking what it prints and what it changed in the catalogs;
# then the error paths and the exit codes.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use QadminTest;
use Test::More;

my $node = preloaded_node('qadmin');
my $dir = PostgreSQL::Test::Utils::tempdir;

my $mode;    # '-c' or '-f'
my $db;      # the database of the current round

# Run statements in the current mode; returns (rc, stdout, stderr).
sub run_stmt
{
	my ($text, @opts) = @_;
	return qadmin($node, $db, @opts, '-c', $text) if $mode eq '-c';
	my $file = "$dir/script.sql";
	open my $fh, '>', $file or die "writing $file: $!";
	# a file needs its final ";", -c adds it
	print $fh "$text;\n";
	close $fh;
	return qadmin($node, $db, @opts, '-f', $file);
}

# Statements that must succeed and print something matching $expect.
sub stmt_ok
{
	my ($text, $expect, $name, @opts) = @_;
	my ($rc, $out, $err) = run_stmt($text, @opts);
	ok($rc == 0 && $out =~ $expect, "$mode: $name")
	  or diag("statement: $text\nexit $rc\nstdout:\n$out\nstderr:\n$err");
	return $out;
}

# Statements that must fail with exit code 1 and an error matching $expect.
sub stmt_fails
{
	my ($text, $expect, $name, @opts) = @_;
	my ($rc, $out, $err) = run_stmt($text, @opts);
	ok($rc == 1 && $err =~ $expect, "$mode: $name")
	  or diag("statement: $text\nexit $rc\nstdout:\n$out\nstderr:\n$err");
	return $out;
}

sub sql
{
	return $node->safe_psql($db, $_[0]);
}

# A new event in a new batch of queue $q: returns nothing, the tick is made
# at once (force_tick makes ticker() tick whatever the thresholds).
sub event_and_tick
{
	my ($q, $data) = @_;
	sql("select pgq.insert_event('$q', 'ev', '$data')");
	sql("select pgq.force_tick('$q')");
	sql("select pgq.ticker('$q')");
	return;
}

foreach my $m ('-c', '-f')
{
	$mode = $m;
	$db   = $m eq '-c' ? 'qa_c' : 'qa_f';
	$node->safe_psql('postgres', "create database $db");

	# install
	stmt_ok('install pgq', qr/^INSTALL$/m, 'install pgq');
	is(sql("select string_agg(extname, ',' order by extname) from pg_extension"
		  . " where extname like 'pgq%' or extname = 'londiste'"),
		'pgq,pgq_coop,pgq_ext,pgq_node', "$mode: install pgq created the four extensions");
	stmt_ok('install londiste', qr/^INSTALL$/m, 'install londiste');
	is(sql("select count(*) from pg_extension where extname = 'londiste'"),
		'1', "$mode: install londiste created londiste");
	stmt_ok('install pgq', qr/^INSTALL$/m, 'install pgq again is harmless');

	# create / drop queue
	stmt_ok('create queue q1', qr/^CREATE$/m, 'create queue');
	is(sql("select count(*) from pgq.queue where queue_name = 'q1'"), '1',
		"$mode: queue q1 exists");
	stmt_ok('create queue q1', qr/^Queue already exists$/m, 'create queue twice');
	stmt_ok(q{create queue "It's Q"}, qr/^CREATE$/m, 'create queue with a quoted name');
	is(sql("select count(*) from pgq.queue where queue_name = 'It''s Q'"), '1',
		"$mode: the quoted name arrives as it was written");
	stmt_ok('create queue Q2', qr/^CREATE$/m, 'create queue q2');
	is(sql("select count(*) from pgq.queue where queue_name = 'q2'"), '1',
		"$mode: unquoted names are lower-cased");
	stmt_ok(q{drop queue "It's Q"}, qr/^DROP$/m, 'drop queue');
	is(sql("select count(*) from pgq.queue where queue_name = 'It''s Q'"), '0',
		"$mode: the queue is gone");

	# alter queue
	stmt_ok(q{alter queue q1 set idle_period='30 s', max_count=10, max_lag='2 s', paused=1},
		qr/^ALTER$/m, 'alter queue');
	is( sql("select queue_ticker_idle_period, queue_ticker_max_count,"
			  . " queue_ticker_max_lag, queue_ticker_paused from pgq.queue where queue_name = 'q1'"),
		'00:00:30|10|00:00:02|t', "$mode: alter queue set all four settings");
	stmt_ok('alter queue * set max_count=77, paused=0', qr/^ALTER$/m, 'alter queue *');
	is( sql("select string_agg(queue_name || '=' || queue_ticker_max_count || queue_ticker_paused,"
			  . " ',' order by queue_name) from pgq.queue"),
		'q1=77false,q2=77false', "$mode: alter queue * changed every queue");

	# show queue
	my $out = stmt_ok('show queue q1', qr/^Queue "q1":\n/, 'show queue Q');
	like($out, qr/^queue_name +tables +max_count +max_lag +idle_period +paused +ticker_lag +ev_per_sec +ev_new\n-{10}  -{10}  /m,
		"$mode: show queue prints the header and the rule");
	like($out, qr/^q1 +0\/3 +77 +00:00:02 +00:00:30 +f /m, "$mode: show queue prints the queue's row");
	$out = stmt_ok('show queue', qr/^Queue "\*":\n/, 'show queue without a name');
	like($out, qr/^q1 .*\n^q2 /m, "$mode: show queue lists every queue");
	stmt_ok('show queue *', qr/^q2 /m, 'show queue *');

	# register consumer, plain, at a tick, copying another
	stmt_ok('register consumer c1 on q1', qr/^REGISTER$/m, 'register consumer');
	is(sql("select count(*) from pgq.get_consumer_info('q1', 'c1')"), '1',
		"$mode: c1 is registered");
	stmt_ok('register consumer c1 on q1', qr/^Consumer already registered$/m,
		'register consumer twice');
	event_and_tick('q1', 'first');
	my $tick = sql("select max(tick_id) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue"
		  . " where queue_name = 'q1'");
	stmt_ok("register consumer c2 at $tick on q1", qr/^REGISTER$/m, 'register consumer at');
	is(sql("select last_tick from pgq.get_consumer_info('q1', 'c2')"), $tick,
		"$mode: c2 starts at the given tick");
	stmt_ok('register consumer c3 copy c2', qr/^REGISTER$/m, 'register consumer copy, default queue',
		'-Q', 'q1');
	is(sql("select last_tick from pgq.get_consumer_info('q1', 'c3')"), $tick,
		"$mode: c3 starts where c2 is");
	stmt_ok('register consumer c3 on q1 at 1', qr/^REGISTER$/m, 'register consumer at moves a consumer');
	is(sql("select last_tick from pgq.get_consumer_info('q1', 'c3')"), '1',
		"$mode: c3 moved back to tick 1");

	# subconsumers and batches
	stmt_ok('register subconsumer s1 for c1 on q1', qr/^REGISTER$/m, 'register subconsumer');
	is(sql("select count(*) from pgq.get_consumer_info('q1', 'c1.s1')"), '1',
		"$mode: subconsumer c1.s1 exists");
	stmt_ok('register subconsumer s1 for c1 on q1', qr/^Subconsumer already registered$/m,
		'register subconsumer twice');
	# the in-server ticker may have ticked before the event: skip empty batches
	my $batch;
	foreach (1 .. 10)
	{
		$batch = sql("select pgq_coop.next_batch('q1', 'c1', 's1')");
		last if $batch eq ''
		  || sql("select count(*) from pgq.get_batch_events($batch) where ev_data = 'first'");
		sql("select pgq_coop.finish_batch($batch)");
	}
	ok($batch =~ /^\d+$/, "$mode: the subconsumer got batch $batch");
	$out = stmt_ok("show batch $batch", qr/^Batch $batch of consumer "c1.s1" on queue "q1"/m,
		'show batch ID');
	like($out, qr/^ev_id +ev_time +ev_txid +ev_retry +ev_type +ev_data /m,
		"$mode: show batch prints the event columns");
	like($out, qr/ ev +first\s*$/m, "$mode: show batch prints the event");
	stmt_ok('show batch c1.s1', qr/ ev +first\s*$/m, "show batch CONSUMER", '-Q', 'q1');
	stmt_fails('unregister subconsumer s1 for c1 from q1', qr/active batch/,
		'unregister subconsumer with an open batch fails');
	is(sql("select count(*) from pgq.get_consumer_info('q1', 'c1.s1')"), '1',
		"$mode: the subconsumer stays after the failure");
	stmt_ok('unregister subconsumer s1 for c1 from q1 close batch', qr/^UNREGISTER$/m,
		'unregister subconsumer close batch');
	is(sql("select count(*) from pgq.get_consumer_info('q1', 'c1.s1')"), '0',
		"$mode: the subconsumer is gone");
	sql("select pgq_coop.register_subconsumer('q1', 'c1', n) from unnest(array['s2', 's3']) n");
	stmt_ok('unregister subconsumer * for c1 from q1', qr/^UNREGISTER$/m, 'unregister subconsumer *');
	is(sql("select count(*) from pgq.get_consumer_info('q1') where consumer_name like 'c1.%'"), '0',
		"$mode: every subconsumer of c1 is gone");
	is(sql("select count(*) from pgq.get_consumer_info('q1', 'c1')"), '1',
		"$mode: c1 itself stays");

	# show consumer
	$out = stmt_ok('show consumer', qr/^Consumer "\*" on queue "\*":\n/, 'show consumer');
	like($out, qr/^queue_name +consumer_name +lag +last_seen +last_tick +current_batch +next_tick +pending_events\n/m,
		"$mode: show consumer prints the header");
	like($out, qr/^q1 +c1 .*\n^q1 +c2 .*\n^q1 +c3 /m, "$mode: show consumer lists the consumers");
	$out = stmt_ok('show consumer c2 on q1', qr/^Consumer "c2" on queue "q1":\n/, 'show consumer C on Q');
	unlike($out, qr/^q1 +c1 /m, "$mode: show consumer C shows only C");
	stmt_ok('show consumer * on *', qr/^q1 +c3 /m, 'show consumer * on *');
	stmt_ok('show consumer c2', qr/^q1 +c2 /m, 'show consumer on the default queue', '-Q', 'q1');

	# unregister consumer
	stmt_ok('unregister consumer c3 from q1', qr/^UNREGISTER$/m, 'unregister consumer');
	is(sql("select count(*) from pgq.get_consumer_info('q1', 'c3')"), '0', "$mode: c3 is gone");
	stmt_ok('unregister consumer *', qr/^UNREGISTER$/m, 'unregister consumer * on the default queue',
		'-Q', 'q1');
	is(sql("select count(*) from pgq.get_consumer_info('q1')"), '0', "$mode: no consumer is left on q1");

	# a cascade root node for the node and londiste statements
	my $connstr = $node->connstr($db);
	(my $connstr_sql = $connstr) =~ s/'/''/g;
	sql(qq{
create table plain (id int primary key, v text default 'x' not null);
create index plain_v on plain (v);
create table "Odd Name" (a int, b text, primary key (a, b));
create table t_skip (id int primary key);
create table t_notrig (id int primary key);
create table t_attrs (id int primary key);
create table t_ev (id int primary key);
create sequence s1;
select pgq_node.register_location('rq', 'rootnode', '$connstr_sql', false);
select ret_code from pgq_node.create_node('rq', 'root', 'rootnode', 'rootworker', null, null, null);
});

	# show node, connect
	$out = stmt_ok('show node', qr/^Node "\*" on queue "\*":\n/, 'show node');
	like($out, qr/^queue_name +node_name +node_location +dead\n/m, "$mode: show node prints the header");
	like($out, qr/^rq +rootnode +\Q$connstr\E +f$/m, "$mode: show node prints the location");
	stmt_ok('show node rootnode on rq', qr/^rq +rootnode /m, 'show node N on Q');
	stmt_ok('show node * on *', qr/^rq +rootnode /m, 'show node * on *');
	stmt_ok('connect queue=rq node=rootnode; select current_database()',
		qr/^CONNECT\n(.*\n){2}\Q$db\E\n/m, 'connect node=');
	stmt_ok('connect dbname=postgres; select current_database()',
		qr/^CONNECT\n(.*\n){2}postgres\n/m, 'connect dbname=');
	stmt_ok('connect queue=rq; londiste tables', qr/^CONNECT\nTables on queue "rq":/m,
		'connect queue= sets the default queue');

	# londiste add table with every option
	stmt_ok(q{londiste add table plain, "Odd Name" with backup, tgflags='BIU', ev_ignore='v', pkey='id', when='true'},
		qr/^Table added: public.plain\nTable added: public.Odd Name\nADD_TABLE$/m,
		'londiste add table with options', '-Q', 'rq');
	is( sql("select string_agg(table_name, ',' order by table_name) from londiste.table_info"
			  . " where queue_name = 'rq' and local"),
		'public.Odd Name,public.plain', "$mode: both tables are registered locally");
	like(
		sql("select pg_get_triggerdef(oid) from pg_trigger where tgrelid = 'plain'::regclass"
			  . " and tgname = '_londiste_rq'"),
		qr/BEFORE INSERT OR UPDATE ON public\.plain .*logutriga\('rq', 'backup', 'ignore=v', 'pkey=id', 'when=true'\)/,
		"$mode: the trigger got the flags and arguments");
	stmt_ok('londiste add table t_skip with skip, tgflags=\'B\'', qr/^ADD_TABLE$/m,
		'londiste add table with skip', '-Q', 'rq');
	is(sql("select tgname from pg_trigger where tgrelid = 't_skip'::regclass and tgname like 'zzz%'"),
		'zzz__londiste_rq', "$mode: skip made a SKIP trigger");
	stmt_ok('londiste add table t_notrig with no_triggers', qr/^ADD_TABLE$/m,
		'londiste add table with no_triggers', '-Q', 'rq');
	is(sql("select count(*) from pg_trigger where tgrelid = 't_notrig'::regclass"), '0',
		"$mode: no_triggers made no trigger");
	stmt_ok('londiste add table t_attrs with skip_truncate, expect_sync', qr/^ADD_TABLE$/m,
		'londiste add table with skip_truncate, expect_sync', '-Q', 'rq');
	is(sql("select table_attrs || ' ' || merge_state from londiste.table_info where table_name = 'public.t_attrs'"),
		'skip_truncate=1 ok', "$mode: skip_truncate is stored in the table's attributes");
	stmt_ok(
		q{londiste add table t_ev with ev_type='''t''', ev_data='''d''', ev_extra1='''e1''', ev_extra2='''e2''', ev_extra3='''e3''', ev_extra4='''e4'''},
		qr/^ADD_TABLE$/m, 'londiste add table with ev_* expressions', '-Q', 'rq');
	sql("insert into t_ev values (1)");
	is( sql("select ev_type || ev_data || ev_extra1 || ev_extra2 || ev_extra3 || ev_extra4"
			  . " from pgq.event_template where ev_type = 't'"),
		'tde1e2e3e4', "$mode: the ev_* expressions made the event");
	stmt_ok('londiste add sequence s1', qr/^Sequence added: public.s1\nADD_SEQ$/m,
		'londiste add sequence', '-Q', 'rq');
	is(sql("select local from londiste.seq_info where seq_name = 'public.s1'"), 't',
		"$mode: the sequence is registered");

	# listings
	$out = stmt_ok('londiste tables', qr/^Tables on queue "rq":\n/, 'londiste tables', '-Q', 'rq');
	like($out, qr/^table_name +local +merge_state +table_attrs +dest_table\n/m,
		"$mode: londiste tables prints the header");
	like($out, qr/^public\.Odd Name +t +ok/m, "$mode: londiste tables lists the tables");
	$out = stmt_ok('londiste seqs', qr/^Sequences on queue "rq":\n/, 'londiste seqs', '-Q', 'rq');
	like($out, qr/^public\.s1 +t +\d+$/m, "$mode: londiste seqs lists the sequence");
	sql("create table not_added (id int primary key)");
	stmt_ok('londiste missing', qr/^r +public\.not_added$/m, 'londiste missing', '-Q', 'rq');

	# show table / sequence
	$out = stmt_ok('show table plain', qr/^CREATE TABLE public\.plain \(\n    id integer NOT NULL,\n    v text DEFAULT 'x'::text NOT NULL\n\);$/m,
		'show table');
	like($out, qr/^ALTER TABLE ONLY public\.plain ADD CONSTRAINT plain_pkey PRIMARY KEY \(id\);$/m,
		"$mode: show table prints the primary key");
	like($out, qr/^CREATE INDEX plain_v ON public\.plain USING btree \(v\);$/m,
		"$mode: show table prints the index");
	like($out, qr/^CREATE TRIGGER _londiste_rq /m, "$mode: show table prints the triggers");
	stmt_ok('show table public."Odd Name"', qr/^CREATE TABLE public\."Odd Name" \(/m,
		'show table with a quoted name');
	stmt_ok('show sequence s1', qr/^CREATE SEQUENCE public\.s1 AS bigint INCREMENT BY 1 /m,
		'show sequence');

	# remove
	stmt_ok('londiste remove table plain, "Odd Name"',
		qr/^Table removed: public.plain\nTable removed: public.Odd Name\nREMOVE_TABLE$/m,
		'londiste remove table', '-Q', 'rq');
	is(sql("select count(*) from londiste.table_info where table_name in ('public.plain', 'public.Odd Name')"),
		'0', "$mode: the tables are no longer registered");
	is(sql("select count(*) from pg_trigger where tgrelid = 'plain'::regclass"), '0',
		"$mode: their triggers are gone");
	stmt_ok('londiste remove sequence s1', qr/^Sequence removed: public.s1\nREMOVE_SEQ$/m,
		'londiste remove sequence', '-Q', 'rq');
	is(sql("select count(*) from londiste.seq_info where seq_name = 'public.s1' and local"), '0',
		"$mode: the sequence is no longer registered");

	# one transaction per statement: the good table is not left behind
	stmt_fails('londiste add table plain, no_such_table', qr/Table does not exist: public\.no_such_table/,
		'londiste add table of a missing table fails', '-Q', 'rq');
	is(sql("select count(*) from londiste.table_info where table_name = 'public.plain'"), '0',
		"$mode: the table before the failing one was rolled back");
	stmt_fails("alter queue * set max_count=5, max_lag='bogus'", qr/invalid input syntax for type interval/,
		'alter queue * with a bad value fails');
	is(sql("select count(*) from pgq.queue where queue_ticker_max_count = 5"), '0',
		"$mode: no queue was changed");

	# help, version, SQL
	stmt_ok('show help', qr/^  register consumer C \[on Q\] \[at TICK \| copy C2\];$/m, 'show help');
	stmt_ok('show version', qr/^qadmin version \S+\nserver version 15\.\S*.*\npgq version \S+\n/m,
		'show version');
	$out = stmt_ok("select 1 as one, null as nothing, 'text' as three", qr/^SELECT 1$/m, 'SQL select');
	like($out, qr/^one +nothing +three\n-{10}  -{10}  -{10}\n1 {11} {12}text\n\nSELECT 1\n/m,
		"$mode: SQL result table with NULL printed empty");
	stmt_ok('create table sqltab (x int)', qr/^CREATE TABLE$/m, 'SQL command tag');
	stmt_ok("insert into sqltab values (1), (2)", qr/^INSERT 0 2$/m, 'SQL insert tag');
	stmt_ok("select ';' as semi; select \$\$;\$\$ as dollar", qr/^;\s*\n\nSELECT 1\n.*\n-+\n;\n/m,
		'semicolons inside quotes do not end statements');
	stmt_ok('show search_path', qr/^SHOW$/m, 'show of a setting goes to the server');
	stmt_ok('select 1 as a; exit; select 2 as b', qr/^a\n/, 'exit stops reading');
	unlike((run_stmt('select 1 as a; exit; select 2 as b'))[1], qr/^b$/m,
		"$mode: nothing after exit ran");
}

# ---- error paths (statements in -c mode unless said) ----
$mode = '-c';
$db   = 'qa_c';
stmt_fails('drop queue nosuch', qr/^ERROR: queue "nosuch" does not exist$/m, 'unknown queue');
stmt_fails('show queue nosuch', qr/queue "nosuch" does not exist/, 'show of an unknown queue');
stmt_fails('unregister consumer nosuch from q1', qr/consumer "nosuch" is not registered on queue "q1"/,
	'unknown consumer');
stmt_fails('show consumer nosuch on q1', qr/consumer "nosuch" is not registered/, 'show of an unknown consumer');
stmt_fails('register consumer x copy nosuch on q1', qr/consumer "nosuch" is not registered/,
	'copy from an unknown consumer');
stmt_fails('unregister subconsumer s9 for c1 from q1', qr/subconsumer "s9" of consumer "c1" is not registered/,
	'unknown subconsumer');
stmt_fails('show node nosuch', qr/node "nosuch" is not known/, 'unknown node');
stmt_fails('show batch 99999', qr/batch 99999 does not exist/, 'unknown batch');
stmt_fails('show table nosuch', qr/table "nosuch" does not exist/, 'unknown table');
stmt_fails('show sequence nosuch', qr/sequence "nosuch" does not exist/, 'unknown sequence');
stmt_fails('register consumer x', qr/no queue given/, 'no queue');
stmt_fails('register consumer x on nosuch', qr/queue "nosuch" does not exist/, 'register on an unknown queue');
stmt_fails('register subconsumer s for x on nosuch', qr/queue "nosuch" does not exist/,
	'register subconsumer on an unknown queue');
stmt_fails('londiste tables', qr/queue "q1" is not a cascade node/, 'londiste on a plain queue', '-Q', 'q1');
stmt_fails('connect node=rootnode', qr/node= needs a queue/, 'connect node= without a queue');
stmt_fails('connect node=nosuch queue=rq', qr/node "nosuch" is not known on queue "rq"/, 'connect to an unknown node');
stmt_fails('connect dbname=no_such_db', qr/could not connect: .*no_such_db/, 'connect to a missing database');
stmt_fails('create queue a b', qr/^ERROR: syntax error: at or near "b"$/m, 'bad syntax');
stmt_fails('create queue', qr/syntax error: unexpected end of statement/, 'statement cut short');
stmt_fails('register consumer c on q1 at x', qr/syntax error: "at" needs a tick id/, 'tick not a number');
stmt_fails('alter queue q1 set foo=1', qr/unknown queue setting "foo"/, 'bad queue setting');
stmt_fails('alter queue q1 set max_count', qr/needs a value/, 'setting without a value');
stmt_fails('londiste add table t with bogus', qr/unknown table option "bogus"/, 'bad table option');
stmt_fails('connect bogus=1', qr/unknown connect option "bogus"/, 'bad connect option');
stmt_fails('install everything', qr/install pgq.*install londiste/, 'install of an unknown module');
stmt_fails(q{create queue 'unterminated}, qr/statement not ended/, 'unterminated quote');
stmt_fails('select 1/0', qr/^ERROR: division by zero$/m, 'SQL error exits 1');

# -f: a syntax error is skipped, an SQL error stops
$mode = '-f';
my ($rc, $out, $err) = run_stmt("create queue a b;\ncreate queue after_syntax_error");
is($rc, 1, '-f: exit 1 after a skipped syntax error');
like($err, qr/script\.sql:1: ERROR: syntax error/, '-f: the error names the file and line');
is(sql("select count(*) from pgq.queue where queue_name = 'after_syntax_error'"), '1',
	'-f: the statement after the syntax error ran');
($rc, $out, $err) = run_stmt("select 1;\n\nselect 1/0;\ncreate queue after_sql_error");
is($rc, 1, '-f: exit 1 after an SQL error');
like($err, qr/script\.sql:3: ERROR: division by zero/, '-f: the SQL error names its line');
is(sql("select count(*) from pgq.queue where queue_name = 'after_sql_error'"), '0',
	'-f: nothing after the SQL error ran');

# columns line up by screen width, not bytes, in a UTF-8 database
$node->safe_psql('postgres',
	"create database qa_utf8 encoding 'UTF8' template template0 lc_collate 'C' lc_ctype 'C'");
($rc, $out, $err) = qadmin($node, 'qa_utf8', '-c',
	"select '\xc3\xbcn\xc3\xafc\xc3\xb8d\xc3\xa9' as name, 'x' as b");
ok($rc == 0 && $out =~ /^\xc3\xbcn\xc3\xafc\xc3\xb8d\xc3\xa9 {5}x$/m,
	'multibyte values are padded by their width')
  or diag("$rc\n$out\n$err");

# statements on standard input work like -f
($rc, $out, $err) = qadmin({ stdin => "show queue q1;\n" }, $node, 'qa_c');
ok($rc == 0 && $out =~ /^q1 /m, 'statements from standard input') or diag("$rc\n$out\n$err");

# command line
($rc, $out, $err) = qadmin($node, 'qa_c', '-c', 'select 1', '-f', "$dir/script.sql");
ok($rc == 2 && $err =~ /-c and -f cannot be used together/, '-c with -f is a usage error')
  or diag("$rc\n$err");
($rc, $out, $err) = qadmin($node, undef, '--help');
ok($rc == 0 && $out =~ /^Usage:\n  qadmin \[OPTION\]\.\.\. \[DBNAME \| CONNSTR\]$/m, '--help');
($rc, $out, $err) = qadmin($node, undef, '--version');
ok($rc == 0 && $out =~ /^qadmin \(pgq\) \S+$/, '--version');
($rc, $out, $err) = qadmin($node, undef, '--bogus');
ok($rc == 2 && $err =~ /--help/, 'unknown option is a usage error');
($rc, $out, $err) = qadmin($node, 'qa_c', 'extra', '-c', 'select 1');
ok($rc == 2 && $err =~ /database given twice/, 'a second database is a usage error');
($rc, $out, $err) = qadmin($node, 'qa_c', '-f', "$dir/no/such/file");
ok($rc == 1 && $err =~ /could not open/, 'missing script file');
($rc, $out, $err) = qadmin($node, 'no_such_database', '-c', 'select 1');
ok($rc == 1 && $err =~ /could not connect/, 'connection failure exits 1');
($rc, $out, $err) = qadmin(undef, undef, '-h', $node->host, '-p', $node->port, '-Q', 'q1', '-c',
	'show queue q1', "dbname=qa_c");
ok($rc == 0 && $out =~ /^q1 /m, 'a connection string as the argument') or diag("$rc\n$out\n$err");

# doc/qadmin.md shows the --help text, and its examples (the ```qadmin
# blocks) run as pasted, each in a session of its own, in order, in a
# fresh database named as the document says; node locations there are
# plain "dbname=...", so libpq takes host and port from the environment.
my $doc = slurp_file("$FindBin::RealBin/../../doc/qadmin.md");
my ($doc_help) = $doc =~ /`qadmin --help` prints:\n\n```text\n(.*?)```\n/s;
($rc, $out, $err) = qadmin($node, undef, '--help');
is($out, $doc_help // 'no --help block found', 'doc/qadmin.md shows the --help text');
$node->safe_psql('postgres', 'create database qadmin_demo');
{
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	my $examples = 0;
	while ($doc =~ /^```qadmin\n(.*?)^```$/msg)
	{
		my $block = $1;
		my $file  = "$dir/example.sql";
		$examples++;
		open my $fh, '>', $file or die "writing $file: $!";
		print $fh $block;
		close $fh;
		($rc, $out, $err) = qadmin($node, 'qadmin_demo', '-f', $file);
		ok($rc == 0 && $err eq '', "doc/qadmin.md example $examples runs")
		  or diag("example:\n$block\nexit $rc\nstdout:\n$out\nstderr:\n$err");
	}
	ok($examples >= 10, "doc/qadmin.md has examples ($examples)");
}

done_testing();
