--
-- londiste: the extension and its catalog (londiste.md section 1.1-1.3,
-- as londiste 3.8 has it).  This file creates the extension with what it
-- needs and drops them at the end; errors are followed by their SQLSTATE.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

create extension londiste cascade;

-- londiste needs pgq_node (and through it pgq); version() is the
-- extension's version in dotted integers, at or above the original's 3.8
select e.extname, e.extrelocatable, e.extnamespace::regnamespace as extension_schema,
       (select array_agg(r.extname order by r.extname) from pg_extension r
         where r.oid in (select d.refobjid from pg_depend d
                          where d.classid = 'pg_extension'::regclass
                            and d.objid = e.oid
                            and d.refclassid = 'pg_extension'::regclass)) as requires,
       londiste.version() = e.extversion as version_matches,
       londiste.version() ~ '^[0-9]+(\.[0-9]+)*$' as dotted_integers,
       string_to_array(londiste.version(), '.')::int[] >= '{3,8}' as not_below_original
  from pg_extension e where e.extname = 'londiste';

-- the four tables are data that pg_dump keeps; their serial sequences not
select c.relname
  from pg_extension e, unnest(e.extconfig) as x(oid)
  join pg_class c on c.oid = x.oid
 where e.extname = 'londiste' order by 1;
select array_agg(x) from pg_extension e, unnest(e.extcondition) x where e.extname = 'londiste';

-- tables, columns, constraints and the trigger of 3.8
select c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) as type,
       a.attnotnull, pg_get_expr(d.adbin, d.adrelid) as default
  from pg_class c
  join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
  left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
 where c.relnamespace = 'londiste'::regnamespace and c.relkind = 'r'
 order by 1, 2;
select conrelid::regclass, conname, pg_get_constraintdef(oid)
  from pg_constraint where connamespace = 'londiste'::regnamespace
 order by 1::text, 2;
select tgrelid::regclass, tgname, pg_get_triggerdef(oid)
  from pg_trigger where tgrelid = 'londiste.table_info'::regclass and not tgisinternal;

-- every function with its arguments, result and flags: only
-- set_session_replication_role runs as its owner, with a pinned path
select p.oid::regprocedure as function,
       pg_get_function_result(p.oid) as result,
       (select l.lanname from pg_language l where l.oid = p.prolang) as lang,
       p.provolatile as vol, p.proisstrict as strict,
       p.prosecdef as secdef, p.proconfig
  from pg_proc p
 where p.pronamespace = 'londiste'::regnamespace
 order by p.proname, p.oid::regprocedure::text;
select p.oid::regprocedure as function, pg_get_function_arguments(p.oid) as arguments
  from pg_proc p
 where p.pronamespace = 'londiste'::regnamespace
   and p.proname in ('restore_table_fkey', 'local_add_table', 'get_table_list', 'create_trigger',
                     'set_session_replication_role', 'split_fqname', 'execute_start')
 order by 1::text;

-- the roles of 3.8: the writer may do what pgq_admin does, the reader
-- what pgq_reader does
select r.rolname, array_agg(g.rolname order by g.rolname) as member_of
  from pg_roles r
  join pg_auth_members m on m.member = r.oid
  join pg_roles g on g.oid = m.roleid
 where r.rolname in ('londiste_writer', 'londiste_reader')
 group by r.rolname order by 1;

-- privileges: who may execute which function (PUBLIC is the default role
-- of a plain user), read and write which table and use which sequence
create role londiste_plain;
select p.oid::regprocedure as function,
       has_function_privilege('londiste_plain', p.oid, 'execute') as plain,
       has_function_privilege('londiste_reader', p.oid, 'execute') as reader,
       has_function_privilege('londiste_writer', p.oid, 'execute') as writer,
       has_function_privilege('pgq_admin', p.oid, 'execute') as pgq_admin
  from pg_proc p
 where p.pronamespace = 'londiste'::regnamespace
 order by 1::text;
select r.rolname, c.relname,
       has_table_privilege(r.rolname, c.oid, 'select') as sel,
       has_table_privilege(r.rolname, c.oid, 'insert') as ins,
       has_table_privilege(r.rolname, c.oid, 'update') as upd,
       has_table_privilege(r.rolname, c.oid, 'delete') as del,
       has_table_privilege(r.rolname, c.oid, 'truncate') as trunc
  from pg_class c,
       (values ('londiste_plain'), ('londiste_reader'), ('londiste_writer'), ('pgq_admin')) r(rolname)
 where c.relnamespace = 'londiste'::regnamespace and c.relkind = 'r'
 order by 1, 2;
select r.rolname, c.relname, has_sequence_privilege(r.rolname, c.oid, 'usage') as usage
  from pg_class c,
       (values ('londiste_plain'), ('londiste_reader'), ('londiste_writer')) r(rolname)
 where c.relnamespace = 'londiste'::regnamespace and c.relkind = 'S'
 order by 1, 2;
select has_schema_privilege('londiste_plain', 'londiste', 'usage') as plain_schema_usage;
drop role londiste_plain;

-- upgrade_schema has nothing to do on a fresh install, and says 0
select londiste.upgrade_schema();

-- name helpers: first dot splits, "public" by default, parts quoted as needed
select n, londiste.make_fqname(n), londiste.quote_fqname(n), s.*
  from (values ('tbl'), ('sch.tbl'), ('Sch.Tbl.x'), ('a b.c"d'), ('.x'), ('')) v(n),
       londiste.split_fqname(n) s;
select londiste.make_fqname(null), londiste.quote_fqname(null), londiste.split_fqname(null);

-- lookups by exact unquoted name and kind
create schema "Lon Sch";
create table "Lon Sch"."Tbl" (id int primary key, v text, w int);
alter table "Lon Sch"."Tbl" drop column v;
create table "Lon Sch".nokey (a int, b int);
create table "Lon Sch".twokey (a int, b int, c int, primary key (c, a));
create sequence "Lon Sch".seq;
select londiste.find_table_oid('Lon Sch.Tbl') = '"Lon Sch"."Tbl"'::regclass as found_table,
       londiste.find_table_oid('"Lon Sch"."Tbl"') as quoted_name,
       londiste.find_table_oid('Lon Sch.seq') as seq_is_no_table,
       londiste.find_seq_oid('Lon Sch.seq') = '"Lon Sch".seq'::regclass as found_seq,
       londiste.find_rel_oid('Lon Sch.Tbl', 'r') = '"Lon Sch"."Tbl"'::regclass as by_kind,
       londiste.find_rel_oid('Lon Sch.Tbl', 'v') as wrong_kind,
       londiste.find_table_oid('nosuch') as missing;
select londiste.find_column_types('Lon Sch.Tbl') as tbl,
       londiste.find_column_types('Lon Sch.nokey') as nokey,
       londiste.find_column_types('Lon Sch.twokey') as twokey,
       londiste.find_column_types('nosuch') as missing;
select londiste.is_replica_func('pgq.logutriga'::regproc) as logutriga,
       londiste.is_replica_func('pgq.sqltriga'::regproc) as sqltriga,
       londiste.is_replica_func('pgq.jsontriga'::regproc) as jsontriga,
       londiste.is_replica_func('pgq.insert_event(text,text,text)'::regprocedure) as insert_event,
       londiste.is_replica_func(0) as nothing;
drop schema "Lon Sch" cascade;

-- set_session_replication_role: for the session or the transaction; any
-- other value is refused
select londiste.set_session_replication_role('replica', false);
show session_replication_role;
begin;
select londiste.set_session_replication_role('local', true);
show session_replication_role;
commit;
show session_replication_role;
select londiste.set_session_replication_role('origin', false);
show session_replication_role;
select londiste.set_session_replication_role('always', false);
\echo :LAST_ERROR_SQLSTATE
select londiste.set_session_replication_role(null, true);
\echo :LAST_ERROR_SQLSTATE

drop extension londiste;
drop extension pgq_node;
-- the extension's roles are the cluster's; later tests expect none
drop role londiste_writer, londiste_reader;
