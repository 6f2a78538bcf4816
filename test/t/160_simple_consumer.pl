# simple_consumer (spec tools.md 5.3, test 14): dst_query gets the decoded
# ev_data keys and every pgq.* key as bound parameters, so quotes and SQL
# in the data land verbatim; events that are not row changes are skipped
# and counted; a failing query makes the whole batch run again
# (at-least-once, visible as repeated rows); table_filter and
# consumer_filter restrict the events; a key missing from the event, a bad
# config and an unknown queue are errors with exit code 1.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use IPC::Run;
use PostgreSQL::Test::Utils;
use SimpleConsumerTest;
use Test::More;
use TestFiles;

my $prog = 'simple_consumer';
my $dir  = PostgreSQL::Test::Utils::tempdir;
my $node = setup_simple('simple');

#### command line

my ($rc, $out, $err) = run_prog($prog, '--help');
is($rc, 0, '--help exits 0');
like($out, qr/Usage/i, '--help prints the usage');
($rc, $out, $err) = run_prog($prog, '--version');
is($rc, 0, '--version exits 0');
($rc, $out, $err) = run_prog($prog, '--no-such-switch');
is($rc, 2, 'an unknown switch exits 2');
($rc, $out, $err) = run_prog($prog);
is($rc, 2, 'no config file exits 2');

($rc, $out, $err) = run_prog('simple_consumer3', '--version');
is($rc, 0, 'the compatibility name simple_consumer3 runs it');
like($out, qr/^simple_consumer /, '... as simple_consumer');

($rc, $out, $err) = run_prog($prog, '--ini');
is($rc, 0, '--ini exits 0');
like($out, qr/^\[simple_consumer3\]$/m, '--ini: the main section');
like($out, qr/^dst_query = .*%%\(id\)s/m,
	'--ini: the placeholders are written %%(key)s');

# The template is a config the program accepts: only the connect strings
# and the queue need changing for it to run.
my $template = $out;
$template =~ s/^src_db = .*$/"src_db = " . $node->connstr('postgres')/me;
$template =~ s/^dst_db = .*$/"dst_db = " . $node->connstr('dst')/me;
$template =~ s/^queue_name = .*$/queue_name = sq/m;
$template =~ s/^(logfile|pidfile) = .*$//mg;
$template =~
  s/^dst_query = .*$/dst_query = insert into applied (id, name) values (%%(id)s, %%(name)s)/m;
write_file("$dir/template.ini", $template . "loop_delay = 0\n");
($rc, $out, $err) = run_prog($prog, "$dir/template.ini", '--register');
is($rc, 0, 'the --ini template works as a config') or diag($err);
($rc, $out, $err) = run_prog($prog, "$dir/template.ini", '--unregister');
is($rc, 0, 'template consumer unregistered') or diag($err);

#### delivery of every key, verbatim

my $ini = "$dir/simple_one.ini";
write_file($ini, simple_ini($node, 'simple_consumer3'));
($rc, $out, $err) = run_prog($prog, $ini, '--register');
is($rc, 0, '--register exits 0') or diag($err);
isnt(consumer_tick($node, 'simple_one'), '',
	'registered under the job name (the config file name)');

my @tricky = (
	q{it's},
	q{x'); drop table applied; --},
	q{%(id)s and $1 and %s},
	q{a&b=c+d%20e},
	qq{tab\there, line\nbreak},
	q{back\\slash "double"},
	"unicode \xc3\xa4\xc3\xb6");
$node->safe_psql('postgres',
	'insert into data values '
	  . join(', ',
		map { '(' . ($_ + 1) . ", \$q\$$tricky[$_]\$q\$)" } 0 .. $#tricky)
	  . ', (100, null)');
$node->safe_psql('postgres',
	"update data set name = 'changed' where id = 1; delete from data where id = 2;");
$node->safe_psql('postgres', q{
select pgq.insert_event('sq', 'other', 'id=900&name=skipped', 'public.data', null, null, null);
select pgq.insert_event('sq', 'I', 'id=901&name=no+colon', 'public.data', null, null, null);
select pgq.insert_event('sq', 'I:id', 'id=902&name=extras', 'public.data', 'e2', 'e3', 'e4');
});
my $tick1 = tick($node);

($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 0, 'one batch applied, exit 0') or diag($err);
is(consumer_tick($node, 'simple_one'), $tick1, 'the batch was finished');

my %got = map { my @f = split /\|/, $_, 2; ($f[0] => $f[1]) }
  split /\n/, applied_rows($node, "coalesce(id, '<none>'), coalesce(name, '<null>')");
my $got_tricky = $node->safe_psql('dst',
	"select name from applied where id::int between 1 and "
	  . scalar(@tricky)
	  . " and ev_type = 'I:id' order by id::int");
is($got_tricky, join("\n", @tricky), 'quotes, SQL and escapes in data land verbatim');
ok( $node->safe_psql('dst', q{select count(*) from applied}) > 0,
	'table applied survived the injection attempt');
is($got{100}, '<null>', 'a NULL column arrives as NULL');
is($node->safe_psql('dst', "select ev_type || ':' || id || ':' || name from applied where ev_type like 'U:%'"),
	'U:id:1:changed', 'an update event arrives');
is($node->safe_psql('dst', "select ev_type || ':' || id from applied where ev_type like 'D:%'"),
	'D:id:2', 'a delete event arrives');
ok(!exists $got{900}, 'an event of another type is skipped');
ok(!exists $got{901}, 'type "I" without a colon is not a row change');
is($node->safe_psql('dst', 'select count(*) from applied'),
	scalar(@tricky) + 1 + 2 + 1, 'every row change applied once');
like(stats_line($err), qr/skipped-events: 2\b/,
	'the skipped events are counted in the stats line')
  or diag($err);

# The pgq.* keys match the event as the queue holds it.
my $src_events = $node->safe_psql('postgres', q{
select ev_id, ev_time, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4
  from pgq.event_template
 where ev_type in ('I:id', 'U:id', 'D:id') order by ev_id});
my $dst_events = $node->safe_psql('dst', q{
select ev_id, ev_time, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4
  from applied order by ev_id});
is($dst_events, $src_events,
	'pgq.ev_id, ev_time, ev_type, ev_data and ev_extra1..4 are the event\'s');
is($node->safe_psql('dst', 'select distinct tick_id from applied'),
	$tick1, 'pgq.tick_id is the batch\'s tick');
is($node->safe_psql('dst', "select ev_extra2 || ev_extra3 || ev_extra4 from applied where id = '902'"),
	'e2e3e4', 'extra2..4 arrive');

($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 0, 'no batch: exit 0');
is($node->safe_psql('dst', 'select count(*) from applied'),
	scalar(@tricky) + 4, 'nothing applied without a new tick');

#### skip_other_types = 0

# Events of other types then get the query too, with only the pgq.* keys:
# the dst_query above, which wants id and name, fails on them.
$node->safe_psql('postgres', q{
select pgq.insert_event('sq', 'other', 'id=910&name=x', 'public.data', null, null, null);
select pgq.insert_event('sq', 'I:id', 'id=911&name=y', 'public.data', null, null, null);
});
my $tick2 = tick($node);
($rc, $out, $err) = run_prog($prog, $ini, '--set', 'skip_other_types=0');
is($rc, 1, 'skip_other_types = 0: an event of another type has no data keys');
like($err, qr/\bid\b/, 'skip_other_types = 0: the missing key is named') or diag($err);
write_file("$dir/other_types.ini",
	simple_ini($node, 'simple_consumer3', "consumer_name = simple_one\nskip_other_types = 0\n")
	  =~ s/^dst_query = .*$/dst_query = insert into applied (ev_id, ev_type, ev_data) values (%%(pgq.ev_id)s, %%(pgq.ev_type)s, %%(pgq.ev_data)s)/mr);
($rc, $out, $err) = run_prog($prog, "$dir/other_types.ini");
is($rc, 0, 'skip_other_types = 0: batch applied') or diag($err);
is(consumer_tick($node, 'simple_one'), $tick2, 'skip_other_types = 0: batch finished');
is( $node->safe_psql(
		'dst',
		"select ev_type || ':' || ev_data from applied where ev_id > (select max(ev_id) - 2 from applied) order by ev_id"
	),
	"other:id=910&name=x\nI:id:id=911&name=y",
	'skip_other_types = 0: every event got the query');

#### a failing query runs the whole batch again

# A check constraint that the fourth event of the batch violates until it
# is dropped: the first three are applied each time the batch runs.
$node->safe_psql('dst', q{alter table applied add constraint not_four check (name <> 'fail-4')});
$node->safe_psql('postgres', q{
select pgq.insert_event('sq', 'I:id', 'id=' || i || '&name=fail-' || i, 'public.data', null, null, null)
  from generate_series(1, 4) i;
});
my $before_fail = consumer_tick($node, 'simple_one');
my $tick3 = tick($node);
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 1, 'failing query: exit 1');
like($err, qr/violates check constraint "not_four"/,
	'failing query: the server\'s error is shown');
like($err, qr/event \d+/, 'failing query: the event is named');
is(consumer_tick($node, 'simple_one'), $before_fail,
	'failing query: the batch is not finished');
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 1, 'failing query again: exit 1');
$node->safe_psql('dst', 'alter table applied drop constraint not_four');
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 0, 'query fixed: exit 0') or diag($err);
is(consumer_tick($node, 'simple_one'), $tick3, 'the batch is finished');
is( $node->safe_psql(
		'dst',
		"select id || 'x' || count(*) from applied where name like 'fail-%' group by id order by id"),
	"1x3\n2x3\n3x3\n4x1",
	'at-least-once: the events before the failure were applied once per run');

#### a key the event does not have

$node->safe_psql('postgres', q{
select pgq.insert_event('sq', 'I:id', 'id=20&name', 'public.data', null, null, null);
select pgq.insert_event('sq', 'I:id', 'id=21', 'public.data', null, null, null);
});
my $tick4 = tick($node);
($rc, $out, $err) = run_prog($prog, $ini);
is($rc, 1, 'missing key: exit 1');
like($err, qr/\bname\b/, 'missing key: the key is named') or diag($err);
isnt(consumer_tick($node, 'simple_one'), $tick4, 'missing key: the batch is not finished');
$node->safe_psql('postgres', "select pgq.unregister_consumer('sq', 'simple_one')");

#### table_filter and consumer_filter

$node->safe_psql('postgres', q{
create table other (id int primary key, name text);
create trigger other_to_queue after insert on other
    for each row execute procedure pgq.logutriga('sq');
});
foreach my $job ('tf', 'cf', 'both')
{
	my $extra =
	    $job eq 'tf' ? "table_filter = other\n"
	  : $job eq 'cf' ? "consumer_filter = ev_data like '%%name=keep%%'\n"
	  :                "table_filter = data\nconsumer_filter = ev_data like '%%name=keep%%'\n";
	write_file("$dir/$job.ini", simple_ini($node, 'simple_consumer', $extra));
	($rc, $out, $err) = run_prog($prog, "$dir/$job.ini", '--register');
	is($rc, 0, "$job: registered") or diag($err);
}
$node->safe_psql('dst', 'truncate applied');
$node->safe_psql('postgres', q{
insert into data values (31, 'keep'), (32, 'drop');
insert into other values (41, 'keep'), (42, 'drop');
});
tick($node);
my %filtered;
foreach my $job ('tf', 'cf', 'both')
{
	$node->safe_psql('dst', 'truncate applied');
	($rc, $out, $err) = run_prog($prog, "$dir/$job.ini");
	is($rc, 0, "$job: batch applied") or diag($err);
	$filtered{$job} = $node->safe_psql('dst',
		"select string_agg(ev_extra1 || ':' || id, ' ' order by id::int) from applied");
}
is($filtered{tf}, 'public.other:41 public.other:42',
	'table_filter (schema added) keeps only that table');
is($filtered{cf}, 'public.data:31 public.other:41',
	'consumer_filter keeps the events its condition accepts');
is($filtered{both}, 'public.data:31',
	'table_filter and consumer_filter together: both apply');

#### reload: a broken dst_query is refused, a new one is taken

my $looping = "$dir/simple_loop.ini";
my $loop_conf = simple_ini($node, 'simple_consumer3',
	"pidfile = $dir/simple_loop.pid\n") =~ s/^loop_delay = 0$/loop_delay = 0.1/mr;
write_file($looping, $loop_conf);
($rc, $out, $err) = run_prog($prog, $looping, '--register');
is($rc, 0, 'looping consumer registered') or diag($err);
$node->safe_psql('dst', 'truncate applied');
my ($lout, $lerr) = ('', '');
my $looper = IPC::Run::start([ $prog, $looping ], '<', \undef, '>', \$lout, '2>', \$lerr);

# Wait until the looping consumer's stderr matches $re.
sub wait_for_log
{
	my ($re) = @_;
	return poll_until(sub { $looper->pump_nb; $lerr =~ $re });
}

ok( $node->poll_query_until(
		'postgres',
		"select count(*) > 0 from pg_stat_activity where application_name = 'simple_loop'")
	  && -e "$dir/simple_loop.pid",
	'looping consumer started');
write_file($looping, $loop_conf =~ s/^dst_query = .*\n//mr);
($rc, $out, $err) = run_prog($prog, $looping, '-r');
is($rc, 0, '-r with dst_query removed: signalled');
ok(wait_for_log(qr/"dst_query" is missing/), 'the reload is refused, naming dst_query')
  or diag($lerr);
$node->safe_psql('postgres', "insert into data values (60, 'after broken reload')");
tick($node);
ok( $node->poll_query_until('dst', "select count(*) = 1 from applied where name = 'after broken reload'"),
	'a refused reload keeps the old dst_query working');

write_file($looping,
	$loop_conf =~ s/^dst_query = .*$/dst_query = insert into applied (id, name) values (%%(id)s, 'new query: ' || %%(name)s)/mr);
($rc, $out, $err) = run_prog($prog, $looping, '-r');
is($rc, 0, '-r with a new dst_query: signalled');
ok(wait_for_log(qr/Config reloaded/), 'the good reload is taken');
$node->safe_psql('postgres', "insert into data values (61, 'x')");
tick($node);
ok( $node->poll_query_until('dst', "select count(*) = 1 from applied where name = 'new query: x'"),
	'after a good reload the new dst_query is used');
($rc, $out, $err) = run_prog($prog, $looping, '-s');
is($rc, 0, '-s: signalled');
$looper->finish;
is($looper->result(0), 0, 'the looping consumer stopped with exit 0');
($rc, $out, $err) = run_prog($prog, $looping, '--unregister');

#### config and queue errors

write_file("$dir/nosection.ini", "[other]\nsrc_db = x\n");
($rc, $out, $err) = run_prog($prog, "$dir/nosection.ini");
is($rc, 1, 'no main section: exit 1');
like($err, qr/simple_consumer3/, 'no main section: the section is named');

($rc, $out, $err) = run_prog($prog, "$dir/missing.ini");
is($rc, 1, 'missing config file: exit 1');

my $noquery = simple_ini($node, 'simple_consumer3') =~ s/^dst_query = .*\n//mr;
write_file("$dir/noquery.ini", $noquery);
($rc, $out, $err) = run_prog($prog, "$dir/noquery.ini");
is($rc, 1, 'no dst_query: exit 1');
like($err, qr/dst_query/, 'no dst_query: the key is named');

my $nodst = simple_ini($node, 'simple_consumer3') =~ s/^dst_db = .*\n//mr;
write_file("$dir/nodst.ini", $nodst);
($rc, $out, $err) = run_prog($prog, "$dir/nodst.ini");
is($rc, 1, 'no dst_db: exit 1');
like($err, qr/dst_db/, 'no dst_db: the key is named');

my $badquery = simple_ini($node, 'simple_consumer3') =~ s/^dst_query = .*$/dst_query = select %%(unclosed/mr;
write_file("$dir/badquery.ini", $badquery);
($rc, $out, $err) = run_prog($prog, "$dir/badquery.ini");
is($rc, 1, 'malformed dst_query: exit 1');
like($err, qr/dst_query/, 'malformed dst_query: named in the error');

# pgq.ev_time keeps its value between servers whose DateStyles differ
# (day first on the source, month first on the target).
$node->safe_psql('postgres', q{
alter database postgres set datestyle = 'SQL, DMY';
select pgq.register_consumer('sq', 'simple_datestyle');
});
$node->safe_psql('dst', q{alter database dst set datestyle = 'SQL, MDY'});
my $dated = $node->safe_psql('postgres',
	"select pgq.insert_event('sq', 'I:id', 'id=80&name=dated', 'public.data', null, null, null)");
$node->safe_psql('postgres',
	"update pgq.event_template set ev_time = '2026-01-02 03:04:05+00' where ev_id = $dated");
tick($node);
write_file("$dir/simple_datestyle.ini", simple_ini($node, 'simple_consumer3'));
($rc, $out, $err) = run_prog($prog, "$dir/simple_datestyle.ini");
is($rc, 0, 'different DateStyles: batch applied') or diag($err);
is( $node->safe_psql(
		'dst', "select ev_time = '2026-01-02 03:04:05+00' from applied where name = 'dated'"),
	't',
	'different DateStyles: pgq.ev_time arrives unchanged');
$node->safe_psql('postgres', q{
alter database postgres reset datestyle;
select pgq.unregister_consumer('sq', 'simple_datestyle');
});
$node->safe_psql('dst', q{alter database dst reset datestyle});

# ev_data with a broken %-escape stops the batch, naming the event.
$node->safe_psql('postgres', "select pgq.register_consumer('sq', 'simple_badurl')");
my $bad_ev = $node->safe_psql('postgres',
	"select pgq.insert_event('sq', 'I:id', 'id=1&name=100%zz', 'public.data', null, null, null)");
my $badurl_before = consumer_tick($node, 'simple_badurl');
tick($node);
write_file("$dir/simple_badurl.ini", simple_ini($node, 'simple_consumer3'));
($rc, $out, $err) = run_prog($prog, "$dir/simple_badurl.ini");
is($rc, 1, 'malformed ev_data: exit 1');
like($err, qr/event $bad_ev: ev_data is not urlencoded: "id=1&name=100%zz"/,
	'malformed ev_data: the event and its data are named');
is(consumer_tick($node, 'simple_badurl'), $badurl_before,
	'malformed ev_data: the batch is kept');
$node->safe_psql('postgres', "select pgq.unregister_consumer('sq', 'simple_badurl')");

# Several statements cannot take parameters in one call; the documented
# way around it, data-modifying WITH clauses, works.
$node->safe_psql('postgres', "select pgq.register_consumer('sq', 'simple_multi')");
$node->safe_psql('postgres', "insert into data values (70, 'two statements')");
tick($node);
my $multi = simple_ini($node, 'simple_consumer3') =~
  s/^dst_query = .*$/dst_query = insert into applied (id) values (%%(id)s); insert into applied (name) values (%%(name)s)/mr;
write_file("$dir/simple_multi.ini", $multi);
($rc, $out, $err) = run_prog($prog, "$dir/simple_multi.ini");
is($rc, 1, 'two statements in dst_query: exit 1');
like($err, qr/cannot insert multiple commands into a prepared statement/,
	'two statements in dst_query: the server says why');
$multi =~
  s/^dst_query = .*$/dst_query = with a as (insert into applied (id) values (%%(id)s)) insert into applied (name) values (%%(name)s)/m;
write_file("$dir/simple_multi.ini", $multi);
($rc, $out, $err) = run_prog($prog, "$dir/simple_multi.ini");
is($rc, 0, 'a WITH clause instead: exit 0') or diag($err);
is( $node->safe_psql(
		'dst',
		"select count(*) filter (where id = '70') || ' ' || count(*) filter (where name = 'two statements') from applied"
	),
	'1 1',
	'a WITH clause instead: both inserts done');

my $noqueue = simple_ini($node, 'simple_consumer3') =~ s/^queue_name = sq$/queue_name = nosuchqueue/mr;
write_file("$dir/noqueue.ini", $noqueue);
($rc, $out, $err) = run_prog($prog, "$dir/noqueue.ini", '--register');
is($rc, 1, 'unknown queue: --register exits 1');
like($err, qr/nosuchqueue/, 'unknown queue: named in the error');
($rc, $out, $err) = run_prog($prog, "$dir/noqueue.ini");
is($rc, 1, 'unknown queue: a run exits 1');

my $baddst = simple_ini($node, 'simple_consumer3') =~ s/^dst_db = .*$/dst_db = dbname=nosuchdb host=\/nonexistent/mr;
write_file("$dir/simple_baddst.ini", $baddst);
($rc, $out, $err) = run_prog($prog, "$dir/simple_baddst.ini", '--register');
is($rc, 0, 'unreachable dst_db: --register still works') or diag($err);
$node->safe_psql('postgres', "insert into data values (50, 'x')");
my $tick5 = tick($node);
($rc, $out, $err) = run_prog($prog, "$dir/simple_baddst.ini");
is($rc, 1, 'unreachable dst_db: exit 1');
isnt(consumer_tick($node, 'simple_baddst'), $tick5,
	'unreachable dst_db: the batch is not finished');

#### the example of doc/simple_consumer.md works as pasted

# Its SQL blocks run in a database named as in its ini block; the ini
# block gets this node's connect options and a temporary home for ~.
my $doc = slurp_file("$FindBin::RealBin/../../doc/simple_consumer.md");
my @sql = $doc =~ /^```sql\n(.*?)^```/msg;
my ($example) = $doc =~ /^```ini\n(\[simple_consumer3\].*?)^```/ms;
ok(@sql >= 3 && defined $example, 'the example has its SQL and ini blocks');
$node->safe_psql('postgres', 'create database shop');
$node->safe_psql('shop', $_) foreach @sql[ 0 .. 1 ];
my $connopts = $node->connstr('shop') =~ s/\bdbname=\S+//r;
$example =~ s/^((?:src|dst)_db = .*)$/$1 $connopts/mg;
$example =~ s{~/}{$dir/home/}g;
mkdir "$dir/home";
mkdir "$dir/home/$_" foreach ('log', 'pid');
write_file("$dir/home/audit.ini", $example);
($rc, $out, $err) = run_prog($prog, "$dir/home/audit.ini", '--register');
is($rc, 0, 'example: --register works') or diag($err);
$node->safe_psql('shop', $sql[2]);
$node->safe_psql('shop', "select pgq.force_tick('audit_q'); select pgq.ticker('audit_q')");
($rc, $out, $err) = run_prog($prog, "$dir/home/audit.ini", '--set', 'loop_delay=0');
is($rc, 0, 'example: the consumer applies the batch') or diag($err);
is( $node->safe_psql(
		'shop',
		'select operation, id, owner, balance, ev_time is not null and tick_id > 0 from account_audit order by ev_id'
	),
	"I|1|O'Brien|10|t\nU|1|O'Brien|20|t\nD|1|O'Brien|20|t",
	'example: account_audit records the three changes');
ok(-s "$dir/home/log/audit.log", 'example: the log file is written');

($rc, $out, $err) = run_prog($prog, "$dir/tf.ini", '--unregister');
is($rc, 0, '--unregister exits 0');
is(consumer_tick($node, 'tf'), '', '--unregister removes the consumer');

$node->stop;
done_testing();
