--
-- londiste: who may call what (londiste.md 1.3), and search_path attacks.
-- The replication worker and the admin tool often connect as a superuser
-- with the database's search_path; a role that can create objects in a
-- schema on that path must not get its functions or operators run in
-- place of the ones londiste means.  set_session_replication_role runs as
-- its owner for anybody in londiste_writer, so its own path is pinned.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

create extension londiste cascade;

create table goods (id int primary key, name text);
select ret_code from pgq_node.register_location('secq', 'secroot', 'dbname=x', false);
select ret_code from pgq_node.create_node('secq', 'root', 'secroot', 'sec_worker', null, null, null);
select * from londiste.local_add_table('secq', 'goods');
create sequence goods_seq;
select * from londiste.local_add_seq('secq', 'goods_seq');

create role lon_plain;
create role lon_reader in role londiste_reader;
create role lon_writer in role londiste_writer;
create role lon_admin in role pgq_admin;

--
-- Privileges in use
--
set role lon_plain;
select count(*) from londiste.table_info;
select londiste.make_fqname('x'), londiste.version() is not null as has_version;
select * from londiste.get_table_list('secq');
\echo :LAST_ERROR_SQLSTATE
select * from londiste.local_add_table('secq', 'goods');
\echo :LAST_ERROR_SQLSTATE
select londiste.set_session_replication_role('replica', true);
\echo :LAST_ERROR_SQLSTATE
select * from londiste.root_check_seqs('secq');
\echo :LAST_ERROR_SQLSTATE
-- (3.8 left local_change_handler to PUBLIC; it runs with the caller's
-- rights, so the table stays unchanged)
select * from londiste.local_change_handler('secq', 'public.goods', null, 'x=1');
\echo :LAST_ERROR_SQLSTATE
reset role;

set role lon_reader;
select table_name, local, merge_state from londiste.get_table_list('secq');
select seq_name, local from londiste.get_seq_list('secq');
select * from londiste._coordinate_copy('secq', 'public.goods');
select * from londiste.local_set_table_state('secq', 'goods', null, 'ok');
\echo :LAST_ERROR_SQLSTATE
select londiste.set_session_replication_role('replica', true);
\echo :LAST_ERROR_SQLSTATE
reset role;

set role lon_admin;
select * from londiste.root_check_seqs('secq');
select * from londiste.root_check_seqs('secq', 100);
select londiste.periodic_maintenance();
select * from londiste.get_table_list('secq');
\echo :LAST_ERROR_SQLSTATE
reset role;

-- the writer runs the worker's calls; it may switch the replication role
-- although that setting is reserved to superusers
set role lon_writer;
select table_name from londiste.get_table_list('secq');
select * from londiste.local_set_table_state('secq', 'goods', null, 'ok');
select * from londiste.execute_start('secq', 'w.sql', 'select 1', true);
select * from londiste.execute_finish('secq', 'w.sql');
select londiste.periodic_maintenance();
begin;
select londiste.set_session_replication_role('replica', true);
show session_replication_role;
commit;
set session_replication_role = replica;
\echo :LAST_ERROR_SQLSTATE
reset role;

--
-- Search path attacks.  Role lon_attacker owns schema "app", which the
-- database's search_path names before pg_catalog; everything it defines
-- there records whether it ran with superuser rights.
--
create role lon_attacker in role londiste_writer;
create schema app authorization lon_attacker;
create table public.captured (what text, caller text, as_superuser boolean);
grant insert on public.captured to public;
set role lon_attacker;
-- records the operator or function captured, the innermost function
-- that called it, and whether it ran with superuser rights
create function app.note(what text) returns boolean language plpgsql as $$
declare
    ctx pg_catalog.text;
    caller pg_catalog.text;
begin
    get diagnostics ctx = pg_context;
    select f.m[2] into caller
      from pg_catalog.regexp_matches(ctx, '(PL/pgSQL function |SQL function ")(?:app\.)?([a-z_.]+)', 'g')
           with ordinality as f(m, n)
     where f.m[2] operator(pg_catalog.<>) all
           ('{note,text_eq,text_ne,text_cat,strpos,concat,array_append,quote_literal,format}'::pg_catalog.text[])
     order by f.n limit 1;
    insert into public.captured
    select what, caller, r.rolsuper from pg_catalog.pg_roles r
     where r.rolname operator(pg_catalog.=) current_user;
    return true;
end
$$;
create function app.text_eq(a text, b text) returns boolean language sql as $$
    select app.note('=') and pg_catalog.texteq(a, b) $$;
create operator app.= (leftarg = text, rightarg = text, function = app.text_eq);
create function app.text_ne(a text, b text) returns boolean language sql as $$
    select app.note('<>') and pg_catalog.textne(a, b) $$;
create operator app.<> (leftarg = text, rightarg = text, function = app.text_ne);
create function app.text_cat(a text, b text) returns text language sql as $$
    select case when app.note('||') then pg_catalog.textcat(a, b) end $$;
create operator app.|| (leftarg = text, rightarg = text, function = app.text_cat);
create function app.strpos(a text, b text) returns integer language sql as $$
    select case when app.note('strpos') then pg_catalog.strpos(a, b) end $$;
create function app.concat(variadic a text[]) returns text language sql as $$
    select case when app.note('concat') then pg_catalog.array_to_string(a, '') end $$;
create function app.array_append(a text[], b text) returns text[] language sql as $$
    select case when app.note('array_append') then pg_catalog.array_append(a, b) end $$;
create function app.quote_literal(a text) returns text language sql as $$
    select case when app.note('quote_literal') then pg_catalog.quote_literal(a) end $$;
create function app.format(f text, variadic a text[]) returns text language sql as $$
    select case when app.note('format') then pg_catalog.format(f, variadic a) end $$;
reset role;

-- An unpinned security definer in the style of londiste 3.8: the caller
-- chooses the operators it runs, with its owner's rights.
create function public.unpinned_set_role(val text) returns void
language plpgsql security definer as $$
begin
    if val = 'replica' then
        set session_replication_role = 'replica';
    end if;
end
$$;
grant execute on function public.unpinned_set_role(text) to lon_attacker;
set role lon_attacker;
set search_path = app, pg_catalog;
select public.unpinned_set_role('replica');
select londiste.set_session_replication_role('replica', false);
reset search_path;
reset role;
reset session_replication_role;
select * from public.captured;
delete from public.captured;

-- An unqualified body in the style of londiste 3.8's make_fqname, called
-- by a superuser under the database's path, runs the attacker's code ...
create function public.unqualified_fqname(i_name text) returns text language plpgsql as $$
begin
    if position('.' in i_name) > 0 then
        return i_name;
    end if;
    return 'public.' || i_name;
end
$$;
alter database :"DBNAME" set search_path = app, pg_catalog, public;
\c
set client_min_messages = warning;
\set SHOW_CONTEXT never
select public.unqualified_fqname('goods');
select * from public.captured order by 1;
delete from public.captured;

-- ... but nothing londiste runs is taken from there: the calls of the
-- worker and of the admin tool, under the same path
select * from londiste.get_table_list('secq');
select * from londiste._coordinate_copy('secq', 'public.goods');
select londiste.set_session_replication_role('replica', false);
select londiste.set_session_replication_role('origin', false);
select * from londiste.get_seq_list('secq');
select * from londiste.root_check_seqs('secq', 10);
select * from londiste.local_set_table_state('secq', 'public.goods', null, 'ok');
select * from londiste.local_show_missing('secq') where obj_name like 'public.%';
select * from londiste.local_change_handler('secq', 'public.goods', array['tgflags=QIU', 'backup'], 'h=1');
select * from londiste.local_add_table('secq', 'goods_renamed', array['ev_extra2=''x'''], 'a=b', 'goods');
select * from londiste.local_remove_table('secq', 'goods');
select * from londiste.local_add_table('secq', 'goods', array['skip_truncate', 'tgflags=BS']);
select * from londiste.global_add_table('secq', 'other');
select * from londiste.global_remove_table('secq', 'other');
select * from londiste.execute_start('secq', 'a.sql', 'select 1', true, 'x');
select * from londiste.execute_finish('secq', 'a.sql');
select londiste.periodic_maintenance();
select * from londiste.find_table_fkeys('public.goods');
select londiste.drop_table_fkey('public.goods', 'none');
select londiste.restore_table_fkey('public.goods', 'none', true);
select count(*) from londiste.get_valid_pending_fkeys('secq');
select count(*) from londiste.get_table_pending_fkeys('public.goods');
select londiste.find_column_types('goods');
select londiste.quote_fqname('goods'), londiste.make_fqname('goods');
select * from londiste.local_remove_seq('secq', 'goods_seq');
select londiste.create_partition('public.goods', 'public.goods_2024', 'id', '', now(), 'year');
select londiste.is_obsolete_partition('goods_2000', '1 day', 'year');
select * from londiste.list_obsolete_partitions('public.goods', '1 day', 'year');
select * from londiste.drop_obsolete_partitions('public.goods', '1 day', 'year');
select * from londiste.local_remove_table('secq', 'goods');
select ret_code from pgq_node.drop_node('secq', 'secroot');
-- (pgq_node's own functions are not londiste's concern here)
select count(*) as captured_in_londiste from public.captured
 where caller like 'londiste.%' or caller = 'is_replica_func';

alter database :"DBNAME" reset search_path;
\c
set client_min_messages = warning;
drop table public.captured, goods;
drop sequence goods_seq;
drop function public.unpinned_set_role(text);
drop function public.unqualified_fqname(text);
drop schema app cascade;
drop role lon_plain, lon_reader, lon_writer, lon_admin, lon_attacker;
drop extension londiste;
drop extension pgq_node;
-- the extension's roles are the cluster's; later tests expect none
drop role londiste_writer, londiste_reader;
