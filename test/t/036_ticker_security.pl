# Attacks on the in-server ticker: roles that may create objects in a
# database, or administer its queues, try to make the ticker worker run
# their code with more rights than they have.  Each attack plants its code,
# the test waits until the worker has ticked and run two full maintenance
# rounds, and then checks that the attacker gained nothing: no row in the
# canary table that only a superuser may write, no new superuser, no
# truncated table.  Then it checks what the worker's role setting allows.
#
# The worker acts as pgq.ticker_role (pgq_admin by default) and runs every
# unit of work under search_path = pg_catalog, pg_temp; see doc/ticker.md.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = preloaded_node(
	'security', q{
pgq.maint_period = 1
pgq.retry_period = 1
pgq.ticker_period = 100
});

# A database owned by a non-superuser, with the pre-PostgreSQL-15 default
# that lets everyone create objects in schema public.
$node->safe_psql(
	'postgres', q{
create role dbowner login;
create role mallory login;
create role qadmin login;
create database victim owner dbowner;
});
$node->safe_psql(
	'victim', q{
create extension pgq;
grant create on schema public to public;
grant pgq_admin to qadmin;
create table public.pwned (attack text, by_role text default current_user);
revoke all on public.pwned from public;
grant select on public.pwned to public;
create table public.secret_0 (v text);
create table public.secret_1 (v text);
create table public.secret_2 (v text);
insert into public.secret_0 values ('s0');
insert into public.secret_1 values ('s1');
insert into public.secret_2 values ('s2');
revoke all on public.secret_0, public.secret_1, public.secret_2 from public;
select pgq.create_queue('q_tick');
select pgq.create_queue('q_rotate');
select pgq.create_queue('q_pfx');
select pgq.set_queue_config('q_tick', 'ticker_max_lag', '0');
update pgq.queue set queue_rotation_period = '1 second'
 where queue_name in ('q_rotate', 'q_pfx');
});

# Every attack function records itself in the canary table and tries to
# make its author a superuser.  Run by anyone but a superuser it fails.
sub payload
{
	my ($attack, $role) = @_;
	return qq{insert into public.pwned (attack) values ('$attack');
        execute 'alter role $role superuser';};
}

# A: the database owner puts its own schema in front of pg_catalog in the
# database's search_path, with a look-alike of a function the ticker's SQL
# calls unqualified.
my $a = payload('A: database search_path', 'dbowner');
$node->safe_psql(
	'victim', qq{
create schema evil;
create function evil.nextval(regclass) returns bigint language plpgsql as \$\$
begin
    $a
    return pg_catalog.nextval(\$1);
end \$\$;
create function evil.txid_snapshot_xmin(txid_snapshot) returns bigint language plpgsql as \$\$
begin
    $a
    return pg_catalog.txid_snapshot_xmin(\$1);
end \$\$;
alter database victim set search_path = evil, pg_catalog, public;
},
	extra_params => [ '-U', 'dbowner' ]);

# B: anyone puts a better-matching nextval(oid) into public.
my $b = payload('B: public.nextval(oid)', 'mallory');
$node->safe_psql(
	'victim', qq{
create function public.nextval(oid) returns bigint language plpgsql as \$\$
begin
    $b
    return pg_catalog.nextval(\$1::regclass);
end \$\$;
},
	extra_params => [ '-U', 'mallory' ]);

# C: anyone adds an exact-match text || integer operator to public, which
# the rotation's name arithmetic would pick over pg_catalog's.
my $c = payload('C: public.||(text, integer)', 'mallory');
$node->safe_psql(
	'victim', qq{
create function public.glue(text, integer) returns text language plpgsql as \$\$
begin
    $c
    return \$1 operator(pg_catalog.||) \$2::text;
end \$\$;
create operator public.|| (leftarg = text, rightarg = integer, function = public.glue);
},
	extra_params => [ '-U', 'mallory' ]);

# D: the database owner squats the londiste schema, whose maintenance
# function the ticker calls when it exists.
my $d = payload('D: squatted londiste', 'dbowner');
$node->safe_psql(
	'victim', qq{
create schema londiste;
create function londiste.periodic_maintenance() returns integer language plpgsql as \$\$
begin
    $d
    return 0;
end \$\$;
},
	extra_params => [ '-U', 'dbowner' ]);

# E: a pgq_admin member names a function in its own temporary schema as a
# queue's extra maintenance step.  The session stays open while the worker
# runs maintenance.
my $e = payload('E: pg_temp extra_maint', 'qadmin');
my $qadmin = $node->background_psql('victim',
	extra_params => [ '-U', 'qadmin' ]);
$qadmin->query_safe(
	qq{
create function pg_temp.maint(text) returns integer language plpgsql as \$\$
begin
    $e
    return 0;
end \$\$;
});
my $temp_schema = $qadmin->query_safe(
	"select nspname from pg_namespace where oid = pg_my_temp_schema()");
$qadmin->query_safe(
	"update pgq.queue set queue_extra_maint = array['$temp_schema.maint']"
	  . " where queue_name = 'q_tick'");

# F: a pgq_admin member points a queue's event tables at tables it cannot
# read; rotation would truncate them.
$node->safe_psql(
	'victim',
	"update pgq.queue set queue_data_pfx = 'public.secret' where queue_name = 'q_pfx'",
	extra_params => [ '-U', 'qadmin' ]);

# The worker connected before attack A changed the database's settings;
# a restart of the worker (as after a server restart) picks them up.
$node->safe_psql('victim',
	"select pg_terminate_backend(pid) from pgq.ticker_status() where datname = 'victim'");

# Wait for ticks and two maintenance rounds that started after the attacks
# were in place, so that every attack had its chance.
my $since = $node->safe_psql('victim', 'select now()');
$node->safe_psql('victim',
	"select pgq.insert_event('q_tick', 'test', 'x'); select pgq.insert_event('q_tick', 'test', 'y')");
ok( $node->poll_query_until(
		'victim', qq{
select count(*) >= 1 from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
 where q.queue_name = 'q_tick' and t.tick_time > '$since'}),
	'the worker ticked after the attacks');
for my $round (1, 2)
{
	my $mark = $node->safe_psql('victim', 'select clock_timestamp()');
	ok( $node->poll_query_until(
			'victim', qq{
select last_maint_time > '$mark' from pgq.ticker_status() where datname = 'victim'}),
		"maintenance round $round after the attacks");
}
$qadmin->quit;

is($node->safe_psql('victim', 'select string_agg(distinct attack, \', \') from public.pwned'),
	'', 'no attack ran its code as a superuser');
is( $node->safe_psql(
		'victim',
		"select string_agg(rolname, ',' order by rolname) from pg_roles"
		  . " where rolname in ('dbowner', 'mallory', 'qadmin') and rolsuper"),
	'',
	'no attacker became a superuser');
is( $node->safe_psql(
		'victim',
		'select (select count(*) from public.secret_0) + (select count(*) from public.secret_1)'
		  . ' + (select count(*) from public.secret_2)'),
	'3',
	'no table the queue administrator cannot read was truncated');

# The worker still did its legitimate work: the queue that was due rotated
# (a rotation takes two maintenance rounds with the right snapshots in
# between, so it is waited for rather than expected after a fixed count).
ok( $node->poll_query_until(
		'victim',
		"select queue_cur_table <> 0 from pgq.queue where queue_name = 'q_rotate'"),
	'rotation of an ordinary queue went ahead');

my $log = slurp_file($node->logfile);
like(
	$log,
	qr/refusing to call function "pg_temp_\d+\.maint"/,
	'the temporary function is refused, with a message');
like(
	$log,
	qr/permission denied for table secret_\d/,
	'the redirected rotation fails on permissions');

# The role the worker acts as.  A superuser is refused for maintenance
# unless explicitly allowed; ticks go on either way.
my $superuser = $node->safe_psql('postgres', 'select current_user');
$node->append_conf('postgresql.conf', "pgq.ticker_role = '$superuser'");
$node->reload;
my $offset = log_offset($node);
$node->wait_for_log(
	qr/in database "victim": pgq\.ticker_role "$superuser" is a superuser/,
	$offset);
pass('maintenance as a superuser is refused');

$node->append_conf('postgresql.conf', 'pgq.ticker_allow_superuser = on');
$node->reload;
my $mark = $node->safe_psql('victim', 'select clock_timestamp()');
ok( $node->poll_query_until(
		'victim', qq{
select last_maint_time > '$mark' from pgq.ticker_status() where datname = 'victim'}),
	'maintenance as a superuser runs once allowed');

$node->append_conf('postgresql.conf',
	"pgq.ticker_role = 'no_such_role'\npgq.ticker_allow_superuser = off");
$node->reload;
$offset = log_offset($node);
$node->wait_for_log(qr/pgq\.ticker_role "no_such_role" does not exist/, $offset);
pass('a missing role is reported');

$node->stop;
done_testing();
