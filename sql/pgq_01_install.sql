--
-- What CREATE EXTENSION pgq leaves behind: version, packaging, roles,
-- tables, privileges and the function catalogue (pgq-api.md sections 1-3,
-- 6 and quirk Q9).  pg_regress has already run CREATE EXTENSION pgq.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

-- pgqd ignores databases whose pgq.version() starts below '3'
select pgq.version() >= '3' as version_ok,
       pgq.version() = extversion as matches_extension,
       extrelocatable
  from pg_extension where extname = 'pgq';

-- Dump configuration: six tables and four sequences (quirk Q9), all rows
select c::regclass as config_object, cond
  from pg_extension e,
       unnest(e.extconfig, e.extcondition) as x(c, cond)
 where e.extname = 'pgq'
 order by c::regclass::text collate "C";

-- Group roles: NOLOGIN, pgq_admin a member of the other two
select rolname, rolcanlogin, rolsuper, rolinherit
  from pg_roles where rolname like 'pgq\_%' order by rolname collate "C";
select r.rolname as group_role, m.rolname as member, am.admin_option
  from pg_auth_members am
  join pg_roles r on r.oid = am.roleid
  join pg_roles m on m.oid = am.member
 where r.rolname in ('pgq_reader', 'pgq_writer', 'pgq_admin')
 order by r.rolname collate "C", m.rolname collate "C";

-- Every object of the extension lives in schema pgq
select count(*) as objects_outside_pgq
  from pg_depend d
  join pg_class c on d.classid = 'pg_class'::regclass and c.oid = d.objid
 where d.refclassid = 'pg_extension'::regclass
   and d.refobjid = (select oid from pg_extension where extname = 'pgq')
   and c.relnamespace <> 'pgq'::regnamespace;
select count(*) as functions_outside_pgq
  from pg_depend d
  join pg_proc p on d.classid = 'pg_proc'::regclass and p.oid = d.objid
 where d.refclassid = 'pg_extension'::regclass
   and d.refobjid = (select oid from pg_extension where extname = 'pgq')
   and p.pronamespace <> 'pgq'::regnamespace;

-- Table layouts (section 3): name, type, nullability, default
select c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) as type,
       a.attnotnull as not_null, pg_get_expr(ad.adbin, ad.adrelid) as default_expr
  from pg_class c
  join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
  left join pg_attrdef ad on ad.adrelid = c.oid and ad.adnum = a.attnum
 where c.relnamespace = 'pgq'::regnamespace and c.relkind = 'r'
 order by c.relname collate "C", a.attnum;

-- Named constraints and indexes
select conrelid::regclass as table_name, conname, pg_get_constraintdef(oid) as definition
  from pg_constraint
 where connamespace = 'pgq'::regnamespace
 order by conrelid::regclass::text collate "C", conname collate "C";
select indexrelid::regclass as index_name, indrelid::regclass as table_name,
       pg_get_indexdef(indexrelid) as definition
  from pg_index
 where indrelid in (select oid from pg_class where relnamespace = 'pgq'::regnamespace)
 order by indexrelid::regclass::text collate "C";

-- Sequences of the extension
select c.oid::regclass as sequence_name
  from pg_class c
 where c.relnamespace = 'pgq'::regnamespace and c.relkind = 'S'
 order by c.oid::regclass::text collate "C";

--
-- Privileges (section 2.2).  Grantees are shown by name, PUBLIC as
-- "PUBLIC"; the owner's own privileges are left out.
--
create function pg_temp.grantee_name(grantee oid) returns text
language sql stable
as $$ select case when $1 = 0 then 'PUBLIC' else pg_get_userbyid($1) end $$;

select has_schema_privilege('public', 'pgq', 'USAGE') as public_usage,
       has_schema_privilege('public', 'pgq', 'CREATE') as public_create;

select c.oid::regclass as object, pg_temp.grantee_name(x.grantee) as grantee,
       string_agg(x.privilege_type || case when x.is_grantable then '*' else '' end,
                  ', ' order by x.privilege_type collate "C") as privileges
  from pg_class c, aclexplode(c.relacl) x
 where c.relnamespace = 'pgq'::regnamespace and c.relkind in ('r', 'S')
   and x.grantee <> c.relowner
 group by 1, 2
 order by c.oid::regclass::text collate "C", pg_temp.grantee_name(x.grantee) collate "C";

-- The same, as the roles see it (table -> readable/writable per role)
select t.tbl,
       has_table_privilege('pgq_reader', t.tbl, 'SELECT') as reader_select,
       has_table_privilege('pgq_reader', t.tbl, 'INSERT,UPDATE,DELETE,TRUNCATE') as reader_write,
       has_table_privilege('pgq_writer', t.tbl, 'SELECT') as writer_select,
       has_table_privilege('pgq_writer', t.tbl, 'INSERT,UPDATE,DELETE,TRUNCATE') as writer_write,
       has_table_privilege('pgq_admin', t.tbl, 'SELECT') as admin_select,
       has_table_privilege('pgq_admin', t.tbl, 'INSERT') as admin_insert,
       has_table_privilege('pgq_admin', t.tbl, 'UPDATE') as admin_update,
       has_table_privilege('pgq_admin', t.tbl, 'DELETE') as admin_delete,
       has_table_privilege('pgq_admin', t.tbl, 'TRUNCATE') as admin_truncate
  from (values ('pgq.queue'), ('pgq.consumer'), ('pgq.tick'), ('pgq.subscription'),
               ('pgq.event_template'), ('pgq.retry_queue')) as t(tbl)
 order by t.tbl collate "C";
select s.seq,
       has_sequence_privilege('pgq_reader', s.seq, 'USAGE,SELECT,UPDATE') as reader_any,
       has_sequence_privilege('pgq_writer', s.seq, 'USAGE,SELECT,UPDATE') as writer_any,
       has_sequence_privilege('pgq_admin', s.seq, 'USAGE,SELECT,UPDATE') as admin_any
  from (values ('pgq.batch_id_seq'), ('pgq.queue_queue_id_seq'),
               ('pgq.consumer_co_id_seq'), ('pgq.subscription_sub_id_seq')) as s(seq)
 order by s.seq collate "C";

--
-- Function catalogue (section 6): every function with its arguments (names
-- and OUT columns are part of the contract) and result.  The trigger
-- functions are covered by the trigger tests.
--
select p.proname, pg_get_function_arguments(p.oid) as arguments,
       pg_get_function_result(p.oid) as result
  from pg_proc p
 where p.pronamespace = 'pgq'::regnamespace
   and p.prorettype <> 'trigger'::regtype
 order by p.proname collate "C", pg_get_function_arguments(p.oid) collate "C";

-- No function has argument defaults (clients pass every argument)
select p.oid::regprocedure as function_with_defaults
  from pg_proc p
 where p.pronamespace = 'pgq'::regnamespace and p.pronargdefaults > 0;

--
-- The expected EXECUTE group and SECURITY DEFINER flag of every function
-- (sections 2.3 and 2.4).  Groups: public = PUBLIC, consumer = pgq_reader,
-- producer = pgq_writer, admin = pgq_admin.
--
create temp table expected_function (signature text, exec_group text, secdef bool);
insert into expected_function values
    ('pgq.seq_getval(text)',                                    'public',   false),
    ('pgq.get_queue_info()',                                    'public',   false),
    ('pgq.get_queue_info(text)',                                'public',   false),
    ('pgq.get_consumer_info()',                                 'public',   true),
    ('pgq.get_consumer_info(text)',                             'public',   true),
    ('pgq.get_consumer_info(text,text)',                        'public',   true),
    ('pgq.quote_fqname(text)',                                  'public',   false),
    ('pgq.version()',                                           'public',   false),
    ('pgq.batch_event_sql(bigint)',                             'consumer', false),
    ('pgq.batch_event_tables(bigint)',                          'consumer', false),
    ('pgq.find_tick_helper(integer,bigint,timestamp with time zone,bigint,bigint,interval)',
                                                                'consumer', false),
    ('pgq.register_consumer(text,text)',                        'consumer', true),
    ('pgq.register_consumer_at(text,text,bigint)',              'consumer', true),
    ('pgq.unregister_consumer(text,text)',                      'consumer', true),
    ('pgq.next_batch_info(text,text)',                          'consumer', false),
    ('pgq.next_batch(text,text)',                               'consumer', false),
    ('pgq.next_batch_custom(text,text,interval,integer,interval)',
                                                                'consumer', true),
    ('pgq.get_batch_events(bigint)',                            'consumer', false),
    ('pgq.get_batch_info(bigint)',                              'consumer', true),
    ('pgq.get_batch_cursor(bigint,text,integer,text)',          'consumer', false),
    ('pgq.get_batch_cursor(bigint,text,integer)',               'consumer', false),
    ('pgq.event_retry(bigint,bigint,timestamp with time zone)', 'consumer', true),
    ('pgq.event_retry(bigint,bigint,integer)',                  'consumer', true),
    ('pgq.batch_retry(bigint,integer)',                         'consumer', true),
    ('pgq.force_tick(text)',                                    'consumer', true),
    ('pgq.finish_batch(bigint)',                                'consumer', true),
    ('pgq.insert_event(text,text,text)',                        'producer', false),
    ('pgq.insert_event(text,text,text,text,text,text,text)',    'producer', true),
    ('pgq.current_event_table(text)',                           'producer', false),
    ('pgq.jsontriga()',                                         'producer', false),
    ('pgq.sqltriga()',                                          'producer', false),
    ('pgq.logutriga()',                                         'producer', false),
    ('pgq.ticker(text,bigint,timestamp with time zone,bigint)', 'admin',    true),
    ('pgq.ticker(text)',                                        'admin',    true),
    ('pgq.ticker()',                                            'admin',    true),
    ('pgq.ticker_status()',                                     'admin',    false),
    ('pgq.maint_retry_events()',                                'admin',    false),
    ('pgq.maint_rotate_tables_step1(text)',                     'admin',    false),
    ('pgq.maint_rotate_tables_step2()',                         'admin',    false),
    ('pgq.maint_tables_to_vacuum()',                            'admin',    false),
    ('pgq.maint_operations()',                                  'admin',    false),
    ('pgq.upgrade_schema()',                                    'admin',    false),
    ('pgq.grant_perms(text)',                                   'admin',    true),
    ('pgq._grant_perms_from(text,text,text,text)',              'admin',    false),
    ('pgq.tune_storage(text)',                                  'admin',    false),
    ('pgq.seq_setval(text,bigint)',                             'admin',    false),
    ('pgq.create_queue(text)',                                  'admin',    true),
    ('pgq.drop_queue(text,boolean)',                            'admin',    true),
    ('pgq.drop_queue(text)',                                    'admin',    false),
    ('pgq.set_queue_config(text,text,text)',                    'admin',    true),
    ('pgq.insert_event_raw(text,bigint,timestamp with time zone,integer,integer,text,text,text,text,text,text)',
                                                                'admin',    false),
    ('pgq.event_retry_raw(text,text,timestamp with time zone,bigint,timestamp with time zone,integer,text,text,text,text,text,text)',
                                                                'admin',    true);

create temp view actual_function as
select p.oid, p.oid::regprocedure::text as signature, p.prosecdef, p.proowner, p.proacl,
       p.prorettype = 'trigger'::regtype as is_trigger
  from pg_proc p
 where p.pronamespace = 'pgq'::regnamespace;

-- Functions the contract does not list, and listed ones that are missing
select a.signature as unexpected_function
  from actual_function a
 where a.signature not in (select signature from expected_function)
 order by a.signature collate "C";
select e.signature as missing_function
  from expected_function e
 where e.signature not in (select signature from actual_function)
 order by e.signature collate "C";

-- Exact ACL: EXECUTE for the owner and the function's group, nobody else
select e.signature, e.exec_group, g.execute_granted_to
  from expected_function e
  join actual_function a using (signature)
  cross join lateral (
        select string_agg(n.name || case when x.is_grantable then '*' else '' end
                          || case when x.privilege_type <> 'EXECUTE'
                                  then '(' || x.privilege_type || ')' else '' end,
                          ', ' order by n.name <> 'owner', n.name collate "C") as execute_granted_to
          from aclexplode(a.proacl) x,
               lateral (select case when x.grantee = a.proowner then 'owner'
                                    else pg_temp.grantee_name(x.grantee) end) n(name)) g
 where g.execute_granted_to is distinct from
       'owner, ' || case e.exec_group
                         when 'public' then 'PUBLIC'
                         when 'consumer' then 'pgq_reader'
                         when 'producer' then 'pgq_writer'
                         when 'admin' then 'pgq_admin' end
 order by e.signature collate "C";

-- What each role may execute, per group.  pgq_admin inherits the consumer
-- and producer groups; a role without memberships only the public group.
create role pgq_install_nobody nologin;
select e.exec_group,
       count(*) as functions,
       bool_and(has_function_privilege('pgq_install_nobody', a.oid, 'EXECUTE')) as nobody_all,
       bool_or(has_function_privilege('pgq_install_nobody', a.oid, 'EXECUTE')) as nobody_any,
       bool_and(has_function_privilege('pgq_reader', a.oid, 'EXECUTE')) as reader_all,
       bool_or(has_function_privilege('pgq_reader', a.oid, 'EXECUTE')) as reader_any,
       bool_and(has_function_privilege('pgq_writer', a.oid, 'EXECUTE')) as writer_all,
       bool_or(has_function_privilege('pgq_writer', a.oid, 'EXECUTE')) as writer_any,
       bool_and(has_function_privilege('pgq_admin', a.oid, 'EXECUTE')) as admin_all
  from expected_function e
  join actual_function a using (signature)
 where not a.is_trigger
 group by e.exec_group
 order by array_position(array['public', 'consumer', 'producer', 'admin'], e.exec_group);
drop role pgq_install_nobody;

-- SECURITY DEFINER where section 2.4 requires it, and nowhere else
select e.signature, e.secdef as expected_secdef, a.prosecdef as actual_secdef
  from expected_function e
  join actual_function a using (signature)
 where e.secdef <> a.prosecdef
 order by e.signature collate "C";
select count(*) filter (where prosecdef) as security_definer,
       count(*) filter (where not prosecdef) as invoker
  from actual_function where not is_trigger;

-- Security-definer functions must not take the caller's search_path
-- (the 7-argument insert_event runs no SQL and is the documented exception)
select signature as secdef_without_search_path
  from actual_function a
  join pg_proc p using (oid)
 where a.prosecdef
   and not exists (select 1 from unnest(p.proconfig) c where c like 'search\_path=%')
 order by a.signature collate "C";

-- STRICT and volatility where the contract names them
select p.oid::regprocedure as function, p.proisstrict as strict, p.provolatile as volatility
  from pg_proc p
 where p.pronamespace = 'pgq'::regnamespace
   and p.oid in ('pgq.drop_queue(text)'::regprocedure,
                 'pgq._grant_perms_from(text,text,text,text)'::regprocedure,
                 'pgq.tune_storage(text)'::regprocedure,
                 'pgq.seq_getval(text)'::regprocedure,
                 'pgq.seq_setval(text,int8)'::regprocedure,
                 'pgq.quote_fqname(text)'::regprocedure,
                 'pgq.get_batch_cursor(bigint,text,int4)'::regprocedure,
                 'pgq.get_batch_cursor(bigint,text,int4,text)'::regprocedure,
                 'pgq.insert_event_raw(text,bigint,timestamptz,integer,integer,text,text,text,text,text,text)'::regprocedure,
                 'pgq.find_tick_helper(int4,int8,timestamptz,int8,int8,interval)'::regprocedure)
 order by p.oid::regprocedure::text collate "C";

-- upgrade_schema() finds nothing to do on a fresh install and returns 0
select pgq.upgrade_schema();
select attnotnull as sub_last_tick_not_null
  from pg_attribute
 where attrelid = 'pgq.subscription'::regclass and attname = 'sub_last_tick';

-- A fresh install has no queues, consumers, ticks or retry events
select (select count(*) from pgq.queue) as queues,
       (select count(*) from pgq.consumer) as consumers,
       (select count(*) from pgq.subscription) as subscriptions,
       (select count(*) from pgq.tick) as ticks,
       (select count(*) from pgq.retry_queue) as retry_events;
select * from pgq.get_queue_info();
select * from pgq.get_consumer_info();
select * from pgq.maint_operations();
select pgq.ticker() as queues_ticked;
select pgq.maint_retry_events() as retry_events_moved;
