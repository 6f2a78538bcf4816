/*-------------------------------------------------------------------------
 *
 * tablestruct.c
 *	  A table's structure as SQL statements, read from the catalogs.
 *
 * The definitions come from the server's own deparsers (format_type,
 * pg_get_constraintdef, pg_get_indexdef, pg_get_triggerdef,
 * pg_get_ruledef, pg_get_expr), so they are exact for the server that
 * printed them.  Names are quoted by the server (quote_ident) or, for
 * names made up here, by PQescapeIdentifier().
 *
 * src/londiste3/copy/tablestruct.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/pqutil.h"
#include "londiste3/londiste.h"
#include "londiste3/copy/tablestruct.h"
#include "pqexpbuffer.h"

/* What each query returns: name, create statement, drop statement. */
static const char *const table_sql =
"select $3::text, 'CREATE TABLE ' || $2::text || ' ('"
"   || coalesce(string_agg(E'\\n    ' || quote_ident(a.attname) || ' '"
"        || format_type(a.atttypid, a.atttypmod)"
"        || case when a.attnotnull then ' not null' else '' end,"
"      ',' order by a.attnum), '') || E'\\n);',"
"   'DROP TABLE ' || $2::text || ';'"
" from pg_catalog.pg_attribute a"
" where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped";

/* serial columns' sequences (identity columns own theirs differently) */
static const char *const sequence_sql =
"select n.nspname || '.' || c.relname,"
"   'ALTER SEQUENCE ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)"
"   || E'\\n  OWNED BY ' || $2::text || '.' || quote_ident(a.attname) || ';',"
"   null::text, $3::text"
" from pg_catalog.pg_depend d"
" join pg_catalog.pg_class c on c.oid = d.objid and c.relkind = 'S'"
" join pg_catalog.pg_namespace n on n.oid = c.relnamespace"
" join pg_catalog.pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid"
" where d.classid = 'pg_catalog.pg_class'::regclass"
"   and d.refclassid = 'pg_catalog.pg_class'::regclass"
"   and d.refobjid = $1 and d.deptype = 'a'"
" order by a.attnum";

static const char *const default_sql =
"select a.attname,"
"   'ALTER TABLE ONLY ' || $2::text || ' ALTER COLUMN ' || quote_ident(a.attname)"
"   || E'\\n  SET DEFAULT ' || pg_get_expr(d.adbin, d.adrelid) || ';',"
"   'ALTER TABLE ONLY ' || $2::text || ' ALTER COLUMN ' || quote_ident(a.attname)"
"   || ' DROP DEFAULT;', $3::text"
" from pg_catalog.pg_attribute a"
" join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum"
" where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped"
"   and a.attgenerated = ''"
" order by a.attnum";

/*
 * Constraints and indexes are put together here: their names may change
 * on a renamed table.  Constraint triggers are not constraints one can
 * add with ALTER TABLE; foreign keys are fkeys.c's.
 */
static const char *const constraint_sql =
"select c.conname, quote_ident(c.conname), pg_get_constraintdef(c.oid),"
"   c.contype = 'p', c.contype in ('p', 'u', 'x'),"
"   coalesce(i.indisclustered, false)"
" from pg_catalog.pg_constraint c"
" left join pg_catalog.pg_index i"
"   on i.indexrelid = c.conindid and i.indrelid = c.conrelid"
" where c.conrelid = $1 and c.contype not in ('f', 't')"
" order by c.contype <> 'p', c.conname";

/*
 * Indexes that no constraint owns.  pg_get_indexdef() prints "CREATE
 * [UNIQUE] INDEX name ON schema.table USING ..."; the part from USING on
 * is kept, so that the index can be made on another table or name.
 */
static const char *const index_sql =
"select ic.relname, quote_ident(ic.relname),"
"   quote_ident(n.nspname) || '.' || quote_ident(ic.relname),"
"   i.indisunique, i.indisclustered,"
"   case when left(x.def, length(x.prefix)) = x.prefix"
"        then substr(x.def, length(x.prefix) + 1) end"
" from pg_catalog.pg_index i"
" join pg_catalog.pg_class ic on ic.oid = i.indexrelid"
" join pg_catalog.pg_class t on t.oid = i.indrelid"
" join pg_catalog.pg_namespace n on n.oid = t.relnamespace,"
" lateral (select pg_get_indexdef(i.indexrelid) as def,"
"   'CREATE ' || case when i.indisunique then 'UNIQUE ' else '' end"
"   || 'INDEX ' || quote_ident(ic.relname) || ' ON '"
"   || quote_ident(n.nspname) || '.' || quote_ident(t.relname) || ' ' as prefix) x"
" where i.indrelid = $1"
"   and not exists (select 1 from pg_catalog.pg_depend d"
"     where d.classid = 'pg_catalog.pg_class'::regclass"
"       and d.objid = i.indexrelid and d.deptype = 'i')"
" order by ic.relname";

static const char *const trigger_sql =
"select t.tgname, quote_ident(t.tgname), pg_get_triggerdef(t.oid)"
" from pg_catalog.pg_trigger t"
" where t.tgrelid = $1 and not t.tgisinternal"
" order by t.tgname";

static const char *const rule_sql =
"select r.rulename, quote_ident(r.rulename), pg_get_ruledef(r.oid), r.ev_enabled"
" from pg_catalog.pg_rewrite r"
" where r.ev_class = $1 and r.rulename <> '_RETURN'"
" order by r.rulename";

static const char *const grant_sql =
"select 'grants to ' || case when e.grantee = 0 then 'public'"
"                      else pg_get_userbyid(e.grantee) end,"
"   'GRANT ' || string_agg(e.privilege_type, ', ' order by e.privilege_type)"
"   || ' ON ' || $2::text || E'\\n  TO '"
"   || case when e.grantee = 0 then 'public'"
"      else quote_ident(pg_get_userbyid(e.grantee)) end"
"   || case when e.is_grantable then ' WITH GRANT OPTION' else '' end || ';',"
"   null::text, $3::text"
" from pg_catalog.pg_class c, aclexplode(c.relacl) e"
" where c.oid = $1"
" group by e.grantee, e.is_grantable"
" order by 1, e.is_grantable";

static const char *const owner_sql =
"select 'owner',"
"   'ALTER TABLE ' || $2::text || E'\\n  OWNER TO '"
"   || quote_ident(pg_get_userbyid(c.relowner)) || ';', null::text, $3::text"
" from pg_catalog.pg_class c where c.oid = $1";

/* a partition's parent is not inheritance one can drop and re-add */
static const char *const parent_sql =
"select n.nspname || '.' || p.relname,"
"   'ALTER TABLE ONLY ' || $2::text || E'\\n  INHERIT '"
"   || quote_ident(n.nspname) || '.' || quote_ident(p.relname) || ';',"
"   'ALTER TABLE ONLY ' || $2::text || E'\\n  NO INHERIT '"
"   || quote_ident(n.nspname) || '.' || quote_ident(p.relname) || ';', $3::text"
" from pg_catalog.pg_inherits i"
" join pg_catalog.pg_class p on p.oid = i.inhparent"
" join pg_catalog.pg_namespace n on n.oid = p.relnamespace"
" join pg_catalog.pg_class c on c.oid = i.inhrelid"
" where i.inhrelid = $1 and not c.relispartition"
" order by i.inhseqno";

static void
add_obj(LdTableStruct *st, int kind, const char *name, char *create_sql,
		char *drop_sql)
{
	LdStructObj *o;

	st->objs = pg_realloc(st->objs, (st->nobjs + 1) * sizeof(LdStructObj));
	o = &st->objs[st->nobjs++];
	o->kind = kind;
	o->name = pg_strdup(name);
	o->create_sql = create_sql;
	o->drop_sql = drop_sql;
	o->seq_name = NULL;
}

static char *
dup_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : pg_strdup(PQgetvalue(res, row, col));
}

/* objects whose query gives name, create and drop statements as they are */
static bool
load_simple(PGconn *conn, LdTableStruct *st, int kind, const char *sql,
			const char *const *params)
{
	PGresult   *res = sky_db_exec(conn, sql, 3, params);
	int			i;

	if (res == NULL)
		return false;
	for (i = 0; i < PQntuples(res); i++)
	{
		add_obj(st, kind, PQgetvalue(res, i, 0), dup_or_null(res, i, 1),
				dup_or_null(res, i, 2));
		if (kind == LD_OBJ_SEQUENCE)
			st->objs[st->nobjs - 1].seq_name = pg_strdup(PQgetvalue(res, i, 0));
	}
	PQclear(res);
	return true;
}

static char *
quote_ident_client(PGconn *conn, const char *name)
{
	char	   *q = PQescapeIdentifier(conn, name, strlen(name));
	char	   *result;

	if (q == NULL)
		return NULL;
	result = pg_strdup(q);
	PQfreemem(q);
	return result;
}

/*
 * On a renamed table a constraint or index may keep its name unless a
 * relation of that name exists in the target schema (indexes are
 * relations); then name_N, with the old _N suffix cut off.  Returns the
 * quoted name to use, or NULL (logged) if none of name_1..name_999 is free.
 */
static char *
free_index_name(PGconn *check, const char *schema, const char *name,
				const char *quoted)
{
	const char *sql =
		"select count(*) from pg_catalog.pg_class c"
		" join pg_catalog.pg_namespace n on n.oid = c.relnamespace"
		" where n.nspname = $1 and c.relname = $2::text";
	char	   *base;
	char	   *used;
	size_t		len;
	int			i;

	{
		const char *params[2] = {schema, name};

		used = sky_db_value(check, sql, 2, params);
	}
	if (used == NULL)
		return NULL;
	if (strcmp(used, "0") == 0)
	{
		pg_free(used);
		return pg_strdup(quoted);
	}
	pg_free(used);

	base = pg_strdup(name);
	len = strlen(base);
	while (len > 0 && base[len - 1] >= '0' && base[len - 1] <= '9')
		len--;
	if (len > 0 && len < strlen(base) && base[len - 1] == '_')
		base[len - 1] = '\0';
	for (i = 1; i < 1000; i++)
	{
		char	   *candidate = psprintf("%s_%d", base, i);
		const char *params[2] = {schema, candidate};

		used = sky_db_value(check, sql, 2, params);
		if (used == NULL)
		{
			pg_free(candidate);
			break;
		}
		if (strcmp(used, "0") == 0)
		{
			char	   *q = quote_ident_client(check, candidate);

			pg_free(used);
			pg_free(candidate);
			pg_free(base);
			return q;
		}
		pg_free(used);
		pg_free(candidate);
	}
	sky_log(SKY_LOG_ERROR, "no free name for %s in schema %s", name, schema);
	pg_free(base);
	return NULL;
}

static bool
load_constraints(PGconn *conn, LdTableStruct *st, const char *const *params, const char *target,
				 const char *schema, PGconn *name_check, int kinds)
{
	PGresult   *res = sky_db_exec(conn, constraint_sql, 1, params);
	int			i;

	if (res == NULL)
		return false;
	for (i = 0; i < PQntuples(res); i++)
	{
		bool		pkey = PQgetvalue(res, i, 3)[0] == 't';
		bool		makes_index = PQgetvalue(res, i, 4)[0] == 't';
		bool		clustered = PQgetvalue(res, i, 5)[0] == 't';
		int			kind = LD_OBJ_CONSTRAINT | (pkey ? LD_OBJ_PKEY : 0);
		char	   *qname;
		PQExpBufferData sql;

		if ((kind & kinds) == 0)
			continue;
		if (name_check != NULL && makes_index)
			qname = free_index_name(name_check, schema, PQgetvalue(res, i, 0),
									PQgetvalue(res, i, 1));
		else
			qname = pg_strdup(PQgetvalue(res, i, 1));
		if (qname == NULL)
		{
			PQclear(res);
			return false;
		}
		initPQExpBuffer(&sql);
		appendPQExpBuffer(&sql, "ALTER TABLE %s ADD CONSTRAINT %s\n  %s;",
						  target, qname, PQgetvalue(res, i, 2));
		if (clustered)
			appendPQExpBuffer(&sql, "\nALTER TABLE ONLY %s CLUSTER ON %s;",
							  target, qname);
		add_obj(st, kind, PQgetvalue(res, i, 0), pg_strdup(sql.data),
				psprintf("ALTER TABLE ONLY %s DROP CONSTRAINT %s;",
						 target, PQgetvalue(res, i, 1)));
		termPQExpBuffer(&sql);
		pg_free(qname);
	}
	PQclear(res);
	return true;
}

static bool
load_indexes(PGconn *conn, LdTableStruct *st, const char *const *params,
			 const char *target, const char *schema, PGconn *name_check)
{
	PGresult   *res = sky_db_exec(conn, index_sql, 1, params);
	int			i;

	if (res == NULL)
		return false;
	for (i = 0; i < PQntuples(res); i++)
	{
		const char *name = PQgetvalue(res, i, 0);
		bool		unique = PQgetvalue(res, i, 3)[0] == 't';
		bool		clustered = PQgetvalue(res, i, 4)[0] == 't';
		char	   *qname;
		PQExpBufferData sql;

		if (PQgetisnull(res, i, 5))
		{
			sky_log(SKY_LOG_ERROR, "cannot read the definition of index %s", name);
			PQclear(res);
			return false;
		}
		if (name_check != NULL)
			qname = free_index_name(name_check, schema, name, PQgetvalue(res, i, 1));
		else
			qname = pg_strdup(PQgetvalue(res, i, 1));
		if (qname == NULL)
		{
			PQclear(res);
			return false;
		}
		initPQExpBuffer(&sql);
		appendPQExpBuffer(&sql, "CREATE %sINDEX %s ON %s\n  %s;",
						  unique ? "UNIQUE " : "", qname, target,
						  PQgetvalue(res, i, 5));
		if (clustered)
			appendPQExpBuffer(&sql, "\nALTER TABLE ONLY %s CLUSTER ON %s;",
							  target, qname);
		add_obj(st, LD_OBJ_INDEX, name, pg_strdup(sql.data),
				psprintf("DROP INDEX %s;", PQgetvalue(res, i, 2)));
		termPQExpBuffer(&sql);
		pg_free(qname);
	}
	PQclear(res);
	return true;
}

/*
 * def with the first " <word> <from>" that is followed by white space
 * replaced by " <word> <to>": the table a trigger or rule is on, as the
 * server printed it.
 */
static char *
retarget(const char *def, const char *word, const char *from, const char *to)
{
	char	   *pattern = psprintf(" %s %s", word, from);
	size_t		len = strlen(pattern);
	const char *at = def;
	char	   *result = NULL;

	while ((at = strstr(at, pattern)) != NULL)
	{
		if (at[len] == ' ' || at[len] == '\n')
		{
			result = psprintf("%.*s %s %s%s", (int) (at - def), def, word, to,
							  at + len);
			break;
		}
		at++;
	}
	pg_free(pattern);
	return result;
}

static bool
load_triggers_rules(PGconn *conn, LdTableStruct *st, int kind,
					const char *const *params, const char *source,
					const char *target, bool renamed)
{
	PGresult   *res = sky_db_exec(conn, kind == LD_OBJ_TRIGGER ? trigger_sql : rule_sql,
								  1, params);
	int			i;

	if (res == NULL)
		return false;
	for (i = 0; i < PQntuples(res); i++)
	{
		const char *name = PQgetvalue(res, i, 0);
		const char *qname = PQgetvalue(res, i, 1);
		const char *def = PQgetvalue(res, i, 2);
		char	   *sql;
		PQExpBufferData buf;

		if (renamed)
			sql = retarget(def, kind == LD_OBJ_TRIGGER ? "ON" : "TO", source, target);
		else
			sql = pg_strdup(def);
		if (sql == NULL)
		{
			sky_log(SKY_LOG_ERROR, "cannot find the table in the definition of %s",
					name);
			PQclear(res);
			return false;
		}
		initPQExpBuffer(&buf);
		appendPQExpBufferStr(&buf, sql);
		if (buf.len == 0 || buf.data[buf.len - 1] != ';')
			appendPQExpBufferChar(&buf, ';');
		if (kind == LD_OBJ_RULE && PQgetvalue(res, i, 3)[0] != 'O')
		{
			char		enabled = PQgetvalue(res, i, 3)[0];

			appendPQExpBuffer(&buf, "\nALTER TABLE %s %s RULE %s;", target,
							  enabled == 'R' ? "ENABLE REPLICA" :
							  enabled == 'A' ? "ENABLE ALWAYS" : "DISABLE",
							  qname);
		}
		add_obj(st, kind, name, pg_strdup(buf.data),
				psprintf("DROP %s %s ON %s;",
						 kind == LD_OBJ_TRIGGER ? "TRIGGER" : "RULE",
						 qname, target));
		termPQExpBuffer(&buf);
		pg_free(sql);
	}
	PQclear(res);
	return true;
}

char *
ld_quote_fqident(PGconn *conn, const char *fqname, char **schema)
{
	char	   *fq = ld_make_fqname(fqname);
	char	   *dot = strchr(fq, '.');
	char	   *qs;
	char	   *qn;
	char	   *result = NULL;

	*dot = '\0';
	qs = quote_ident_client(conn, fq);
	qn = quote_ident_client(conn, dot + 1);
	if (qs != NULL && qn != NULL)
		result = psprintf("%s.%s", qs, qn);
	if (schema != NULL)
		*schema = pg_strdup(fq);
	pg_free(qs);
	pg_free(qn);
	pg_free(fq);
	return result;
}

LdTableStruct *
ld_struct_load(PGconn *conn, const char *fqname, int kinds,
			   const char *new_name, PGconn *name_check)
{
	LdTableStruct *st = pg_malloc0(sizeof(LdTableStruct));
	char	   *oid;
	char	   *source = NULL;
	char	   *target = NULL;
	char	   *schema = NULL;
	const char *params[3];
	bool		ok = false;

	oid = sky_db_value(conn, "select londiste.find_table_oid($1)", 1, &fqname);
	if (oid == NULL)
		goto done;
	if (oid[0] == '\0')
	{
		sky_log(SKY_LOG_ERROR, "Table %s does not exist", fqname);
		goto done;
	}
	/* how the server prints the table's name in the definitions */
	source = sky_db_value(conn,
						  "select quote_ident(n.nspname) || '.' || quote_ident(c.relname)"
						  " from pg_catalog.pg_class c"
						  " join pg_catalog.pg_namespace n on n.oid = c.relnamespace"
						  " where c.oid = $1", 1, (const char *const *) &oid);
	if (source == NULL)
		goto done;
	if (new_name != NULL)
	{
		target = ld_quote_fqident(conn, new_name, &schema);
		if (target == NULL)
			goto done;
	}
	else
		target = pg_strdup(source);
	if (new_name == NULL)
		name_check = NULL;

	params[0] = oid;
	params[1] = target;
	params[2] = new_name != NULL ? new_name : fqname;
	/* in creation order, python3-skytools' dbstruct's */
	if ((kinds & LD_OBJ_TABLE) &&
		!load_simple(conn, st, LD_OBJ_TABLE, table_sql, params))
		goto done;
	if ((kinds & LD_OBJ_SEQUENCE) &&
		!load_simple(conn, st, LD_OBJ_SEQUENCE, sequence_sql, params))
		goto done;
	if ((kinds & LD_OBJ_DEFAULT) &&
		!load_simple(conn, st, LD_OBJ_DEFAULT, default_sql, params))
		goto done;
	if ((kinds & (LD_OBJ_CONSTRAINT | LD_OBJ_PKEY)) &&
		!load_constraints(conn, st, params, target, schema,
						  name_check, kinds))
		goto done;
	if ((kinds & LD_OBJ_INDEX) &&
		!load_indexes(conn, st, params, target, schema, name_check))
		goto done;
	if ((kinds & LD_OBJ_TRIGGER) &&
		!load_triggers_rules(conn, st, LD_OBJ_TRIGGER, params, source, target,
							 new_name != NULL))
		goto done;
	if ((kinds & LD_OBJ_RULE) &&
		!load_triggers_rules(conn, st, LD_OBJ_RULE, params, source, target,
							 new_name != NULL))
		goto done;
	if ((kinds & LD_OBJ_GRANT) &&
		!load_simple(conn, st, LD_OBJ_GRANT, grant_sql, params))
		goto done;
	if ((kinds & LD_OBJ_OWNER) &&
		!load_simple(conn, st, LD_OBJ_OWNER, owner_sql, params))
		goto done;
	if ((kinds & LD_OBJ_PARENT) &&
		!load_simple(conn, st, LD_OBJ_PARENT, parent_sql, params))
		goto done;
	ok = true;

done:
	pg_free(oid);
	pg_free(source);
	pg_free(target);
	pg_free(schema);
	if (!ok)
	{
		ld_struct_free(st);
		return NULL;
	}
	return st;
}

char *
ld_struct_create_text(const LdTableStruct *st, int kinds)
{
	PQExpBufferData buf;
	char	   *result;
	int			i;

	initPQExpBuffer(&buf);
	for (i = 0; i < st->nobjs; i++)
		if ((st->objs[i].kind & kinds) && st->objs[i].create_sql != NULL)
			appendPQExpBuffer(&buf, "%s\n", st->objs[i].create_sql);
	result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return result;
}

static bool
run_statement(PGconn *conn, const char *verb, const LdStructObj *o,
			  const char *sql)
{
	PGresult   *res;

	sky_log(SKY_LOG_INFO, "%s %s", verb, o->name);
	sky_log(SKY_LOG_DEBUG, "%s", sql);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		sky_log(SKY_LOG_ERROR, "%s %s failed: %s", verb, o->name,
				PQerrorMessage(conn));
		PQclear(res);
		return false;
	}
	PQclear(res);
	return true;
}

bool
ld_struct_create(PGconn *conn, const LdTableStruct *st, int kinds)
{
	int			i;

	for (i = 0; i < st->nobjs; i++)
	{
		const LdStructObj *o = &st->objs[i];

		if ((o->kind & kinds) && o->create_sql != NULL &&
			!run_statement(conn, "Creating", o, o->create_sql))
			return false;
	}
	return true;
}

bool
ld_struct_drop(PGconn *conn, const LdTableStruct *st, int kinds)
{
	int			i;

	for (i = st->nobjs - 1; i >= 0; i--)
	{
		const LdStructObj *o = &st->objs[i];

		if ((o->kind & kinds) && o->drop_sql != NULL &&
			!run_statement(conn, "Dropping", o, o->drop_sql))
			return false;
	}
	return true;
}

void
ld_struct_free(LdTableStruct *st)
{
	int			i;

	if (st == NULL)
		return;
	for (i = 0; i < st->nobjs; i++)
	{
		pg_free(st->objs[i].name);
		pg_free(st->objs[i].create_sql);
		pg_free(st->objs[i].drop_sql);
		pg_free(st->objs[i].seq_name);
	}
	pg_free(st->objs);
	pg_free(st);
}

/*
 * CREATE SEQUENCE with the options python3-skytools' dbstruct writes:
 * those that differ from the defaults of an ascending bigint sequence,
 * starting where the provider's would continue.
 */
char *
ld_sequence_create_sql(PGconn *conn, const char *fqname, const char *new_name)
{
	char	   *qseq = ld_quote_fqident(conn, fqname, NULL);
	char	   *target = ld_quote_fqident(conn, new_name ? new_name : fqname, NULL);
	PGresult   *res = NULL;
	PQExpBufferData buf;
	char	   *sql;
	char	   *result = NULL;
	int64_t		start;
	int64_t		increment;

	if (qseq == NULL || target == NULL)
		goto done;
	sql = psprintf("select p.seqincrement, p.seqmin, p.seqmax, s.last_value,"
				   " s.is_called, p.seqcache, p.seqcycle"
				   " from pg_catalog.pg_sequence p, %s s"
				   " where p.seqrelid = '%s'::regclass", qseq, qseq);
	res = sky_db_exec(conn, sql, 0, NULL);
	pg_free(sql);
	if (res == NULL)
		goto done;
	if (PQntuples(res) != 1)
	{
		sky_log(SKY_LOG_ERROR, "Sequence %s not found", fqname);
		goto done;
	}
	increment = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	start = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	if (PQgetvalue(res, 0, 4)[0] == 't')
	{
		int64_t		max = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
		int64_t		min = strtoll(PQgetvalue(res, 0, 1), NULL, 10);

		if ((increment > 0 && start > max - increment) ||
			(increment < 0 && start < min - increment))
		{
			sky_log(SKY_LOG_ERROR, "Sequence %s is at its last value", fqname);
			goto done;
		}
		start += increment;
	}
	initPQExpBuffer(&buf);
	appendPQExpBuffer(&buf, "CREATE SEQUENCE %s", target);
	if (increment != 1)
		appendPQExpBuffer(&buf, " INCREMENT BY %s", PQgetvalue(res, 0, 0));
	if (strcmp(PQgetvalue(res, 0, 1), "1") != 0)
		appendPQExpBuffer(&buf, " MINVALUE %s", PQgetvalue(res, 0, 1));
	if (strcmp(PQgetvalue(res, 0, 2), "9223372036854775807") != 0)
		appendPQExpBuffer(&buf, " MAXVALUE %s", PQgetvalue(res, 0, 2));
	if (start != 1)
		appendPQExpBuffer(&buf, " START %lld", (long long) start);
	if (strcmp(PQgetvalue(res, 0, 5), "1") != 0)
		appendPQExpBuffer(&buf, " CACHE %s", PQgetvalue(res, 0, 5));
	if (PQgetvalue(res, 0, 6)[0] == 't')
		appendPQExpBufferStr(&buf, " CYCLE");
	appendPQExpBufferChar(&buf, ';');
	result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);

done:
	PQclear(res);
	pg_free(qseq);
	pg_free(target);
	return result;
}
