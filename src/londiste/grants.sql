-- Privileges of the londiste extension, as londiste 3.8 grants them:
-- anybody may read the registration tables and use the name helpers; a
-- provider's readers (londiste_reader) list its tables and sequences; the
-- replication worker and admin tool (londiste_writer) run everything;
-- pgq_admin writes the tables and runs the periodic jobs.

GRANT USAGE ON SCHEMA londiste TO PUBLIC;

GRANT SELECT ON londiste.table_info, londiste.seq_info,
                londiste.pending_fkeys, londiste.applied_execute
   TO PUBLIC, londiste_reader;
GRANT SELECT, INSERT, UPDATE, DELETE
   ON londiste.table_info, londiste.seq_info,
      londiste.pending_fkeys, londiste.applied_execute
   TO pgq_admin;
GRANT USAGE ON SEQUENCE londiste.table_info_nr_seq, londiste.seq_info_nr_seq
   TO londiste_writer;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA londiste FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    londiste.find_column_types(text),
    londiste.find_table_fkeys(text),
    londiste.find_rel_oid(text, text),
    londiste.find_table_oid(text),
    londiste.find_seq_oid(text),
    londiste.is_replica_func(oid),
    londiste.quote_fqname(text),
    londiste.make_fqname(text),
    londiste.split_fqname(text),
    londiste.version(),
    -- 3.8 never revoked this one from PUBLIC; it runs with the caller's
    -- rights, so it changes nothing the caller could not change anyway
    londiste.local_change_handler(text, text, text[], text)
TO PUBLIC;

GRANT EXECUTE ON FUNCTION
    londiste.get_seq_list(text),
    londiste.get_table_list(text),
    londiste._coordinate_copy(text, text)
TO londiste_reader, londiste_writer;

GRANT EXECUTE ON FUNCTION
    londiste.periodic_maintenance(),
    londiste.root_check_seqs(text),
    londiste.root_check_seqs(text, bigint)
TO londiste_writer, pgq_admin;

GRANT EXECUTE ON FUNCTION
    londiste.local_show_missing(text),
    londiste.local_add_seq(text, text),
    londiste.local_add_table(text, text, text[], text, text),
    londiste.local_add_table(text, text, text[], text),
    londiste.local_add_table(text, text, text[]),
    londiste.local_add_table(text, text),
    londiste.local_remove_seq(text, text),
    londiste.local_remove_table(text, text),
    londiste.global_add_table(text, text),
    londiste.global_remove_table(text, text),
    londiste.global_update_seq(text, text, bigint),
    londiste.global_remove_seq(text, text),
    londiste.get_table_pending_fkeys(text),
    londiste.get_valid_pending_fkeys(text),
    londiste.drop_table_fkey(text, text),
    londiste.restore_table_fkey(text, text, boolean),
    londiste.execute_start(text, text, text, boolean),
    londiste.execute_start(text, text, text, boolean, text),
    londiste.execute_finish(text, text),
    londiste.root_notify_change(text, text, text),
    londiste.local_set_table_state(text, text, text, text),
    londiste.local_set_table_attrs(text, text, text),
    londiste.local_set_table_struct(text, text, text),
    londiste.drop_table_triggers(text, text),
    londiste.table_info_trigger(),
    londiste.create_partition(text, text, text, text, timestamptz, text),
    londiste.is_obsolete_partition(text, interval, text),
    londiste.list_obsolete_partitions(text, interval, text),
    londiste.drop_obsolete_partitions(text, interval, text),
    londiste.create_trigger(text, text, text[], text, text),
    londiste.set_session_replication_role(text, boolean),
    londiste.upgrade_schema()
TO londiste_writer;
