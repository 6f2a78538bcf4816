-- Privileges of the pgq_node extension, in pgq_node 3.5's groups: the
-- consumer functions for those writing into this node (pgq_writer), the
-- provider side for the workers of subscribers (pgq_reader, pgq_writer),
-- node lifecycle, worker and location functions for pgq_admin, and the
-- node type tests for anybody.  Nothing else is executable by PUBLIC.

GRANT USAGE ON SCHEMA pgq_node TO PUBLIC;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgq_node FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA pgq_node FROM PUBLIC;

-- node_type_of is what the two tests run, with the caller's rights (who
-- needs SELECT on node_info, as in 3.5)
GRANT EXECUTE ON FUNCTION
    pgq_node.is_root_node(text),
    pgq_node.is_leaf_node(text),
    pgq_node.node_type_of(text),
    pgq_node.version()
TO PUBLIC;

GRANT EXECUTE ON FUNCTION
    pgq_node.register_consumer(text, text, text, int8),
    pgq_node.unregister_consumer(text, text),
    pgq_node.change_consumer_provider(text, text, text),
    pgq_node.set_consumer_uptodate(text, text, boolean),
    pgq_node.set_consumer_paused(text, text, boolean),
    pgq_node.set_consumer_completed(text, text, int8),
    pgq_node.set_consumer_error(text, text, text)
TO pgq_writer, pgq_admin;

GRANT EXECUTE ON FUNCTION
    pgq_node.create_node(text, text, text, text, text, bigint, text),
    pgq_node.drop_node(text, text),
    pgq_node.demote_root(text, int4, text),
    pgq_node.promote_branch(text),
    pgq_node.set_node_attrs(text, text),
    pgq_node.get_worker_state(text),
    pgq_node.set_global_watermark(text, bigint),
    pgq_node.set_partition_watermark(text, text, bigint)
TO pgq_admin;

GRANT EXECUTE ON FUNCTION
    pgq_node.get_consumer_info(text),
    pgq_node.get_consumer_state(text, text),
    pgq_node.get_queue_locations(text),
    pgq_node.get_node_info(text),
    pgq_node.get_subscriber_info(text),
    pgq_node.register_subscriber(text, text, text, int8),
    pgq_node.unregister_subscriber(text, text),
    pgq_node.set_subscriber_watermark(text, text, bigint)
TO pgq_reader, pgq_writer, pgq_admin;

GRANT EXECUTE ON FUNCTION
    pgq_node.register_location(text, text, text, boolean),
    pgq_node.unregister_location(text, text),
    pgq_node.upgrade_schema(),
    pgq_node.maint_watermark(text)
TO pgq_admin;

GRANT SELECT ON
    pgq_node.node_location, pgq_node.node_info,
    pgq_node.local_state, pgq_node.subscriber_info
TO pgq_reader, pgq_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    pgq_node.node_location, pgq_node.node_info,
    pgq_node.local_state, pgq_node.subscriber_info
TO pgq_admin;
