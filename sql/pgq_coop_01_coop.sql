--
-- pgq_coop: cooperative consumers (pgq-companions.md section 2, as
-- pgq_coop 3.4 has it).  This file creates the extension itself and drops
-- it, with its roles and queues, at the end.  Errors are followed by their
-- SQLSTATE.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

create extension pgq_coop;

-- version() reports the installed version, which sorts at or above the
-- original's 3.4; pgq_coop needs pgq, nothing else
select pgq_coop.version() = extversion as matches_extension,
       pgq_coop.version() >= '3.4' as not_below_original,
       extrelocatable, extnamespace::regnamespace as extension_schema,
       (select array_agg(r.extname) from pg_extension r
         where r.oid in (select d.refobjid from pg_depend d
                          where d.classid = 'pg_extension'::regclass
                            and d.objid = e.oid
                            and d.refclassid = 'pg_extension'::regclass)) as requires
  from pg_extension e where extname = 'pgq_coop';

-- Everything it creates lives in schema pgq_coop: no tables, nothing in pgq
select member from (
    select pg_describe_object(d.classid, d.objid, 0) as member
      from pg_depend d
     where d.refclassid = 'pg_extension'::regclass and d.deptype = 'e'
       and d.refobjid = (select oid from pg_extension where extname = 'pgq_coop')) m
 order by member collate "C";

-- Functions: signatures, results, security definer with a pinned
-- search_path for all but version() and the short forms, and who may run
-- them (pgq_reader; version() anybody)
select p.oid::regprocedure as function, pg_get_function_result(p.oid) as result,
       pg_get_function_arguments(p.oid) as arguments,
       p.prosecdef as security_definer, p.proconfig as config,
       (select string_agg(case when x.grantee = 0 then 'PUBLIC'
                               else pg_get_userbyid(x.grantee) end, ', '
                          order by 1)
          from aclexplode(p.proacl) x
         where x.grantee <> p.proowner and x.privilege_type = 'EXECUTE') as executable_by
  from pg_proc p
 where p.pronamespace = 'pgq_coop'::regnamespace
 order by p.proname collate "C", p.pronargs;

-- tick exactly when asked to
create function pg_temp.setup_queue(q text) returns void
language sql
as $$
    select pgq.create_queue(q);
    select pgq.set_queue_config(q, 'ticker_max_count', '1');
    select pgq.set_queue_config(q, 'ticker_max_lag', '1 hour');
    select pgq.set_queue_config(q, 'ticker_idle_period', '1 hour');
$$;
select pg_temp.setup_queue('qcoop');
select setval('pgq.batch_id_seq', 60000) > 0 as batch_ids_set;

-- the subscriptions of one queue, members by name; "shares" says whether
-- a row carries the sub_id of consumer "grp"
create view pg_temp.coop_subs as
select c.co_name, s.sub_batch, s.sub_last_tick, s.sub_next_tick,
       s.sub_id = (select m.sub_id from pgq.subscription m
                    join pgq.consumer mc on mc.co_id = m.sub_consumer
                   where mc.co_name = 'grp' and m.sub_queue = s.sub_queue) as shares
  from pgq.subscription s
  join pgq.consumer c on c.co_id = s.sub_consumer
  join pgq.queue q on q.queue_id = s.sub_queue
 where q.queue_name = 'qcoop'
 order by c.co_name collate "C";
grant select on pg_temp.coop_subs to public;

create role pgqcoop_reader;
grant pgq_reader to pgqcoop_reader;
grant pgq_writer to pgqcoop_reader;
create role pgqcoop_stranger;

-- A role outside pgq_reader may ask for the version and nothing else
set role pgqcoop_stranger;
select pgq_coop.version() is not null as stranger_version;
select pgq_coop.register_subconsumer('qcoop', 'grp', 's1');
\echo :LAST_ERROR_SQLSTATE
select pgq_coop.unregister_subconsumer('qcoop', 'grp', 's1', 0);
\echo :LAST_ERROR_SQLSTATE
select pgq_coop.next_batch('qcoop', 'grp', 's1');
\echo :LAST_ERROR_SQLSTATE
select pgq_coop.next_batch('qcoop', 'grp', 's1', '1 hour');
\echo :LAST_ERROR_SQLSTATE
select pgq_coop.next_batch_custom('qcoop', 'grp', 's1', null, null, null);
\echo :LAST_ERROR_SQLSTATE
select pgq_coop.next_batch_custom('qcoop', 'grp', 's1', null, null, null, null);
\echo :LAST_ERROR_SQLSTATE
select pgq_coop.finish_batch(1);
\echo :LAST_ERROR_SQLSTATE
reset role;

--
-- register_subconsumer: registers the main consumer too; the member shares
-- its sub_id and has no position while idle.  1 when new, 0 after.
--
set role pgqcoop_reader;
select pgq_coop.register_subconsumer('qcoop', 'grp', 's1') as new_member;
select pgq_coop.register_subconsumer('qcoop', 'grp', 's1') as again;
select pgq_coop.register_subconsumer('qcoop', 'grp', 's2') as second_member;
select co_name, sub_batch, sub_last_tick is not null as has_position,
       sub_next_tick, shares from pg_temp.coop_subs;
-- get_consumer_info lists members as their own rows, lag NULL when idle
select consumer_name, lag is null as no_lag, last_tick is null as no_last_tick
  from pgq.get_consumer_info('qcoop', null) order by consumer_name collate "C";
-- errors of pgq.register_consumer come through
select pgq_coop.register_subconsumer('qcoop_missing', 'grp', 's1');
\echo :LAST_ERROR_SQLSTATE
select pgq_coop.register_subconsumer(null, 'grp', 's1');
\echo :LAST_ERROR_SQLSTATE
select pgq_coop.register_subconsumer('qcoop', null, 's1');
\echo :LAST_ERROR_SQLSTATE
select pgq_coop.register_subconsumer('qcoop', 'grp', null);
\echo :LAST_ERROR_SQLSTATE
-- a name already registered as a plain consumer stays one
select pgq.register_consumer('qcoop', 'grp.plain') as plain;
select pgq_coop.register_subconsumer('qcoop', 'grp', 'plain') as not_new;
select co_name, shares from pg_temp.coop_subs where co_name = 'grp.plain';

--
-- next_batch: NULL while there is nothing; then each member gets its own
-- batch, closed on the main consumer at once
--
select pgq_coop.next_batch('qcoop', 'grp', 's1') as nothing_yet;
select pgq.insert_event('qcoop', 'ev', 'one') > 0 as inserted;
reset role;
select pgq.ticker('qcoop') is not null as ticked;
set role pgqcoop_reader;
select pgq_coop.next_batch('qcoop', 'grp', 's1') as s1_batch;
-- asking again returns the open batch
select pgq_coop.next_batch('qcoop', 'grp', 's1') as s1_again;
select pgq_coop.next_batch('qcoop', 'grp', 's2') as s2_nothing;
select co_name, sub_batch, sub_last_tick is not null as has_position,
       sub_next_tick is not null as has_next, shares
  from pg_temp.coop_subs where co_name like 'grp%' and co_name <> 'grp.plain';
-- the member's batch is read, and retried, through pgq as usual
select ev_type, ev_data from pgq.get_batch_events(60001);
select consumer_name, prev_tick_id < tick_id as ordered from pgq.get_batch_info(60001);
select pgq.event_retry(60001, ev_id, 0) as retried from pgq.get_batch_events(60001);

select pgq.insert_event('qcoop', 'ev', 'two') > 0 as inserted;
reset role;
select pgq.ticker('qcoop') is not null as ticked;
set role pgqcoop_reader;
select pgq_coop.next_batch('qcoop', 'grp', 's2') as s2_batch;
select ev_type, ev_data from pgq.get_batch_events(60002);

--
-- finish_batch: the member goes back to no position; unknown batches are a
-- WARNING and 0
--
select pgq_coop.finish_batch(60001) as finished;
select co_name, sub_batch, sub_last_tick, sub_next_tick
  from pg_temp.coop_subs where co_name = 'grp.s1';
set client_min_messages = notice;
select pgq_coop.finish_batch(60001) as finished_again;
select pgq_coop.finish_batch(null) as finished_null;
set client_min_messages = warning;

--
-- The main consumer taking a batch by itself blocks the group
--
select pgq.insert_event('qcoop', 'ev', 'three') > 0 as inserted;
reset role;
select pgq.ticker('qcoop') is not null as ticked;
set role pgqcoop_reader;
select pgq.next_batch('qcoop', 'grp') as main_batch;
select pgq_coop.next_batch('qcoop', 'grp', 's1');
\echo :LAST_ERROR_SQLSTATE
select pgq.finish_batch(60003) as main_finished;

-- a plain consumer named like a member is refused, not handed batches
select pgq_coop.next_batch('qcoop', 'grp', 'plain');
\echo :LAST_ERROR_SQLSTATE

--
-- next_batch_custom: the pgq conditions apply
--
select pgq.insert_event('qcoop', 'ev', 'four') > 0 as inserted;
reset role;
select pgq.ticker('qcoop') is not null as ticked;
set role pgqcoop_reader;
select pgq_coop.next_batch_custom('qcoop', 'grp', 's1', null, 5, null) as too_few;
select pgq_coop.next_batch_custom('qcoop', 'grp', 's1', null, 5, null, null) as too_few_7;
select pgq_coop.next_batch_custom('qcoop', 'grp', 's1', null, 1, null) as enough;
select ev_data from pgq.get_batch_events(60004);

-- first use registers the consumer and the member
select pgq_coop.next_batch('qcoop', 'auto', 'a1') as auto_nothing;
select consumer_name from pgq.get_consumer_info('qcoop', null)
 where consumer_name like 'auto%' order by consumer_name collate "C";
select pgq_coop.next_batch('qcoop_missing', 'grp', 's1');
\echo :LAST_ERROR_SQLSTATE

--
-- dead_interval: a member silent for longer hands its batch over; an idle
-- dead member is removed; live members are left alone
--
select pgq_coop.next_batch('qcoop', 'grp', 's3', '1 hour') as s3_nothing_dead;
select pgq_coop.finish_batch(60004) as s1_finished;
-- both s1 (idle) and s2 (holding batch 60002) fall silent; the batch
-- holder is dealt with first
reset role;
update pgq.subscription s set sub_active = now() - interval '2 hours'
  from pgq.consumer c
 where c.co_id = s.sub_consumer and c.co_name in ('grp.s1', 'grp.s2');
set role pgqcoop_reader;
select pgq_coop.next_batch('qcoop', 'grp', 's3', '1 hour') as s3_took_over;
select co_name, sub_batch from pg_temp.coop_subs where co_name like 'grp.s%';
select ev_data from pgq.get_batch_events(60002);
select pgq_coop.finish_batch(60002) as s3_finished;
-- next call: the idle dead s1 is removed, and there is no batch to take
select pgq_coop.next_batch('qcoop', 'grp', 's3', '1 hour') as s3_nothing;
select co_name, sub_batch from pg_temp.coop_subs where co_name like 'grp.s%';
-- without a dead interval nobody is taken over
select pgq_coop.next_batch('qcoop', 'grp', 's4') as s4_nothing;

--
-- unregister_subconsumer: 0 for unknown names and queues; a member with a
-- batch only with i_batch_handling = 1
--
select pgq.insert_event('qcoop', 'ev', 'five') > 0 as inserted;
reset role;
select pgq.ticker('qcoop') is not null as ticked;
set role pgqcoop_reader;
select pgq_coop.next_batch('qcoop', 'grp', 's4') as s4_batch;
select pgq_coop.unregister_subconsumer('qcoop', 'grp', 's4', 0);
\echo :LAST_ERROR_SQLSTATE
select pgq_coop.unregister_subconsumer('qcoop', 'grp', 's4', null);
\echo :LAST_ERROR_SQLSTATE
select pgq_coop.unregister_subconsumer('qcoop', 'grp', 's4', 1) as dropped_with_batch;
select pgq_coop.unregister_subconsumer('qcoop', 'grp', 's4', 1) as gone;
select pgq_coop.unregister_subconsumer('qcoop', 'grp', 's3', 0) as idle_member;
select pgq_coop.unregister_subconsumer('qcoop', 'grp', 'nobody', 0) as unknown_member;
select pgq_coop.unregister_subconsumer('qcoop', 'nogroup', 's1', 0) as unknown_group;
select pgq_coop.unregister_subconsumer('qcoop_missing', 'grp', 's1', 0) as unknown_queue;
select pgq_coop.unregister_subconsumer('qcoop', 'grp', 'plain', 0) as plain_left_alone;
select co_name, sub_batch, shares from pg_temp.coop_subs;
-- the dropped batch is lost to the group: the next one starts after it
select pgq.insert_event('qcoop', 'ev', 'six') > 0 as inserted;
reset role;
select pgq.ticker('qcoop') is not null as ticked;
set role pgqcoop_reader;
select pgq_coop.next_batch('qcoop', 'grp', 's1') as s1_batch;
select ev_data from pgq.get_batch_events(60006);
select pgq_coop.finish_batch(60006) as finished;
reset role;

--
-- Security-definer functions pin their search_path and qualify every
-- name: operators and functions a caller puts ahead of pg_catalog are
-- never run with the owner's rights.  The planted objects record calls.
--
create schema pgqcoop_evil authorization pgqcoop_reader;
set role pgqcoop_reader;
create table pgqcoop_evil.calls (who text, what text);
grant insert on pgqcoop_evil.calls to public;
do $do$
declare
    op record;
begin
    for op in
        values ('text_eq', '=', 'text', 'text'),
               ('int4_eq', '=', 'int4', 'int4'),
               ('int8_eq', '=', 'int8', 'int8'),
               ('int4_ne', '<>', 'int4', 'int4'),
               ('int84_lt', '<', 'int8', 'int4'),
               ('tstz_lt', '<', 'timestamptz', 'timestamptz')
    loop
        execute format($f$
            create function pgqcoop_evil.%1$I(%3$s, %4$s) returns boolean
            language plpgsql as $b$
            begin
                insert into pgqcoop_evil.calls values (current_user, %5$L);
                return $1 operator(pg_catalog.%2$s) $2;
            end
            $b$
        $f$, op.column1, op.column2, op.column3, op.column4,
            op.column3 || ' ' || op.column2 || ' ' || op.column4);
        execute format('create operator pgqcoop_evil.%s (leftarg = %s, rightarg = %s, function = pgqcoop_evil.%I)',
                       op.column2, op.column3, op.column4, op.column1);
    end loop;
end
$do$;
create function pgqcoop_evil.text_cat(text, text) returns text language plpgsql
as $$ begin insert into pgqcoop_evil.calls values (current_user, 'text || text'); return textcat($1, $2); end $$;
create operator pgqcoop_evil.|| (leftarg = text, rightarg = text, function = pgqcoop_evil.text_cat);
create function pgqcoop_evil.now() returns timestamptz language plpgsql
as $$ begin insert into pgqcoop_evil.calls values (current_user, 'now()'); return pg_catalog.now(); end $$;
create function pgqcoop_evil.format(text, text, bigint) returns text language plpgsql
as $$ begin insert into pgqcoop_evil.calls values (current_user, 'format()'); return 'x'; end $$;
-- tables of pgq's names, in the caller's schema and in pg_temp
create table pgqcoop_evil.subscription (sub_queue int, sub_consumer int, sub_id int, sub_batch bigint);
create temp table consumer (co_id int, co_name text);
grant execute on all functions in schema pgqcoop_evil to public;
-- the trap works: the caller's own query picks the planted objects
set search_path = pgqcoop_evil, pg_catalog, public;
select 'a'::text = 'a'::text as planted_equal, 'a'::text || 'b'::text as planted_cat,
       now() is not null as planted_now;
reset search_path;
select who, what from pgqcoop_evil.calls order by who collate "C", what collate "C";
truncate pgqcoop_evil.calls;

set search_path = pgqcoop_evil, pg_catalog, public;
select pgq_coop.register_subconsumer('qcoop', 'grp', 'e1') as registered;
select pgq.insert_event('qcoop', 'ev', 'seven') > 0 as inserted;
reset role;
select pgq.ticker('qcoop') is not null as ticked;
set role pgqcoop_reader;
select pgq_coop.next_batch('qcoop', 'grp', 'e1') as e1_batch;
select pgq_coop.next_batch('qcoop', 'grp', 'e1', '1 hour') as e1_again;
select pgq_coop.next_batch_custom('qcoop', 'grp', 'e1', null, null, null) as e1_custom;
select pgq_coop.unregister_subconsumer('qcoop', 'grp', 'e1', 0);
select pgq_coop.finish_batch(60007) as finished;
select pgq_coop.next_batch('qcoop', 'grp', 'e2', '0 seconds') as e2_nothing;
select pgq_coop.unregister_subconsumer('qcoop', 'grp', 'e2', 0) as unregistered;
select pgq_coop.version() is not null as has_version;
reset search_path;
select who, what from pgqcoop_evil.calls order by who collate "C", what collate "C";
select count(*) as decoy_subscription_rows from pgqcoop_evil.subscription;
select count(*) as decoy_consumer_rows from pg_temp.consumer;
drop table pg_temp.consumer;
reset role;
drop schema pgqcoop_evil cascade;

--
-- pgq.unregister_consumer of the main consumer takes the members along
--
select pgq.unregister_consumer('qcoop', 'grp') as removed_rows;
select co_name from pg_temp.coop_subs;

--
-- Clean up
--
select pgq.drop_queue('qcoop', true);
drop view pg_temp.coop_subs;
drop role pgqcoop_reader;
drop role pgqcoop_stranger;
drop extension pgq_coop;
