# londiste3's worker on merge leaves (create-leaf --merge): two partition
# roots part1 (queue q1) and part2 (queue q2) merge one table into the
# database "target", whose combined root (queue "combined") passes the
# rows on to a leaf of its own.  Every worker is ours.
#
# Checked: the table, filled on both partitions before it is added, is
# copied in lead mode (the first merge leaf drops the structure and keeps
# it in dropped_ddl, the other copies data only, the lead restores it once
# both are done); later writes on both partitions reach the target; the
# merge leaves copy the row events into the combined queue (with a
# pgq.tick-id event per batch) but no pgq.* or londiste.* events of their
# own queues, and the leaf of the combined queue gets every row.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use LondisteTest;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = preloaded_node('combined', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;

foreach my $db ('part1', 'part2', 'target', 'cleaf')
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql($db,
		'create table t (id int primary key, src text, v text); create index t_src on t (src)');
}
$node->safe_psql('part1',
	"insert into t select i, 'part1', 'v' || i from generate_series(1, 500) i");
$node->safe_psql('part2',
	"insert into t select i, 'part2', 'v' || i from generate_series(100001, 100300) i");

my %m;
sub member
{
	my ($name, $db, $queue) = @_;
	$m{$name} = londiste_member(
		node => $node, db => $db, name => $name, queue => $queue,
		dir => $dir, program => 'londiste3');
	return $m{$name};
}
sub connstr { return $node->connstr($_[0]); }

member('part1', 'part1', 'q1');
member('part2', 'part2', 'q2');
member('merge1', 'target', 'q1');
member('merge2', 'target', 'q2');
member('croot', 'target', 'combined');
member('cleaf', 'cleaf', 'combined');

londiste_ok($m{croot}, 'create-root', 'croot', connstr('target'));
londiste_ok($m{cleaf}, 'create-leaf', 'cleaf', connstr('cleaf'),
	'--provider=' . connstr('target'));
foreach my $p (1, 2)
{
	londiste_ok($m{"part$p"}, 'create-root', "part$p", connstr("part$p"));
	londiste_ok($m{"merge$p"}, 'create-leaf', "merge$p", connstr('target'),
		'--provider=' . connstr("part$p"), '--merge=combined');
	londiste_ok($m{"part$p"}, 'add-table', 't');
}
tune_queue($_) for ($m{part1}, $m{part2}, $m{croot});
start_worker($_) for values %m;

# both merge leaves know the table before one of them takes it from both
ok( $node->poll_query_until('target',
			"select count(*) = 2 from londiste.table_info where table_name = 'public.t' and queue_name in ('q1', 'q2')"),
	'the merge leaves learned the table from their partitions');
londiste_ok($m{merge1}, 'add-table', 't', '--merge-all');
is( $node->safe_psql('target',
		"select string_agg(queue_name || ':' || local, ' ' order by queue_name) from londiste.table_info where table_name = 'public.t'"),
	'combined:true q1:true q2:true',
	'--merge-all subscribed both merge leaves and added the table to the combined root');
londiste_ok($m{cleaf}, 'add-table', 't');

sub merge_states
{
	return $node->safe_psql('target',
		"select string_agg(queue_name || '=' || coalesce(merge_state, 'NULL'), ' ' order by queue_name)"
		  . " from londiste.table_info where table_name = 'public.t' and queue_name <> 'combined'");
}
ok( $node->poll_query_until('target',
			"select count(*) = 2 from londiste.table_info where table_name = 'public.t' and queue_name in ('q1', 'q2') and merge_state = 'ok'"),
	'both merge leaves copied the table') or diag(merge_states());
like(slurp_file($m{merge1}{log}), qr/waiting for other partitions to finish copy/,
	'the first merge leaf copied as lead and waited for the other partition');
# whether the second one had to wait for the lead ("waiting for first
# partition to initialize copy") depends on timing; that it copied data
# only, without the lead's waiting, does not
like(slurp_file($m{merge2}{log}), qr/Starting full copy of public\.t/,
	'the second one copied its partition too');
unlike(slurp_file($m{merge2}{log}), qr/waiting for other partitions to finish copy/,
	'... not as a second lead');
is($node->safe_psql('target', "select count(*) from londiste.table_info where dropped_ddl is not null"),
	'0', 'the lead restored the structure it dropped');
is($node->safe_psql('target', "select count(*) from pg_indexes where tablename = 't'"),
	'2', 'the primary key and the index of the merged table are back');
is($node->safe_psql('target', "select src, count(*) from t group by 1 order by 1"),
	"part1|500\npart2|300", 'the target holds the rows of both partitions');

# writes on both partitions after the copy
foreach my $p (1, 2)
{
	my $base = $p * 100000;
	$node->safe_psql("part$p", qq{
insert into t select i, 'part$p', 'new' from generate_series($base + 1001, $base + 1050) i;
update t set v = 'changed' where id % 10 = 0;
delete from t where id % 7 = 0 and id < $base + 1000;
});
}
sub digest_sql
{
	my ($filter) = @_;
	return "count(*) $filter || '|' || coalesce(sum(hashtext(t::text)::bigint) $filter, 0)";
}
my $want = join(' + ',
	map { $node->safe_psql("part$_", 'select ' . digest_sql('') . ' from t') } (1, 2));
my $merged = 'select '
  . join(" || ' + ' || ",
	map { digest_sql("filter (where src = 'part$_')") } (1, 2))
  . ' from t';
ok($node->poll_query_until('target', $merged, $want),
	'writes on both partitions reached the target');
ok($node->poll_query_until('cleaf', $merged, $want),
	'and the leaf of the combined queue');

# what went into the combined queue: each partition's row events once,
# tick-id events naming the partitions, and of londiste.* and pgq.* events
# only the combined root's own
sub queue_events
{
	my ($db, $queue) = @_;
	my $table = $node->safe_psql($db,
		"select queue_data_pfx from pgq.queue where queue_name = '$queue'");
	return $node->safe_psql(
		$db, qq{
select string_agg(kind || '=' || n, ' ' order by kind) from (
  select kind, count(*) as n from (
    select case when ev_type like 'pgq.%' then ev_type || ':' || ev_extra1
                when ev_type like 'londiste.%' then ev_type
                else 'row:' || ev_extra1 end as kind
      from $table) e
   group by kind) s});
}
my $rows1 = $node->safe_psql('part1', "select count(*) from " . $node->safe_psql('part1',
	"select queue_data_pfx from pgq.queue where queue_name = 'q1'") . " where ev_extra1 = 'public.t'");
my $rows2 = $node->safe_psql('part2', "select count(*) from " . $node->safe_psql('part2',
	"select queue_data_pfx from pgq.queue where queue_name = 'q2'") . " where ev_extra1 = 'public.t'");
ok($rows1 > 100 && $rows2 > 100, 'the partitions queued their writes');
my $got = queue_events('target', 'combined');
$got =~ s/pgq\.tick-id:(q\d)=\d+/tick-id:$1=n/g;
$got =~ s/pgq\.[a-z-]+:combined=\d+ ?//g;
$got =~ s/\s+$//;
is($got,
	'londiste.add-table=1 tick-id:q1=n tick-id:q2=n row:public.t=' . ($rows1 + $rows2),
	'the combined queue got the row events of both partitions once, and their tick ids');

stop_worker($_) for values %m;
is(log_problems(values %m), '', 'no errors in the logs');
$node->stop;
done_testing();
