-- Group roles are cluster-wide: pgq.upgrade_schema() creates them where they
-- are missing, and DROP EXTENSION leaves them behind (other databases may
-- use them).
SELECT pgq.upgrade_schema();

-- Table privileges.  Readers see the bookkeeping tables and the events;
-- writers go through security-definer functions only; admins may write the
-- event tables directly (cascade workers COPY into them, rotation truncates).
REVOKE ALL ON pgq.queue, pgq.consumer, pgq.tick, pgq.subscription,
    pgq.event_template, pgq.retry_queue FROM PUBLIC;
REVOKE ALL ON SEQUENCE pgq.batch_id_seq, pgq.queue_queue_id_seq,
    pgq.consumer_co_id_seq, pgq.subscription_sub_id_seq FROM PUBLIC;

GRANT SELECT ON pgq.queue, pgq.consumer, pgq.tick, pgq.subscription TO PUBLIC;
GRANT SELECT ON pgq.queue, pgq.consumer, pgq.tick, pgq.subscription TO pgq_reader;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON pgq.queue, pgq.consumer, pgq.tick, pgq.subscription TO pgq_admin;
GRANT SELECT ON pgq.event_template TO pgq_reader;
GRANT SELECT, INSERT, TRUNCATE ON pgq.event_template TO pgq_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON pgq.retry_queue TO pgq_admin;

-- EXECUTE privileges.  Nothing is executable by PUBLIC unless listed in the
-- first group; consumers, producers and administrators get their role's set.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgq FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    pgq.seq_getval(text),
    pgq.get_queue_info(),
    pgq.get_queue_info(text),
    pgq.get_consumer_info(),
    pgq.get_consumer_info(text),
    pgq.get_consumer_info(text, text),
    pgq.quote_fqname(text),
    pgq.version()
TO PUBLIC;

GRANT EXECUTE ON FUNCTION
    pgq.batch_event_sql(bigint),
    pgq.batch_event_tables(bigint),
    pgq.find_tick_helper(int4, int8, timestamptz, int8, int8, interval),
    pgq.register_consumer(text, text),
    pgq.register_consumer_at(text, text, bigint),
    pgq.unregister_consumer(text, text),
    pgq.next_batch_info(text, text),
    pgq.next_batch(text, text),
    pgq.next_batch_custom(text, text, interval, int4, interval),
    pgq.get_batch_events(bigint),
    pgq.get_batch_info(bigint),
    pgq.get_batch_cursor(bigint, text, int4, text),
    pgq.get_batch_cursor(bigint, text, int4),
    pgq.event_retry(bigint, bigint, timestamptz),
    pgq.event_retry(bigint, bigint, integer),
    pgq.batch_retry(bigint, integer),
    pgq.force_tick(text),
    pgq.finish_batch(bigint)
TO pgq_reader;

GRANT EXECUTE ON FUNCTION
    pgq.insert_event(text, text, text),
    pgq.insert_event(text, text, text, text, text, text, text),
    pgq.current_event_table(text),
    pgq.logutriga(),
    pgq.sqltriga(),
    pgq.jsontriga()
TO pgq_writer;

GRANT EXECUTE ON FUNCTION
    pgq.ticker(text, bigint, timestamptz, bigint),
    pgq.ticker(text),
    pgq.ticker(),
    pgq.maint_retry_events(),
    pgq.maint_rotate_tables_step1(text),
    pgq.maint_rotate_tables_step2(),
    pgq.maint_tables_to_vacuum(),
    pgq.maint_operations(),
    pgq.upgrade_schema(),
    pgq.grant_perms(text),
    pgq._grant_perms_from(text, text, text, text),
    pgq.tune_storage(text),
    pgq.seq_setval(text, int8),
    pgq.create_queue(text),
    pgq.drop_queue(text, bool),
    pgq.drop_queue(text),
    pgq.set_queue_config(text, text, text),
    pgq.insert_event_raw(text, bigint, timestamptz, integer, integer,
                         text, text, text, text, text, text),
    pgq.event_retry_raw(text, text, timestamptz, bigint, timestamptz, integer,
                        text, text, text, text, text, text)
TO pgq_admin;
