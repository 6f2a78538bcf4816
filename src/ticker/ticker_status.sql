
-- In-server ticker (src/ticker/launcher.c).  One row per database the
-- ticker serves, read from shared memory; no rows unless pgq is in
-- shared_preload_libraries.  Comes after grants.sql because it grants to
-- pgq_admin: the rows show other databases' activity and error messages,
-- so PUBLIC does not get it.
CREATE FUNCTION pgq.ticker_status(
    OUT datname name, OUT pid integer, OUT state text,
    OUT last_tick_time timestamptz, OUT last_maint_time timestamptz,
    OUT last_retry_time timestamptz, OUT last_error text,
    OUT last_error_time timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgq_ticker_status'
LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION pgq.ticker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgq.ticker_status() TO pgq_admin;
