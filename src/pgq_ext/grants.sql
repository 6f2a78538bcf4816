-- Privileges of the pgq_ext extension.  The tables stay private to the
-- owner: consumers reach them only through the security-definer functions.
-- pgq_writer is created by pgq, which pgq_ext requires for that reason.

GRANT USAGE ON SCHEMA pgq_ext TO PUBLIC;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgq_ext FROM PUBLIC;

GRANT EXECUTE ON FUNCTION pgq_ext.version() TO PUBLIC;

GRANT EXECUTE ON FUNCTION
    pgq_ext.upgrade_schema(),
    pgq_ext.is_batch_done(text, text, bigint),
    pgq_ext.is_batch_done(text, bigint),
    pgq_ext.set_batch_done(text, text, bigint),
    pgq_ext.set_batch_done(text, bigint),
    pgq_ext.get_last_tick(text, text),
    pgq_ext.get_last_tick(text),
    pgq_ext.set_last_tick(text, text, bigint),
    pgq_ext.set_last_tick(text, bigint),
    pgq_ext.is_event_done(text, text, bigint, bigint),
    pgq_ext.is_event_done(text, bigint, bigint),
    pgq_ext.set_event_done(text, text, bigint, bigint),
    pgq_ext.set_event_done(text, bigint, bigint)
TO pgq_writer;
