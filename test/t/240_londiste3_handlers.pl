# londiste3's table handlers (src/londiste3/handlers/), driven by the test
# program test/londiste3/handlers/ldhandler_probe, which plays the worker's part for
# one handler on a real database.  Where python3-londiste has the handler,
# test/client/ldhandler_pyprobe.py runs the same script through Python's
# class on a second database and the tables must end up equal; dispatch,
# which python3-londiste 3.11 cannot build, is checked against fixed
# expectations.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $probe   = "$ENV{TESTDIR}/test/londiste3/handlers/ldhandler_probe";
my $pyprobe = "$ENV{TESTDIR}/test/client/ldhandler_pyprobe.py";
ok(-x $probe, 'ldhandler_probe is built') or die "run make first";
ok(run_log([ '/usr/bin/python3', '-I', '-c', 'import londiste.handler, yaml' ]),
	'python3-londiste is importable')
  or die "this test needs the Debian package python3-londiste";

my $node = PostgreSQL::Test::Cluster->new('handlers');
$node->init;
$node->start;

# c: what our handlers write into; py: what Python's write into
for my $db (qw(c py))
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql($db, <<'SQL');
create extension pgq;
create extension pgq_node;
create extension londiste;
create table t (id int primary key, v text, w int);
create table nopk (id int, v text);
create table fnlog (args text);
create function public.fn(variadic a text[]) returns void
  language sql as $$ insert into public.fnlog values (array_to_string($1, '|', 'NULL')) $$;
create function public.merge_on_time(variadic a text[]) returns void
  language sql as $$ insert into public.fnlog values ('merge:' || array_to_string($1, '|', 'NULL')) $$;
create schema partconf;
create table partconf.conf (shard_nr int, shard_mask int, shard_count int);
insert into partconf.conf values (1, 1, 2);
create function partconf.get_hash_raw(i text) returns int
  language sql as $$ select pg_catalog.hashtext(i) $$;
create table sh (id int primary key, v text);
create table ob (id int primary key, name text, flag text, h32 text,
  h64 text, doc text, secret text);
create table ev (id int primary key, ts timestamptz, v text);
create table evlog (id int, ts timestamptz, v text);
create table mapped (id int primary key, value text);
select pgq.create_queue('split');
SQL
}

my $tmp = PostgreSQL::Test::Utils::tempdir;

# the ini of database $db, with extra [londiste] lines
sub ini
{
	my ($db, $extra) = @_;
	my $path = "$tmp/$db.ini";
	my $connstr = $node->connstr($db);
	open(my $fh, '>', $path) or die "$path: $!";
	print $fh "[londiste]\njob_name = probe_$db\ndb = $connstr\n"
	  . "queue_name = q\nlogfile = $tmp/$db.log\npidfile = $tmp/$db.pid\n"
	  . ($extra // '');
	close $fh;
	return $path;
}

open(my $yf, '>', "$tmp/ob.yaml") or die;
print $yf <<'EOF';
public.ob:
  id: keep
  name: hash
  flag: bool
  h32: hash32
  h64: hash64
  doc:
    a: keep
    b: hash
    n:
      x: hash32
      y: bool
      z: keep
    m: keep
    k: hash64
EOF
close $yf;
my $all_modules = "handler_modules = londiste.handlers.bulk, "
  . "londiste.handlers.applyfn, londiste.handlers.multimaster, "
  . "londiste.handlers.qtable, londiste.handlers.vtable, "
  . "londiste.handlers.shard, londiste.handlers.obfuscate, "
  . "londiste.handlers.dispatch\nobfuscator_map = $tmp/ob.yaml\n";

# run our probe on database c: (exit code, stdout, stderr); $base
# replaces the usual config lines
sub ours
{
	my ($table, $handler, $script, $extra, $base) = @_;
	my ($out, $err) = ('', '');
	local $ENV{PROBE_DEBUG} = 1;
	IPC::Run::run([ $probe, ini('c', ($base // $all_modules) . ($extra // '')), $table, $handler ],
		'<', \$script, '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

# run Python's handler on database py
sub theirs
{
	my ($table, $handler, $script, $extra) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ '/usr/bin/python3', '-I', $pyprobe,
			ini('py', $all_modules . ($extra // '')), $table, $handler ],
		'<', \$script, '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

sub rows
{
	my ($db, $sql) = @_;
	return $node->safe_psql($db, $sql);
}

# the same script through both, then the same query on both databases
sub compare
{
	my ($name, $table, $handler, $script, $query, $extra) = @_;
	rows($_, "truncate $table") for qw(c py);
	my ($rc1, $out1, $err1) = ours($table, $handler, $script, $extra);
	my ($rc2, $out2, $err2) = theirs($table, $handler, $script, $extra);
	is($rc1, 0, "$name: ours succeeds") or diag($err1);
	is($rc2, 0, "$name: Python's succeeds") or diag($err2);
	my $c = rows('c', $query);
	is($c, rows('py', $query), "$name: same rows as Python");
	return ($c, $out1, $err1);
}

# --- bulk -----------------------------------------------------------------

my $bulk_script = <<'EOF';
batch 5 2026-12-07 10:00:00+00
event I:id	id=1&v=a&w=1	public.t
event I:id	id=2&v=b&w=2	public.t
event I:id	id=3&v=c%5ct&w=3	public.t
event U:id	id=2&v=bb&w=2	public.t
event I:id	id=4&v=d&w=4	public.t
event D:id	id=4&v=d&w=4	public.t
finish
batch 6 2026-12-07 10:00:01+00
event U:id	id=1&v=a2&w=1	public.t
event D:id	id=2&v=bb&w=2	public.t
event U:id	id=3&v=c3&w=3	public.t
event D:id	id=3&v=c3&w=3	public.t
event I:id	id=3&v=c4&w	public.t
event I:id	id=5&v=e%09tab%0anl&w=5	public.t
finish
EOF
for my $method (0, 1, 2)
{
	my ($rows, $out, $err) = compare("bulk method $method", 'public.t',
		"bulk(method=$method)", $bulk_script,
		'select id, v, w from t order by id');
	is($rows, "1|a2|1\n3|c4|\n5|e\ttab\nnl|5", "bulk method $method: final rows");
	unlike($out, qr/^SQL: (insert into public\.t \(id, v|update only|delete from)/m,
		"bulk method $method: no statement per row");
	my $copy_target = $method == 2 ? 'public_t_loadertmp' : 'public\.t';
	like($err, qr/copy $copy_target \(id,v,w\) from stdin/,
		"bulk method $method: new rows by COPY");
	like($err, qr/create temp table public_t_loadertmp \(like public\.t\) on commit preserve rows/,
		"bulk method $method: the temp table");
}

my ($rc, $out, $err) = ours('public.t', 'bulk(method=0)', <<'EOF');
batch 7 x
event U:id	id=99&v=x&w=1	public.t
finish
EOF
is($rc, 0, 'bulk: update of a missing row is applied');
like($err, qr/WARNING public\.t: Update mismatch: expected=1 updated=0/,
	'bulk: the row count mismatch is reported');

# python3-londiste's bulk fails on a table without primary key (it takes
# the key list of "I:" for one empty column name), so no comparison here
($rc, $out, $err) = ours('public.nopk', 'bulk', <<'EOF');
batch 8 x
event I:	id=1&v=a	public.nopk
event I:	id=1&v=a	public.nopk
event I:	id=2&v=b	public.nopk
finish
EOF
is($rc, 0, 'bulk without primary key: inserts applied') or diag($err);
my $rows = rows('c', 'select id, v from nopk order by id, v');
is($rows, "1|a\n1|a\n2|b", 'bulk without primary key: every insert kept');
($rc, $out, $err) = ours('public.nopk', 'bulk', "batch 9 x\nevent U:\tid=1&v=z\tpublic.nopk\nfinish\n");
isnt($rc, 0, 'bulk without primary key: an update fails the batch');
like($err, qr/non-pk tables not supported: public\.nopk/, 'bulk: the non-pk error');

($rc, $out, $err) = ours('public.t', 'bulk(method=5)', '');
like($err, qr/unknown method: 5/, 'bulk: method out of range');
isnt($rc, 0, 'bulk: a bad method is an error');
($rc, $out, $err) = ours('public.t', 'bulk(foo=1,method=1,bar=2)', '');
like($err, qr/Invalid handler argument: \['foo', 'bar'\]/, 'bulk: unknown arguments listed');
($rc, $out, $err) = ours('public.t', 'bulk', "batch 1 x\nevent I\t(id) values (1)\tpublic.t\nfinish\n");
like($err, qr/Unsupported event type: I\/extra1=public\.t/, 'bulk: SQL events refused');

# --- applyfn and multimaster ----------------------------------------------

my $fn_script = <<'EOF';
batch 42 2026-12-07 10:00:00+00
event I:id	id=1&v=it's	public.t	x2	\N	x4	2026-12-07 09:59:59.5+00
event D:id	id=1	public.t	\N	\N	\N	2026-12-07 09:59:59.6+00
finish
EOF
my $fnlog = "select args from fnlog order by args";
($rows, $out) = compare('applyfn', 'public.fnlog', 'applyfn(func_name=public.fn,func_conf=a%3d1)',
	$fn_script, $fnlog);
is( $rows,
	"a=1|42|1|2026-12-07 09:59:59.5+00|1001|NULL|I:id|id=1&v=it's|public.t|x2|NULL|x4\n"
	  . "a=1|42|2|2026-12-07 09:59:59.6+00|1002|NULL|D:id|id=1|public.t|NULL|NULL|NULL",
	'applyfn: the function gets conf, tick and the event');
like($out, qr/^SQL: select public\.fn\('a=1', '42', '1', /m, 'applyfn: the statement');
($rc, $out, $err) = ours('public.t', 'applyfn', '');
like($err, qr/handler applyfn needs func_name/, 'applyfn: func_name is required');

($rows) = compare('multimaster', 'public.fnlog', 'multimaster(x=1,y=a%20b)',
	$fn_script, $fnlog);
like($rows, qr/^merge:x=1&y=a\+b\|42\|1\|/m, 'multimaster: merge_on_time with the other args');
($rc, $out) = ours('public.t', 'multimaster', "info\n");
like($out, qr/^trigger_arg: no_merge$/m, 'multimaster: trigger arg no_merge');

# --- vtable, fake_local, qtable, qsplitter -------------------------------

for my $h (qw(vtable fake_local))
{
	($rc, $out) = ours('public.missing', $h,
		"info\nbatch 1 x\nevent I:id\tid=1\tpublic.missing\nfinish\ncopy_columns id\n");
	is($rc, 0, "$h: events of a missing table are skipped");
	like($out, qr/^needs_table: no\ntrigger_arg: virtual_table\n/m, "$h: needs no table");
	like($out, qr/^copy_columns: none$/m, "$h: nothing is copied");
	unlike($out, qr/^SQL:/m, "$h: no statements");
	($rc, $out, $err) = ours('public.t', "$h(x=1)", '');
	like($err, qr/Invalid handler argument: \['x'\]/, "$h: takes no arguments");
}

($rc, $out) = ours('public.q', 'qtable',
	"info\nbatch 1 x\nevent I:id\tid=1\tpublic.q\nfinish\ncopy_columns id\n");
like($out, qr/^needs_table: no\ntrigger_arg: tgflags=BI\ntrigger_arg: SKIP\ntrigger_arg: expect_sync\n/m,
	'qtable: trigger args');
like($out, qr/^copy_columns: none$/m, 'qtable: nothing is copied');
unlike($out, qr/^SQL:/m, 'qtable: events ignored');

my $split_script = <<'EOF';
batch 3 x
event I:id	id=1&v=a	public.src	e2	e3	\N	2026-12-01 10:00:00+00
event U:id	id=1&v=tab%09	public.src	\N	\N	e4	2026-12-01 10:00:01+00
finish
EOF
# the queue's events, read from its event tables
sub split_events
{
	my ($db) = @_;
	my $tbl = rows($db, "select queue_data_pfx from pgq.queue where queue_name = 'split'");
	return rows($db, "select ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4, ev_time "
		  . "from $tbl order by ev_id");
}
($rc, $out, $err) = ours('public.src', 'qsplitter(queue=split)', "info\n$split_script");
is($rc, 0, 'qsplitter: batch applied') or diag($err);
like($out, qr/^needs_table: no\ntrigger_arg: virtual_table$/m, 'qsplitter: needs no table');
($rc, undef, $err) = theirs('public.src', 'qsplitter(queue=split)', $split_script);
is($rc, 0, "qsplitter: Python's batch applied") or diag($err);
is(split_events('c'), split_events('py'), 'qsplitter: same events as Python');
like(split_events('c'), qr/^U:id\|id=1&v=tab%09\|public\.src\|\|\|e4\|2026-12-01 10:00:01\+00$/m,
	'qsplitter: events kept as they were');
($rc, $out, $err) = ours('public.src', 'qsplitter', '');
like($err, qr/specify queue with handler-arg/, 'qsplitter: queue is required');

# --- shard ----------------------------------------------------------------

my $h1 = rows('c', "select partconf.get_hash_raw('1')");
my $h2 = rows('c', "select partconf.get_hash_raw('2')");
my ($mine, $other) = ($h1 & 1) == 1 ? ('1', '2') : ('2', '1');
my ($hmine, $hother) = $mine eq '1' ? ($h1, $h2) : ($h2, $h1);
my $shard_script = <<"EOF";
batch 1 x
event I:id	id=$mine&v=a	public.sh	\\N	hash=$hmine
event I:id	id=$other&v=b	public.sh	\\N	hash=$hother
event U:id	id=$mine&v=a2	public.sh	\\N	hash=$hmine
finish
EOF
($rows) = compare('shard', 'public.sh', 'shard(key=id)', $shard_script,
	'select id, v from sh order by id');
is($rows, "$mine|a2", 'shard: only the local shard is applied');
($rc, $out) = ours('public.sh', 'shard(hash_key=id)',
	"info\ncopy_condition\nbatch 2 x\ncopy_event I:id\tid=$other\tpublic.sh\t\\N\thash=$hother\n"
	  . "copy_event I:id\tid=$mine\tpublic.sh\t\\N\thash=$hmine\n");
like($out, qr/^trigger_arg: ev_extra3='hash='\|\|partconf\.get_hash_raw\(id\)$/m,
	'shard: the trigger puts the hash into ev_extra3');
like($out, qr/^copy_condition: \(partconf\.get_hash_raw\(id\) & 1\) = 1$/m,
	'shard: copy condition');
like($out, qr/^copy_event: dropped\ncopy_event type: I:id\ncopy_event data: id=$mine$/m,
	'shard: only local events go downstream');
($rc, $out, $err) = ours('public.sh', 'shard(key=id)', "batch 3 x\nevent I:id\tid=1\tpublic.sh\nfinish\n");
like($err, qr/handlers\.shard: extra3 not filled on public\.sh/, 'shard: missing hash is an error');
isnt($rc, 0, 'shard: the batch fails without a hash');
($rc, $out, $err) = ours('public.sh', 'shard', '');
like($err, qr/Specify hash key field as hash_key argument/, 'shard: key required');
($rc, $out) = ours('public.gone', 'part(key=id,disable_replay=1)',
	"info\nbatch 1 x\nevent I:id\tid=1\tpublic.gone\t\\N\thash=$hmine\nfinish\ncopy_columns id\n");
like($out, qr/^needs_table: no$/m, 'part with disable_replay: no table needed');
unlike($out, qr/^SQL:/m, 'part with disable_replay: nothing applied');
like($out, qr/^copy_columns: none$/m, 'part with disable_replay: nothing copied');
rows('c', 'truncate sh');
($rc, $out, $err) = ours('public.sh', 'shard(key=id,encoding=utf8)',
	"batch 4 x\nevent I:id\tid=7&v=%ff%e2%82x%c3%a4\tpublic.sh\t\\N\thash=$hmine\nfinish\n");
is($rc, 0, 'shard with encoding=utf8: invalid UTF-8 applied') or diag($err);
is(rows('c', "select encode(convert_to(v, 'UTF8'), 'hex') from sh where id = 7"),
	'efbfbdefbfbd78c3a4', 'shard with encoding=utf8: one U+FFFD per invalid sequence');
like($err, qr/Fixed invalid UTF8 in column <public\.sh\.v>/, 'shard: the repair is logged');
($rc, $out, $err) = ours('public.sh', 'shard(key=id,encoding=latin1)', '');
like($err, qr/only utf8 supported/, 'shard: other encodings refused');
rows('c', 'update partconf.conf set shard_mask = 2, shard_count = 3');
($rc, $out, $err) = ours('public.sh', 'shard(key=id)', $shard_script);
like($err, qr/Invalid shard info/, 'shard: shard_count must be shard_mask + 1, a power of 2');
rows('c', 'update partconf.conf set shard_mask = 1, shard_count = 2');

# --- obfuscate ------------------------------------------------------------

my $ob_script = <<'EOF';
batch 1 2026-12-07 10:00:00+00
event I:id	id=1&name=Alice&flag=f&h32=x&h64=%c3%a4%c3%b6&doc=%7b%22a%22%3a+1%2c+%22b%22%3a+2%2c+%22c%22%3a+3%2c+%22n%22%3a+%7b%22x%22%3a+1.5%2c+%22y%22%3a+0%2c+%22z%22%3a+%5b1%2c+%22%c3%bc%22%2c+null%2c+true%5d%7d%2c+%22m%22%3a+1e22%2c+%22k%22%3a+-0.0001%7d&secret=pw	public.ob
event I:id	id=2&name&flag=&h32=&h64=12&doc=%7b%22b%22%3a+true%7d&secret=pw	public.ob
event I:id	id=3&name=x&flag=t&h32=1&h64=1&doc=%5b1%5d&secret=pw	public.ob
event U:id	id=3&name=Bob&flag=t&h32=1e100&h64=-0&doc=%7b%22n%22%3a+%7b%22z%22%3a+%22%e2%82%ac%f0%9f%98%80%7f%22%7d%7d&secret=pw	public.ob
finish
EOF
for my $key ('', 'a key of 16 b.', 'k' x 32)
{
	my $extra = "obfuscator_key = $key\n";
	($rows) = compare("obfuscate, key '$key'", 'public.ob', 'obfuscate', $ob_script,
		'select * from ob order by id', $extra);
	like($rows, qr/^1\|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-7][0-9a-f]{3}-[0-9a-f]{12}\|t\|-?\d+\|-?\d+\|\{"a": 1, "b": "[0-9a-f-]{36}", "n": \{"x": -?\d+, "y": "f", "z": \[1, "\\u00fc", null, true\]\}, "m": 1e\+22, "k": -?\d+\}\|$/m,
		"obfuscate, key '$key': rules applied, secret left out");

	# the initial copy and the events passed on, against Python's methods
	my $copy_in = "7\tDave\tf\t\\N\t-1\t{\"b\": 1e-7, \"a\": \"x\\\\ty\", \"n\": {\"y\": []}}";
	($rc, $out, $err) = ours('public.ob', 'obfuscate',
		"copy_columns id,name,secret,doc,h64\ncopy_row id,name,flag,h32,h64,doc $copy_in\n"
		  . "copy_event I:id\tid=5&name=Carol&flag=&h32=a&h64=b&doc&secret=pw\tpublic.ob\n", $extra);
	my $py = <<'PY';
import sys, skytools, londiste.handler as H
from pgq.event import Event
cf = skytools.Config('londiste', sys.argv[1])
H.load_handler_modules(cf)
h = H.build_handler('public.ob', 'obfuscate')
print('copy_row: ' + h.obf_copy_row(sys.argv[2] + '\n', ['id', 'name', 'flag', 'h32', 'h64', 'doc'], 'public.ob'), end='')
ev = Event('q', {'ev_type': 'I:id', 'ev_data': 'id=5&name=Carol&flag=&h32=a&h64=b&doc&secret=pw', 'ev_extra1': 'public.ob', 'ev_id': 1})
print('copy_event data: ' + h.get_copy_event(ev, 'q').ev_data)
PY
	my ($pyout, $pyerr) = ('', '');
	IPC::Run::run([ '/usr/bin/python3', '-I', '-c', $py, ini('py', $all_modules . $extra), $copy_in ],
		'>', \$pyout, '2>', \$pyerr);
	my ($ours_row) = $out =~ /^(copy_row: .*)$/m;
	my ($ours_ev) = $out =~ /^(copy_event data: .*)$/m;
	is("$ours_row\n$ours_ev\n", $pyout, "obfuscate, key '$key': copy rows and copied events as Python's")
	  or diag($pyerr);
	like($out, qr/^copy_columns: id>id name>name doc>doc h64>h64$/m,
		"obfuscate, key '$key': the copy leaves out skipped columns");
}
($rc, $out, $err) = ours('public.t', 'obfuscate', "copy_columns id,v\n"
	  . "copy_row id,v 1\tx\nbatch 1 x\nevent I:id\tid=1\tpublic.t\nfinish\n");
like($out, qr/^copy_columns: id>id v>v\ncopy_row: None\nFAILED$/m,
	'obfuscate: a table missing from the map fails its copy and its events');
like($err, qr/Source table not in obf_map: public\.t/, 'obfuscate: table missing from the map');
isnt($rc, 0, 'obfuscate: the batch fails');
($rc, $out, $err) = ours('public.ob', 'obfuscate', '', "obfuscator_key = " . ('k' x 33) . "\n");
like($err, qr/obfuscator_key is longer than 32 bytes/, 'obfuscate: key too long');
my $deep = ('%5b' x 2000) . ('%5d' x 2000);
($rc, $out, $err) = ours('public.ob', 'obfuscate',
	"batch 5 x\nevent I:id\tid=9&doc=$deep\tpublic.ob\nfinish\n");
like($err, qr/public\.ob\.doc: invalid JSON: nesting too deep/,
	'obfuscate: JSON nested 2000 deep is an error, not a crash');
isnt($rc, 0, 'obfuscate: the batch with the over-deep value fails');
open($yf, '>', "$tmp/bad.yaml") or die;
print $yf "public.ob:\n  id: keep\n  name: scramble\n";
close $yf;
($rc, $out, $err) = ours('public.ob', 'obfuscate', '', '',
	"handler_modules = londiste.handlers.obfuscate\nobfuscator_map = $tmp/bad.yaml\n");
like($err, qr/bad\.yaml: line 3: invalid rule for name/, 'obfuscate: a bad rule is reported with its line');
($rc, $out, $err) = ours('public.ob', 'obfuscate', '', '',
	"handler_modules = londiste.handlers.obfuscate\n");
like($err, qr/the obfuscate handler needs config key obfuscator_map/, 'obfuscate: map required');

# --- dispatch -------------------------------------------------------------

my $ev_script = <<'EOF';
batch 7 2026-12-07 10:30:00.5+00
event I:id	id=1&ts=2026-11-30+23%3a00%3a00%2b00&v=a	public.ev	\N	\N	\N	2026-12-05 09:00:00+00
event I:id	id=2&ts=2026-12-02+10%3a00%3a00%2b00&v=b	public.ev	\N	\N	\N	2026-12-06 09:00:00+00
event U:id	id=1&ts=2026-11-30+23%3a00%3a00%2b00&v=a2	public.ev	\N	\N	\N	2026-12-06 09:00:00+00
event I:id	id=3&ts=2026-12-02+11%3a00%3a00%2b00&v=c	public.ev	\N	\N	\N	2026-12-06 09:00:00+00
event D:id	id=2&ts=2026-12-02+10%3a00%3a00%2b00&v=b	public.ev	\N	\N	\N	2026-12-06 09:00:00+00
finish
EOF
my $parts = "select c.relname || ':' || coalesce(i.inhparent::regclass::text, '-')"
  . " from pg_class c left join pg_inherits i on i.inhrelid = c.oid"
  . " where c.relname like 'ev\\_%' and c.relkind = 'r' order by 1";
my $evrows = "select tableoid::regclass, id, v from ev order by id";
sub drop_parts
{
	for my $t (split /\n/, rows('c', $parts))
	{
		$t =~ s/:.*//;
		rows('c', "drop table $t");
	}
	rows('c', 'truncate ev, evlog, mapped');
}

for my $case (
	[ 'daily_field(part_field=ts)', "ev_2026_11_30:ev\nev_2026_12_02:ev",
		"ev_2026_11_30|1|a2\nev_2026_12_02|3|c" ],
	[ 'monthly_event', "ev_2026_12:ev", "ev_2026_12|1|a2\nev_2026_12|3|c" ],
	[ 'hourly_batch', "ev_2026_12_07_10:ev", "ev_2026_12_07_10|1|a2\nev_2026_12_07_10|3|c" ],
	[ 'bulk_yearly_event', "ev_2026:ev", "ev_2026|1|a2\nev_2026|3|c" ],
	[ 'dispatch(period=month,part_mode=date_field,part_field=ts,load_mode=bulk,method=1)',
		"ev_2026_11:ev\nev_2026_12:ev", "ev_2026_11|1|a2\nev_2026_12|3|c" ],
	[ 'dispatch(part_name=%25%28parent%29s_p%25%28month%29s)', "ev_p12:ev", "ev_p12|1|a2\nev_p12|3|c" ],
	[ 'direct', '', "ev|1|a2\nev|3|c" ],
	[ 'bulk_direct(method=2)', '', "ev|1|a2\nev|3|c" ],
	[ 'dispatch(table_mode=direct,event_types=I)', '', "ev|1|a\nev|2|b\nev|3|c" ],
	[ 'dispatch(table_mode=ignore)', '', '' ])
{
	my ($h, $want_parts, $want_rows) = @$case;
	drop_parts();
	($rc, $out, $err) = ours('public.ev', $h, $ev_script);
	is($rc, 0, "$h: batch applied") or diag($err);
	is(rows('c', $parts), $want_parts, "$h: partitions");
	is(rows('c', $evrows), $want_rows, "$h: rows");
}
unlike($err, qr/ERROR/, 'dispatch: no errors logged');

drop_parts();
($rc, $out, $err) = ours('public.ev', 'bulk_daily_event', $ev_script);
like($err, qr/copy public\.ev_2026_12_06 \(id,ts,v\) from stdin/, 'bulk dispatch: rows by COPY');
like($err, qr/Created table: public\.ev_2026_12_05/, 'dispatch: new partitions logged');

drop_parts();
($rc, $out, $err) = ours('public.ev', 'dispatch(table_mode=direct,row_mode=keep_all,table=public.evlog)',
	$ev_script);
is(rows('c', 'select id, v from evlog order by id, v'), "1|a\n1|a2\n2|b\n3|c",
	'keep_all: updates become inserts, deletes are dropped; table= names the target');

($rc, $out, $err) = ours('public.ev',
	'dispatch(table_mode=direct,table=public.mapped,fields=id%2cv%3avalue,skip_fields=ts)',
	$ev_script . "copy_columns id,ts,v,other\n");
is(rows('c', 'select id, value from mapped order by id'), "1|a2\n3|c", 'fields: renamed columns');
like($out, qr/^copy_columns: id>id v>value$/m, 'fields: the copy follows the map');

drop_parts();
($rc, $out, $err) = ours('public.ev',
	'daily_event(part_template=create table %25%28part%29s (like %25%28parent%29s),'
	  . 'pre_part=create table if not exists public.evmark (pkeys text),'
	  . 'post_part=insert into public.evmark values (%27%25%28pkeys%29s %25%28schema_table%29s %25%28period%29s%27))',
	$ev_script);
is($rc, 0, 'part_template: batch applied') or diag($err);
is(rows('c', $parts), "ev_2026_12_05:-\nev_2026_12_06:-", 'part_template: partitions from the template');
is(rows('c', 'select * from evmark order by 1'),
	"id public__ev_2026_12_05 day\nid public__ev_2026_12_06 day", 'pre_part and post_part run');

drop_parts();
($rc, $out, $err) = ours('public.ev', 'daily_event(part_func=nosuch.create_part)', $ev_script);
is(rows('c', $parts), "ev_2026_12_05:-\nev_2026_12_06:-",
	'no partition function: copies of the parent');

drop_parts();
my $old_script = $ev_script;
$old_script =~ s/2026-12-05 09:00:00/2001-01-01 09:00:00/;
($rc, $out, $err) = ours('public.ev',
	'yearly_event(retention_period=1 year,ignore_old_events=1)', $old_script);
is($rc, 0, 'retention: batch applied') or diag($err);
is(rows('c', $parts), "ev_2026:ev", 'retention: no partition made for obsolete rows');
like($err, qr/Ignored table: public\.ev_2001/, 'retention: the obsolete partition is reported');
drop_parts();
rows('c', 'create table ev_2002 () inherits (ev)');
($rc, $out, $err) = ours('public.ev', 'yearly_batch(retention_period=1 year)', $ev_script);
is(rows('c', $parts), "ev_2026:ev", 'retention: older partitions dropped');
like($err, qr/Dropped tables: .*ev_2002/, 'retention: the drop is logged');

for my $bad (
	[ 'dispatch(period=week)', qr/Bad argument period value 'week'/ ],
	[ 'daily_field', qr/part_mode date_field requires part_field!/ ],
	[ 'dispatch(event_types=I%2cX)', qr/Unsupported operation: X/ ],
	[ 'dispatch(hash_key=id)', qr/Invalid handler argument: \['hash_key'\]/ ],
	[ 'dispatch(method=4)', qr/Bad argument method value '4'/ ])
{
	($rc, $out, $err) = ours('public.ev', $bad->[0], '');
	like($err, $bad->[1], "$bad->[0]: refused");
	isnt($rc, 0, "$bad->[0]: an error");
}
($rc, $out, $err) = ours('public.nopk', 'bulk_direct', "batch 1 x\nevent I:\tid=1\tpublic.nopk\nfinish\n");
like($err, qr/non-pk tables not supported: public\.nopk/, 'bulk dispatch needs a primary key');
($rc, $out, $err) = ours('public.ev', 'bulk_direct(method=3)', $ev_script);
like($err, qr/U not supported by method insert/, 'method 3 takes inserts only');

# --- documentation --------------------------------------------------------

for my $h (qw(bulk dispatch daily_event bulk_direct direct qtable qsplitter applyfn
	vtable fake_local multimaster shard part obfuscate))
{
	my $spec = $h eq 'qsplitter' ? 'qsplitter(queue=x)' : $h eq 'applyfn' ? 'applyfn(func_name=f)'
	  : $h =~ /^(shard|part)$/ ? "$h(key=id)" : $h eq 'daily_event' ? 'daily_event' : $h;
	($rc, $out, $err) = ours($h eq 'obfuscate' ? 'public.ob' : 'public.t', $spec, "doc\n");
	like($out, qr/^$h - [A-Z][^\n]+\.\n/, "$h: documented");
}

done_testing();
