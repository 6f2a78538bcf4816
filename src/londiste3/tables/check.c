/*-------------------------------------------------------------------------
 *
 * check.c
 *	  londiste3 check and fkeys (listed in tables.c's command table).
 *
 * python3-londiste 3.11 has both commands but they do nothing ("TODO"),
 * so scripts may call them and expect exit 0 and no output.  Here they do
 * what their names promise, without output when all is well:
 *
 *	check	compares the columns of each local table with the provider's
 *			(names and types); a column the provider has and this node
 *			lacks, or of another type, breaks the replay: exit 1.
 *	fkeys	lists the foreign keys the initial copy dropped and has not
 *			restored yet (londiste.pending_fkeys).
 *
 * src/londiste3/tables/check.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/pqutil.h"
#include "londiste3/tables/tables.h"

static const char columns_sql[] =
"select a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)"
" from pg_catalog.pg_attribute a"
" where a.attrelid = londiste.find_table_oid($1)"
" and a.attnum > 0 and not a.attisdropped"
" order by a.attnum";

/* the problems of one table, logged; -1 if a query failed */
static int
check_table(PGconn *src, PGconn *dst, const char *table,
			const char *src_name, const char *dst_name)
{
	PGresult   *want = sky_db_exec(src, columns_sql, 1, &src_name);
	PGresult   *have;
	int			problems = 0;
	int			i;

	if (want == NULL)
		return -1;
	if ((have = sky_db_exec(dst, columns_sql, 1, &dst_name)) == NULL)
	{
		PQclear(want);
		return -1;
	}
	if (PQntuples(have) == 0)
	{
		sky_log(SKY_LOG_ERROR, "Table %s: %s does not exist on this node", table, dst_name);
		problems++;
	}
	for (i = 0; i < PQntuples(want) && PQntuples(have) > 0; i++)
	{
		const char *col = PQgetvalue(want, i, 0);
		int			j;

		for (j = 0; j < PQntuples(have); j++)
			if (strcmp(PQgetvalue(have, j, 0), col) == 0)
				break;
		if (j == PQntuples(have))
		{
			sky_log(SKY_LOG_ERROR, "Table %s: column %s is missing on this node",
					table, col);
			problems++;
		}
		else if (strcmp(PQgetvalue(have, j, 1), PQgetvalue(want, i, 1)) != 0)
		{
			sky_log(SKY_LOG_ERROR, "Table %s: column %s is %s on this node, %s on the provider",
					table, col, PQgetvalue(have, j, 1), PQgetvalue(want, i, 1));
			problems++;
		}
	}
	PQclear(want);
	PQclear(have);
	return problems;
}

int
ld_cmd_check(Londiste *ld)
{
	PGconn	   *dst = ld_local(ld);
	PGconn	   *src;
	LdNodeInfo	info;
	char	   *location;
	const char *params[1] = {ld->queue_name};
	PGresult   *local;
	PGresult   *remote;
	int			problems = 0;
	int			i;

	if (!ld_load_node_info(ld, &info))
		return LD_EXIT_ERROR;
	if (ld_is_root(&info))
	{
		sky_log(SKY_LOG_INFO, "Current node is root, nothing to compare with");
		return LD_EXIT_OK;
	}
	if (!ld_source_location(ld, &info, &location) ||
		(src = ld_connect(ld, location, true)) == NULL)
		return LD_EXIT_ERROR;
	local = sky_db_exec(dst,
						"select table_name, coalesce(dest_table, table_name), table_attrs"
						" from londiste.get_table_list($1) where local order by table_name",
						1, params);
	remote = sky_db_exec(src,
						 "select table_name, coalesce(dest_table, table_name)"
						 " from londiste.get_table_list($1) where local",
						 1, params);
	for (i = 0; local != NULL && remote != NULL && i < PQntuples(local); i++)
	{
		const char *table = PQgetvalue(local, i, 0);
		const char *src_name = NULL;
		int			j;
		int			n;

		/* tables whose handler stores nothing have no columns to match */
		if (!ld_handler_keeps_data(ld, PQgetisnull(local, i, 2) ? NULL :
								   PQgetvalue(local, i, 2)))
			continue;
		for (j = 0; j < PQntuples(remote); j++)
			if (strcmp(PQgetvalue(remote, j, 0), table) == 0)
				src_name = PQgetvalue(remote, j, 1);
		if (src_name == NULL)
		{
			sky_log(SKY_LOG_ERROR, "Table %s: not local on the provider", table);
			problems++;
			continue;
		}
		n = check_table(src, dst, table, src_name, PQgetvalue(local, i, 1));
		if (n < 0)
		{
			problems = -1;
			break;
		}
		problems += n;
	}
	if (local == NULL || remote == NULL)
		problems = -1;
	PQclear(local);
	PQclear(remote);
	PQfinish(src);
	pg_free(location);
	if (problems < 0)
		return LD_EXIT_ERROR;
	if (problems > 0)
	{
		sky_log(SKY_LOG_ERROR, "%d problem(s) found", problems);
		return LD_EXIT_ERROR;
	}
	return LD_EXIT_OK;
}

int
ld_cmd_fkeys(Londiste *ld)
{
	PGresult   *res = sky_db_exec(ld_local(ld),
								  "select from_table, to_table, fkey_name, fkey_def"
								  " from londiste.pending_fkeys"
								  " order by from_table, fkey_name",
								  0, NULL);

	if (res == NULL)
		return LD_EXIT_ERROR;
	ld_display_table(res, "Pending foreign keys on node", NULL);
	PQclear(res);
	return LD_EXIT_OK;
}
