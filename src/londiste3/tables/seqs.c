/*-------------------------------------------------------------------------
 *
 * seqs.c
 *	  londiste3 commands on the node's sequences: add-seq, remove-seq,
 *	  seqs (listed in tables.c's command table).
 *
 * The root publishes the values of its local sequences
 * (londiste.root_check_seqs); the other nodes set their local sequences
 * from those.  add-seq first brings the node's list of sequences in line
 * with its provider's, as add-table does with tables.
 *
 * src/londiste3/tables/seqs.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/pqutil.h"
#include "londiste3/copy/copy.h"
#include "londiste3/execute/exec_attrs.h"
#include "londiste3/tables/tables.h"

/* get_seq_list() of one node: names and last values */
typedef struct SeqList
{
	LdStringList names;
	LdStringList values;
} SeqList;

static bool
fetch_seqs(PGconn *conn, const char *queue_name, SeqList *seqs)
{
	const char *params[1] = {queue_name};
	PGresult   *res;
	int			i;

	memset(seqs, 0, sizeof(*seqs));
	res = sky_db_exec(conn,
					  "select seq_name, last_value from londiste.get_seq_list($1)",
					  1, params);
	if (res == NULL)
		return false;
	for (i = 0; i < PQntuples(res); i++)
	{
		ld_list_add(&seqs->names, PQgetvalue(res, i, 0));
		ld_list_add(&seqs->values, PQgetvalue(res, i, 1));
	}
	PQclear(res);
	return true;
}

static void
free_seqs(SeqList *seqs)
{
	ld_string_list_free(&seqs->names);
	ld_string_list_free(&seqs->values);
}

/* register the provider's sequences here, drop those it has not */
static bool
sync_seq_list(Londiste *ld, PGconn *conn, const SeqList *src, const SeqList *dst)
{
	LdStringList only;
	LdStringList skip;
	bool		ok = true;
	int			i;

	ld_config_list(ld, "register_only_seqs", &only);
	ld_config_list(ld, "register_skip_seqs", &skip);
	for (i = 0; i < src->names.n && ok; i++)
	{
		const char *name = src->names.items[i];
		const char *params[3] = {ld->queue_name, name, src->values.items[i]};

		if ((only.n > 0 && !ld_list_contains(&only, name)) ||
			ld_list_contains(&skip, name) ||
			ld_list_contains(&dst->names, name))
			continue;
		sky_log(SKY_LOG_INFO, "Sequence %s info missing from subscriber, adding", name);
		ok = ld_exec_cmd(conn, "select * from londiste.global_update_seq($1, $2, $3)",
						 3, params, NULL);
	}
	for (i = 0; i < dst->names.n && ok; i++)
	{
		const char *name = dst->names.items[i];
		const char *params[2] = {ld->queue_name, name};

		if (ld_list_contains(&src->names, name))
			continue;
		sky_log(SKY_LOG_INFO, "Sequence %s gone but exists on subscriber, removing", name);
		ok = ld_exec_cmd(conn, "select * from londiste.global_remove_seq($1, $2)",
						 2, params, NULL);
	}
	ld_string_list_free(&only);
	ld_string_list_free(&skip);
	return ok;
}

/* count of sequences of that fq name; -1 if the query failed */
static int
sequence_exists(PGconn *conn, const char *fqname)
{
	const char *params[1] = {fqname};
	char	   *v = sky_db_value(conn,
								 "select count(1) from pg_catalog.pg_class c"
								 " join pg_catalog.pg_namespace n on n.oid = c.relnamespace"
								 " where c.relkind = 'S'"
								 " and n.nspname = split_part($1, '.', 1)"
								 " and c.relname = substr($1, strpos($1, '.') + 1)",
								 1, params);
	int			n;

	if (v == NULL)
		return -1;
	n = atoi(v);
	pg_free(v);
	return n;
}

/* one sequence, in the command's transaction; false to roll back */
static bool
add_one_seq(Londiste *ld, PGconn *src, PGconn *dst, const char *seq)
{
	const char *params[2] = {ld->queue_name, seq};
	int			exists = sequence_exists(dst, seq);

	if (exists < 0)
		return false;
	if (ld->opt.create || ld->opt.create_full)
	{
		/* it logs "already exist" and "missing on provider" itself */
		switch (ld_create_from_provider(src, dst, seq, 'S', seq, ld->opt.create_full))
		{
			case LD_CREATE_DONE:
				break;
			case LD_CREATE_SKIPPED:
				return true;
			case LD_CREATE_FAILED:
				return false;
		}
	}
	else if (exists == 0)
	{
		if (ld->opt.skip_non_existing)
		{
			sky_log(SKY_LOG_WARNING, "Sequence \"%s\" missing on local node, skipping", seq);
			return true;
		}
		sky_log(SKY_LOG_ERROR, "Sequence '%s' missing on local node", seq);
		return false;
	}
	return ld_exec_cmd(dst, "select * from londiste.local_add_seq($1, $2)",
					   2, params, NULL);
}

int
ld_cmd_add_seq(Londiste *ld)
{
	PGconn	   *dst = ld_local(ld);
	PGconn	   *src;
	LdNodeInfo	info;
	char	   *location;
	SeqList		src_seqs;
	SeqList		dst_seqs;
	LdStringList seqs;
	bool		ok;
	int			i;

	if (!ld_load_node_info(ld, &info) || !ld_source_location(ld, &info, &location))
		return LD_EXIT_ERROR;
	if (ld_is_root(&info) && ld->opt.copy_node == NULL)
		src = dst;
	else if ((src = ld_connect(ld, location, true)) == NULL)
		return LD_EXIT_ERROR;
	pg_free(location);

	ok = fetch_seqs(src, ld->queue_name, &src_seqs) &&
		fetch_seqs(dst, ld->queue_name, &dst_seqs) &&
		ld_sql(dst, "begin");
	if (ok)
	{
		ok = sync_seq_list(ld, dst, &src_seqs, &dst_seqs);
		ok = ld_sql(dst, ok ? "commit" : "rollback") && ok;
		free_seqs(&src_seqs);
		free_seqs(&dst_seqs);
	}
	if (ok)
		ok = ld_expand_args(ld, dst, 'S', false, false, &seqs);
	if (ok && seqs.n > 0)
	{
		ok = ld_sql(dst, "begin");
		for (i = 0; i < seqs.n && ok; i++)
			ok = add_one_seq(ld, src, dst, seqs.items[i]);
		if (PQtransactionStatus(dst) != PQTRANS_IDLE)
			ok = ld_sql(dst, ok ? "commit" : "rollback") && ok;
		ld_string_list_free(&seqs);
	}
	if (src != dst)
		PQfinish(src);
	return ok ? LD_EXIT_OK : LD_EXIT_ERROR;
}

int
ld_cmd_remove_seq(Londiste *ld)
{
	PGconn	   *conn = ld_local(ld);
	LdStringList seqs;
	bool		ok = true;
	int			i;

	if (!ld_expand_args(ld, conn, 'S', true, false, &seqs))
		return LD_EXIT_ERROR;
	if (!ld_sql(conn, "begin"))
		return LD_EXIT_ERROR;
	for (i = 0; i < seqs.n; i++)
	{
		const char *params[2] = {ld->queue_name, seqs.items[i]};

		if (!ld_exec_cmd(conn, "select * from londiste.local_remove_seq($1, $2)",
						 2, params, NULL))
			ok = false;
		if (PQtransactionStatus(conn) == PQTRANS_INERROR)
			break;
	}
	ld_string_list_free(&seqs);
	if (!ld_sql(conn, ok ? "commit" : "rollback"))
		return LD_EXIT_ERROR;
	return ok ? LD_EXIT_OK : LD_EXIT_ERROR;
}

int
ld_cmd_seqs(Londiste *ld)
{
	const char *params[1] = {ld->queue_name};
	PGresult   *res = sky_db_exec(ld_local(ld),
								  "select seq_name, local, last_value"
								  " from londiste.get_seq_list($1)",
								  1, params);

	if (res == NULL)
		return LD_EXIT_ERROR;
	ld_display_table(res, "Sequences on node", NULL);
	PQclear(res);
	return LD_EXIT_OK;
}
