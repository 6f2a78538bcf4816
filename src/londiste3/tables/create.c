/*-------------------------------------------------------------------------
 *
 * create.c
 *	  add-table/add-seq --create and --create-full: make a missing local
 *	  table or sequence like the provider's.
 *
 * The objects made are those python3-londiste makes for the same option
 * (skytools' dbstruct): --create the columns (type, not null) and the
 * primary key; --create-full also the column defaults, the serial
 * columns' sequences, every other constraint but foreign keys, indexes,
 * triggers, rules, grants and the owner.  Sequences are made with the
 * provider's options, starting where the provider's would continue.
 *
 * src/londiste3/tables/create.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/pqutil.h"
#include "londiste3/copy/copy.h"
#include "londiste3/copy/tablestruct.h"

/* 1 if the relation exists, 0 if not, -1 on error */
static int
relation_exists(PGconn *conn, const char *fqname, char relkind)
{
	const char *sql = relkind == 'S' ?
		"select londiste.find_seq_oid($1) is not null" :
		"select londiste.find_table_oid($1) is not null";
	char	   *v = sky_db_value(conn, sql, 1, &fqname);
	int			result;

	if (v == NULL)
		return -1;
	result = v[0] == 't' ? 1 : 0;
	pg_free(v);
	return result;
}

static bool
run_logged(PGconn *conn, const char *what, const char *sql)
{
	PGresult   *res;

	sky_log(SKY_LOG_INFO, "Creating %s", what);
	sky_log(SKY_LOG_DEBUG, "%s", sql);
	res = sky_db_exec(conn, sql, 0, NULL);
	PQclear(res);
	return res != NULL;
}

/* the schema of the local name, made if missing */
static bool
ensure_schema(PGconn *dst, const char *dest_name)
{
	char	   *schema = NULL;
	char	   *quoted = ld_quote_fqident(dst, dest_name, &schema);
	char	   *exists;
	bool		ok = false;

	if (quoted == NULL)
		return false;
	exists = sky_db_value(dst,
						  "select count(*) from pg_catalog.pg_namespace where nspname = $1",
						  1, (const char *const *) &schema);
	if (exists != NULL && strcmp(exists, "0") == 0)
	{
		char	   *qschema = PQescapeIdentifier(dst, schema, strlen(schema));
		char	   *sql = psprintf("create schema %s", qschema);

		ok = run_logged(dst, schema, sql);
		PQfreemem(qschema);
		pg_free(sql);
	}
	else
		ok = exists != NULL;
	pg_free(exists);
	pg_free(schema);
	pg_free(quoted);
	return ok;
}

/*
 * The serial columns' sequences are only attached to the table
 * ("ALTER SEQUENCE ... OWNED BY"); one missing here is made first, like
 * the provider's.
 */
static bool
create_owned_sequences(PGconn *src, PGconn *dst, const LdTableStruct *st)
{
	int			i;

	for (i = 0; i < st->nobjs; i++)
	{
		const char *seq = st->objs[i].seq_name;
		char	   *sql;
		bool		ok;
		int			exists;

		if (!(st->objs[i].kind & LD_OBJ_SEQUENCE) || seq == NULL)
			continue;
		if ((exists = relation_exists(dst, seq, 'S')) < 0)
			return false;
		if (exists)
			continue;
		if ((sql = ld_sequence_create_sql(src, seq, NULL)) == NULL)
			return false;
		ok = run_logged(dst, seq, sql);
		pg_free(sql);
		if (!ok)
			return false;
	}
	return true;
}

static LdCreateResult
create_table(PGconn *src, PGconn *dst, const char *name, const char *dest_name,
			 bool full)
{
	int			kinds = full ? LD_OBJ_ALL : (LD_OBJ_TABLE | LD_OBJ_PKEY);
	bool		renamed = strcmp(name, dest_name) != 0;
	char	   *desc = renamed ? psprintf("%s(%s)", name, dest_name) : pg_strdup(name);
	LdCreateResult result = LD_CREATE_FAILED;
	LdTableStruct *st = NULL;
	int			exists;

	if ((exists = relation_exists(dst, dest_name, 'r')) < 0)
		goto done;
	if (exists)
	{
		sky_log(SKY_LOG_INFO, "Table %s already exist, not touching", desc);
		result = LD_CREATE_DONE;
		goto done;
	}
	if ((exists = relation_exists(src, name, 'r')) < 0)
		goto done;
	if (!exists)
	{
		sky_log(SKY_LOG_WARNING, "Table %s missing on provider, cannot create, skipping",
				desc);
		result = LD_CREATE_SKIPPED;
		goto done;
	}
	if (!ensure_schema(dst, dest_name))
		goto done;
	st = ld_struct_load(src, name, kinds, renamed ? dest_name : NULL,
						renamed ? dst : NULL);
	if (st == NULL)
		goto done;
	if (full && !create_owned_sequences(src, dst, st))
		goto done;
	/*
	 * A copy under another name uses the provider table's sequences but
	 * does not take them over from the table of that name.
	 */
	if (renamed)
		kinds &= ~LD_OBJ_SEQUENCE;
	if (ld_struct_create(dst, st, kinds))
		result = LD_CREATE_DONE;

done:
	ld_struct_free(st);
	pg_free(desc);
	return result;
}

static LdCreateResult
create_sequence(PGconn *src, PGconn *dst, const char *name, const char *dest_name)
{
	int			exists;
	char	   *sql;
	bool		ok;

	if ((exists = relation_exists(dst, dest_name, 'S')) < 0)
		return LD_CREATE_FAILED;
	if (exists)
	{
		sky_log(SKY_LOG_INFO, "Sequence %s already exist, not creating", dest_name);
		return LD_CREATE_DONE;
	}
	if ((exists = relation_exists(src, name, 'S')) < 0)
		return LD_CREATE_FAILED;
	if (!exists)
	{
		sky_log(SKY_LOG_WARNING, "Sequence \"%s\" missing on provider, skipping", name);
		return LD_CREATE_SKIPPED;
	}
	if (!ensure_schema(dst, dest_name) ||
		(sql = ld_sequence_create_sql(src, name, dest_name)) == NULL)
		return LD_CREATE_FAILED;
	ok = run_logged(dst, dest_name, sql);
	pg_free(sql);
	return ok ? LD_CREATE_DONE : LD_CREATE_FAILED;
}

LdCreateResult
ld_create_from_provider(PGconn *src, PGconn *dst, const char *name,
						char relkind, const char *dest_name, bool full)
{
	char	   *fq = ld_make_fqname(name);
	char	   *dest_fq = ld_make_fqname(dest_name ? dest_name : name);
	LdCreateResult result;

	if (relkind == 'S')
		result = create_sequence(src, dst, fq, dest_fq);
	else if (relkind == 'r')
		result = create_table(src, dst, fq, dest_fq, full);
	else
	{
		sky_log(SKY_LOG_ERROR, "cannot create %s: unknown relkind '%c'", name, relkind);
		result = LD_CREATE_FAILED;
	}
	pg_free(fq);
	pg_free(dest_fq);
	return result;
}
