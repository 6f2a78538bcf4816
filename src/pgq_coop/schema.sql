-- Schema of the pgq_coop extension.  pgq_coop has no tables of its own: a
-- subconsumer S of consumer C is the pgq consumer "C.S" whose subscription
-- row shares C's sub_id, so retry events, which belong to a sub_id, go to
-- whichever member takes the next batch.  C's row is the group's reading
-- position; a member's tick columns are NULL while it is idle and hold its
-- own batch while it is busy.  Functions are in functions.sql, privileges
-- in grants.sql; the Makefile concatenates the three into
-- pgq_coop--<version>.sql.

\echo Use "CREATE EXTENSION pgq_coop" to load this file. \quit

CREATE SCHEMA pgq_coop;
