# The in-server ticker runs londiste's periodic jobs, as pgqd does through
# pgq.maint_operations() (compat-clients.md 1.3): root_check_seqs for each
# root queue that replicates sequences, never for other nodes' queues, and
# periodic_maintenance once a round.  No pgqd runs here.
#
# londiste needs pgq_node; the test uses whichever pgq_node the
# installation under test has, and skips without one.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = preloaded_node(
	'londiste_ticker', q{
pgq.maint_period = 1
});

if ($node->safe_psql('postgres',
		"select count(*) from pg_available_extensions where name = 'pgq_node'") eq '0')
{
	$node->stop;
	plan skip_all => 'pgq_node is not installed';
}

$node->safe_psql('postgres', 'create database lon');
$node->safe_psql(
	'lon', q{
set client_min_messages = warning;
create extension londiste cascade;
create sequence root_seq;
create sequence branch_seq;
-- maintenance runs as pgq.ticker_role (pgq_admin), as pgqd runs as its
-- configured role: root_check_seqs reads the sequence with its rights
grant select on sequence root_seq to pgq_admin;

-- queue rq: this database is its root and replicates root_seq
select pgq_node.register_location('rq', 'root1', 'dbname=lon', false);
select pgq_node.create_node('rq', 'root', 'root1', 'rq_worker', null, null, null);
select londiste.local_add_seq('rq', 'root_seq');

-- queue bq: this database is a branch that follows branch_seq
select pgq_node.register_location('bq', 'branch1', 'dbname=lon', false);
select pgq_node.register_location('bq', 'up1', 'dbname=elsewhere', false);
select pgq_node.create_node('bq', 'branch', 'branch1', 'bq_worker', 'up1', 1, null);
select londiste.global_update_seq('bq', 'branch_seq', 5);
select londiste.local_add_seq('bq', 'branch_seq');

-- an EXECUTE record old enough for periodic_maintenance to forget
insert into londiste.applied_execute (queue_name, execute_file, execute_time, execute_sql)
values ('rq', 'old.sql', now() - interval '4 months', 'select 1'),
       ('rq', 'new.sql', now(), 'select 1');
});

# Adding the sequence published 30001 at once; the root's sequence now runs
# past that buffer, so the next root_check_seqs publishes 3 buffers ahead.
is( $node->safe_psql(
		'lon', "select last_value from londiste.seq_info where queue_name = 'rq'"),
	'30001',
	'adding the sequence on the root published a first value');
$node->safe_psql('lon', "select setval('root_seq', 50000)");

is( $node->safe_psql(
		'lon',
		"select string_agg(func_name || '(' || coalesce(func_arg, '') || ')', ' ' order by func_name, func_arg) from pgq.maint_operations() where func_name like 'londiste.%'"
	),
	'londiste.periodic_maintenance() londiste.root_check_seqs(rq)',
	'maint_operations lists root_check_seqs for the root queue only, and periodic_maintenance');

ok( $node->poll_query_until(
		'lon', "select last_value = 80000 from londiste.seq_info where queue_name = 'rq'"),
	'the ticker ran root_check_seqs on the root: the new value is stored');
is( $node->safe_psql(
		'lon', q{
select string_agg(e.ev_data || ' ' || e.ev_extra1, ',' order by e.ev_id)
  from pgq.event_template e
 where e.ev_type = 'londiste.update-seq'}),
	'30001 public.root_seq,80000 public.root_seq',
	'and published in a londiste.update-seq event');
is( $node->safe_psql(
		'lon', q{
select count(*) from pgq.event_template e
 where e.ev_type = 'londiste.update-seq' and e.ev_extra1 = 'public.branch_seq'}),
	'0',
	'nothing was published for the branch');
is( $node->safe_psql(
		'lon', "select last_value from londiste.seq_info where queue_name = 'bq'"),
	'5',
	'the branch keeps the value its root sent');

ok( $node->poll_query_until(
		'lon', "select string_agg(execute_file, ',') = 'new.sql' from londiste.applied_execute"),
	'the ticker ran periodic_maintenance: old EXECUTE records are forgotten');

# The sequence stays within the buffer now: later rounds publish nothing.
$node->safe_psql('lon', "select pg_sleep(2.5)");
is( $node->safe_psql(
		'lon', "select count(*) from pgq.event_template where ev_type = 'londiste.update-seq'"),
	'2',
	'rounds within the buffer publish nothing more');

is(pgq_log_problems(slurp_file($node->logfile)), '', 'no ticker errors in the log');

$node->stop;
done_testing();
