--
-- londiste on a root node: registering tables, the triggers create_trigger
-- makes (londiste.md 1.4, 1.5), the events the root queues (1.7), removal.
-- Codes of 400 and more come back as rows, not errors; real errors are
-- followed by their SQLSTATE.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

create extension londiste cascade;

create schema shop;
create table shop.orders (order_no int primary key, item text, qty int);
create table shop.audit_log (at timestamptz, msg text);
create table shop."Price List" ("Code" text primary key, price numeric);
create sequence shop.ticket_seq;

select ret_code from pgq_node.register_location('rq', 'rootnode', 'dbname=rootdb', false);
select ret_code from pgq_node.create_node('rq', 'root', 'rootnode', 'rq_worker', null, null, null);

-- events of the queue (the only one here), oldest first
create view rq_events as
    select ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4
      from pgq.event_template
     order by ev_id;
-- the londiste triggers of a table, with their arguments
create function rq_triggers(tbl regclass, out tgname name, out timing text,
                            out events text, out func regproc, out args text)
returns setof record language sql as $$
    select t.tgname,
           case when t.tgtype & 2 <> 0 then 'before' else 'after' end,
           concat_ws(',', case when t.tgtype & 4 <> 0 then 'I' end,
                          case when t.tgtype & 16 <> 0 then 'U' end,
                          case when t.tgtype & 8 <> 0 then 'D' end,
                          case when t.tgtype & 32 <> 0 then 'R' end),
           t.tgfoid::regproc,
           replace(encode(t.tgargs, 'escape'), '\000', '|')
      from pg_trigger t where t.tgrelid = tbl and not t.tgisinternal
     order by t.tgname
$$;

-- a table needs a primary key; an unknown table, queue or table is refused
select * from londiste.local_add_table('rq', 'shop.audit_log');
select * from londiste.local_add_table('rq', 'shop.nosuch');
select * from londiste.local_add_table('rq', 'shop.orders', array['merge_all', 'no_merge']);
select * from londiste.local_add_table('noq', 'shop.orders');
select count(*) as no_rows_yet from londiste.table_info;

-- the root adds the table to the queue: in sync at once ("ok"), triggers
-- made, and a londiste.add-table event tells the other nodes
select * from londiste.local_add_table('rq', 'shop.orders');
select * from rq_triggers('shop.orders');
select * from londiste.get_table_list('rq');
select * from rq_events;
insert into shop.orders values (1, 'pen & ink', 3);
update shop.orders set qty = 4;
truncate shop.orders;
select * from rq_events where ev_extra1 = 'shop.orders';

-- adding it again is fine, but not with other handler settings
select * from londiste.local_add_table('rq', 'shop.orders');
select * from londiste.local_add_table('rq', 'shop.orders', null, 'handler=bulk');
select * from londiste.local_add_table('rq', 'public.orders');

-- what the root does not replicate yet (only relations outside the
-- londiste and pgq schemas)
select * from londiste.local_show_missing('rq') where obj_name like 'shop.%';

-- trigger arguments pass through in order; tgflags picks timing, events
-- and function; skip_truncate goes into the table attributes
select * from londiste.local_add_table('rq', 'shop."Price List"');
select * from londiste.local_add_table('rq', 'shop.Price List',
                                       array['tgflags=bui', 'ignore=price', 'skip_truncate'],
                                       'handler=londiste');
select * from rq_triggers('shop."Price List"');
select table_name, table_attrs from londiste.get_table_list('rq') order by 1;
select * from londiste.local_remove_table('rq', 'shop.Price List');

-- J wins over L over Q; A wins over B; unknown letters are ignored
select * from londiste.create_trigger('rq', 'shop.Price List', array['tgflags=QLJBAX'],
                                      'shop.Price List', 'root');
select * from rq_triggers('shop."Price List"');
select * from londiste.create_trigger('rq', 'shop.Price List', array['tgflags=q', 'tgflags=d'],
                                      'shop.Price List', 'root');
select * from rq_triggers('shop."Price List"');
-- the row trigger is made anew on every call (a new OID), as in 3.8
select oid as old_oid from pg_trigger where tgname = '_londiste_rq'
   and tgrelid = 'shop."Price List"'::regclass \gset
select * from londiste.create_trigger('rq', 'shop.Price List', array['tgflags=q', 'tgflags=d'],
                                      'shop.Price List', 'root');
select oid <> :old_oid as recreated from pg_trigger where tgname = '_londiste_rq'
   and tgrelid = 'shop."Price List"'::regclass;
-- no_triggers and virtual_table make nothing
select * from londiste.create_trigger('rq', 'shop.Price List', array['no_triggers'],
                                      'shop.Price List', 'root');
select * from londiste.create_trigger('rq', 'shop.Price List', array['virtual_table'],
                                      'shop.Price List', 'root');
-- a table replicated under another local name tells the queue its name
select * from londiste.create_trigger('rq', 'shop.global_name', null, 'shop.Price List', 'root');
select * from rq_triggers('shop."Price List"');
select * from londiste.create_trigger('rq', 'shop.global_name', array['ev_extra1=''own'''],
                                      'shop.Price List', 'root');
select * from rq_triggers('shop."Price List"');

-- SKIP triggers: BEFORE, named to fire last, only one; AFTER triggers
-- cannot coexist with one (the row never reaches them)
drop trigger "_londiste_rq" on shop."Price List";
select * from londiste.create_trigger('rq', 'shop.Price List', array['tgflags=BS'],
                                      'shop.Price List', 'root');
select * from rq_triggers('shop."Price List"');
insert into shop."Price List" values ('A1', 2.5);
select count(*) as rows_skipped from shop."Price List";
select ev_type, ev_data from rq_events where ev_extra1 = 'shop.Price List';
select * from londiste.create_trigger('rq', 'shop.Price List', null, 'shop.Price List', 'root');
-- a second skip request leaves the SKIP to the existing trigger, renaming
-- it if it lacks the zzz_ prefix
alter trigger "zzz__londiste_rq" on shop."Price List" rename to "My Skip";
select * from londiste.create_trigger('rq', 'shop.Price List', array['skip', 'tgflags=B'],
                                      'shop.Price List', 'root');
select * from rq_triggers('shop."Price List"');
create trigger second_skip before insert on shop."Price List"
    for each row execute function pgq.logutriga('other', 'SKIP');
select * from londiste.create_trigger('rq', 'shop.Price List', array['SKIP', 'tgflags=B'],
                                      'shop.Price List', 'root');
drop trigger second_skip on shop."Price List";
drop trigger "zzz_My Skip" on shop."Price List";
-- skip on the default AFTER trigger is accepted here and fails at the
-- first row (pgq refuses SKIP in AFTER triggers), as in 3.8
drop trigger "_londiste_rq" on shop."Price List";
select * from londiste.create_trigger('rq', 'shop.Price List', array['skip'],
                                      'shop.Price List', 'root');
insert into shop."Price List" values ('A2', 1);
\echo :LAST_ERROR_SQLSTATE
select * from rq_triggers('shop."Price List"');

-- handler change: new attributes and trigger arguments for a local table
select * from londiste.local_change_handler('rq', 'shop.orders', array['ev_extra4=''o''||order_no'],
                                            'handler=bulk');
select * from rq_triggers('shop.orders');
insert into shop.orders values (2, 'cup', 1);
select ev_type, ev_data, ev_extra4 from rq_events where ev_extra1 = 'shop.orders' and ev_data like '%cup%';
select * from londiste.local_change_handler('rq', 'shop.orders', array['no_triggers'], null);
select * from londiste.local_change_handler('rq', 'shop.orders', array['tgflags=BS'], null);
select * from londiste.local_change_handler('rq', 'orders', null, null);
select * from londiste.local_change_handler('noq', 'shop.orders', null, null);
select * from londiste.local_change_handler('rq', 'shop.orders', null, 'handler=londiste');
select * from rq_triggers('shop.orders');

-- attributes, state and struct of local tables
select * from londiste.local_set_table_attrs('rq', 'shop.orders', 'a=1');
select * from londiste.local_set_table_attrs('rq', 'orders', 'a=1');
select * from londiste.local_set_table_state('rq', 'shop.orders', 'snap', 'in-copy');
select * from londiste.local_set_table_state('rq', 'shop.orders', null, null);
select * from londiste.local_set_table_state('rq', 'orders', null, 'ok');
-- dropped DDL belongs to a copy in progress only
select * from londiste.local_set_table_state('rq', 'shop.orders', null, 'ok');
select * from londiste.local_set_table_struct('rq', 'shop.orders', 'create index x on y (z);');
\echo :LAST_ERROR_SQLSTATE
select * from londiste.local_set_table_state('rq', 'shop.orders', null, 'in-copy');
select * from londiste.local_set_table_struct('rq', 'shop.orders', 'select 1');
select * from londiste.local_set_table_struct('rq', 'shop.order', null);
select * from londiste.local_set_table_struct('rq', 'shop.orders', null);
select * from londiste.local_set_table_state('rq', 'shop.orders', null, 'ok');

-- global_add_table / global_remove_table
select * from londiste.global_add_table('noq', 'x');
select * from londiste.global_add_table('rq', 'newtbl');
select * from londiste.global_add_table('rq', 'public.newtbl');
select * from londiste.global_remove_table('rq', 'newtbl');
select * from londiste.global_remove_table('rq', 'newtbl');

-- removal on the root drops the triggers, forgets the table and tells
-- the other nodes; a second removal finds nothing
select * from londiste.local_remove_table('rq', 'shop.orders');
select * from rq_triggers('shop.orders');
select * from londiste.local_remove_table('rq', 'shop.orders');
select ev_type, ev_data from rq_events where ev_type like 'londiste.%';

-- deleting a table_info row drops the table's triggers too
select * from londiste.local_add_table('rq', 'shop.orders', array['tgflags=Q']);
select count(*) as triggers_before from rq_triggers('shop.orders');
delete from londiste.table_info where table_name = 'shop.orders';
select count(*) as triggers_after from rq_triggers('shop.orders');
-- but only those of this queue: other triggers and queues stay
create trigger other_q after insert on shop.orders
    for each row execute function pgq.logutriga('otherq');
select * from londiste.local_add_table('rq', 'shop.orders');
select * from londiste.drop_table_triggers('rq', 'shop.orders');
select * from rq_triggers('shop.orders');
select * from londiste.drop_table_triggers('rq', 'no.such');

-- root_notify_change: the root queues an event of any type
select londiste.root_notify_change('rq', 'my.event', 'payload');
select ev_type, ev_data from rq_events where ev_type = 'my.event';

-- a root sees the relations of its database it does not replicate; the
-- londiste and pgq schemas are not listed
select * from londiste.local_show_missing('rq') where obj_name like 'shop.%';
select count(*) as internal_listed from londiste.local_show_missing('rq')
 where obj_name ~ '^(pgq|pgq_node|londiste|pg_catalog|information_schema)\.';

-- drop_table_triggers runs for the rows a dropped queue takes with it
select * from londiste.local_add_table('rq', 'shop.orders');
select count(*) as triggers_before from rq_triggers('shop.orders');
select ret_code from pgq_node.drop_node('rq', 'rootnode');
select count(*) as tables_left from londiste.table_info;
select * from rq_triggers('shop.orders');

drop view rq_events;
drop function rq_triggers(regclass);
drop schema shop cascade;
drop extension londiste;
drop extension pgq_node;
-- the extension's roles are the cluster's; later tests expect none
drop role londiste_writer, londiste_reader;
