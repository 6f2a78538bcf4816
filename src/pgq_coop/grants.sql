-- Privileges of the pgq_coop extension: consumers (pgq_reader, created by
-- pgq) run everything, anybody may ask for the version.

GRANT USAGE ON SCHEMA pgq_coop TO PUBLIC;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgq_coop FROM PUBLIC;

GRANT EXECUTE ON FUNCTION pgq_coop.version() TO PUBLIC;

GRANT EXECUTE ON FUNCTION
    pgq_coop.register_subconsumer(text, text, text),
    pgq_coop.unregister_subconsumer(text, text, text, integer),
    pgq_coop.next_batch(text, text, text),
    pgq_coop.next_batch(text, text, text, interval),
    pgq_coop.next_batch_custom(text, text, text, interval, integer, interval),
    pgq_coop.next_batch_custom(text, text, text, interval, integer, interval, interval),
    pgq_coop.finish_batch(bigint)
TO pgq_reader;
