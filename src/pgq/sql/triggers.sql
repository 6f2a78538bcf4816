-- Change-capture trigger functions (src/pgq/triggers/*.c).  They run
-- with the rights of the user changing the table: queueing goes through
-- pgq.insert_event(), which is security definer and checks the queue.

CREATE FUNCTION pgq.logutriga()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pgq_logutriga'
LANGUAGE C;

CREATE FUNCTION pgq.sqltriga()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pgq_sqltriga'
LANGUAGE C;

CREATE FUNCTION pgq.jsontriga()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pgq_jsontriga'
LANGUAGE C;
