--
-- pgq_ext: the target-side tracking extension (pgq-companions.md section
-- 3, as pgq_ext 3.3 has it).  This file creates the extension itself and
-- drops it, with its roles, at the end.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

create extension pgq_ext;

-- version() reports the installed version, which sorts at or above the
-- original's 3.3; pgq_ext needs pgq (for pgq_writer), nothing else
select pgq_ext.version() = extversion as matches_extension,
       pgq_ext.version() >= '3.3' as not_below_original,
       extrelocatable, extnamespace::regnamespace as extension_schema,
       (select array_agg(r.extname) from pg_extension r
         where r.oid in (select d.refobjid from pg_depend d
                          where d.classid = 'pg_extension'::regclass
                            and d.objid = e.oid
                            and d.refclassid = 'pg_extension'::regclass)) as requires
  from pg_extension e where extname = 'pgq_ext';

-- Everything it creates lives in schema pgq_ext; nothing lands in pgq
select member from (
    select pg_describe_object(d.classid, d.objid, 0) as member,
           coalesce((select relnamespace from pg_class
                      where d.classid = 'pg_class'::regclass and oid = d.objid),
                    (select pronamespace from pg_proc
                      where d.classid = 'pg_proc'::regclass and oid = d.objid),
                    (select oid from pg_namespace
                      where d.classid = 'pg_namespace'::regclass and oid = d.objid)) as nsp
      from pg_depend d
     where d.refclassid = 'pg_extension'::regclass
       and d.refobjid = (select oid from pg_extension where extname = 'pgq_ext')
       and d.deptype = 'e') m
 where nsp is distinct from 'pgq_ext'::regnamespace
 order by member collate "C";
select count(*) as members from pg_depend d
 where d.refclassid = 'pg_extension'::regclass and d.deptype = 'e'
   and d.refobjid = (select oid from pg_extension where extname = 'pgq_ext');

-- Tables: columns, defaults, keys
select c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) as type,
       a.attnotnull as not_null, pg_get_expr(ad.adbin, ad.adrelid) as default_expr
  from pg_class c
  join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
  left join pg_attrdef ad on ad.adrelid = c.oid and ad.adnum = a.attnum
 where c.relnamespace = 'pgq_ext'::regnamespace and c.relkind = 'r'
 order by c.relname collate "C", a.attnum;
select conrelid::regclass as table_name, conname, pg_get_constraintdef(oid) as definition
  from pg_constraint
 where connamespace = 'pgq_ext'::regnamespace
 order by conrelid::regclass::text collate "C", conname collate "C";

-- pg_dump keeps every row of every table
select c::regclass as config_table, cond
  from pg_extension e, unnest(e.extconfig, e.extcondition) as x(c, cond)
 where e.extname = 'pgq_ext'
 order by c::regclass::text collate "C";

--
-- Privileges.  The schema is usable by everybody, the tables by nobody but
-- the owner; version() is executable by PUBLIC, every other function by
-- pgq_writer only.
--
select has_schema_privilege('public', 'pgq_ext', 'USAGE') as public_usage,
       has_schema_privilege('public', 'pgq_ext', 'CREATE') as public_create;
select c.relname, c.relacl
  from pg_class c
 where c.relnamespace = 'pgq_ext'::regnamespace and c.relkind = 'r'
 order by c.relname collate "C";
select p.oid::regprocedure as function, pg_get_function_result(p.oid) as result,
       p.prosecdef as secdef, p.proconfig,
       (select string_agg(case when x.grantee = 0 then 'PUBLIC'
                               else pg_get_userbyid(x.grantee) end, ', '
                          order by 1)
          from aclexplode(p.proacl) x
         where x.grantee <> p.proowner and x.privilege_type = 'EXECUTE') as executable_by
  from pg_proc p
 where p.pronamespace = 'pgq_ext'::regnamespace
 order by p.proname collate "C", pg_get_function_arguments(p.oid) collate "C";
-- argument names are part of the interface
select p.proname, pg_get_function_arguments(p.oid) as arguments
  from pg_proc p
 where p.pronamespace = 'pgq_ext'::regnamespace
 order by p.proname collate "C", p.pronargs desc;

create role pgqext_writer;
grant pgq_writer to pgqext_writer;
create role pgqext_stranger;

-- A role outside pgq_writer may ask for the version and nothing else
set role pgqext_stranger;
select pgq_ext.version() = (select extversion from pg_extension where extname = 'pgq_ext') as version_ok;
select pgq_ext.is_batch_done('c', 1);
select pgq_ext.set_batch_done('c', 's', 1);
select pgq_ext.get_last_tick('c');
select pgq_ext.set_last_tick('c', 's', 1);
select pgq_ext.is_event_done('c', 1, 1);
select pgq_ext.set_event_done('c', 's', 1, 1);
select pgq_ext.upgrade_schema();
select * from pgq_ext.completed_batch;
reset role;

--
-- Batch tracking, as a pgq_writer member: the last batch id per consumer
-- and subconsumer
--
set role pgqext_writer;
select * from pgq_ext.completed_batch;
select pgq_ext.is_batch_done('c1', 5) as unknown_consumer;
select pgq_ext.set_batch_done('c1', 5) as first_time;
select pgq_ext.is_batch_done('c1', 5) as done,
       pgq_ext.is_batch_done('c1', '', 5) as done_long_form,
       pgq_ext.is_batch_done('c1', 4) as other_batch,
       pgq_ext.is_batch_done('c1', 'sub', 5) as other_subconsumer;
select pgq_ext.set_batch_done('c1', 5) as again;
select pgq_ext.set_batch_done('c1', '', 5) as again_long_form;
-- the next batch replaces the previous one
select pgq_ext.set_batch_done('c1', 6) as next_batch;
select pgq_ext.is_batch_done('c1', 5) as old_batch, pgq_ext.is_batch_done('c1', 6) as new_batch;
-- subconsumers are tracked apart from the plain consumer
select pgq_ext.set_batch_done('c1', 'sub', 5) as sub_first;
select pgq_ext.set_batch_done('c1', 'sub', 5) as sub_again;
select pgq_ext.is_batch_done('c1', 'sub', 5) as sub_done, pgq_ext.is_batch_done('c1', 6) as plain_still;
-- ids not above zero report success but are not stored
select pgq_ext.set_batch_done('c2', 0) as zero, pgq_ext.set_batch_done('c2', 0) as zero_again,
       pgq_ext.set_batch_done('c2', -7) as negative,
       pgq_ext.set_batch_done('c2', null) as null_id,
       pgq_ext.is_batch_done('c2', 0) as zero_done;
select pgq_ext.set_batch_done('c1', 0) as zero_over_stored, pgq_ext.is_batch_done('c1', 6) as kept;
-- a NULL id matches nothing: unknown when a row exists, false when none
select pgq_ext.is_batch_done('c1', null) as null_with_row,
       pgq_ext.is_batch_done('c2', null) as null_without_row;
reset role;
select consumer_id, subconsumer_id, last_batch_id from pgq_ext.completed_batch
 order by consumer_id collate "C", subconsumer_id collate "C";

--
-- Tick tracking: the last tick per consumer and subconsumer; NULL forgets
--
set role pgqext_writer;
select pgq_ext.get_last_tick('t1') as none, pgq_ext.get_last_tick('t1', 'sub') as none_sub;
select pgq_ext.set_last_tick('t1', 10) as set_plain, pgq_ext.set_last_tick('t1', 'sub', 20) as set_sub;
select pgq_ext.get_last_tick('t1') as plain, pgq_ext.get_last_tick('t1', '') as plain_long_form,
       pgq_ext.get_last_tick('t1', 'sub') as sub;
select pgq_ext.set_last_tick('t1', '', 11) as move_plain;
select pgq_ext.get_last_tick('t1') as plain, pgq_ext.get_last_tick('t1', 'sub') as sub;
-- any tick id is stored as given, even one that goes backwards
select pgq_ext.set_last_tick('t1', 'sub', 3), pgq_ext.get_last_tick('t1', 'sub');
select pgq_ext.set_last_tick('t1', null) as forget_plain;
select pgq_ext.get_last_tick('t1') as plain, pgq_ext.get_last_tick('t1', 'sub') as sub;
select pgq_ext.set_last_tick('t1', 'sub', null) as forget_sub,
       pgq_ext.set_last_tick('t1', 'sub', null) as forget_again;
reset role;
select count(*) as tick_rows from pgq_ext.completed_tick;

--
-- Event tracking: events of the current batch per consumer and
-- subconsumer; moving to another batch drops the previous batch's events
--
-- what the tables hold: each event with its consumer's current batch
create temp view event_state as
select p.consumer_id, p.subconsumer_id, p.cur_batch_id, e.batch_id, e.event_id
  from pgq_ext.partial_batch p
  left join pgq_ext.completed_event e using (consumer_id, subconsumer_id)
 order by p.consumer_id collate "C", p.subconsumer_id collate "C", e.batch_id, e.event_id;
set role pgqext_writer;
select pgq_ext.is_event_done('e1', 100, 1) as unknown;
select pgq_ext.set_event_done('e1', 100, 1) as first_event,
       pgq_ext.set_event_done('e1', 100, 2) as second_event;
select pgq_ext.set_event_done('e1', 100, 1) as again,
       pgq_ext.set_event_done('e1', '', 100, 2) as again_long_form;
select pgq_ext.is_event_done('e1', 100, 1) as done, pgq_ext.is_event_done('e1', '', 100, 2) as done_long,
       pgq_ext.is_event_done('e1', 100, 3) as other_event,
       pgq_ext.is_event_done('e1', 101, 1) as other_batch,
       pgq_ext.is_event_done('e1', 'sub', 100, 1) as other_subconsumer;
select pgq_ext.set_event_done('e1', 'sub', 100, 1) as sub_first;
reset role;
select * from event_state;
set role pgqext_writer;
-- the next batch: the plain consumer's events of batch 100 go, the
-- subconsumer's stay
select pgq_ext.set_event_done('e1', 101, 1) as next_batch;
select pgq_ext.is_event_done('e1', 100, 1) as old_event,
       pgq_ext.is_event_done('e1', 101, 1) as new_event,
       pgq_ext.is_event_done('e1', 'sub', 100, 1) as sub_event;
reset role;
select * from event_state;
set role pgqext_writer;
-- an event already done in the current batch does not switch batches
select pgq_ext.set_event_done('e1', 'sub', 100, 1) as sub_again;
-- going back to an earlier batch id switches too: the batch is what the
-- consumer says it is
select pgq_ext.set_event_done('e1', 100, 1) as back_to_100;
reset role;
select * from event_state;
-- NULL ids cannot be stored
set role pgqext_writer;
select pgq_ext.set_event_done('e2', null, 1);
\echo SQLSTATE :SQLSTATE
select pgq_ext.set_event_done('e2', 1, null);
\echo SQLSTATE :SQLSTATE
select pgq_ext.is_event_done('e2', null, null) as null_ids;
reset role;

--
-- Security-definer functions pin their search_path and qualify every
-- name: operators and functions a caller puts ahead of pg_catalog are
-- never run with the owner's rights.  The planted objects record calls.
--
create schema pgqext_evil authorization pgqext_writer;
set role pgqext_writer;
create table pgqext_evil.calls (who text, what text);
grant insert on pgqext_evil.calls to public;
-- one planted operator per comparison the functions make; each logs its
-- use and then compares as the real one does
do $do$
declare
    op record;
begin
    for op in
        values ('text_eq', '=', 'text', 'text'),
               ('int8_eq', '=', 'int8', 'int8'),
               ('int8_ne', '<>', 'int8', 'int8'),
               ('int84_gt', '>', 'int8', 'int4')
    loop
        execute format($f$
            create function pgqext_evil.%1$I(%3$s, %4$s) returns boolean
            language plpgsql as $b$
            begin
                insert into pgqext_evil.calls values (current_user, %5$L);
                return $1 operator(pg_catalog.%2$s) $2;
            end
            $b$
        $f$, op.column1, op.column2, op.column3, op.column4,
            op.column3 || ' ' || op.column2 || ' ' || op.column4);
        execute format('create operator pgqext_evil.%s (leftarg = %s, rightarg = %s, function = pgqext_evil.%I)',
                       op.column2, op.column3, op.column4, op.column1);
    end loop;
end
$do$;
-- format() with text arguments would beat pg_catalog's variadic one
create function pgqext_evil.format(text, text) returns text language sql
as $$ insert into pgqext_evil.calls values (current_user, 'format()'); select 'select 1' $$;
create function pgqext_evil.format(text, text, text) returns text language sql
as $$ insert into pgqext_evil.calls values (current_user, 'format()'); select 'select 1' $$;
-- tables of the same names, in the caller's schema and in pg_temp
create table pgqext_evil.completed_batch (consumer_id text, subconsumer_id text, last_batch_id bigint);
create temp table completed_event (consumer_id text, subconsumer_id text, batch_id bigint, event_id bigint);
grant execute on all functions in schema pgqext_evil to public;
-- the trap works: the caller's own query picks the planted operator
set search_path = pgqext_evil, pg_catalog, public;
select 'a'::text = 'a'::text as planted_equal, 7::int8 > 1 as planted_greater,
       format('%s', 'x'::text) as planted_format;
reset search_path;
select who, what from pgqext_evil.calls order by who collate "C", what collate "C";
truncate pgqext_evil.calls;

set search_path = pgqext_evil, pg_catalog, public;
select pgq_ext.set_batch_done('a1', 1), pgq_ext.set_batch_done('a1', 'sub', 1),
       pgq_ext.is_batch_done('a1', 1), pgq_ext.is_batch_done('a1', 'sub', 1);
select pgq_ext.set_last_tick('a1', 1), pgq_ext.set_last_tick('a1', 'sub', 1),
       pgq_ext.get_last_tick('a1'), pgq_ext.get_last_tick('a1', 'sub'),
       pgq_ext.set_last_tick('a1', null);
select pgq_ext.set_event_done('a1', 1, 1), pgq_ext.set_event_done('a1', 'sub', 1, 1),
       pgq_ext.set_event_done('a1', 2, 1),
       pgq_ext.is_event_done('a1', 2, 1), pgq_ext.is_event_done('a1', 'sub', 1, 1);
select pgq_ext.upgrade_schema(), pgq_ext.version() is not null as has_version;
reset search_path;
select who, what from pgqext_evil.calls order by who collate "C", what collate "C";
select count(*) as decoy_batch_rows from pgqext_evil.completed_batch;
select count(*) as decoy_event_rows from pg_temp.completed_event;
drop table pg_temp.completed_event;
reset role;
select consumer_id, subconsumer_id, last_batch_id from pgq_ext.completed_batch
 where consumer_id = 'a1' order by subconsumer_id collate "C";
drop schema pgqext_evil cascade;

--
-- upgrade_schema(): nothing to do on a fresh install (the install script
-- creates the current layout)
--
select pgq_ext.upgrade_schema() as fresh_install;
-- a completed_batch from before subconsumers, and a completed_tick whose
-- subconsumer_id lacks its default
truncate pgq_ext.completed_batch;
alter table pgq_ext.completed_batch drop column subconsumer_id;
alter table pgq_ext.completed_batch add constraint completed_batch_pkey primary key (consumer_id);
insert into pgq_ext.completed_batch values ('old', 42);
alter table pgq_ext.completed_tick alter column subconsumer_id drop default;
-- a writer cannot change the tables
set role pgqext_writer;
select pgq_ext.upgrade_schema();
reset role;
select pgq_ext.upgrade_schema() as changes;
select pgq_ext.upgrade_schema() as changes_again;
select c.relname, a.attname, a.attnotnull as not_null, pg_get_expr(ad.adbin, ad.adrelid) as default_expr
  from pg_class c
  join pg_attribute a on a.attrelid = c.oid and a.attname = 'subconsumer_id' and not a.attisdropped
  left join pg_attrdef ad on ad.adrelid = c.oid and ad.adnum = a.attnum
 where c.relnamespace = 'pgq_ext'::regnamespace and c.relkind = 'r'
 order by c.relname collate "C";
select pg_get_constraintdef(oid) as completed_batch_key
  from pg_constraint where conrelid = 'pgq_ext.completed_batch'::regclass;
-- the old row belongs to the plain consumer
set role pgqext_writer;
select pgq_ext.is_batch_done('old', 42) as old_row_done, pgq_ext.set_batch_done('old', 43) as next;
reset role;

--
-- Clean up
--
drop view event_state;
drop extension pgq_ext;
select count(*) as schemas_left from pg_namespace where nspname = 'pgq_ext';
drop role pgqext_writer;
drop role pgqext_stranger;
