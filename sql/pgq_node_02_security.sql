--
-- pgq_node: who may run what (pgq_node 3.5's grant groups), and that the
-- security-definer functions cannot be made to run a caller's objects.
-- Drops the extension at the end.  Errors are followed by their SQLSTATE.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;
\pset null '~'

create role pgqnode_reader in role pgq_reader;
create role pgqnode_writer in role pgq_writer;
create role pgqnode_admin in role pgq_admin;
create role pgqnode_stranger;

-- EXECUTE by group: r = pgq_reader, w = pgq_writer, a = pgq_admin,
-- p = anybody (PUBLIC)
select p.oid::regprocedure as function,
       concat(case when has_function_privilege('pgq_reader', p.oid, 'execute') then 'r' end,
              case when has_function_privilege('pgq_writer', p.oid, 'execute') then 'w' end,
              case when has_function_privilege('pgq_admin', p.oid, 'execute') then 'a' end,
              case when has_function_privilege('pgqnode_stranger', p.oid, 'execute') then 'p' end)
           as executable_by
  from pg_proc p
 where p.pronamespace = 'pgq_node'::regnamespace
 order by p.proname collate "C";
-- tables: reading for pgq_reader and pgq_writer, writing for pgq_admin
select c.relname,
       (select string_agg(x.item, ', ' order by x.item collate "C")
          from (select case when a.grantee = 0 then 'PUBLIC'
                            else pg_get_userbyid(a.grantee) end
                       || '=' || a.privilege_type as item
                  from aclexplode(c.relacl) a
                 where a.grantee <> c.relowner) x) as privileges
  from pg_class c
 where c.relnamespace = 'pgq_node'::regnamespace and c.relkind = 'r'
 order by c.relname collate "C";
select has_schema_privilege('pgqnode_stranger', 'pgq_node', 'usage') as schema_usage;

-- a root with a subscriber and a consumer to work on
select * from pgq_node.register_location('sq', 'r1', 'dbname=r1', false);
select * from pgq_node.register_location('sq', 'b1', 'dbname=b1', false);
select * from pgq_node.create_node('sq', 'root', 'r1', 'w_r1', null, null, null);
select pgq.set_queue_config('sq', 'ticker_max_count', '1');
select setval(queue_event_seq::regclass, 300) > 0 as event_ids_set
  from pgq.queue where queue_name = 'sq';
select * from pgq_node.register_subscriber('sq', 'b1', 'w_b1', null);
select * from pgq_node.register_consumer('sq', 'c1', 'r1', 1);
select pgq.insert_event('sq', 'data', 'x') > 0 as inserted;
select pgq.ticker('sq');

--
-- A subscriber's worker (pgq_reader) reads the provider side and moves its
-- watermark, nothing else
--
set role pgqnode_reader;
select ret_code, node_type, node_name from pgq_node.get_node_info('sq');
select * from pgq_node.get_queue_locations('sq') order by node_name collate "C";
select * from pgq_node.get_subscriber_info('sq');
select consumer_name from pgq_node.get_consumer_info('sq');
select ret_code from pgq_node.get_consumer_state('sq', 'c1');
select * from pgq_node.set_subscriber_watermark('sq', 'b1', 2);
select count(*) as node_rows from pgq_node.node_info;
select * from pgq_node.set_consumer_completed('sq', 'c1', 2);
\echo :LAST_ERROR_SQLSTATE
select * from pgq_node.set_global_watermark('sq', null);
\echo :LAST_ERROR_SQLSTATE
select * from pgq_node.register_location('sq', 'x', 'dbname=x', false);
\echo :LAST_ERROR_SQLSTATE
update pgq_node.local_state set last_tick_id = 0;
\echo :LAST_ERROR_SQLSTATE
reset role;

--
-- A consumer writing into this node (pgq_writer): its own bookkeeping and
-- the provider side
--
set role pgqnode_writer;
select * from pgq_node.register_consumer('sq', 'c2', 'r1', 1);
select * from pgq_node.set_consumer_uptodate('sq', 'c2', true);
select * from pgq_node.set_consumer_paused('sq', 'c2', true);
select * from pgq_node.set_consumer_error('sq', 'c2', 'oops');
select * from pgq_node.set_consumer_completed('sq', 'c2', 2);
select * from pgq_node.change_consumer_provider('sq', 'c2', 'b1');
select * from pgq_node.unregister_consumer('sq', 'c2');
select * from pgq_node.set_subscriber_watermark('sq', 'b1', 2);
select pgq_node.is_root_node('sq'), pgq_node.is_leaf_node('sq');
select * from pgq_node.get_worker_state('sq');
\echo :LAST_ERROR_SQLSTATE
select * from pgq_node.set_node_attrs('sq', 'a=1');
\echo :LAST_ERROR_SQLSTATE
select pgq_node.maint_watermark('sq');
\echo :LAST_ERROR_SQLSTATE
delete from pgq_node.node_location;
\echo :LAST_ERROR_SQLSTATE
reset role;

--
-- The administrator (pgq_admin) runs the worker and admin functions
--
set role pgqnode_admin;
select * from pgq_node.register_location('sq', 'b2', 'dbname=b2', false);
select * from pgq_node.set_node_attrs('sq', 'a=1');
select ret_code, node_type from pgq_node.get_worker_state('sq');
select * from pgq_node.set_global_watermark('sq', null);
select pgq_node.maint_watermark('sq');
select pgq_node.upgrade_schema();
select * from pgq_node.set_partition_watermark('sq', 'nosuch', 1);
select * from pgq_node.unregister_location('sq', 'b2');
update pgq_node.node_info set node_attrs = null where queue_name = 'sq';
reset role;

--
-- Anybody: the version and the node type tests, which need read access to
-- node_info as in 3.5
--
set role pgqnode_stranger;
select pgq_node.version() is not null as has_version;
select pgq_node.is_root_node('sq');
\echo :LAST_ERROR_SQLSTATE
select * from pgq_node.get_node_info('sq');
\echo :LAST_ERROR_SQLSTATE
select * from pgq_node.set_consumer_completed('sq', 'c1', 2);
\echo :LAST_ERROR_SQLSTATE
select * from pgq_node.create_node('zz', 'root', 'z', 'w', null, null, null);
\echo :LAST_ERROR_SQLSTATE
select * from pgq_node.queue_watermarks('sq');
\echo :LAST_ERROR_SQLSTATE
reset role;

--
-- Security-definer functions pin their search_path and qualify every name:
-- objects a caller puts ahead of pg_catalog (operators, functions, a domain
-- named text that casts and variables of type text would use, tables of
-- pgq_node's and pgq's names) never run with the owner's rights.  The
-- planted objects record calls.
--
create schema pgqnode_evil authorization pgqnode_admin;
set role pgqnode_admin;
create table pgqnode_evil.calls (who text, what text);
grant insert on pgqnode_evil.calls to public;
create function pgqnode_evil.spy(what text) returns boolean
language plpgsql as $$
begin
    insert into pgqnode_evil.calls values (current_user, what);
    return true;
end
$$;
do $do$
declare
    op record;
begin
    for op in
        values ('text_eq', '=', 'text', 'text'),
               ('text_ne', '<>', 'text', 'text'),
               ('int4_eq', '=', 'int4', 'int4'),
               ('int4_ne', '<>', 'int4', 'int4'),
               ('int4_gt', '>', 'int4', 'int4'),
               ('int8_eq', '=', 'int8', 'int8'),
               ('int8_lt', '<', 'int8', 'int8'),
               ('int8_gt', '>', 'int8', 'int8'),
               ('int84_gt', '>', 'int8', 'int4'),
               ('interval_ge', '>=', 'interval', 'interval')
    loop
        execute format($f$
            create function pgqnode_evil.%1$I(pg_catalog.%3$s, pg_catalog.%4$s) returns boolean
            language sql as $b$
                select pgqnode_evil.spy(%5$L) and $1 operator(pg_catalog.%2$s) $2
            $b$
        $f$, op.column1, op.column2, op.column3, op.column4,
            op.column3 || ' ' || op.column2 || ' ' || op.column4);
        execute format('create operator pgqnode_evil.%s (leftarg = pg_catalog.%s, rightarg = pg_catalog.%s, function = pgqnode_evil.%I)',
                       op.column2, op.column3, op.column4, op.column1);
    end loop;
end
$do$;
create function pgqnode_evil.text_cat(pg_catalog.text, pg_catalog.text) returns pg_catalog.text
language sql as $$ select case when pgqnode_evil.spy('text || text') then pg_catalog.textcat($1, $2) end $$;
create operator pgqnode_evil.|| (leftarg = pg_catalog.text, rightarg = pg_catalog.text,
                                 function = pgqnode_evil.text_cat);
create function pgqnode_evil.now() returns timestamptz
language sql as $$ select case when pgqnode_evil.spy('now()') then pg_catalog.now() end $$;
create function pgqnode_evil.format(pg_catalog.text, pg_catalog.text) returns pg_catalog.text
language sql as $$ select case when pgqnode_evil.spy('format()') then 'x' end $$;
create function pgqnode_evil.min(bigint) returns bigint
language sql as $$ select case when pgqnode_evil.spy('min()') then $1 end $$;
create domain pgqnode_evil.text as pg_catalog.text
    check (pgqnode_evil.spy('domain text'));
-- tables of pgq_node's and pgq's names, in the caller's schema and in pg_temp
create table pgqnode_evil.node_info (queue_name pg_catalog.text, node_type pg_catalog.text);
create table pgqnode_evil.local_state (queue_name pg_catalog.text, consumer_name pg_catalog.text);
create temp table subscription (sub_queue int, sub_consumer int);
create temp table node_location (queue_name pg_catalog.text, node_name pg_catalog.text);
grant execute on all functions in schema pgqnode_evil to public;
-- the trap works: the caller's own query picks the planted objects
set search_path = pgqnode_evil, pg_catalog, public;
select 'a'::text = 'a'::text as planted_equal, 'a'::text || 'b'::text as planted_cat,
       now() is not null as planted_now, 2::int8 > 1::int8 as planted_gt;
reset search_path;
select who, what from pgqnode_evil.calls order by who collate "C", what collate "C";
truncate pgqnode_evil.calls;

set search_path = pgqnode_evil, pg_catalog, public;
select * from pgq_node.register_location('sq', 'b3', 'dbname=b3', false);
select * from pgq_node.get_queue_locations('sq') order by node_name;
select * from pgq_node.register_subscriber('sq', 'b3', 'w_b3', null);
select * from pgq_node.get_subscriber_info('sq');
select * from pgq_node.set_subscriber_watermark('sq', 'b3', 2);
select * from pgq_node.set_subscriber_watermark('sq', 'b3', 2);
select * from pgq_node.set_subscriber_watermark('sq', 'b3', 1);
select * from pgq_node.set_subscriber_watermark('sq', 'b9', 1);
select ret_code, node_type, local_watermark from pgq_node.get_node_info('sq');
select ret_code, node_type, local_queue_top from pgq_node.get_worker_state('sq');
select * from pgq_node.register_consumer('sq', 'c3', 'r1', 1);
select * from pgq_node.register_consumer('sq', 'c3', 'r1', 1);
select ret_code from pgq_node.get_consumer_state('sq', 'c3');
select consumer_name from pgq_node.get_consumer_info('sq');
select * from pgq_node.set_consumer_uptodate('sq', 'c3', true);
select * from pgq_node.set_consumer_paused('sq', 'c3', true);
select * from pgq_node.set_consumer_error('sq', 'c3', 'e');
select * from pgq_node.set_consumer_completed('sq', 'c3', 2);
select * from pgq_node.change_consumer_provider('sq', 'c3', 'b3');
select * from pgq_node.change_consumer_provider('sq', 'c3', 'r1');
select * from pgq_node.unregister_consumer('sq', 'c3');
select * from pgq_node.set_global_watermark('sq', null);
select * from pgq_node.set_global_watermark('sq', 2);
select pgq_node.maint_watermark('sq');
select * from pgq_node.set_node_attrs('sq', 'b=2');
select * from pgq_node.set_partition_watermark('sq', 'pq', 1);
select pgq_node.is_root_node('sq'), pgq_node.is_leaf_node('sq'), pgq_node.version() is not null;
select * from pgq_node.unregister_subscriber('sq', 'b3');
select * from pgq_node.drop_node('sq', 'b3');
select * from pgq_node.demote_root('sq', 1, 'b1');
select * from pgq_node.demote_root('sq', 2, 'b1');
select * from pgq_node.demote_root('sq', 3, 'b1');
select * from pgq_node.set_global_watermark('sq', 2);
select * from pgq_node.promote_branch('sq');
select * from pgq_node.create_node('sq2', 'root', 'r1', 'w', null, null, null);
\echo :LAST_ERROR_SQLSTATE
select * from pgq_node.register_location('sq2', 'r1', 'dbname=r1', false);
select * from pgq_node.create_node('sq2', 'root', 'r1', 'w', null, null, null);
select * from pgq_node.drop_node('sq2', 'r1');
select * from pgq_node.drop_node('sq', 'r1');
reset search_path;
select who, what from pgqnode_evil.calls order by who collate "C", what collate "C";
select count(*) as decoy_node_info_rows from pgqnode_evil.node_info;
select count(*) as decoy_subscription_rows from pg_temp.subscription;
drop table pg_temp.subscription;
drop table pg_temp.node_location;
reset role;
drop schema pgqnode_evil cascade;

--
-- Clean up
--
drop role pgqnode_reader;
drop role pgqnode_writer;
drop role pgqnode_admin;
drop role pgqnode_stranger;
drop extension pgq_node;
select count(*) as pgq_node_schema from pg_namespace where nspname = 'pgq_node';
