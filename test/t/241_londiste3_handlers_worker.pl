# londiste3's table handlers under its worker: one root feeds two leaves
# with the same handlers, leafc replayed by our worker and leafpy by
# Python's, and the tables must end up equal (bulk, shard, obfuscate,
# applyfn, qsplitter), after the initial copy and after more writes.  A
# branch (our worker) passes shard's and obfuscate's events on to a leaf
# behind it (Python's worker): only its shard, only obfuscated data.
# dispatch, which Python cannot build, partitions on leafc.

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

my $node = preloaded_node('hworker', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;

open(my $yf, '>', "$dir/ob.yaml") or die;
print $yf "public.ob:\n  id: keep\n  name: hash\n  flag: bool\n  doc:\n    a: keep\n    b: hash32\n";
close $yf;
my $extra = "handler_modules = londiste.handlers.bulk, londiste.handlers.shard, "
  . "londiste.handlers.obfuscate, londiste.handlers.applyfn, "
  . "londiste.handlers.qtable, londiste.handlers.dispatch\n"
  . "obfuscator_map = $dir/ob.yaml\nobfuscator_key = k3y\n";

my @dbs = qw(root leafc leafpy branch leafb);
foreach my $db (@dbs)
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql(
		$db, q{
create table bt (id int primary key, v text, w int);
create table sh (id int primary key, v text);
create table ob (id int primary key, name text, flag text, doc text, secret text);
create table fl (id int primary key, v text);
create table ev (id int primary key, v text);
create table fnlog (conf text, tick bigint, ev_time timestamptz, ev_type text, ev_data text, extra1 text);
create function fnlog_add(conf text, tick text, ev_id text, ev_time text, txid text, retry text,
  ev_type text, ev_data text, e1 text, e2 text, e3 text, e4 text) returns void
  language sql as $$ insert into public.fnlog values (conf, tick::bigint, ev_time::timestamptz, ev_type, ev_data, e1) $$;
create schema partconf;
create table partconf.conf (shard_nr int, shard_mask int, shard_count int);
insert into partconf.conf values (1, 1, 2);
create function partconf.get_hash_raw(i int) returns int
  language sql immutable as $$ select i * 7 $$;
});
}
# rows before the leaves subscribe, for the initial copy
$node->safe_psql(
	'root', q{
insert into bt select i, 'b' || i, i from generate_series(1, 20) i;
insert into sh select i, 's' || i from generate_series(1, 20) i;
insert into ob select i, 'name ' || i, case when i % 2 = 0 then '' else 'x' end,
  '{"a": ' || i || ', "b": "v' || i || '", "c": 1}', 'pw' || i from generate_series(1, 10) i;
});
# qsplitter's table exists on the root only
$node->safe_psql('root', 'create table qs (id int primary key, v text)');

my (%py, %c);
foreach my $db (@dbs)
{
	$py{$db} = londiste_member(node => $node, db => $db, name => "${db}node",
		dir => $dir, extra => $extra);
	$c{$db} = { %{ $py{$db} }, program => 'londiste3' };
}
londiste_ok($py{root}, 'create-root', 'rootnode', $py{root}{connstr});
tune_queue($py{root});
londiste_ok($py{$_}, 'create-leaf', "${_}node", $py{$_}{connstr}, "--provider=$py{root}{connstr}")
  for ('leafc', 'leafpy');
$node->safe_psql($_, "select pgq.create_queue('splitq')") for ('leafc', 'leafpy');
londiste_ok($py{branch}, 'create-branch', 'branchnode', $py{branch}{connstr},
	"--provider=$py{root}{connstr}");
londiste_ok($py{leafb}, 'create-leaf', 'leafbnode', $py{leafb}{connstr},
	"--provider=$py{branch}{connstr}");

# root: our add-table puts shard's hash into ev_extra3
londiste_ok($c{root}, 'add-table', 'public.bt', 'public.ob', 'public.fl', 'public.qs', 'public.ev');
londiste_ok($c{root}, 'add-table', 'public.sh', '--handler=shard', '--handler-arg=key=id');
like($node->safe_psql('root', "select pg_get_triggerdef(oid) from pg_trigger where tgrelid = 'sh'::regclass and tgname like '\\_londiste%'"),
	qr/ev_extra3=''hash=''\|\|partconf\.get_hash_raw\(id\)/, 'root: shard trigger with the hash');

# the same handlers on both leaves, each added by its own program
foreach my $m ($c{leafc}, $py{leafpy})
{
	londiste_ok($m, 'add-table', 'public.bt', '--handler=bulk', '--handler-arg=method=1');
	londiste_ok($m, 'add-table', 'public.sh', '--handler=shard', '--handler-arg=key=id');
	londiste_ok($m, 'add-table', 'public.ob', '--handler=obfuscate');
	londiste_ok($m, 'add-table', 'public.fl', '--handler=applyfn',
		'--handler-arg=func_name=public.fnlog_add', '--handler-arg=func_conf=c1');
	londiste_ok($m, 'add-table', 'public.qs', '--handler=qsplitter', '--handler-arg=queue=splitq');
}
londiste_ok($c{leafc}, 'add-table', 'public.ev', '--handler=daily_batch');
londiste_ok($c{branch}, 'add-table', 'public.sh', '--handler=shard', '--handler-arg=key=id');
londiste_ok($c{branch}, 'add-table', 'public.ob', '--handler=obfuscate');
londiste_ok($py{leafb}, 'add-table', 'public.sh', 'public.ob');

start_worker($py{root});
start_worker($c{leafc});
start_worker($py{leafpy});
start_worker($c{branch});
start_worker($py{leafb});

sub all_ok
{
	my ($m) = @_;
	return $node->safe_psql($m->{db},
		"select count(*) = 0 from londiste.get_table_list('replika') where local and merge_state is distinct from 'ok'"
	) eq 't';
}
ok(LondisteTest::wait_for(sub { all_ok($c{leafc}) && all_ok($py{leafpy}) && all_ok($c{branch}) && all_ok($py{leafb}) }),
	'every table copied and in sync');

sub rows
{
	my ($db, $sql) = @_;
	return $node->safe_psql($db, $sql);
}
my $shq = 'select id, v from sh order by id';
my $obq = 'select * from ob order by id';

is(rows('leafc', $shq), rows('leafpy', $shq), 'shard: same initial copy as Python');
is(rows('leafc', "select string_agg(id::text, ',' order by id) from sh"),
	'1,3,5,7,9,11,13,15,17,19', 'shard: the copy took this shard only');
is(rows('leafc', $obq), rows('leafpy', $obq), 'obfuscate: same initial copy as Python');
like(rows('leafc', 'select name, flag, doc, secret from ob where id = 1'),
	qr/^[0-9a-f]{8}-[0-9a-f-]{27}\|t\|\{"a": 1, "b": -?\d+\}\|$/,
	'obfuscate: the copy hashed, flagged and left out');

$node->safe_psql(
	'root', q{
insert into bt select i, 'b' || i, i from generate_series(21, 60) i;
update bt set v = v || '+' where id % 3 = 0;
delete from bt where id % 5 = 0;
insert into bt values (100, 'short', 1);
delete from bt where id = 100;
insert into sh select i, 's' || i from generate_series(21, 30) i;
update sh set v = v || '+' where id % 4 = 1;
delete from sh where id in (3, 4);
insert into ob values (11, 'eleven', 'y', '{"a": [1], "b": 2.5}', 'pw'), (12, null, null, null, null);
update ob set name = 'renamed', doc = '{"b": true}' where id = 2;
delete from ob where id = 3;
insert into fl values (1, 'one'), (2, 'two');
update fl set v = 'uno' where id = 1;
insert into qs values (1, 'q1'), (2, E'tab\there');
insert into ev values (1, 'e1'), (2, 'e2');
update ev set v = 'e1+' where id = 1;
});
ok(wait_tables_equal($py{root}, [ $c{leafc}, $py{leafpy} ], 'public.bt'),
	'bulk: both leaves equal the root');
ok(LondisteTest::wait_for(sub { rows('leafc', $obq) eq rows('leafpy', $obq) && rows('leafc', $shq) eq rows('leafpy', $shq) }),
	'shard and obfuscate: replay equal to Python\'s')
  or diag(rows('leafc', $obq) . "\n--\n" . rows('leafpy', $obq));
is(rows('leafc', "select string_agg(id::text, ',' order by id) from sh"),
	'1,5,7,9,11,13,15,17,19,21,23,25,27,29', 'shard: replay of this shard only');
my $flq = 'select conf, tick, ev_time, ev_type, ev_data, extra1 from fnlog order by ev_time, ev_data';
ok(LondisteTest::wait_for(sub { rows('leafc', $flq) eq rows('leafpy', $flq) && rows('leafc', $flq) ne '' }),
	'applyfn: the same calls as Python\'s');
like(rows('leafc', $flq), qr/^c1\|\d+\|.*\|U:id\|id=1&v=uno\|public\.fl$/m, 'applyfn: conf, tick and event');
my $qsq_c = "select ev_type || ' ' || ev_data || ' ' || ev_extra1 from "
  . rows('leafc', "select queue_data_pfx from pgq.queue where queue_name = 'splitq'") . " order by ev_id";
my $qsq_py = "select ev_type || ' ' || ev_data || ' ' || ev_extra1 from "
  . rows('leafpy', "select queue_data_pfx from pgq.queue where queue_name = 'splitq'") . " order by ev_id";
ok(LondisteTest::wait_for(sub { rows('leafc', $qsq_c) eq rows('leafpy', $qsq_py) && rows('leafc', $qsq_c) ne '' }),
	'qsplitter: the same events in the local queue as Python\'s');
like(rows('leafc', $qsq_c), qr/^I:id id=2&v=tab%09here public\.qs$/m, 'qsplitter: events unchanged');
ok(LondisteTest::wait_for(sub { rows('leafc', "select count(*) from ev") eq '2' }), 'dispatch: rows applied');
like(rows('leafc', "select tableoid::regclass || ' ' || v from ev order by id"),
	qr/^ev_\d{4}_\d\d_\d\d e1\+\nev_\d{4}_\d\d_\d\d e2$/, 'dispatch: rows in a daily partition');

# downstream of the branch: only the shard, only obfuscated data
ok(wait_tables_equal($c{branch}, [ $py{leafb} ], 'public.sh', 'public.ob'),
	'the branch passes its handlers\' view on');
is(rows('leafb', "select count(*) from ob where secret is not null or name = 'renamed'"), '0',
	'no clear data below the branch');
is(rows('leafb', "select string_agg(id::text, ',' order by id) from sh"),
	'1,5,7,9,11,13,15,17,19,21,23,25,27,29', 'only the branch\'s shard below it');
is(rows('leafb', $obq), rows('leafc', $obq), 'the same obfuscated rows below the branch as on leafc');

is(log_problems($c{leafc}, $c{branch}), '', 'no errors in our workers\' logs');

LondisteTest::stop_all_daemons();
done_testing();
