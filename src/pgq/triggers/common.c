/*-------------------------------------------------------------------------
 *
 * common.c
 *	  The machinery the three change-capture triggers share: trigger
 *	  arguments, per-backend caches, the decision whether a row change is
 *	  an event, magic columns, when= and ev_*= expressions, and handing the
 *	  finished event to pgq.insert_event().
 *
 * A trigger fires once per row, so everything that depends only on the
 * table or on the trigger definition is worked out once per backend and
 * kept in a cache: column names in each encoding, output and equality
 * functions, the primary key, the parsed trigger arguments and the plans
 * of their expressions.  The cache lives in its own memory context and an
 * entry is dropped on relcache invalidation of its table, which ALTER
 * TABLE and CREATE/DROP/ALTER TRIGGER all send; the next firing rebuilds
 * it, so a changed table is encoded correctly from the very next row.
 *
 * A dropped entry may still be in use further up the stack (a when=
 * expression can call a function that changes the same table, firing the
 * trigger again), so it is not freed at once but parked until no pgq
 * trigger is running.
 *
 * Events are queued by calling pgq.insert_event(7 x text), found by name
 * at run time so that a replaced function (as in the upstream test suite)
 * and the queue's own checks apply.  It is called through the function
 * manager with a cached FmgrInfo rather than through SQL: with the
 * installed C function that is a direct call into insert.c (wrapped by the
 * security-definer switch), and no SQL is parsed or planned per row.  The
 * caller's EXECUTE right is checked as a SQL call would.
 *
 * src/pgq/triggers/common.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_collation_d.h"
#include "catalog/pg_index.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type_d.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "triggers.h"

/* Names of the event fields, as ev_*= arguments and magic columns use them */
static const char *const event_field_names[PGQ_EV_NFIELDS] = {
	"ev_type", "ev_data", "ev_extra1", "ev_extra2", "ev_extra3", "ev_extra4"
};

/* Magic columns setting those fields, same order */
static const char *const magic_column_names[PGQ_EV_NFIELDS] = {
	"_pgq_ev_type", "_pgq_ev_data", "_pgq_ev_extra1", "_pgq_ev_extra2",
	"_pgq_ev_extra3", "_pgq_ev_extra4"
};

#define MAGIC_PREFIX "_pgq_ev_"

/* Hash entry: one table with pgq triggers */
typedef struct TableCacheEntry
{
	Oid			relid;			/* hash key */
	PgqTableInfo *info;
} TableCacheEntry;

static MemoryContext trigger_cache_ctx = NULL;
static HTAB *table_cache = NULL;

/* Invalidated table infos waiting until no trigger uses them */
static List *retired_tables = NIL;

/* Some entry was invalidated since the last sweep (see sweep_tables) */
static bool tables_invalidated = false;

/* Nesting depth of pgq trigger calls in this backend */
static int	trigger_depth = 0;

/*
 * pgq.insert_event as last resolved.  proc_generation counts pg_proc
 * invalidations; the FmgrInfo is current while insert_fn_generation
 * equals it.
 */
static MemoryContext insert_fn_ctx = NULL;
static FmgrInfo insert_fn;
static uint64 proc_generation = 1;
static uint64 insert_fn_generation = 0;

static void table_cache_callback(Datum arg, Oid relid);
static void proc_cache_callback(Datum arg, int cacheid, uint32 hashvalue);
static void trigger_cache_init(void);
static void free_table_info(PgqTableInfo *info);
static void free_retired_tables(void);
static void sweep_tables(void);
static PgqTableInfo *build_table_info(Relation rel);
static PgqTableInfo *get_table_info(Relation rel);
static bool name_in_list(const char *list, const char *name);
static void check_pkey_list(PgqTableInfo *table, Trigger *tg, const char *list);
static void describe_keys(PgqTableInfo *table, PgqTriggerInfo *trig);
static PgqTriggerInfo *parse_trigger(PgqTableInfo *table, Trigger *tg);
static PgqTriggerInfo *get_trigger_info(PgqTableInfo *table, Trigger *tg);
static char *rewrite_expression(const char *expr, PgqTableInfo *table,
								int *nparams, AttrNumber **attnums);
static PgqExpr *prepare_expression(PgqTableInfo *table, Trigger *tg,
								   const char *argument, const char *expr,
								   MemoryContext ctx);
static bool run_expression(PgqEvent *ev, PgqExpr *expr, MemoryContext result_ctx,
						   Datum *result, Oid *result_type);
static bool apply_expressions(PgqEvent *ev);
static bool values_differ(PgqColumn *col, Datum a, bool a_null, Datum b, bool b_null);
static bool update_is_event(PgqEvent *ev, const PgqTriggerKind *kind);
static void lookup_insert_event(FmgrInfo *finfo, MemoryContext ctx);
static void submit_event(PgqEvent *ev);
static Datum trigger_result(TriggerData *tgdata, bool skip);
static void check_truncate_arguments(PgqEvent *ev);
static Datum fire_trigger(TriggerData *tgdata, const PgqTriggerKind *kind);

/*
 * Relcache invalidation: the table (or, for InvalidOid, every table) may
 * have changed columns, key or triggers.  Only mark the entry; it may be in
 * use right now.
 */
static void
table_cache_callback(Datum arg, Oid relid)
{
	TableCacheEntry *entry;

	if (OidIsValid(relid))
	{
		entry = hash_search(table_cache, &relid, HASH_FIND, NULL);
		if (entry != NULL)
		{
			entry->info->valid = false;
			tables_invalidated = true;
		}
	}
	else
	{
		HASH_SEQ_STATUS status;

		hash_seq_init(&status, table_cache);
		while ((entry = hash_seq_search(&status)) != NULL)
			entry->info->valid = false;
		tables_invalidated = true;
	}
}

/* Any change in pg_proc may have replaced or dropped pgq.insert_event */
static void
proc_cache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	proc_generation++;
}

static void
trigger_cache_init(void)
{
	HASHCTL		ctl;

	trigger_cache_ctx = AllocSetContextCreate(TopMemoryContext,
											  "pgq trigger cache",
											  ALLOCSET_DEFAULT_SIZES);
	insert_fn_ctx = AllocSetContextCreate(TopMemoryContext,
										  "pgq insert_event call",
										  ALLOCSET_SMALL_SIZES);

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(TableCacheEntry);
	ctl.hcxt = trigger_cache_ctx;
	table_cache = hash_create("pgq trigger tables", 16, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	CacheRegisterRelcacheCallback(table_cache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, proc_cache_callback, (Datum) 0);
}

/*
 * Release a table info: its memory and the saved plans of its triggers'
 * expressions (those live in the plan cache, outside our context).
 */
static void
free_table_info(PgqTableInfo *info)
{
	PgqTriggerInfo *trig;
	int			f;

	for (trig = info->triggers; trig != NULL; trig = trig->next)
	{
		if (trig->when)
			SPI_freeplan(trig->when->plan);
		for (f = 0; f < PGQ_EV_NFIELDS; f++)
			if (trig->override[f])
				SPI_freeplan(trig->override[f]->plan);
	}
	MemoryContextDelete(info->ctx);
}

/* Free parked table infos; only called when no pgq trigger is running */
static void
free_retired_tables(void)
{
	ListCell   *lc;

	foreach(lc, retired_tables)
		free_table_info((PgqTableInfo *) lfirst(lc));
	list_free(retired_tables);
	retired_tables = NIL;
}

/*
 * Drop invalidated entries from the cache, so that tables that were
 * dropped or lost their triggers do not stay in memory for the life of the
 * backend.  Only called when no pgq trigger is running.
 */
static void
sweep_tables(void)
{
	HASH_SEQ_STATUS status;
	TableCacheEntry *entry;
	MemoryContext oldctx = MemoryContextSwitchTo(trigger_cache_ctx);

	hash_seq_init(&status, table_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (!entry->info->valid)
		{
			retired_tables = lappend(retired_tables, entry->info);
			hash_search(table_cache, &entry->relid, HASH_REMOVE, NULL);
		}
	}
	MemoryContextSwitchTo(oldctx);
	tables_invalidated = false;
	free_retired_tables();
}

/*
 * Collect what the encoders need to know about the table's columns.  The
 * result is built in a context under the current transaction, so that an
 * error halfway (say an unknown magic column) leaves nothing behind; the
 * caller moves it into the cache.
 */
static PgqTableInfo *
build_table_info(Relation rel)
{
	MemoryContext ctx;
	MemoryContext oldctx;
	PgqTableInfo *info;
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			pkoid;
	int			i;

	ctx = AllocSetContextCreate(CurTransactionContext, "pgq trigger table",
								ALLOCSET_SMALL_SIZES);
	oldctx = MemoryContextSwitchTo(ctx);

	info = palloc0(sizeof(PgqTableInfo));
	info->ctx = ctx;
	info->relid = RelationGetRelid(rel);
	info->schema_name = get_namespace_name(RelationGetNamespace(rel));
	info->table_name = pstrdup(RelationGetRelationName(rel));
	info->full_name = psprintf("%s.%s", info->schema_name, info->table_name);
	info->natts = desc->natts;
	info->columns = palloc0(sizeof(PgqColumn) * desc->natts);

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		PgqColumn  *col = &info->columns[i];
		StringInfoData buf;
		Oid			outfunc;
		bool		isvarlena;
		Oid			basetype;

		col->magic_field = -1;
		if (att->attisdropped)
			continue;

		col->name = pstrdup(NameStr(att->attname));
		col->sql_name = pstrdup(quote_identifier(col->name));
		initStringInfo(&buf);
		pgq_urlencode(&buf, col->name);
		col->url_name = buf.data;
		initStringInfo(&buf);
		escape_json(&buf, col->name);
		col->json_name = buf.data;

		col->typid = att->atttypid;
		col->typlen = att->attlen;
		col->typbyval = att->attbyval;
		getTypeOutputInfo(att->atttypid, &outfunc, &isvarlena);
		fmgr_info_cxt(outfunc, &col->output, ctx);

		if (strncmp(col->name, MAGIC_PREFIX, strlen(MAGIC_PREFIX)) == 0)
		{
			int			f;

			for (f = 0; f < PGQ_EV_NFIELDS; f++)
				if (strcmp(col->name, magic_column_names[f]) == 0)
					col->magic_field = f;
			if (col->magic_field < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
						 errmsg("unknown magic column \"%s\" in table \"%s\"",
								col->name, info->full_name),
						 errhint("Columns named _pgq_ev_type, _pgq_ev_data and _pgq_ev_extra1 to _pgq_ev_extra4 set event fields; other names starting with _pgq_ev_ are reserved.")));
		}

		/*
		 * Generated columns are left out: in a BEFORE trigger they are not
		 * computed yet, and a receiver cannot store a value into one anyway.
		 */
		col->encoded = (col->magic_field < 0 && att->attgenerated == '\0');

		/* jsontriga goes by the declared type, as PgQ 3.5 does */
		switch (att->atttypid)
		{
			case BOOLOID:
				col->json_kind = PGQ_JSON_BOOL;
				break;
			case INT2OID:
			case INT4OID:
			case INT8OID:
				col->json_kind = PGQ_JSON_NUMBER;
				break;
			case DATEOID:
			case TIMESTAMPOID:
			case TIMESTAMPTZOID:
				col->json_kind = PGQ_JSON_DATETIME;
				break;
			default:
				col->json_kind = PGQ_JSON_STRING;
				break;
		}

		/*
		 * Change detection uses the type's default equality.  Arrays and
		 * composites compare by text: their equality needs equality of
		 * every element type, which may not exist (json) and would then
		 * fail at run time.  "C" collation, so that a change in case under a
		 * case-insensitive collation still counts as a change.
		 */
		basetype = getBaseType(att->atttypid);
		if (type_is_array(basetype) || type_is_rowtype(basetype))
			col->compare_text = true;
		else
		{
			TypeCacheEntry *tc = lookup_type_cache(att->atttypid, TYPECACHE_EQ_OPR);

			if (OidIsValid(tc->eq_opr))
			{
				fmgr_info_cxt(get_opcode(tc->eq_opr), &col->equal, ctx);
				col->collation = OidIsValid(att->attcollation) ? C_COLLATION_OID : InvalidOid;
			}
			else
				col->compare_text = true;
		}
	}

	/* primary key columns in index order */
	pkoid = RelationGetPrimaryKeyIndex(rel);
	if (OidIsValid(pkoid))
	{
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(pkoid));
		Form_pg_index index;

		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for index %u", pkoid);
		index = (Form_pg_index) GETSTRUCT(tuple);
		info->npkey = index->indnkeyatts;
		info->pkey_attnums = palloc(sizeof(AttrNumber) * info->npkey);
		for (i = 0; i < info->npkey; i++)
		{
			info->pkey_attnums[i] = index->indkey.values[i];
			info->columns[info->pkey_attnums[i] - 1].in_pkey = true;
		}
		ReleaseSysCache(tuple);
	}

	MemoryContextSwitchTo(oldctx);
	return info;
}

/*
 * The cached info of a table, (re)built when missing or invalidated.
 */
static PgqTableInfo *
get_table_info(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	TableCacheEntry *entry;
	PgqTableInfo *info;
	bool		found;

	if (table_cache == NULL)
		trigger_cache_init();

	entry = hash_search(table_cache, &relid, HASH_FIND, NULL);
	if (entry != NULL && entry->info->valid)
		return entry->info;

	info = build_table_info(rel);
	MemoryContextSetParent(info->ctx, trigger_cache_ctx);

	entry = hash_search(table_cache, &relid, HASH_ENTER, &found);
	if (found)
	{
		MemoryContext oldctx = MemoryContextSwitchTo(trigger_cache_ctx);

		retired_tables = lappend(retired_tables, entry->info);
		MemoryContextSwitchTo(oldctx);
	}
	entry->info = info;
	info->valid = true;
	return info;
}

/*
 * Whether "name" is an entry of a comma separated list.  An entry is
 * delimited by the ends of the string, commas or white space, so that
 * "a, b" lists a and b; the list text itself is kept verbatim elsewhere.
 */
static bool
name_in_list(const char *list, const char *name)
{
	size_t		len = strlen(name);
	const char *p = list;

	while (len > 0 && (p = strstr(p, name)) != NULL)
	{
		char		before = (p == list) ? ',' : p[-1];
		char		after = p[len];

		if ((before == ',' || isspace((unsigned char) before)) &&
			(after == '\0' || after == ',' || isspace((unsigned char) after)))
			return true;
		p++;
	}
	return false;
}

/*
 * Every entry of pkey= must name a column: a misspelt key would otherwise
 * silently produce events that update or delete the wrong rows.
 */
static void
check_pkey_list(PgqTableInfo *table, Trigger *tg, const char *list)
{
	const char *p = list;

	while (*p)
	{
		const char *start;
		char	   *entry;
		int			i;

		while (*p == ',' || isspace((unsigned char) *p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p && *p != ',' && !isspace((unsigned char) *p))
			p++;
		entry = pnstrdup(start, p - start);

		for (i = 0; i < table->natts; i++)
			if (table->columns[i].name && strcmp(table->columns[i].name, entry) == 0)
				break;
		if (i == table->natts)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of pkey= does not exist in table \"%s\"",
							entry, table->full_name),
					 errdetail("Trigger \"%s\" lists it in its argument \"pkey=%s\".",
							   tg->tgname, list)));
	}
}

/*
 * Spell the key for the event types: logutriga's "I:<keys>" list and
 * jsontriga's table and key members.
 */
static void
describe_keys(PgqTableInfo *table, PgqTriggerInfo *trig)
{
	StringInfoData json;
	int			i;

	initStringInfo(&json);
	appendStringInfoString(&json, ",\"table\":[");
	escape_json(&json, table->schema_name);
	appendStringInfoChar(&json, ',');
	escape_json(&json, table->table_name);
	appendStringInfoString(&json, "],\"pkey\":[");

	if (trig->has_pkey_arg)
	{
		const char *p = trig->pkey_list;
		const char *comma;

		/*
		 * The pkey= text as given, and for JSON its comma separated pieces
		 * verbatim; an empty list has no pieces.
		 */
		trig->key_list = trig->pkey_list;
		if (*p != '\0')
		{
			while ((comma = strchr(p, ',')) != NULL)
			{
				escape_json(&json, pnstrdup(p, comma - p));
				appendStringInfoChar(&json, ',');
				p = comma + 1;
			}
			escape_json(&json, p);
		}
	}
	else
	{
		StringInfoData keys;

		initStringInfo(&keys);
		for (i = 0; i < table->npkey; i++)
		{
			PgqColumn  *col = &table->columns[table->pkey_attnums[i] - 1];

			if (i > 0)
			{
				appendStringInfoChar(&keys, ',');
				appendStringInfoChar(&json, ',');
			}
			appendStringInfoString(&keys, col->name);
			appendStringInfoString(&json, col->json_name);
		}
		trig->key_list = keys.data;
	}
	appendStringInfoString(&json, "]}");
	trig->json_tail = json.data;
}

/*
 * Parse the arguments of a trigger on its first firing.  As with the table
 * info, the result is built under the current transaction and adopted by
 * the cache only when complete.
 */
static PgqTriggerInfo *
parse_trigger(PgqTableInfo *table, Trigger *tg)
{
	MemoryContext ctx;
	MemoryContext oldctx;
	PgqTriggerInfo *trig;
	const char *when_text = NULL;
	const char *override_text[PGQ_EV_NFIELDS] = {0};
	const char *when_arg = NULL;
	const char *override_arg[PGQ_EV_NFIELDS] = {0};
	int			i;
	int			f;

	ctx = AllocSetContextCreate(CurTransactionContext, "pgq trigger arguments",
								ALLOCSET_SMALL_SIZES);
	oldctx = MemoryContextSwitchTo(ctx);

	trig = palloc0(sizeof(PgqTriggerInfo));
	trig->ctx = ctx;
	trig->tgoid = tg->tgoid;

	if (tg->tgnargs < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("trigger \"%s\" on table \"%s\" has no queue name",
						tg->tgname, table->full_name),
				 errhint("The first argument of a pgq trigger is the name of the destination queue.")));
	trig->queue_name = CStringGetTextDatum(tg->tgargs[0]);

	for (i = 1; i < tg->tgnargs; i++)
	{
		const char *arg = tg->tgargs[i];
		const char *eq = strchr(arg, '=');

		if (strcmp(arg, "SKIP") == 0)
			trig->skip = true;
		else if (strcmp(arg, "backup") == 0)
			trig->backup = true;
		else if (strcmp(arg, "deny") == 0)
			trig->deny = true;
		else if (strncmp(arg, "ignore=", 7) == 0)
		{
			trig->has_ignore = true;
			trig->ignore_list = pstrdup(arg + 7);
		}
		else if (strncmp(arg, "pkey=", 5) == 0)
		{
			trig->has_pkey_arg = true;
			trig->pkey_list = pstrdup(arg + 5);
		}
		else if (strncmp(arg, "when=", 5) == 0)
		{
			when_text = arg + 5;
			when_arg = arg;
			trig->has_exprs = true;
		}
		else
		{
			for (f = 0; f < PGQ_EV_NFIELDS; f++)
				if (eq != NULL && strlen(event_field_names[f]) == eq - arg &&
					strncmp(arg, event_field_names[f], eq - arg) == 0)
					break;
			if (f == PGQ_EV_NFIELDS)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unrecognized argument \"%s\" of trigger \"%s\" on table \"%s\"",
								arg, tg->tgname, table->full_name),
						 errhint("After the queue name a pgq trigger accepts SKIP, backup, deny, ignore=, pkey=, when= and ev_type=, ev_data=, ev_extra1= to ev_extra4=.")));
			override_text[f] = eq + 1;
			override_arg[f] = arg;
			trig->has_exprs = true;
		}
	}

	if (trig->skip && TRIGGER_FOR_AFTER(tg->tgtype))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("SKIP does not work in an AFTER trigger"),
				 errdetail("Trigger \"%s\" on table \"%s\" is an AFTER trigger.",
						   tg->tgname, table->full_name),
				 errhint("SKIP suppresses the row change, which only a BEFORE trigger can do.")));

	if (trig->has_pkey_arg)
		check_pkey_list(table, tg, trig->pkey_list);

	trig->ignored = palloc0(sizeof(bool) * table->natts);
	trig->is_key = palloc0(sizeof(bool) * table->natts);
	for (i = 0; i < table->natts; i++)
	{
		PgqColumn  *col = &table->columns[i];

		if (col->name == NULL)
			continue;
		if (trig->has_ignore && name_in_list(trig->ignore_list, col->name))
			trig->ignored[i] = true;
		if (trig->has_pkey_arg ? name_in_list(trig->pkey_list, col->name) : col->in_pkey)
		{
			trig->is_key[i] = true;
			trig->nkeys++;
		}
	}
	describe_keys(table, trig);

	/*
	 * Prepare every expression before keeping any plan: a plan made before
	 * a later expression fails to compile then goes away with SPI's memory.
	 */
	if (trig->has_exprs)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (when_text)
			trig->when = prepare_expression(table, tg, when_arg, when_text, ctx);
		for (f = 0; f < PGQ_EV_NFIELDS; f++)
			if (override_text[f])
				trig->override[f] = prepare_expression(table, tg, override_arg[f],
													   override_text[f], ctx);
		if (trig->when)
			SPI_keepplan(trig->when->plan);
		for (f = 0; f < PGQ_EV_NFIELDS; f++)
			if (trig->override[f])
				SPI_keepplan(trig->override[f]->plan);
		SPI_finish();
	}

	MemoryContextSwitchTo(oldctx);
	return trig;
}

static PgqTriggerInfo *
get_trigger_info(PgqTableInfo *table, Trigger *tg)
{
	PgqTriggerInfo *trig;

	for (trig = table->triggers; trig != NULL; trig = trig->next)
		if (trig->tgoid == tg->tgoid)
			return trig;

	trig = parse_trigger(table, tg);
	MemoryContextSetParent(trig->ctx, table->ctx);
	trig->next = table->triggers;
	table->triggers = trig;
	return trig;
}

/*
 * Turn an expression into "SELECT <expr>" with every bare identifier that
 * names a column of the table replaced by a parameter.  String literals,
 * quoted identifiers, dollar quotes and comments are copied untouched, and
 * so are names next to a dot (qualified names such as pg_catalog.lower)
 * and string prefixes such as b'0101'.
 */
static char *
rewrite_expression(const char *expr, PgqTableInfo *table,
				   int *nparams, AttrNumber **attnums)
{
	StringInfoData sql;
	const char *p = expr;
	int		   *param_of = palloc0(sizeof(int) * table->natts);

	*nparams = 0;
	*attnums = palloc(sizeof(AttrNumber) * Max(table->natts, 1));
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");

#define IDENT_START(c) (isalpha((unsigned char) (c)) || (c) == '_' || IS_HIGHBIT_SET(c))
#define IDENT_CONT(c) (IDENT_START(c) || isdigit((unsigned char) (c)) || (c) == '$')

	while (*p)
	{
		const char *start = p;

		if (*p == '\'' || ((*p == 'E' || *p == 'e') && p[1] == '\'' &&
						   (p == expr || !IDENT_CONT(p[-1]))))
		{
			/* string literal; E'' strings and non-standard strings escape */
			bool		backslash = (*p != '\'') || !standard_conforming_strings;

			p += (*p == '\'') ? 1 : 2;
			while (*p)
			{
				if (backslash && *p == '\\' && p[1])
					p += 2;
				else if (*p == '\'' && p[1] == '\'')
					p += 2;
				else if (*p++ == '\'')
					break;
			}
		}
		else if (*p == '"')
		{
			p++;
			while (*p)
			{
				if (*p == '"' && p[1] == '"')
					p += 2;
				else if (*p++ == '"')
					break;
			}
		}
		else if (p[0] == '-' && p[1] == '-')
		{
			while (*p && *p != '\n')
				p++;
		}
		else if (p[0] == '/' && p[1] == '*')
		{
			int			depth = 1;

			p += 2;
			while (*p && depth > 0)
			{
				if (p[0] == '/' && p[1] == '*')
					depth++, p += 2;
				else if (p[0] == '*' && p[1] == '/')
					depth--, p += 2;
				else
					p++;
			}
		}
		else if (*p == '$' && !isdigit((unsigned char) p[1]))
		{
			/* $tag$ ... $tag$; a lone $ is copied as it is */
			const char *tagend = p + 1;

			while (*tagend && *tagend != '$' && IDENT_CONT(*tagend))
				tagend++;
			if (*tagend == '$')
			{
				char	   *tag = pnstrdup(p, tagend - p + 1);
				const char *close = strstr(tagend + 1, tag);

				p = close ? close + strlen(tag) : p + strlen(p);
			}
			else
				p++;
		}
		else if (isdigit((unsigned char) *p) || *p == '$')
		{
			/* numbers and $n, so that 1e5 is not read as a name "e5" */
			p++;
			while (IDENT_CONT(*p) || *p == '.')
				p++;
		}
		else if (IDENT_START(*p))
		{
			size_t		len;
			int			i;

			while (IDENT_CONT(*p))
				p++;
			len = p - start;
			if ((start > expr && start[-1] == '.') || *p == '.' || *p == '\'')
				i = table->natts;
			else
			{
				for (i = 0; i < table->natts; i++)
				{
					const char *name = table->columns[i].name;

					if (name && strlen(name) == len && strncmp(name, start, len) == 0)
						break;
				}
			}
			if (i < table->natts)
			{
				if (param_of[i] == 0)
				{
					(*attnums)[*nparams] = i + 1;
					param_of[i] = ++(*nparams);
				}
				appendStringInfo(&sql, "$%d", param_of[i]);
				continue;
			}
		}
		else
			p++;

		appendBinaryStringInfo(&sql, start, p - start);
	}

#undef IDENT_START
#undef IDENT_CONT

	pfree(param_of);
	return sql.data;
}

/* Error context while an expression is being compiled */
typedef struct ExprErrorContext
{
	const char *argument;
	const char *tgname;
	const char *table;
} ExprErrorContext;

static void
expression_error_callback(void *arg)
{
	ExprErrorContext *ctx = (ExprErrorContext *) arg;

	errcontext("argument \"%s\" of trigger \"%s\" on table \"%s\"",
			   ctx->argument, ctx->tgname, ctx->table);
}

/*
 * Compile one expression.  Must be called inside an SPI connection; the
 * plan is left unsaved for the caller to keep.
 */
static PgqExpr *
prepare_expression(PgqTableInfo *table, Trigger *tg, const char *argument,
				   const char *expr, MemoryContext ctx)
{
	PgqExpr    *result = MemoryContextAllocZero(ctx, sizeof(PgqExpr));
	AttrNumber *attnums;
	Oid		   *types;
	char	   *sql;
	int			i;
	ErrorContextCallback errcallback;
	ExprErrorContext errinfo;

	sql = rewrite_expression(expr, table, &result->nparams, &attnums);
	types = palloc(sizeof(Oid) * Max(result->nparams, 1));
	for (i = 0; i < result->nparams; i++)
		types[i] = table->columns[attnums[i] - 1].typid;
	result->param_attnums = MemoryContextAlloc(ctx, sizeof(AttrNumber) * Max(result->nparams, 1));
	memcpy(result->param_attnums, attnums, sizeof(AttrNumber) * result->nparams);
	result->argument = MemoryContextStrdup(ctx, argument);

	errinfo.argument = argument;
	errinfo.tgname = tg->tgname;
	errinfo.table = table->full_name;
	errcallback.callback = expression_error_callback;
	errcallback.arg = &errinfo;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	result->plan = SPI_prepare(sql, result->nparams, types);
	if (result->plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));

	error_context_stack = errcallback.previous;
	return result;
}

/*
 * Evaluate an expression on the event's row.  Returns false for NULL;
 * otherwise *result is the value copied into result_ctx.  Must be called
 * inside an SPI connection.
 */
static bool
run_expression(PgqEvent *ev, PgqExpr *expr, MemoryContext result_ctx,
			   Datum *result, Oid *result_type)
{
	Datum	   *params = palloc(sizeof(Datum) * Max(expr->nparams, 1));
	char	   *nulls = palloc(Max(expr->nparams, 1));
	int			ret;
	bool		isnull;
	Form_pg_attribute att;
	int			i;

	for (i = 0; i < expr->nparams; i++)
	{
		int			col = expr->param_attnums[i] - 1;

		params[i] = ev->values[col];
		nulls[i] = ev->nulls[col] ? 'n' : ' ';
	}

	ret = SPI_execute_plan(expr->plan, params, nulls, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed for \"%s\": %s",
			 expr->argument, SPI_result_code_string(ret));
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("expression of trigger argument \"%s\" returned " UINT64_FORMAT " rows, expected 1",
						expr->argument, SPI_processed)));

	att = TupleDescAttr(SPI_tuptable->tupdesc, 0);
	*result_type = att->atttypid;
	*result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		MemoryContext oldctx = MemoryContextSwitchTo(result_ctx);

		*result = datumCopy(*result, att->attbyval, att->attlen);
		MemoryContextSwitchTo(oldctx);
	}
	return !isnull;
}

/*
 * Apply the ev_*= overrides, then when=.  Returns false when when= says
 * the event is not wanted.
 */
static bool
apply_expressions(PgqEvent *ev)
{
	PgqTriggerInfo *trig = ev->trig;
	MemoryContext callerctx = CurrentMemoryContext;
	bool		wanted = true;
	Datum		value;
	Oid			type;
	int			f;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	for (f = 0; f < PGQ_EV_NFIELDS; f++)
	{
		if (trig->override[f] == NULL)
			continue;
		if (run_expression(ev, trig->override[f], callerctx, &value, &type))
		{
			Oid			outfunc;
			bool		isvarlena;
			MemoryContext oldctx = MemoryContextSwitchTo(callerctx);

			getTypeOutputInfo(type, &outfunc, &isvarlena);
			ev->fields[f] = OidOutputFunctionCall(outfunc, value);
			MemoryContextSwitchTo(oldctx);
		}
		else
			ev->fields[f] = NULL;
	}

	if (trig->when)
	{
		if (!run_expression(ev, trig->when, callerctx, &value, &type))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("when= expression returned NULL"),
					 errdetail("Trigger argument: %s", trig->when->argument),
					 errhint("Decide NULL explicitly, for example with coalesce().")));
		if (type != BOOLOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("when= expression must return boolean, not %s",
							format_type_be(type)),
					 errdetail("Trigger argument: %s", trig->when->argument)));
		wanted = DatumGetBool(value);
	}

	SPI_finish();
	return wanted;
}

/*
 * Whether an UPDATE changed a value: NULL and NULL are equal, NULL and a
 * value are not, values compare by the type's equality (see
 * build_table_info).
 */
static bool
values_differ(PgqColumn *col, Datum a, bool a_null, Datum b, bool b_null)
{
	if (a_null || b_null)
		return a_null != b_null;
	if (datumIsEqual(a, b, col->typbyval, col->typlen))
		return false;
	if (col->compare_text)
		return strcmp(OutputFunctionCall(&col->output, a),
					  OutputFunctionCall(&col->output, b)) != 0;
	return !DatumGetBool(FunctionCall2Coll(&col->equal, col->collation, a, b));
}

/*
 * Classify an UPDATE: refuse key changes, record which columns changed,
 * and decide whether it is an event.  An UPDATE that changed nothing but
 * ignored (or magic) columns is not; one that changed nothing at all is.
 */
static bool
update_is_event(PgqEvent *ev, const PgqTriggerKind *kind)
{
	PgqTableInfo *table = ev->table;
	PgqTriggerInfo *trig = ev->trig;
	bool		check_all = kind->ignore_magic_always || trig->has_ignore;
	bool		ignored_changed = false;
	int			i;

	ev->changed = palloc0(sizeof(bool) * table->natts);
	ev->any_changed = false;

	for (i = 0; i < table->natts; i++)
	{
		PgqColumn  *col = &table->columns[i];

		if (col->name == NULL || !(check_all || trig->is_key[i]))
			continue;
		if (!values_differ(col, ev->old_values[i], ev->old_nulls[i],
						   ev->values[i], ev->nulls[i]))
			continue;

		if (trig->is_key[i])
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("primary key update not allowed"),
					 errdetail("UPDATE changed key column \"%s\" of table \"%s\".",
							   col->name, table->full_name),
					 errhint("Delete the row and insert it with the new key instead.")));
		ev->changed[i] = true;
		if (pgq_column_wanted(ev, i))
			ev->any_changed = true;
		else
			ignored_changed = true;
	}

	return !check_all || ev->any_changed || !ignored_changed;
}

/*
 * Resolve pgq.insert_event(7 x text) by name.
 */
static void
lookup_insert_event(FmgrInfo *finfo, MemoryContext ctx)
{
	Oid			argtypes[PGQ_EV_NFIELDS + 1];
	Oid			fnoid;
	int			i;

	for (i = 0; i <= PGQ_EV_NFIELDS; i++)
		argtypes[i] = TEXTOID;
	fnoid = LookupFuncName(list_make2(makeString("pgq"), makeString("insert_event")),
						   PGQ_EV_NFIELDS + 1, argtypes, true);
	if (!OidIsValid(fnoid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function pgq.insert_event(text, text, text, text, text, text, text) does not exist"),
				 errhint("pgq triggers queue their events through this function of the pgq extension.")));
	fmgr_info_cxt(fnoid, finfo, ctx);
}

/*
 * Queue the event with pgq.insert_event(queue, ev_type, ev_data,
 * ev_extra1 .. ev_extra4).
 */
static void
submit_event(PgqEvent *ev)
{
	FmgrInfo	local_fn;
	FmgrInfo   *finfo;
	AclResult	aclresult;
	bool		anynull = false;
	int			f;

	LOCAL_FCINFO(fcinfo, PGQ_EV_NFIELDS + 1);

	/*
	 * The cached FmgrInfo can only be replaced by the outermost trigger
	 * call: a nested one may run inside a call through it.
	 */
	if (insert_fn_generation == proc_generation)
		finfo = &insert_fn;
	else if (trigger_depth == 1)
	{
		uint64		generation = proc_generation;

		MemoryContextReset(insert_fn_ctx);
		lookup_insert_event(&insert_fn, insert_fn_ctx);
		insert_fn_generation = generation;
		finfo = &insert_fn;
	}
	else
	{
		lookup_insert_event(&local_fn, CurrentMemoryContext);
		finfo = &local_fn;
	}

	aclresult = pg_proc_aclcheck(finfo->fn_oid, GetUserId(), ACL_EXECUTE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, "pgq.insert_event");
	InvokeFunctionExecuteHook(finfo->fn_oid);

	InitFunctionCallInfoData(*fcinfo, finfo, PGQ_EV_NFIELDS + 1,
							 DEFAULT_COLLATION_OID, NULL, NULL);
	fcinfo->args[0].value = ev->trig->queue_name;
	fcinfo->args[0].isnull = false;
	for (f = 0; f < PGQ_EV_NFIELDS; f++)
	{
		fcinfo->args[f + 1].isnull = (ev->fields[f] == NULL);
		fcinfo->args[f + 1].value = ev->fields[f] ? CStringGetTextDatum(ev->fields[f]) : (Datum) 0;
		anynull |= (ev->fields[f] == NULL);
	}

	/* as a SQL call would: a strict replacement is not called with NULLs */
	if (finfo->fn_strict && anynull)
		return;
	(void) FunctionCallInvoke(fcinfo);
}

/*
 * What the trigger returns: the row for a BEFORE ROW trigger, unless SKIP
 * suppresses the row change; NULL otherwise.
 */
static Datum
trigger_result(TriggerData *tgdata, bool skip)
{
	TriggerEvent event = tgdata->tg_event;

	if (skip || !TRIGGER_FIRED_BEFORE(event) || !TRIGGER_FIRED_FOR_ROW(event))
		return PointerGetDatum(NULL);
	if (TRIGGER_FIRED_BY_UPDATE(event))
		return PointerGetDatum(tgdata->tg_newtuple);
	return PointerGetDatum(tgdata->tg_trigtuple);
}

static void
check_truncate_arguments(PgqEvent *ev)
{
	PgqTriggerInfo *trig = ev->trig;
	const char *bad = NULL;
	int			f;

	if (trig->has_ignore)
		bad = "ignore=";
	else if (trig->has_pkey_arg)
		bad = "pkey=";
	else if (trig->backup)
		bad = "backup";
	else if (trig->when)
		bad = "when=";
	for (f = 0; f < PGQ_EV_NFIELDS && bad == NULL; f++)
		if (trig->override[f])
			bad = trig->override[f]->argument;

	if (bad)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" does not make sense for a TRUNCATE trigger", bad),
				 errdetail("Trigger \"%s\" on table \"%s\" fired for TRUNCATE.",
						   ev->tgdata->tg_trigger->tgname, ev->table->full_name),
				 errhint("A TRUNCATE trigger accepts only the queue name, SKIP and deny.")));
}

/*
 * One firing: build the event, queue it, return the trigger's result.
 */
static Datum
fire_trigger(TriggerData *tgdata, const PgqTriggerKind *kind)
{
	TriggerEvent event = tgdata->tg_event;
	Relation	rel = tgdata->tg_relation;
	PgqEvent	ev;

	memset(&ev, 0, sizeof(ev));
	ev.tgdata = tgdata;
	ev.table = get_table_info(rel);
	ev.trig = get_trigger_info(ev.table, tgdata->tg_trigger);

	if (TRIGGER_FIRED_BY_INSERT(event))
		ev.op = 'I', ev.op_name = "INSERT";
	else if (TRIGGER_FIRED_BY_UPDATE(event))
		ev.op = 'U', ev.op_name = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(event))
		ev.op = 'D', ev.op_name = "DELETE";
	else
		ev.op = 'R', ev.op_name = "TRUNCATE";

	if (ev.op == 'R')
		check_truncate_arguments(&ev);

	if (ev.trig->deny)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("table \"%s\" to queue \"%s\": change not allowed (%s)",
						ev.table->full_name,
						TextDatumGetCString(ev.trig->queue_name), ev.op_name),
				 errdetail("Trigger \"%s\" has the argument deny.",
						   tgdata->tg_trigger->tgname)));

	if (ev.op != 'R')
	{
		TupleDesc	desc = RelationGetDescr(rel);
		int			natts = ev.table->natts;

		if (ev.op != 'I' && ev.trig->nkeys == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("%s on table \"%s\" without primary key",
							ev.op_name, ev.table->full_name),
					 errdetail("Trigger \"%s\" needs a key to describe which row changed.",
							   tgdata->tg_trigger->tgname),
					 errhint("Add a primary key to the table or name the key columns with pkey=.")));

		ev.values = palloc(sizeof(Datum) * natts);
		ev.nulls = palloc(sizeof(bool) * natts);
		if (ev.op == 'U')
		{
			ev.old_values = palloc(sizeof(Datum) * natts);
			ev.old_nulls = palloc(sizeof(bool) * natts);
			heap_deform_tuple(tgdata->tg_trigtuple, desc, ev.old_values, ev.old_nulls);
			heap_deform_tuple(tgdata->tg_newtuple, desc, ev.values, ev.nulls);
			if (!update_is_event(&ev, kind))
				return trigger_result(tgdata, ev.trig->skip);
		}
		else
			heap_deform_tuple(tgdata->tg_trigtuple, desc, ev.values, ev.nulls);
	}

	/* computed defaults */
	kind->encode(&ev);
	ev.fields[PGQ_EV_EXTRA1] = ev.table->full_name;
	if (ev.op == 'U' && ev.trig->backup)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		kind->encode_row(&buf, &ev, ev.old_values, ev.old_nulls);
		ev.fields[PGQ_EV_EXTRA2] = buf.data;
	}

	/* then magic columns, then ev_*= and when= */
	if (ev.op != 'R')
	{
		int			i;

		for (i = 0; i < ev.table->natts; i++)
		{
			PgqColumn  *col = &ev.table->columns[i];

			if (col->magic_field >= 0)
				ev.fields[col->magic_field] =
					ev.nulls[i] ? NULL : pgq_column_text(col, ev.values[i]);
		}
		if (!ev.trig->has_exprs || apply_expressions(&ev))
			submit_event(&ev);
	}
	else
		submit_event(&ev);

	return trigger_result(tgdata, ev.trig->skip);
}

/* Text output of a column value */
char *
pgq_column_text(PgqColumn *col, Datum value)
{
	return OutputFunctionCall(&col->output, value);
}

/*
 * Entry point of the three trigger functions.
 */
Datum
pgq_trigger_main(FunctionCallInfo fcinfo, const PgqTriggerKind *kind)
{
	TriggerData *tgdata;
	TriggerEvent event;
	volatile Datum result = (Datum) 0;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s was not called as a trigger", kind->funcname),
				 errhint("Use it in CREATE TRIGGER ... EXECUTE FUNCTION %s('queue_name').",
						 kind->funcname)));
	tgdata = (TriggerData *) fcinfo->context;
	event = tgdata->tg_event;

	if (TRIGGER_FIRED_BY_TRUNCATE(event))
	{
		if (TRIGGER_FIRED_FOR_ROW(event))
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("%s must be fired FOR EACH STATEMENT for TRUNCATE",
							kind->funcname)));
	}
	else if (!TRIGGER_FIRED_FOR_ROW(event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be fired FOR EACH ROW for INSERT, UPDATE and DELETE",
						kind->funcname),
				 errdetail("Trigger \"%s\" on table \"%s\" is a statement-level trigger.",
						   tgdata->tg_trigger->tgname,
						   RelationGetRelationName(tgdata->tg_relation))));

	/* session_replication_role = local: pass the row through untouched */
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_LOCAL)
		return trigger_result(tgdata, false);

	trigger_depth++;
	PG_TRY();
	{
		if (trigger_depth == 1 && tables_invalidated)
			sweep_tables();
		else if (trigger_depth == 1 && retired_tables != NIL)
			free_retired_tables();
		result = fire_trigger(tgdata, kind);
	}
	PG_FINALLY();
	{
		trigger_depth--;
	}
	PG_END_TRY();

	return result;
}
