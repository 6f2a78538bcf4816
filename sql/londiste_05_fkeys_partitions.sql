--
-- londiste: foreign keys dropped for a copy and restored afterwards, and
-- the partition helpers of the partitioning handlers (londiste.md 1.4).
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

create extension londiste cascade;

create schema "Shop";
create table "Shop".author (id int primary key);
create table "Shop".book (id int primary key, author_id int,
    constraint "Book Author" foreign key (author_id) references "Shop".author (id));
create table "Shop".review (id int primary key, book_id int references "Shop".book on delete cascade);
insert into "Shop".author values (1);
insert into "Shop".book values (10, 1);

-- the foreign keys from and to a table, with the statement re-creating each
select * from londiste.find_table_fkeys('Shop.book');
select * from londiste.find_table_fkeys('Shop.author');
select * from londiste.find_table_fkeys('Shop.nosuch');

-- dropping keeps the definition; only keys of that table by that name
select londiste.drop_table_fkey('Shop.book', 'Book Author');
select londiste.drop_table_fkey('Shop.book', 'Book Author');
select londiste.drop_table_fkey('Shop.author', 'review_book_id_fkey');
select londiste.drop_table_fkey('Shop.review', 'review_book_id_fkey');
select * from londiste.find_table_fkeys('Shop.book');
select * from londiste.get_table_pending_fkeys('Shop.book');
select * from londiste.get_table_pending_fkeys('Shop.author');
select * from londiste.get_table_pending_fkeys('Shop.nosuch');
-- the same key cannot be pending twice
insert into londiste.pending_fkeys values ('Shop.book', 'Shop.author', 'Book Author', 'x');
\echo :LAST_ERROR_SQLSTATE

-- restoring at once
select londiste.restore_table_fkey('Shop.review', 'review_book_id_fkey');
select conname, convalidated from pg_constraint where conrelid = '"Shop".review'::regclass and contype = 'f';
select londiste.restore_table_fkey('Shop.review', 'review_book_id_fkey');

-- restoring lazily, one short step per call: add "not valid", validate,
-- forget; each statement is the caller's to run
select londiste.restore_table_fkey('Shop.book', 'Book Author', true) as step \gset
select :'step';
select londiste.restore_table_fkey('Shop.book', 'Book Author', true) as same_again;
:step;
select conname, convalidated from pg_constraint where conrelid = '"Shop".book'::regclass and contype = 'f';
select londiste.restore_table_fkey('Shop.book', 'Book Author', true) as step \gset
select :'step';
:step;
select conname, convalidated from pg_constraint where conrelid = '"Shop".book'::regclass and contype = 'f';
select londiste.restore_table_fkey('Shop.book', 'Book Author', true) as last_step;
select count(*) as pending from londiste.pending_fkeys;

-- a definition that cannot be restored is an error and stays pending
select londiste.drop_table_fkey('Shop.book', 'Book Author');
insert into "Shop".book values (11, 2);
select londiste.restore_table_fkey('Shop.book', 'Book Author');
\echo :LAST_ERROR_SQLSTATE
select from_table, fkey_name from londiste.pending_fkeys;
delete from "Shop".book where id = 11;
select londiste.restore_table_fkey('Shop.book', 'Book Author');

--
-- Partitions
--
create role part_owner;
create role part_reader;
create table "Shop".events (id int primary key, at timestamptz not null, kind text default 'x',
                            check (kind <> ''));
create index events_kind on "Shop".events (kind);
alter table "Shop".events owner to part_owner;
grant select on "Shop".events to part_reader;
grant insert on "Shop".events to part_reader with grant option;
grant select on "Shop".events to public;
create function "Shop".no_op() returns trigger language plpgsql as $$ begin return null; end $$;
create trigger "Audit Trigger" after delete on "Shop".events
    for each row execute function "Shop".no_op();
alter table "Shop".events enable always trigger "Audit Trigger";
create trigger quiet before update on "Shop".events
    for each row execute function "Shop".no_op();
alter table "Shop".events disable trigger quiet;
create rule "No Dups" as on insert to "Shop".events
    where exists (select 1 from "Shop".events e where e.id = new.id) do instead nothing;
alter table "Shop".events enable replica rule "No Dups";

set timezone = 'UTC';
select londiste.create_partition('Shop.events', 'Shop.events_2024_02', 'id', 'at',
                                 '2024-02-17 13:14:15+00', 'month');
select londiste.create_partition('Shop.events', 'Shop.events_2024_02', 'id', 'at',
                                 '2024-02-17 13:14:15+00', 'month');
-- like the parent: columns, defaults, checks, indexes, owner, grants,
-- triggers and rules with their enabled state; plus the period check
select inhparent::regclass from pg_inherits where inhrelid = '"Shop".events_2024_02'::regclass;
select relowner::regrole, relacl from pg_class where oid = '"Shop".events_2024_02'::regclass;
select conname, pg_get_constraintdef(oid) from pg_constraint
 where conrelid = '"Shop".events_2024_02'::regclass order by 1;
select indexrelid::regclass from pg_index where indrelid = '"Shop".events_2024_02'::regclass order by 1;
select tgname, tgenabled, pg_get_triggerdef(oid) from pg_trigger
 where tgrelid = '"Shop".events_2024_02'::regclass order by 1;
select rulename, ev_enabled, pg_get_ruledef(oid) from pg_rewrite
 where ev_class = '"Shop".events_2024_02'::regclass;
-- an hourly partition, no partition field, a name needing quotes
select londiste.create_partition('Shop.events', 'Shop.events 2024_02_17_13', 'id', 'at',
                                 '2024-02-17 13:14:15+00', 'hour');
select conname, pg_get_constraintdef(oid) from pg_constraint
 where conrelid = '"Shop"."events 2024_02_17_13"'::regclass and contype = 'c' order by 1;
select londiste.create_partition('Shop.events', 'Shop.events_plain', 'id', '', now(), 'day');
select count(*) as checks from pg_constraint
 where conrelid = '"Shop".events_plain'::regclass and contype = 'c';
select londiste.create_partition('Shop.nosuch', 'Shop.nosuch_2024', 'id', 'at', now(), 'year');
\echo :LAST_ERROR_SQLSTATE
select londiste.create_partition(null, 'Shop.x', 'id', 'at', now(), 'year');
\echo :LAST_ERROR_SQLSTATE
reset timezone;

-- obsolete partitions: named by period, older than the retention
select p, londiste.is_obsolete_partition(p, '1 month', period)
  from (values ('Shop.events_2000', 'year'), ('Shop.events_2000_01', 'month'),
               ('Shop.events_2000_01_02', 'day'), ('Shop.events_2000_01_02_03', 'hourly'),
               ('Shop.events_2999_01', 'monthly'), ('Shop.events_2000', 'month'),
               ('Shop.events_x', 'daily')) v(p, period);
select londiste.is_obsolete_partition('Shop.events_2000', '1 month', 'week');
\echo :LAST_ERROR_SQLSTATE
create table "Shop".events_2000_01 () inherits ("Shop".events);
create table "Shop".events_2000_02 () inherits ("Shop".events);
create table "Shop".events_2999_01 () inherits ("Shop".events);
create table "Shop".eventsx_2000_01 () inherits ("Shop".events);
select londiste.list_obsolete_partitions('Shop.events', '1 month', 'month');
select londiste.list_obsolete_partitions('Shop.events', '1 month', 'year');
select londiste.list_obsolete_partitions('Shop.events', '1 month', 'fortnight');
\echo :LAST_ERROR_SQLSTATE
select londiste.drop_obsolete_partitions('Shop.events', '1 month', 'month');
select relname from pg_class where relnamespace = '"Shop"'::regnamespace and relname like 'events%'
   and relkind = 'r' order by 1;

drop schema "Shop" cascade;
drop role part_owner;
drop role part_reader;
drop extension londiste;
drop extension pgq_node;
-- the extension's roles are the cluster's; later tests expect none
drop role londiste_writer, londiste_reader;
